/**
 * One local HTTP server speaking the wire protocols of OpenAI (`/v1/chat/completions`,
 * `/v1/models`), Anthropic (`/v1/messages`, `/v1/models` with an `anthropic-version` header) and
 * Ollama (`/api/chat`, `/api/tags`), so the real SDKs can be tested without the internet.
 *
 * Each protocol has a queue of behaviours (status, headers, delays, stalls, malformed JSON,
 * chunked answers); a request takes the head of its protocol's queue, or the default behaviour
 * when the queue is empty. Every request is recorded, and the server emits events tests wait on:
 * `request`, `chunk`, `finished`, `aborted` (the client closed before the answer was complete).
 */
import { EventEmitter } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Protocol = 'openai' | 'anthropic' | 'ollama';

export interface Behaviour {
  /** HTTP status; errors (>= 400) get the protocol's error body. Default 200. */
  status?: number;
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
  /** Wait this long before the status line and headers. */
  headersDelayMs?: number;
  /** Never send headers: the request hangs until the client gives up. */
  stallBeforeHeaders?: boolean;
  /** The answer, as the chunks the stream sends. Default `['Hello', ', ', 'world', '!']`. */
  chunks?: string[];
  /** Pause between chunks. */
  chunkDelayMs?: number;
  /**
   * Before the first chunk, send only keep-alive bytes for this long (SSE comments for OpenAI and
   * Anthropic, blank lines for Ollama): a slow model thinking, the connection alive.
   */
  keepAliveForMs?: number;
  /** How often those bytes come (default 200 ms). */
  keepAliveEveryMs?: number;
  /** While paused (`pauseAfterChunks`), send keep-alive bytes too: a live connection, no text. */
  keepAliveWhilePaused?: boolean;
  /** After this many chunks, hang forever (headers already sent). */
  stallAfterChunks?: number;
  /** After this many chunks, wait until `release()`. */
  pauseAfterChunks?: number;
  /** After this many chunks, destroy the connection (a server or network failure). */
  dropAfterChunks?: number;
  /** Send a body that is not valid JSON (after the headers of a 200). */
  malformed?: boolean;
  usage?: { inputTokens: number; outputTokens: number };
  /** The protocol's own word (`stop`, `end_turn`, `length`, …). */
  finishReason?: string;
  /** Error message (for status >= 400); a default per status otherwise. */
  message?: string;
  /** Error type / code in the body (OpenAI `type`/`code`, Anthropic `error.type`). */
  errorType?: string;
  errorCode?: string;
  /** Model reported in the answer; default: the requested one. */
  model?: string;
}

export interface RecordedRequest {
  id: number;
  /** `Date.now()` when the request had arrived whole. */
  receivedAt: number;
  protocol: Protocol | 'unknown';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined for GET or unparsable bodies). */
  body: Record<string, unknown> | undefined;
  stream: boolean;
  behaviour: Behaviour;
  /** Chunks of answer text sent so far. */
  chunksSent: number;
  finished: boolean;
  /** The client closed the connection before the response was complete. */
  aborted: boolean;
  /** `Date.now()` when the server saw that close. */
  abortedAt: number | null;
}

export interface ChunkEvent {
  request: RecordedRequest;
  index: number;
  text: string;
}

export const DEFAULT_CHUNKS = ['Hello', ', ', 'world', '!'];
export const DEFAULT_MODELS: Record<Protocol, string[]> = {
  openai: ['gpt-4o-mini', 'gpt-4o'],
  anthropic: ['claude-sonnet-4-5', 'claude-haiku-4-5'],
  ollama: ['llama3.1:8b', 'qwen2.5:0.5b'],
};

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Resolves when `signal` aborts. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

const DEFAULT_ERROR: Record<number, { message: string; openai: string; anthropic: string }> = {
  400: { message: 'Invalid request', openai: 'invalid_request_error', anthropic: 'invalid_request_error' },
  401: { message: 'Incorrect API key provided', openai: 'invalid_request_error', anthropic: 'authentication_error' },
  403: { message: 'Permission denied', openai: 'invalid_request_error', anthropic: 'permission_error' },
  404: { message: 'Not found', openai: 'invalid_request_error', anthropic: 'not_found_error' },
  408: { message: 'Request timeout', openai: 'timeout', anthropic: 'timeout_error' },
  429: { message: 'Rate limit reached for requests', openai: 'requests', anthropic: 'rate_limit_error' },
  500: {
    message: 'The server had an error while processing your request',
    openai: 'server_error',
    anthropic: 'api_error',
  },
  503: { message: 'Service unavailable', openai: 'server_error', anthropic: 'api_error' },
  529: { message: 'Overloaded', openai: 'server_error', anthropic: 'overloaded_error' },
};

export class FakeLlmServer extends EventEmitter {
  readonly requests: RecordedRequest[] = [];
  /** Served when a protocol's queue is empty. */
  defaultBehaviour: Behaviour = {};
  models: Record<Protocol, string[]> = structuredClone(DEFAULT_MODELS);
  private readonly queues: Record<Protocol, Behaviour[]> = { openai: [], anthropic: [], ollama: [] };
  private readonly server: http.Server;
  private releaseWaiters: (() => void)[] = [];
  /** One per response in progress; `close()` ends them all. */
  private readonly inProgress = new Set<AbortController>();
  private closed = false;
  private nextId = 1;
  port = 0;

  constructor() {
    super();
    this.setMaxListeners(0);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake server bug: ${(err as Error).stack}`);
      });
    });
  }

  /** Base URL, `http://127.0.0.1:<port>` (OpenAI clients add `/v1`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Queues behaviours for the next requests of a protocol, in order. */
  enqueue(protocol: Protocol, ...behaviours: Behaviour[]): void {
    this.queues[protocol].push(...behaviours);
  }

  pending(protocol: Protocol): number {
    return this.queues[protocol].length;
  }

  /** Forgets queued behaviours and the default (not the request record). */
  reset(): void {
    for (const queue of Object.values(this.queues)) queue.length = 0;
    this.defaultBehaviour = {};
  }

  /** Lets every response paused by `pauseAfterChunks` go on. */
  release(): void {
    const waiters = this.releaseWaiters;
    this.releaseWaiters = [];
    for (const wake of waiters) wake();
  }

  requestsTo(protocol: Protocol | 'unknown', path?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.protocol === protocol && (path === undefined || r.path === path));
  }

  /** Resolves with the next `event` whose payload matches (register before causing it). */
  next<T = RecordedRequest>(
    event: 'request' | 'chunk' | 'finished' | 'aborted',
    match: (payload: T) => boolean = () => true,
  ): Promise<T> {
    return new Promise((resolve) => {
      const listener = (payload: T) => {
        if (!match(payload)) return;
        this.off(event, listener);
        resolve(payload);
      };
      this.on(event, listener);
    });
  }

  /** Resolves once the client has closed this request early (at once when it already has). */
  whenAborted(request: RecordedRequest): Promise<RecordedRequest> {
    if (request.aborted) return Promise.resolve(request);
    return this.next<RecordedRequest>('aborted', (r) => r.id === request.id);
  }

  /** Ends every connection and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    for (const response of this.inProgress) response.abort();
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await new Promise<string>((resolve, reject) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      req.on('error', reject);
    });
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    const protocol = protocolOf(method, path, req.headers);
    const behaviour =
      protocol === 'unknown' ? {} : { ...this.defaultBehaviour, ...(this.queues[protocol].shift() ?? {}) };
    const stream = protocol === 'ollama' ? body?.stream !== false : body?.stream === true;
    const record: RecordedRequest = {
      id: this.nextId++,
      receivedAt: Date.now(),
      protocol,
      method,
      path,
      headers: req.headers,
      body,
      stream,
      behaviour,
      chunksSent: 0,
      finished: false,
      aborted: false,
      abortedAt: null,
    };
    this.requests.push(record);

    // Ends with the response or the connection: every wait below gives up then.
    const gone = new AbortController();
    let droppedByUs = false;
    res.on('finish', () => {
      record.finished = true;
      this.emit('finished', record);
    });
    res.on('close', () => {
      if (!record.finished && !droppedByUs && !this.closed) {
        record.aborted = true;
        record.abortedAt = Date.now();
        this.emit('aborted', record);
      }
      gone.abort();
      this.inProgress.delete(gone);
    });
    this.inProgress.add(gone);
    this.emit('request', record);

    if (protocol === 'unknown') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { message: `fake server: no route for ${method} ${path}`, type: 'invalid_request_error' },
        }),
      );
      return;
    }
    if (behaviour.headersDelayMs) await sleep(behaviour.headersDelayMs, gone.signal);
    if (behaviour.stallBeforeHeaders) await untilAborted(gone.signal);
    if (gone.signal.aborted) return;

    const status = behaviour.status ?? 200;
    if (status >= 400) {
      res.writeHead(status, { 'content-type': 'application/json', ...behaviour.headers });
      res.end(JSON.stringify(errorBody(protocol, status, behaviour)));
      return;
    }

    const model = behaviour.model ?? (typeof body?.model === 'string' ? body.model : DEFAULT_MODELS[protocol][0]);
    const isList = method === 'GET';
    if (isList) {
      res.writeHead(200, { 'content-type': 'application/json', ...behaviour.headers });
      res.end(behaviour.malformed ? '{"data": [' : JSON.stringify(modelList(protocol, this.models[protocol])));
      return;
    }

    const chunks = behaviour.chunks ?? DEFAULT_CHUNKS;
    const answer: Answer = {
      model,
      chunks,
      inputTokens: behaviour.usage?.inputTokens ?? 12,
      outputTokens: behaviour.usage?.outputTokens ?? chunks.length,
      finishReason: behaviour.finishReason ?? (protocol === 'anthropic' ? 'end_turn' : 'stop'),
      includeUsage: (body?.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
    };

    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json', ...behaviour.headers });
      res.end(behaviour.malformed ? '{"id": "broken", "choices": [' : JSON.stringify(wholeAnswer(protocol, answer)));
      return;
    }

    const contentType = protocol === 'ollama' ? 'application/x-ndjson' : 'text/event-stream';
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', ...behaviour.headers });
    res.flushHeaders();
    const frames = streamFrames(protocol, answer);
    const send = (frame: string) => {
      if (!gone.signal.aborted) res.write(frame);
    };
    if (behaviour.malformed) {
      send(malformedFrame(protocol));
      res.end();
      return;
    }
    for (const frame of frames.head) send(frame);
    if (behaviour.keepAliveForMs) {
      const until = Date.now() + behaviour.keepAliveForMs;
      while (Date.now() < until && !gone.signal.aborted) {
        send(protocol === 'ollama' ? '\n' : ': keep-alive\n\n');
        await sleep(behaviour.keepAliveEveryMs ?? 200, gone.signal);
      }
    }
    for (let index = 0; index < chunks.length; index++) {
      if (index > 0 && behaviour.chunkDelayMs) await sleep(behaviour.chunkDelayMs, gone.signal);
      if (gone.signal.aborted) return;
      send(frames.chunk(chunks[index], index));
      record.chunksSent = index + 1;
      this.emit('chunk', { request: record, index, text: chunks[index] } satisfies ChunkEvent);
      const sent = index + 1;
      if (behaviour.dropAfterChunks === sent) {
        droppedByUs = true;
        res.socket?.destroy();
        return;
      }
      if (behaviour.stallAfterChunks === sent) {
        await untilAborted(gone.signal);
        return;
      }
      if (behaviour.pauseAfterChunks === sent) {
        const keepAlive = behaviour.keepAliveWhilePaused
          ? setInterval(
              () => send(protocol === 'ollama' ? '\n' : ': keep-alive\n\n'),
              behaviour.keepAliveEveryMs ?? 200,
            )
          : undefined;
        await Promise.race([
          new Promise<void>((resolve) => this.releaseWaiters.push(resolve)),
          untilAborted(gone.signal),
        ]);
        clearInterval(keepAlive);
      }
    }
    if (gone.signal.aborted) return;
    for (const frame of frames.tail) send(frame);
    res.end();
  }
}

export async function startFakeLlm(): Promise<FakeLlmServer> {
  return new FakeLlmServer().listen();
}

function protocolOf(method: string, path: string, headers: IncomingHttpHeaders): Protocol | 'unknown' {
  if (method === 'POST' && path === '/v1/chat/completions') return 'openai';
  if (method === 'POST' && path === '/v1/messages') return 'anthropic';
  if (method === 'GET' && path === '/v1/models') return headers['anthropic-version'] ? 'anthropic' : 'openai';
  if (method === 'POST' && path === '/api/chat') return 'ollama';
  if (method === 'GET' && path === '/api/tags') return 'ollama';
  return 'unknown';
}

interface Answer {
  model: string;
  chunks: string[];
  inputTokens: number;
  outputTokens: number;
  finishReason: string;
  includeUsage: boolean;
}

function errorBody(protocol: Protocol, status: number, b: Behaviour): unknown {
  const fallback = DEFAULT_ERROR[status] ?? {
    message: `HTTP ${status}`,
    openai: 'invalid_request_error',
    anthropic: 'api_error',
  };
  const message = b.message ?? fallback.message;
  switch (protocol) {
    case 'openai':
      return { error: { message, type: b.errorType ?? fallback.openai, param: null, code: b.errorCode ?? null } };
    case 'anthropic':
      return { type: 'error', error: { type: b.errorType ?? fallback.anthropic, message } };
    case 'ollama':
      return { error: message };
  }
}

function modelList(protocol: Protocol, models: string[]): unknown {
  switch (protocol) {
    case 'openai':
      return {
        object: 'list',
        data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'system' })),
      };
    case 'anthropic':
      return {
        data: models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' })),
        has_more: false,
        first_id: models[0] ?? null,
        last_id: models.at(-1) ?? null,
      };
    case 'ollama':
      return {
        models: models.map((name) => ({
          name,
          model: name,
          modified_at: '2025-01-01T00:00:00Z',
          size: 1_000_000,
          digest: 'sha256:0',
          details: { format: 'gguf', family: 'llama', parameter_size: '8B', quantization_level: 'Q4_0' },
        })),
      };
  }
}

const created = () => Math.floor(Date.now() / 1000);

function wholeAnswer(protocol: Protocol, a: Answer): unknown {
  const text = a.chunks.join('');
  switch (protocol) {
    case 'openai':
      return {
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        created: created(),
        model: a.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: text, refusal: null },
            finish_reason: a.finishReason,
            logprobs: null,
          },
        ],
        usage: {
          prompt_tokens: a.inputTokens,
          completion_tokens: a.outputTokens,
          total_tokens: a.inputTokens + a.outputTokens,
        },
      };
    case 'anthropic':
      return {
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        model: a.model,
        content: [{ type: 'text', text }],
        stop_reason: a.finishReason,
        stop_sequence: null,
        usage: { input_tokens: a.inputTokens, output_tokens: a.outputTokens },
      };
    case 'ollama':
      return { ...ollamaLine(a.model, text, false), ...ollamaDone(a) };
  }
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

function ollamaLine(model: string, content: string, done: boolean) {
  return { model, created_at: new Date().toISOString(), message: { role: 'assistant', content }, done };
}

function ollamaDone(a: Answer) {
  return {
    done: true,
    done_reason: a.finishReason,
    total_duration: 1_000_000,
    load_duration: 1_000,
    prompt_eval_count: a.inputTokens,
    prompt_eval_duration: 1_000,
    eval_count: a.outputTokens,
    eval_duration: 1_000,
  };
}

function streamFrames(
  protocol: Protocol,
  a: Answer,
): { head: string[]; chunk: (text: string, index: number) => string; tail: string[] } {
  switch (protocol) {
    case 'openai': {
      const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: created(), model: a.model };
      const choice = (delta: object, finish: string | null) => ({
        ...base,
        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      });
      return {
        head: [sse(choice({ role: 'assistant', content: '' }, null))],
        chunk: (text) => sse(choice({ content: text }, null)),
        tail: [
          sse(choice({}, a.finishReason)),
          ...(a.includeUsage
            ? [
                sse({
                  ...base,
                  choices: [],
                  usage: {
                    prompt_tokens: a.inputTokens,
                    completion_tokens: a.outputTokens,
                    total_tokens: a.inputTokens + a.outputTokens,
                  },
                }),
              ]
            : []),
          sse('[DONE]'),
        ],
      };
    }
    case 'anthropic':
      return {
        head: [
          sse(
            {
              type: 'message_start',
              message: {
                id: 'msg_fake',
                type: 'message',
                role: 'assistant',
                model: a.model,
                content: [],
                stop_reason: null,
                stop_sequence: null,
                usage: { input_tokens: a.inputTokens, output_tokens: 1 },
              },
            },
            'message_start',
          ),
          sse(
            { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
            'content_block_start',
          ),
          sse({ type: 'ping' }, 'ping'),
        ],
        chunk: (text) =>
          sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
        tail: [
          sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
          sse(
            {
              type: 'message_delta',
              delta: { stop_reason: a.finishReason, stop_sequence: null },
              usage: { output_tokens: a.outputTokens },
            },
            'message_delta',
          ),
          sse({ type: 'message_stop' }, 'message_stop'),
        ],
      };
    case 'ollama':
      return {
        head: [],
        chunk: (text) => JSON.stringify(ollamaLine(a.model, text, false)) + '\n',
        tail: [JSON.stringify({ ...ollamaLine(a.model, '', true), ...ollamaDone(a) }) + '\n'],
      };
  }
}

function malformedFrame(protocol: Protocol): string {
  switch (protocol) {
    case 'openai':
      return 'data: {"id":"chatcmpl-fake","choices":[{"delta":{"content":"Hel\n\n';
    case 'anthropic':
      return 'event: message_start\ndata: {"type":"message_start","message":{"id":\n\n';
    case 'ollama':
      return '{"model":"x","message":{"content":"Hel\n';
  }
}
