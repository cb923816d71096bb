/**
 * Ollama through the official SDK. The SDK does not read OLLAMA_HOST and its streams take no
 * abort signal, so both come in here: the host explicitly, the signal through the `fetch` it
 * calls (which also lets us read `retry-after` off the response, which the SDK drops).
 */
import type { Message, Tool } from 'ollama';
import type { ChatToolCall } from '../core/contract.js';
import type { LlmSettings } from '../core/config.js';
import { loadOnce } from '../core/load-once.js';
import type { ChatMessage, LlmProvider } from './types.js';
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

const ollamaSdk = loadOnce(() => import('ollama'));

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
  async function clientFor(signal?: AbortSignal) {
    const { Ollama } = await ollamaSdk();
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

  const exchange: Exchange = async function* ({ model, messages, system, tools, maxTokens, temperature, signal }) {
    const { ollama, seen } = await clientFor(signal);
    const options: { num_predict?: number; temperature?: number } = {};
    if (maxTokens !== undefined) options.num_predict = maxTokens;
    if (temperature !== undefined) options.temperature = temperature;

    let done = false;
    let finishReason = '';
    let answeredModel = model;
    let inputTokens = 0;
    let outputTokens = 0;
    // Ollama sends each tool call whole (arguments as an object) and gives it no id.
    const toolCalls: ChatToolCall[] = [];
    try {
      const stream = await ollama.chat({
        model,
        messages: toOllamaMessages(system, messages),
        stream: true,
        options,
        ...(tools?.length
          ? {
              tools: tools.map((tool): Tool => ({
                type: 'function',
                // Ollama types the schema loosely; ours is the same JSON Schema object.
                function: {
                  name: tool.name,
                  description: tool.description,
                  parameters: tool.parameters as Tool['function']['parameters'],
                },
              })),
            }
          : {}),
      });
      for await (const part of stream) {
        if (part.message?.content) yield part.message.content;
        for (const call of part.message?.tool_calls ?? []) {
          const input = call.function?.arguments;
          toolCalls.push({
            id: `call_${toolCalls.length}`,
            name: call.function?.name ?? '',
            input: input && typeof input === 'object' && !Array.isArray(input) ? input : {},
          });
        }
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
      // Ollama says `stop` when it calls tools; the calls say otherwise.
      finishReason: toolCalls.length ? 'tool' : normalizeFinishReason(finishReason || 'stop'),
      inputTokens,
      outputTokens,
      model: answeredModel,
      toolCalls,
    };
  };

  async function listModels(signal?: AbortSignal): Promise<string[]> {
    const { ollama, seen } = await clientFor(signal);
    try {
      const { models } = await ollama.list();
      return models.map((m) => m.name || m.model);
    } catch (err) {
      throw toLlmError(err, undefined, seen.headers, signal);
    }
  }

  return buildProvider('ollama', exchange, listModels);
}

/** Our messages in Ollama's dialect: tool calls on the assistant message, each result a `tool` message. */
function toOllamaMessages(system: string | undefined, messages: ChatMessage[]): Message[] {
  const out: Message[] = [];
  if (system) out.push({ role: 'system', content: system });
  for (const message of messages) {
    if (message.role === 'user') out.push({ role: 'user', content: message.text });
    else if (message.role === 'tool')
      out.push({ role: 'tool', content: message.text || '(no output)', tool_name: message.name });
    else
      out.push({
        role: 'assistant',
        content: message.text,
        ...(message.toolCalls?.length
          ? { tool_calls: message.toolCalls.map((call) => ({ function: { name: call.name, arguments: call.input } })) }
          : {}),
      });
  }
  return out;
}
