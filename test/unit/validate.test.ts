/** Input checks of workflows/validate.ts: pure, so exercised here without a server. */
import { describe, expect, test } from '@jest/globals';
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
    assert.throws(
      () => validateStepNames(undefined),
      /^InputError: steps: must be an array of step names, got undefined$/,
    );
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
      backend: 'openai',
      model: 'gpt-x',
      prompt: 'p',
      system: 's',
      maxTokens: 10,
      temperature: 0,
    });
    assert.equal(full.system, 's');
    assert.equal(full.maxTokens, 10);
    assert.equal(full.temperature, 0);
  });

  test('refuses a temperature for anthropic, whose API refuses one, instead of dropping it', () => {
    assert.throws(
      () => validateLlmInput({ backend: 'anthropic', model: 'claude-x', prompt: 'p', temperature: 0.2 }),
      /^InputError: temperature: the anthropic backend cannot take a temperature .*leave it out/,
    );
    assert.equal(validateLlmInput({ backend: 'ollama', model: 'm', prompt: 'p', temperature: 0.2 }).temperature, 0.2);
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

/** [input, field, the whole message]: every check of every field, as the caller reads it. */
type Rejection = [unknown, string, string];

function rejection(fn: () => unknown): [string, string] {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    expect(err.name).toBe('InputError');
    return [err.field, err.message];
  }
  throw new Error('expected the input to be rejected');
}

const PIPELINE_FIELDS =
  'goal, steps, workspace, requestedBy, onFailure, approve, stepTimeoutSeconds, decisionTimeoutSeconds, slack, ' +
  'repo, ref, labels, queueTimeoutSeconds';
const LLM_FIELDS = 'backend, model, prompt, system, maxTokens, temperature, requestedBy, slack';
const NOT_A_STEP = 'is not a step name (lower-case letters, digits, - and _, starting with a letter)';

describe('every pipeline rejection, word for word', () => {
  test.each<Rejection>([
    ['run', 'input', 'input: a pipeline needs a JSON object, got a string'],
    [42, 'input', 'input: a pipeline needs a JSON object, got a number'],
    [true, 'input', 'input: a pipeline needs a JSON object, got a boolean'],
    [['lint'], 'input', 'input: a pipeline needs a JSON object, got an array'],
    [{ stpes: ['lint'] }, 'stpes', `stpes: unknown field; the known fields are ${PIPELINE_FIELDS}`],
    [
      { 'slack.channel': 'C1' },
      'slack.channel',
      `slack.channel: unknown field; the known fields are ${PIPELINE_FIELDS}`,
    ],
    [{ 'a b': 1 }, 'a b', `"a b": unknown field; the known fields are ${PIPELINE_FIELDS}`],
    [
      { ['k'.repeat(41)]: 1 },
      'k'.repeat(41),
      `"${'k'.repeat(40)}…": unknown field; the known fields are ${PIPELINE_FIELDS}`,
    ],
    [{ goal: 42 }, 'goal', 'goal: must be a string, got a number'],
    [{ goal: ['a'] }, 'goal', 'goal: must be a string, got an array'],
    [{ goal: 'g'.repeat(LIMITS.goal + 1) }, 'goal', 'goal: is 2001 characters long; the limit is 2000'],
    [{ goal: 'a\u0000b' }, 'goal', 'goal: contains a NUL character'],
    [{ steps: 'lint' }, 'steps', 'steps: must be an array of step names, got a string'],
    [{ steps: [] }, 'steps', 'steps: must name at least one step'],
    [{ steps: Array.from({ length: 31 }, (_, i) => `s${i}`) }, 'steps', 'steps: names 31 steps; the limit is 30'],
    [{ steps: ['Lint'] }, 'steps', `steps: "Lint" ${NOT_A_STEP}`],
    [{ steps: ['lint', '9lives'] }, 'steps', `steps: "9lives" ${NOT_A_STEP}`],
    [{ steps: ['s'.repeat(41)] }, 'steps', `steps: "${'s'.repeat(41)}" ${NOT_A_STEP}`],
    [{ steps: ['x'.repeat(61)] }, 'steps', `steps: "${'x'.repeat(60)}…" ${NOT_A_STEP}`],
    [{ steps: ['lint\n;rm'] }, 'steps', `steps: "lint\\n;rm" ${NOT_A_STEP}`],
    [{ steps: [7] }, 'steps', `steps: a number ${NOT_A_STEP}`],
    [{ steps: [null] }, 'steps', `steps: null ${NOT_A_STEP}`],
    [{ steps: [['a']] }, 'steps', `steps: an array ${NOT_A_STEP}`],
    [{ steps: ['lint', 'test', 'lint'] }, 'steps', 'steps: "lint" is listed twice'],
    [{ workspace: 7 }, 'workspace', 'workspace: must be a string, got a number'],
    [
      { workspace: 'relative/path' },
      'workspace',
      'workspace: "relative/path" must be an absolute path to a compose project folder',
    ],
    [{ workspace: '' }, 'workspace', 'workspace: "" must be an absolute path to a compose project folder'],
    [
      { workspace: 'C:folder' },
      'workspace',
      'workspace: "C:folder" must be an absolute path to a compose project folder',
    ],
    [{ workspace: `/${'w'.repeat(1_024)}` }, 'workspace', 'workspace: is 1025 characters long; the limit is 1024'],
    [{ requestedBy: 7 }, 'requestedBy', 'requestedBy: must be a string, got a number'],
    [{ requestedBy: 'u'.repeat(201) }, 'requestedBy', 'requestedBy: is 201 characters long; the limit is 200'],
    [{ requestedBy: 'U1\u0000' }, 'requestedBy', 'requestedBy: contains a NUL character'],
    [{ onFailure: 'maybe' }, 'onFailure', 'onFailure: must be "fail" or "ask", got "maybe"'],
    [{ onFailure: 'ASK' }, 'onFailure', 'onFailure: must be "fail" or "ask", got "ASK"'],
    [{ onFailure: 1 }, 'onFailure', 'onFailure: must be "fail" or "ask", got 1'],
    [{ onFailure: {} }, 'onFailure', 'onFailure: must be "fail" or "ask", got {}'],
    [{ approve: 'ALL' }, 'approve', 'approve: must be an array of step names, got a string'],
    [{ approve: true }, 'approve', 'approve: must be an array of step names, got a boolean'],
    [{ approve: [] }, 'approve', 'approve: must name at least one step'],
    [{ approve: ['Test'] }, 'approve', `approve: "Test" ${NOT_A_STEP}`],
    [{ approve: ['test', 'test'] }, 'approve', 'approve: "test" is listed twice'],
    [
      { steps: ['lint', 'test'], approve: ['deploy'] },
      'approve',
      'approve: "deploy" is not one of the steps of this run (lint, test)',
    ],
    [
      { approve: ['deploy'] },
      'approve',
      'approve: "deploy" is not one of the steps of this run (build, bootstrap, doctor, lint, test)',
    ],
    ...([0, -1, 1.5, '30', 86_401, true] as unknown[]).map((value): Rejection => [
      { stepTimeoutSeconds: value },
      'stepTimeoutSeconds',
      `stepTimeoutSeconds: must be a whole number from 1 to 86400, got ${JSON.stringify(value)}`,
    ]),
    ...([0, 604_801, 60.5, '600'] as unknown[]).map((value): Rejection => [
      { decisionTimeoutSeconds: value },
      'decisionTimeoutSeconds',
      `decisionTimeoutSeconds: must be a whole number from 1 to 604800, got ${JSON.stringify(value)}`,
    ]),
    [
      { slack: { channel: 'general' } },
      'slack.channel',
      'slack.channel: "general" is not a Slack channel id like C0123ABCD',
    ],
    [
      { slack: { channel: 'c0123' } },
      'slack.channel',
      'slack.channel: "c0123" is not a Slack channel id like C0123ABCD',
    ],
    [
      { slack: { channel: 'C1', threadTs: 'yesterday' } },
      'slack.threadTs',
      'slack.threadTs: "yesterday" is not a Slack timestamp like 1700000000.000100',
    ],
    [
      { slack: { channel: 'C1', messageTs: '1700000000' } },
      'slack.messageTs',
      'slack.messageTs: "1700000000" is not a Slack timestamp like 1700000000.000100',
    ],
    // What a value is, with the right article; numbers JSON cannot spell, by name.
    [{ goal: {} }, 'goal', 'goal: must be a string, got an object'],
    [{ steps: [{}] }, 'steps', `steps: an object ${NOT_A_STEP}`],
    [{ steps: ['lint', undefined] }, 'steps', `steps: undefined ${NOT_A_STEP}`],
    [
      { stepTimeoutSeconds: NaN },
      'stepTimeoutSeconds',
      'stepTimeoutSeconds: must be a whole number from 1 to 86400, got NaN',
    ],
    [
      { decisionTimeoutSeconds: Infinity },
      'decisionTimeoutSeconds',
      'decisionTimeoutSeconds: must be a whole number from 1 to 604800, got Infinity',
    ],
    // A long value is cut inside its quotes.
    [{ onFailure: 'x'.repeat(100) }, 'onFailure', `onFailure: must be "fail" or "ask", got "${'x'.repeat(60)}…"`],
    // The Slack target's fields by their full path, in the field and the message.
    [{ slack: 'C1' }, 'slack', 'slack: must be a JSON object, got a string'],
    [{ slack: ['C1'] }, 'slack', 'slack: must be a JSON object, got an array'],
    [{ slack: {} }, 'slack.channel', 'slack.channel: is required and must not be empty'],
    [{ slack: { channel: 7 } }, 'slack.channel', 'slack.channel: must be a string, got a number'],
    [{ slack: { channel: 'C'.repeat(41) } }, 'slack.channel', 'slack.channel: is 41 characters long; the limit is 40'],
    [{ slack: { channel: 'C1', threadTs: 5 } }, 'slack.threadTs', 'slack.threadTs: must be a string, got a number'],
    [
      { slack: { channel: 'C1', messageTs: {} } },
      'slack.messageTs',
      'slack.messageTs: must be a string, got an object',
    ],
    [
      { slack: { channel: 'C1', thread: '1.2' } },
      'slack.thread',
      'slack.thread: unknown field; the known fields are channel, threadTs, messageTs',
    ],
    [
      { slack: { channel: 'C1', 'a b': 1 } },
      'slack.a b',
      '"slack.a b": unknown field; the known fields are channel, threadTs, messageTs',
    ],
  ])('%j', (input, field, message) => {
    expect(rejection(() => validatePipelineInput(input))).toEqual([field, message]);
  });
});

describe('every LLM rejection, word for word', () => {
  const ok = { backend: 'openai', model: 'gpt-4o-mini', prompt: 'hi' };
  test.each<Rejection>([
    [null, 'input', 'input: an LLM prompt needs a JSON object, got null'],
    ['hi', 'input', 'input: an LLM prompt needs a JSON object, got a string'],
    [[ok], 'input', 'input: an LLM prompt needs a JSON object, got an array'],
    [{ ...ok, temprature: 1 }, 'temprature', `temprature: unknown field; the known fields are ${LLM_FIELDS}`],
    [{ ...ok, goal: 'x' }, 'goal', `goal: unknown field; the known fields are ${LLM_FIELDS}`],
    [{ model: 'm', prompt: 'p' }, 'backend', 'backend: must be one of ollama, openai, anthropic, got null'],
    [{ ...ok, backend: 'gemini' }, 'backend', 'backend: must be one of ollama, openai, anthropic, got "gemini"'],
    [{ ...ok, backend: 'OpenAI' }, 'backend', 'backend: must be one of ollama, openai, anthropic, got "OpenAI"'],
    [{ ...ok, backend: 3 }, 'backend', 'backend: must be one of ollama, openai, anthropic, got 3'],
    [{ backend: 'ollama', prompt: 'p' }, 'model', 'model: is required and must not be empty'],
    [{ ...ok, model: '  ' }, 'model', 'model: is required and must not be empty'],
    [{ ...ok, model: 4 }, 'model', 'model: must be a string, got a number'],
    [{ ...ok, model: 'm'.repeat(201) }, 'model', 'model: is 201 characters long; the limit is 200'],
    [{ ...ok, model: 'gpt 4; rm' }, 'model', 'model: "gpt 4; rm" is not a model name like llama3.1 or gpt-4o-mini'],
    [{ ...ok, model: '-rf' }, 'model', 'model: "-rf" is not a model name like llama3.1 or gpt-4o-mini'],
    [{ ...ok, model: 'm\u0000' }, 'model', 'model: contains a NUL character'],
    [{ backend: 'ollama', model: 'm' }, 'prompt', 'prompt: is required and must not be empty'],
    [{ ...ok, prompt: '\n\t ' }, 'prompt', 'prompt: is required and must not be empty'],
    [{ ...ok, prompt: ['hi'] }, 'prompt', 'prompt: must be a string, got an array'],
    [
      { ...ok, prompt: 'p'.repeat(LIMITS.prompt + 1) },
      'prompt',
      'prompt: is 200001 characters long; the limit is 200000',
    ],
    [{ ...ok, system: false }, 'system', 'system: must be a string, got a boolean'],
    [
      { ...ok, system: 's'.repeat(LIMITS.system + 1) },
      'system',
      'system: is 50001 characters long; the limit is 50000',
    ],
    [{ ...ok, system: '\u0000' }, 'system', 'system: contains a NUL character'],
    ...([0, -1, 1.5, '10', 1_000_001] as unknown[]).map((value): Rejection => [
      { ...ok, maxTokens: value },
      'maxTokens',
      `maxTokens: must be a whole number from 1 to 1000000, got ${JSON.stringify(value)}`,
    ]),
    ...([-0.1, 2.01, '1', true] as unknown[]).map((value): Rejection => [
      { ...ok, temperature: value },
      'temperature',
      `temperature: must be a number from 0 to 2, got ${JSON.stringify(value)}`,
    ]),
    [{ ...ok, requestedBy: 5 }, 'requestedBy', 'requestedBy: must be a string, got a number'],
    [{ ...ok, requestedBy: 'u'.repeat(201) }, 'requestedBy', 'requestedBy: is 201 characters long; the limit is 200'],
    [
      { ...ok, slack: { channel: '#general' } },
      'slack.channel',
      'slack.channel: "#general" is not a Slack channel id like C0123ABCD',
    ],
    [
      { ...ok, slack: { channel: 'C1', threadTs: '1.2.3' } },
      'slack.threadTs',
      'slack.threadTs: "1.2.3" is not a Slack timestamp like 1700000000.000100',
    ],
    [undefined, 'input', 'input: an LLM prompt needs a JSON object, got undefined'],
    [{ ...ok, model: {} }, 'model', 'model: must be a string, got an object'],
    ...([NaN, Infinity, -Infinity] as unknown[]).map((value): Rejection => [
      { ...ok, temperature: value },
      'temperature',
      `temperature: must be a number from 0 to 2, got ${String(value)}`,
    ]),
    [
      { ...ok, temperature: 't'.repeat(100) },
      'temperature',
      `temperature: must be a number from 0 to 2, got "${'t'.repeat(60)}…"`,
    ],
    [
      { ...ok, backend: 'b'.repeat(100) },
      'backend',
      `backend: must be one of ollama, openai, anthropic, got "${'b'.repeat(60)}…"`,
    ],
    [{ ...ok, maxTokens: NaN }, 'maxTokens', 'maxTokens: must be a whole number from 1 to 1000000, got NaN'],
    [{ ...ok, slack: 42 }, 'slack', 'slack: must be a JSON object, got a number'],
    [{ ...ok, slack: { threadTs: '1.2' } }, 'slack.channel', 'slack.channel: is required and must not be empty'],
  ])('%j', (input, field, message) => {
    expect(rejection(() => validateLlmInput(input))).toEqual([field, message]);
  });

  test('what is accepted at the edges of each limit', () => {
    expect(
      validateLlmInput({
        ...ok,
        model: 'org/model-1.5:q4_K@v2+x',
        maxTokens: LIMITS.maxTokens,
        temperature: 2,
        requestedBy: 'U1',
        system: null,
        slack: { channel: 'C0123ABCD', threadTs: '1700000000.000100', messageTs: '1700000000.000200' },
      }),
    ).toEqual({
      ...ok,
      model: 'org/model-1.5:q4_K@v2+x',
      maxTokens: 1_000_000,
      temperature: 2,
      requestedBy: 'U1',
      slack: { channel: 'C0123ABCD', threadTs: '1700000000.000100', messageTs: '1700000000.000200' },
    });
    expect(validateLlmInput({ ...ok, temperature: null, maxTokens: null, slack: null })).toEqual(ok);
    const pipeline = validatePipelineInput({
      goal: '   ',
      steps: Array.from({ length: LIMITS.steps }, (_, i) => `s${i}`),
      workspace: 'C:\\projects\\app',
      onFailure: null,
      approve: 'all',
      stepTimeoutSeconds: LIMITS.stepTimeoutSeconds,
      decisionTimeoutSeconds: LIMITS.decisionTimeoutSeconds,
    });
    expect(pipeline.goal).toBe('Run default pipeline');
    expect(pipeline.steps).toHaveLength(30);
    expect([pipeline.workspace, pipeline.onFailure, pipeline.approve]).toEqual(['C:\\projects\\app', 'fail', 'all']);
    expect([pipeline.stepTimeoutSeconds, pipeline.decisionTimeoutSeconds]).toEqual([86_400, 604_800]);
  });
});
