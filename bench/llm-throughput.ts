/**
 * Throughput of `llmPrompt` end to end: the fake OpenAI-compatible server answering after 50 ms, a
 * real worker, 500 workflows started at once. Compared in the same run with
 *   - the same 500 requests made straight through the provider in this process with the same
 *     concurrency (what Temporal costs on this machine), and
 *   - the server's ceiling: 500 no-op workflows each running one no-op activity, on a worker tuned
 *     the same (how close to the server's own limit the product gets; goal ≥ 80 %).
 * With `--cluster` it runs on the dev server and on the production-shaped cluster (PostgreSQL, four
 * services, mTLS) in the same run, side by side.
 *
 *   npx tsx bench/llm-throughput.ts [--cluster]      (BENCH_WORKFLOWS=n to change the count)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../core/config.js';
import { startLlm } from '../client/index.js';
import { createProvider } from '../providers/index.js';
import { createPocWorker, installRuntime, tuning } from '../worker/index.js';
import type { LlmResult } from '../core/contract.js';
import { startFakeLlm, type FakeLlmServer } from '../test/support/fake-llm.js';
import {
  connectTo,
  measure,
  measureCeiling,
  percentile,
  onEachServer,
  serverKinds,
  type BenchServer,
  type Measured,
} from './servers.js';

const TOTAL = Number(process.env.BENCH_WORKFLOWS) > 0 ? Math.floor(Number(process.env.BENCH_WORKFLOWS)) : 500;
const ANSWER_AFTER_MS = 50;
/** Started and finished before measuring: bundle load, connections and JIT are not what we measure. */
const WARM_UP = 20;

/** Runs `task(i)` for i < count, at most `limit` at a time; latency of each from when it was asked for. */
async function limited(count: number, limit: number, task: (i: number) => Promise<unknown>): Promise<number[]> {
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
  return [performance.now() - started, ...latenciesMs.sort((a, b) => a - b)];
}

interface ServerResult {
  server: BenchServer;
  ceiling: Measured;
  prompts: Measured;
  /** CPU of this process (client, worker, fake server) per prompt. */
  nodeCpuMsPerPrompt: number;
}

const input = { backend: 'openai' as const, model: 'gpt-4o-mini', prompt: 'Say ok' };

/** The server's ceiling, then 500 llmPrompt workflows at once through a poc worker, on one server. */
async function onServer(server: BenchServer): Promise<ServerResult> {
  const connected = await connectTo(server);
  try {
    const ceiling = await measureCeiling(server, connected, { count: TOTAL, warmUp: WARM_UP });
    const taskQueue = `bench-${crypto.randomUUID().slice(0, 8)}`;
    const config = { ...server.config, taskQueue };
    const worker = await createPocWorker({ connection: connected.native, client: connected.client, config, taskQueue });
    const running = worker.run();
    try {
      const one = async () => {
        const { workflowId } = await startLlm(connected.client, input, { taskQueue });
        const result: LlmResult = await connected.client.workflow.getHandle(workflowId).result();
        if (result.text !== 'ok') throw new Error(`unexpected answer ${JSON.stringify(result.text)}`);
      };
      await measure(server, WARM_UP, one);
      const nodeCpu = process.cpuUsage();
      const prompts = await measure(server, TOTAL, one);
      const used = process.cpuUsage(nodeCpu);
      return { server, ceiling, prompts, nodeCpuMsPerPrompt: (used.user + used.system) / 1000 / TOTAL };
    } finally {
      worker.shutdown();
      await running;
    }
  } finally {
    await connected.close();
  }
}

const fixed = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));

function row(server: string, name: string, m: { wallMs: number; perSecond: number; latenciesMs: number[] }, cpu = '') {
  return [
    server.padEnd(10),
    name.padEnd(36),
    (m.wallMs / 1000).toFixed(2).padStart(7),
    m.perSecond.toFixed(0).padStart(7),
    fixed(percentile(m.latenciesMs, 50)).padStart(7),
    fixed(percentile(m.latenciesMs, 99)).padStart(7),
    cpu.padStart(14),
  ].join('  ');
}

async function main(): Promise<void> {
  installRuntime({ logLevel: 'WARN' });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // Other work on the machine skews the figures: print the load so a reader can judge.
  const loadBefore = os.loadavg()[0].toFixed(2);
  // A file on disk, as `poc up` keeps it; BENCH_DB_DIR=/dev/shm shows what fsync costs.
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DB_DIR || os.tmpdir(), 'poc-bench-'));
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const fake: FakeLlmServer = await startFakeLlm();
    stops.push(() => fake.close());
    fake.defaultBehaviour = { headersDelayMs: ANSWER_AFTER_MS, chunks: ['ok'] };
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OPENAI_API_KEY: 'sk-bench-not-a-key',
      OPENAI_BASE_URL: `${fake.url}/v1`,
    };
    const base = loadConfig(env);
    const slots = tuning(base.worker).maxConcurrentActivityTaskExecutions;

    // Baseline: the same requests, no Temporal, the same concurrency as the worker's activity slots.
    const provider = createProvider('openai', base.llm);
    await limited(WARM_UP, WARM_UP, () => provider.complete(input));
    const [directWallMs, ...directLatencies] = await limited(TOTAL, slots, () => provider.complete(input));
    const direct = { wallMs: directWallMs, perSecond: (TOTAL * 1000) / directWallMs, latenciesMs: directLatencies };

    const results = await onEachServer(serverKinds(process.argv), dir, env, log, onServer);

    const idealMs = (TOTAL * ANSWER_AFTER_MS) / Math.min(slots, TOTAL);
    const share = (r: ServerResult) => r.prompts.perSecond / r.ceiling.perSecond;
    const lines = [
      `${TOTAL} prompts at once, answer after ${ANSWER_AFTER_MS} ms, ${slots} activity slots, ` +
        `${os.cpus().length} CPUs, load average before: ${loadBefore}`,
      '',
      `${'server'.padEnd(10)}  ${'run'.padEnd(36)}  ${'wall s'.padStart(7)}  ${'per s'.padStart(7)}  ` +
        `${'p50 ms'.padStart(7)}  ${'p99 ms'.padStart(7)}  ${'server CPU/wf'.padStart(14)}`,
      row('-', 'direct provider calls (baseline)', direct),
      ...results.flatMap((r) => [
        row(
          r.server.kind,
          'ceiling: no-op workflow + activity',
          r.ceiling,
          `${fixed(r.ceiling.serverCpuMsPerWorkflow, 1)} ms`,
        ),
        row(r.server.kind, 'llmPrompt workflows', r.prompts, `${fixed(r.prompts.serverCpuMsPerWorkflow, 1)} ms`),
      ]),
      '',
      `ideal: ${TOTAL} × ${ANSWER_AFTER_MS} ms over ${Math.min(slots, TOTAL)} slots = ${(idealMs / 1000).toFixed(2)} s`,
      ...results.map(
        (r) =>
          `${r.server.kind}: llmPrompt ${r.prompts.perSecond.toFixed(1)}/s = ${(share(r) * 100).toFixed(1)} % of ` +
          `its ceiling ${r.ceiling.perSecond.toFixed(1)}/s (goal ≥ 80 %: ${share(r) >= 0.8 ? 'met' : 'NOT met'}); ` +
          `${(r.prompts.wallMs / direct.wallMs).toFixed(1)}× the direct wall time; ` +
          `${r.nodeCpuMsPerPrompt.toFixed(1)} ms CPU per prompt in this process`,
      ),
    ];
    const dev = results.find((r) => r.server.kind === 'dev server');
    const cluster = results.find((r) => r.server.kind === 'cluster');
    if (dev && cluster)
      lines.push(
        `cluster / dev server: ceiling ${(cluster.ceiling.perSecond / dev.ceiling.perSecond).toFixed(2)}, ` +
          `llmPrompt ${(cluster.prompts.perSecond / dev.prompts.perSecond).toFixed(2)}`,
      );
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    // Last started, first stopped.
    for (const stop of stops.reverse())
      await stop().catch((err) => process.stderr.write(`stopping: ${(err as Error).message}\n`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
