/**
 * The Temporal servers the throughput benches measure side by side in one run — the embedded dev
 * server (one process, SQLite) and, with `--cluster`, the production-shaped cluster (cluster/:
 * PostgreSQL, four services, mTLS) — and each server's ceiling measured in that same run: a
 * no-op workflow running one no-op activity, on a worker tuned like poc's. A product figure divided
 * by its server's ceiling says how close to that server's limit the product gets.
 *
 * Every connection comes from loadConfig of the server's variables (the cluster's TEMPORAL_TLS_*)
 * through connectionOptions, as in production.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { clusterDown, clusterEnvironment, clusterUp, processesUsing } from '../cluster/index.js';
import { loadConfig, type PocConfig } from '../core/config.js';
import { connectionOptions } from '../core/temporal.js';
import { ensureTemporalCli, startDevServer } from '../worker/devserver.js';
import { ensureSearchAttributes, tuning } from '../worker/index.js';
import { freePort } from '../test/support/temporal.js';

export type ServerKind = 'dev server' | 'cluster';

export interface BenchServer {
  kind: ServerKind;
  /** The bench's settings with this server's address and TLS. */
  config: PocConfig;
  /** User + system CPU ms the server's processes have used so far (PostgreSQL's backends included). */
  cpuMs(): number | undefined;
  stop(): Promise<void>;
}

/** User + system CPU ms of a process, from /proc (Linux); undefined elsewhere. */
export function processCpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** `--cluster` on the command line: measure on the cluster too. */
export function serverKinds(argv: string[]): ServerKind[] {
  return argv.includes('--cluster') ? ['dev server', 'cluster'] : ['dev server'];
}

/**
 * Runs `measure` on each server in turn: started in `dir` (with `env` as the bench's other settings),
 * measured, stopped, then the next — so one server's idle load never weighs on the other's figures.
 * The cluster's first start on a machine builds temporal-server (minutes, cached).
 */
export async function onEachServer<T>(
  kinds: ServerKind[],
  dir: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  measure: (server: BenchServer) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  for (const kind of kinds) {
    const server = await startBenchServer(kind, dir, env, log);
    try {
      log(`measuring on the ${kind} (${server.config.temporalAddress})…`);
      results.push(await measure(server));
    } finally {
      await server.stop();
    }
  }
  return results;
}

export async function startBenchServer(
  kind: ServerKind,
  dir: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<BenchServer> {
  if (kind === 'dev server') {
    const cli = await ensureTemporalCli(log, { lookup: loadConfig(env) });
    const server = await startDevServer({
      cliPath: cli.path,
      port: await freePort(),
      dbFile: path.join(dir, 'dev', 'temporal.db'),
      logFile: path.join(dir, 'dev', 'server.log'),
    });
    return {
      kind,
      config: loadConfig({ ...env, TEMPORAL_ADDRESS: server.address }),
      cpuMs: () => processCpuMs(server.serverPid()),
      stop: () => server.stop(),
    };
  }
  // Its own folder under the system's temporary one: PostgreSQL runs as another user and must reach it.
  const clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-bench-cluster-'));
  const status = await clusterUp({ config: loadConfig(env), dir: clusterDir, log, ui: false });
  return {
    kind,
    config: loadConfig({ ...env, ...clusterEnvironment(status) }),
    // Every process working in the folder: the four services and PostgreSQL with its backends.
    cpuMs: () => processesUsing(clusterDir).reduce((sum, p) => sum + (processCpuMs(p.pid) ?? 0), 0),
    stop: async () => {
      await clusterDown({ dir: clusterDir, wipe: true });
      fs.rmSync(clusterDir, { recursive: true, force: true });
    },
  };
}

export interface Connected {
  connection: Connection;
  client: Client;
  native: NativeConnection;
  close(): Promise<void>;
}

/** A client and a worker connection to the server, as the product makes them; search attributes registered. */
export async function connectTo(server: BenchServer): Promise<Connected> {
  const options = connectionOptions(server.config);
  const connection = await Connection.connect(options);
  await ensureSearchAttributes(connection, server.config.namespace);
  const native = await NativeConnection.connect(options);
  return {
    connection,
    client: new Client({ connection, namespace: server.config.namespace }),
    native,
    async close() {
      await native.close();
      await connection.close();
    },
  };
}

export interface Measured {
  count: number;
  wallMs: number;
  perSecond: number;
  /** Time from the start of the batch to each workflow's result, sorted. */
  latenciesMs: number[];
  /** CPU of the server's processes per workflow, when it can be read. */
  serverCpuMsPerWorkflow: number | undefined;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Runs `count` of `one(i)` with at most `concurrency` at a time (all at once by default) and
 * measures wall time, latencies and the server's CPU.
 */
export async function measure(
  server: BenchServer,
  count: number,
  one: (i: number) => Promise<unknown>,
  concurrency = count,
): Promise<Measured> {
  const cpuBefore = server.cpuMs();
  const started = performance.now();
  const latenciesMs: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const laneStarted = concurrency < count ? performance.now() : started;
      await one(i);
      latenciesMs.push(performance.now() - laneStarted);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  const wallMs = performance.now() - started;
  const cpuAfter = server.cpuMs();
  return {
    count,
    wallMs,
    perSecond: (count * 1000) / wallMs,
    latenciesMs: latenciesMs.sort((a, b) => a - b),
    serverCpuMsPerWorkflow:
      cpuBefore !== undefined && cpuAfter !== undefined ? (cpuAfter - cpuBefore) / count : undefined,
  };
}

const noopWorkflowsPath = fileURLToPath(new URL('./noop-workflow.ts', import.meta.url));

/**
 * The server's ceiling: `count` no-op workflows, each running one no-op activity, with at most
 * `concurrency` at a time, on a worker with poc's tuning (the same slots and pollers). A warm-up
 * batch runs first.
 */
export async function measureCeiling(
  server: BenchServer,
  connected: Connected,
  { count, concurrency = count, warmUp = 20 }: { count: number; concurrency?: number; warmUp?: number },
): Promise<Measured> {
  const taskQueue = `bench-ceiling-${crypto.randomUUID().slice(0, 8)}`;
  const worker = await Worker.create({
    connection: connected.native,
    namespace: server.config.namespace,
    taskQueue,
    workflowsPath: noopWorkflowsPath,
    activities: { noop: async () => undefined },
    ...tuning(server.config.worker),
  });
  const running = worker.run();
  const one = (i: number) =>
    connected.client.workflow.execute('noopWorkflow', { taskQueue, workflowId: `${taskQueue}-${i}` });
  try {
    await measure(server, warmUp, (i) => one(-1 - i));
    return await measure(server, count, one, concurrency);
  } finally {
    worker.shutdown();
    await running;
  }
}
