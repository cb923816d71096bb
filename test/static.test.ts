/** The code base stays clean: `tsc --noEmit` and eslint (flat config, typescript-eslint) report nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('npm run typecheck is clean', async () => {
  const result = await execa('npm', ['run', '-s', 'typecheck'], { cwd: root, reject: false, all: true });
  assert.equal(result.exitCode, 0, String(result.all));
});

test('npm run lint is clean (workflows/ imports nothing with side effects)', async () => {
  const result = await execa('npm', ['run', '-s', 'lint'], { cwd: root, reject: false, all: true });
  assert.equal(result.exitCode, 0, String(result.all));
});
