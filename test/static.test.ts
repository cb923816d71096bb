/**
 * The code base stays clean: `tsc --noEmit` and eslint (flat config, typescript-eslint) report nothing, prettier has
 * nothing to change, and no source line (shell scripts included, which eslint does not read) is over 120 characters.
 */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAX_LINE = 120;

test('npm run typecheck is clean', async () => {
  const result = await execa('npm', ['run', '-s', 'typecheck'], { cwd: root, reject: false, all: true });
  assert.equal(result.exitCode, 0, String(result.all));
});

test('npm run lint is clean (workflows/ imports nothing with side effects)', async () => {
  const result = await execa('npm', ['run', '-s', 'lint'], { cwd: root, reject: false, all: true });
  assert.equal(result.exitCode, 0, String(result.all));
});

test('npm run format:check is clean (prettier --check . has nothing to change)', async () => {
  const result = await execa('npm', ['run', '-s', 'format:check'], { cwd: root, reject: false, all: true });
  assert.equal(result.exitCode, 0, String(result.all));
});

test(`no tracked .ts, .js, .mjs or .sh file has a line over ${MAX_LINE} characters`, async () => {
  const listed = await execa('git', ['ls-files', '-z', '--', '*.ts', '*.js', '*.mjs', '*.sh'], { cwd: root });
  const files = listed.stdout.split('\0').filter((file) => file && fs.existsSync(path.join(root, file)));
  assert.ok(files.length > 0, 'git ls-files found no source files');
  const long: string[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(root, file), 'utf8').split(/\r?\n/);
    lines.forEach((line, i) => {
      // Characters (code points), as eslint's max-len counts them.
      const length = [...line].length;
      if (length > MAX_LINE) long.push(`${file}:${i + 1} has ${length} characters`);
    });
  }
  assert.deepEqual(long, [], `lines over ${MAX_LINE} characters:\n${long.join('\n')}`);
});
