/**
 * The providers' one error taxonomy (providers/shared.ts): HTTP answers by status and server
 * message, everything else (refused, reset, aborted, timed out, malformed), `retry-after`,
 * finish reasons and stream error types. Connection failures are real ones: fetch against
 * 127.0.0.1 servers started here.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import { APIConnectionTimeoutError } from '@anthropic-ai/sdk';
import { APIConnectionError, APIConnectionTimeoutError as OpenAiConnectionTimeoutError } from 'openai';
import {
  brokenStream,
  buildProvider,
  cancelled,
  fromHttpStatus,
  fromOtherError,
  missingKey,
  normalizeFinishReason,
  parseRetryAfter,
  statusOfErrorType,
  type BackendSettings,
  type Exchange,
  type HttpFailure,
} from '../../providers/shared.js';
import { LlmError, type LlmErrorKind } from '../../providers/types.js';
import { anthropicSdk } from '../../providers/anthropic.js';
import { openAiSdk } from '../../providers/openai.js';

const OPENAI: BackendSettings = {
  backend: 'openai',
  keyVariable: 'OPENAI_API_KEY',
  urlVariable: 'OPENAI_BASE_URL',
  baseUrl: 'http://127.0.0.1:9/v1',
};
const ANTHROPIC: BackendSettings = {
  backend: 'anthropic',
  keyVariable: 'ANTHROPIC_API_KEY',
  urlVariable: 'ANTHROPIC_BASE_URL',
  baseUrl: 'https://api.anthropic.com',
};
const OLLAMA: BackendSettings = { backend: 'ollama', urlVariable: 'OLLAMA_HOST', baseUrl: 'http://127.0.0.1:11434' };

/** What an LlmError says, in one comparable shape. */
function shape(err: LlmError) {
  expect(err).toBeInstanceOf(LlmError);
  expect(err.name).toBe('LlmError');
  return { kind: err.kind, backend: err.backend, message: err.message, status: err.status, wait: err.retryAfterMs };
}
const expected = (
  kind: LlmErrorKind,
  backend: string,
  message: string,
  status?: number,
  wait?: number,
): ReturnType<typeof shape> => ({ kind, backend: backend as LlmError['backend'], message, status, wait });

describe('fromHttpStatus', () => {
  const http = (settings: BackendSettings, failure: HttpFailure) => shape(fromHttpStatus(settings, failure));

  test.each<[string, BackendSettings, HttpFailure, ReturnType<typeof shape>]>([
    // retried: 429, 408, 409, 5xx; retry-after honoured
    [
      '429 with retry-after in seconds',
      OPENAI,
      { status: 429, serverMessage: 'Rate limit reached', headers: new Headers({ 'retry-after': '3' }) },
      expected(
        'retryable',
        'openai',
        'openai: 429 rate limited — will retry after 3 s (server said: Rate limit reached)',
        429,
        3000,
      ),
    ],
    [
      '429 with retry-after-ms, rounded up to whole seconds in the message',
      ANTHROPIC,
      { status: 429, serverMessage: '', headers: new Headers({ 'retry-after-ms': '1500' }) },
      expected('retryable', 'anthropic', 'anthropic: 429 rate limited — will retry after 2 s', 429, 1500),
    ],
    [
      '429 without a hint',
      OLLAMA,
      { status: 429, serverMessage: 'slow down', headers: null },
      expected(
        'retryable',
        'ollama',
        'ollama: 429 rate limited — will retry with backoff (server said: slow down)',
        429,
      ),
    ],
    [
      '429 with a context-length message is still a rate limit',
      OPENAI,
      { status: 429, serverMessage: 'too many tokens per minute' },
      expected(
        'retryable',
        'openai',
        'openai: 429 rate limited — will retry with backoff (server said: too many tokens per minute)',
        429,
      ),
    ],
    [
      '408',
      OPENAI,
      { status: 408, serverMessage: '' },
      expected('retryable', 'openai', 'openai: 408 request timeout — will retry', 408),
    ],
    [
      '409 with retry-after',
      OPENAI,
      { status: 409, serverMessage: 'busy', headers: new Headers({ 'retry-after': '1' }) },
      expected('retryable', 'openai', 'openai: 409 conflict — will retry (server said: busy)', 409, 1000),
    ],
    ...[500, 502, 503, 529].map((status): [string, BackendSettings, HttpFailure, ReturnType<typeof shape>] => [
      `${status}`,
      ANTHROPIC,
      { status, serverMessage: 'Overloaded' },
      expected(
        'retryable',
        'anthropic',
        `anthropic: ${status} server error — will retry; if it persists, check the server at ` +
          'https://api.anthropic.com (server said: Overloaded)',
        status,
      ),
    ]),
    [
      '503 with retry-after',
      OLLAMA,
      { status: 503, serverMessage: '', headers: new Headers({ 'retry-after': '7' }) },
      expected(
        'retryable',
        'ollama',
        'ollama: 503 server error — will retry; if it persists, check the server at http://127.0.0.1:11434',
        503,
        7000,
      ),
    ],
    // the prompt is too long, whatever 4xx says so
    ...[
      "This model's maximum context length is 8192 tokens",
      'prompt is too long: 210000 tokens > 200000 maximum',
      'input length exceeds the context window',
      'Input is too long for requested model.',
      'the request exceeds the model context',
      'context_length_exceeded',
    ].map((serverMessage): [string, BackendSettings, HttpFailure, ReturnType<typeof shape>] => [
      `400 "${serverMessage}"`,
      OPENAI,
      { status: 400, serverMessage, model: 'gpt-4o' },
      expected(
        'fatal',
        'openai',
        'openai: 400 the prompt is too long for model "gpt-4o" — shorten the prompt (or system text) or lower ' +
          `maxTokens (server said: ${serverMessage})`,
        400,
      ),
    ]),
    [
      '413 saying the context is too long, no model known',
      ANTHROPIC,
      { status: 413, serverMessage: 'too many tokens' },
      expected(
        'fatal',
        'anthropic',
        'anthropic: 413 the prompt is too long for model "?" — shorten the prompt (or system text) or lower ' +
          'maxTokens (server said: too many tokens)',
        413,
      ),
    ],
    // credentials
    [
      '401 with a key',
      OPENAI,
      { status: 401, serverMessage: 'Incorrect API key provided' },
      expected(
        'fatal',
        'openai',
        'openai: 401 invalid API key — check OPENAI_API_KEY (server said: Incorrect API key provided)',
        401,
      ),
    ],
    [
      '401 from a server that takes no key',
      OLLAMA,
      { status: 401, serverMessage: '' },
      expected(
        'fatal',
        'ollama',
        'ollama: 401 unauthorized — the server at OLLAMA_HOST=http://127.0.0.1:11434 wants credentials',
        401,
      ),
    ],
    [
      '403 on a model',
      ANTHROPIC,
      { status: 403, serverMessage: 'nope', model: 'claude-x' },
      expected(
        'fatal',
        'anthropic',
        'anthropic: 403 access denied to model "claude-x" — check that ANTHROPIC_API_KEY may use it ' +
          '(server said: nope)',
        403,
      ),
    ],
    [
      '403 without a key or model',
      OLLAMA,
      { status: 403, serverMessage: '' },
      expected('fatal', 'ollama', 'ollama: 403 access denied — check that your account may use it', 403),
    ],
    // unknown models and wrong URLs
    [
      '404 naming the model (Ollama)',
      OLLAMA,
      { status: 404, serverMessage: 'model "llama9" not found, try pulling it first', model: 'llama9' },
      expected(
        'fatal',
        'ollama',
        'ollama: 404 unknown model "llama9" — pull it with `ollama pull llama9` or pick one from ' +
          '`poc models --backend ollama` (server said: model "llama9" not found, try pulling it first)',
        404,
      ),
    ],
    [
      '404 model_not_found (OpenAI)',
      OPENAI,
      { status: 404, serverMessage: 'The model `gpt-9` does not exist', model: 'gpt-9' },
      expected(
        'fatal',
        'openai',
        'openai: 404 unknown model "gpt-9" — check the name against `poc models --backend openai` ' +
          '(server said: The model `gpt-9` does not exist)',
        404,
      ),
    ],
    [
      '404 whose message contains the model name',
      ANTHROPIC,
      { status: 404, serverMessage: 'claude-x', model: 'claude-x' },
      expected(
        'fatal',
        'anthropic',
        'anthropic: 404 unknown model "claude-x" — check the name against `poc models --backend anthropic` ' +
          '(server said: claude-x)',
        404,
      ),
    ],
    [
      '404 for a model, about something else',
      OPENAI,
      { status: 404, serverMessage: 'page not found', model: 'gpt-4o' },
      expected(
        'fatal',
        'openai',
        'openai: 404 not found — check the model name "gpt-4o" and OPENAI_BASE_URL=http://127.0.0.1:9/v1 ' +
          '(server said: page not found)',
        404,
      ),
    ],
    [
      '404 without a model (OpenAI: the URL needs /v1)',
      OPENAI,
      { status: 404, serverMessage: '' },
      expected(
        'fatal',
        'openai',
        'openai: 404 not found — check OPENAI_BASE_URL=http://127.0.0.1:9/v1 (it must end in /v1)',
        404,
      ),
    ],
    [
      '404 without a model (Anthropic)',
      ANTHROPIC,
      { status: 404, serverMessage: '' },
      expected(
        'fatal',
        'anthropic',
        'anthropic: 404 not found — check ANTHROPIC_BASE_URL=https://api.anthropic.com',
        404,
      ),
    ],
    [
      '400 saying the model is unknown',
      ANTHROPIC,
      { status: 400, serverMessage: 'model: unknown model claude-9', model: 'claude-9' },
      expected(
        'fatal',
        'anthropic',
        'anthropic: 400 unknown model "claude-9" — check the name against `poc models --backend anthropic` ' +
          '(server said: model: unknown model claude-9)',
        400,
      ),
    ],
    // the other 4xx
    [
      '402',
      OPENAI,
      { status: 402, serverMessage: '' },
      expected(
        'fatal',
        'openai',
        'openai: 402 payment required — check the billing of the account behind the key',
        402,
      ),
    ],
    [
      '413',
      OPENAI,
      { status: 413, serverMessage: '' },
      expected('fatal', 'openai', 'openai: 413 request too large — shorten the prompt (or system text)', 413),
    ],
    ...[400, 422].map((status): [string, BackendSettings, HttpFailure, ReturnType<typeof shape>] => [
      `${status}`,
      OLLAMA,
      { status, serverMessage: 'bad temperature' },
      expected(
        'fatal',
        'ollama',
        `ollama: ${status} request rejected — fix the request (model, maxTokens, temperature) ` +
          '(server said: bad temperature)',
        status,
      ),
    ]),
    [
      '418',
      OPENAI,
      { status: 418, serverMessage: '' },
      expected('fatal', 'openai', 'openai: 418 request refused — not retried', 418),
    ],
    [
      'a status below 400',
      OPENAI,
      { status: 302, serverMessage: '', headers: new Headers({ 'retry-after': '2' }) },
      expected('retryable', 'openai', 'openai: 302 unexpected answer — will retry', 302, 2000),
    ],
  ])('%s', (_name, settings, failure, result) => {
    expect(http(settings, failure)).toEqual(result);
  });

  test('the server message is one line, cut at 300 characters', () => {
    const long = `line one\n\n  line\ttwo ${'x'.repeat(400)}`;
    const { message } = fromHttpStatus(OPENAI, { status: 418, serverMessage: long });
    expect(message).toBe(
      `openai: 418 request refused — not retried (server said: line one line two ${'x'.repeat(282)}…)`,
    );
  });
});

describe('fromOtherError', () => {
  // The SDKs load on a provider's first call; from then on their timeout classes are recognised.
  beforeAll(async () => {
    await Promise.all([openAiSdk(), anthropicSdk()]);
  });

  const servers: net.Server[] = [];
  /** A 127.0.0.1 server that does `onData` to each connection once the request arrives. */
  async function server(onData: (socket: net.Socket) => void): Promise<string> {
    const s = net.createServer((socket) => socket.once('data', () => onData(socket)));
    servers.push(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/`;
  }
  /** What fetch throws for `url`. */
  async function fetchError(url: string, init?: RequestInit): Promise<unknown> {
    try {
      await fetch(url, init);
    } catch (err) {
      return err;
    }
    throw new Error(`fetch ${url} succeeded`);
  }
  let refusedUrl: string;

  beforeAll(async () => {
    // A port that was just free: bound, then closed, so nothing listens there.
    const s = net.createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    refusedUrl = `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/`;
    await new Promise((resolve) => s.close(resolve));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  test('a refused connection: is the server running, which variable to check', async () => {
    const err = await fetchError(refusedUrl);
    const settings = { ...OLLAMA, baseUrl: refusedUrl };
    const refused = expected(
      'retryable',
      'ollama',
      `ollama: cannot connect to ${refusedUrl} (connection refused) — is the server running? ` +
        'check OLLAMA_HOST; will retry',
    );
    expect(shape(fromOtherError(settings, err))).toEqual(refused);
    // The same error wrapped by an SDK.
    expect(shape(fromOtherError(settings, new APIConnectionError({ cause: err as Error })))).toEqual(refused);
  });

  test('a reset connection and one closed mid-answer are lost connections', async () => {
    const resetUrl = await server((socket) => socket.resetAndDestroy());
    const closedUrl = await server((socket) => socket.end());
    expect(shape(fromOtherError({ ...OPENAI, baseUrl: resetUrl }, await fetchError(resetUrl)))).toEqual(
      expected(
        'retryable',
        'openai',
        `openai: connection to ${resetUrl} lost (ECONNRESET) — the answer was abandoned and will be retried`,
      ),
    );
    expect(shape(fromOtherError({ ...OPENAI, baseUrl: closedUrl }, await fetchError(closedUrl)))).toEqual(
      expected(
        'retryable',
        'openai',
        `openai: connection to ${closedUrl} lost (UND_ERR_SOCKET) — the answer was abandoned and will be retried`,
      ),
    );
  });

  test('an aborted request is cancelled when the signal says so, whatever the error', async () => {
    const url = await server(() => undefined);
    const controller = new AbortController();
    const pending = fetchError(url, { signal: controller.signal });
    controller.abort();
    const err = await pending;
    expect(shape(fromOtherError(ANTHROPIC, err, controller.signal))).toEqual(
      expected('cancelled', 'anthropic', 'anthropic: request cancelled'),
    );
    expect(shape(fromOtherError(ANTHROPIC, new Error('anything'), controller.signal)).kind).toBe('cancelled');
    // Without the signal an abort is not ours: retried like any unknown error.
    expect(shape(fromOtherError(ANTHROPIC, err))).toEqual(
      expected('retryable', 'anthropic', 'anthropic: This operation was aborted — will retry'),
    );
  });

  test.each<[string, unknown, string]>([
    ['ETIMEDOUT', Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }), 'timed out'],
    [
      'headers timeout, as a cause',
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }),
      }),
      'timed out',
    ],
    ['body timeout', Object.assign(new Error('Body Timeout Error'), { code: 'UND_ERR_BODY_TIMEOUT' }), 'timed out'],
    ['connect timeout', Object.assign(new Error('Connect Timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'timed out'],
    ["Anthropic's SDK timeout", new APIConnectionTimeoutError(), 'timed out'],
    // OpenAI's SDK names it plain `Error`: recognised by its class.
    ["OpenAI's SDK timeout", new OpenAiConnectionTimeoutError(), 'timed out'],
    ["an SDK's timeout as a cause", new Error('wrapped', { cause: new OpenAiConnectionTimeoutError() }), 'timed out'],
    ['ENOTFOUND', Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }), 'unresolved'],
    ['EAI_AGAIN', new TypeError('fetch failed', { cause: { code: 'EAI_AGAIN' } }), 'unresolved'],
  ])('%s', (_name, err, what) => {
    const message =
      what === 'timed out'
        ? 'openai: timed out talking to http://127.0.0.1:9/v1 — check OPENAI_BASE_URL; will retry'
        : 'openai: cannot resolve the host of http://127.0.0.1:9/v1 — check OPENAI_BASE_URL; will retry';
    expect(shape(fromOtherError(OPENAI, err))).toEqual(expected('retryable', 'openai', message));
  });

  test.each<[string, unknown, string]>([
    [
      'another connection code',
      Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }),
      'connection to http://127.0.0.1:11434 lost (EPIPE)',
    ],
    [
      'a code that is not a connection code, with a closed socket',
      Object.assign(new Error('other side closed'), { code: 'ERR_X' }),
      'connection to http://127.0.0.1:11434 failed (other side closed)',
    ],
    [
      'malformed JSON',
      new SyntaxError('Unexpected token < in JSON at position 0'),
      'the server sent malformed JSON (Unexpected token < in JSON at position 0)',
    ],
    [
      'malformed JSON as a cause: the outer message is quoted',
      new Error('could not parse the answer', { cause: new SyntaxError('bad') }),
      'the server sent malformed JSON (could not parse the answer)',
    ],
    [
      'a stream cut: every message of the chain, once',
      new TypeError('terminated', {
        cause: new Error('other side closed', { cause: new Error('other side closed') }),
      }),
      'connection to http://127.0.0.1:11434 failed (terminated: other side closed)',
    ],
    ['socket hang up', new Error('socket hang up'), 'connection to http://127.0.0.1:11434 failed (socket hang up)'],
    [
      "an SDK's connection error without a cause",
      new APIConnectionError({ message: undefined }),
      'connection to http://127.0.0.1:11434 failed (Connection error.)',
    ],
  ])('%s: a broken stream, retried', (_name, err, what) => {
    expect(shape(fromOtherError(OLLAMA, err))).toEqual(
      expected('retryable', 'ollama', `ollama: ${what} — the answer was abandoned and will be retried`),
    );
  });

  test('a context-too-long message without a status is fatal', () => {
    expect(shape(fromOtherError(OLLAMA, new Error('input length exceeds maximum context length')))).toEqual(
      expected(
        'fatal',
        'ollama',
        "ollama: the prompt is too long for the model's context — shorten it or lower maxTokens " +
          '(server said: input length exceeds maximum context length)',
      ),
    );
  });

  test.each<[string, unknown, string]>([
    ['an unknown error', new Error('something odd\nhappened'), 'ollama: something odd happened — will retry'],
    ['a string', 'boom', 'ollama: boom — will retry'],
    ['null', null, 'ollama: null — will retry'],
    ['a long message', new Error('y'.repeat(400)), `ollama: ${'y'.repeat(300)}… — will retry`],
  ])('%s is retried', (_name, err, message) => {
    expect(shape(fromOtherError(OLLAMA, err))).toEqual(expected('retryable', 'ollama', message));
  });

  test('an LlmError passes through unchanged', () => {
    const err = new LlmError('fatal', 'openai', 'openai: already mapped', 400);
    expect(fromOtherError(OLLAMA, err)).toBe(err);
  });

  test('a cause chain that loops is followed a bounded number of steps', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(fromOtherError(OLLAMA, a).message).toBe('ollama: a — will retry');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  const at = (headers: Record<string, string>) => parseRetryAfter(new Headers(headers), now);

  test.each<[Record<string, string>, number | undefined]>([
    [{}, undefined],
    [{ 'retry-after-ms': '1500' }, 1500],
    [{ 'retry-after-ms': ' 20 ' }, 20],
    [{ 'retry-after-ms': '1500.6' }, 1501],
    [{ 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    [{ 'retry-after-ms': 'soon', 'retry-after': '9' }, 9000],
    [{ 'retry-after': '3' }, 3000],
    [{ 'retry-after': '0' }, 0],
    [{ 'retry-after': '1.5' }, 1500],
    [{ 'retry-after': 'Sun, 01 Mar 2026 12:00:05 GMT' }, 5000],
    [{ 'retry-after': 'Sun, 01 Mar 2026 11:00:00 GMT' }, 0],
    [{ 'retry-after': '' }, undefined],
    [{ 'retry-after': 'soon' }, undefined],
    [{ 'retry-after': '3 s' }, undefined],
    [{ 'retry-after': '1e3' }, undefined],
    [{ 'retry-after': 'Infinity' }, undefined],
    // Junk is no value, not "retry now" (a lenient date parser reads some of it as a year long past).
    [{ 'retry-after': '-1' }, undefined],
    [{ 'retry-after': '1.' }, undefined],
    [{ 'retry-after': '.5' }, undefined],
    [{ 'retry-after': 'abc' }, undefined],
    [{ 'retry-after': '+5' }, undefined],
    [{ 'retry-after': '5,' }, undefined],
    [{ 'retry-after': '1 2' }, undefined],
    [{ 'retry-after': 'Mar 1 2026' }, undefined],
    [{ 'retry-after': '2026-03-01T12:00:05Z' }, undefined],
    [{ 'retry-after-ms': '-1' }, undefined],
    [{ 'retry-after-ms': '.5' }, undefined],
    [{ 'retry-after-ms': '-1', 'retry-after': '2' }, 2000],
    // The HTTP date's obsolete forms count too (asctime's is GMT).
    [{ 'retry-after': 'Sunday, 01-Mar-26 12:00:05 GMT' }, 5000],
    [{ 'retry-after': 'Sun Mar  1 12:00:07 2026' }, 7000],
  ])('%j → %s', (headers, ms) => {
    expect(at(headers)).toBe(ms);
  });

  test('no headers at all', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe('the small vocabularies', () => {
  test.each<[string | null | undefined, string]>([
    ['stop', 'stop'],
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['length', 'length'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool'],
    ['tool_calls', 'tool'],
    ['content_filter', 'content_filter'],
    [null, 'unknown'],
    [undefined, 'unknown'],
  ])('finish reason %j → %s', (reason, normal) => {
    expect(normalizeFinishReason(reason)).toBe(normal);
  });

  test.each<[string | null | undefined, number | undefined]>([
    ['invalid_request_error', 400],
    ['authentication_error', 401],
    ['permission_error', 403],
    ['not_found_error', 404],
    ['request_too_large', 413],
    ['rate_limit_error', 429],
    ['rate_limit_exceeded', 429],
    ['timeout_error', 504],
    ['overloaded_error', 529],
    ['api_error', 500],
    ['server_error', 500],
    ['something_new', undefined],
    [null, undefined],
    [undefined, undefined],
  ])('stream error type %j → status %s', (type, status) => {
    expect(statusOfErrorType(type)).toBe(status);
  });

  test('a missing key names the variable (and, for OpenAI, the base URL for compatible servers)', () => {
    expect(shape(missingKey(OPENAI))).toEqual(
      expected(
        'fatal',
        'openai',
        'openai: no API key — set OPENAI_API_KEY (and OPENAI_BASE_URL for an OpenAI-compatible server)',
      ),
    );
    expect(shape(missingKey(ANTHROPIC))).toEqual(
      expected('fatal', 'anthropic', 'anthropic: no API key — set ANTHROPIC_API_KEY'),
    );
  });

  test('cancelled and broken streams', () => {
    expect(shape(cancelled('ollama'))).toEqual(expected('cancelled', 'ollama', 'ollama: request cancelled'));
    expect(shape(brokenStream('openai', 'the stream ended early'))).toEqual(
      expected('retryable', 'openai', 'openai: the stream ended early — the answer was abandoned and will be retried'),
    );
  });
});

describe('buildProvider', () => {
  const exchange: Exchange = async function* (request) {
    yield `${request.model}:`;
    const last = request.messages[request.messages.length - 1];
    yield last.text;
    const toolCalls = last.text === 'tools' ? [{ id: 'c1', name: 'list_runs', input: {} }] : [];
    return { finishReason: 'stop', inputTokens: 3, outputTokens: 2, model: `${request.model}-2024`, toolCalls };
  };
  const models = async () => ['a', 'b'];

  test('complete() gathers the streamed text, hands each piece to onText and returns the usage', async () => {
    const provider = buildProvider('ollama', exchange, models);
    const pieces: string[] = [];
    const completion = await provider.complete({ model: 'm', prompt: 'hi', onText: (t) => pieces.push(t) });
    expect(pieces).toEqual(['m:', 'hi']);
    const { latencyMs, ...rest } = completion;
    expect(rest).toEqual({ text: 'm:hi', finishReason: 'stop', inputTokens: 3, outputTokens: 2, model: 'm-2024' });
    expect(latencyMs).toBeGreaterThanOrEqual(0);
    expect(provider.backend).toBe('ollama');
    expect(await provider.listModels()).toEqual(['a', 'b']);
  });

  test('converse() is the same exchange with messages in, and the tool calls out', async () => {
    const provider = buildProvider('openai', exchange, models);
    const reply = await provider.converse({ model: 'm', messages: [{ role: 'user', text: 'tools' }] });
    expect(reply.text).toBe('m:tools');
    expect(reply.toolCalls).toEqual([{ id: 'c1', name: 'list_runs', input: {} }]);
    const completion = await provider.complete({ model: 'm', prompt: 'tools' });
    expect('toolCalls' in completion).toBe(false);
  });

  test('stream() yields the same pieces; an exchange that throws fails both', async () => {
    const provider = buildProvider('openai', exchange, models);
    const pieces: string[] = [];
    for await (const piece of provider.stream({ model: 'm', prompt: 'yo' })) pieces.push(piece);
    expect(pieces).toEqual(['m:', 'yo']);

    const failing = buildProvider(
      'openai',
      // eslint-disable-next-line require-yield
      async function* () {
        throw brokenStream('openai', 'cut');
      },
      models,
    );
    await expect(failing.complete({ model: 'm', prompt: 'p' })).rejects.toThrow(
      'openai: cut — the answer was abandoned and will be retried',
    );
  });
});
