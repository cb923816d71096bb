/**
 * What a step leaves behind (activities/steps.ts), without Docker: the redacted tail of its
 * output, split into lines across chunks, and the artifacts it wrote.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LineTail } from '../../activities/step-output.js';
import { collectArtifacts } from '../../activities/steps.js';

describe('LineTail', () => {
  test('complete lines come out as they end; the rest waits for its newline', () => {
    const tail = new LineTail();
    expect(tail.push('first\nsec')).toEqual(['first']);
    expect(tail.push('ond')).toEqual([]);
    expect(tail.push('\r\nthird\n\n')).toEqual(['second', 'third', '']);
    expect(tail.lastLine()).toBe('');
    expect(tail.tail()).toBe('first\nsecond\nthird\n');
  });

  test('a secret split across chunks is redacted once its line is whole', () => {
    const tail = new LineTail();
    expect(tail.push('token xoxb-12345')).toEqual([]);
    expect(tail.push('67890-abcdef ok\n')).toEqual(['token [redacted:slack-token] ok']);
    expect(tail.tail()).toBe('token [redacted:slack-token] ok');
  });

  test('flush hands over the unfinished line, redacted, once', () => {
    const tail = new LineTail();
    expect(tail.flush()).toBeUndefined();
    tail.push('done\nkey sk-0123456789abcdefghij');
    expect(tail.flush()).toBe('key [redacted:openai-key]');
    expect(tail.flush()).toBeUndefined();
    expect(tail.lastLine()).toBe('key [redacted:openai-key]');
    expect(tail.tail()).toBe('done\nkey [redacted:openai-key]');
  });

  test('counts the bytes it was given', () => {
    const tail = new LineTail();
    tail.push('é\n');
    tail.push('😀');
    expect(tail.bytes).toBe(3 + 4);
  });

  test('keeps the last 40 lines', () => {
    const tail = new LineTail();
    for (let i = 1; i <= 1_000; i++) tail.push(`line ${i}\n`);
    const lines = tail.tail().split('\n');
    expect(lines).toHaveLength(40);
    expect([lines[0], lines[39]]).toEqual(['line 961', 'line 1000']);
    expect(tail.lastLine()).toBe('line 1000');
  });

  test('and at most 3500 characters of them, the cut marked at the front', () => {
    const tail = new LineTail();
    for (let i = 0; i < 40; i++) tail.push(`${String(i).padStart(2, '0')}${'x'.repeat(198)}\n`);
    const text = tail.tail();
    expect(text).toHaveLength(3_501);
    expect(text.startsWith('…')).toBe(true);
    expect(text.endsWith(`39${'x'.repeat(198)}`)).toBe(true);
  });
});

describe('collectArtifacts', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-artifacts-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const since = Date.parse('2026-01-01T10:00:00.000Z');

  function workspace(name: string, files: Record<string, number>): string {
    const ws = path.join(root, name);
    const source = path.join(ws, 'runner', 'artifacts');
    fs.mkdirSync(source, { recursive: true });
    for (const [file, mtimeMs] of Object.entries(files)) {
      fs.writeFileSync(path.join(source, file), `content of ${file}`);
      fs.utimesSync(path.join(source, file), mtimeMs / 1000, mtimeMs / 1000);
    }
    return ws;
  }

  test('copies the files written since the step started (a second of clock slack), nothing older', () => {
    const ws = workspace('a', {
      'report.xml': since + 5_000,
      'coverage.json': since - 500,
      'old.txt': since - 1_001,
    });
    fs.mkdirSync(path.join(ws, 'runner', 'artifacts', 'a-folder'));
    const target = path.join(root, 'a-job', 'artifacts', 'lint');
    expect(collectArtifacts(ws, target, since).sort()).toEqual(['coverage.json', 'report.xml']);
    expect(fs.readdirSync(target).sort()).toEqual(['coverage.json', 'report.xml']);
    expect(fs.readFileSync(path.join(target, 'report.xml'), 'utf8')).toBe('content of report.xml');
  });

  test('nothing new: no target folder made', () => {
    const ws = workspace('b', { 'old.txt': since - 60_000 });
    const target = path.join(root, 'b-job');
    expect(collectArtifacts(ws, target, since)).toEqual([]);
    expect(fs.existsSync(target)).toBe(false);
  });

  test('a workspace without runner/artifacts: nothing', () => {
    expect(collectArtifacts(path.join(root, 'nowhere'), path.join(root, 'c-job'), since)).toEqual([]);
  });
});
