/** One interface over Ollama, OpenAI and Anthropic. */
import type { LlmBackend } from '../core/contract.js';

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

export interface LlmProvider {
  readonly backend: LlmBackend;
  /** Completes a prompt, streaming internally (no header timeout can cut a long answer). */
  complete(request: CompletionRequest): Promise<Completion>;
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
