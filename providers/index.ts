/** Picks the provider for a backend, configured from the environment. */
import type { LlmBackend } from '../workflows/definitions.js';
import { LlmError, type LlmProvider } from './types.js';

export function createProvider(backend: LlmBackend, env: NodeJS.ProcessEnv = process.env): LlmProvider {
  throw new LlmError('fatal', backend, `${backend}: not implemented yet (${Object.keys(env).length})`);
}
