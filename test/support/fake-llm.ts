/**
 * One local HTTP server speaking the wire protocols of OpenAI (`/v1/chat/completions`,
 * `/v1/models`), Anthropic (`/v1/messages`, `/v1/models` with an `anthropic-version` header) and
 * Ollama (`/api/chat`, `/api/tags`), so the real SDKs can be tested without the internet.
 *
 * Each protocol has a queue of behaviours (status, headers, delays, stalls, malformed JSON,
 * chunked answers, tool calls); a request takes the head of its protocol's queue, or the default
 * behaviour when the queue is empty, and `respond` may compute the answer from the request (a
 * reply that quotes a tool result). Tool calling speaks each protocol's own form (OpenAI
 * `tool_calls` deltas, Anthropic `tool_use` blocks with `input_json_delta`, Ollama whole
 * `tool_calls`), and a conversation that breaks a protocol's rules (a tool result without its
 * call, a call left unanswered, roles out of turn) gets the 400 the real service would send.
 * Every request is recorded, and the server emits events tests wait on: `request`, `chunk`,
 * `finished`, `aborted` (the client closed before the answer was complete).
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
  /** Tool calls the answer makes, after its text (no text by default when there are calls). */
  toolCalls?: FakeToolCall[];
  /** Computes the rest of the behaviour from the request (merged over the queued one). */
  respond?: (request: RecordedRequest) => Behaviour;
}

export interface FakeToolCall {
  /** Default: a fresh id in the protocol's style (`call_…`, `toolu_…`; Ollama sends none). */
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
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

  /**
   * Requests a provider would bill in full: answers (POST, status 200) sent to the end. A request
   * the client closed early is not among them; `aborted` tells those apart.
   */
  billed(match: (request: RecordedRequest) => boolean = () => true): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === 'POST' && r.finished && !r.aborted && (r.behaviour.status ?? 200) < 400 && match(r),
    );
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
    let behaviour: Behaviour =
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
    if (behaviour.respond) {
      behaviour = { ...behaviour, ...behaviour.respond(record) };
      record.behaviour = behaviour;
    }
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

    const problem = method === 'POST' ? conversationProblem(protocol, body) : undefined;
    if (problem) {
      behaviour = { ...behaviour, status: 400, message: problem, errorType: undefined };
      record.behaviour = behaviour;
    }
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

    const toolCalls = (behaviour.toolCalls ?? []).map((call, i) => ({
      ...call,
      id: call.id ?? `${protocol === 'anthropic' ? 'toolu' : 'call'}_fake${record.id}_${i}`,
    }));
    const chunks = behaviour.chunks ?? (toolCalls.length ? [] : DEFAULT_CHUNKS);
    const answer: Answer = {
      model,
      chunks,
      toolCalls,
      inputTokens: behaviour.usage?.inputTokens ?? 12,
      outputTokens: behaviour.usage?.outputTokens ?? chunks.length + toolCalls.length * 10,
      finishReason: behaviour.finishReason ?? defaultFinishReason(protocol, toolCalls.length > 0),
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
  toolCalls: Required<FakeToolCall>[];
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

function defaultFinishReason(protocol: Protocol, calls: boolean): string {
  if (protocol === 'anthropic') return calls ? 'tool_use' : 'end_turn';
  return calls && protocol === 'openai' ? 'tool_calls' : 'stop';
}

const argumentsJson = (call: FakeToolCall) => JSON.stringify(call.arguments);

/** The JSON of a tool call's arguments in two fragments, as streams send it. */
function fragments(call: FakeToolCall): string[] {
  const json = argumentsJson(call);
  const half = Math.ceil(json.length / 2);
  return [json.slice(0, half), json.slice(half)].filter(Boolean);
}

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
            message: {
              role: 'assistant',
              content: text || (a.toolCalls.length ? null : ''),
              refusal: null,
              ...(a.toolCalls.length
                ? {
                    tool_calls: a.toolCalls.map((call) => ({
                      id: call.id,
                      type: 'function',
                      function: { name: call.name, arguments: argumentsJson(call) },
                    })),
                  }
                : {}),
            },
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
        content: [
          ...(text || !a.toolCalls.length ? [{ type: 'text', text }] : []),
          ...a.toolCalls.map((call) => ({ type: 'tool_use', id: call.id, name: call.name, input: call.arguments })),
        ],
        stop_reason: a.finishReason,
        stop_sequence: null,
        usage: { input_tokens: a.inputTokens, output_tokens: a.outputTokens },
      };
    case 'ollama':
      return {
        ...ollamaLine(a.model, text, false),
        ...(a.toolCalls.length ? { message: ollamaMessage(text, a.toolCalls) } : {}),
        ...ollamaDone(a),
      };
  }
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

function ollamaMessage(content: string, calls: FakeToolCall[] = []) {
  return {
    role: 'assistant',
    content,
    ...(calls.length
      ? { tool_calls: calls.map((call) => ({ function: { name: call.name, arguments: call.arguments } })) }
      : {}),
  };
}

function ollamaLine(model: string, content: string, done: boolean) {
  return { model, created_at: new Date().toISOString(), message: ollamaMessage(content), done };
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
      const calls = a.toolCalls.flatMap((call, index) => [
        sse(
          choice(
            { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] },
            null,
          ),
        ),
        ...fragments(call).map((piece) =>
          sse(choice({ tool_calls: [{ index, function: { arguments: piece } }] }, null)),
        ),
      ]);
      return {
        head: [sse(choice({ role: 'assistant', content: '' }, null))],
        chunk: (text) => sse(choice({ content: text }, null)),
        tail: [
          ...calls,
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
    case 'anthropic': {
      const toolBlocks = a.toolCalls.flatMap((call, i) => {
        const index = i + 1;
        return [
          sse(
            {
              type: 'content_block_start',
              index,
              content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
            },
            'content_block_start',
          ),
          ...fragments(call).map((partial_json) =>
            sse(
              { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } },
              'content_block_delta',
            ),
          ),
          sse({ type: 'content_block_stop', index }, 'content_block_stop'),
        ];
      });
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
          ...toolBlocks,
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
    }
    case 'ollama':
      return {
        head: [],
        chunk: (text) => JSON.stringify(ollamaLine(a.model, text, false)) + '\n',
        tail: [
          ...(a.toolCalls.length
            ? [JSON.stringify({ ...ollamaLine(a.model, '', false), message: ollamaMessage('', a.toolCalls) }) + '\n']
            : []),
          JSON.stringify({ ...ollamaLine(a.model, '', true), ...ollamaDone(a) }) + '\n',
        ],
      };
  }
}

type Json = Record<string, unknown>;

/**
 * What the real service would refuse with a 400 in a conversation's messages, or undefined: the
 * rules of each protocol that tool calling depends on, so a provider that breaks them fails here
 * as it would in production.
 */
export function conversationProblem(protocol: Protocol, body: Json | undefined): string | undefined {
  const messages = body?.messages;
  if (!Array.isArray(messages) || messages.length === 0) return 'messages: at least one message is required';
  const tools = body?.tools;
  if (tools !== undefined && !Array.isArray(tools)) return 'tools: must be an array';
  for (const tool of (tools as Json[] | undefined) ?? []) {
    const fn = protocol === 'anthropic' ? tool : (tool.function as Json | undefined);
    const schema = protocol === 'anthropic' ? tool.input_schema : fn?.parameters;
    if (typeof fn?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(fn.name)) return 'tools: each tool needs a name';
    if (!schema || (schema as Json).type !== 'object') return `tools.${String(fn.name)}: the schema must be an object`;
  }
  return protocol === 'openai'
    ? openAiProblem(messages as Json[])
    : protocol === 'anthropic'
      ? anthropicProblem(messages as Json[])
      : undefined;
}

function openAiProblem(messages: Json[]): string | undefined {
  let open: string[] = [];
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool') {
      const id = m.tool_call_id;
      if (typeof id !== 'string' || !open.includes(id))
        return (
          `messages.[${i}].role: messages with role 'tool' must be a response to a preceeding message ` +
          "with 'tool_calls'"
        );
      open = open.filter((o) => o !== id);
      continue;
    }
    if (open.length)
      return (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each " +
        `'tool_call_id'. The following tool_call_ids did not have response messages: ${open.join(', ')}`
      );
    if (m.role === 'assistant' && Array.isArray(m.tool_calls)) open = (m.tool_calls as Json[]).map((c) => String(c.id));
  }
  return undefined;
}

function anthropicProblem(messages: Json[]): string | undefined {
  let expected = 'user';
  let open: string[] = [];
  for (const [i, m] of messages.entries()) {
    if (m.role !== expected)
      return `messages: roles must alternate between "user" and "assistant", starting with "user" (at ${i})`;
    const blocks: Json[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : (m.content as Json[]);
    if (!Array.isArray(blocks) || blocks.length === 0) return `messages.${i}: content must not be empty`;
    for (const block of blocks) {
      if (block.type === 'text' && !String(block.text ?? '').trim())
        return `messages.${i}: text content blocks must be non-empty`;
    }
    if (m.role === 'user') {
      const results = blocks.filter((b) => b.type === 'tool_result').map((b) => String(b.tool_use_id));
      const unknown = results.find((id) => !open.includes(id));
      if (unknown)
        return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unknown}`;
      const missing = open.find((id) => !results.includes(id));
      if (missing)
        return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks right after: ${missing}`;
      const firstOther = blocks.findIndex((b) => b.type !== 'tool_result');
      if (firstOther >= 0 && blocks.slice(firstOther).some((b) => b.type === 'tool_result'))
        return `messages.${i}: tool_result blocks must come first in the content`;
      open = [];
    } else {
      open = blocks.filter((b) => b.type === 'tool_use').map((b) => String(b.id));
    }
    expected = expected === 'user' ? 'assistant' : 'user';
  }
  return undefined;
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
