/**
 * `poc llm` as users run it: through Temporal with the answer streamed to the terminal as it
 * arrives, `--direct` (and `runner/scripts/run.sh llm`) without Temporal, `poc models`; against a
 * local server speaking OpenAI's and Ollama's protocols, through the real SDKs and a real worker.
 */
import { afterAll, beforeAll, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startFakeLlm, type FakeLlmServer } from './support/fake-llm.js';
import { startTestWorker, testServer, type TestServer, type TestWorker } from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let server: TestServer;
let worker: TestWorker;
let fake: FakeLlmServer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  server = await testServer();
  fake = await startFakeLlm();
  const providerEnv = {
    OPENAI_BASE_URL: `${fake.url}/v1`,
    OPENAI_API_KEY: 'sk-test-cli-0000000000000000000000',
    OLLAMA_HOST: fake.url,
  };
  worker = await startTestWorker({ address: server.address, env: providerEnv });
  env = {
    ...process.env,
    ...providerEnv,
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: worker.taskQueue,
    NO_COLOR: '1',
  };
});

afterAll(async () => {
  await worker?.stop();
  await fake?.close();
  await server?.stop();
});

test('poc llm streams the answer while it arrives, then prints the usage', async () => {
  fake.enqueue('openai', {
    chunks: ['Streaming ', 'text ', 'arrives ', 'in ', 'pieces.'],
    chunkDelayMs: 300,
    usage: { inputTokens: 11, outputTokens: 5 },
  });
  const child = spawn(
    process.execPath,
    [path.join(root, 'cli', 'poc.js'), 'llm', '--backend', 'openai', '--model', 'gpt-test', 'say', 'something'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let partialSeenBeforeEnd = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('Streaming') && !stdout.includes('pieces.')) partialSeenBeforeEnd = true;
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), 'Streaming text arrives in pieces.');
  assert.ok(partialSeenBeforeEnd, 'the first words were printed before the answer was complete');
  assert.match(stderr, /started llm-[0-9a-z]{8}/);
  assert.match(stderr, /11 in \/ 5 out tokens · \d+ ms · 1 attempt\(s\) · stop/);
  assert.equal(fake.requests.at(-1)?.body?.model, 'gpt-test');
});

test('poc llm --json prints the result; a missing key fails with exit 1 and a clear message', async () => {
  const json = await execa(
    process.execPath,
    [path.join(root, 'cli', 'poc.js'), 'llm', '-b', 'openai', '-m', 'gpt-test', '--prompt', 'hi', '--json'],
    { env, reject: false },
  );
  assert.equal(json.exitCode, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(result).sort(), [
    'attempts',
    'backend',
    'finishReason',
    'latencyMs',
    'model',
    'text',
    'usage',
  ]);
  const noKey = await execa(
    process.execPath,
    [path.join(root, 'cli', 'poc.js'), 'llm', '-b', 'anthropic', '-m', 'claude-test', 'hi'],
    { env: { ...env, ANTHROPIC_API_KEY: '' }, reject: false },
  );
  assert.equal(noKey.exitCode, 1);
  assert.match(noKey.stderr, /FAILED: .*ANTHROPIC_API_KEY/);
});

test(
  'poc llm --direct and runner/scripts/run.sh llm ask the provider without Temporal; ' + 'poc models lists models',
  async () => {
    const noTemporal = { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const direct = await execa(
      process.execPath,
      [path.join(root, 'cli', 'poc.js'), 'llm', '--direct', '-b', 'ollama', '-m', 'llama3.1', '--prompt', 'hello'],
      { env: noTemporal, reject: false },
    );
    assert.equal(direct.exitCode, 0, direct.stderr);
    assert.equal(direct.stdout.trim(), 'Hello, world!');
    assert.equal(fake.requests.at(-1)?.path, '/api/chat');
    const script = await execa(
      'bash',
      [
        path.join(root, 'runner', 'scripts', 'run.sh'),
        'llm',
        '--backend',
        'ollama',
        '--model',
        'llama3.1',
        '--prompt',
        'hello',
      ],
      { env: noTemporal, reject: false },
    );
    assert.equal(script.exitCode, 0, script.stderr);
    assert.equal(script.stdout.trim(), 'Hello, world!');
    const models = await execa(
      process.execPath,
      [path.join(root, 'cli', 'poc.js'), 'models', '--backend', 'ollama', '--json'],
      { env: noTemporal, reject: false },
    );
    assert.equal(models.exitCode, 0, models.stderr);
    assert.ok((JSON.parse(models.stdout) as string[]).length > 0);
  },
);
