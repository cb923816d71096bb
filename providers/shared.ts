/**
 * What the three providers share: one error taxonomy over three SDKs' errors, `retry-after`
 * parsing, and `complete`/`stream` built on one streamed exchange, so every call streams (no
 * header timeout can cut a long answer) whichever method the caller picked.
 */
import type { ChatToolCall, LlmBackend } from '../core/contract.js';
import {
  LlmError,
  type Completion,
  type CompletionRequest,
  type ConversationReply,
  type ConversationRequest,
  type LlmProvider,
} from './types.js';

/** The SDKs' connection-timeout error classes, known once each SDK is loaded (see loadOnce). */
const timeoutErrorClasses = new Set<abstract new (...args: never[]) => Error>();

export function knowTimeoutError(errorClass: abstract new (...args: never[]) => Error): void {
  timeoutErrorClasses.add(errorClass);
}

/** What a finished stream tells besides its text. */
export interface StreamEnd {
  finishReason: string;
  inputTokens: number;
  outputTokens: number;
  model: string;
  toolCalls: ChatToolCall[];
}

/** One streamed exchange: yields text as it arrives, returns usage, finish reason and tool calls. */
export type Exchange = (request: Omit<ConversationRequest, 'onText'>) => AsyncGenerator<string, StreamEnd, undefined>;

/** A single prompt as a conversation of one user message. */
function asConversation({ prompt, ...rest }: Omit<CompletionRequest, 'onText'>): Omit<ConversationRequest, 'onText'> {
  return { ...rest, messages: [{ role: 'user', text: prompt }] };
}

export function buildProvider(
  backend: LlmBackend,
  exchange: Exchange,
  listModels: (signal?: AbortSignal) => Promise<string[]>,
): LlmProvider {
  async function converse(request: ConversationRequest): Promise<ConversationReply> {
    const started = Date.now();
    const { onText, ...rest } = request;
    const pieces: string[] = [];
    const exchangeOf = exchange(rest);
    for (;;) {
      const next = await exchangeOf.next();
      if (next.done) return { ...next.value, text: pieces.join(''), latencyMs: Date.now() - started };
      pieces.push(next.value);
      onText?.(next.value);
    }
  }
  return {
    backend,
    async complete(request: CompletionRequest): Promise<Completion> {
      const { onText, ...rest } = request;
      const { toolCalls: _none, ...completion } = await converse({ ...asConversation(rest), onText });
      return completion;
    },
    converse,
    async *stream(request) {
      yield* exchange(asConversation(request));
    },
    listModels,
  };
}

/** A tool call's arguments as the model sent them: an object, or the unparsable text kept for the error. */
export function parseToolArguments(raw: string | undefined): Record<string, unknown> {
  if (!raw || !raw.trim()) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Falls through: the workflow tells the model its arguments were not a JSON object.
  }
  return { unparsableArguments: raw.slice(0, 500) };
}

/** What a provider can be told beyond its settings. */
export interface ProviderHooks {
  /**
   * Called whenever bytes arrive from the server (headers, keep-alives, any event, text or not):
   * a stall watchdog measures time since the last byte, so a model that thinks aloud in events
   * without text, or a server sending keep-alives, is not taken for a dead connection.
   */
  onBytes?: () => void;
}

/** `fetch`, calling `onBytes` for the response's headers and for every piece of its body. */
export function watchedFetch(onBytes: (() => void) | undefined, base: typeof fetch = fetch): typeof fetch {
  if (!onBytes) return base;
  return async (input, init) => {
    const response = await base(input, init);
    onBytes();
    if (!response.body) return response;
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          onBytes();
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** Where a backend's settings come from, so every message can say which variable to fix. */
export interface BackendSettings {
  backend: LlmBackend;
  /** Variable holding the key; undefined when the backend needs none. */
  keyVariable?: string;
  urlVariable: string;
  baseUrl: string;
}

export function missingKey(settings: BackendSettings): LlmError {
  return new LlmError(
    'fatal',
    settings.backend,
    `${settings.backend}: no API key — set ${settings.keyVariable}` +
      (settings.backend === 'openai' ? ' (and OPENAI_BASE_URL for an OpenAI-compatible server)' : ''),
  );
}

/** The three forms of an HTTP date (RFC 9110 §5.6.7): IMF-fixdate, RFC 850, asctime. */
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`, 'i');
const RFC850_DATE = new RegExp(`^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`, 'i');
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`, 'i');

/**
 * Milliseconds to wait from `retry-after-ms` (OpenAI and Anthropic send it), else `retry-after`
 * in seconds or as an HTTP date. Undefined when absent or unreadable: anything else is junk,
 * never "retry now".
 */
export function parseRetryAfter(headers: Headers | undefined | null, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  let date = NaN;
  if (IMF_FIXDATE.test(value) || RFC850_DATE.test(value)) date = Date.parse(value);
  else if (ASCTIME_DATE.test(value)) date = Date.parse(`${value} GMT`); // asctime has no zone: it is GMT
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const CONTEXT_TOO_LONG = new RegExp(
  [
    'context[_ ]length',
    'context window',
    'maximum context',
    'prompt is too long',
    'too many tokens',
    "exceeds? (?:the )?(?:model'?s? )?(?:maximum )?context",
    'input is too long',
  ].join('|'),
  'i',
);
const UNKNOWN_MODEL =
  /model\b.*\b(not found|does not exist|unknown|not available)|unknown model|model_not_found|no such model/i;
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function shorten(text: string, max = 300): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}

/** An HTTP error answer, as each SDK reports it. */
export interface HttpFailure {
  status: number;
  serverMessage: string;
  headers?: Headers | null;
  model?: string;
}

/** The taxonomy by status: 408/409/429/5xx retry, other 4xx are fatal; each message says what to do. */
export function fromHttpStatus(
  settings: BackendSettings,
  { status, serverMessage, headers, model }: HttpFailure,
): LlmError {
  const { backend } = settings;
  const said = serverMessage ? ` (server said: ${shorten(serverMessage)})` : '';
  const fatal = (what: string) => new LlmError('fatal', backend, `${backend}: ${status} ${what}${said}`, status);
  const retryable = (what: string) =>
    new LlmError('retryable', backend, `${backend}: ${status} ${what}${said}`, status, parseRetryAfter(headers));

  if (status === 429) {
    const wait = parseRetryAfter(headers);
    return retryable(
      `rate limited — will retry${wait !== undefined ? ` after ${Math.ceil(wait / 1000)} s` : ' with backoff'}`,
    );
  }
  if (status === 408) return retryable('request timeout — will retry');
  if (status === 409) return retryable('conflict — will retry');
  if (status >= 500)
    return retryable(`server error — will retry; if it persists, check the server at ${settings.baseUrl}`);
  if (CONTEXT_TOO_LONG.test(serverMessage)) {
    return fatal(
      `the prompt is too long for model "${model ?? '?'}" — shorten the prompt (or system text) or lower maxTokens`,
    );
  }
  if (status === 401) {
    return fatal(
      settings.keyVariable
        ? `invalid API key — check ${settings.keyVariable}`
        : `unauthorized — the server at ${settings.urlVariable}=${settings.baseUrl} wants credentials`,
    );
  }
  if (status === 403) {
    return fatal(
      `access denied${model ? ` to model "${model}"` : ''} — ` +
        `check that ${settings.keyVariable ?? 'your account'} may use it`,
    );
  }
  if (status === 404) {
    if (model && (UNKNOWN_MODEL.test(serverMessage) || serverMessage.includes(model)))
      return fatal(unknownModel(settings, model));
    if (model)
      return fatal(`not found — check the model name "${model}" and ${settings.urlVariable}=${settings.baseUrl}`);
    return fatal(
      `not found — check ${settings.urlVariable}=${settings.baseUrl}` +
        `${settings.backend === 'openai' ? ' (it must end in /v1)' : ''}`,
    );
  }
  if (model && UNKNOWN_MODEL.test(serverMessage)) return fatal(unknownModel(settings, model));
  if (status === 402) return fatal('payment required — check the billing of the account behind the key');
  if (status === 413) return fatal('request too large — shorten the prompt (or system text)');
  if (status === 400 || status === 422)
    return fatal('request rejected — fix the request (model, maxTokens, temperature)');
  if (status >= 400) return fatal('request refused — not retried');
  return retryable('unexpected answer — will retry');
}

function unknownModel(settings: BackendSettings, model: string): string {
  const hint =
    settings.backend === 'ollama'
      ? `pull it with \`ollama pull ${model}\` or pick one from \`poc models --backend ollama\``
      : `check the name against \`poc models --backend ${settings.backend}\``;
  return `unknown model "${model}" — ${hint}`;
}

function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e && chain.length < 8; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

export function cancelled(backend: LlmBackend): LlmError {
  return new LlmError('cancelled', backend, `${backend}: request cancelled`);
}

export function brokenStream(backend: LlmBackend, what: string): LlmError {
  return new LlmError('retryable', backend, `${backend}: ${what} — the answer was abandoned and will be retried`);
}

/**
 * Everything that is not an HTTP status: cancellation, lost or refused connections, timeouts,
 * malformed JSON. Anything unrecognised is retryable (a server hiccup is likelier than a bug
 * that a retry would repeat, and the attempts are bounded).
 */
export function fromOtherError(settings: BackendSettings, err: unknown, signal?: AbortSignal): LlmError {
  const { backend } = settings;
  if (err instanceof LlmError) return err;
  if (signal?.aborted) return cancelled(backend);
  const chain = causeChain(err);
  const code = chain
    .map((e) => (e as { code?: unknown })?.code)
    .find((c): c is string => typeof c === 'string' && CONNECTION_CODES.has(c));
  const message = (err as Error)?.message ?? String(err);
  if (code === 'ECONNREFUSED') {
    return new LlmError(
      'retryable',
      backend,
      `${backend}: cannot connect to ${settings.baseUrl} (connection refused) — ` +
        `is the server running? check ${settings.urlVariable}; will retry`,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new LlmError(
      'retryable',
      backend,
      `${backend}: cannot resolve the host of ${settings.baseUrl} — check ${settings.urlVariable}; will retry`,
    );
  }
  if (
    code?.includes('TIMEOUT') ||
    code === 'ETIMEDOUT' ||
    // By class: OpenAI's SDK names its timeout plain `Error`.
    chain.some((e) => [...timeoutErrorClasses].some((errorClass) => e instanceof errorClass))
  ) {
    return new LlmError(
      'retryable',
      backend,
      `${backend}: timed out talking to ${settings.baseUrl} — check ${settings.urlVariable}; will retry`,
    );
  }
  if (code) return brokenStream(backend, `connection to ${settings.baseUrl} lost (${code})`);
  if (chain.some((e) => e instanceof SyntaxError)) {
    return brokenStream(backend, `the server sent malformed JSON (${shorten(message, 120)})`);
  }
  if (
    chain.some((e) =>
      /terminated|other side closed|socket hang up|fetch failed|network|connection error/i.test(
        (e as Error)?.message ?? '',
      ),
    )
  ) {
    // The innermost cause is the telling one ("bad port", "other side closed").
    const detail = [...new Set(chain.map((e) => (e as Error)?.message).filter(Boolean))].join(': ');
    return brokenStream(backend, `connection to ${settings.baseUrl} failed (${shorten(detail, 160)})`);
  }
  if (CONTEXT_TOO_LONG.test(message)) {
    return new LlmError(
      'fatal',
      backend,
      `${backend}: the prompt is too long for the model's context — ` +
        `shorten it or lower maxTokens (server said: ${shorten(message)})`,
    );
  }
  return new LlmError('retryable', backend, `${backend}: ${shorten(message)} — will retry`);
}

/** Anthropic and OpenAI report errors inside a stream by type, without a status: give them one. */
export function statusOfErrorType(type: string | undefined | null): number | undefined {
  switch (type) {
    case 'invalid_request_error':
      return 400;
    case 'authentication_error':
      return 401;
    case 'permission_error':
      return 403;
    case 'not_found_error':
      return 404;
    case 'request_too_large':
      return 413;
    case 'rate_limit_error':
    case 'rate_limit_exceeded':
      return 429;
    case 'timeout_error':
      return 504;
    case 'overloaded_error':
      return 529;
    case 'api_error':
    case 'server_error':
      return 500;
    default:
      return undefined;
  }
}

/** One vocabulary over the backends: `stop`, `length`, or the backend's own word for the rest. */
export function normalizeFinishReason(reason: string | null | undefined): string {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
    case 'stop':
      return 'stop';
    case 'max_tokens':
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'tool_use':
      return 'tool';
    default:
      return reason ?? 'unknown';
  }
}
