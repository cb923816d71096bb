/**
 * End to end on a real Docker engine: the real worker runs a fixture workspace's pipeline with
 * `docker compose` (whichever flavour this machine has), containers without network, from a
 * locally imported bash image. Covers pass, failure with exit code and log, timeout, cancel,
 * a worker SIGKILLed mid-step, Compose and engine errors, and that no container is left behind.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { WorkflowFailedError } from '@temporalio/client';
import { type Client } from '@temporalio/client';
import { cancelRun, getPipelineStatus, startPipeline, type PipelineStatus } from '../client/index.js';
import { listContainers } from '../docker/index.js';
import { ensureBashImage, fixtureWorkspace } from './support/images.js';
import { startTsx, type Child } from './support/processes.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

/** The Compose flavours this machine has: each gets its own pass / fail / cancel round. */
const flavours: string[] = [];
for (const [command, args] of [
  ['docker', ['compose', 'version']],
  ['docker-compose', ['version']],
] as const) {
  if ((await execa(command, [...args], { reject: false })).exitCode === 0)
    flavours.push(command === 'docker' ? 'docker compose' : 'docker-compose');
}

let server: TestServer;
let worker: TestWorker;
let client: Client;
const root = tempDir('pipeline-e2e');
const jobsDir = path.join(root, 'jobs');
let count = 0;
const children: Child[] = [];

/** A step that counts its executions in runner/count-<step> and prints a line. */
const counted = (extra = '') =>
  `echo "$POC_STEP ran" && echo x >> runner/count-$POC_STEP${extra ? ` && ${extra}` : ''}`;

function workspace(steps: Parameters<typeof fixtureWorkspace>[1], files: Record<string, string> = {}): string {
  return fixtureWorkspace(path.join(root, `ws${++count}`), steps, { files });
}

function executions(ws: string, step: string): number {
  const file = path.join(ws, 'runner', `count-${step}`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').length : 0;
}

async function containersOf(workflowId: string) {
  return listContainers({ workflowId });
}

async function outcome(workflowId: string): Promise<{ status: PipelineStatus; error?: WorkflowFailedError }> {
  const error = await client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => undefined,
      (e: WorkflowFailedError) => e,
    );
  return { status: await getPipelineStatus(client, workflowId), error };
}

async function logSays(status: () => Promise<PipelineStatus>, step: string, pattern: RegExp) {
  return eventually(
    `${step} log to match ${pattern}`,
    async () => {
      const s = await status();
      const file = s.steps.find((x) => x.name === step)?.logPath;
      return file && fs.existsSync(file) && pattern.test(fs.readFileSync(file, 'utf8')) ? file : undefined;
    },
    120_000,
  );
}

beforeAll(async () => {
  await ensureBashImage();
  server = await testServer();
  worker = await startTestWorker({ address: server.address, config: { jobsDir } });
  client = worker.client;
});

afterAll(async () => {
  for (const child of children) await child.kill('SIGKILL');
  await worker?.stop();
  await server?.stop();
  // Whatever a failed assertion left: containers of this file's runs.
  const ours = (await listContainers().catch(() => [])).filter((c) => c.workflowId.startsWith('pipeline-'));
  const mine = [];
  for (const c of ours) if (fs.existsSync(path.join(jobsDir, c.workflowId))) mine.push(c.name);
  if (mine.length) await execa('docker', ['rm', '-f', ...mine], { reject: false });
  fs.rmSync(root, { recursive: true, force: true });
});

describe('pipeline on a real Docker engine', () => {
  test('every step passes: output streamed to the step logs, containers removed', async () => {
    const ws = workspace({
      build: { build: true },
      bootstrap: counted(),
      doctor: counted('echo "doctor says hi" >&2'),
      lint: counted(),
      test: counted('echo report > runner/artifacts/test-report.md'),
    });
    const { workflowId } = await startPipeline(
      client,
      { goal: 'e2e green', workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    const { status, error } = await outcome(workflowId);
    assert.equal(error, undefined, String(error?.cause?.message));
    assert.equal(status.phase, 'DONE');
    assert.deepEqual(
      status.steps.map((s) => [s.name, s.status, s.exitCode]),
      ['build', 'bootstrap', 'doctor', 'lint', 'test'].map((n) => [n, 'done', 0]),
    );
    for (const step of ['bootstrap', 'doctor', 'lint', 'test']) assert.equal(executions(ws, step), 1, step);
    const doctorLog = fs.readFileSync(path.join(jobsDir, workflowId, 'logs', 'doctor.log'), 'utf8');
    assert.match(doctorLog, /doctor ran/);
    assert.match(doctorLog, /doctor says hi/);
    assert.match(doctorLog, /=== step doctor passed/);
    assert.ok(
      fs.existsSync(path.join(jobsDir, workflowId, 'artifacts', 'test-report.md')),
      'the step artifact is copied to the run',
    );
    assert.deepEqual(await containersOf(workflowId), []);
  });

  test('a failing script fails its step with the exit code and log tail; later steps are skipped', async () => {
    const ws = workspace({ bootstrap: counted(), lint: 'echo "lint: 3 problems" >&2; exit 7', test: counted() });
    const { workflowId } = await startPipeline(
      client,
      { steps: ['bootstrap', 'lint', 'test'], workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    const { status, error } = await outcome(workflowId);
    assert.match(error?.cause?.message ?? '', /step lint failed with exit code 7/);
    assert.equal(status.phase, 'FAILED');
    const lint = status.steps[1];
    assert.equal(lint.status, 'failed');
    assert.equal(lint.exitCode, 7);
    assert.equal(lint.attempt, 1, 'a script failure is not retried');
    assert.match(lint.logTail ?? '', /lint: 3 problems/);
    assert.match(fs.readFileSync(lint.logPath as string, 'utf8'), /lint: 3 problems/);
    assert.equal(status.steps[2].status, 'skipped');
    assert.equal(executions(ws, 'test'), 0);
    assert.deepEqual(await containersOf(workflowId), []);
  });

  test('a step that runs past its timeout is stopped and fails as timed out', async () => {
    const ws = workspace({ lint: 'echo started; sleep 300' });
    const { workflowId } = await startPipeline(
      client,
      { steps: ['lint'], workspace: ws, stepTimeoutSeconds: 3 },
      { taskQueue: worker.taskQueue },
    );
    const { status, error } = await outcome(workflowId);
    assert.match(error?.cause?.message ?? '', /timed out after 3 s/);
    assert.equal(status.steps[0].status, 'failed');
    assert.deepEqual(await containersOf(workflowId), []);
  });

  test('cancel mid-step stops and removes the container', async () => {
    const ws = workspace({ bootstrap: counted(), doctor: 'echo started; sleep 300', lint: counted() });
    const { workflowId } = await startPipeline(
      client,
      { steps: ['bootstrap', 'doctor', 'lint'], workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    await logSays(() => getPipelineStatus(client, workflowId), 'doctor', /^started$/m);
    assert.equal((await containersOf(workflowId)).length, 1, 'the step container runs');
    await cancelRun(client, workflowId);
    const { status, error } = await outcome(workflowId);
    assert.equal(error?.cause?.name, 'CancelledFailure');
    assert.equal(status.phase, 'CANCELLED');
    assert.deepEqual(
      status.steps.map((s) => s.status),
      ['done', 'cancelled', 'skipped'],
    );
    const { stdout } = await execa('docker', ['ps', '-a', '-q', '--filter', `label=poc.workflow-id=${workflowId}`]);
    assert.equal(stdout.trim(), '', 'no container of the run is left');
  });

  test('a worker SIGKILLed mid-step: a new worker finishes the run, done steps are not run again', async () => {
    const ws = workspace({
      bootstrap: counted(),
      doctor: counted('echo started; sleep 6; echo finished'),
      lint: counted(),
    });
    const taskQueue = `e2e-kill-${Date.now()}`;
    const env = { TEMPORAL_ADDRESS: server.address, POC_TASK_QUEUE: taskQueue, POC_JOBS_DIR: jobsDir };
    const first = startTsx('test/support/worker-process.ts', env);
    children.push(first);
    await first.waitFor(/^ready$/m);
    const { workflowId } = await startPipeline(
      client,
      { steps: ['bootstrap', 'doctor', 'lint'], workspace: ws },
      { taskQueue },
    );
    await logSays(() => getPipelineStatus(client, workflowId), 'doctor', /^started$/m);
    await first.kill('SIGKILL');
    const second = startTsx('test/support/worker-process.ts', env);
    children.push(second);
    await second.waitFor(/^ready$/m);
    const { status, error } = await outcome(workflowId);
    assert.equal(error, undefined, String(error?.cause?.message));
    assert.equal(status.phase, 'DONE');
    assert.equal(executions(ws, 'bootstrap'), 1, 'bootstrap finished before the kill and ran exactly once');
    assert.ok(executions(ws, 'doctor') >= 1);
    assert.equal(executions(ws, 'lint'), 1);
    assert.match(fs.readFileSync(status.steps[1].logPath as string, 'utf8'), /activity attempt 2/);
    assert.deepEqual(await containersOf(workflowId), [], 'the killed attempt left no container');
    await second.kill();
  });

  test('a Compose error that is not the script is retried with backoff and shown in status.error', async () => {
    const ws = workspace({ lint: 'true' });
    // The image is not there and may not be pulled: compose fails before the script runs.
    fs.writeFileSync(
      path.join(ws, 'docker-compose.yml'),
      'services:\n  runner:\n    image: poc-test-missing-image:none\n    pull_policy: never\n    network_mode: none\n',
    );
    const { workflowId } = await startPipeline(
      client,
      { steps: ['lint'], workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    const status = await eventually(
      'status.error to report the compose failure',
      async () => {
        const s = await getPipelineStatus(client, workflowId);
        return s.error?.includes('retrying step lint') ? s : undefined;
      },
      120_000,
    );
    assert.match(status.error ?? '', /run failed before the step started/);
    assert.equal(status.phase, 'RUNNING');
    await cancelRun(client, workflowId);
    assert.equal((await outcome(workflowId)).status.phase, 'CANCELLED');
  });

  test('a host whose Docker engine is unreachable takes no run; the status says why and the run waits', async () => {
    const ws = workspace({ lint: 'true' });
    const taskQueue = `e2e-nodocker-${Date.now()}`;
    const child = startTsx('test/support/worker-process.ts', {
      TEMPORAL_ADDRESS: server.address,
      POC_TASK_QUEUE: taskQueue,
      POC_JOBS_DIR: jobsDir,
      DOCKER_HOST: `unix://${path.join(root, 'no-docker.sock')}`,
    });
    children.push(child);
    await child.waitFor(/^ready$/m);
    const { workflowId } = await startPipeline(client, { steps: ['lint'], workspace: ws }, { taskQueue });
    // The host's heartbeat carries its engine's problem, so the registry gives it no run (an engine
    // lost mid-step is retried within the step's budget instead: outages.e2e).
    const status = await eventually(
      'the queue reason naming the engine',
      async () => {
        const s = await getPipelineStatus(client, workflowId);
        return s.queueReason?.includes('Docker engine unreachable') ? s : undefined;
      },
      60_000,
    );
    assert.equal(status.phase, 'QUEUED');
    assert.match(
      status.queueReason ?? '',
      /^no host is up \(.+ is unusable \(Docker engine unreachable \(Cannot connect/,
    );
    assert.equal(status.host, null);
    await cancelRun(client, workflowId);
    assert.equal((await outcome(workflowId)).status.phase, 'CANCELLED');
    await child.kill();
  });

  test('a worker sweeps containers of runs that are no longer executing when it starts', async () => {
    // Labelled as this namespace's: the sweep removes only what it can prove is its own (outages.e2e).
    // And as a host's of its own: the workers of other test files on this namespace (each host
    // "vm" by default) sweep at their start too, and would otherwise take it first.
    const described = await client.workflowService.describeNamespace({ namespace: 'default' });
    const host = `sweeper-${Date.now()}`;
    const { stdout: id } = await execa('docker', [
      'run',
      '-d',
      '--network',
      'none',
      '--label',
      'poc.workflow-id=pipeline-long-gone',
      '--label',
      'poc.step=lint',
      '--label',
      `poc.namespace-id=${described.namespaceInfo?.id}`,
      '--label',
      `poc.host=${host}`,
      'poc-test-bash:latest',
      'sleep',
      '300',
    ]);
    const child = startTsx('test/support/worker-process.ts', {
      TEMPORAL_ADDRESS: server.address,
      POC_TASK_QUEUE: `e2e-sweep-${Date.now()}`,
      POC_JOBS_DIR: jobsDir,
      POC_HOST_NAME: host,
    });
    children.push(child);
    await child.waitFor(/^ready$/m);
    assert.match(child.output(), /removed \d+ container/);
    const { stdout } = await execa('docker', ['ps', '-a', '-q', '--filter', `id=${id.trim()}`]);
    assert.equal(stdout.trim(), '');
    await child.kill();
  });
});

describe('hostile text on the real step path', () => {
  test('a goal and a workflow id full of shell syntax reach no shell', async () => {
    const canary = path.join(root, 'CANARY');
    const ws = workspace({ lint: counted() });
    const hostile = `x$(touch ${canary});touch ${canary}\`touch ${canary}\` "'|&`;
    const handle = await client.workflow.start('pipeline', {
      workflowId: `pipeline-${hostile}`,
      taskQueue: worker.taskQueue,
      args: [{ goal: hostile, steps: ['lint'], workspace: ws, requestedBy: hostile }],
    });
    const status = await handle.result();
    assert.equal(status.phase, 'DONE');
    assert.equal(status.goal, hostile);
    assert.equal(executions(ws, 'lint'), 1);
    assert.ok(!fs.existsSync(canary), 'nothing of the text was executed');
    assert.ok(
      status.steps[0].logPath?.startsWith(jobsDir + path.sep),
      `the log stays in the jobs folder: ${status.steps[0].logPath}`,
    );
    assert.deepEqual(await containersOf(handle.workflowId), []);
  });
});

describe('each Compose flavour on this machine', () => {
  test('at least one Compose flavour is installed', () => {
    assert.ok(flavours.length > 0, 'install Docker Compose: the v2+ plugin (`docker compose`) or docker-compose 1.29');
  });
  for (const flavour of flavours) {
    test(`${flavour}: a pass, a failure with its exit code and a cancel leave no container`, async () => {
      const taskQueue = `e2e-${flavour.replace(' ', '-')}-${Date.now()}`;
      const child = startTsx('test/support/worker-process.ts', {
        TEMPORAL_ADDRESS: server.address,
        POC_TASK_QUEUE: taskQueue,
        POC_JOBS_DIR: jobsDir,
        POC_COMPOSE: flavour,
      });
      children.push(child);
      await child.waitFor(/^ready$/m);
      const ws = workspace({ bootstrap: counted(), lint: 'echo nope; exit 4', doctor: 'echo started; sleep 300' });
      const passed = await startPipeline(client, { steps: ['bootstrap'], workspace: ws }, { taskQueue });
      assert.equal((await outcome(passed.workflowId)).status.phase, 'DONE');
      assert.match(
        fs.readFileSync(path.join(jobsDir, passed.workflowId, 'logs', 'bootstrap.log'), 'utf8'),
        new RegExp(`· ${flavour} `),
      );
      const failed = await startPipeline(client, { steps: ['lint'], workspace: ws }, { taskQueue });
      const { status } = await outcome(failed.workflowId);
      assert.deepEqual([status.phase, status.steps[0].exitCode], ['FAILED', 4]);
      const cancelled = await startPipeline(client, { steps: ['doctor'], workspace: ws }, { taskQueue });
      await logSays(() => getPipelineStatus(client, cancelled.workflowId), 'doctor', /^started$/m);
      await cancelRun(client, cancelled.workflowId);
      assert.equal((await outcome(cancelled.workflowId)).status.phase, 'CANCELLED');
      for (const id of [passed.workflowId, failed.workflowId, cancelled.workflowId])
        assert.deepEqual(await containersOf(id), [], id);
      await child.kill();
    });
  }
});
