/** Picks the provider for a backend, configured from the LLM settings of the config. */
import type { LlmSettings } from '../core/config.js';
import { LLM_BACKENDS, type LlmBackend } from '../core/contract.js';
import { createAnthropicProvider } from './anthropic.js';
import { createOllamaProvider } from './ollama.js';
import { createOpenAiProvider } from './openai.js';
import { LlmError, type LlmProvider } from './types.js';

export { LlmError, type Completion, type CompletionRequest, type LlmErrorKind, type LlmProvider } from './types.js';
export { parseRetryAfter, type ProviderHooks } from './shared.js';
import type { ProviderHooks } from './shared.js';

/**
 * The provider for `backend`, its settings from `llm` only (`loadConfig(env).llm`: OLLAMA_HOST,
 * OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, …). A missing key
 * throws a fatal LlmError naming the variable, before any request is made.
 */
export function createProvider(backend: LlmBackend, llm: LlmSettings, hooks: ProviderHooks = {}): LlmProvider {
  switch (backend) {
    case 'openai':
      return createOpenAiProvider(llm.openai, hooks);
    case 'anthropic':
      return createAnthropicProvider(llm.anthropic, hooks);
    case 'ollama':
      return createOllamaProvider(llm.ollama, hooks);
    default:
      throw new LlmError(
        'fatal',
        backend,
        `unknown backend ${JSON.stringify(backend)}; use one of ${LLM_BACKENDS.join(', ')}`,
      );
  }
}
