/**
 * Ollama through the official SDK. The SDK does not read OLLAMA_HOST and its streams take no
 * abort signal, so both come in here: the host explicitly, the signal through the `fetch` it
 * calls (which also lets us read `retry-after` off the response, which the SDK drops).
 */
import { Ollama } from 'ollama';
import type { Message } from 'ollama';
import type { LlmSettings } from '../core/config.js';
import type { LlmProvider } from './types.js';
import {
  brokenStream,
  buildProvider,
  cancelled,
  fromHttpStatus,
  fromOtherError,
  normalizeFinishReason,
  type BackendSettings,
  watchedFetch,
  type Exchange,
  type ProviderHooks,
} from './shared.js';

export { OLLAMA_DEFAULT_HOST } from '../core/config.js';

/** What the SDK throws for an HTTP error (`ResponseError`); matched by shape, it is not exported. */
interface OllamaResponseError extends Error {
  status_code: number;
  error: string;
}

function isResponseError(err: unknown): err is OllamaResponseError {
  return (
    err instanceof Error &&
    err.name === 'ResponseError' &&
    typeof (err as Partial<OllamaResponseError>).status_code === 'number'
  );
}

export function createOllamaProvider(ollama: LlmSettings['ollama'], hooks: ProviderHooks = {}): LlmProvider {
  const host = ollama.host;
  const settings: BackendSettings = { backend: 'ollama', urlVariable: 'OLLAMA_HOST', baseUrl: host };

  /** A client per call: its `fetch` carries that call's signal and keeps the last response's headers. */
  function clientFor(signal?: AbortSignal) {
    const seen: { headers?: Headers } = {};
    const fetchWithSignal: typeof fetch = async (input, init) => {
      const signals = [init?.signal, signal].filter((s): s is AbortSignal => !!s);
      const response = await watchedFetch(hooks.onBytes)(input, {
        ...init,
        signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      });
      seen.headers = response.headers;
      return response;
    };
    return { ollama: new Ollama({ host, fetch: fetchWithSignal }), seen };
  }

  const toLlmError = (err: unknown, model: string | undefined, headers: Headers | undefined, signal?: AbortSignal) => {
    if (signal?.aborted) return cancelled('ollama');
    if (isResponseError(err))
      return fromHttpStatus(settings, { status: err.status_code, serverMessage: err.error, headers, model });
    // The SDK skips lines it cannot parse, then complains that `done` never came.
    if (err instanceof Error && /did not receive done/i.test(err.message)) {
      return brokenStream('ollama', 'the stream was malformed or cut off before its final `done` line');
    }
    return fromOtherError(settings, err, signal);
  };

  const exchange: Exchange = async function* ({ model, prompt, system, maxTokens, temperature, signal }) {
    const { ollama, seen } = clientFor(signal);
    const messages: Message[] = [];
    if (system) messages.push({ role: 'system', content: system });
    messages.push({ role: 'user', content: prompt });
    const options: { num_predict?: number; temperature?: number } = {};
    if (maxTokens !== undefined) options.num_predict = maxTokens;
    if (temperature !== undefined) options.temperature = temperature;

    let done = false;
    let finishReason = '';
    let answeredModel = model;
    let inputTokens = 0;
    let outputTokens = 0;
    try {
      const stream = await ollama.chat({ model, messages, stream: true, options });
      for await (const part of stream) {
        if (part.message?.content) yield part.message.content;
        if (part.done) {
          done = true;
          finishReason = part.done_reason;
          answeredModel = part.model || model;
          inputTokens = part.prompt_eval_count ?? 0;
          outputTokens = part.eval_count ?? 0;
        }
      }
    } catch (err) {
      throw toLlmError(err, model, seen.headers, signal);
    }
    if (signal?.aborted) throw cancelled('ollama');
    if (!done) throw brokenStream('ollama', 'the stream ended before its final `done` line');
    return {
      finishReason: normalizeFinishReason(finishReason || 'stop'),
      inputTokens,
      outputTokens,
      model: answeredModel,
    };
  };

  async function listModels(signal?: AbortSignal): Promise<string[]> {
    const { ollama, seen } = clientFor(signal);
    try {
      const { models } = await ollama.list();
      return models.map((m) => m.name || m.model);
    } catch (err) {
      throw toLlmError(err, undefined, seen.headers, signal);
    }
  }

  return buildProvider('ollama', exchange, listModels);
}
