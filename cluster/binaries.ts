/**
 * The production Temporal's programs: `temporal-server` and `temporal-sql-tool` from the Go module
 * go.temporal.io/server, and (when it builds) Temporal's UI server. Built once with `go install`
 * and cached beside the CLI (worker/devserver.ts does the same for `temporal`).
 *
 * The server is pinned to the version the CLI v1.5.1 embeds: it has no `replace` directive, so
 * `go install pkg@version` accepts it, and its toolchain requirement fits the machine's Go.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { PocConfig } from '../core/config.js';
import { goInstall, isExecutable, onPath } from '../core/programs.js';
import { withFileLock } from './lock.js';

export const SERVER_MODULE = 'go.temporal.io/server';
export const SERVER_VERSION = 'v1.29.1';
/** The UI server the CLI v1.5.1 embeds (its assets are committed in the module, so no Node build). */
export const UI_MODULE = 'github.com/temporalio/ui-server/v2';
export const UI_VERSION = 'v2.42.1';

export type Log = (line: string) => void;

/** Where the programs are cached and where `go` is looked for (loadConfig's `cacheDir`, `searchPath`). */
export type BuildPaths = Pick<PocConfig, 'cacheDir' | 'searchPath'>;

export interface ClusterBinaries {
  serverPath: string;
  sqlToolPath: string;
  /** PostgreSQL 12+ versioned schema folders from the module; undefined = the SQL tool's embedded copy. */
  schemaDirs: { temporal: string; visibility: string } | undefined;
  /** Where the module's files were found (for messages). */
  moduleDir: string | undefined;
  ui: UiServerBinary;
}

export type UiServerBinary = { path: string; reason?: undefined } | { path: undefined; reason: string };

export function serverBinDir(paths: BuildPaths): string {
  return path.join(paths.cacheDir, 'temporal-server', SERVER_VERSION);
}

export function uiBinDir(paths: BuildPaths): string {
  return path.join(paths.cacheDir, 'temporal-ui-server', UI_VERSION);
}

/** `temporal-server` and `temporal-sql-tool`, building them when the cache does not have them. */
export async function ensureServerBinaries(
  log: Log,
  paths: BuildPaths,
): Promise<{ serverPath: string; sqlToolPath: string }> {
  const dir = serverBinDir(paths);
  const serverPath = path.join(dir, 'temporal-server');
  const sqlToolPath = path.join(dir, 'temporal-sql-tool');
  if (isExecutable(serverPath) && isExecutable(sqlToolPath)) return { serverPath, sqlToolPath };
  fs.mkdirSync(dir, { recursive: true });
  // Two clusters starting at once build once: the second waits, then finds the programs.
  return withFileLock(path.join(dir, 'build.lock'), BUILD_WAIT_MS, 'building temporal-server', async () => {
    if (isExecutable(serverPath) && isExecutable(sqlToolPath)) return { serverPath, sqlToolPath };
    return buildServerBinaries(log, paths, { dir, serverPath, sqlToolPath });
  });
}

const BUILD_WAIT_MS = 30 * 60_000;

async function buildServerBinaries(
  log: Log,
  paths: BuildPaths,
  { dir, serverPath, sqlToolPath }: { dir: string; serverPath: string; sqlToolPath: string },
): Promise<{ serverPath: string; sqlToolPath: string }> {
  const gobin = path.join(dir, '.gobin');
  const built = await goInstall(log, {
    label: `temporal-server and temporal-sql-tool ${SERVER_VERSION}`,
    packages: [`${SERVER_MODULE}/cmd/server@${SERVER_VERSION}`, `${SERVER_MODULE}/cmd/tools/sql@${SERVER_VERSION}`],
    gobin,
    searchPath: paths.searchPath,
  });
  if (!built.ok) throw new Error(`go install of ${SERVER_MODULE}@${SERVER_VERSION} failed: ${built.tail}`);
  fs.renameSync(path.join(gobin, 'server'), serverPath);
  fs.renameSync(path.join(gobin, 'sql'), sqlToolPath);
  fs.rmSync(gobin, { recursive: true, force: true });
  return { serverPath, sqlToolPath };
}

/**
 * Temporal's UI server, or why there is none. One honest attempt per machine: a failure is
 * remembered in the cache (delete `build-failed.txt` there to try again) so every `up` does not
 * spend minutes failing again.
 */
export async function ensureUiServer(log: Log, paths: BuildPaths): Promise<UiServerBinary> {
  const dir = uiBinDir(paths);
  const binary = path.join(dir, 'temporal-ui-server');
  const failedMarker = path.join(dir, 'build-failed.txt');
  const known = (): UiServerBinary | undefined => {
    if (isExecutable(binary)) return { path: binary };
    if (fs.existsSync(failedMarker)) {
      return { path: undefined, reason: fs.readFileSync(failedMarker, 'utf8').trim() };
    }
    return undefined;
  };
  const before = known();
  if (before) return before;
  fs.mkdirSync(dir, { recursive: true });
  return withFileLock(
    path.join(dir, 'build.lock'),
    BUILD_WAIT_MS,
    'building the UI server',
    async () => known() ?? buildUiServer(log, paths, { dir, binary, failedMarker }),
  );
}

async function buildUiServer(
  log: Log,
  paths: BuildPaths,
  { dir, binary, failedMarker }: { dir: string; binary: string; failedMarker: string },
): Promise<UiServerBinary> {
  const gobin = path.join(dir, '.gobin');
  const built = await goInstall(log, {
    label: `the Temporal UI server ${UI_VERSION}`,
    packages: [`${UI_MODULE}/cmd/server@${UI_VERSION}`],
    gobin,
    searchPath: paths.searchPath,
  });
  if (!built.ok) {
    const reason = `go install ${UI_MODULE}/cmd/server@${UI_VERSION} failed: ${built.tail}`;
    fs.writeFileSync(failedMarker, reason + '\n');
    log(`  no Web UI for the cluster: ${reason}`);
    return { path: undefined, reason };
  }
  fs.renameSync(path.join(gobin, 'server'), binary);
  fs.rmSync(gobin, { recursive: true, force: true });
  return { path: binary };
}

/**
 * The server module's own folder in the Go module cache: `go mod download -json` names it (and
 * fetches it if a cache clean removed it after the build).
 */
export async function serverModuleDir(paths: BuildPaths): Promise<string | undefined> {
  const go = onPath('go', paths.searchPath);
  if (!go) return undefined;
  const result = await execa(go, ['mod', 'download', '-json', `${SERVER_MODULE}@${SERVER_VERSION}`], {
    cwd: paths.cacheDir,
    reject: false,
    timeout: 300_000,
  });
  if (result.exitCode !== 0) return undefined;
  try {
    const dir = (JSON.parse(result.stdout) as { Dir?: string }).Dir;
    return dir && fs.existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The versioned PostgreSQL 12+ schema folders update-schema walks (v1.0 … vN). */
export function postgresSchemaDirs(moduleDir: string): { temporal: string; visibility: string } | undefined {
  const base = path.join(moduleDir, 'schema', 'postgresql', 'v12');
  const dirs = {
    temporal: path.join(base, 'temporal', 'versioned'),
    visibility: path.join(base, 'visibility', 'versioned'),
  };
  return fs.existsSync(dirs.temporal) && fs.existsSync(dirs.visibility) ? dirs : undefined;
}

/** Everything the cluster runs, built once and cached; the UI server only when asked and buildable. */
export async function ensureClusterBinaries(
  log: Log,
  paths: BuildPaths,
  { ui = true }: { ui?: boolean } = {},
): Promise<ClusterBinaries> {
  if (!onPath('go', paths.searchPath) && !isExecutable(path.join(serverBinDir(paths), 'temporal-server'))) {
    throw new Error(
      'Go is not installed, so temporal-server cannot be built; install Go 1.25 or later ' +
        `(it runs \`go install ${SERVER_MODULE}/cmd/server@${SERVER_VERSION}\`)`,
    );
  }
  fs.mkdirSync(paths.cacheDir, { recursive: true });
  const { serverPath, sqlToolPath } = await ensureServerBinaries(log, paths);
  const moduleDir = await serverModuleDir(paths);
  const schemaDirs = moduleDir ? postgresSchemaDirs(moduleDir) : undefined;
  const uiBinary: UiServerBinary = ui ? await ensureUiServer(log, paths) : { path: undefined, reason: 'not asked for' };
  return { serverPath, sqlToolPath, schemaDirs, moduleDir, ui: uiBinary };
}
