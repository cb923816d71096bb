/** The pure parts of live step output: the coalescing of lines sent to a run, the terminal's ticking line. */
import { describe, test, expect } from '@jest/globals';
import { CoalescedLine } from '../../activities/step-output.js';
import { plainLine, renderPipeline, spinnerLine } from '../../cli/render.js';
import type { PipelineStatus, StepState } from '../../core/contract.js';

describe('CoalescedLine', () => {
  test('sends the newest line at most every period, only when it changed, never an empty one', () => {
    const line = new CoalescedLine(10_000);
    expect(line.next('', 0)).toBeUndefined();
    expect(line.next('npm ci', 0)).toBe('npm ci');
    expect(line.next('added 1 package', 5_000)).toBeUndefined();
    expect(line.next('added 2 packages', 10_000)).toBe('added 2 packages');
    expect(line.next('added 2 packages', 30_000)).toBeUndefined();
    expect(line.next('done', 30_001)).toBe('done');
  });
});

describe('the ticking line of a running step', () => {
  const running: StepState = {
    name: 'bootstrap',
    status: 'running',
    exitCode: null,
    attempt: 2,
    startedAt: '2026-01-01T10:00:00.000Z',
    finishedAt: null,
    logPath: null,
    durationMs: null,
    logTail: null,
    command: null,
  };
  const now = Date.parse('2026-01-01T10:01:05.000Z');

  test('spinner, name, elapsed time, attempt and the newest line, cut to the width', () => {
    expect(spinnerLine(running, 1, 'npm http fetch GET 200 https://registry/x', { color: false }, 100, now)).toBe(
      '⠙ bootstrap  running     1m05s (attempt 2) │ npm http fetch GET 200 https://registry/x',
    );
    const narrow = spinnerLine(running, 0, 'x'.repeat(200), { color: false }, 80, now);
    expect(narrow.length).toBe(80 - 4 + 3);
    expect(narrow.endsWith('…')).toBe(true);
    expect(spinnerLine(running, 0, undefined, { color: false }, 100, now)).toBe(
      '⠋ bootstrap  running     1m05s (attempt 2)',
    );
  });

  test("a step's output cannot move the cursor or paint the terminal", () => {
    expect(plainLine('\u001b[31mred\u001b[0m\r\u001b[2Kover\u0007 \u001b]0;title\u0007end\t')).toBe('red over end');
  });
});

describe('poc status', () => {
  test("shows a running step's newest line and the last refused decide signal with its reason", () => {
    const status: PipelineStatus = {
      id: 'pipeline-abc12345',
      kind: 'pipeline',
      phase: 'AWAITING_DECISION',
      goal: 'nightly',
      requestedBy: null,
      queuePosition: null,
      steps: [
        {
          name: 'lint',
          status: 'running',
          exitCode: null,
          attempt: 1,
          startedAt: null,
          finishedAt: null,
          logPath: null,
          durationMs: null,
          logTail: null,
          command: null,
          lastLine: '\u001b[33m12 files checked\u001b[0m',
        },
      ],
      error: null,
      workspace: null,
      onFailure: 'ask',
      pendingDecision: null,
      decisions: [],
      startedAt: '2026-01-01T10:00:00.000Z',
      finishedAt: null,
      slackMessage: null,
      lastRefusedDecision: { action: 'approve', by: 'tctl', reason: 'choose retry, skip, abort', at: 'T' },
    };
    const text = renderPipeline(status, { color: false });
    expect(text).toContain('      │ 12 files checked');
    expect(text).toContain('last refused decision: "approve" from tctl at T: choose retry, skip, abort');
  });
});
