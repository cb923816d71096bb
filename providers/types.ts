/** One interface over Ollama, OpenAI and Anthropic. */
import type { ChatToolCall, LlmBackend } from '../core/contract.js';

export interface CompletionRequest {
  model: string;
  prompt: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  /** Called with each piece of text as it streams in. */
  onText?: (text: string) => void;
}

export interface Completion {
  text: string;
  finishReason: string;
  inputTokens: number;
  outputTokens: number;
  model: string;
  latencyMs: number;
}

/** One message of a conversation, in no provider's dialect (each provider translates it). */
export type ChatMessage =
  | { role: 'user'; text: string }
  | { role: 'assistant'; text: string; toolCalls?: ChatToolCall[] }
  | { role: 'tool'; callId: string; name: string; text: string; isError?: boolean };

/** A tool the model may call: JSON Schema of its arguments, sent with each provider's native tool calling. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: { type: 'object'; properties: Record<string, unknown>; required?: string[] };
}

export interface ConversationRequest {
  model: string;
  system?: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  onText?: (text: string) => void;
}

/** An answer that may ask for tools (`finishReason` is then `tool`). */
export interface ConversationReply extends Completion {
  toolCalls: ChatToolCall[];
}

export interface LlmProvider {
  readonly backend: LlmBackend;
  /** Completes a prompt, streaming internally (no header timeout can cut a long answer). */
  complete(request: CompletionRequest): Promise<Completion>;
  /** The next answer of a conversation, streamed, with the tool calls the model made. */
  converse(request: ConversationRequest): Promise<ConversationReply>;
  /** Text chunks as they arrive. */
  stream(request: Omit<CompletionRequest, 'onText'>): AsyncIterable<string>;
  listModels(signal?: AbortSignal): Promise<string[]>;
}

/**
 * The error taxonomy over the three SDKs: `retryable` (408, 409, 429, 5xx, connection lost,
 * timeout), `fatal` (400, 401, 403, 404, 422, missing key, unknown model, context too long),
 * `cancelled`. Temporal owns retries, so the SDKs' own retries are off.
 */
export type LlmErrorKind = 'retryable' | 'fatal' | 'cancelled';

export class LlmError extends Error {
  constructor(
    readonly kind: LlmErrorKind,
    readonly backend: LlmBackend,
    message: string,
    readonly status?: number,
    /** From `retry-after` (seconds or date) when the server sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'LlmError';
  }
}
