/**
 * The `poc` bin's first line sizes every process it starts (a worker above all): the kernel reads
 * it, `env -S` splits it, so it must stay one line the kernel takes whole.
 */
import { describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'poc.js');
const shebang = fs.readFileSync(bin, 'utf8').split('\n', 1)[0];

describe('the poc bin', () => {
  test('starts node through env -S with the memory settings of a long-running worker', () => {
    expect(shebang.startsWith('#!/usr/bin/env -S ')).toBe(true);
    const words = shebang.slice('#!/usr/bin/env -S '.length).split(' ');
    const node = words.indexOf('node');
    expect(node).toBeGreaterThan(0);
    expect(Object.fromEntries(words.slice(0, node).map((w) => w.split('=')))).toEqual({
      MALLOC_ARENA_MAX: '2',
      MALLOC_TRIM_THRESHOLD_: '65536',
      MALLOC_MMAP_THRESHOLD_: '65536',
    });
    expect(words.slice(node + 1)).toEqual(['--max-semi-space-size=1', '--max-old-space-size=384']);
  });

  test('fits the kernel (Linux reads at most 255 characters of a #! line) and is executable', () => {
    expect(shebang.length).toBeLessThanOrEqual(255);
    expect(fs.statSync(bin).mode & 0o111).not.toBe(0);
  });
});
