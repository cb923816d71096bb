/**
 * `completePrompt`: one attempt at an LLM prompt, streamed. Text goes to the workflow as it
 * comes (the `llmChunk` signal, batched) so `poc llm` can print it live; heartbeats run on a
 * timer so a dead worker is noticed, and an idle watchdog turns a stalled server into a
 * retryable timeout. Temporal owns the retries: the SDKs' own are off.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { LlmSettings } from '../core/config.js';
import { createProvider } from '../providers/index.js';
import { LlmError } from '../providers/types.js';
import { LLM_FAILURE_TYPES, llmChunkSignal, type LlmBackend, type LlmInput, type LlmResult } from '../core/contract.js';
import { redact } from '../core/redact.js';

export { LLM_FAILURE_TYPES } from '../core/contract.js';

/** Answers quicker than this never send a partial-text signal (keeps short prompts cheap). */
const FIRST_CHUNK_AFTER_MS = 300;
const CHUNK_EVERY_MS = 400;
const HEARTBEAT_EVERY_MS = 2_000;

/** How an attempt's text reaches its workflow while it streams. */
export interface LiveTextOptions {
  idleTimeoutMs: number;
  /** Sends a batch of text to the workflow (a signal); batches go in order, a failure is ignored. */
  send: (text: string) => Promise<unknown>;
  /** Batches are sent this often, the first no sooner than FIRST_CHUNK_AFTER_MS. */
  everyMs: number;
}

export interface LiveText {
  /** Aborted when the activity is cancelled or the provider stalls. */
  signal: AbortSignal;
  onText(text: string): void;
  /** True when the idle watchdog gave up on the provider. */
  stalled(): boolean;
  /** Waits for batches already on their way (the result carries the whole text, so the rest is dropped). */
  settle(): Promise<void>;
  stop(): void;
}

/**
 * The plumbing of a streamed model request inside an activity: heartbeats on a timer (a dead
 * worker is noticed), batched live text to the workflow, an idle watchdog that turns a stalled
 * provider into a retryable timeout, and the activity's cancellation wired to the request.
 */
export function startLiveText({ idleTimeoutMs, send, everyMs }: LiveTextOptions): LiveText {
  const ctx = Context.current();
  const started = Date.now();
  const controller = new AbortController();
  const onCancel = () => controller.abort(ctx.cancellationSignal.reason);
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  let pending = '';
  let lastChunkAt = Date.now();
  let sending: Promise<unknown> = Promise.resolve();
  let stalled = false;
  const sendPending = () => {
    if (!pending) return;
    const text = pending;
    pending = '';
    // In order, and never failing the attempt: live text is a nicety, the result is what counts.
    sending = sending.then(() => send(text).catch(() => undefined));
  };
  const timer = setInterval(
    () => {
      ctx.heartbeat({ chars: 0 });
      if (Date.now() - started >= FIRST_CHUNK_AFTER_MS) sendPending();
      if (Date.now() - lastChunkAt > idleTimeoutMs) {
        stalled = true;
        controller.abort(new Error('stalled'));
      }
    },
    Math.min(HEARTBEAT_EVERY_MS, everyMs),
  );
  return {
    signal: controller.signal,
    onText(text) {
      lastChunkAt = Date.now();
      pending += text;
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

export function createLlmActivities({ client, llm }: { client: Client; llm: LlmSettings }) {
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
        everyMs: CHUNK_EVERY_MS,
        send: (text) => workflow.signal(llmChunkSignal, { attempt, text }),
      });

      try {
        const provider = createProvider(input.backend, llm);
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
        return {
          text: completion.text,
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
