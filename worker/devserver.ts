/**
 * The embedded Temporal: find (or build) the `temporal` CLI and run its dev server.
 *
 * Lookup order: TEMPORAL_CLI_PATH, then PATH, then our cache; else `go install` of the pinned
 * CLI version into the cache; else (machine with internet) the official release that
 * @temporalio/testing downloads. The server is always the real one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { Connection } from '@temporalio/client';
import { loadConfig, type PocConfig } from '../core/config.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../core/contract.js';
import { goInstall, isExecutable, onPath } from '../core/programs.js';

/** `go install` works for these tags only: later ones carry a `replace` directive. Tried in order. */
export const CLI_VERSIONS = ['v1.5.1', 'v1.5.0', 'v1.4.1'] as const;
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Names of our custom search attributes (all Keyword), as `start-dev --search-attribute` wants them. */
export const SEARCH_ATTRIBUTES: readonly string[] = SEARCH_ATTRIBUTE_KEYS.map((key) => key.name);

export type CliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go install' | 'download';

export interface TemporalCli {
  path: string;
  source: CliSource;
}

/** Where the CLI is looked for: TEMPORAL_CLI_PATH, PATH and the cache folder of the config. */
export type CliLookup = Pick<PocConfig, 'searchPath' | 'cacheDir'> & {
  temporal: Pick<PocConfig['temporal'], 'cliPath'>;
};

export function cachedCliPath(version: string = CLI_VERSIONS[0], lookup: CliLookup = loadConfig()): string {
  return path.join(lookup.cacheDir, 'temporal', version, process.platform === 'win32' ? 'temporal.exe' : 'temporal');
}

/** Where a `temporal` CLI already is, without building or downloading anything. */
export function findTemporalCli(lookup: CliLookup = loadConfig()): TemporalCli | undefined {
  const explicit = lookup.temporal.cliPath;
  if (explicit) {
    if (!isExecutable(explicit)) {
      throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file; fix the path or unset it`);
    }
    return { path: explicit, source: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = onPath('temporal', lookup.searchPath);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  for (const version of CLI_VERSIONS) {
    const cached = cachedCliPath(version, lookup);
    if (isExecutable(cached)) return { path: cached, source: 'cache' };
  }
  const downloaded = path.dirname(cachedCliPath('download', lookup));
  if (fs.existsSync(downloaded)) {
    const file = fs
      .readdirSync(downloaded)
      .map((name) => path.join(downloaded, name))
      .find(isExecutable);
    if (file) return { path: file, source: 'cache' };
  }
  return undefined;
}

export function goAvailable(lookup: CliLookup = loadConfig()): string | undefined {
  return onPath('go', lookup.searchPath);
}

/**
 * `go install` the CLI into the cache. Minutes on a small machine, once: progress lines go to
 * `log` so nobody stares at a silent terminal.
 */
export async function buildTemporalCli(
  log: (line: string) => void,
  lookup: CliLookup = loadConfig(),
): Promise<TemporalCli> {
  if (!goAvailable(lookup)) throw new Error('Go is not installed, so the Temporal CLI cannot be built');
  const failures: string[] = [];
  for (const version of CLI_VERSIONS) {
    const target = cachedCliPath(version, lookup);
    const gobin = path.join(path.dirname(target), '.gobin');
    const built = await goInstall(log, {
      label: `the Temporal CLI ${version}`,
      packages: [`${CLI_MODULE}@${version}`],
      gobin,
      searchPath: lookup.searchPath,
    });
    if (built.ok) {
      fs.renameSync(path.join(gobin, path.basename(target)), target);
      fs.rmSync(gobin, { recursive: true, force: true });
      return { path: target, source: 'go install' };
    }
    failures.push(`${version}: ${built.tail}`);
    log(`  go install ${version} failed: ${built.tail}`);
  }
  throw new Error(`go install of the Temporal CLI failed for every version tried (${failures.join('; ')})`);
}

export const NO_CLI_HELP =
  'No Temporal CLI found. Do one of: set TEMPORAL_CLI_PATH to a `temporal` binary; put `temporal` on PATH; ' +
  `install Go so it can be built with \`go install ${CLI_MODULE}@${CLI_VERSIONS[0]}\`; ` +
  'or connect to a running server with TEMPORAL_ADDRESS=host:port.';

/**
 * A usable CLI, building it when Go is present. Falls back to the official release through
 * @temporalio/testing only when `allowDownload` (machines with internet).
 */
export async function ensureTemporalCli(
  log: (line: string) => void,
  { allowDownload = true, lookup = loadConfig() }: { allowDownload?: boolean; lookup?: CliLookup } = {},
): Promise<TemporalCli> {
  const found = findTemporalCli(lookup);
  if (found) return found;
  if (goAvailable(lookup)) return buildTemporalCli(log, lookup);
  if (allowDownload) {
    log('no Temporal CLI and no Go: asking @temporalio/testing for the official release (needs internet)');
    try {
      return { path: await downloadOfficialCli(lookup), source: 'download' };
    } catch (err) {
      throw new Error(`${NO_CLI_HELP} (download failed: ${(err as Error).message})`);
    }
  }
  throw new Error(NO_CLI_HELP);
}

/** The official release, fetched by @temporalio/testing into our cache (one short-lived server start). */
async function downloadOfficialCli(lookup: CliLookup): Promise<string> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const downloadDir = path.dirname(cachedCliPath('download', lookup));
  fs.mkdirSync(downloadDir, { recursive: true });
  const testEnv = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir, ttl: '3650 days' } },
  });
  await testEnv.teardown();
  const binary = fs
    .readdirSync(downloadDir)
    .map((name) => path.join(downloadDir, name))
    .find((file) => isExecutable(file));
  if (!binary) throw new Error(`no executable appeared in ${downloadDir}`);
  return binary;
}

/**
 * Runs the server and waits for it; passes SIGTERM on; ends it when our end of stdin closes
 * (we died). `wait` twice: a trapped signal interrupts the first one.
 */
const SERVER_GUARD = [
  'exec 3<&0',
  '"$@" </dev/null &',
  'server=$!',
  'trap \'kill -TERM "$server" 2>/dev/null\' TERM INT',
  '(while read -r _; do :; done; kill -TERM "$server" 2>/dev/null) <&3 &',
  'wait "$server"; status=$?',
  'wait "$server" 2>/dev/null',
  'exit "$status"',
].join('\n');

export interface DevServerOptions {
  cliPath: string;
  ip?: string;
  port: number;
  /** Web UI port; `undefined` runs headless. */
  uiPort?: number;
  dbFile?: string;
  namespace?: string;
  /** Where the server's own output goes (a file keeps the terminal clean). */
  logFile?: string;
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  process: ChildProcess;
  /** Pid of the `temporal` process itself (under its guard shell), for CPU measurements. */
  serverPid(): number | undefined;
  stop(): Promise<void>;
}

/** `temporal server start-dev` with our search attributes; resolves once the frontend answers. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(opts.port),
    '--namespace',
    opts.namespace ?? 'default',
  ];
  if (opts.uiPort !== undefined) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  if (opts.dbFile) {
    fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  for (const name of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${name}=Keyword`);
  // WAL with synchronous=normal survives a crash of the server (not of the machine) and triples
  // throughput on SQLite (bench/llm-throughput). Search attributes are registered by the flags
  // above, so the per-read cache refresh the dev server forces can go.
  args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false');
  // The next step's activity comes back with the workflow task that scheduled it: one poll less per step.
  args.push('--dynamic-config-value', 'system.enableActivityEagerExecution=true');
  args.push('--log-format', 'json', '--log-level', 'warn');

  let out: number | 'ignore' = 'ignore';
  if (opts.logFile) {
    fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
    out = fs.openSync(opts.logFile, 'a');
  }
  // Own process group, so Ctrl-C in the terminal reaches us first and we stop it in order; and a
  // guard that ends the server when we die without stopping it (SIGKILL, a test runner's timeout):
  // it waits for our end of a pipe to close.
  const child =
    process.platform === 'win32'
      ? spawn(opts.cliPath, args, { stdio: ['ignore', out, out], detached: true })
      : spawn('sh', ['-c', SERVER_GUARD, 'temporal-guard', opts.cliPath, ...args], {
          stdio: ['pipe', out, out],
          detached: true,
        });
  if (typeof out === 'number') fs.closeSync(out);
  const address = `${ip}:${opts.port}`;
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exited = err.message;
      resolve();
    });
  });

  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(timer);
    }
    child.stdin?.destroy();
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) {
      const hint = opts.logFile ? ` (see ${opts.logFile})` : '';
      throw new Error(
        `temporal server start-dev stopped at start-up with ${exited}${hint}; is port ${opts.port} free?`,
      );
    }
    if (await frontendAnswers(address)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `temporal server start-dev did not answer on ${address} within ${(opts.startTimeoutMs ?? 60_000) / 1000} s`,
      );
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  const serverPid = () => {
    try {
      const children = fs
        .readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .map(Number);
      return children.find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev')) ?? child.pid;
    } catch {
      return child.pid;
    }
  };
  return {
    address,
    uiUrl: opts.uiPort !== undefined ? `http://${ip}:${opts.uiPort}` : undefined,
    process: child,
    serverPid,
    stop,
  };
}

/** True when a Temporal frontend answers on `address` (used to reuse a server already running). */
export async function frontendAnswers(address: string, timeoutMs = 2_000): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** `temporal --version` (also proves the binary runs on this machine). */
export async function cliVersion(cliPath: string): Promise<string> {
  const { stdout } = await execa(cliPath, ['--version'], { timeout: 15_000 });
  return stdout.trim();
}
