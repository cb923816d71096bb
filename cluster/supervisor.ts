/**
 * The cluster's supervisor: a detached process (`node --import tsx cluster/supervisor.ts DIR`)
 * that runs what `DIR/plan.json` describes — PostgreSQL, then the schema tool, then frontend,
 * history, matching and worker as four processes (and the UI server when built) — and restarts any
 * of them that dies, as systemd or Kubernetes would. `DIR/state.json` says what runs (pids,
 * restarts, phase); `DIR/supervisor.log` says what happened. SIGTERM stops everything, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CONFIG_ENV, SERVICES } from './config.js';
import { ensureSchemas, pgCtlStop, pgReady, postgresCommand } from './postgres.js';
import { portAnswers } from './ports.js';
import {
  readPlan,
  statePath,
  writeJsonAtomic,
  type ClusterPlan,
  type Phase,
  type ProcessState,
  type Role,
} from './plan.js';

const RESTART_DELAY_MS = { first: 250, max: 5_000 } as const;
/** A process that ran this long is healthy again: its next crash restarts it at the first delay. */
const HEALTHY_AFTER_MS = 60_000;
const STOP_GRACE_MS = 20_000;

/** Delay before restart number `n` (1-based) of a process that keeps failing: 0.25 s, 0.5 s, 1 s … 5 s. */
export function restartDelayMs(consecutiveFailures: number): number {
  return Math.min(RESTART_DELAY_MS.max, RESTART_DELAY_MS.first * 2 ** Math.max(0, consecutiveFailures - 1));
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

export interface Command {
  file: string;
  args: string[];
}

/** One supervised program: started, watched, restarted after a crash, stopped on request. */
export class Supervised {
  child: ChildProcess | undefined;
  restarts = 0;
  startedAt: Date | undefined;
  lastExit: string | undefined;
  private consecutiveFailures = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly role: Role,
    private readonly command: Command,
    private readonly opts: { cwd: string; logFile: string; log: (line: string) => void; changed: () => void },
  ) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  start(): void {
    const out = fs.openSync(this.opts.logFile, 'a');
    const child = spawn(this.command.file, this.command.args, { cwd: this.opts.cwd, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.child = child;
    this.startedAt = new Date();
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.onExit(child, describeExit(code, signal));
        resolve();
      });
      child.once('error', (err) => {
        // spawn failed (no such program): no 'exit' follows.
        if (child.pid === undefined) {
          this.onExit(child, err.message);
          resolve();
        }
      });
    });
    this.opts.log(`${this.role} started (pid ${child.pid})`);
    this.opts.changed();
  }

  private onExit(child: ChildProcess, how: string): void {
    if (child !== this.child) return;
    this.lastExit = how;
    this.opts.changed();
    if (this.stopping) {
      this.opts.log(`${this.role} (pid ${child.pid}) stopped: ${how}`);
      return;
    }
    const ranMs = Date.now() - (this.startedAt?.getTime() ?? Date.now());
    this.consecutiveFailures = ranMs >= HEALTHY_AFTER_MS ? 1 : this.consecutiveFailures + 1;
    const delay = restartDelayMs(this.consecutiveFailures);
    this.opts.log(
      `${this.role} (pid ${child.pid}) exited with ${how} after ${(ranMs / 1000).toFixed(1)} s; ` +
        `restarting in ${delay} ms (restart #${this.restarts + 1})`,
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.restarts += 1;
      this.start();
    }, delay);
  }

  /** Stops it and waits for the exit: `stop` (e.g. pg_ctl) when given, else SIGTERM; SIGKILL after a grace period. */
  async stop(stop?: () => Promise<void>): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const pid = this.pid;
    if (pid === undefined) return;
    const killer = setTimeout(() => {
      this.opts.log(`${this.role} (pid ${pid}) did not stop within ${STOP_GRACE_MS / 1000} s: SIGKILL`);
      this.child?.kill('SIGKILL');
    }, STOP_GRACE_MS);
    try {
      if (stop) await stop();
      else this.child?.kill('SIGTERM');
      await this.exited;
    } finally {
      clearTimeout(killer);
    }
  }

  state(): ProcessState {
    return {
      role: this.role,
      pid: this.pid,
      restarts: this.restarts,
      startedAt: this.startedAt?.toISOString(),
      ...(this.lastExit ? { lastExit: this.lastExit } : {}),
    };
  }
}

function serverCommand(plan: ClusterPlan, role: (typeof SERVICES)[number]): Command {
  // --config is joined to --root by the server, so it must be relative.
  return {
    file: plan.binaries.server,
    args: [
      '--root',
      plan.dir,
      '--config',
      path.relative(plan.dir, plan.configDir),
      '--env',
      CONFIG_ENV,
      '--allow-no-auth',
      'start',
      '--service',
      role,
    ],
  };
}

function uiCommand(plan: ClusterPlan, uiServer: string): Command {
  return {
    file: uiServer,
    args: ['--root', plan.dir, '--config', path.relative(plan.dir, plan.uiConfigDir), '--env', CONFIG_ENV, 'start'],
  };
}

/** Polls `check` until it is true or the deadline passes. */
async function until(
  check: () => Promise<boolean>,
  { timeoutMs, what }: { timeoutMs: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function supervise(dir: string): Promise<void> {
  const plan = readPlan(dir);
  if (!plan) throw new Error(`no plan.json in ${dir}: start the cluster with clusterUp()`);
  fs.mkdirSync(plan.logsDir, { recursive: true });
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  let phase: Phase = 'starting';
  let error: string | undefined;
  const processes: Supervised[] = [];
  const writeState = () =>
    writeJsonAtomic(statePath(dir), {
      supervisorPid: process.pid,
      phase,
      ...(error ? { error } : {}),
      processes: processes.map((p) => p.state()),
      updatedAt: new Date().toISOString(),
    });
  const make = (role: Role, command: Command) => {
    const supervised = new Supervised(role, command, {
      cwd: plan.dir,
      logFile: path.join(plan.logsDir, `${role}.log`),
      log,
      changed: writeState,
    });
    processes.push(supervised);
    return supervised;
  };

  let stopRequested: (() => void) | undefined;
  const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stopRequested?.());
  process.on('SIGHUP', () => undefined);

  const postgres = make(
    'postgres',
    postgresCommand({
      binDir: plan.binaries.pgBinDir,
      user: plan.pgUser,
      layout: { home: plan.pgHome, dataDir: plan.pgDataDir },
      port: plan.ports.postgres,
    }),
  );
  const stopAll = async () => {
    phase = 'stopping';
    writeState();
    log('stopping: UI and Temporal services first, then PostgreSQL');
    await Promise.all(processes.filter((p) => p !== postgres).map((p) => p.stop()));
    await postgres.stop(() =>
      pgCtlStop({
        binDir: plan.binaries.pgBinDir,
        user: plan.pgUser,
        layout: { home: plan.pgHome, dataDir: plan.pgDataDir },
      }),
    );
  };

  log(`supervisor ${process.pid} for ${dir}`);
  writeState();
  try {
    postgres.start();
    await Promise.race([
      until(() => pgReady(plan.binaries.pgBinDir, plan.ports.postgres), {
        timeoutMs: 60_000,
        what: `PostgreSQL answering on port ${plan.ports.postgres}`,
      }),
      stopSignal.then(() => Promise.reject(new Error('stop requested during start-up'))),
    ]);
    await ensureSchemas({
      binDir: plan.binaries.pgBinDir,
      port: plan.ports.postgres,
      password: plan.pgPassword,
      source: { sqlToolPath: plan.binaries.sqlTool, schemaDirs: plan.schemaDirs },
      log,
    });
    // The frontend first: on a fresh database every service inserts the cluster metadata record at
    // start and the losers of that race exit ("failed to initialize current cluster metadata").
    // Its gRPC port opens only after the record exists; then the others start without a crash.
    make('frontend', serverCommand(plan, 'frontend')).start();
    await until(() => portAnswers(plan.ports.frontend), {
      timeoutMs: 60_000,
      what: `the frontend listening on port ${plan.ports.frontend}`,
    }).catch((err: Error) => log(`${err.message}; starting the other services anyway`));
    for (const role of SERVICES.filter((r) => r !== 'frontend')) make(role, serverCommand(plan, role)).start();
    if (plan.binaries.uiServer) make('ui', uiCommand(plan, plan.binaries.uiServer)).start();
    phase = 'running';
    writeState();
    log('running');
  } catch (err) {
    error = (err as Error).message;
    log(`start-up failed: ${error}`);
    await stopAll();
    phase = 'failed';
    writeState();
    process.exitCode = 1;
    return;
  }
  await stopSignal;
  await stopAll();
  phase = 'stopped';
  writeState();
  log('stopped');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node --import tsx cluster/supervisor.ts CLUSTER_DIR\n');
    process.exit(2);
  }
  supervise(path.resolve(dir)).catch((err: unknown) => {
    process.stderr.write(`supervisor failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
