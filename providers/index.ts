/** Picks the provider for a backend, configured from the environment. */
import { LLM_BACKENDS, type LlmBackend } from '../core/contract.js';
import { createAnthropicProvider } from './anthropic.js';
import { createOllamaProvider } from './ollama.js';
import { createOpenAiProvider } from './openai.js';
import { LlmError, type LlmProvider } from './types.js';

export { LlmError, type Completion, type CompletionRequest, type LlmErrorKind, type LlmProvider } from './types.js';
export { parseRetryAfter } from './shared.js';

/**
 * The provider for `backend`, its settings read from `env` only (OLLAMA_HOST, OPENAI_API_KEY,
 * OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL). A missing key throws a fatal
 * LlmError naming the variable, before any request is made.
 */
export function createProvider(backend: LlmBackend, env: NodeJS.ProcessEnv = process.env): LlmProvider {
  switch (backend) {
    case 'openai':
      return createOpenAiProvider(env);
    case 'anthropic':
      return createAnthropicProvider(env);
    case 'ollama':
      return createOllamaProvider(env);
    default:
      throw new LlmError(
        'fatal',
        backend,
        `unknown backend ${JSON.stringify(backend)}; use one of ${LLM_BACKENDS.join(', ')}`,
      );
  }
}
