/**
 * Smoke run of the production-shaped cluster (cluster/): brings it up in a temporary folder, runs a
 * workflow through the mTLS connection with a tiny worker, finds it with a visibility query on
 * PocKind, SIGKILLs the history process and then PostgreSQL and shows the supervisor bring each
 * back while the cluster keeps answering, then brings it down and checks nothing it started is
 * left. Prints the timings.
 *
 *   npx tsx bench/cluster-smoke.ts [--keep]     (--keep: leave the temporary folder for a look)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { ensureClusterBinaries } from '../cluster/binaries.js';
import { loadConfig } from '../core/config.js';
import {
  clusterDown,
  clusterStatus,
  clusterConnectionOptions,
  clusterUp,
  processesUsing,
  type ClusterStatus,
} from '../cluster/index.js';
import type { Role } from '../cluster/plan.js';

const keep = process.argv.includes('--keep');
const started = Date.now();
const say = (line: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
const timings: Array<[string, number]> = [];
async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const value = await fn();
  timings.push([label, Date.now() - t0]);
  say(`${label}: ${((Date.now() - t0) / 1000).toFixed(2)} s`);
  return value;
}

const PocKind = defineSearchAttributeKey('PocKind', SearchAttributeType.KEYWORD);
const PocHost = defineSearchAttributeKey('PocHost', SearchAttributeType.KEYWORD);
const workflowsPath = fileURLToPath(new URL('../cluster/smoke-workflow.ts', import.meta.url));
const taskQueue = `cluster-smoke-${process.pid}`;

async function poll<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function runOne(client: Client, label: string): Promise<string> {
  const workflowId = `cluster-smoke-${label}-${Date.now()}`;
  const result = await client.workflow.execute('clusterSmoke', {
    workflowId,
    taskQueue,
    args: [label],
    typedSearchAttributes: [
      { key: PocKind, value: 'cluster-smoke' },
      { key: PocHost, value: os.hostname() },
    ],
    workflowExecutionTimeout: '2 minutes',
  });
  if (result !== `hello ${label}`) throw new Error(`unexpected result ${result}`);
  return workflowId;
}

/** Time from now until a workflow round trip succeeds again (the cluster "answers"). */
async function recoverTime(client: Client, label: string): Promise<void> {
  await timed(`recovered after the ${label} kill (a workflow completes again)`, () =>
    poll(`a workflow after the ${label} kill`, 180_000, async () => runOne(client, `after-${label}`)),
  );
}

function pidOf(status: ClusterStatus | undefined, role: Role): number | null {
  return status?.processes.find((p) => p.role === role)?.pid ?? null;
}

async function killAndWatch(dir: string, client: Client, role: Role): Promise<void> {
  const before = await clusterStatus({ dir });
  const oldPid = pidOf(before, role);
  if (!oldPid) throw new Error(`no ${role} pid in the status`);
  const restartsBefore = before?.processes.find((p) => p.role === role)?.restarts ?? 0;
  say(`SIGKILL ${role} (pid ${oldPid})`);
  const t0 = Date.now();
  process.kill(oldPid, 'SIGKILL');
  const after = await poll(`${role} restarted by the supervisor`, 60_000, async () => {
    const status = await clusterStatus({ dir });
    const entry = status?.processes.find((p) => p.role === role);
    return entry && entry.pid && entry.pid !== oldPid && entry.restarts === restartsBefore + 1 ? status : undefined;
  });
  timings.push([`${role} restarted by the supervisor`, Date.now() - t0]);
  const entry = after.processes.find((p) => p.role === role);
  const took = ((Date.now() - t0) / 1000).toFixed(2);
  say(`${role} is back: pid ${oldPid} → ${entry?.pid}, restarts=${entry?.restarts} (${took} s)`);
  await recoverTime(client, role);
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadConfig();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-cluster-smoke-'));
  say(`cluster folder ${dir}`);
  await timed('ensureClusterBinaries (cached after the first run)', () => ensureClusterBinaries(say, config));
  const status = await timed(
    'clusterUp (fresh folder: initdb, schemas, 4 services, namespace, search attributes)',
    () => clusterUp({ config, dir, log: say }),
  );
  process.stdout.write(JSON.stringify(status, null, 2) + '\n');

  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;
  let connection: Connection | undefined;
  try {
    const options = clusterConnectionOptions(status);
    connection = await Connection.connect(options);
    const client = new Client({ connection, namespace: status.namespace });
    nativeConnection = await NativeConnection.connect(options);
    worker = await timed('worker bundle and start', () =>
      Worker.create({
        connection: nativeConnection as NativeConnection,
        namespace: status.namespace,
        taskQueue,
        workflowsPath,
      }),
    );
    running = worker.run();

    const workflowId = await timed('first workflow through mTLS', () => runOne(client, 'first'));
    await timed('listed by a visibility query on PocKind', () =>
      poll('the workflow in visibility', 30_000, async () => {
        for await (const execution of client.workflow.list({
          query: `PocKind = "cluster-smoke" AND WorkflowId = "${workflowId}"`,
        })) {
          const host = execution.typedSearchAttributes.get(PocHost);
          say(`  found ${execution.workflowId} (${execution.status.name}, PocHost=${host})`);
          return true;
        }
        return undefined;
      }),
    );

    await killAndWatch(dir, client, 'history');
    await killAndWatch(dir, client, 'postgres');
    process.stdout.write(JSON.stringify(await clusterStatus({ dir }), null, 2) + '\n');
  } finally {
    worker?.shutdown();
    await running?.catch((err) => say(`worker ended with ${(err as Error).message}`));
    await nativeConnection?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await timed('clusterDown', () => clusterDown({ dir, log: say, wipe: !keep }));
  }
  const left = processesUsing(dir);
  if (left.length > 0)
    throw new Error(`processes left after clusterDown: ${left.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`);
  say('no process of the cluster is left');
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });

  process.stdout.write('\ntimings\n');
  for (const [label, ms] of timings) process.stdout.write(`  ${(ms / 1000).toFixed(2).padStart(7)} s  ${label}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`cluster smoke failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
