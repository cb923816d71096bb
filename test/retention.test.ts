/**
 * Retention: `pruneJobs` deletes run folders of closed runs older than the cut-off and keeps the
 * rest; the worker keeps an hourly `poc-retention` schedule in step with POC_RETENTION_DAYS.
 */
import { afterAll, beforeAll, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cancelRun, startPipeline } from '../client/index.js';
import { ensureRetentionSchedule, RETENTION_SCHEDULE, retentionScheduleId } from '../worker/index.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import { startTestWorker, tempDir, testServer, type TestServer, type TestWorker } from './support/temporal.js';

const root = tempDir('retention');
const jobsDir = path.join(root, 'jobs');
const steps = scriptedSteps();
let server: TestServer;
let worker: TestWorker;

beforeAll(async () => {
  server = await testServer();
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep: steps.runStep },
    config: { jobsDir },
  });
});

afterAll(async () => {
  await worker.client.schedule
    .getHandle(retentionScheduleId(worker.taskQueue))
    .delete()
    .catch(() => undefined);
  await worker?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

function age(dir: string, days: number) {
  const when = new Date(Date.now() - days * 86_400_000);
  fs.utimesSync(dir, when, when);
}

test('pruneJobs removes old folders of closed runs and keeps open, recent and unrelated ones', async () => {
  const ws = scriptedWorkspace(path.join(root, 'ws'), { lint: 'ok', slow: 'block' });
  const closed = await startPipeline(
    worker.client,
    { steps: ['lint'], workspace: ws },
    { taskQueue: worker.taskQueue },
  );
  await worker.client.workflow.getHandle(closed.workflowId).result();
  // Its own workspace: a blocked run holds its workspace, and `recent` must not queue behind it.
  const other = scriptedWorkspace(path.join(root, 'ws-open'), { slow: 'block' });
  const open = await startPipeline(
    worker.client,
    { steps: ['slow'], workspace: other },
    { taskQueue: worker.taskQueue },
  );
  await steps.started(open.workflowId, 'slow');
  const recent = await startPipeline(
    worker.client,
    { steps: ['lint'], workspace: ws },
    { taskQueue: worker.taskQueue },
  );
  await worker.client.workflow.getHandle(recent.workflowId).result();
  fs.mkdirSync(path.join(jobsDir, 'pipeline-unknown00'), { recursive: true });
  fs.writeFileSync(path.join(jobsDir, 'notes.txt'), 'not a run folder');
  for (const id of [closed.workflowId, open.workflowId, 'pipeline-unknown00']) age(path.join(jobsDir, id), 30);
  age(path.join(jobsDir, 'notes.txt'), 30);

  const result = await worker.client.workflow.execute('pruneJobs', {
    workflowId: `prune-${Date.now()}`,
    taskQueue: worker.taskQueue,
    args: [{ olderThanDays: 14 }],
  });
  assert.deepEqual(
    new Set((result as { removed: string[] }).removed),
    new Set([closed.workflowId, 'pipeline-unknown00']),
  );
  assert.ok(!fs.existsSync(path.join(jobsDir, closed.workflowId)));
  assert.ok(fs.existsSync(path.join(jobsDir, open.workflowId)), 'a running run keeps its folder, however old');
  assert.ok(fs.existsSync(path.join(jobsDir, recent.workflowId)), 'a recent folder is kept');
  assert.ok(fs.existsSync(path.join(jobsDir, 'notes.txt')));
  await cancelRun(worker.client, open.workflowId);
});

test('the worker keeps an hourly retention schedule that follows POC_RETENTION_DAYS', async () => {
  const config = { ...worker.config, retentionDays: 7 };
  assert.match(await ensureRetentionSchedule(worker.client, config), /created|updated/);
  assert.equal(await ensureRetentionSchedule(worker.client, config), 'exists');
  assert.equal(await ensureRetentionSchedule(worker.client, { ...config, retentionDays: 30 }), 'updated');
  const description = await worker.client.schedule.getHandle(retentionScheduleId(worker.taskQueue)).describe();
  assert.deepEqual((description.action as { args?: unknown[] }).args, [{ olderThanDays: 30 }]);
  assert.equal(description.spec.intervals?.[0]?.every, 3_600_000);
  assert.equal(description.action.type === 'startWorkflow' && description.action.taskQueue, worker.taskQueue);
  assert.equal(await ensureRetentionSchedule(worker.client, { ...config, retentionDays: 0 }), 'off');
  // The default queue's schedule keeps the contract's name; other queues get their own.
  assert.equal(retentionScheduleId('poc'), RETENTION_SCHEDULE);
  assert.equal(retentionScheduleId('team-b'), 'poc-retention-team-b');
});
