/**
 * What the integration and e2e layers need before any test file runs, provisioned once per jest
 * run (jest's globalSetup runs in the main process; test files see the environment it sets):
 *
 * - the Temporal CLI (TEMPORAL_CLI_PATH, PATH, cache; else `go install`, once) and ONE real dev
 *   server for the whole run — each test file still works on its own task queue;
 * - for e2e, a Docker engine (started when installed and we may; installed with apt when we are
 *   root on Debian and it is missing), stopped again at the end if we started it.
 *
 * - for `npm run test:cluster`, instead of the dev server: a production-shaped cluster (cluster/:
 *   PostgreSQL, four Temporal services, mTLS) in a temporary folder, and the variables a user
 *   would export for it (TEMPORAL_ADDRESS, TEMPORAL_TLS_*), so every test, helper, worker process
 *   and `poc` subprocess connects through loadConfig + connectionOptions like production does.
 *
 * Everything started here is remembered on globalThis and stopped by pid in teardown.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { clusterDown, clusterEnvironment, clusterUp } from '../../cluster/index.js';
import { loadConfig } from '../../core/config.js';
import { ensureTemporalCli, startDevServer, type DevServer } from '../../worker/devserver.js';
import { freePort } from '../support/temporal.js';

const log = (line: string) => process.stderr.write(`[jest setup] ${line}\n`);

interface Provisioned {
  server?: DevServer;
  serverDir?: string;
  dockerd?: ChildProcess;
  clusterDir?: string;
  /** The variables set for the cluster, removed again at the end. */
  clusterVariables?: string[];
}

export function provisioned(): Provisioned {
  const holder = globalThis as { __pocProvisioned?: Provisioned };
  holder.__pocProvisioned ??= {};
  return holder.__pocProvisioned;
}

/** One dev server for the run (a second project's setup finds it already there). */
export async function provisionTemporal(): Promise<void> {
  const state = provisioned();
  if (state.server || process.env.POC_TEST_TEMPORAL_ADDRESS) return;
  const cli = await ensureTemporalCli(log, { allowDownload: true });
  process.env.TEMPORAL_CLI_PATH ??= cli.path;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-test-temporal-'));
  state.serverDir = dir;
  state.server = await startDevServer({
    cliPath: cli.path,
    port: await freePort(),
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'server.log'),
  });
  process.env.POC_TEST_TEMPORAL_ADDRESS = state.server.address;
  log(`Temporal dev server for this run on ${state.server.address} (${cli.source}: ${cli.path})`);
}

/**
 * One cluster for the run (the Temporal CLI too: tests drive it with --tls-* flags). The first run
 * on a machine builds temporal-server (minutes, cached); later ones start in seconds.
 */
export async function provisionCluster(): Promise<void> {
  const state = provisioned();
  if (state.clusterDir) return;
  const cli = await ensureTemporalCli(log, { allowDownload: true });
  process.env.TEMPORAL_CLI_PATH ??= cli.path;
  // Under /tmp: PostgreSQL runs as its own user and must reach the folder.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-test-cluster-'));
  let status;
  try {
    status = await clusterUp({ config: loadConfig(), dir, log });
  } catch (err) {
    // clusterUp stopped what it had started; the folder is ours to remove.
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  state.clusterDir = dir;
  const variables = {
    ...clusterEnvironment(status),
    POC_TEST_TEMPORAL_ADDRESS: status.address,
    POC_TEST_CLUSTER_DIR: dir,
  };
  Object.assign(process.env, variables);
  state.clusterVariables = Object.keys(variables);
  const roles = status.processes.map((p) => `${p.role} ${p.pid}`).join(', ');
  log(`Temporal cluster for this run on ${status.address} (mTLS; ${roles}) in ${dir}`);
}

async function engineUp(): Promise<boolean> {
  const result = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 20_000 });
  return result.exitCode === 0;
}

async function onPath(command: string): Promise<boolean> {
  return (await execa('sh', ['-c', 'command -v "$1"', 'sh', command], { reject: false })).exitCode === 0;
}

/** Makes sure a Docker engine answers; a dockerd we start is stopped again in teardown. */
export async function provisionDocker(): Promise<void> {
  const state = provisioned();
  if (state.dockerd || (await engineUp())) return;
  const root = process.getuid?.() === 0;
  if (!(await onPath('dockerd'))) {
    if (!root || !(await onPath('apt-get'))) {
      throw new Error(
        'no Docker engine and no dockerd to start: install Docker (docker.io and docker-compose on Debian)',
      );
    }
    log('installing docker.io and docker-compose with apt-get (once)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await execa('apt-get', ['update', '-q'], { env, stdio: 'inherit', reject: false });
    const install = await execa('apt-get', ['install', '-y', '-q', 'docker.io', 'docker-compose'], {
      env,
      stdio: 'inherit',
      reject: false,
    });
    if (install.exitCode !== 0) throw new Error('apt-get could not install docker.io and docker-compose');
  }
  if (!root)
    throw new Error('the Docker engine is not running and starting dockerd needs root: start Docker, then run again');
  log('starting dockerd for the end-to-end tests (stopped again at the end)…');
  const logFile = path.join(os.tmpdir(), `poc-test-dockerd-${process.pid}.log`);
  const out = fs.openSync(logFile, 'a');
  // No iptables: test containers run without network, and some sandboxes forbid it.
  const dockerd = spawn('dockerd', ['--iptables=false'], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const deadline = Date.now() + 60_000;
  while (!(await engineUp())) {
    if (dockerd.exitCode !== null || Date.now() > deadline) {
      dockerd.kill('SIGKILL');
      throw new Error(`dockerd did not come up (see ${logFile})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  state.dockerd = dockerd;
}

/** Stops what this file started, by pid, and removes its files. */
export async function teardown(): Promise<void> {
  const state = provisioned();
  if (state.server) {
    await state.server.stop();
    state.server = undefined;
    delete process.env.POC_TEST_TEMPORAL_ADDRESS;
  }
  if (state.serverDir) fs.rmSync(state.serverDir, { recursive: true, force: true });
  if (state.clusterDir) {
    await clusterDown({ dir: state.clusterDir, wipe: true, log });
    fs.rmSync(state.clusterDir, { recursive: true, force: true });
    for (const name of state.clusterVariables ?? []) delete process.env[name];
    state.clusterDir = undefined;
  }
  const dockerd = state.dockerd;
  if (dockerd && dockerd.exitCode === null) {
    const exited = new Promise((resolve) => dockerd.once('exit', resolve));
    dockerd.kill('SIGTERM');
    await exited;
  }
  state.dockerd = undefined;
}
