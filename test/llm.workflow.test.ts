/**
 * The `llmPrompt` workflow on a real dev server and a real worker, its activity calling the real
 * SDKs against the local fake server (test/support/fake-llm.ts): results, retries as Temporal
 * sees them, fatal errors, stalls, live text, cancellation, input checks, visibility.
 */
import { afterAll, beforeAll, beforeEach, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import {
  PocKind,
  PocPhase,
  cancelRun,
  getLlmStatus,
  startLlm,
  waitForLlmResult,
  type LlmInput,
  type LlmResult,
} from '../client/index.js';
import { startFakeLlm, type ChunkEvent, type FakeLlmServer, type RecordedRequest } from './support/fake-llm.js';
import { eventually, startTestWorker, testServer, type TestServer, type TestWorker } from './support/temporal.js';

const IDLE_TIMEOUT_MS = 1_500;
/** Generous for the retry cases (backoff 1 s, 2 s); a hang fails here instead of stalling the run. */
const TEST_TIMEOUT_MS = 60_000;

let server: TestServer;
let fake: FakeLlmServer;
let worker: TestWorker;
/** A worker whose environment has no API keys. */
let keylessWorker: TestWorker;
let client: Client;

function fakeEnv(keys: boolean): NodeJS.ProcessEnv {
  return {
    OPENAI_BASE_URL: `${fake.url}/v1`,
    OPENAI_API_KEY: keys ? 'sk-test-openai-wf-0123456789' : '',
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_API_KEY: keys ? 'sk-ant-test-wf-0123456789' : '',
    OLLAMA_HOST: fake.url,
    POC_LLM_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
  };
}

beforeAll(async () => {
  server = await testServer();
  fake = await startFakeLlm();
  worker = await startTestWorker({ address: server.address, env: fakeEnv(true) });
  keylessWorker = await startTestWorker({ address: server.address, env: fakeEnv(false) });
  client = worker.client;
});

afterAll(async () => {
  await worker?.stop();
  await keylessWorker?.stop();
  await fake?.close();
  await server?.stop();
});

beforeEach(() => fake.reset());

const prompt = (overrides: Partial<LlmInput> = {}): LlmInput => ({
  backend: 'openai',
  model: 'gpt-4o-mini',
  prompt: 'Say hello',
  ...overrides,
});

async function start(input: LlmInput, on: TestWorker = worker): Promise<string> {
  const { workflowId } = await startLlm(client, input, { taskQueue: on.taskQueue });
  return workflowId;
}

async function failureOf(workflowId: string): Promise<WorkflowFailedError> {
  const err = await client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(err instanceof WorkflowFailedError, `expected ${workflowId} to fail, got ${String(err)}`);
  return err;
}

/** The chat requests this test's workflow made (the fake serves one test at a time). */
function chatRequestsSince(count: number): RecordedRequest[] {
  return fake.requests.slice(count).filter((r) => r.method === 'POST');
}

/** Attempts of `completePrompt` as history records them: the attempt number and the failure before it. */
async function attemptsInHistory(workflowId: string) {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => ({
      attempt: e.activityTaskStartedEventAttributes?.attempt ?? 0,
      lastFailure: e.activityTaskStartedEventAttributes?.lastFailure ?? null,
    }));
}

describe('llmPrompt workflow', () => {
  test(
    'answers with the result shape of the contract, usage included',
    async () => {
      fake.enqueue('openai', { chunks: ['Hello', ' there'], usage: { inputTokens: 9, outputTokens: 2 } });
      const before = fake.requests.length;
      const workflowId = await start(
        prompt({ system: 'Be nice.', maxTokens: 50, temperature: 0.3, requestedBy: 'U-llm' }),
      );
      assert.match(workflowId, /^llm-[0-9a-z]{8}$/);
      const result = await waitForLlmResult(client, workflowId);
      assert.deepEqual(Object.keys(result).sort(), [
        'attempts',
        'backend',
        'finishReason',
        'latencyMs',
        'model',
        'text',
        'usage',
      ]);
      const { latencyMs, ...rest } = result;
      assert.deepEqual(rest, {
        text: 'Hello there',
        backend: 'openai',
        model: 'gpt-4o-mini',
        usage: { inputTokens: 9, outputTokens: 2 },
        finishReason: 'stop',
        attempts: 1,
      } satisfies Omit<LlmResult, 'latencyMs'>);
      assert.ok(Number.isInteger(latencyMs) && latencyMs >= 0);

      const [request] = chatRequestsSince(before);
      assert.equal(request.headers.authorization, 'Bearer sk-test-openai-wf-0123456789');
      assert.equal(request.body?.max_tokens, 50);

      const status = await getLlmStatus(client, workflowId);
      assert.equal(status.phase, 'DONE');
      assert.deepEqual(status.result, result);
      assert.equal(status.requestedBy, 'U-llm');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'every backend answers through the workflow',
    async () => {
      for (const backend of ['anthropic', 'ollama'] as const) {
        fake.enqueue(backend, { chunks: [backend, ' says hi'], usage: { inputTokens: 4, outputTokens: 3 } });
        const result = await waitForLlmResult(client, await start(prompt({ backend, model: 'some-model' })));
        assert.equal(result.text, `${backend} says hi`);
        assert.equal(result.backend, backend);
        assert.deepEqual(result.usage, { inputTokens: 4, outputTokens: 3 });
        assert.equal(result.finishReason, 'stop');
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'is findable by PocKind=llm and carries the prompt in its memo',
    async () => {
      const workflowId = await start(prompt({ prompt: 'Find me by my memo' }));
      await waitForLlmResult(client, workflowId);
      const description = await eventually('PocPhase DONE', async () => {
        const d = await client.workflow.getHandle(workflowId).describe();
        return d.typedSearchAttributes.get(PocPhase) === 'DONE' ? d : undefined;
      });
      assert.equal(description.typedSearchAttributes.get(PocKind), 'llm');
      assert.equal(description.memo?.prompt, 'Find me by my memo');
      const listed = await eventually('the run in a PocKind="llm" query', async () => {
        for await (const execution of client.workflow.list({
          query: `PocKind = "llm" AND WorkflowId = "${workflowId}"`,
        }))
          return execution;
        return undefined;
      });
      assert.equal(listed.workflowId, workflowId);

      // Started bare (as `temporal workflow start` would), the workflow still sets both itself.
      const handle = await client.workflow.start('llmPrompt', {
        workflowId: `llm-raw${Date.now()}`,
        taskQueue: worker.taskQueue,
        args: [{ backend: 'openai', model: 'gpt-4o-mini', prompt: 'x'.repeat(300) }],
      });
      await handle.result();
      const raw = await eventually('attributes of the bare start', async () => {
        const d = await handle.describe();
        return d.typedSearchAttributes.get(PocPhase) === 'DONE' ? d : undefined;
      });
      assert.equal(raw.typedSearchAttributes.get(PocKind), 'llm');
      assert.equal(raw.memo?.prompt, 'x'.repeat(200));
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '429 is retried after retry-after; history shows the failed attempt',
    async () => {
      fake.enqueue('openai', { status: 429, headers: { 'retry-after': '1' } }, { chunks: ['finally'] });
      const before = fake.requests.length;
      const workflowId = await start(prompt());
      const result = await waitForLlmResult(client, workflowId);
      assert.equal(result.text, 'finally');
      assert.equal(result.attempts, 2);
      const requests = chatRequestsSince(before);
      assert.equal(requests.length, 2);
      assert.ok(requests[1].receivedAt - requests[0].receivedAt >= 900, 'the retry waited for retry-after');
      const attempts = await attemptsInHistory(workflowId);
      assert.equal(attempts.length, 1);
      assert.equal(attempts[0].attempt, 2);
      assert.match(attempts[0].lastFailure?.message ?? '', /^openai: 429 rate limited — will retry after 1 s/);
      assert.equal(attempts[0].lastFailure?.applicationFailureInfo?.type, 'LlmRetryable');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '401 fails at once, in one attempt, as LlmFatal with a clear message',
    async () => {
      fake.enqueue('openai', { status: 401 });
      const before = fake.requests.length;
      const workflowId = await start(prompt());
      const err = await failureOf(workflowId);
      assert.equal((err.cause as { type?: string }).type, 'LlmFatal');
      assert.match(err.cause?.message ?? '', /^openai: 401 invalid API key — check OPENAI_API_KEY/);
      await assert.rejects(
        () => waitForLlmResult(client, workflowId),
        /openai: 401 invalid API key — check OPENAI_API_KEY/,
      );
      assert.equal(chatRequestsSince(before).length, 1);
      const attempts = await attemptsInHistory(workflowId);
      assert.deepEqual(
        attempts.map((a) => a.attempt),
        [1],
      );
      const status = await getLlmStatus(client, workflowId);
      assert.equal(status.phase, 'FAILED');
      assert.match(status.error ?? '', /401 invalid API key/);
      assert.equal((await client.workflow.getHandle(workflowId).describe()).status.name, 'FAILED');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '500 twice, then an answer: three attempts',
    async () => {
      fake.enqueue('openai', { status: 500 }, { status: 503 }, { chunks: ['third time lucky'] });
      const before = fake.requests.length;
      const workflowId = await start(prompt());
      const result = await waitForLlmResult(client, workflowId);
      assert.equal(result.attempts, 3);
      assert.equal(result.text, 'third time lucky');
      assert.equal(chatRequestsSince(before).length, 3);
      const [attempt] = await attemptsInHistory(workflowId);
      assert.equal(attempt.attempt, 3);
      assert.match(attempt.lastFailure?.message ?? '', /^openai: 503 server error/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a server that stalls before answering hits the idle timeout; the retry answers',
    async () => {
      fake.enqueue('openai', { stallBeforeHeaders: true }, { chunks: ['awake'] });
      const stalled = fake.next<RecordedRequest>('request', (r) => r.method === 'POST');
      const workflowId = await start(prompt());
      const first = await stalled;
      await fake.whenAborted(first);
      const result = await waitForLlmResult(client, workflowId);
      assert.equal(result.text, 'awake');
      assert.equal(result.attempts, 2);
      const [attempt] = await attemptsInHistory(workflowId);
      assert.equal(attempt.lastFailure?.applicationFailureInfo?.type, 'LlmTimeout');
      assert.match(attempt.lastFailure?.message ?? '', /openai: no data for \d+ s/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a stream that stalls mid-answer is abandoned; the answer is the retry's alone",
    async () => {
      fake.enqueue('anthropic', { chunks: ['half', ' of it'], stallAfterChunks: 1 }, { chunks: ['whole', ' answer'] });
      const firstChunk = fake.next<ChunkEvent>('chunk');
      const workflowId = await start(prompt({ backend: 'anthropic', model: 'claude-haiku-4-5' }));
      const { request } = await firstChunk;
      await fake.whenAborted(request);
      const result = await waitForLlmResult(client, workflowId);
      assert.equal(result.text, 'whole answer');
      assert.equal(result.attempts, 2);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'malformed JSON from the server is retried',
    async () => {
      fake.enqueue('openai', { malformed: true }, { chunks: ['well-formed'] });
      const workflowId = await start(prompt());
      const result = await waitForLlmResult(client, workflowId);
      assert.equal(result.text, 'well-formed');
      assert.equal(result.attempts, 2);
      const [attempt] = await attemptsInHistory(workflowId);
      assert.match(attempt.lastFailure?.message ?? '', /malformed JSON/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a missing key fails at once, before any request, naming the variable',
    async () => {
      const before = fake.requests.length;
      for (const [backend, variable] of [
        ['openai', 'OPENAI_API_KEY'],
        ['anthropic', 'ANTHROPIC_API_KEY'],
      ] as const) {
        const workflowId = await start(prompt({ backend }), keylessWorker);
        const err = await failureOf(workflowId);
        assert.equal((err.cause as { type?: string }).type, 'LlmFatal');
        assert.match(err.cause?.message ?? '', new RegExp(`^${backend}: no API key — set ${variable}`));
        assert.deepEqual(
          (await attemptsInHistory(workflowId)).map((a) => a.attempt),
          [1],
        );
      }
      assert.equal(fake.requests.length, before);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'streamed text shows in status.partialText while the answer is still coming',
    async () => {
      fake.enqueue('openai', { chunks: ['Once', ' upon', ' a time'], pauseAfterChunks: 2 });
      const secondChunk = fake.next<ChunkEvent>('chunk', (e) => e.index === 1);
      const workflowId = await start(prompt());
      await secondChunk;
      // The server holds the rest back: what the status shows now can only have been streamed.
      const running = await eventually('partial text in the status', async () => {
        const status = await getLlmStatus(client, workflowId);
        return status.partialText === 'Once upon' ? status : undefined;
      });
      assert.equal(running.phase, 'RUNNING');
      assert.equal(running.result, null);
      fake.release();
      const result = await waitForLlmResult(client, workflowId);
      assert.equal(result.text, 'Once upon a time');
      const done = await getLlmStatus(client, workflowId);
      assert.equal(done.phase, 'DONE');
      assert.equal(done.partialText, '');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'cancelling the workflow aborts the HTTP request and ends it CANCELLED',
    async () => {
      fake.enqueue('ollama', { chunks: ['never', ' finished'], stallAfterChunks: 1 });
      const firstChunk = fake.next<ChunkEvent>('chunk');
      const workflowId = await start(prompt({ backend: 'ollama', model: 'llama3.1:8b' }));
      const { request } = await firstChunk;
      await cancelRun(client, workflowId);
      const err = await failureOf(workflowId);
      assert.equal(err.cause?.name, 'CancelledFailure');
      const description = await client.workflow.getHandle(workflowId).describe();
      assert.equal(description.status.name, 'CANCELLED');
      await fake.whenAborted(request);
      // The workflow waits for its activity to stop: the request was closed before the run ended.
      assert.ok(
        request.abortedAt !== null && description.closeTime && request.abortedAt <= description.closeTime.getTime(),
        `request closed at ${request.abortedAt}, run closed at ${description.closeTime?.getTime()}`,
      );
      const status = await getLlmStatus(client, workflowId);
      assert.equal(status.phase, 'CANCELLED');
      assert.equal(status.error, 'cancelled');
      assert.equal(
        fake.requestsTo('ollama', '/api/chat').filter((r) => r.id >= request.id).length,
        1,
        'a cancelled prompt is not retried',
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'invalid input fails at once with InvalidInput naming the field',
    async () => {
      for (const [input, field] of [
        [
          { backend: 'gemini', model: 'm', prompt: 'p' },
          /backend: must be one of ollama, openai, anthropic, got "gemini"/,
        ],
        [{ backend: 'openai', model: 'm', prompt: '   ' }, /prompt: is required and must not be empty/],
        [{ backend: 'openai', model: 'm' }, /prompt: is required/],
        [{ backend: 'openai', model: 42, prompt: 'p' }, /model: must be a string, got a number/],
        [{ backend: 'openai', model: 'm', prompt: 'p', maxTokens: 'ten' }, /maxTokens: must be a whole number/],
        [{ backend: 'openai', model: 'm', prompt: 'p', temperature: 5 }, /temperature: must be a number from 0 to 2/],
        [{ backend: 'openai', model: 'm', prompt: 'p', promt: 'typo' }, /promt: unknown field/],
        ['just a string', /input: an LLM prompt needs a JSON object, got a string/],
      ] as const) {
        const handle = await client.workflow.start('llmPrompt', {
          workflowId: `llm-bad${Math.random().toString(36).slice(2)}`,
          taskQueue: worker.taskQueue,
          args: [input],
        });
        const err = await failureOf(handle.workflowId);
        assert.equal((err.cause as { type?: string }).type, 'InvalidInput', `type for ${JSON.stringify(input)}`);
        assert.match(err.cause?.message ?? '', field);
      }
      // The client API refuses the same before anything starts.
      await assert.rejects(() => start(prompt({ prompt: '' })), /prompt: is required/);
      await assert.rejects(
        () => start({ ...prompt(), backend: 'gemini' as LlmInput['backend'] }),
        /backend: must be one of/,
      );
    },
    TEST_TIMEOUT_MS,
  );
});
