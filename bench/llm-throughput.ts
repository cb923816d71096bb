/**
 * Throughput of `llmPrompt` end to end: a dev server, the fake OpenAI-compatible server
 * answering after 50 ms, a real worker; 500 workflows started at once. Compared with the same
 * 500 requests made straight through the provider in this process with the same concurrency,
 * measured in the same run, so the ratio says what Temporal costs on this machine.
 *
 *   npx tsx bench/llm-throughput.ts            (BENCH_WORKFLOWS=n to change the count)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../core/config.js';
import { startLlm } from '../client/index.js';
import { createProvider } from '../providers/index.js';
import { findTemporalCli, startDevServer, type DevServer } from '../worker/devserver.js';
import { createPocWorker, installRuntime, tuning } from '../worker/index.js';
import type { LlmResult } from '../core/contract.js';
import { startFakeLlm, type FakeLlmServer } from '../test/support/fake-llm.js';
import { freePort } from '../test/support/temporal.js';

const TOTAL = Number(process.env.BENCH_WORKFLOWS) > 0 ? Math.floor(Number(process.env.BENCH_WORKFLOWS)) : 500;
const ANSWER_AFTER_MS = 50;
/** Started and finished before measuring: bundle load, connections and JIT are not what we measure. */
const WARM_UP = 20;

interface Run {
  wallMs: number;
  latenciesMs: number[];
  /** CPU time of this process and of the Temporal server during the run, per prompt. */
  cpuMsPerPrompt?: { node: number; server: number | undefined };
}

/** User + system CPU ms of a process, from /proc (Linux); undefined elsewhere. */
function processCpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Runs `task(i)` for i < count, at most `limit` at a time; latency of each from when it was asked for. */
async function limited(count: number, limit: number, task: (i: number) => Promise<unknown>): Promise<Run> {
  const started = performance.now();
  const latenciesMs: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await task(i);
      latenciesMs.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return { wallMs: performance.now() - started, latenciesMs };
}

async function main(): Promise<void> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI found: set TEMPORAL_CLI_PATH or run `npm test` once (it builds one)');
  installRuntime({ logLevel: 'WARN' });
  // Other work on the machine skews the figures: print the load so a reader can judge.
  const loadBefore = os.loadavg()[0].toFixed(2);
  // A file on disk, as `poc up` keeps it; BENCH_DB_DIR=/dev/shm shows what fsync costs.
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DB_DIR || os.tmpdir(), 'poc-bench-'));
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const devServer: DevServer = await startDevServer({
      cliPath: cli.path,
      port: await freePort(),
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'server.log'),
    });
    stops.push(() => devServer.stop());

    const fake: FakeLlmServer = await startFakeLlm();
    stops.push(() => fake.close());
    fake.defaultBehaviour = { headersDelayMs: ANSWER_AFTER_MS, chunks: ['ok'] };

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OPENAI_API_KEY: 'sk-bench-not-a-key',
      OPENAI_BASE_URL: `${fake.url}/v1`,
    };
    const taskQueue = `bench-${crypto.randomUUID().slice(0, 8)}`;
    const config = { ...loadConfig(env), temporalAddress: devServer.address, taskQueue };
    const slots = tuning(config.worker).maxConcurrentActivityTaskExecutions;
    const input = { backend: 'openai' as const, model: 'gpt-4o-mini', prompt: 'Say ok' };

    // Baseline: the same requests, no Temporal, the same concurrency as the worker's activity slots.
    const provider = createProvider('openai', config.llm);
    await limited(WARM_UP, WARM_UP, () => provider.complete(input));
    const direct = await limited(TOTAL, slots, () => provider.complete(input));

    const connection = await Connection.connect({ address: devServer.address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: config.namespace });
    const native = await NativeConnection.connect({ address: devServer.address });
    stops.push(() => native.close());
    const worker = await createPocWorker({ connection: native, client, config, taskQueue });
    const running = worker.run();
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    const runWorkflows = async (count: number): Promise<Run> => {
      const nodeCpu = process.cpuUsage();
      const serverCpu = processCpuMs(devServer.serverPid());
      const started = performance.now();
      const latenciesMs = await Promise.all(
        Array.from({ length: count }, async () => {
          const { workflowId } = await startLlm(client, input, { taskQueue });
          const result: LlmResult = await client.workflow.getHandle(workflowId).result();
          if (result.text !== 'ok') throw new Error(`unexpected answer ${JSON.stringify(result.text)}`);
          return performance.now() - started;
        }),
      );
      const wallMs = performance.now() - started;
      const nodeUsed = process.cpuUsage(nodeCpu);
      const serverNow = processCpuMs(devServer.serverPid());
      return {
        wallMs,
        latenciesMs,
        cpuMsPerPrompt: {
          node: (nodeUsed.user + nodeUsed.system) / 1000 / count,
          server: serverCpu !== undefined && serverNow !== undefined ? (serverNow - serverCpu) / count : undefined,
        },
      };
    };
    await runWorkflows(WARM_UP);
    const workflows = await runWorkflows(TOTAL);

    const cpuLine = (run: Run) => {
      const cpu = run.cpuMsPerPrompt;
      if (!cpu) return 'n/a';
      const server = cpu.server !== undefined ? `${cpu.server.toFixed(1)} ms Temporal server` : 'Temporal server n/a';
      return `${cpu.node.toFixed(1)} ms this process (client, worker, fake) + ${server}`;
    };
    const idealMs = (TOTAL * ANSWER_AFTER_MS) / Math.min(slots, TOTAL);
    const row = (name: string, run: Run) => {
      const sorted = [...run.latenciesMs].sort((a, b) => a - b);
      return [
        name.padEnd(24),
        (run.wallMs / 1000).toFixed(2).padStart(7),
        ((TOTAL * 1000) / run.wallMs).toFixed(0).padStart(8),
        percentile(sorted, 50).toFixed(0).padStart(8),
        percentile(sorted, 99).toFixed(0).padStart(8),
      ].join('  ');
    };
    const lines = [
      `${TOTAL} prompts, answer after ${ANSWER_AFTER_MS} ms, ${slots} activity slots, ` +
        `${os.cpus().length} CPUs, Temporal db in ${path.dirname(dir)}`,
      '',
      `${'run'.padEnd(24)}  ${'wall s'.padStart(7)}  ${'per s'.padStart(8)}  ` +
        `${'p50 ms'.padStart(8)}  ${'p99 ms'.padStart(8)}`,
      row('direct (same process)', direct),
      row('llmPrompt workflows', workflows),
      '',
      `ideal: ${TOTAL} × ${ANSWER_AFTER_MS} ms over ${Math.min(slots, TOTAL)} slots = ` +
        `${(idealMs / 1000).toFixed(2)} s`,
      `workflows / direct wall time: ${(workflows.wallMs / direct.wallMs).toFixed(1)}×`,
      `workflows / ideal wall time:  ${(workflows.wallMs / idealMs).toFixed(1)}×`,
      `CPU per workflow: ${cpuLine(workflows)} (load average before: ${loadBefore})`,
      `goal ≥ 100 workflows/s: ${(TOTAL * 1000) / workflows.wallMs >= 100 ? 'met' : 'NOT met'}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    // Last started, first stopped: the worker before its connections, the servers last.
    for (const stop of stops.reverse())
      await stop().catch((err) => process.stderr.write(`stopping: ${(err as Error).message}\n`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
