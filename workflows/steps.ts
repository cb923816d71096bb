/**
 * One pipeline step, from the workflow's side: the `runStep` activity with its timeouts and
 * retry policy, the step's state kept current in the status, and infrastructure errors (Docker
 * unreachable, Compose failing before the script ran) retried here with backoff so that
 * `status.error` says what is going on meanwhile.
 */
import { ActivityCancellationType, isCancellation, patched, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RunPlan, StepFailureDetails, StepPlan } from '../activities/types.js';
import { STEP_FAILURE_TYPES, type PipelineStatus, type StepState } from '../core/contract.js';
import { withSummary } from './details.js';
import { HostInterrupted } from './host-claim.js';
import type { Reporter } from './reporter.js';
import { applicationFailureOf } from './runs.js';

/** Infrastructure errors the workflow retries itself, so `status.error` can say what is going on. */
const INFRA_FAILURES: string[] = [STEP_FAILURE_TYPES.dockerUnavailable, STEP_FAILURE_TYPES.compose];
/** Runs recorded before `infra-retry-within-step-budget` gave up after this many retries (about 4 minutes). */
const MAX_INFRA_RETRIES = 8;

/** Seconds before the `retries`-th retry after an infrastructure error: 2, 4, 8, … up to a minute. */
export function infraRetryDelaySeconds(retries: number): number {
  return Math.min(60, 2 ** retries);
}

/** "45 s", "3 min", "1 h 5 min": durations in status.error. */
export function shortDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
export const DEFAULT_STEP_TIMEOUT_SECONDS = 600;
/** Long enough for a slow `docker compose` start, short enough that a dead worker is noticed soon. */
const STEP_HEARTBEAT_TIMEOUT = '20 seconds';
/**
 * How often, at most, a running step sends its newest output line to the workflow (runs that
 * report to Slack only): each send is a signal in history, and Slack takes about one update a
 * second per channel anyway. Readers without Slack get the line from the heartbeat instead.
 */
export const LIVE_OUTPUT_EVERY_SECONDS = 10;
/** Patch id: steps of runs that report to Slack send their newest output line. */
export const STEP_LIVE_OUTPUT = 'step-live-output';

function stepActivity(timeoutSeconds: number, taskQueue: string | undefined) {
  return proxyActivities<Activities>({
    // On a fleet, the queue of the run's host: only that host's worker polls it.
    ...(taskQueue ? { taskQueue } : {}),
    // The activity enforces the step's own timeout (and stops the container); this is the backstop.
    startToCloseTimeout: `${timeoutSeconds + 120} seconds`,
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      // Only a lost worker or a heartbeat timeout gets here: the step is run again from a clean container.
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: 5,
      nonRetryableErrorTypes: [
        STEP_FAILURE_TYPES.failed,
        STEP_FAILURE_TYPES.timedOut,
        STEP_FAILURE_TYPES.invalidInput,
        ...INFRA_FAILURES,
      ],
    },
  }).runStep;
}

function now(): string {
  return new Date().toISOString();
}

/** A step that has not run yet. */
export function pendingStep(name: string): StepState {
  return {
    name,
    status: 'pending',
    exitCode: null,
    attempt: 0,
    startedAt: null,
    finishedAt: null,
    logPath: null,
    durationMs: null,
    logTail: null,
    command: null,
    host: null,
    lastLine: null,
  };
}

export interface StepRunContext {
  status: PipelineStatus;
  reporter: Reporter;
  /** The run's own step timeout (input.stepTimeoutSeconds), which wins over the workspace's. */
  stepTimeoutSeconds: number | undefined;
  /** On a fleet: the host the run holds, the task queue only its worker polls, and a promise that rejects with
   * HostInterrupted when that host is lost (the step is abandoned at once; its cancel request stops any retry). */
  host?: { name: string; taskQueue: string; interrupt: Promise<never> };
  /** True when the run reports to Slack: its steps then send their newest output line (coalesced). */
  liveOutput?: boolean;
}

/**
 * Runs one step to success or failure (a cancellation is rethrown). The step's state in
 * `ctx.status` is kept current, a failure's log tail goes to Slack as a thread reply.
 */
export async function runStepToEnd(
  ctx: StepRunContext,
  runPlan: RunPlan,
  stepPlan: StepPlan,
  step: StepState,
): Promise<'done' | 'failed'> {
  const { status, reporter } = ctx;
  const timeoutSeconds = ctx.stepTimeoutSeconds ?? stepPlan.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
  const runStep = stepActivity(timeoutSeconds, ctx.host?.taskQueue);
  let waitingSince: number | undefined;
  for (let infraRetries = 0; ;) {
    const attemptStarted = Date.now();
    step.attempt += 1;
    step.status = 'running';
    step.startedAt = now();
    step.finishedAt = null;
    step.exitCode = null;
    step.durationMs = null;
    step.lastLine = null;
    step.logPath = `${runPlan.jobDir}/logs/${step.name}.log`;
    if (ctx.host) step.host = ctx.host.name;
    reporter.changed();
    try {
      const liveOutput = ctx.liveOutput && patched(STEP_LIVE_OUTPUT);
      const summary = step.attempt > 1 ? `${step.name} (attempt ${step.attempt})` : step.name;
      const pending = withSummary(runStep, summary, {
        workflowId: status.id,
        workspace: runPlan.workspace,
        composeFiles: runPlan.composeFiles,
        service: runPlan.service,
        step: stepPlan,
        attempt: step.attempt,
        logPath: step.logPath,
        jobDir: runPlan.jobDir,
        timeoutSeconds,
        // Plans recorded before the setup existed have none: their steps read the workspace as it is.
        ...(runPlan.compose ? { compose: runPlan.compose } : {}),
        ...(liveOutput ? { liveOutputSeconds: LIVE_OUTPUT_EVERY_SECONDS } : {}),
      });
      let result;
      if (ctx.host) {
        // An abandoned step settles later (its cancel waits for the lost host's heartbeat timeout): nobody waits.
        pending.catch(() => undefined);
        result = await Promise.race([pending, ctx.host.interrupt]);
      } else {
        result = await pending;
      }
      Object.assign(step, {
        status: 'done',
        exitCode: result.exitCode,
        durationMs: result.durationMs,
        logTail: result.logTail,
        finishedAt: now(),
        ...(result.host ? { host: result.host } : {}),
      });
      status.error = null;
      reporter.changed();
      return 'done';
    } catch (err) {
      if (err instanceof HostInterrupted) throw err;
      if (isCancellation(err)) {
        step.status = 'cancelled';
        step.finishedAt = now();
        throw err;
      }
      const failure = applicationFailureOf(err);
      const infra = failure !== undefined && INFRA_FAILURES.includes(failure.type ?? '');
      if (infra && patched('infra-retry-within-step-budget')) {
        // An engine that is down is waited for as long as the step's own budget says.
        waitingSince ??= attemptStarted;
        const waited = (Date.now() - waitingSince) / 1000;
        const delaySeconds = infraRetryDelaySeconds(infraRetries + 1);
        if (waited + delaySeconds <= timeoutSeconds) {
          infraRetries += 1;
          status.error =
            `${failure.message} — retrying step ${step.name} in ${delaySeconds} s ` +
            `(waiting ${shortDuration(waited)} of its ${shortDuration(timeoutSeconds)})`;
          step.status = 'pending';
          reporter.changed();
          await sleep(delaySeconds * 1000);
          continue;
        }
        const gaveUp = `gave up on step ${step.name} after waiting ${shortDuration(waited)}, its time budget`;
        recordFailure(ctx, step, err, timeoutSeconds, gaveUp);
        return 'failed';
      }
      if (infra && infraRetries < MAX_INFRA_RETRIES) {
        infraRetries += 1;
        const delaySeconds = infraRetryDelaySeconds(infraRetries);
        status.error =
          `${failure.message} — retrying step ${step.name} in ${delaySeconds} s ` +
          `(${infraRetries}/${MAX_INFRA_RETRIES})`;
        step.status = 'pending';
        reporter.changed();
        await sleep(delaySeconds * 1000);
        continue;
      }
      recordFailure(ctx, step, err, timeoutSeconds);
      return 'failed';
    }
  }
}

/** The failed step's state and the run's error; the log tail as a Slack thread reply. */
function recordFailure(ctx: StepRunContext, step: StepState, err: unknown, timeoutSeconds: number, why?: string): void {
  const { status, reporter } = ctx;
  const failure = applicationFailureOf(err);
  const details = failure?.details?.[0] as StepFailureDetails | undefined;
  Object.assign(step, {
    status: 'failed',
    exitCode: details?.exitCode ?? null,
    logTail: details?.logTail ?? null,
    finishedAt: now(),
    durationMs: Date.parse(now()) - Date.parse(step.startedAt ?? now()),
  });
  status.error = failure?.message ?? String((err as Error).message ?? err);
  status.error = `${status.error}${why ? ` — ${why}` : ''} — log: ${step.logPath}`;
  if (details) {
    reporter.reply({
      step: step.name,
      attempt: step.attempt,
      why: details.timedOut
        ? `timed out after ${timeoutSeconds} s`
        : `failed with exit code ${details.exitCode ?? '?'}`,
      logTail: details.logTail,
      logPath: details.logPath,
    });
  }
  reporter.changed();
}
