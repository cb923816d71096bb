/**
 * A worker in its own process, for tests that kill it (SIGKILL mid-step) or give it another
 * environment (e.g. DOCKER_HOST pointing nowhere). Settings come from the environment as for
 * `poc worker`; prints "ready" once it polls, stops cleanly on SIGTERM.
 */
import { loadConfig } from '../../core/config.js';
import { installRuntime, startWorker } from '../../worker/index.js';

const config = loadConfig();
const address = process.env.TEMPORAL_ADDRESS ?? process.env.POC_TEST_TEMPORAL_ADDRESS;
if (!address) throw new Error('set TEMPORAL_ADDRESS');
installRuntime({
  logLevel: (process.env.POC_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO',
  shutdownSignals: [],
  metricsPort: config.metricsPort,
  metricsHost: config.metricsHost,
});
const worker = await startWorker({
  address,
  config,
  log: (line) => process.stderr.write(`[worker ${process.pid}] ${line}\n`),
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => void worker.shutdown());
await worker.running;
