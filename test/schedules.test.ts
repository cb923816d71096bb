/**
 * Pipelines on a timetable: `poc schedule create|list|describe|pause|unpause|trigger|delete` on
 * real Temporal Schedules (what the Web UI's Schedules page shows), with the documented overlap
 * policy.
 */
import { afterAll, beforeAll, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { listRuns } from '../client/index.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = tempDir('schedules');
const steps = scriptedSteps();
let server: TestServer;
let worker: TestWorker;
let env: NodeJS.ProcessEnv;

const poc = (...args: string[]) =>
  execa(process.execPath, [path.join(root, 'cli', 'poc.js'), ...args], { env, reject: false, timeout: 60_000 });

beforeAll(async () => {
  server = await testServer();
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep: steps.runStep },
    config: { jobsDir: path.join(dir, 'jobs') },
  });
  const ws = scriptedWorkspace(path.join(dir, 'ws'), { lint: 'ok', test: 'ok' });
  env = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: worker.taskQueue,
    POC_WORKSPACE: ws,
    NO_COLOR: '1',
  };
});

afterAll(async () => {
  for (const name of ['nightly', 'twice'])
    await worker.client.schedule
      .getHandle(`poc-${name}`)
      .delete()
      .catch(() => undefined);
  await worker?.stop();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('create, list, pause, unpause, trigger and delete a schedule', async () => {
  const created = await poc(
    'schedule',
    'create',
    'nightly',
    '--cron',
    '0 3 * * *',
    '--steps',
    'lint,test',
    '--goal',
    'nightly build',
  );
  assert.equal(created.exitCode, 0, created.stderr);
  assert.match(created.stdout, /schedule "nightly" created; next run \d{4}-\d\d-\d\dT03:00:00/);
  const listed = await poc('schedule', 'list', '--json');
  const nightly = (
    JSON.parse(listed.stdout) as { name: string; cron: string[]; steps: string[]; overlap: string; paused: boolean }[]
  ).find((s) => s.name === 'nightly');
  assert.deepEqual(
    [nightly?.cron, nightly?.steps, nightly?.overlap, nightly?.paused],
    [['0 3 * * *'], ['lint', 'test'], 'skip', false],
  );
  const description = await worker.client.schedule.getHandle('poc-nightly').describe();
  assert.equal(
    description.policies.overlap,
    ScheduleOverlapPolicy.SKIP,
    'overlapping runs of a schedule are skipped by default',
  );

  assert.equal((await poc('schedule', 'pause', 'nightly')).exitCode, 0);
  assert.equal((await worker.client.schedule.getHandle('poc-nightly').describe()).state.paused, true);
  assert.equal((await poc('schedule', 'unpause', 'nightly')).exitCode, 0);
  assert.equal((await worker.client.schedule.getHandle('poc-nightly').describe()).state.paused, false);

  assert.equal((await poc('schedule', 'trigger', 'nightly')).exitCode, 0);
  const run = await eventually('the triggered pipeline to finish', async () => {
    const runs = await listRuns(worker.client, { kind: 'pipeline', query: 'PocRequestedBy = "schedule:nightly"' });
    return runs.find((r) => r.phase === 'DONE');
  });
  assert.match(run.workflowId, /^pipeline-sched-nightly-/);
  assert.equal(run.title, 'nightly build');

  assert.equal((await poc('schedule', 'delete', 'nightly')).exitCode, 0);
  const gone = await poc('schedule', 'describe', 'nightly');
  assert.equal(gone.exitCode, 1);
  assert.match(gone.stderr, /no schedule "nightly"/);
});

test('--overlap buffer, and clear errors for a bad cron, a bad name or a duplicate', async () => {
  assert.equal((await poc('schedule', 'create', 'twice', '--cron', '*/5 * * * *', '--overlap', 'buffer')).exitCode, 0);
  assert.equal(
    (await worker.client.schedule.getHandle('poc-twice').describe()).policies.overlap,
    ScheduleOverlapPolicy.BUFFER_ONE,
  );
  const duplicate = await poc('schedule', 'create', 'twice', '--cron', '*/5 * * * *');
  assert.equal(duplicate.exitCode, 1);
  assert.match(duplicate.stderr, /already exists/);
  const badCron = await poc('schedule', 'create', 'x', '--cron', 'every tuesday; rm -rf /');
  assert.equal(badCron.exitCode, 2);
  assert.match(badCron.stderr, /is not a cron expression/);
  const badName = await poc('schedule', 'create', 'Bad Name', '--cron', '0 3 * * *');
  assert.equal(badName.exitCode, 2);
  const noCron = await poc('schedule', 'create', 'y');
  assert.match(noCron.stderr, /--cron is required/);
});
