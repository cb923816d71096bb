/** Input checks of workflows/validate.ts: pure, so exercised here without a server. */
import { describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { DEFAULT_STEPS } from '../../core/contract.js';
import { InputError, LIMITS, validateLlmInput, validatePipelineInput, validateStepNames } from '../../core/validate.js';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    return err.field;
  }
  assert.fail('expected the input to be rejected');
}

describe('validatePipelineInput: the fleet fields', () => {
  test('repo, ref, labels and queueTimeoutSeconds are kept when valid', () => {
    const input = validatePipelineInput({
      repo: 'https://git.example.com/team/app.git',
      ref: 'release/1.2',
      labels: ['gpu', 'arm64', 'gpu'],
      queueTimeoutSeconds: 600,
    });
    assert.equal(input.repo, 'https://git.example.com/team/app.git');
    assert.equal(input.ref, 'release/1.2');
    assert.deepEqual(input.labels, ['gpu', 'arm64']);
    assert.equal(input.queueTimeoutSeconds, 600);
    assert.deepEqual(validatePipelineInput({}).labels, []);
    for (const repo of ['file:///srv/git/app.git', 'ssh://git@host/app.git', 'git@host.example:team/app.git']) {
      assert.equal(validatePipelineInput({ repo }).repo, repo);
    }
    for (const ref of ['main', 'v1.2.3', 'feature/x_y+z', '4f2c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e']) {
      assert.equal(validatePipelineInput({ repo: 'file:///r.git', ref }).ref, ref);
    }
  });

  test('a hostile repository URL or ref is refused with the field named, before git sees it', () => {
    const repos = [
      '--upload-pack=touch /tmp/x',
      '-u/tmp/x',
      'ext::sh -c touch% /tmp/x',
      'ext::sh',
      'fd::3',
      '/srv/git/app.git',
      'https://example.com/a b.git',
      'https://example.com/a.git\nhttps://evil',
      'https://user:secret@example.com/app.git',
      'javascript:alert(1)',
    ];
    for (const repo of repos)
      assert.equal(
        fieldOf(() => validatePipelineInput({ repo })),
        'repo',
        repo,
      );
    const refs = [
      '--output=/tmp/x',
      '-b',
      'a..b',
      'main~1',
      'main^',
      'x:y',
      'a b',
      'HEAD@{1}',
      'x.lock',
      'dir/',
      '/abs',
    ];
    for (const ref of refs) {
      assert.equal(
        fieldOf(() => validatePipelineInput({ repo: 'file:///r.git', ref })),
        'ref',
        ref,
      );
    }
    assert.equal(
      fieldOf(() => validatePipelineInput({ ref: 'main' })),
      'ref',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ repo: 'file:///r.git', workspace: '/srv/app' })),
      'repo',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ labels: 'gpu' })),
      'labels',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ labels: ['gpu', '-x'] })),
      'labels',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ queueTimeoutSeconds: 0 })),
      'queueTimeoutSeconds',
    );
    assert.throws(
      () => validatePipelineInput({ repo: 'https://user:secret@example.com/app.git' }),
      /must not carry a password or token/,
    );
  });
});

describe('validatePipelineInput', () => {
  test('an empty input gets every default', () => {
    for (const raw of [undefined, null, {}]) {
      const input = validatePipelineInput(raw);
      assert.equal(input.goal, 'Run default pipeline');
      assert.deepEqual(input.steps, [...DEFAULT_STEPS]);
      assert.equal(input.onFailure, 'fail');
      assert.deepEqual(input.approve, []);
      assert.equal(input.decisionTimeoutSeconds, 600);
      assert.equal(input.workspace, undefined);
      assert.equal(input.slack, undefined);
    }
  });

  test('keeps what is valid', () => {
    const input = validatePipelineInput({
      goal: '  ship it  ',
      steps: ['lint', 'test'],
      workspace: '/srv/project',
      requestedBy: 'U123',
      onFailure: 'ask',
      approve: ['test'],
      stepTimeoutSeconds: 30,
      slack: { channel: 'C123', threadTs: '1700000000.000100' },
    });
    assert.equal(input.goal, 'ship it');
    assert.deepEqual(input.steps, ['lint', 'test']);
    assert.equal(input.onFailure, 'ask');
    assert.deepEqual(input.approve, ['test']);
    assert.equal(input.stepTimeoutSeconds, 30);
    assert.deepEqual(input.slack, { channel: 'C123', threadTs: '1700000000.000100' });
  });

  test('every rejection names the field', () => {
    assert.equal(
      fieldOf(() => validatePipelineInput('run')),
      'input',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ stpes: ['lint'] })),
      'stpes',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ goal: 42 })),
      'goal',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ goal: 'x'.repeat(LIMITS.goal + 1) })),
      'goal',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ workspace: 'relative/path' })),
      'workspace',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ onFailure: 'maybe' })),
      'onFailure',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ approve: ['deploy'], steps: ['lint'] })),
      'approve',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ stepTimeoutSeconds: 0 })),
      'stepTimeoutSeconds',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ stepTimeoutSeconds: 1.5 })),
      'stepTimeoutSeconds',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ slack: { channel: 'general' } })),
      'slack.channel',
    );
    assert.equal(
      fieldOf(() => validatePipelineInput({ slack: { channel: 'C1', threadTs: 'yesterday' } })),
      'slack.threadTs',
    );
  });
});

describe('validateStepNames', () => {
  test('accepts step names, rejects anything a shell could misread, and duplicates', () => {
    assert.deepEqual(validateStepNames(['lint', 'e2e-tests', 'step_2']), ['lint', 'e2e-tests', 'step_2']);
    assert.throws(() => validateStepNames([]), /must name at least one step/);
    assert.throws(() => validateStepNames(['Lint']), /is not a step name/);
    assert.throws(() => validateStepNames(['lint;rm -rf /']), /is not a step name/);
    assert.throws(() => validateStepNames(['lint', 'lint']), /"lint" is listed twice/);
    assert.throws(() => validateStepNames('lint'), /must be an array/);
    assert.throws(() => validateStepNames(Array.from({ length: LIMITS.steps + 1 }, (_, i) => `s${i}`)), /the limit is/);
  });
});

describe('validateLlmInput', () => {
  test('keeps the optional fields that are given, and only those', () => {
    assert.deepEqual(validateLlmInput({ backend: 'ollama', model: 'llama3.1', prompt: 'hello' }), {
      backend: 'ollama',
      model: 'llama3.1',
      prompt: 'hello',
    });
    const full = validateLlmInput({
      backend: 'anthropic',
      model: 'claude-x',
      prompt: 'p',
      system: 's',
      maxTokens: 10,
      temperature: 0,
    });
    assert.equal(full.system, 's');
    assert.equal(full.maxTokens, 10);
    assert.equal(full.temperature, 0);
  });

  test('rejects bad backends, models, prompts and numbers by field', () => {
    const ok = { backend: 'openai', model: 'gpt-4o-mini', prompt: 'hi' };
    assert.equal(
      fieldOf(() => validateLlmInput(undefined)),
      'input',
    );
    assert.equal(
      fieldOf(() => validateLlmInput({ ...ok, backend: 'gemini' })),
      'backend',
    );
    assert.equal(
      fieldOf(() => validateLlmInput({ ...ok, model: 'gpt 4; rm' })),
      'model',
    );
    assert.equal(
      fieldOf(() => validateLlmInput({ ...ok, prompt: '   ' })),
      'prompt',
    );
    assert.equal(
      fieldOf(() => validateLlmInput({ ...ok, maxTokens: -1 })),
      'maxTokens',
    );
    assert.equal(
      fieldOf(() => validateLlmInput({ ...ok, temperature: 3 })),
      'temperature',
    );
    assert.equal(
      fieldOf(() => validateLlmInput({ ...ok, temprature: 1 })),
      'temprature',
    );
  });
});
