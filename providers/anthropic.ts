/**
 * Anthropic through the official SDK. ANTHROPIC_BASE_URL is without `/v1`. Always streamed:
 * input tokens from `message_start`, output tokens and stop reason from `message_delta`.
 */
import Anthropic, { APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import type { MessageCreateParamsStreaming } from '@anthropic-ai/sdk/resources/messages';
import type { LlmSettings } from '../core/config.js';
import { ANTHROPIC_NO_TEMPERATURE } from '../core/validate.js';
import { LlmError, type LlmProvider } from './types.js';
import {
  brokenStream,
  buildProvider,
  cancelled,
  fromHttpStatus,
  fromOtherError,
  missingKey,
  normalizeFinishReason,
  statusOfErrorType,
  type BackendSettings,
  type Exchange,
} from './shared.js';

const OFFICIAL_BASE_URL = 'https://api.anthropic.com';
/** The API requires `max_tokens`; this is what a prompt without `maxTokens` may use. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

export function createAnthropicProvider(anthropic: LlmSettings['anthropic']): LlmProvider {
  const configuredUrl = anthropic.baseUrl;
  const settings: BackendSettings = {
    backend: 'anthropic',
    keyVariable: 'ANTHROPIC_API_KEY',
    urlVariable: 'ANTHROPIC_BASE_URL',
    baseUrl: configuredUrl ?? OFFICIAL_BASE_URL,
  };
  const apiKey = anthropic.apiKey;
  if (!apiKey) throw missingKey(settings);
  // An explicit key keeps the SDK from its own credential chain (profiles, token files);
  // a null base URL keeps it from reading process.env instead of our config.
  const client = new Anthropic({
    apiKey,
    baseURL: configuredUrl ?? null,
    maxRetries: 0,
    logLevel: anthropic.sdkLog ? undefined : 'off',
  });

  const toLlmError = (err: unknown, model: string | undefined, signal?: AbortSignal) => {
    if (signal?.aborted || err instanceof APIUserAbortError) return cancelled('anthropic');
    if (err instanceof APIError && !(err instanceof APIConnectionError)) {
      const body = err.error as { error?: { message?: unknown; type?: string } } | undefined;
      const serverMessage = typeof body?.error?.message === 'string' ? body.error.message : err.message;
      // An `error` event inside a 200 stream has no status: its type says what it is.
      const status = err.status ?? statusOfErrorType(err.type ?? body?.error?.type) ?? 500;
      return fromHttpStatus(settings, { status, serverMessage, headers: err.status ? err.headers : undefined, model });
    }
    return fromOtherError(settings, err, signal);
  };

  const exchange: Exchange = async function* ({ model, prompt, system, maxTokens, temperature, signal }) {
    // Refused, never dropped: the API version this SDK sends answers a temperature with a 400.
    if (temperature !== undefined) throw new LlmError('fatal', 'anthropic', `anthropic: ${ANTHROPIC_NO_TEMPERATURE}`);
    const params: MessageCreateParamsStreaming = {
      model,
      max_tokens: maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content: prompt }],
      stream: true,
    };
    if (system) params.system = system;

    let stopReason: string | null = null;
    let stopped = false;
    let answeredModel = model;
    let inputTokens = 0;
    let outputTokens = 0;
    try {
      const stream = await client.messages.create(params, { signal });
      for await (const event of stream) {
        switch (event.type) {
          case 'message_start': {
            const usage = event.message.usage;
            answeredModel = event.message.model || model;
            // Cached prompt parts are still prompt: count them as input.
            inputTokens =
              usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
            outputTokens = usage.output_tokens;
            break;
          }
          case 'content_block_delta':
            if (event.delta.type === 'text_delta' && event.delta.text) yield event.delta.text;
            break;
          case 'message_delta': {
            const usage = event.usage;
            stopReason = event.delta.stop_reason ?? stopReason;
            outputTokens = usage.output_tokens;
            if (usage.input_tokens != null) {
              inputTokens =
                usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
            }
            break;
          }
          case 'message_stop':
            stopped = true;
            break;
        }
      }
    } catch (err) {
      throw toLlmError(err, model, signal);
    }
    // The SDK ends an aborted stream quietly: without this check a cancelled answer would look complete.
    if (signal?.aborted) throw cancelled('anthropic');
    if (!stopped && !stopReason) throw brokenStream('anthropic', 'the stream ended before the answer was complete');
    return { finishReason: normalizeFinishReason(stopReason), inputTokens, outputTokens, model: answeredModel };
  };

  async function listModels(signal?: AbortSignal): Promise<string[]> {
    try {
      const ids: string[] = [];
      for await (const model of client.models.list({}, { signal })) ids.push(model.id);
      return ids;
    } catch (err) {
      throw toLlmError(err, undefined, signal);
    }
  }

  return buildProvider('anthropic', exchange, listModels);
}
