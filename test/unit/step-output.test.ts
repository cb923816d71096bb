/**
 * What a step leaves behind (activities/steps.ts), without Docker: its output redacted record by
 * record across chunks, in bounded memory whatever its shape, the tail, and the artifacts it wrote.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_RECORD_CHARS, StepOutput } from '../../activities/step-output.js';
import { createRedactor } from '../../core/redact.js';
import { collectArtifacts } from '../../activities/steps.js';

describe('StepOutput', () => {
  test('complete records are written as they end; the rest waits for its end', () => {
    const output = new StepOutput();
    expect(output.push('first\nsec')).toBe('first\n');
    expect(output.push('ond')).toBe('');
    expect(output.push('\r\nthird\n\n')).toBe('second\r\nthird\n\n');
    expect(output.lastLine()).toBe('');
    expect(output.tail()).toBe('first\nsecond\nthird\n');
  });

  test('a secret split across chunks is redacted once its record is whole', () => {
    const output = new StepOutput();
    expect(output.push('token xoxb-12345')).toBe('');
    expect(output.push('67890-abcdef ok\n')).toBe('token [redacted:slack-token] ok\n');
    expect(output.tail()).toBe('token [redacted:slack-token] ok');
  });

  test('the end hands over the unfinished record, redacted, once', () => {
    const output = new StepOutput();
    expect(output.end()).toBe('');
    output.push('done\nkey sk-0123456789abcdefghij');
    expect(output.end()).toBe('key [redacted:openai-key]');
    expect(output.end()).toBe('');
    expect(output.lastLine()).toBe('key [redacted:openai-key]');
    expect(output.tail()).toBe('done\nkey [redacted:openai-key]');
  });

  test('counts the bytes it was given', () => {
    const output = new StepOutput();
    output.push('é\n');
    output.push('😀');
    expect(output.bytes).toBe(3 + 4);
  });

  test('keeps the last 40 lines', () => {
    const output = new StepOutput();
    for (let i = 1; i <= 1_000; i++) output.push(`line ${i}\n`);
    const lines = output.tail().split('\n');
    expect(lines).toHaveLength(40);
    expect([lines[0], lines[39]]).toEqual(['line 961', 'line 1000']);
    expect(output.lastLine()).toBe('line 1000');
  });

  test('and at most 3500 characters of them, the cut marked at the front', () => {
    const output = new StepOutput();
    for (let i = 0; i < 40; i++) output.push(`${String(i).padStart(2, '0')}${'x'.repeat(198)}\n`);
    const text = output.tail();
    expect(text).toHaveLength(3_501);
    expect(text.startsWith('…')).toBe(true);
    expect(text.endsWith(`39${'x'.repeat(198)}`)).toBe(true);
  });

  test('progress with \\r in tiny writes is written as it comes; the tail shows what a terminal shows', () => {
    const output = new StepOutput();
    let written = '';
    for (let i = 0; i <= 100; i++) for (const char of `${i}%\r`) written += output.push(char);
    written += output.push('done\n');
    expect(written).toBe(Array.from({ length: 101 }, (_, i) => `${i}%\r`).join('') + 'done\n');
    expect(output.tail()).toBe('done');
    output.push('50%\r');
    expect(output.lastLine()).toBe('50%');
  });

  test('100 MB without a newline: bounded memory, written in slices as it comes, nothing lost', () => {
    const output = new StepOutput();
    const chunk = 'abcdefghij '.repeat(6_000); // 66 kB, with blanks to cut at
    let written = 0;
    let largestWrite = 0;
    for (let sent = 0; sent < 100_000_000; sent += chunk.length) {
      const text = output.push(chunk);
      written += text.length;
      largestWrite = Math.max(largestWrite, text.length);
    }
    written += output.end().length;
    expect(written).toBe(Math.ceil(100_000_000 / chunk.length) * chunk.length);
    expect(largestWrite).toBeLessThan(MAX_RECORD_CHARS + 2 * chunk.length);
    expect(output.tail().length).toBeLessThanOrEqual(1_001);
  });

  test('a slice never cuts a secret: it is cut at a blank and the secret is redacted whole', () => {
    const output = new StepOutput(createRedactor({ DEPLOY_TOKEN: 'tok-0123456789abcdef' }));
    const filler = 'x'.repeat(MAX_RECORD_CHARS - 10);
    let written = output.push(filler + ' tok-01234');
    written += output.push('56789abcdef and more');
    written += output.end();
    expect(written).toBe(`${filler} [redacted:DEPLOY_TOKEN] and more`);
  });

  test('a private key printed over several lines is redacted as a whole', () => {
    const output = new StepOutput();
    const text = output.push(
      '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\nAwEHoUQDQgAE\n-----END EC PRIVATE KEY-----\n',
    );
    expect(text).not.toMatch(/MHcCAQEEIBkg|AwEHoUQDQgAE/);
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
