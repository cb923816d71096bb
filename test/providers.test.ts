/**
 * Each provider through its real SDK against the local fake server (test/support/fake-llm.ts):
 * the wire protocol, usage, streaming, the error taxonomy, cancellation, model lists.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { createProvider, parseRetryAfter } from '../providers/index.js';
import { LlmError } from '../providers/types.js';
import { runLlmDirect, listModelsDirect } from '../cli/llm-direct.js';
import type { LlmBackend } from '../core/contract.js';
import { loadConfig } from '../core/config.js';
import { startFakeLlm, type ChunkEvent, type FakeLlmServer, type RecordedRequest } from './support/fake-llm.js';
import { freePort } from './support/temporal.js';

const OPENAI_KEY = 'sk-test-openai-0123456789';
/** Every exchange here is local and quick: a hang (a signal not wired through) fails fast. */
const TEST_TIMEOUT_MS = 10_000;
const ANTHROPIC_KEY = 'sk-ant-test-0123456789';
/** The LLM settings `loadConfig` reads from `env`. */
const llm = (env: NodeJS.ProcessEnv) => loadConfig(env).llm;

let fake: FakeLlmServer;

beforeAll(async () => {
  fake = await startFakeLlm();
});

afterAll(async () => {
  await fake?.close();
});

interface BackendCase {
  backend: LlmBackend;
  env: () => NodeJS.ProcessEnv;
  /** Same settings, pointing at a port nobody listens on. */
  envAt: (url: string) => NodeJS.ProcessEnv;
  chatPath: string;
  keyVariable?: string;
  /** The key as the server received it. */
  sentKey: (request: RecordedRequest) => string | undefined;
  maxTokensOf: (body: Record<string, unknown>) => unknown;
  /** The prompt and system text as the server received them. */
  promptOf: (body: Record<string, unknown>) => { system: unknown; prompt: unknown };
}

const bearer = (request: RecordedRequest) => request.headers.authorization?.replace(/^Bearer /, '');
const chatMessages = (body: Record<string, unknown>) => {
  const messages = body.messages as { role: string; content: string }[];
  return {
    system: messages.find((m) => m.role === 'system')?.content,
    prompt: messages.find((m) => m.role === 'user')?.content,
  };
};

const CASES: BackendCase[] = [
  {
    backend: 'openai',
    env: () => ({ OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `${fake.url}/v1` }),
    envAt: (url) => ({ OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `${url}/v1` }),
    chatPath: '/v1/chat/completions',
    keyVariable: 'OPENAI_API_KEY',
    sentKey: bearer,
    maxTokensOf: (body) => body.max_tokens,
    promptOf: chatMessages,
  },
  {
    backend: 'anthropic',
    env: () => ({ ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url }),
    envAt: (url) => ({ ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: url }),
    chatPath: '/v1/messages',
    keyVariable: 'ANTHROPIC_API_KEY',
    // The SDK generation decides between `x-api-key` and a bearer token; either carries the key.
    sentKey: (request) => (request.headers['x-api-key'] as string | undefined) ?? bearer(request),
    maxTokensOf: (body) => body.max_tokens,
    promptOf: (body) => ({ system: body.system, prompt: (body.messages as { content: string }[])[0]?.content }),
  },
  {
    backend: 'ollama',
    env: () => ({ OLLAMA_HOST: fake.url }),
    envAt: (url) => ({ OLLAMA_HOST: url }),
    chatPath: '/api/chat',
    sentKey: () => undefined,
    maxTokensOf: (body) => (body.options as { num_predict?: number } | undefined)?.num_predict,
    promptOf: chatMessages,
  },
];

async function failureOf(promise: Promise<unknown>): Promise<LlmError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof LlmError, `expected an LlmError, got ${String(err)}`);
  return err;
}

for (const c of CASES) {
  const { backend } = c;
  const provider = () => createProvider(backend, llm(c.env()));

  describe(`${backend} provider`, () => {
    test(
      'completes a prompt, streamed, with usage, and sends what was asked',
      async () => {
        fake.enqueue(backend, { chunks: ['The answer', ' is', ' 42.'], usage: { inputTokens: 31, outputTokens: 7 } });
        const seen: string[] = [];
        const before = fake.requests.length;
        const completion = await provider().complete({
          model: 'test-model',
          prompt: 'What is the answer?',
          system: 'Be brief.',
          maxTokens: 64,
          // Anthropic's API refuses a temperature: that backend refuses it before sending (below).
          temperature: backend === 'anthropic' ? undefined : 0.25,
          onText: (text) => seen.push(text),
        });
        assert.equal(completion.text, 'The answer is 42.');
        assert.deepEqual(seen, ['The answer', ' is', ' 42.']);
        assert.equal(completion.inputTokens, 31);
        assert.equal(completion.outputTokens, 7);
        assert.equal(completion.finishReason, 'stop');
        assert.equal(completion.model, 'test-model');
        assert.ok(completion.latencyMs >= 0);

        const requests = fake.requests.slice(before);
        assert.equal(requests.length, 1, 'one request, no SDK retries');
        const [request] = requests;
        assert.equal(request.path, c.chatPath);
        assert.equal(request.stream, true, 'always streamed');
        assert.equal(request.body?.model, 'test-model');
        assert.deepEqual(c.promptOf(request.body ?? {}), { system: 'Be brief.', prompt: 'What is the answer?' });
        assert.equal(c.maxTokensOf(request.body ?? {}), 64);
        if (c.keyVariable) assert.equal(c.sentKey(request), c.env()[c.keyVariable]);
        if (backend === 'openai') {
          assert.deepEqual(request.body?.stream_options, { include_usage: true });
          assert.equal(request.body?.temperature, 0.25);
        }
        if (backend === 'ollama') assert.equal((request.body?.options as { temperature?: number }).temperature, 0.25);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'hands out text while the answer is still streaming',
      async () => {
        fake.enqueue(backend, { chunks: ['first', ' second'], pauseAfterChunks: 1 });
        let firstText: (text: string) => void;
        const gotFirst = new Promise<string>((resolve) => (firstText = resolve));
        const done = provider().complete({ model: 'm', prompt: 'p', onText: (text) => firstText(text) });
        // The server holds the rest back until released: text arriving now proves it streams.
        assert.equal(await gotFirst, 'first');
        fake.release();
        assert.equal((await done).text, 'first second');
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'stream() yields the chunks in order',
      async () => {
        fake.enqueue(backend, { chunks: ['a', 'b', 'c'] });
        const chunks: string[] = [];
        for await (const chunk of provider().stream({ model: 'm', prompt: 'p' })) chunks.push(chunk);
        assert.deepEqual(chunks, ['a', 'b', 'c']);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      '429 with retry-after is retryable, with the wait in ms; one request only',
      async () => {
        fake.enqueue(backend, { status: 429, headers: { 'retry-after': '7' } });
        const before = fake.requests.length;
        const err = await failureOf(provider().complete({ model: 'm', prompt: 'p' }));
        assert.equal(err.kind, 'retryable');
        assert.equal(err.status, 429);
        assert.equal(err.retryAfterMs, 7_000);
        assert.equal(err.backend, backend);
        assert.match(err.message, new RegExp(`^${backend}: 429 rate limited — will retry after 7 s`));
        assert.equal(fake.requests.length - before, 1, 'the SDK must not retry by itself');
      },
      TEST_TIMEOUT_MS,
    );

    test(
      '401 is fatal and names what to check',
      async () => {
        fake.enqueue(backend, { status: 401 });
        const err = await failureOf(provider().complete({ model: 'm', prompt: 'p' }));
        assert.equal(err.kind, 'fatal');
        assert.equal(err.status, 401);
        assert.match(
          err.message,
          c.keyVariable
            ? new RegExp(`${backend}: 401 invalid API key — check ${c.keyVariable}`)
            : /ollama: 401 .*OLLAMA_HOST/,
        );
      },
      TEST_TIMEOUT_MS,
    );

    test(
      '500 is retryable',
      async () => {
        fake.enqueue(backend, { status: 500 });
        const err = await failureOf(provider().complete({ model: 'm', prompt: 'p' }));
        assert.equal(err.kind, 'retryable');
        assert.equal(err.status, 500);
        assert.match(err.message, new RegExp(`^${backend}: 500 server error`));
      },
      TEST_TIMEOUT_MS,
    );

    test(
      '400 context too long is fatal with advice',
      async () => {
        const message =
          backend === 'anthropic'
            ? 'prompt is too long: 250000 tokens > 200000 maximum'
            : "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.";
        fake.enqueue(backend, { status: 400, message, errorCode: 'context_length_exceeded' });
        const err = await failureOf(provider().complete({ model: 'small-model', prompt: 'p'.repeat(100) }));
        assert.equal(err.kind, 'fatal');
        assert.equal(err.status, 400);
        assert.match(err.message, /too long for model "small-model" — shorten the prompt/);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      '404 unknown model is fatal and names the model',
      async () => {
        const message =
          backend === 'ollama'
            ? 'model "no-such-model" not found, try pulling it first'
            : 'The model `no-such-model` does not exist or you do not have access to it.';
        fake.enqueue(backend, { status: 404, message, errorCode: 'model_not_found' });
        const err = await failureOf(provider().complete({ model: 'no-such-model', prompt: 'p' }));
        assert.equal(err.kind, 'fatal');
        assert.equal(err.status, 404);
        assert.match(err.message, /unknown model "no-such-model"/);
        if (backend === 'ollama') assert.match(err.message, /ollama pull no-such-model/);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'a refused connection is retryable and names the setting',
      async () => {
        const url = `http://127.0.0.1:${await freePort()}`;
        const err = await failureOf(createProvider(backend, llm(c.envAt(url))).complete({ model: 'm', prompt: 'p' }));
        assert.equal(err.kind, 'retryable');
        assert.match(err.message, /connection refused/);
        assert.match(
          err.message,
          backend === 'ollama' ? /OLLAMA_HOST/ : new RegExp(`${backend.toUpperCase()}_BASE_URL`),
        );
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'malformed JSON in the stream is retryable with a clear message',
      async () => {
        fake.enqueue(backend, { malformed: true });
        const err = await failureOf(provider().complete({ model: 'm', prompt: 'p' }));
        assert.equal(err.kind, 'retryable');
        assert.match(err.message, /malformed/);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'a connection dropped mid-answer is retryable',
      async () => {
        fake.enqueue(backend, { chunks: ['part', 'rest'], dropAfterChunks: 1 });
        const err = await failureOf(provider().complete({ model: 'm', prompt: 'p' }));
        assert.equal(err.kind, 'retryable');
        assert.match(err.message, /lost|failed|cut off/);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'abort mid-stream: cancelled, and the server sees the request closed',
      async () => {
        fake.enqueue(backend, { chunks: ['one', 'two'], stallAfterChunks: 1 });
        const firstChunk = fake.next<ChunkEvent>('chunk');
        const controller = new AbortController();
        const answer = provider().complete({ model: 'm', prompt: 'p', signal: controller.signal });
        const { request } = await firstChunk;
        controller.abort();
        const err = await failureOf(answer);
        assert.equal(err.kind, 'cancelled');
        assert.equal(err.message, `${backend}: request cancelled`);
        await fake.whenAborted(request);
        assert.equal(request.aborted, true);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'abort before the headers arrive: cancelled, and the server sees the request closed',
      async () => {
        fake.enqueue(backend, { stallBeforeHeaders: true });
        const arrived = fake.next<RecordedRequest>('request', (r) => r.path === c.chatPath);
        const controller = new AbortController();
        const answer = provider().complete({ model: 'm', prompt: 'p', signal: controller.signal });
        const request = await arrived;
        controller.abort();
        assert.equal((await failureOf(answer)).kind, 'cancelled');
        await fake.whenAborted(request);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'listModels lists what the server has',
      async () => {
        // expect().toEqual, not assert.deepEqual: the SDKs parse JSON in Node's own realm, and
        // node:assert's strict equality tells arrays of two realms apart.
        expect(await provider().listModels()).toEqual(fake.models[backend]);
        expect(await listModelsDirect(backend, llm(c.env()))).toEqual(fake.models[backend]);
      },
      TEST_TIMEOUT_MS,
    );

    if (c.keyVariable) {
      const keyVariable = c.keyVariable;
      test(
        'a missing key is fatal before any request, naming the variable',
        async () => {
          const before = fake.requests.length;
          for (const value of [undefined, '', '  ']) {
            const err = await failureOf(
              Promise.resolve().then(() =>
                createProvider(backend, llm({ ...c.env(), [keyVariable]: value })).complete({
                  model: 'm',
                  prompt: 'p',
                }),
              ),
            );
            assert.equal(err.kind, 'fatal');
            assert.match(err.message, new RegExp(`^${backend}: no API key — set ${keyVariable}`));
          }
          assert.equal(fake.requests.length, before, 'no request may be made without a key');
        },
        TEST_TIMEOUT_MS,
      );
    }
  });
}

describe('temperature', () => {
  test(
    'anthropic refuses one with a fatal error naming the fix, and sends nothing; openai and ollama send it',
    async () => {
      const anthropic = CASES.find((c) => c.backend === 'anthropic');
      assert.ok(anthropic);
      const before = fake.requests.length;
      const err = await failureOf(
        createProvider('anthropic', llm(anthropic.env())).complete({ model: 'm', prompt: 'p', temperature: 0.7 }),
      );
      assert.equal(err.kind, 'fatal');
      assert.match(err.message, /^anthropic: the anthropic backend cannot take a temperature .*leave it out/);
      assert.equal(fake.requests.length, before, 'nothing sent');
    },
    TEST_TIMEOUT_MS,
  );
});

describe('runLlmDirect', () => {
  test(
    'streams the answer to the output as it arrives and returns the completion',
    async () => {
      fake.enqueue('openai', {
        chunks: ['direct', ' answer'],
        pauseAfterChunks: 1,
        usage: { inputTokens: 3, outputTokens: 2 },
      });
      const written: string[] = [];
      let firstWrite: () => void;
      const wroteFirst = new Promise<void>((resolve) => (firstWrite = resolve));
      const out = {
        write(text: string) {
          written.push(text);
          firstWrite();
          return true;
        },
      } as unknown as NodeJS.WritableStream;
      const env = { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `${fake.url}/v1` };
      const done = runLlmDirect({ backend: 'openai', model: 'gpt-4o-mini', prompt: 'hi' }, out, llm(env));
      await wroteFirst;
      assert.deepEqual(written, ['direct']);
      fake.release();
      const completion = await done;
      assert.deepEqual(written, ['direct', ' answer']);
      assert.equal(completion.text, 'direct answer');
      assert.equal(completion.outputTokens, 2);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "throws a plain Error with the provider's message",
    async () => {
      const out = { write: () => true } as unknown as NodeJS.WritableStream;
      await assert.rejects(
        () => runLlmDirect({ backend: 'anthropic', model: 'm', prompt: 'p' }, out, llm({})),
        (err: Error) =>
          !(err instanceof LlmError) && /^anthropic: no API key — set ANTHROPIC_API_KEY/.test(err.message),
      );
      fake.enqueue('openai', { status: 401 });
      await assert.rejects(
        () =>
          runLlmDirect(
            { backend: 'openai', model: 'm', prompt: 'p' },
            out,
            llm({ OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `${fake.url}/v1` }),
          ),
        /openai: 401 invalid API key — check OPENAI_API_KEY/,
      );
      await assert.rejects(
        () => runLlmDirect({ backend: 'openai', model: 'm', prompt: '' }, out, llm({})),
        /prompt: is required/,
      );
    },
    TEST_TIMEOUT_MS,
  );
});

describe('parseRetryAfter', () => {
  test(
    'reads retry-after-ms, seconds and HTTP dates',
    () => {
      const now = Date.parse('2030-01-01T00:00:00Z');
      assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '1500' }), now), 1500);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now), 250);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2' }), now), 2000);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': '0.5' }), now), 500);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:30 GMT' }), now), 30_000);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Mon, 31 Dec 2029 23:59:00 GMT' }), now), 0);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now), undefined);
      assert.equal(parseRetryAfter(new Headers(), now), undefined);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an HTTP-date retry-after on a 429 reaches the error',
    async () => {
      const when = new Date(Date.now() + 60_000).toUTCString();
      fake.enqueue('anthropic', { status: 429, headers: { 'retry-after': when } });
      const err = await failureOf(
        createProvider('anthropic', llm({ ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url })).complete({
          model: 'm',
          prompt: 'p',
        }),
      );
      assert.equal(err.kind, 'retryable');
      assert.ok(
        err.retryAfterMs !== undefined && err.retryAfterMs > 50_000 && err.retryAfterMs <= 60_000,
        `retryAfterMs ${err.retryAfterMs}`,
      );
    },
    TEST_TIMEOUT_MS,
  );
});

describe('fake server', () => {
  // The providers always stream; the non-streaming answers are checked here, through the SDKs,
  // so the fake stays faithful to both halves of each protocol.
  test(
    'answers non-streaming requests as each SDK expects',
    async () => {
      fake.enqueue('openai', { chunks: ['whole', ' answer'], usage: { inputTokens: 5, outputTokens: 2 } });
      const openai = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${fake.url}/v1`, maxRetries: 0 });
      const chat = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(chat.choices[0].message.content, 'whole answer');
      assert.equal(chat.usage?.completion_tokens, 2);

      fake.enqueue('anthropic', { chunks: ['whole', ' answer'], usage: { inputTokens: 5, outputTokens: 2 } });
      const anthropic = new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: fake.url, maxRetries: 0 });
      const message = await anthropic.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(message.content.map((block) => (block.type === 'text' ? block.text : ''))).toEqual(['whole answer']);
      assert.equal(message.usage.output_tokens, 2);

      fake.enqueue('ollama', { chunks: ['whole', ' answer'], usage: { inputTokens: 5, outputTokens: 2 } });
      const reply = await new Ollama({ host: fake.url }).chat({
        model: 'llama3.1:8b',
        messages: [{ role: 'user', content: 'hi' }],
        stream: false,
      });
      assert.equal(reply.message.content, 'whole answer');
      assert.equal(reply.eval_count, 2);
      assert.equal(reply.done, true);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'reports an unknown route as a 404 and records every request',
    async () => {
      const response = await fetch(`${fake.url}/v2/nothing`, { method: 'POST', body: '{}' });
      assert.equal(response.status, 404);
      assert.match(
        ((await response.json()) as { error: { message: string } }).error.message,
        /no route for POST \/v2\/nothing/,
      );
      assert.equal(fake.requests.at(-1)?.protocol, 'unknown');
    },
    TEST_TIMEOUT_MS,
  );
});
