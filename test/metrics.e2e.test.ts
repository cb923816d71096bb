/**
 * Operators' view of a worker: Prometheus metrics on POC_METRICS_PORT (the SDK's own and ours:
 * runs started, runs finished by phase, step durations) and JSON log lines that carry the
 * workflow id. A real worker process runs real steps in Docker.
 */
import { afterAll, beforeAll, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPipeline } from '../client/index.js';
import { ensureBashImage, fixtureWorkspace } from './support/images.js';
import { startTsx, type Child } from './support/processes.js';
import {
  eventually,
  freePort,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const root = tempDir('metrics');
let server: TestServer;
let client: TestWorker;
let worker: Child;
let port: number;
const taskQueue = `metrics-${Date.now()}`;

beforeAll(async () => {
  await ensureBashImage();
  server = await testServer();
  // Only for its client; the runs go to the worker process on its own task queue.
  client = await startTestWorker({ address: server.address });
  port = await freePort();
  worker = startTsx('test/support/worker-process.ts', {
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: taskQueue,
    POC_JOBS_DIR: path.join(root, 'jobs'),
    POC_METRICS_PORT: String(port),
  });
  await worker.waitFor(/^ready$/m);
});

afterAll(async () => {
  await worker?.kill();
  await client?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

test('the worker serves Prometheus metrics, its own and the SDK runtime’s', async () => {
  const ws = fixtureWorkspace(path.join(root, 'ws'), { lint: 'echo fine', test: 'echo broken; exit 1' });
  const ok = await startPipeline(client.client, { steps: ['lint'], workspace: ws }, { taskQueue });
  await client.client.workflow.getHandle(ok.workflowId).result();
  const bad = await startPipeline(client.client, { steps: ['test'], workspace: ws }, { taskQueue });
  await client.client.workflow
    .getHandle(bad.workflowId)
    .result()
    .catch(() => undefined);
  const metrics = await eventually('our metrics to be exported', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return /poc_runs_finished_total\{[^}]*phase="FAILED"/.test(text) ? text : undefined;
  });
  assert.match(metrics, /poc_runs_started_total\{[^}]*kind="pipeline"[^}]*\} 2/);
  assert.match(metrics, /poc_runs_finished_total\{[^}]*kind="pipeline"[^}]*phase="DONE"[^}]*\} 1/);
  assert.match(metrics, /poc_step_duration_bucket\{[^}]*outcome="passed"[^}]*step="lint"/);
  assert.match(metrics, /poc_step_duration_bucket\{[^}]*outcome="failed"[^}]*step="test"/);
  assert.match(metrics, /temporal_workflow_completed/, 'the SDK runtime’s own metrics');
});

test('the endpoint listens on loopback only unless POC_METRICS_HOST says otherwise', async () => {
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
  assert.ok(external, 'this test needs an address other than loopback');
  await assert.rejects(fetch(`http://${external}:${port}/metrics`), (err: Error) =>
    /ECONNREFUSED/.test(String((err.cause as Error)?.message ?? err.message)),
  );
  assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
});

test('worker log lines are JSON and name the workflow they are about', async () => {
  const lines = worker
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const aboutRuns = lines.filter(
    (l) => typeof l.workflowId === 'string' && String(l.workflowId).startsWith('pipeline-'),
  );
  assert.ok(
    aboutRuns.length > 0,
    `expected run-related JSON log lines, got:\n${worker.output().slice(-1500).replace(/^\{/gm, '  {')}`,
  );
  for (const line of aboutRuns) {
    assert.equal(typeof line.time, 'string');
    assert.equal(typeof line.level, 'string');
    assert.equal(typeof line.msg, 'string');
  }
});
