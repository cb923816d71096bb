/**
 * `llmPrompt`: one prompt to Ollama, OpenAI or Anthropic, answered exactly once. Rate limits,
 * 5xx, lost connections and stalls are retried with backoff (each attempt visible in history);
 * 4xx and a missing key fail at once.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { FAILURE_TYPES, llmChunkSignal, statusQuery, type LlmResult, type LlmStatus } from '../core/contract.js';
import { withCurrentDetails, withSummary } from './details.js';
import { startReporter } from './reporter.js';
import { applicationFailureOf, publishRun, setPhase } from './runs.js';
import { InputError, validateLlmInput } from '../core/validate.js';

const { completePrompt } = proxyActivities<Activities>({
  // Streaming keeps long answers alive; this bounds one attempt, the heartbeat notices a dead worker.
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  // Left out, the SDK sends TRY_CANCEL and the run would end CANCELLED while the HTTP request
  // still runs (and is billed); waiting makes "cancelled" mean the request is closed.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 6,
    nonRetryableErrorTypes: [FAILURE_TYPES.llmFatal, FAILURE_TYPES.invalidInput],
  },
});

/** Live text kept in the status; the whole answer is in the result. */
const PARTIAL_TEXT_LIMIT = 64_000;

export async function llmPromptWorkflow(rawInput: unknown): Promise<LlmResult> {
  let input;
  try {
    input = validateLlmInput(rawInput);
  } catch (err) {
    if (err instanceof InputError)
      throw ApplicationFailure.nonRetryable(`invalid llmPrompt input: ${err.message}`, FAILURE_TYPES.invalidInput);
    throw err;
  }
  const status: LlmStatus = {
    id: workflowInfo().workflowId,
    kind: 'llm',
    phase: 'RUNNING',
    backend: input.backend,
    model: input.model,
    prompt: input.prompt.slice(0, 200),
    requestedBy: input.requestedBy ?? null,
    attempt: 1,
    partialText: '',
    result: null,
    error: null,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    slackMessage: input.slack?.messageTs ? { channel: input.slack.channel, ts: input.slack.messageTs } : null,
  };
  setHandler(statusQuery, () => status);
  setHandler(llmChunkSignal, ({ attempt, text }) => {
    if (attempt < status.attempt) return; // Late text of an attempt that already failed.
    if (attempt > status.attempt) {
      status.attempt = attempt;
      status.partialText = '';
    }
    if (status.partialText.length < PARTIAL_TEXT_LIMIT)
      status.partialText += text.slice(0, PARTIAL_TEXT_LIMIT - status.partialText.length);
  });
  publishRun('llm', status, { prompt: input.prompt.slice(0, 200) }, input.slack);
  const reporter = withCurrentDetails(startReporter(status, input.slack), status);
  reporter.changed();

  const end = async (phase: 'DONE' | 'FAILED' | 'CANCELLED') => {
    status.finishedAt = new Date().toISOString();
    setPhase(status, phase);
    reporter.changed();
    await reporter.finish();
  };

  try {
    const { slack: _slack, requestedBy: _by, ...request } = input;
    const result = await withSummary(completePrompt, `${request.backend}/${request.model}`, request);
    status.result = result;
    status.attempt = result.attempts;
    status.partialText = '';
    await end('DONE');
    return result;
  } catch (err) {
    if (isCancellation(err)) {
      status.error = 'cancelled';
      await end('CANCELLED');
      throw err;
    }
    const failure = applicationFailureOf(err);
    status.error = failure?.message ?? String(err);
    await end('FAILED');
    throw ApplicationFailure.create({
      message: status.error,
      type: failure?.type ?? FAILURE_TYPES.llmFailed,
      nonRetryable: true,
    });
  }
}
