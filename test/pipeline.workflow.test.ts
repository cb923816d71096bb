/**
 * The `pipeline` workflow on a real dev server and a real worker; only `runStep` is scripted
 * (test/support/scripted-steps.ts) so ordering, failure, cancel, queueing, decisions and
 * validation are tested without Docker. Docker itself is covered by the e2e tests.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import {
  PocKind,
  PocPhase,
  cancelRun,
  decide,
  getPipelineStatus,
  listRuns,
  startPipeline,
  statusQuery,
  type PipelineStatus,
} from '../client/index.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

let server: TestServer;
let worker: TestWorker;
let client: Client;
const steps = scriptedSteps();
const root = tempDir('pipeline-wf');
let jobsDir: string;
let wsCount = 0;

function workspace(stepCommands: Record<string, string>): string {
  return scriptedWorkspace(path.join(root, `ws${++wsCount}`), stepCommands);
}

async function run(input: Parameters<typeof startPipeline>[1]) {
  return startPipeline(client, input, { taskQueue: worker.taskQueue });
}

async function resultOf(workflowId: string): Promise<PipelineStatus> {
  return client.workflow.getHandle(workflowId).result();
}

async function failureOf(workflowId: string): Promise<WorkflowFailedError> {
  const err = await client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(err instanceof WorkflowFailedError, `expected ${workflowId} to fail, got ${String(err)}`);
  return err;
}

async function phaseOf(workflowId: string, phase: string) {
  return eventually(`${workflowId} to reach ${phase}`, async () => {
    const status = await getPipelineStatus(client, workflowId);
    return status.phase === phase ? status : undefined;
  });
}

beforeAll(async () => {
  server = await testServer();
  jobsDir = path.join(root, 'jobs');
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep: steps.runStep },
    config: { jobsDir },
  });
  client = worker.client;
});

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('pipeline workflow', () => {
  test('runs the steps in order and ends DONE with every step done', async () => {
    const ws = workspace({ build: 'ok', bootstrap: 'ok', doctor: 'ok', lint: 'ok', test: 'ok' });
    const { workflowId } = await run({ goal: 'all green', workspace: ws, requestedBy: 'U1' });
    assert.match(workflowId, /^pipeline-[0-9a-z]{8}$/);
    const status = await resultOf(workflowId);
    assert.equal(status.phase, 'DONE');
    assert.deepEqual(
      status.steps.map((s) => [s.name, s.status, s.exitCode, s.attempt]),
      ['build', 'bootstrap', 'doctor', 'lint', 'test'].map((name) => [name, 'done', 0, 1]),
    );
    const order = steps.executions.filter((e) => e.workflowId === workflowId).map((e) => e.step);
    assert.deepEqual(order, ['build', 'bootstrap', 'doctor', 'lint', 'test']);
    assert.ok(status.steps.every((s) => s.logPath?.endsWith(`${workflowId}/logs/${s.name}.log`)));
    assert.ok(fs.existsSync(path.join(jobsDir, workflowId, 'artifacts')));
    assert.equal(status.goal, 'all green');
    assert.equal(status.requestedBy, 'U1');
  });

  test('is visible by search attributes and memo, as `temporal workflow list` sees it', async () => {
    const ws = workspace({ lint: 'ok' });
    const { workflowId } = await run({ goal: 'find me', steps: ['lint'], workspace: ws, requestedBy: 'U-find' });
    await resultOf(workflowId);
    const runs = await eventually('the run in visibility with phase DONE', async () => {
      const found = await listRuns(client, { kind: 'pipeline', query: `PocRequestedBy = "U-find"` });
      return found.length === 1 && found[0].phase === 'DONE' ? found : undefined;
    });
    assert.equal(runs[0].workflowId, workflowId);
    assert.equal(runs[0].title, 'find me');
    const description = await client.workflow.getHandle(workflowId).describe();
    assert.equal(description.typedSearchAttributes.get(PocKind), 'pipeline');
    assert.equal(description.typedSearchAttributes.get(PocPhase), 'DONE');
    assert.equal(description.memo?.goal, 'find me');
  });

  test(
    'a run started with only a type and a JSON input (as from the temporal CLI) ' + 'sets its own attributes',
    async () => {
      const ws = workspace({ lint: 'ok' });
      const handle = await client.workflow.start('pipeline', {
        workflowId: `pipeline-raw${Date.now()}`,
        taskQueue: worker.taskQueue,
        args: [{ goal: 'raw start', steps: ['lint'], workspace: ws, requestedBy: 'U-raw' }],
      });
      await handle.result();
      const description = await eventually('attributes', async () => {
        const d = await handle.describe();
        return d.typedSearchAttributes.get(PocPhase) === 'DONE' ? d : undefined;
      });
      assert.equal(description.typedSearchAttributes.get(PocKind), 'pipeline');
      assert.equal(description.memo?.goal, 'raw start');
    },
  );

  test('the first failed step ends the run FAILED, later steps skipped, with exit code and log path', async () => {
    const ws = workspace({ build: 'ok', bootstrap: 'ok', doctor: 'exit 3', lint: 'ok', test: 'ok' });
    const { workflowId } = await run({ workspace: ws });
    const err = await failureOf(workflowId);
    assert.match(err.cause?.message ?? '', /doctor failed with exit code 3/);
    const status = await getPipelineStatus(client, workflowId);
    assert.equal(status.phase, 'FAILED');
    assert.deepEqual(
      status.steps.map((s) => s.status),
      ['done', 'done', 'failed', 'skipped', 'skipped'],
    );
    assert.equal(status.steps[2].exitCode, 3);
    assert.equal(status.steps[2].logTail, 'boom 3');
    assert.match(status.error ?? '', /log: .*\/logs\/doctor\.log/);
    assert.ok(!steps.executions.some((e) => e.workflowId === workflowId && e.step === 'lint'));
  });

  test('invalid input fails at once with InvalidInput naming the field', async () => {
    for (const [input, field] of [
      [{ steps: 'lint' }, /steps: must be an array/],
      [{ steps: ['Lint;rm -rf /'] }, /steps: .* is not a step name/],
      [{ onFailure: 'maybe' }, /onFailure: must be "fail" or "ask"/],
      [{ stpes: ['lint'] }, /stpes: unknown field/],
      [{ stepTimeoutSeconds: -1 }, /stepTimeoutSeconds: must be a whole number/],
    ] as const) {
      const handle = await client.workflow.start('pipeline', {
        workflowId: `pipeline-bad${Math.random().toString(36).slice(2)}`,
        taskQueue: worker.taskQueue,
        args: [input],
      });
      const err = await failureOf(handle.workflowId);
      assert.equal((err.cause as { type?: string }).type, 'InvalidInput');
      assert.match(err.cause?.message ?? '', field);
    }
  });

  test('a step the workspace does not define is an input error', async () => {
    const ws = workspace({ lint: 'ok' });
    const { workflowId } = await run({ steps: ['lint', 'deploy'], workspace: ws });
    const err = await failureOf(workflowId);
    assert.equal((err.cause as { type?: string }).type, 'InvalidInput');
    assert.match(err.cause?.message ?? '', /step "deploy" is not defined in workspace/);
  });

  test('the client rejects bad input before starting anything', async () => {
    await assert.rejects(() => run({ steps: [] }), /steps: must name at least one step/);
    await assert.rejects(
      () => run({ goal: 'x'.repeat(100_000) }),
      /goal: is 100000 characters long; the limit is 2000/,
    );
  });

  test('cancel mid-step stops the step and ends the run CANCELLED, the rest skipped', async () => {
    const ws = workspace({ build: 'ok', bootstrap: 'block', doctor: 'ok', lint: 'ok', test: 'ok' });
    const { workflowId } = await run({ workspace: ws });
    await steps.started(workflowId, 'bootstrap');
    const cancelled = new Promise((resolve) =>
      steps.events.on('cancelled', (e) => e.workflowId === workflowId && resolve(e)),
    );
    await cancelRun(client, workflowId);
    await cancelled;
    const err = await failureOf(workflowId);
    assert.equal(err.cause?.name, 'CancelledFailure');
    const status = await getPipelineStatus(client, workflowId);
    assert.equal(status.phase, 'CANCELLED');
    assert.deepEqual(
      status.steps.map((s) => s.status),
      ['done', 'cancelled', 'skipped', 'skipped', 'skipped'],
    );
    const description = await client.workflow.getHandle(workflowId).describe();
    assert.equal(description.status.name, 'CANCELLED');
    await assert.rejects(() => cancelRun(client, workflowId), /already ended/);
  });

  test(
    'one pipeline per workspace: the next waits QUEUED with its position, ' + 'another workspace runs in parallel',
    async () => {
      const ws = workspace({ lint: 'block', test: 'ok' });
      const other = workspace({ lint: 'ok' });
      const first = await run({ steps: ['lint'], workspace: ws });
      await steps.started(first.workflowId, 'lint');
      const second = await run({ steps: ['test'], workspace: ws });
      const third = await run({ steps: ['test'], workspace: ws });
      const queued = await eventually('second queued behind the first', async () => {
        const s = await getPipelineStatus(client, second.workflowId);
        return s.phase === 'QUEUED' && s.queuePosition === 1 ? s : undefined;
      });
      assert.equal(queued.steps[0].status, 'pending');
      await eventually('third queued in position 2', async () => {
        const s = await getPipelineStatus(client, third.workflowId);
        return s.phase === 'QUEUED' && s.queuePosition === 2 ? s : undefined;
      });
      // A different workspace is not held up.
      const parallel = await run({ steps: ['lint'], workspace: other });
      assert.equal((await resultOf(parallel.workflowId)).phase, 'DONE');
      // Cancelling a queued run takes it out of the queue; the one behind moves up.
      await cancelRun(client, second.workflowId);
      await phaseOf(second.workflowId, 'CANCELLED');
      await eventually('third moves to position 1', async () => {
        const s = await getPipelineStatus(client, third.workflowId);
        return s.queuePosition === 1 ? s : undefined;
      });
      assert.ok(!steps.executions.some((e) => e.workflowId === second.workflowId));
      await cancelRun(client, first.workflowId);
      assert.equal((await resultOf(third.workflowId)).phase, 'DONE');
    },
  );

  test('onFailure "ask" waits for decide: bad and early decisions are rejected, retry re-runs the step', async () => {
    const ws = workspace({ lint: 'fail-once 2', test: 'ok' });
    const { workflowId } = await run({ steps: ['lint', 'test'], workspace: ws, onFailure: 'ask' });
    const waiting = await phaseOf(workflowId, 'AWAITING_DECISION');
    assert.deepEqual(waiting.pendingDecision?.options, ['retry', 'skip', 'abort']);
    const ws2 = workspace({ lint: 'block' });
    const busy = await run({ steps: ['lint'], workspace: ws2 });
    await steps.started(busy.workflowId, 'lint');
    await assert.rejects(
      () => decide(client, busy.workflowId, { action: 'retry' }),
      /is RUNNING, not awaiting a decision/,
    );
    await cancelRun(client, busy.workflowId);
    assert.equal(waiting.steps[0].status, 'failed');
    await assert.rejects(() => decide(client, workflowId, { action: 'approve' }), /does not answer this question/);
    await assert.rejects(
      () => decide(client, workflowId, { action: 'retry', decisionId: 'stale' }),
      /earlier question/,
    );
    const answer = await decide(client, workflowId, {
      action: 'retry',
      by: 'U9',
      decisionId: waiting.pendingDecision?.id,
    });
    assert.deepEqual(answer, { action: 'retry', step: 'lint' });
    const status = await resultOf(workflowId);
    assert.equal(status.phase, 'DONE');
    assert.equal(status.steps[0].attempt, 2);
    assert.deepEqual(
      status.decisions.map((d) => [d.step, d.action, d.by]),
      [['lint', 'retry', 'U9']],
    );
    await assert.rejects(
      () => decide(client, workflowId, { action: 'retry' }),
      /has already ended \(completed\); nothing to decide/,
    );
  });

  test('skip goes on past the failed step; abort ends FAILED', async () => {
    const ws = workspace({ lint: 'exit 1', test: 'ok' });
    const skipped = await run({ steps: ['lint', 'test'], workspace: ws, onFailure: 'ask' });
    await phaseOf(skipped.workflowId, 'AWAITING_DECISION');
    await decide(client, skipped.workflowId, { action: 'skip' });
    const done = await resultOf(skipped.workflowId);
    assert.equal(done.phase, 'DONE');
    assert.deepEqual(
      done.steps.map((s) => s.status),
      ['skipped', 'done'],
    );

    const ws2 = workspace({ lint: 'exit 1', test: 'ok' });
    const aborted = await run({ steps: ['lint', 'test'], workspace: ws2, onFailure: 'ask' });
    await phaseOf(aborted.workflowId, 'AWAITING_DECISION');
    await decide(client, aborted.workflowId, { action: 'abort', by: 'U2' });
    await failureOf(aborted.workflowId);
    const status = await getPipelineStatus(client, aborted.workflowId);
    assert.equal(status.phase, 'FAILED');
    assert.match(status.error ?? '', /aborted by U2/);
  });

  test('an unanswered decision counts as abort after decisionTimeoutSeconds', async () => {
    const ws = workspace({ lint: 'exit 1' });
    const { workflowId } = await run({ steps: ['lint'], workspace: ws, onFailure: 'ask', decisionTimeoutSeconds: 1 });
    await failureOf(workflowId);
    const status = await getPipelineStatus(client, workflowId);
    assert.match(status.error ?? '', /no decision in time/);
    assert.equal(status.decisions[0].by, 'timeout');
  });

  test('approval gates: approve lets a step run, approveAll the rest, deny ends the run', async () => {
    const ws = workspace({ lint: 'ok', test: 'ok' });
    const gated = await run({ steps: ['lint', 'test'], workspace: ws, approve: 'all' });
    const asked = await phaseOf(gated.workflowId, 'AWAITING_DECISION');
    assert.equal(asked.pendingDecision?.kind, 'approval');
    assert.equal(asked.pendingDecision?.step, 'lint');
    assert.ok(!steps.executions.some((e) => e.workflowId === gated.workflowId));
    await decide(client, gated.workflowId, { action: 'approveAll', by: 'U3' });
    assert.equal((await resultOf(gated.workflowId)).phase, 'DONE');

    const ws2 = workspace({ lint: 'ok', test: 'ok' });
    const denied = await run({ steps: ['lint', 'test'], workspace: ws2, approve: ['test'] });
    await phaseOf(denied.workflowId, 'AWAITING_DECISION');
    assert.ok(steps.executions.some((e) => e.workflowId === denied.workflowId && e.step === 'lint'));
    await decide(client, denied.workflowId, { action: 'deny', by: 'U4' });
    const status = await resultOf(denied.workflowId);
    assert.equal(status.phase, 'CANCELLED');
    assert.match(status.error ?? '', /denied by U4/);
    assert.deepEqual(
      status.steps.map((s) => s.status),
      ['done', 'skipped'],
    );
  });

  test('an unreachable Docker engine is retried with backoff and shown in status.error meanwhile', async () => {
    const ws = workspace({ lint: 'docker-down-once' });
    const { workflowId } = await run({ steps: ['lint'], workspace: ws });
    const waiting = await eventually('status.error about the engine', async () => {
      const s = await getPipelineStatus(client, workflowId);
      return s.error?.includes('Docker engine unreachable') ? s : undefined;
    });
    assert.match(waiting.error ?? '', /retrying step lint in 2 s \(1\/8\)/);
    const status = await resultOf(workflowId);
    assert.equal(status.phase, 'DONE');
    assert.equal(status.error, null);
    assert.equal(status.steps[0].attempt, 2);
  });

  test('status query answers for closed runs too, the same object as the result', async () => {
    const ws = workspace({ lint: 'ok' });
    const { workflowId } = await run({ steps: ['lint'], workspace: ws });
    const result = await resultOf(workflowId);
    const queried = await client.workflow.getHandle(workflowId).query(statusQuery);
    assert.deepEqual(queried, result);
  });
});
