/**
 * The two files a cluster folder holds about itself:
 *   - `plan.json` (private, written by `clusterUp`): what to run — programs, ports, paths, the
 *     database password. The supervisor runs exactly this.
 *   - `state.json` (written by the supervisor): what runs — pids, restarts, phase.
 * `clusterStatus()` joins them into the public status object.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ClusterCerts } from './certs.js';
import type { PgUser } from './postgres.js';

export const ROLES = ['postgres', 'frontend', 'history', 'matching', 'worker', 'ui'] as const;
export type Role = (typeof ROLES)[number];

export interface ClusterPorts {
  postgres: number;
  frontend: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
  /** Only when the UI server is built. */
  ui?: number;
}

export interface ClusterPlan {
  version: 1;
  dir: string;
  namespace: string;
  retentionDays: number;
  numHistoryShards: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  ports: ClusterPorts;
  binaries: { server: string; sqlTool: string; uiServer?: string; pgBinDir: string };
  /** Why there is no UI (when there is none). */
  uiUnavailableReason?: string;
  schemaDirs?: { temporal: string; visibility: string };
  pgUser: PgUser;
  pgPassword: string;
  pgDataDir: string;
  pgHome: string;
  certs: ClusterCerts;
  configDir: string;
  dynamicConfigPath: string;
  uiConfigDir: string;
  logsDir: string;
}

export type Phase = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface ProcessState {
  role: Role;
  pid: number | undefined;
  restarts: number;
  startedAt: string | undefined;
  /** How the previous instance ended (`exit code 1`, `signal SIGKILL`), when it did. */
  lastExit?: string;
}

export interface SupervisorState {
  supervisorPid: number;
  phase: Phase;
  error?: string;
  processes: ProcessState[];
  updatedAt: string;
}

/** The public status: exactly what a client and an operator need. */
export interface ClusterStatus {
  address: string;
  namespace: string;
  uiUrl: string | null;
  tls: { caCertPath: string; clientCertPath: string; clientKeyPath: string; serverName: string };
  processes: Array<{ role: Role; pid: number | null; restarts: number }>;
}

export function planPath(dir: string): string {
  return path.join(dir, 'plan.json');
}

export function statePath(dir: string): string {
  return path.join(dir, 'state.json');
}

export function supervisorLogPath(dir: string): string {
  return path.join(dir, 'supervisor.log');
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Write-then-rename: a reader never sees half a file. */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
  fs.renameSync(tmp, file);
}

export const readPlan = (dir: string) => readJson<ClusterPlan>(planPath(dir));
export const readState = (dir: string) => readJson<SupervisorState>(statePath(dir));

export function toStatus(plan: ClusterPlan, state: SupervisorState | undefined): ClusterStatus {
  const byRole = new Map((state?.processes ?? []).map((p) => [p.role, p]));
  const roles = ROLES.filter((role) => role !== 'ui' || plan.binaries.uiServer);
  return {
    address: `127.0.0.1:${plan.ports.frontend}`,
    namespace: plan.namespace,
    uiUrl: plan.binaries.uiServer && plan.ports.ui !== undefined ? `http://127.0.0.1:${plan.ports.ui}` : null,
    tls: {
      caCertPath: plan.certs.caCertPath,
      clientCertPath: plan.certs.clientCertPath,
      clientKeyPath: plan.certs.clientKeyPath,
      serverName: plan.certs.serverName,
    },
    processes: roles.map((role) => ({
      role,
      pid: byRole.get(role)?.pid ?? null,
      restarts: byRole.get(role)?.restarts ?? 0,
    })),
  };
}

/** True when `text` names the folder `dir` or a path inside it (not `/tmp/c1` for `/tmp/c10`). */
export function mentions(text: string, dir: string): boolean {
  for (let at = text.indexOf(dir); at !== -1; at = text.indexOf(dir, at + 1)) {
    const next = text[at + dir.length];
    if (next === undefined || next === path.sep || next === ' ' || next === '=' || next === '"') return true;
  }
  return false;
}

/** True when `pid` runs and its command line mentions `marker` (our cluster folder): a recycled pid is not ours. */
export function isOurProcess(pid: number | undefined, marker: string): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const zombie = / Z /.test(stat.slice(stat.lastIndexOf(')')));
    return !zombie && mentions(cmdline, marker);
  } catch {
    // No /proc (not Linux): trust the signal test.
    return process.platform !== 'linux';
  }
}
