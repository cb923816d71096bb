/**
 * Settings every piece (CLI, worker, bot) reads from the environment. The names are part of the
 * public contract (README, runner/.env.example); defaults make the embedded stack work unset.
 */
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** The repository this file lives in: the default workspace and the home of `runner/`. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface PocConfig {
  /** `host:port` of the Temporal frontend; undefined means "the embedded dev server". */
  temporalAddress: string | undefined;
  namespace: string;
  taskQueue: string;
  /** Default compose project a pipeline runs in. */
  workspace: string;
  /** Where step logs and artifacts of each run are written (`<jobsDir>/<workflow id>/…`). */
  jobsDir: string;
  /** Web UI base URL, for links in Slack and the CLI. */
  uiUrl: string;
  metricsPort: number | undefined;
  /** Run folders of closed runs older than this many days are pruned (0 = never). */
  retentionDays: number;
  /** The embedded dev server `poc up` / `poc server` start when TEMPORAL_ADDRESS is unset. */
  embedded: { port: number; uiPort: number; dataDir: string };
}

export const EMBEDDED_PORT = 7233;
export const EMBEDDED_UI_PORT = 8233;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): PocConfig {
  const temporalAddress = nonEmpty(env.TEMPORAL_ADDRESS);
  return {
    temporalAddress,
    namespace: nonEmpty(env.TEMPORAL_NAMESPACE) ?? 'default',
    taskQueue: nonEmpty(env.POC_TASK_QUEUE) ?? 'poc',
    workspace: path.resolve(nonEmpty(env.POC_WORKSPACE) ?? repoRoot),
    jobsDir: path.resolve(nonEmpty(env.POC_JOBS_DIR) ?? path.join(repoRoot, 'runner', 'jobs')),
    uiUrl: (
      nonEmpty(env.POC_TEMPORAL_UI_URL) ??
      `http://127.0.0.1:${parsePort(env.POC_EMBEDDED_UI_PORT, 'POC_EMBEDDED_UI_PORT') ?? EMBEDDED_UI_PORT}`
    ).replace(/\/+$/, ''),
    metricsPort: parsePort(env.POC_METRICS_PORT, 'POC_METRICS_PORT'),
    retentionDays: parseDays(env.POC_RETENTION_DAYS),
    embedded: {
      port: parsePort(env.POC_EMBEDDED_PORT, 'POC_EMBEDDED_PORT') ?? EMBEDDED_PORT,
      uiPort: parsePort(env.POC_EMBEDDED_UI_PORT, 'POC_EMBEDDED_UI_PORT') ?? EMBEDDED_UI_PORT,
      dataDir: path.resolve(nonEmpty(env.POC_DATA_DIR) ?? path.join(repoRoot, 'runner', 'temporal')),
    },
  };
}

/** Address clients dial: the configured server, else the embedded one `poc up` starts. */
export function clientAddress(config: PocConfig): string {
  return config.temporalAddress ?? `127.0.0.1:${config.embedded.port}`;
}

export function runUrl(config: PocConfig, workflowId: string): string {
  const namespace = encodeURIComponent(config.namespace);
  return `${config.uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Per-user cache (the Temporal CLI build lives here): XDG on Linux, the usual places elsewhere. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (nonEmpty(env.POC_CACHE_DIR)) return path.resolve(env.POC_CACHE_DIR as string);
  const base =
    nonEmpty(env.XDG_CACHE_HOME) ??
    (process.platform === 'darwin'
      ? path.join(os.homedir(), 'Library', 'Caches')
      : process.platform === 'win32'
        ? (nonEmpty(env.LOCALAPPDATA) ?? path.join(os.homedir(), 'AppData', 'Local'))
        : path.join(os.homedir(), '.cache'));
  return path.join(base, 'poc-orchestrator');
}

export function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function parsePort(value: string | undefined, name: string): number | undefined {
  const raw = nonEmpty(value);
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name}=${raw} is not a port number; set it to an integer from 0 to 65535 or unset it`);
  }
  return port;
}

function parseDays(value: string | undefined): number {
  const raw = nonEmpty(value);
  if (raw === undefined) return 14;
  const days = Number(raw);
  if (!Number.isFinite(days) || days < 0)
    throw new Error(`POC_RETENTION_DAYS=${raw} is not a number of days; set it to 0 (keep forever) or more`);
  return days;
}
