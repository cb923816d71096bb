/**
 * Estimated cost of a model request: tokens times the list price per million tokens. The table
 * is the providers' published list prices for standard (non-batch, uncached) use as of
 * PRICES_AS_OF; it is an estimate — discounts, cached input, batch prices and price changes are
 * not known here. POC_LLM_PRICES adds models and overrides entries. A model is matched by the
 * longest table name it starts with (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`); Ollama runs on
 * your own hardware and costs nothing here; an unknown model has no estimate (null).
 */
import type { ChatUsage, LlmBackend } from '../core/contract.js';

export const PRICES_AS_OF = '2025-11';

export interface Price {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
}

export const PRICE_TABLE: Readonly<Record<string, Price>> = {
  // OpenAI
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  o3: { input: 2, output: 8 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
  // Anthropic
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-3-7-sonnet': { input: 3, output: 15 },
  'claude-3-5-sonnet': { input: 3, output: 15 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
};

/** The price of `model`, from `overrides` first, then the table; null when neither knows it. */
export function priceOf(
  backend: LlmBackend,
  model: string,
  overrides: Readonly<Record<string, Price>> = {},
): Price | null {
  if (overrides[model]) return overrides[model];
  if (backend === 'ollama' && !Object.keys(overrides).some((name) => model.startsWith(name)))
    return { input: 0, output: 0 };
  const names = [...Object.keys(overrides), ...Object.keys(PRICE_TABLE)]
    .filter((name) => model === name || model.startsWith(`${name}-`) || model.startsWith(`${name}.`))
    .sort((a, b) => b.length - a.length);
  const name = names[0];
  if (name === undefined) return null;
  return overrides[name] ?? PRICE_TABLE[name];
}

/** Tokens with the estimated cost in USD (to 1e-10 of a dollar), null when the price is unknown. */
export function usageWithCost(tokens: { inputTokens: number; outputTokens: number }, price: Price | null): ChatUsage {
  const costUsd =
    price === null
      ? null
      : roundUsd((tokens.inputTokens * price.input + tokens.outputTokens * price.output) / 1_000_000);
  return { inputTokens: tokens.inputTokens, outputTokens: tokens.outputTokens, costUsd };
}

/** Dollars to ten decimal places: cheap requests cost fractions of a cent, and sums must not drift. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e10) / 1e10;
}
