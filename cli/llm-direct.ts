/**
 * `poc llm --direct` and `poc models`: the provider called straight from this process, without
 * Temporal (no retries, no history) — for a quick answer, a smoke test of a key, or scripts
 * like runner/scripts/run.sh that must work when no Temporal server is up.
 */
import type { LlmSettings } from '../core/config.js';
import { createProvider } from '../providers/index.js';
import { LlmError, type Completion } from '../providers/types.js';
import type { LlmBackend, LlmInput } from '../core/contract.js';
import { validateLlmInput } from '../core/validate.js';

/** The provider's message as a plain Error: callers print it as it is. */
function asPlainError(err: unknown): Error {
  if (err instanceof LlmError) return new Error(err.message);
  return err instanceof Error ? err : new Error(String(err));
}

/** Streams the answer to `out` as it arrives; resolves with the whole completion. */
export async function runLlmDirect(input: LlmInput, out: NodeJS.WritableStream, llm: LlmSettings): Promise<Completion> {
  const valid = validateLlmInput(input);
  try {
    const provider = createProvider(valid.backend, llm);
    return await provider.complete({
      model: valid.model,
      prompt: valid.prompt,
      system: valid.system,
      maxTokens: valid.maxTokens,
      temperature: valid.temperature,
      onText: (text) => out.write(text),
    });
  } catch (err) {
    throw asPlainError(err);
  }
}

export async function listModelsDirect(backend: LlmBackend, llm: LlmSettings): Promise<string[]> {
  try {
    return await createProvider(backend, llm).listModels();
  } catch (err) {
    throw asPlainError(err);
  }
}
