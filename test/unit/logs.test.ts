/** Step logs (client/logs.ts): which step a request means, the end of a log file, what follow reads. */
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PipelineStatus, StepState } from '../../core/contract.js';
import { pickStep, readFrom, readStepLog, tailFile } from '../../client/logs.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-logs-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(content: string | Buffer): string {
  const name = path.join(dir, `log-${++files}.log`);
  fs.writeFileSync(name, content);
  return name;
}

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

function pipeline(steps: StepState[]): PipelineStatus {
  return {
    id: 'pipeline-abc',
    kind: 'pipeline',
    phase: 'RUNNING',
    goal: 'g',
    requestedBy: null,
    queuePosition: null,
    steps,
    error: null,
    workspace: null,
    onFailure: 'fail',
    pendingDecision: null,
    decisions: [],
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    slackMessage: null,
  };
}

describe('pickStep', () => {
  const done = (name: string) => step(name, { status: 'done', logPath: `/l/${name}.log` });

  test('by name', () => {
    const status = pipeline([done('build'), step('lint')]);
    expect(pickStep(status, 'lint')).toBe(status.steps[1]);
  });

  test('an unknown name lists the steps there are', () => {
    expect(() => pickStep(pipeline([done('build'), step('lint')]), 'tset')).toThrow(
      new Error('pipeline-abc has no step "tset" (steps: build, lint)'),
    );
  });

  test.each<[string, StepState[], string]>([
    [
      'the failed one',
      [done('build'), step('lint', { status: 'failed' }), step('test', { status: 'running' })],
      'lint',
    ],
    ['else the running one', [done('build'), step('lint', { status: 'running' }), step('test')], 'lint'],
    ['else the last that wrote a log', [done('build'), done('lint'), step('test', { status: 'skipped' })], 'lint'],
    ['else the first', [step('build'), step('lint')], 'build'],
  ])('without a name: %s', (_name, steps, picked) => {
    expect(pickStep(pipeline(steps)).name).toBe(picked);
  });
});

describe('tailFile', () => {
  const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n');

  test.each<[string, string, number, string]>([
    ['fewer lines than asked', 'a\nb\n', 5, 'a\nb'],
    ['the last n', `${numbered(10)}\n`, 3, 'line 8\nline 9\nline 10'],
    ['without a final newline', numbered(10), 2, 'line 9\nline 10'],
    ['one line', 'only\n', 1, 'only'],
    ['an empty file', '', 10, ''],
    ['blank lines count', 'a\n\n\nb\n', 3, '\n\nb'],
  ])('%s', (_name, content, lines, tail) => {
    expect(tailFile(file(content), lines)).toBe(tail);
  });

  test('a large log, read from its end in 64 KiB chunks: lines across chunks are kept whole', () => {
    const content = `${numbered(30_000)}\n`;
    expect(Buffer.byteLength(content)).toBeGreaterThan(3 * 64 * 1024);
    const name = file(content);
    expect(tailFile(name, 2)).toBe('line 29999\nline 30000');
    const many = tailFile(name, 12_000).split('\n');
    expect(many).toHaveLength(12_000);
    expect([many[0], many[11_999]]).toEqual(['line 18001', 'line 30000']);
    expect(tailFile(name, 100_000).split('\n')).toHaveLength(30_000);
  });

  test('a missing file is an error naming it', () => {
    expect(() => tailFile(path.join(dir, 'missing.log'), 5)).toThrow(/ENOENT: no such file or directory/);
  });
});

describe('readStepLog', () => {
  test('from the file when it is here', () => {
    const logPath = file('one\ntwo\nthree\n');
    const status = pipeline([step('lint', { status: 'failed', logPath, logTail: 'ignored' })]);
    expect(readStepLog(status, undefined, 2)).toEqual({
      step: 'lint',
      path: logPath,
      text: 'two\nthree',
      source: 'file',
    });
  });

  test('from the tail the run keeps when the file is elsewhere', () => {
    const status = pipeline([step('lint', { status: 'failed', logPath: '/elsewhere/lint.log', logTail: 'a\nb\nc' })]);
    expect(readStepLog(status, 'lint', 2)).toEqual({
      step: 'lint',
      path: '/elsewhere/lint.log',
      text: 'b\nc',
      source: 'status',
    });
  });

  test('nothing yet', () => {
    expect(readStepLog(pipeline([step('build')]), undefined, 10)).toEqual({
      step: 'build',
      path: null,
      text: '',
      source: 'none',
    });
  });
});

describe('readFrom', () => {
  test('what was appended since the offset; the same offset when nothing was', () => {
    const name = file('abc');
    expect(readFrom(name, 0)).toEqual({ text: 'abc', offset: 3 });
    expect(readFrom(name, 3)).toEqual({ text: '', offset: 3 });
    fs.appendFileSync(name, 'déf\n');
    expect(readFrom(name, 3)).toEqual({ text: 'déf\n', offset: 8 });
  });

  test('a truncated or replaced file is read from its start', () => {
    const name = file('a much longer first version\n');
    fs.writeFileSync(name, 'new\n');
    expect(readFrom(name, 28)).toEqual({ text: 'new\n', offset: 4 });
  });

  test('a file that is not there yet: nothing, and the offset kept', () => {
    expect(readFrom(path.join(dir, 'not-yet.log'), 7)).toEqual({ text: '', offset: 7 });
  });
});
