/**
 * A production-shaped Temporal on this machine: PostgreSQL plus frontend, history, matching and
 * worker as four processes from one config, the frontend behind mTLS, all kept alive by a
 * detached supervisor (cluster/supervisor.ts).
 *
 *   clusterUp()     build/cache the programs, prepare the folder, start the supervisor, wait until
 *                   the frontend answers over mTLS, register the namespace and search attributes;
 *                   returns the status while everything keeps running in the background.
 *   clusterStatus() what runs (undefined when nothing does).
 *   clusterDown()   stop everything it started, by pid; optionally wipe the folder's data.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { msToTs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { loadConfig, repoRoot, type PocConfig } from '../core/config.js';
import { connectionOptions, type TemporalConnectionOptions } from '../core/temporal.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../core/contract.js';
import { ensureClusterBinaries, type Log } from './binaries.js';
import { ensureCerts } from './certs.js';
import { writeConfigs } from './config.js';
import { withFileLock } from './lock.js';
import { pickFreePorts } from './ports.js';
import { ensurePgUser, findPostgresBinDir, initDataDir, newPassword, pgCtlStop, pgLayout } from './postgres.js';
import {
  isOurProcess,
  mentions,
  planPath,
  readPlan,
  readState,
  statePath,
  supervisorLogPath,
  toStatus,
  writeJsonAtomic,
  type ClusterPlan,
  type ClusterPorts,
  type ClusterStatus,
  type Role,
} from './plan.js';

export type { ClusterStatus } from './plan.js';

/** Our search attributes (Keyword), the worker's list plus PocHost. */
export const CLUSTER_SEARCH_ATTRIBUTES: readonly string[] = SEARCH_ATTRIBUTE_KEYS.map((key) => key.name);

export function defaultClusterDir(): string {
  return path.join(repoRoot, 'runner', 'cluster');
}

/** What `clusterUp` takes from loadConfig: the cache of built programs, PATH, the cluster settings. */
export type ClusterConfig = Pick<PocConfig, 'cacheDir' | 'searchPath' | 'cluster'>;

export interface ClusterUpOptions {
  config: ClusterConfig;
  /** Folder for data, configs, certificates and logs; default `config.cluster.dir` (POC_CLUSTER_DIR). */
  dir?: string;
  namespace?: string;
  retentionDays?: number;
  /** Build (once) and run Temporal's UI server when it can be built. Default true. */
  ui?: boolean;
  /** The server's own log level (its logs go to `<dir>/logs/<role>.log`). */
  logLevel?: ClusterPlan['logLevel'];
  startTimeoutMs?: number;
  log?: Log;
}

export interface ClusterDownOptions {
  dir?: string;
  /** Also delete what `up` created in the folder (database, configs, certificates, logs). */
  wipe?: boolean;
  timeoutMs?: number;
  log?: Log;
}

const PORT_ORDER: Array<keyof ClusterPorts> = [
  'postgres',
  'frontend',
  'frontendMembership',
  'history',
  'historyMembership',
  'matching',
  'matchingMembership',
  'worker',
  'workerMembership',
  'ui',
];

/**
 * How a client connects to the cluster: the product's own connection options (core/temporal.ts)
 * from the cluster's variables — the same path every `poc` piece and test takes.
 */
export function clusterConnectionOptions(status: ClusterStatus): TemporalConnectionOptions {
  return connectionOptions(loadConfig(clusterEnvironment(status)));
}

/**
 * The variables that point `poc` (worker, bot, every command), the `temporal` CLI and the SDKs'
 * envconfig at the cluster: Temporal's own names, plus the Web UI for links.
 */
export function clusterEnvironment(status: ClusterStatus): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: status.address,
    TEMPORAL_NAMESPACE: status.namespace,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: status.tls.caCertPath,
    TEMPORAL_TLS_CLIENT_CERT_PATH: status.tls.clientCertPath,
    TEMPORAL_TLS_CLIENT_KEY_PATH: status.tls.clientKeyPath,
    TEMPORAL_TLS_SERVER_NAME: status.tls.serverName,
    ...(status.uiUrl ? { POC_TEMPORAL_UI_URL: status.uiUrl } : {}),
  };
}

function supervisorAlive(dir: string): number | undefined {
  const pid = readState(dir)?.supervisorPid;
  return isOurProcess(pid, dir) ? pid : undefined;
}

/** What runs in `dir`, or undefined when its supervisor does not. */
export async function clusterStatus({ dir = defaultClusterDir() }: { dir?: string } = {}): Promise<
  ClusterStatus | undefined
> {
  dir = path.resolve(dir);
  const plan = readPlan(dir);
  if (!plan || supervisorAlive(dir) === undefined) return undefined;
  return toStatus(plan, readState(dir));
}

function tail(file: string, lines = 8): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** An error that ends a wait at once instead of being retried. */
class Fatal extends Error {}

/** Retries `attempt` (undefined or a throw = not yet) until it returns a value or the deadline passes. */
async function until<T>(
  what: string,
  deadline: number,
  attempt: () => Promise<T | undefined>,
  { everyMs = 250 } = {},
): Promise<T> {
  let lastError: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError ? `: ${(lastError as Error).message}` : '';
      throw new Error(`${what} did not happen in time${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Everything the supervisor needs, from the last plan where it must stay the same (password, ports). */
async function makePlan(
  dir: string,
  opts: Required<Pick<ClusterUpOptions, 'namespace' | 'retentionDays' | 'ui' | 'logLevel'>>,
  log: Log,
  config: ClusterConfig,
): Promise<ClusterPlan> {
  const binaries = await ensureClusterBinaries(log, config, { ui: opts.ui });
  const pgBinDir = findPostgresBinDir({ postgresBinDir: config.cluster.postgresBinDir, searchPath: config.searchPath });
  const pgUser = await ensurePgUser(log);
  const certs = await ensureCerts(path.join(dir, 'tls'));
  const previous = readPlan(dir);
  const layout = pgLayout(dir);
  const hasUi = binaries.ui.path !== undefined;
  const roles = PORT_ORDER.filter((role) => role !== 'ui' || hasUi);
  const numbers = await pickFreePorts(roles.length, { preferred: roles.map((role) => previous?.ports[role] ?? 0) });
  const ports = Object.fromEntries(roles.map((role, i) => [role, numbers[i]])) as unknown as ClusterPorts;
  const dataExists = fs.existsSync(path.join(layout.dataDir, 'PG_VERSION'));
  if (dataExists && !previous?.pgPassword)
    throw new Error(
      `${layout.dataDir} exists but ${planPath(dir)} with its password does not; run clusterDown({ wipe: true }) first`,
    );
  return {
    version: 1,
    dir,
    namespace: opts.namespace,
    retentionDays: opts.retentionDays,
    numHistoryShards: previous?.numHistoryShards ?? 4,
    logLevel: opts.logLevel,
    ports,
    binaries: {
      server: binaries.serverPath,
      sqlTool: binaries.sqlToolPath,
      pgBinDir,
      ...(binaries.ui.path ? { uiServer: binaries.ui.path } : {}),
    },
    ...(binaries.ui.reason ? { uiUnavailableReason: binaries.ui.reason } : {}),
    ...(binaries.schemaDirs ? { schemaDirs: binaries.schemaDirs } : {}),
    pgUser,
    pgPassword: dataExists && previous ? previous.pgPassword : newPassword(),
    pgDataDir: layout.dataDir,
    pgHome: layout.home,
    certs,
    configDir: path.join(dir, 'config'),
    dynamicConfigPath: path.join(dir, 'config', 'dynamicconfig.yaml'),
    uiConfigDir: path.join(dir, 'ui-config'),
    logsDir: path.join(dir, 'logs'),
  };
}

/** The supervisor's command: the TypeScript source through tsx in a clone, the built file in the package. */
function supervisorArgs(dir: string): string[] {
  const source = fileURLToPath(new URL('./supervisor.ts', import.meta.url));
  if (!fs.existsSync(source)) return [fileURLToPath(new URL('./supervisor.js', import.meta.url)), dir];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', tsx, source, dir];
}

function startSupervisor(dir: string): number {
  const out = fs.openSync(supervisorLogPath(dir), 'a');
  // Own session (detached): it outlives us and a Ctrl-C in our terminal does not reach it.
  const child = spawn(process.execPath, supervisorArgs(dir), {
    cwd: dir,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  child.unref();
  if (!child.pid) throw new Error('could not start the cluster supervisor');
  return child.pid;
}

async function waitSupervisorRunning(dir: string, pid: number, deadline: number): Promise<void> {
  await until('the supervisor starting PostgreSQL and the services', deadline, async () => {
    const state = readState(dir);
    if (state?.supervisorPid === pid && state.phase === 'running') return true;
    if (state?.supervisorPid === pid && state.phase === 'failed')
      throw new Fatal(`cluster start-up failed: ${state.error}`);
    if (!isOurProcess(pid, dir))
      throw new Fatal(`the cluster supervisor exited during start-up:\n${tail(supervisorLogPath(dir))}`);
    return undefined;
  });
}

const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

async function ensureNamespace(
  connection: Connection,
  namespace: string,
  retentionDays: number,
  deadline: number,
): Promise<void> {
  await until(`registering namespace ${namespace}`, deadline, async () => {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code !== NOT_FOUND) throw err;
    }
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(Math.round(retentionDays * 86_400_000)),
      });
    } catch (err) {
      if ((err as { code?: number }).code !== ALREADY_EXISTS) throw err;
    }
    return undefined; // describe again: the namespace cache must have it before it is usable
  });
}

async function ensureSearchAttributes(connection: Connection, namespace: string, deadline: number): Promise<void> {
  await until('registering the search attributes', deadline, async () => {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = CLUSTER_SEARCH_ATTRIBUTES.filter((name) => !(name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return true;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((name) => [name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
    return undefined;
  });
}

/**
 * Proves SQL visibility end to end: a query naming every attribute is accepted, and a workflow
 * started with them is found by one (so history maps them too). The probe is deleted after.
 */
async function ensureVisibility(connection: Connection, namespace: string, deadline: number): Promise<void> {
  const all = CLUSTER_SEARCH_ATTRIBUTES.map((name) => `${name} = "cluster-probe"`).join(' AND ');
  await until('a visibility query on the search attributes', deadline, async () => {
    await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1, query: all });
    return true;
  });
  const client = new Client({ connection, namespace });
  const workflowId = `poc-cluster-probe-${process.pid}-${Date.now()}`;
  await until('starting the visibility probe', deadline, async () => {
    await client.workflow.start('pocClusterProbe', {
      workflowId,
      taskQueue: 'poc-cluster-probe',
      typedSearchAttributes: CLUSTER_SEARCH_ATTRIBUTES.map((name) => ({
        key: defineSearchAttributeKey(name, SearchAttributeType.KEYWORD),
        value: 'cluster-probe',
      })),
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    return true;
  });
  await until('the visibility probe being listed', deadline, async () => {
    const page = await connection.workflowService.listWorkflowExecutions({
      namespace,
      pageSize: 1,
      query: `WorkflowId = "${workflowId}" AND ${all}`,
    });
    return page.executions.length > 0 ? true : undefined;
  });
  await connection.workflowService
    .deleteWorkflowExecution({ namespace, workflowExecution: { workflowId } })
    .catch(() => undefined);
}

async function waitUi(url: string, deadline: number): Promise<void> {
  await until(`the Web UI answering on ${url}`, deadline, async () =>
    (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok ? true : undefined,
  );
}

/**
 * Starts the cluster in `dir` (or returns the one running there) and resolves once it answers
 * over mTLS with the namespace and search attributes usable; the processes keep running after we
 * exit. On failure everything started is stopped again.
 */
export async function clusterUp(options: ClusterUpOptions): Promise<ClusterStatus> {
  const dir = path.resolve(options.dir ?? options.config.cluster.dir);
  fs.mkdirSync(dir, { recursive: true });
  // One `up` per folder: a second caller waits for the first (which may be building the server
  // for minutes) and then finds its cluster running.
  return withFileLock(path.join(dir, 'up.lock'), LOCK_WAIT_MS, `clusterUp in ${dir}`, () => upLocked(dir, options));
}

/** Longer than a first build of the server on a slow machine. */
const LOCK_WAIT_MS = 30 * 60_000;

async function upLocked(dir: string, options: ClusterUpOptions): Promise<ClusterStatus> {
  const log = options.log ?? (() => undefined);
  const startTimeoutMs = options.startTimeoutMs ?? 180_000;
  let supervisorPid = supervisorAlive(dir);
  if (supervisorPid === undefined) {
    await stopLeftovers(dir, log, 60_000);
    const plan = await makePlan(
      dir,
      {
        namespace: options.namespace ?? 'default',
        retentionDays: options.retentionDays ?? 1,
        ui: options.ui ?? true,
        logLevel: options.logLevel ?? 'warn',
      },
      log,
      options.config,
    );
    writeJsonAtomic(planPath(dir), plan, 0o600);
    await initDataDir({
      binDir: plan.binaries.pgBinDir,
      user: plan.pgUser,
      layout: { home: plan.pgHome, dataDir: plan.pgDataDir },
      password: plan.pgPassword,
      log,
    });
    writeConfigs(plan);
    fs.rmSync(statePath(dir), { force: true });
    supervisorPid = startSupervisor(dir);
    log(`cluster supervisor started (pid ${supervisorPid}); logs in ${path.join(dir, 'logs')}`);
  } else {
    log(`a cluster already runs in ${dir} (supervisor pid ${supervisorPid})`);
  }
  const plan = readPlan(dir) as ClusterPlan;
  // Counted from here: building the programs (minutes, once) is not start-up.
  const deadline = Date.now() + startTimeoutMs;
  try {
    await waitSupervisorRunning(dir, supervisorPid, deadline);
    const status = toStatus(plan, readState(dir));
    const connection = await until(`the frontend answering over mTLS on ${status.address}`, deadline, async () => {
      if (!isOurProcess(supervisorPid, dir))
        throw new Fatal(`the cluster supervisor exited:\n${tail(supervisorLogPath(dir))}`);
      const conn = await Connection.connect({ ...clusterConnectionOptions(status), connectTimeout: 2_000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return conn;
      } catch (err) {
        await conn.close().catch(() => undefined);
        throw err;
      }
    });
    try {
      await ensureNamespace(connection, plan.namespace, plan.retentionDays, deadline);
      await ensureSearchAttributes(connection, plan.namespace, deadline);
      await ensureVisibility(connection, plan.namespace, deadline);
    } finally {
      await connection.close().catch(() => undefined);
    }
    if (status.uiUrl) await waitUi(status.uiUrl, deadline);
    return toStatus(plan, readState(dir));
  } catch (err) {
    log(`cluster start-up failed, stopping what was started: ${(err as Error).message}`);
    await clusterDown({ dir, log }).catch(() => undefined);
    throw err;
  }
}

function gone(pid: number | undefined, dir: string): boolean {
  return !isOurProcess(pid, dir);
}

async function waitGone(pids: Array<number | undefined>, dir: string, deadline: number): Promise<boolean> {
  while (!pids.every((pid) => gone(pid, dir))) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Processes a dead supervisor left running (it was SIGKILLed, the machine's OOM killer): stopped
 * by the pids in state.json, each checked to still be ours. Services first, PostgreSQL last.
 */
async function stopLeftovers(dir: string, log: Log, timeoutMs: number): Promise<void> {
  const state = readState(dir);
  const plan = readPlan(dir);
  if (!state) return;
  const alive = state.processes.filter((p) => isOurProcess(p.pid, dir));
  if (alive.length === 0) return;
  const named = alive.map((p) => `${p.role} ${p.pid}`).join(', ');
  log(`stopping ${alive.length} process(es) the cluster supervisor left running: ${named}`);
  const services = alive.filter((p) => p.role !== 'postgres');
  for (const p of services) signal(p.pid, 'SIGTERM');
  if (
    !(await waitGone(
      services.map((p) => p.pid),
      dir,
      Date.now() + timeoutMs / 2,
    ))
  )
    for (const p of services) signal(p.pid, 'SIGKILL');
  const postgres = alive.find((p) => p.role === 'postgres');
  if (postgres && plan) {
    await pgCtlStop({
      binDir: plan.binaries.pgBinDir,
      user: plan.pgUser,
      layout: { home: plan.pgHome, dataDir: plan.pgDataDir },
    });
    if (!(await waitGone([postgres.pid], dir, Date.now() + timeoutMs / 2))) signal(postgres.pid, 'SIGKILL');
  }
  await waitGone(
    alive.map((p) => p.pid),
    dir,
    Date.now() + 10_000,
  );
}

/** Stops the cluster in `dir`: the supervisor stops its processes in order; leftovers are stopped by pid. */
export async function clusterDown(options: ClusterDownOptions = {}): Promise<void> {
  const dir = path.resolve(options.dir ?? defaultClusterDir());
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 90_000;
  const supervisorPid = supervisorAlive(dir);
  if (supervisorPid !== undefined) {
    log(`stopping the cluster (supervisor pid ${supervisorPid})`);
    signal(supervisorPid, 'SIGTERM');
    if (!(await waitGone([supervisorPid], dir, Date.now() + timeoutMs))) {
      log(`the supervisor did not stop within ${timeoutMs / 1000} s: SIGKILL, then its processes by pid`);
      signal(supervisorPid, 'SIGKILL');
      await waitGone([supervisorPid], dir, Date.now() + 5_000);
    }
  }
  await stopLeftovers(dir, log, timeoutMs);
  const left = (readState(dir)?.processes ?? []).filter((p) => isOurProcess(p.pid, dir));
  if (left.length > 0)
    throw new Error(`still running after clusterDown: ${left.map((p) => `${p.role} ${p.pid}`).join(', ')}`);
  if (options.wipe) wipe(dir, log);
}

/** `pid` and its parents: the command that started us may name the folder without being the cluster's. */
function ancestors(pid: number): Set<number> {
  const chain = new Set<number>();
  for (let current = pid; current > 1 && !chain.has(current);) {
    chain.add(current);
    try {
      const stat = fs.readFileSync(`/proc/${current}/stat`, 'utf8');
      current = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return chain;
}

/**
 * Every process on the machine that belongs to the cluster in `dir`: its command line names the
 * folder (supervisor, services, UI, postmaster) or it works inside it (PostgreSQL's backends have
 * the data folder as their working directory). Empty after a clean `clusterDown()`.
 */
export function processesUsing(dir: string): Array<{ pid: number; cmdline: string }> {
  dir = path.resolve(dir);
  const found: Array<{ pid: number; cmdline: string }> = [];
  const ourChain = ancestors(process.pid);
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || ourChain.has(pid)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // not ours to read
      }
      if (mentions(cmdline, dir) || mentions(cwd, dir)) found.push({ pid, cmdline });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Deletes what `up` created in `dir` (and nothing else there). */
function wipe(dir: string, log: Log): void {
  const ours = [
    'postgres',
    'config',
    'ui-config',
    'logs',
    'tls',
    'plan.json',
    'state.json',
    'supervisor.log',
    'up.lock',
  ];
  log(`wiping ${dir} (${ours.join(', ')})`);
  for (const name of ours) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}

export type { Role };
