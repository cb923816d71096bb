/**
 * `poc up` / `server` / `worker` / `bot`: the pieces of the stack, in one process or one each.
 * The embedded default is a real `temporal server start-dev` with its SQLite file under
 * the state folder (POC_DATA_DIR) and the Web UI on :8233; TEMPORAL_ADDRESS points everything elsewhere.
 */
import path from 'node:path';
import { clientAddress, slackConfigured, type PocConfig } from '../core/config.js';
import { cliVersion, ensureTemporalCli, frontendAnswers, startDevServer, type DevServer } from '../worker/devserver.js';
import { installRuntime, startWorker, type StartedWorker } from '../worker/index.js';
import { engineProblem } from '../docker/index.js';
import { describeSecurity } from '../core/temporal.js';

export type Log = (line: string) => void;

export interface Stoppable {
  stop(): Promise<void>;
}

/** The embedded server, or the one already answering on its port (a second `poc up`, a `poc server`). */
export async function startEmbeddedServer(
  config: PocConfig,
  log: Log,
): Promise<{ address: string; uiUrl: string; server?: DevServer }> {
  const ip = '127.0.0.1';
  const { port, uiPort, dataDir } = config.embedded;
  const address = `${ip}:${port}`;
  if (await frontendAnswers(address)) {
    log(`a Temporal server already answers on ${address}; using it`);
    return { address, uiUrl: `http://${ip}:${uiPort}` };
  }
  const cli = await ensureTemporalCli(log, { lookup: config });
  log(`Temporal CLI: ${cli.path} (${cli.source}; ${await cliVersion(cli.path).catch(() => 'version unknown')})`);
  const server = await startDevServer({
    cliPath: cli.path,
    ip,
    port,
    uiPort,
    dbFile: path.join(dataDir, 'temporal.db'),
    logFile: path.join(dataDir, 'server.log'),
  });
  return { address: server.address, uiUrl: server.uiUrl ?? '', server };
}

async function startBot(config: PocConfig, log: Log): Promise<Stoppable | undefined> {
  if (!slackConfigured(config.slack)) return undefined;
  const { startSlackBot } = await import('../slack/app.js');
  return startSlackBot({ config, log });
}

/**
 * Arms Ctrl-C (and SIGTERM). Call it before printing that Ctrl-C stops anything: a signal that
 * arrives while no handler is installed ends the process on the spot, skipping the orderly stop.
 * A second signal while stopping exits at once.
 */
export function armStopSignal(log: Log): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        log(`${signal} again: exiting now`);
        process.exit(130);
      }
      received = signal;
      log(`\n${signal}: stopping… (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again exits at once)`);
      resolve(signal);
    };
    // Signal handles do not keep the process alive, so these may stay until it exits.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Waits for the armed signal (or `done`), then stops the pieces in reverse order of start. */
export async function runUntilSignal(
  pieces: (Stoppable | undefined)[],
  log: Log,
  done?: Promise<unknown>,
  stopSignal = armStopSignal(log),
): Promise<void> {
  // A piece that ends by itself (a worker's fatal error) stops the rest, and its error is the command's.
  const ended = await Promise.race<{ failure?: unknown }>([
    stopSignal.then(() => ({})),
    ...(done
      ? [
          done.then(
            () => ({}),
            (failure: unknown) => ({ failure: failure ?? new Error('stopped') }),
          ),
        ]
      : []),
  ]);
  for (const piece of [...pieces].reverse()) {
    try {
      await piece?.stop();
    } catch (err) {
      log(`while stopping: ${(err as Error).message}`);
    }
  }
  if (ended.failure !== undefined) throw ended.failure;
}

function workerPiece(worker: StartedWorker): Stoppable {
  return { stop: () => worker.shutdown() };
}

export async function up(config: PocConfig, log: Log): Promise<void> {
  installRuntime({
    metricsPort: config.metricsPort,
    metricsHost: config.metricsHost,
    logLevel: 'WARN',
    shutdownSignals: [],
  });
  let address = config.temporalAddress;
  let uiUrl = config.uiUrl;
  let server: DevServer | undefined;
  if (!address) {
    const embedded = await startEmbeddedServer(config, log);
    address = embedded.address;
    uiUrl = embedded.uiUrl || uiUrl;
    server = embedded.server;
  }
  const serverPiece: Stoppable | undefined = server && { stop: () => (server as DevServer).stop() };
  let worker: StartedWorker;
  try {
    worker = await startWorker({ address, config, log });
  } catch (err) {
    await serverPiece?.stop();
    throw err;
  }
  let bot: Stoppable | undefined;
  try {
    bot = await startBot(config, log);
  } catch (err) {
    log(`Slack bot not started: ${(err as Error).message}`);
  }
  const docker = await engineProblem().catch((err: Error) => err.message);
  const stopSignal = armStopSignal(log);
  log('');
  log(`poc-orchestrator is up`);
  const how = server
    ? ` (embedded dev server, data in ${config.embedded.dataDir})`
    : config.temporal.tls || config.temporal.apiKey
      ? ` (${describeSecurity(config)})`
      : '';
  log(`  Temporal gRPC   ${address}${how}`);
  log(`  Web UI          ${uiUrl}`);
  log(`  worker          task queue "${config.taskQueue}", namespace "${config.namespace}"`);
  log(`  build host      ${describeHost(config)}`);
  log(`  workspace       ${config.workspace}`);
  log(`  Slack bot       ${bot ? 'running' : 'off (set SLACK_BOT_TOKEN and SLACK_APP_TOKEN to start it)'}`);
  if (config.metricsPort !== undefined)
    log(`  metrics         http://${config.metricsHost}:${config.metricsPort}/metrics`);
  if (docker) log(`  Docker          ${docker} — pipelines wait for it; \`poc doctor\` says more`);
  log('');
  log('Try `npx poc run "my goal" --follow` in another terminal. Ctrl-C stops everything.');
  await runUntilSignal([serverPiece, workerPiece(worker), bot], log, worker.running, stopSignal);
}

export async function serverOnly(config: PocConfig, log: Log): Promise<void> {
  const embedded = await startEmbeddedServer(config, log);
  if (!embedded.server) return;
  const stopSignal = armStopSignal(log);
  log(`Temporal dev server on ${embedded.address}, Web UI ${embedded.uiUrl}. Ctrl-C stops it.`);
  const server = embedded.server;
  await runUntilSignal(
    [{ stop: () => server.stop() }],
    log,
    new Promise((resolve) => server.process.once('exit', resolve)),
    stopSignal,
  );
}

/** `b1 (2 slots, labels gpu)`, or why this worker runs no steps. */
function describeHost({ host }: PocConfig): string {
  if (host.slots === 0) return 'off (POC_HOST_SLOTS=0: workflows only)';
  const labels = host.labels.length > 0 ? `, labels ${host.labels.join(',')}` : '';
  return `"${host.name}" (${host.slots} slot${host.slots === 1 ? '' : 's'}${labels})`;
}

export async function workerOnly(config: PocConfig, log: Log): Promise<void> {
  installRuntime({
    metricsPort: config.metricsPort,
    metricsHost: config.metricsHost,
    logLevel: 'INFO',
    shutdownSignals: [],
  });
  const worker = await startWorker({ address: clientAddress(config), config, log });
  const stopSignal = armStopSignal(log);
  log(`worker on ${clientAddress(config)}, task queue "${config.taskQueue}", build host ${describeHost(config)}.`);
  log('Ctrl-C stops it.');
  await runUntilSignal([workerPiece(worker)], log, worker.running, stopSignal);
}

export async function botOnly(config: PocConfig, log: Log): Promise<void> {
  const bot = await startBot(config, log);
  if (!bot)
    throw new Error(
      'the Slack bot needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)',
    );
  const stopSignal = armStopSignal(log);
  log('Slack bot running. Ctrl-C stops it.');
  await runUntilSignal([bot], log, undefined, stopSignal);
}
