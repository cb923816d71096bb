/**
 * The Web UI's current details of a run waiting on a fleet (why it waits, not only its place), and
 * of a workspace lock with waiters (on a fleet a host keeps two runs off one path before the lock does).
 */
import { describe, expect, test } from '@jest/globals';
import type { PipelineStatus } from '../../core/contract.js';
import { currentDetailsOf } from '../../workflows/details.js';
import { lockDetails } from '../../workflows/lock.js';
import { pendingStep } from '../../workflows/steps.js';

function queued(fields: Partial<PipelineStatus>): PipelineStatus {
  return {
    id: 'pipeline-x',
    kind: 'pipeline',
    phase: 'QUEUED',
    goal: '',
    requestedBy: null,
    queuePosition: null,
    steps: [pendingStep('lint')],
    error: null,
    workspace: null,
    onFailure: 'fail',
    pendingDecision: null,
    decisions: [],
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    slackMessage: null,
    ...fields,
  };
}

describe('current details of a queued run', () => {
  test('a run waiting for a host says why', () => {
    expect(currentDetailsOf(queued({ queueReason: 'no host that is up has label gpu; hosts up: b1' }))).toBe(
      'QUEUED · no host that is up has label gpu; hosts up: b1',
    );
  });

  test('with runs ahead, the count, the workspace and the reason', () => {
    const status = queued({
      queuePosition: 1,
      workspace: '/ws',
      queueReason: 'waiting for a host: b1 has workspace /ws in use',
    });
    expect(currentDetailsOf(status)).toBe(
      'QUEUED · 1 run ahead in /ws · waiting for a host: b1 has workspace /ws in use',
    );
  });

  test('without a reason (one worker, the workspace lock), as before', () => {
    expect(currentDetailsOf(queued({ queuePosition: 2, workspace: '/ws' }))).toBe('QUEUED · 2 runs ahead in /ws');
    expect(currentDetailsOf(queued({ workspace: '/ws' }))).toBe('QUEUED · waiting for the workspace in /ws');
  });
});

test('a workspace lock names its holder, how many wait and who', () => {
  const queue = ['pipeline-a', 'pipeline-b'].map((workflowId) => ({ workflowId, startedAt: '2026-01-01T00:00:00Z' }));
  expect(lockDetails({ workspace: '/ws', holder: 'pipeline-x', queue })).toBe(
    'held by pipeline-x · 2 waiting: pipeline-a, pipeline-b · /ws',
  );
  expect(lockDetails({ workspace: '/ws', holder: null, queue: [] })).toBe('free · 0 waiting · /ws');
});
