/**
 * The terminal views of runs (cli/render.ts): step and phase marks and colours, durations, the
 * pipeline and LLM status, the run list.
 */
import { describe, expect, test } from '@jest/globals';
import type { LlmStatus, PipelineStatus, StepState, StepStatus } from '../../core/contract.js';
import type { RunSummary } from '../../client/index.js';
import {
  PHASE_MARK,
  paint,
  phaseLine,
  renderList,
  renderLlm,
  renderPipeline,
  renderStatus,
  seconds,
  stepElapsed,
  stepLine,
} from '../../cli/render.js';

const PLAIN = { color: false };
const COLOR = { color: true };
const ESC = '\u001b';
const red = (text: string) => `${ESC}[31m${text}${ESC}[0m`;
const green = (text: string) => `${ESC}[32m${text}${ESC}[0m`;
const yellow = (text: string) => `${ESC}[33m${text}${ESC}[0m`;
const blue = (text: string) => `${ESC}[34m${text}${ESC}[0m`;
const gray = (text: string) => `${ESC}[90m${text}${ESC}[0m`;
const bold = (text: string) => `${ESC}[1m${text}${ESC}[0m`;

function step(name: string, over: Partial<StepState> = {}): StepState {
  return {
    name,
    status: 'pending',
    exitCode: null,
    attempt: 0,
    startedAt: null,
    finishedAt: null,
    logPath: null,
    durationMs: null,
    logTail: null,
    command: null,
    ...over,
  };
}

function pipeline(over: Partial<PipelineStatus> = {}): PipelineStatus {
  return {
    id: 'pipeline-abc12345',
    kind: 'pipeline',
    phase: 'RUNNING',
    goal: 'nightly',
    requestedBy: null,
    queuePosition: null,
    steps: [step('build', { status: 'done', exitCode: 0, attempt: 1, durationMs: 1_200 })],
    error: null,
    workspace: '/ws',
    onFailure: 'fail',
    pendingDecision: null,
    decisions: [],
    startedAt: '2026-01-01T10:00:00.000Z',
    finishedAt: null,
    slackMessage: null,
    ...over,
  };
}

function llm(over: Partial<LlmStatus> = {}): LlmStatus {
  return {
    id: 'llm-abc12345',
    kind: 'llm',
    phase: 'RUNNING',
    backend: 'ollama',
    model: 'llama3.1',
    prompt: 'why?',
    requestedBy: null,
    attempt: 1,
    partialText: '',
    result: null,
    error: null,
    startedAt: '2026-01-01T10:00:00.000Z',
    finishedAt: null,
    slackMessage: null,
    ...over,
  };
}

describe('pieces', () => {
  test('paint colours only when asked', () => {
    expect(paint(COLOR, 'red', 'x')).toBe(red('x'));
    expect(paint(COLOR, 'green', 'x')).toBe(green('x'));
    expect(paint(COLOR, 'yellow', 'x')).toBe(yellow('x'));
    expect(paint(COLOR, 'blue', 'x')).toBe(blue('x'));
    expect(paint(COLOR, 'gray', 'x')).toBe(gray('x'));
    expect(paint(COLOR, 'bold', 'x')).toBe(bold('x'));
    expect(paint(PLAIN, 'red', 'x')).toBe('x');
  });

  test.each<[number | null | undefined, string]>([
    [null, ''],
    [undefined, ''],
    [0, '0.0s'],
    [49, '0.0s'],
    [1_234, '1.2s'],
    [59_900, '59.9s'],
    [59_949, '59.9s'],
    // Rounded once, then split: never "60.0s" nor "1m60s".
    [59_950, '1m00s'],
    [60_000, '1m00s'],
    [119_499, '1m59s'],
    [119_500, '2m00s'],
    [61_499, '1m01s'],
    [61_500, '1m02s'],
    [754_000, '12m34s'],
    [3_600_000, '60m00s'],
  ])('seconds(%s) = %j', (ms, text) => {
    expect(seconds(ms)).toBe(text);
  });

  test('elapsed: the duration when known, else the running time so far, else nothing', () => {
    const now = Date.parse('2026-01-01T10:01:05.000Z');
    expect(stepElapsed(step('a', { status: 'done', durationMs: 900 }), now)).toBe(900);
    expect(stepElapsed(step('a', { status: 'running', durationMs: 5 }), now)).toBe(5);
    expect(stepElapsed(step('a', { status: 'running', startedAt: '2026-01-01T10:00:00.000Z' }), now)).toBe(65_000);
    expect(stepElapsed(step('a', { status: 'running' }), now)).toBeNull();
    expect(stepElapsed(step('a', { status: 'failed', startedAt: '2026-01-01T10:00:00.000Z' }), now)).toBeNull();
    expect(stepElapsed(step('a'), now)).toBeNull();
  });

  test.each<[StepStatus, Partial<StepState>, string, (text: string) => string]>([
    ['pending', {}, '· build      pending          ', gray],
    ['running', { attempt: 1, durationMs: 1_200 }, '▶ build      running      1.2s', blue],
    ['done', { attempt: 1, exitCode: 0, durationMs: 1_200 }, '✔ build      done         1.2s', green],
    [
      'failed',
      { attempt: 3, exitCode: 2, durationMs: 61_500 },
      '✖ build      failed      1m02s exit 2 (attempt 3)',
      red,
    ],
    ['skipped', {}, '- build      skipped          ', gray],
    ['cancelled', { exitCode: 137, durationMs: 400 }, '■ build      cancelled    0.4s exit 137', yellow],
  ])('a %s step', (status, over, line, colour) => {
    const s = step('build', { status, ...over });
    expect(stepLine(s, PLAIN)).toBe(line);
    expect(stepLine(s, COLOR)).toBe(colour(line));
  });

  test('a running step shows its time so far; long names push the columns', () => {
    const s = step('integration-tests', { status: 'running', attempt: 2, startedAt: '2026-01-01T10:00:00.000Z' });
    expect(stepLine(s, PLAIN, Date.parse('2026-01-01T10:01:05.000Z'))).toBe(
      '▶ integration-tests running     1m05s (attempt 2)',
    );
  });

  test.each<[PipelineStatus['phase'], string, (text: string) => string]>([
    ['QUEUED', '… QUEUED', blue],
    ['RUNNING', '▶ RUNNING', blue],
    ['AWAITING_DECISION', '? AWAITING_DECISION', blue],
    ['DONE', '✔ DONE', green],
    ['FAILED', '✖ FAILED', red],
    ['CANCELLED', '■ CANCELLED', yellow],
  ])('phase %s', (phase, line, colour) => {
    expect(phaseLine(pipeline({ phase }), PLAIN)).toBe(line);
    expect(phaseLine(pipeline({ phase }), COLOR)).toBe(colour(line));
    expect(PHASE_MARK[phase]).toBe(line.split(' ')[0]);
  });

  test('a phase this version does not know is shown without a mark', () => {
    expect(phaseLine(pipeline({ phase: 'PAUSED' as PipelineStatus['phase'] }), PLAIN)).toBe(' PAUSED');
  });
});

describe('renderPipeline', () => {
  test('a running pipeline: id, phase, goal and one line per step', () => {
    const status = pipeline({
      requestedBy: 'cli:alice',
      steps: [
        step('build', { status: 'done', exitCode: 0, attempt: 1, durationMs: 1_200 }),
        step('lint', { status: 'running', attempt: 1, durationMs: 300 }),
        step('test'),
      ],
    });
    expect(renderPipeline(status, PLAIN)).toBe(
      [
        'pipeline-abc12345  ▶ RUNNING  nightly',
        'requested by cli:alice',
        '  ✔ build      done         1.2s',
        '  ▶ lint       running      0.3s',
        '  · test       pending          ',
      ].join('\n'),
    );
    expect(renderStatus(status, PLAIN)).toBe(renderPipeline(status, PLAIN));
    expect(renderPipeline(status, COLOR).split('\n').slice(0, 3)).toEqual([
      `${bold('pipeline-abc12345')}  ${blue('▶ RUNNING')}  nightly`,
      'requested by cli:alice',
      `  ${green('✔ build      done         1.2s')}`,
    ]);
  });

  test('queued: how many runs are ahead, and where', () => {
    const queued = pipeline({ phase: 'QUEUED', queuePosition: 2, steps: [] });
    expect(renderPipeline(queued, PLAIN)).toBe('pipeline-abc12345  … QUEUED  nightly\nwaiting: 2 run(s) ahead in /ws');
    expect(renderPipeline({ ...queued, workspace: null }, PLAIN)).toBe(
      'pipeline-abc12345  … QUEUED  nightly\nwaiting: 2 run(s) ahead in the workspace',
    );
    // First in line, or a position on a run that is no longer queued: nothing to say.
    expect(renderPipeline({ ...queued, queuePosition: 0 }, PLAIN)).toBe('pipeline-abc12345  … QUEUED  nightly');
    expect(renderPipeline({ ...queued, phase: 'RUNNING' }, PLAIN)).toBe('pipeline-abc12345  ▶ RUNNING  nightly');
  });

  test('a pending failure decision names the CLI commands that answer it', () => {
    const status = pipeline({
      phase: 'AWAITING_DECISION',
      steps: [step('lint', { status: 'failed', exitCode: 1, attempt: 1, durationMs: 2_000 })],
      pendingDecision: {
        id: 'failure-lint-1-0',
        kind: 'failure',
        step: 'lint',
        options: ['retry', 'skip', 'abort'],
        deadline: '2026-01-01T10:10:00.000Z',
      },
    });
    const line =
      'awaiting a decision on lint (failure): poc retry|skip|abort pipeline-abc12345  — until 2026-01-01T10:10:00.000Z';
    expect(renderPipeline(status, PLAIN)).toBe(
      ['pipeline-abc12345  ? AWAITING_DECISION  nightly', '  ✖ lint       failed       2.0s exit 1', line].join('\n'),
    );
    expect(renderPipeline(status, COLOR).split('\n')[2]).toBe(yellow(line));
  });

  test('a pending approval offers approve-all by its CLI verb', () => {
    const status = pipeline({
      phase: 'AWAITING_DECISION',
      steps: [],
      pendingDecision: {
        id: 'approval-test-0-0',
        kind: 'approval',
        step: 'test',
        options: ['approve', 'approveAll', 'deny'],
        deadline: '2026-01-01T10:10:00.000Z',
      },
    });
    expect(renderPipeline(status, PLAIN).split('\n')[1]).toBe(
      'awaiting a decision on test (approval): poc approve|approve-all|deny pipeline-abc12345  ' +
        '— until 2026-01-01T10:10:00.000Z',
    );
  });

  test('decisions taken, and the error of a failed run', () => {
    const status = pipeline({
      phase: 'FAILED',
      steps: [],
      decisions: [
        { id: 'a', step: 'lint', action: 'retry', by: 'U0BOB', at: '2026-01-01T10:02:00.000Z' },
        { id: 'b', step: 'test', action: 'deny', by: null, at: '2026-01-01T10:03:00.000Z' },
      ],
      error: 'step test was denied',
    });
    expect(renderPipeline(status, PLAIN)).toBe(
      [
        'pipeline-abc12345  ✖ FAILED  nightly',
        '  lint: retry by U0BOB at 2026-01-01T10:02:00.000Z',
        '  test: deny by someone at 2026-01-01T10:03:00.000Z',
        'error: step test was denied',
      ].join('\n'),
    );
    expect(renderPipeline(status, COLOR).split('\n').slice(1)).toEqual([
      gray('  lint: retry by U0BOB at 2026-01-01T10:02:00.000Z'),
      gray('  test: deny by someone at 2026-01-01T10:03:00.000Z'),
      red('error: step test was denied'),
    ]);
  });
});

describe('renderLlm', () => {
  const result = {
    text: 'Because of Rayleigh scattering.',
    backend: 'ollama' as const,
    model: 'llama3.1',
    usage: { inputTokens: 12, outputTokens: 34 },
    finishReason: 'stop',
    latencyMs: 65_000,
    attempts: 2,
  };

  test('running: the prompt; then the partial answer as it streams', () => {
    expect(renderLlm(llm(), PLAIN)).toBe('llm-abc12345  ▶ RUNNING  ollama/llama3.1\nprompt: why?');
    expect(renderLlm(llm({ partialText: 'Because' }), PLAIN)).toBe(
      'llm-abc12345  ▶ RUNNING  ollama/llama3.1\nprompt: why?\n\nBecause …',
    );
  });

  test('done: the answer, then usage, latency, attempts and finish reason', () => {
    const done = llm({ phase: 'DONE', partialText: 'Because', result });
    expect(renderLlm(done, PLAIN)).toBe(
      [
        'llm-abc12345  ✔ DONE  ollama/llama3.1',
        'prompt: why?',
        '',
        'Because of Rayleigh scattering.',
        '',
        '12 in / 34 out tokens · 1m05s · 2 attempt(s) · stop',
      ].join('\n'),
    );
    expect(renderStatus(done, PLAIN)).toBe(renderLlm(done, PLAIN));
    const coloured = renderLlm(done, COLOR).split('\n');
    expect(coloured[0]).toBe(`${bold('llm-abc12345')}  ${green('✔ DONE')}  ollama/llama3.1`);
    expect(coloured[5]).toBe(gray('12 in / 34 out tokens · 1m05s · 2 attempt(s) · stop'));
  });

  test('failed: the error, in red when coloured', () => {
    const failed = llm({ phase: 'FAILED', error: 'ollama: 404 unknown model' });
    expect(renderLlm(failed, PLAIN)).toBe(
      'llm-abc12345  ✖ FAILED  ollama/llama3.1\nprompt: why?\nerror: ollama: 404 unknown model',
    );
    expect(renderLlm(failed, COLOR).split('\n')[2]).toBe(red('error: ollama: 404 unknown model'));
  });
});

describe('renderList', () => {
  function run(over: Partial<RunSummary>): RunSummary {
    return {
      workflowId: 'pipeline-a',
      kind: 'pipeline',
      phase: 'DONE',
      title: 'nightly',
      requestedBy: null,
      startTime: new Date('2026-01-02T03:04:05.000Z'),
      closeTime: null,
      slackChannel: null,
      ...over,
    };
  }

  test('no runs: how to start one', () => {
    expect(renderList([], PLAIN)).toBe('no runs yet; start one with `poc run`');
  });

  test('one line per run: ids aligned, phase, UTC start minute, title on one line and cut at 60', () => {
    const runs = [
      run({ workflowId: 'pipeline-a', phase: 'DONE', title: 'nightly' }),
      run({ workflowId: 'llm-abcdefgh', kind: 'llm', phase: 'FAILED', title: 'why\nis   the sky blue?' }),
      run({ workflowId: 'pipeline-bb', phase: 'RUNNING', title: 't'.repeat(61) }),
      run({ workflowId: 'pipeline-cc', phase: 'TERMINATED', title: 'u'.repeat(60) }),
    ];
    expect(renderList(runs, PLAIN)).toBe(
      [
        'pipeline-a    ✔ DONE               2026-01-02 03:04  nightly',
        'llm-abcdefgh  ✖ FAILED             2026-01-02 03:04  why is the sky blue?',
        `pipeline-bb   ▶ RUNNING            2026-01-02 03:04  ${'t'.repeat(59)}…`,
        `pipeline-cc     TERMINATED         2026-01-02 03:04  ${'u'.repeat(60)}`,
      ].join('\n'),
    );
  });

  test('phases coloured: DONE green, FAILED red, the rest blue', () => {
    const lines = renderList(
      [run({ phase: 'DONE' }), run({ phase: 'FAILED' }), run({ phase: 'CANCELLED' }), run({ phase: 'QUEUED' })],
      COLOR,
    ).split('\n');
    expect(lines).toEqual([
      `pipeline-a  ${green('✔ DONE              ')} 2026-01-02 03:04  nightly`,
      `pipeline-a  ${red('✖ FAILED            ')} 2026-01-02 03:04  nightly`,
      `pipeline-a  ${blue('■ CANCELLED         ')} 2026-01-02 03:04  nightly`,
      `pipeline-a  ${blue('… QUEUED            ')} 2026-01-02 03:04  nightly`,
    ]);
  });
});
