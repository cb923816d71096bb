/**
 * OpenAI and OpenAI-compatible servers (vLLM, LM Studio, llama.cpp, …) through the official SDK.
 * OPENAI_BASE_URL includes `/v1`. Always streamed, usage from the final chunk
 * (`stream_options.include_usage`).
 */
import type * as OpenAiSdkModule from 'openai';
import type OpenAI from 'openai';
import type {
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { LlmSettings } from '../core/config.js';
import { loadOnce } from '../core/load-once.js';
import type { ChatMessage, LlmProvider } from './types.js';
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
  watchedFetch,
  type BackendSettings,
  type Exchange,
  type ProviderHooks,
} from './shared.js';

const OFFICIAL_BASE_URL = 'https://api.openai.com/v1';

type OpenAiSdk = typeof OpenAiSdkModule;
/** The SDK, loaded on first use; its timeout error class is known to fromOtherError from then on. */
export const openAiSdk = loadOnce(async (): Promise<OpenAiSdk> => {
  const sdk = await import('openai');
  knowTimeoutError(sdk.APIConnectionTimeoutError);
  return sdk;
});

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

export function createOpenAiProvider(openai: LlmSettings['openai'], hooks: ProviderHooks = {}): LlmProvider {
  const configuredUrl = openai.baseUrl;
  const settings: BackendSettings = {
    backend: 'openai',
    keyVariable: 'OPENAI_API_KEY',
    urlVariable: 'OPENAI_BASE_URL',
    baseUrl: configuredUrl ?? OFFICIAL_BASE_URL,
  };
  const isOfficialApi = hostOf(settings.baseUrl) === hostOf(OFFICIAL_BASE_URL);
  const apiKey = openai.apiKey;
  if (!apiKey) throw missingKey(settings);
  // Every setting comes from our config, never from the SDK's own look into process.env (null = unset).
  const options: ConstructorParameters<typeof OpenAI>[0] = {
    apiKey,
    baseURL: configuredUrl ?? null,
    organization: openai.orgId ?? null,
    project: openai.projectId ?? null,
    adminAPIKey: null,
    maxRetries: 0,
    fetch: watchedFetch(hooks.onBytes),
    // Our errors say what went wrong; the SDK's console lines would only repeat it.
    logLevel: openai.sdkLog ? undefined : 'off',
  };
  // One client per provider, made on first call (a failed SDK load is tried again on the next).
  const connect = loadOnce(async (): Promise<{ sdk: OpenAiSdk; client: OpenAI }> => {
    const sdk = await openAiSdk();
    return { sdk, client: new sdk.default(options) };
  });

  const toLlmError = (sdk: OpenAiSdk, err: unknown, model: string | undefined, signal?: AbortSignal) => {
    const { APIConnectionError, APIError, APIUserAbortError } = sdk;
    if (signal?.aborted) return cancelled('openai');
    if (err instanceof APIError && !(err instanceof APIConnectionError) && !(err instanceof APIUserAbortError)) {
      const body = err.error as { message?: unknown; type?: string; code?: string } | undefined;
      const serverMessage = typeof body?.message === 'string' ? body.message : err.message;
      // An error inside a 200 stream has no status: its type says what it is.
      const status = err.status ?? statusOfErrorType(body?.type) ?? statusOfErrorType(body?.code) ?? 500;
      return fromHttpStatus(settings, { status, serverMessage, headers: err.status ? err.headers : undefined, model });
    }
    if (err instanceof APIUserAbortError) return cancelled('openai');
    return fromOtherError(settings, err, signal);
  };

  const exchange: Exchange = async function* ({ model, messages, system, tools, maxTokens, temperature, signal }) {
    const params: ChatCompletionCreateParamsStreaming = {
      model,
      messages: toOpenAiMessages(system, messages),
      stream: true,
      stream_options: { include_usage: true },
    };
    if (tools?.length) {
      params.tools = tools.map((tool) => ({
        type: 'function',
        function: { name: tool.name, description: tool.description, parameters: tool.parameters },
      }));
    }
    // OpenAI's newer models refuse `max_tokens`, while many compatible servers only know it.
    if (maxTokens !== undefined) {
      if (isOfficialApi) params.max_completion_tokens = maxTokens;
      else params.max_tokens = maxTokens;
    }
    if (temperature !== undefined) params.temperature = temperature;

    let finishReason: string | undefined;
    let answeredModel = model;
    let inputTokens = 0;
    let outputTokens = 0;
    // Tool calls arrive in pieces, keyed by their index: the id and name first, the arguments in fragments.
    const calls = new Map<number, { id: string; name: string; args: string }>();
    const { sdk, client } = await connect();
    try {
      const stream = await client.chat.completions.create(params, { signal });
      for await (const chunk of stream) {
        if (chunk.model) answeredModel = chunk.model;
        const choice = chunk.choices?.[0];
        const text = choice?.delta?.content;
        if (text) yield text;
        for (const piece of choice?.delta?.tool_calls ?? []) {
          const call = calls.get(piece.index) ?? { id: '', name: '', args: '' };
          if (piece.id) call.id = piece.id;
          if (piece.function?.name) call.name += piece.function.name;
          if (piece.function?.arguments) call.args += piece.function.arguments;
          calls.set(piece.index, call);
        }
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk.usage) {
          inputTokens = chunk.usage.prompt_tokens ?? 0;
          outputTokens = chunk.usage.completion_tokens ?? 0;
        }
      }
    } catch (err) {
      throw toLlmError(sdk, err, model, signal);
    }
    // The SDK ends an aborted stream quietly: without this check a cancelled answer would look complete.
    if (signal?.aborted) throw cancelled('openai');
    if (!finishReason) throw brokenStream('openai', 'the stream ended before the answer was complete');
    const toolCalls = [...calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => ({
        id: call.id || `call_${index}`,
        name: call.name,
        input: parseToolArguments(call.args),
      }));
    return {
      finishReason: normalizeFinishReason(finishReason),
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
      for await (const model of client.models.list({ signal })) ids.push(model.id);
      return ids;
    } catch (err) {
      throw toLlmError(sdk, err, undefined, signal);
    }
  }

  return buildProvider('openai', exchange, listModels);
}

/** Our messages in OpenAI's dialect: tool calls on the assistant message, each result a `tool` message. */
function toOpenAiMessages(system: string | undefined, messages: ChatMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (system) out.push({ role: 'system', content: system });
  for (const message of messages) {
    if (message.role === 'user') out.push({ role: 'user', content: message.text });
    else if (message.role === 'tool')
      out.push({ role: 'tool', tool_call_id: message.callId, content: message.text || '(no output)' });
    else if (message.toolCalls?.length)
      out.push({
        role: 'assistant',
        content: message.text || null,
        tool_calls: message.toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: JSON.stringify(call.input) },
        })),
      });
    else out.push({ role: 'assistant', content: message.text });
  }
  return out;
}
