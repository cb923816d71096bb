/**
 * `poc up` (what `npm start` runs): the embedded dev server with its Web UI and our search
 * attributes, a worker, a pipeline run through it from another terminal, and a clean stop on
 * Ctrl-C that leaves no server behind.
 */
import { afterAll, beforeAll, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { findTemporalCli, frontendAnswers } from '../worker/devserver.js';
import { ensureBashImage, fixtureWorkspace } from './support/images.js';
import { startTsx, type Child } from './support/processes.js';
import { freePort, tempDir } from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = tempDir('stack');
let up: Child;
let env: NodeJS.ProcessEnv;
let port: number;
let uiPort: number;

beforeAll(async () => {
  await ensureBashImage();
  port = await freePort();
  uiPort = await freePort();
  const ws = fixtureWorkspace(path.join(dir, 'ws'), { lint: 'echo lint ok', test: 'echo tests ok' });
  env = {
    TEMPORAL_ADDRESS: '',
    POC_EMBEDDED_PORT: String(port),
    POC_EMBEDDED_UI_PORT: String(uiPort),
    POC_DATA_DIR: path.join(dir, 'temporal'),
    POC_JOBS_DIR: path.join(dir, 'jobs'),
    POC_WORKSPACE: ws,
    SLACK_BOT_TOKEN: '',
    SLACK_APP_TOKEN: '',
    NO_COLOR: '1',
  };
  up = startTsx('cli/poc.js', env, ['up']);
  await up.waitFor(/Ctrl-C stops everything/, 180_000);
});

afterAll(async () => {
  await up?.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('poc up prints where the gRPC endpoint and the Web UI are, and both answer', async () => {
  const out = up.output();
  assert.match(out, new RegExp(`Temporal gRPC\\s+127\\.0\\.0\\.1:${port} \\(embedded dev server`));
  assert.match(out, new RegExp(`Web UI\\s+http://127\\.0\\.0\\.1:${uiPort}`));
  assert.match(out, /worker\s+task queue "poc"/);
  assert.match(out, /Slack bot\s+off/);
  assert.ok(await frontendAnswers(`127.0.0.1:${port}`));
  const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
  assert.equal(ui.status, 200);
  assert.ok(fs.existsSync(path.join(dir, 'temporal', 'temporal.db')), 'the SQLite file lives in the data folder');
  const cli = findTemporalCli() as { path: string };
  const attrs = await execa(cli.path, ['operator', 'search-attribute', 'list', '--address', `127.0.0.1:${port}`]);
  for (const name of ['PocKind', 'PocPhase', 'PocRequestedBy'])
    assert.match(attrs.stdout, new RegExp(`${name}\\s+Keyword`));
});

test('a pipeline started from another terminal runs on the stack', async () => {
  const run = await execa(
    process.execPath,
    [path.join(root, 'cli', 'poc.js'), 'run', 'through poc up', '--steps', 'lint,test', '--follow'],
    {
      env: { ...process.env, ...env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` },
      reject: false,
    },
  );
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stderr, /DONE: every step passed/);
  const doctor = await execa(process.execPath, [path.join(root, 'cli', 'poc.js'), 'doctor', '--json'], {
    env: { ...process.env, ...env },
    reject: false,
  });
  const checks = JSON.parse(doctor.stdout) as { name: string; state: string }[];
  assert.equal(checks.find((c) => c.name === 'Temporal server')?.state, 'PASS');
  assert.equal(checks.find((c) => c.name === 'Docker engine')?.state, 'PASS');
});

test('with TEMPORAL_ADDRESS set, poc up uses that server and starts none of its own', async () => {
  const second = startTsx(
    'cli/poc.js',
    {
      ...env,
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      POC_TASK_QUEUE: 'second-stack',
      POC_EMBEDDED_PORT: String(await freePort()),
    },
    ['up'],
  );
  try {
    await second.waitFor(/Ctrl-C stops everything/, 120_000);
    assert.match(second.output(), new RegExp(`Temporal gRPC\\s+127\\.0\\.0\\.1:${port}\\n`));
    assert.doesNotMatch(second.output(), /embedded dev server/);
    // At once after the banner: the worker may still be sending the heartbeat it sends before it
    // polls, and Ctrl-C then must stop it all the same (it once went on polling until killed).
    await second.kill('SIGINT');
    assert.equal(
      second.process.exitCode,
      0,
      `ended by ${second.process.signalCode ?? 'exit'}:\n${second.output().slice(-1500)}`,
    );
    assert.ok(await frontendAnswers(`127.0.0.1:${port}`), 'the server it used is left running');
  } finally {
    await second.kill('SIGKILL');
  }
});

test('Ctrl-C stops worker and server cleanly', async () => {
  await up.kill('SIGINT');
  assert.equal(up.process.exitCode, 0, up.output().slice(-1000));
  assert.match(up.output(), /SIGINT: stopping/);
  // Nothing that reads like a fault: the build host's activity-only queue is as designed.
  assert.doesNotMatch(up.output(), /"level":"WARN"/);
  assert.equal(await frontendAnswers(`127.0.0.1:${port}`), false, 'no server left behind');
});
