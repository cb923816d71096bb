/** Workspace step definitions (activities/workspace.ts): defaults, poc.config.json, and its errors. */
import { afterAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../core/config.js';
import {
  CONFIG_FILE,
  WorkspaceError,
  jobFolderName,
  loadWorkspaceConfig,
  lockKeyFor,
} from '../../activities/workspace.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-unit-ws-'));
let count = 0;
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function workspace(files: Record<string, string>): string {
  const dir = path.join(root, `ws${++count}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

const compose = 'services:\n  runner:\n    image: x\n';

describe('loadWorkspaceConfig', () => {
  test('without poc.config.json: the five default steps, runner service, compose default lookup', () => {
    const config = loadWorkspaceConfig(workspace({ 'compose.yaml': compose }));
    assert.equal(config.service, 'runner');
    assert.deepEqual(config.composeFiles, []);
    assert.deepEqual([...config.steps.keys()], ['build', 'bootstrap', 'doctor', 'lint', 'test']);
    assert.equal(config.steps.get('build')?.kind, 'build');
    assert.deepEqual(config.steps.get('lint'), {
      name: 'lint',
      kind: 'run',
      command: 'runner/scripts/lint.sh',
      timeoutSeconds: null,
    });
  });

  test('this repository is a workspace whose default steps all have their script', () => {
    const config = loadWorkspaceConfig(repoRoot);
    for (const step of config.steps.values()) {
      if (step.kind === 'run')
        assert.ok(fs.existsSync(path.join(repoRoot, step.command)), `${step.command} is missing`);
    }
  });

  test('poc.config.json adds and overrides steps, service and compose files', () => {
    const dir = workspace({
      'ci.yml': compose,
      [CONFIG_FILE]: JSON.stringify({
        service: 'app',
        composeFiles: ['ci.yml'],
        steps: { lint: 'npm run lint', e2e: { run: 'npm run e2e', timeoutSeconds: 90 }, image: { build: true } },
      }),
    });
    const config = loadWorkspaceConfig(dir);
    assert.equal(config.service, 'app');
    assert.deepEqual(config.composeFiles, ['ci.yml']);
    assert.deepEqual(config.steps.get('lint'), {
      name: 'lint',
      kind: 'run',
      command: 'npm run lint',
      timeoutSeconds: null,
    });
    assert.deepEqual(config.steps.get('e2e'), { name: 'e2e', kind: 'run', command: 'npm run e2e', timeoutSeconds: 90 });
    assert.equal(config.steps.get('image')?.kind, 'build');
    assert.equal(config.steps.get('test')?.command, 'runner/scripts/test.sh');
  });

  test('each mistake is a WorkspaceError that says what to fix', () => {
    const cases: [Record<string, string> | null, RegExp][] = [
      [null, /does not exist/],
      [{}, /has no compose file/],
      [{ 'compose.yml': compose, [CONFIG_FILE]: '{ nope' }, /is not valid JSON/],
      [{ 'compose.yml': compose, [CONFIG_FILE]: '[]' }, /must hold a JSON object/],
      [{ 'compose.yml': compose, [CONFIG_FILE]: '{"stpes":{}}' }, /unknown field "stpes"/],
      [{ 'compose.yml': compose, [CONFIG_FILE]: '{"service":"bad name"}' }, /service must be a compose service name/],
      [
        { 'compose.yml': compose, [CONFIG_FILE]: '{"composeFiles":["../other.yml"]}' },
        /composeFiles must be a list of file names inside the workspace/,
      ],
      [
        { 'compose.yml': compose, [CONFIG_FILE]: '{"composeFiles":["missing.yml"]}' },
        /compose file missing\.yml is missing/,
      ],
      [{ 'compose.yml': compose, [CONFIG_FILE]: '{"steps":{"Bad Step":"x"}}' }, /is not a step name/],
      [{ 'compose.yml': compose, [CONFIG_FILE]: '{"steps":{"lint":"  "}}' }, /has an empty command/],
      [
        { 'compose.yml': compose, [CONFIG_FILE]: '{"steps":{"lint":{"run":"x","timeoutSeconds":0}}}' },
        /timeoutSeconds must be a whole number/,
      ],
      [{ 'compose.yml': compose, [CONFIG_FILE]: '{"steps":{"lint":{}}}' }, /lint\.run must be the command/],
    ];
    for (const [files, message] of cases) {
      const dir = files ? workspace(files) : path.join(root, 'absent');
      assert.throws(
        () => loadWorkspaceConfig(dir),
        (err: unknown) => err instanceof WorkspaceError && message.test(err.message),
      );
    }
  });
});

describe('jobFolderName', () => {
  test('keeps ordinary ids and makes any other id a safe single folder name', () => {
    assert.equal(jobFolderName('pipeline-abc123'), 'pipeline-abc123');
    assert.equal(jobFolderName('a/../b c'), 'a_.._b_c');
    assert.equal(jobFolderName('..'), '_..');
  });
});

describe('lockKeyFor', () => {
  test('one key per workspace and task queue, stable across versions', () => {
    // Pinned: a running lock workflow is found by this key after an upgrade.
    assert.equal(lockKeyFor('/nonexistent/poc-ws', 'poc-pipeline'), 'a91d4856c1bf7a10');
    assert.equal(lockKeyFor('/nonexistent/poc-ws', 'other'), '9f82c8e7e8538764');
  });

  test('the same folder by any path is the same workspace', () => {
    const real = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-lock-'));
    try {
      const link = `${real}-link`;
      fs.symlinkSync(real, link);
      try {
        assert.equal(lockKeyFor(link, 'q'), lockKeyFor(real, 'q'));
        assert.equal(lockKeyFor(`${real}/.`, 'q'), lockKeyFor(real, 'q'));
        assert.match(lockKeyFor(real, 'q'), /^[0-9a-f]{16}$/);
        assert.notEqual(lockKeyFor(real, 'q'), lockKeyFor(real, 'q2'));
      } finally {
        fs.rmSync(link);
      }
    } finally {
      fs.rmSync(real, { recursive: true, force: true });
    }
  });
});
