/**
 * Every channel, first class, on a real dev server and worker (steps scripted, no Docker):
 * - tctl's way in: the `decide` signal, sent with `temporal workflow signal` (the RPC tctl uses),
 *   accepted when it answers the open question, recorded with its reason when it does not;
 * - the Web UI's way of reading a run: the static summary and details set at start, activity
 *   summaries naming each step, the current details (`temporal workflow metadata`) with the live
 *   one-line status, the lock workflow's summary and details.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  INTERNAL_ID,
  WORKFLOW_TYPES,
  getPipelineStatus,
  startPipeline,
  type PipelineStatus,
  type RefusedDecision,
} from '../client/index.js';
import { findTemporalCli } from '../worker/devserver.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const root = tempDir('channels');
const steps = scriptedSteps();
let server: TestServer;
let worker: TestWorker;
let client: Client;
let temporal: string;
let ws: string;

function temporalCli(args: string[]) {
  return execa(temporal, [...args, '--address', server.address], { reject: false, timeout: 60_000 });
}

async function phaseOf(workflowId: string, phase: string): Promise<PipelineStatus> {
  return eventually(`${workflowId} to reach ${phase}`, async () => {
    const status = await getPipelineStatus(client, workflowId);
    return status.phase === phase ? status : undefined;
  });
}

function signalDecide(workflowId: string, payload: unknown) {
  return temporalCli([
    'workflow',
    'signal',
    '--workflow-id',
    workflowId,
    '--name',
    'decide',
    '--input',
    JSON.stringify(payload),
  ]);
}

beforeAll(async () => {
  server = await testServer();
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep: steps.runStep },
    config: { jobsDir: path.join(root, 'jobs') },
  });
  client = worker.client;
  temporal = (findTemporalCli() as { path: string }).path;
  ws = scriptedWorkspace(path.join(root, 'ws'), {
    build: 'ok',
    lint: 'ok',
    flaky: 'fail-once 4',
    gate: 'ok',
    slow: 'hold',
  });
});

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the decide signal (tctl, temporal workflow signal)', () => {
  test('a refused signal is recorded with its reason and the question stays open; a valid one answers', async () => {
    const { workflowId } = await startPipeline(
      client,
      { steps: ['flaky', 'lint'], workspace: ws, onFailure: 'ask' },
      { taskQueue: worker.taskQueue },
    );
    const waiting = await phaseOf(workflowId, 'AWAITING_DECISION');
    assert.equal(waiting.lastRefusedDecision, null);

    const wrong = await signalDecide(workflowId, { action: 'approve', by: 'tctl-user' });
    assert.equal(wrong.exitCode, 0, wrong.stderr);
    const refused = await eventually('the refusal in status', async () => {
      const status = await getPipelineStatus(client, workflowId);
      return status.lastRefusedDecision ?? undefined;
    });
    assert.deepEqual({ ...refused, at: undefined } satisfies RefusedDecision | { at: undefined }, {
      action: 'approve',
      by: 'tctl-user',
      reason: '"approve" does not answer this question; choose retry, skip, abort',
      at: undefined,
    });
    assert.equal((await getPipelineStatus(client, workflowId)).phase, 'AWAITING_DECISION', 'still waiting');

    const garbage = await signalDecide(workflowId, 'retry');
    assert.equal(garbage.exitCode, 0, garbage.stderr);
    await eventually('the second refusal', async () => {
      const status = await getPipelineStatus(client, workflowId);
      return status.lastRefusedDecision?.reason.startsWith('decide needs { "action"') ? true : undefined;
    });

    const right = await signalDecide(workflowId, { action: 'retry', by: 'tctl-user' });
    assert.equal(right.exitCode, 0, right.stderr);
    const final = (await client.workflow.getHandle(workflowId).result()) as PipelineStatus;
    assert.equal(final.phase, 'DONE');
    assert.deepEqual(
      final.decisions.map((d) => [d.step, d.action, d.by]),
      [['flaky', 'retry', 'tctl-user']],
    );
  });

  test('a signal to a run that awaits nothing is refused with the reason, and the run goes on', async () => {
    const { workflowId } = await startPipeline(
      client,
      { steps: ['slow'], workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    await steps.started(workflowId, 'slow');
    await signalDecide(workflowId, { action: 'abort' });
    const refused = await eventually('the refusal', async () => {
      const status = await getPipelineStatus(client, workflowId);
      return status.lastRefusedDecision ?? undefined;
    });
    assert.match(refused.reason, /is RUNNING, not awaiting a decision; nothing to decide/);
    steps.release(workflowId, 'slow');
    assert.equal(((await client.workflow.getHandle(workflowId).result()) as PipelineStatus).phase, 'DONE');
  });

  test('approval gates take the signal too', async () => {
    const { workflowId } = await startPipeline(
      client,
      { steps: ['gate', 'lint'], workspace: ws, approve: 'all' },
      { taskQueue: worker.taskQueue },
    );
    await phaseOf(workflowId, 'AWAITING_DECISION');
    await signalDecide(workflowId, { action: 'approveAll', by: 'tctl-user' });
    const final = (await client.workflow.getHandle(workflowId).result()) as PipelineStatus;
    assert.equal(final.phase, 'DONE');
    assert.deepEqual(
      final.decisions.map((d) => d.action),
      ['approveAll'],
    );
  });
});

/** The summaries of the activities a run scheduled (local ones are markers), from its history. */
async function activitySummaries(workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const summaries: string[] = [];
  for (const event of history.events ?? []) {
    const summary = event.userMetadata?.summary;
    const activity = event.activityTaskScheduledEventAttributes ?? event.markerRecordedEventAttributes;
    if (activity && summary) summaries.push(defaultPayloadConverter.fromPayload(summary as never));
  }
  return summaries;
}

async function currentDetails(workflowId: string): Promise<string> {
  const result = await temporalCli(['workflow', 'metadata', '--workflow-id', workflowId]);
  assert.equal(result.exitCode, 0, result.stderr);
  return result.stdout;
}

describe('what the Web UI reads', () => {
  test('summary and details at start, activity summaries naming the steps, the live line', async () => {
    const { workflowId } = await startPipeline(
      client,
      { goal: 'nightly check', steps: ['build', 'slow'], workspace: ws, requestedBy: 'U42' },
      { taskQueue: worker.taskQueue, source: 'poc CLI on test-host' },
    );
    const description = await client.workflow.getHandle(workflowId).describe();
    assert.equal(await description.staticSummary(), 'pipeline: nightly check');
    const details = (await description.staticDetails()) ?? '';
    assert.match(details, /\*\*requested by:\*\* U42/);
    assert.match(details, /\*\*source:\*\* poc CLI on test-host/);
    assert.match(details, /\*\*steps:\*\* build → slow/);
    assert.ok(details.includes(`**workspace:** ${ws.replace(/_/g, '\\_')}`), details);

    await steps.started(workflowId, 'slow');
    const live = await eventually('the current details of the running step', async () => {
      const text = await currentDetails(workflowId);
      return /RUNNING · step 2 of 2: slow/.test(text) ? text : undefined;
    });
    assert.match(live, /RUNNING · step 2 of 2: slow/);

    steps.release(workflowId, 'slow');
    await client.workflow.getHandle(workflowId).result();
    assert.match(await currentDetails(workflowId), /DONE · 2 steps passed/);
    const summaries = await activitySummaries(workflowId);
    assert.ok(summaries.includes('build'), summaries.join(' | '));
    assert.ok(summaries.includes('slow'), summaries.join(' | '));
    assert.ok(
      summaries.some((s) => s.startsWith('queue for the workspace ')),
      summaries.join(' | '),
    );
  });

  test('a queued run says how many are ahead and why; the lock names its workspace and its holder', async () => {
    const first = await startPipeline(client, { steps: ['slow'], workspace: ws }, { taskQueue: worker.taskQueue });
    await steps.started(first.workflowId, 'slow');
    const second = await startPipeline(client, { steps: ['lint'], workspace: ws }, { taskQueue: worker.taskQueue });
    await phaseOf(second.workflowId, 'QUEUED');
    // A build host never gives one workspace path to two runs at once: the second waits for the host, saying so.
    await eventually('the queue position and reason in the current details', async () =>
      /QUEUED · 1 run ahead in .* · waiting for a host: .* in use/.test(await currentDetails(second.workflowId))
        ? true
        : undefined,
    );

    const locks = await eventually('the lock workflow', async () => {
      const found: string[] = [];
      for await (const execution of client.workflow.list({
        query: `WorkflowType = "${WORKFLOW_TYPES.workspaceLock}"`,
      })) {
        if (execution.taskQueue === worker.taskQueue && execution.status.name === 'RUNNING')
          found.push(execution.workflowId);
      }
      return found.length ? found : undefined;
    });
    const lockId = locks[0];
    assert.ok(lockId.startsWith(INTERNAL_ID.workspaceLockPrefix));
    const lock = await client.workflow.getHandle(lockId).describe();
    assert.match((await lock.staticSummary()) ?? '', /^workspace lock: \//);
    const lockLine = await eventually('the lock to show its holder', async () => {
      const text = await currentDetails(lockId);
      return text.includes(`held by ${first.workflowId} · 0 waiting`) ? text : undefined;
    });
    assert.ok(lockLine);

    steps.release(first.workflowId, 'slow');
    await client.workflow.getHandle(second.workflowId).result();
  });
});
