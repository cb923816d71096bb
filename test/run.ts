/**
 * `npm test`: provisions what the suite needs, then runs every test file with Node's test runner.
 *
 * - the Temporal CLI (TEMPORAL_CLI_PATH, PATH, cache; else `go install`, once);
 * - a Docker engine for the end-to-end tests (started when installed and we may; installed with
 *   apt when we are root on Debian and it is missing), stopped again at the end if we started it;
 * - one real Temporal dev server for the whole run (files use their own task queues).
 *
 * Ends with a line `N passed, M failed`. `npm test -- test/x.test.ts` runs some files only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensureTemporalCli, startDevServer } from '../worker/devserver.js';
import { freePort } from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string) => process.stderr.write(`[npm test] ${line}\n`);

function findTestFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'support' && entry.name !== 'histories' && entry.name !== 'fixtures')
      found.push(...findTestFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found;
}

/** Unit tests first (fast feedback), then workflow tests, then the end-to-end ones. */
function order(file: string): number {
  if (file.includes(`${path.sep}unit${path.sep}`)) return 0;
  if (file.includes('.e2e.')) return 2;
  return 1;
}

async function engineUp(): Promise<boolean> {
  const result = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 20_000 });
  return result.exitCode === 0;
}

async function onPath(command: string): Promise<boolean> {
  return (await execa('sh', ['-c', `command -v ${command}`], { reject: false })).exitCode === 0;
}

/** Makes sure a Docker engine answers; returns the dockerd we started, if any, to stop at the end. */
async function provisionDocker(): Promise<ChildProcess | undefined> {
  if (await engineUp()) return undefined;
  const root = process.getuid?.() === 0;
  if (!(await onPath('dockerd'))) {
    if (!root || !(await onPath('apt-get'))) {
      log(
        'no Docker engine and no dockerd to start: the end-to-end tests will fail. ' +
          'Install Docker (docker.io and docker-compose on Debian).',
      );
      return undefined;
    }
    log('installing docker.io and docker-compose with apt-get (once)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await execa('apt-get', ['update', '-q'], { env, stdio: 'inherit', reject: false });
    const install = await execa('apt-get', ['install', '-y', '-q', 'docker.io', 'docker-compose'], {
      env,
      stdio: 'inherit',
      reject: false,
    });
    if (install.exitCode !== 0) {
      log('apt-get could not install Docker: the end-to-end tests will fail.');
      return undefined;
    }
  }
  if (!root) {
    log(
      'the Docker engine is not running and starting dockerd needs root: the end-to-end tests will fail. ' +
        'Start Docker, then run again.',
    );
    return undefined;
  }
  log('starting dockerd for the end-to-end tests (stopped again at the end)…');
  const logFile = path.join(os.tmpdir(), `poc-test-dockerd-${process.pid}.log`);
  const out = fs.openSync(logFile, 'a');
  // No iptables: test containers run without network, and some sandboxes forbid it.
  const dockerd = spawn('dockerd', ['--iptables=false'], { stdio: ['ignore', out, out], detached: false });
  fs.closeSync(out);
  const deadline = Date.now() + 60_000;
  while (!(await engineUp())) {
    if (dockerd.exitCode !== null || Date.now() > deadline) {
      log(`dockerd did not come up (see ${logFile}): the end-to-end tests will fail.`);
      dockerd.kill('SIGKILL');
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return dockerd;
}

async function main(): Promise<number> {
  const requested = process.argv.slice(2).map((f) => path.resolve(f));
  const files = (requested.length ? requested : findTestFiles(path.join(root, 'test'))).sort(
    (a, b) => order(a) - order(b) || a.localeCompare(b),
  );

  const cli = await ensureTemporalCli(log, { allowDownload: true });
  log(`Temporal CLI: ${cli.path} (${cli.source})`);
  process.env.TEMPORAL_CLI_PATH ??= cli.path;
  const needsDocker = files.some((f) => order(f) === 2);
  const dockerd = needsDocker ? await provisionDocker() : undefined;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-test-temporal-'));
  const server = await startDevServer({
    cliPath: cli.path,
    port: await freePort(),
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'server.log'),
  });
  process.env.POC_TEST_TEMPORAL_ADDRESS = server.address;
  log(`Temporal dev server for this run on ${server.address}; ${files.length} test files`);

  let passed = 0;
  let failed = 0;
  const failures: string[] = [];
  try {
    const stream = run({ files, concurrency: Number(process.env.POC_TEST_CONCURRENCY) || 1, timeout: 20 * 60_000 });
    stream.on('test:pass', (data) => {
      if (data.details.type !== 'suite' && !data.skip && !data.todo) passed += 1;
    });
    stream.on('test:fail', (data) => {
      if (data.details.type === 'suite') return;
      failed += 1;
      failures.push(`${path.relative(root, data.file ?? '?')}: ${data.name}`);
    });
    await new Promise<void>((resolve, reject) => {
      stream.compose(new spec()).pipe(process.stdout);
      stream.on('end', resolve);
      stream.on('error', reject);
    });
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (dockerd) {
      dockerd.kill('SIGTERM');
      await new Promise((r) => dockerd.once('exit', r));
    }
  }
  if (failures.length) process.stdout.write(`\nfailed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

process.exitCode = await main();
