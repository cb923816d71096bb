/**
 * Anthropic through the official SDK. ANTHROPIC_BASE_URL is without `/v1`. Always streamed:
 * input tokens from `message_start`, output tokens and stop reason from `message_delta`.
 */
import type * as AnthropicSdkModule from '@anthropic-ai/sdk';
import type Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlockParam,
  MessageCreateParamsStreaming,
  MessageParam,
} from '@anthropic-ai/sdk/resources/messages';
import type { LlmSettings } from '../core/config.js';
import { loadOnce } from '../core/load-once.js';
import { ANTHROPIC_NO_TEMPERATURE } from '../core/validate.js';
import { LlmError, type ChatMessage, type LlmProvider } from './types.js';
import {
  brokenStream,
  buildProvider,
  cancelled,
  fromHttpStatus,
  fromOtherError,
  knowTimeoutError,
  missingKey,
  normalizeFinishReason,
  parseToolArguments,
  statusOfErrorType,
  type BackendSettings,
  watchedFetch,
  type Exchange,
  type ProviderHooks,
} from './shared.js';

const OFFICIAL_BASE_URL = 'https://api.anthropic.com';
/** The API requires `max_tokens`; this is what a prompt without `maxTokens` may use. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

type AnthropicSdk = typeof AnthropicSdkModule;
/** The SDK, loaded on first use; its timeout error class is known to fromOtherError from then on. */
export const anthropicSdk = loadOnce(async (): Promise<AnthropicSdk> => {
  const sdk = await import('@anthropic-ai/sdk');
  knowTimeoutError(sdk.APIConnectionTimeoutError);
  return sdk;
});

export function createAnthropicProvider(anthropic: LlmSettings['anthropic'], hooks: ProviderHooks = {}): LlmProvider {
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
  const options: ConstructorParameters<typeof Anthropic>[0] = {
    apiKey,
    baseURL: configuredUrl ?? null,
    maxRetries: 0,
    fetch: watchedFetch(hooks.onBytes),
    logLevel: anthropic.sdkLog ? undefined : 'off',
  };
  // One client per provider, made on first call (a failed SDK load is tried again on the next).
  const connect = loadOnce(async (): Promise<{ sdk: AnthropicSdk; client: Anthropic }> => {
    const sdk = await anthropicSdk();
    return { sdk, client: new sdk.default(options) };
  });

  const toLlmError = (sdk: AnthropicSdk, err: unknown, model: string | undefined, signal?: AbortSignal) => {
    const { APIConnectionError, APIError, APIUserAbortError } = sdk;
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

  const exchange: Exchange = async function* ({ model, messages, system, tools, maxTokens, temperature, signal }) {
    // Refused, never dropped: the API version this SDK sends answers a temperature with a 400.
    if (temperature !== undefined) throw new LlmError('fatal', 'anthropic', `anthropic: ${ANTHROPIC_NO_TEMPERATURE}`);
    const params: MessageCreateParamsStreaming = {
      model,
      max_tokens: maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages: toAnthropicMessages(messages),
      stream: true,
    };
    if (system) params.system = system;
    if (tools?.length) {
      params.tools = tools.map((tool) => ({
        name: tool.name,
        description: tool.description,
        input_schema: tool.parameters,
      }));
    }

    let stopReason: string | null = null;
    let stopped = false;
    let answeredModel = model;
    let inputTokens = 0;
    let outputTokens = 0;
    // Tool use blocks by their index: id and name at the block's start, the input as JSON fragments.
    const calls = new Map<number, { id: string; name: string; json: string }>();
    const { sdk, client } = await connect();
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
          case 'content_block_start':
            if (event.content_block.type === 'tool_use')
              calls.set(event.index, { id: event.content_block.id, name: event.content_block.name, json: '' });
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta' && event.delta.text) yield event.delta.text;
            else if (event.delta.type === 'input_json_delta') {
              const call = calls.get(event.index);
              if (call) call.json += event.delta.partial_json;
            }
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
      throw toLlmError(sdk, err, model, signal);
    }
    // The SDK ends an aborted stream quietly: without this check a cancelled answer would look complete.
    if (signal?.aborted) throw cancelled('anthropic');
    if (!stopped && !stopReason) throw brokenStream('anthropic', 'the stream ended before the answer was complete');
    const toolCalls = [...calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, call]) => ({ id: call.id, name: call.name, input: parseToolArguments(call.json) }));
    return {
      finishReason: normalizeFinishReason(stopReason),
      inputTokens,
      outputTokens,
      model: answeredModel,
      toolCalls,
    };
  };

  async function listModels(signal?: AbortSignal): Promise<string[]> {
    const { sdk, client } = await connect();
    try {
      const ids: string[] = [];
      for await (const model of client.models.list({}, { signal })) ids.push(model.id);
      return ids;
    } catch (err) {
      throw toLlmError(sdk, err, undefined, signal);
    }
  }

  return buildProvider('anthropic', exchange, listModels);
}

/**
 * Our messages in Anthropic's dialect: roles alternate (neighbours of one role merge), the first
 * is the user's, tool calls are `tool_use` blocks of the assistant and their results `tool_result`
 * blocks at the front of the next user message.
 */
function toAnthropicMessages(messages: ChatMessage[]): MessageParam[] {
  const out: { role: 'user' | 'assistant'; content: ContentBlockParam[] }[] = [];
  const add = (role: 'user' | 'assistant', blocks: ContentBlockParam[]) => {
    const last = out[out.length - 1];
    if (last?.role === role) {
      // Results answer the calls just before them, so they go ahead of anything the user added.
      const results = blocks.filter((b) => b.type === 'tool_result');
      const rest = blocks.filter((b) => b.type !== 'tool_result');
      const firstText = last.content.findIndex((b) => b.type !== 'tool_result');
      if (results.length && firstText >= 0) last.content.splice(firstText, 0, ...results);
      else last.content.push(...results);
      last.content.push(...rest);
    } else out.push({ role, content: blocks });
  };
  for (const message of messages) {
    if (message.role === 'user') add('user', [{ type: 'text', text: message.text }]);
    else if (message.role === 'tool')
      add('user', [
        {
          type: 'tool_result',
          tool_use_id: message.callId,
          content: message.text || '(no output)',
          ...(message.isError ? { is_error: true } : {}),
        },
      ]);
    else {
      const blocks: ContentBlockParam[] = message.text ? [{ type: 'text', text: message.text }] : [];
      for (const call of message.toolCalls ?? [])
        blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: call.input });
      add('assistant', blocks.length ? blocks : [{ type: 'text', text: '(no answer)' }]);
    }
  }
  if (out[0]?.role === 'assistant') out.unshift({ role: 'user', content: [{ type: 'text', text: '(continued)' }] });
  // A message of plain text goes as a string, as a single prompt always did.
  return out.map(({ role, content }) =>
    content.length === 1 && content[0].type === 'text' ? { role, content: content[0].text } : { role, content },
  );
}
