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
