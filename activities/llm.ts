/**
 * `completePrompt`: one attempt at an LLM prompt, streamed. Text goes to the workflow as it
 * comes (the `llmChunk` signal, batched) so `poc llm` can print it live; heartbeats run on a
 * timer so a dead worker is noticed, and an idle watchdog turns a stalled server into a
 * retryable timeout. Temporal owns the retries: the SDKs' own are off.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { LlmSettings } from '../core/config.js';
import { createProvider } from '../providers/index.js';
import { LlmError } from '../providers/types.js';
import {
  LLM_FAILURE_TYPES,
  LLM_TEXT_LIMIT,
  llmChunkSignal,
  type LlmBackend,
  type LlmInput,
  type LlmResult,
} from '../core/contract.js';
import { idName } from '../core/validate.js';
import { redact } from '../core/redact.js';

export { LLM_FAILURE_TYPES } from '../core/contract.js';

/** Answers quicker than this never send a partial-text signal (keeps short prompts cheap). */
const FIRST_CHUNK_AFTER_MS = 300;
const TICK_MS = 250;
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * How long streamed text waits before it goes to the workflow as one signal: 1 s for the first
 * 10 s of an answer (people watch it start), 3 s up to a minute, then 5 s. Each signal is a few
 * history events (and a Slack update), so a 15-minute answer stays near 200 signals.
 */
export function chunkIntervalMs(elapsedMs: number): number {
  return elapsedMs < 10_000 ? 1_000 : elapsedMs < 60_000 ? 3_000 : 5_000;
}

/** The answer a result carries in history: at most LLM_TEXT_LIMIT characters, the rest in a file. */
export function cappedText(text: string, file: string): { text: string; fullText?: { chars: number; path: string } } {
  if (text.length <= LLM_TEXT_LIMIT) return { text };
  const marker = `\n\n[… cut at ${LLM_TEXT_LIMIT} of ${text.length} characters; the whole answer is in ${file}]`;
  return { text: text.slice(0, LLM_TEXT_LIMIT) + marker, fullText: { chars: text.length, path: file } };
}

/** How an attempt's text reaches its workflow while it streams. */
export interface LiveTextOptions {
  idleTimeoutMs: number;
  /** Sends a batch of text to the workflow (a signal); batches go in order, a failure is ignored. */
  send: (text: string) => Promise<unknown>;
  /** How long a batch waits, given the time since the attempt started (the first no sooner than 300 ms). */
  intervalMs?: (elapsedMs: number) => number;
}

export interface LiveText {
  /** Aborted when the activity is cancelled or the provider stalls. */
  signal: AbortSignal;
  onText(text: string): void;
  /** For the provider's watched fetch: any byte from the server counts as life. */
  onBytes(): void;
  /** True when the idle watchdog gave up on the provider. */
  stalled(): boolean;
  /** Waits for batches already on their way (the result carries the whole text, so the rest is dropped). */
  settle(): Promise<void>;
  stop(): void;
}

/**
 * The plumbing of a streamed model request inside an activity: heartbeats on a timer (a dead
 * worker is noticed), batched and redacted live text to the workflow, an idle watchdog that turns
 * a stalled provider into a retryable timeout, and the activity's cancellation wired to the request.
 */
export function startLiveText({ idleTimeoutMs, send, intervalMs = chunkIntervalMs }: LiveTextOptions): LiveText {
  const ctx = Context.current();
  const started = Date.now();
  const controller = new AbortController();
  const onCancel = () => controller.abort(ctx.cancellationSignal.reason);
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  let pending = '';
  let lastByteAt = Date.now();
  let lastSentAt = started;
  let lastBeatAt = 0;
  let sending: Promise<unknown> = Promise.resolve();
  let stalled = false;
  const sendPending = () => {
    if (!pending) return;
    // Redacted like everything that leaves a provider (a key echoed back by a model included).
    const text = redact(pending);
    pending = '';
    lastSentAt = Date.now();
    // In order, and never failing the attempt: live text is a nicety, the result is what counts.
    sending = sending.then(() => send(text).catch(() => undefined));
  };
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastBeatAt >= HEARTBEAT_EVERY_MS) {
      lastBeatAt = now;
      ctx.heartbeat({ chars: 0 });
    }
    const elapsed = now - started;
    if (elapsed >= FIRST_CHUNK_AFTER_MS && (lastSentAt === started || now - lastSentAt >= intervalMs(elapsed)))
      sendPending();
    // Silence is measured from the last byte of any kind: keep-alives and non-text events count.
    if (now - lastByteAt > idleTimeoutMs) {
      stalled = true;
      controller.abort(new Error('stalled'));
    }
  }, TICK_MS);
  return {
    signal: controller.signal,
    onText(text) {
      lastByteAt = Date.now();
      pending += text;
    },
    onBytes() {
      lastByteAt = Date.now();
    },
    stalled: () => stalled,
    async settle() {
      await sending;
    },
    stop() {
      clearInterval(timer);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    },
  };
}

export function createLlmActivities({ client, llm, jobsDir }: { client: Client; llm: LlmSettings; jobsDir: string }) {
  const idleTimeoutMs = llm.idleTimeoutMs;

  return {
    async completePrompt(input: LlmInput): Promise<LlmResult> {
      const ctx = Context.current();
      const attempt = ctx.info.attempt;
      const started = Date.now();
      const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
      const workflow = client.workflow.getHandle(workflowId);
      const live = startLiveText({
        idleTimeoutMs,
        send: (text) => workflow.signal(llmChunkSignal, { attempt, text }),
      });

      try {
        const provider = createProvider(input.backend, llm, { onBytes: live.onBytes });
        const completion = await provider.complete({
          model: input.model,
          prompt: input.prompt,
          system: input.system,
          maxTokens: input.maxTokens,
          temperature: input.temperature,
          signal: live.signal,
          onText: live.onText,
        });
        // The result carries the whole text: flushing the rest as a signal would only add a
        // signal and a workflow task to every prompt. In-flight signals still land first.
        await live.settle();
        const file = path.join(jobsDir, idName(workflowId), `answer-${attempt}.txt`);
        const answer = redact(completion.text);
        const capped = cappedText(answer, file);
        if (capped.fullText) {
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, answer);
        }
        return {
          ...capped,
          backend: input.backend,
          model: completion.model || input.model,
          usage: { inputTokens: completion.inputTokens, outputTokens: completion.outputTokens },
          finishReason: completion.finishReason,
          latencyMs: Date.now() - started,
          attempts: attempt,
        };
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        throw toFailure(err, input.backend, live.stalled() ? idleTimeoutMs : undefined);
      } finally {
        live.stop();
      }
    },

    async listModels(backend: LlmBackend): Promise<string[]> {
      try {
        return await createProvider(backend, llm).listModels(Context.current().cancellationSignal);
      } catch (err) {
        throw toFailure(err, backend);
      }
    },
  };
}

/** Maps the provider taxonomy onto Temporal: fatal errors are non-retryable, rate limits honour retry-after. */
export function toFailure(err: unknown, backend: LlmBackend, stalledAfterMs?: number): ApplicationFailure {
  if (stalledAfterMs !== undefined) {
    return ApplicationFailure.create({
      message:
        `${backend}: no data for ${Math.round(stalledAfterMs / 1000)} s; ` +
        'the request was abandoned and will be retried',
      type: LLM_FAILURE_TYPES.timeout,
    });
  }
  if (err instanceof LlmError) {
    const message = redact(err.message);
    if (err.kind === 'fatal')
      return ApplicationFailure.create({
        message,
        type: LLM_FAILURE_TYPES.fatal,
        nonRetryable: true,
        details: [{ status: err.status ?? null }],
      });
    return ApplicationFailure.create({
      message,
      type: LLM_FAILURE_TYPES.retryable,
      details: [{ status: err.status ?? null }],
      nextRetryDelay: err.retryAfterMs !== undefined ? Math.max(0, Math.min(err.retryAfterMs, 300_000)) : undefined,
    });
  }
  return ApplicationFailure.create({
    message: redact(`${backend}: ${(err as Error)?.message ?? String(err)}`),
    type: LLM_FAILURE_TYPES.retryable,
  });
}
