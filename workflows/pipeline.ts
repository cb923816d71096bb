/**
 * `pipeline`: build → bootstrap → doctor → lint → test (or the steps asked for), one activity per
 * step, in the workspace's `runner` compose service, one pipeline per workspace at a time.
 *
 * Everything a run knows lives in this function's variables; Temporal's replay restores them
 * after a worker, bot or server restart, so there are no lock or state files anywhere.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RunPlan, StepFailureDetails, StepPlan } from '../activities/types.js';
import {
  APPROVAL_ACTIONS,
  FAILURE_ACTIONS,
  FAILURE_TYPES,
  INTERNAL_ID,
  STEP_FAILURE_TYPES,
  decideUpdate,
  lockGrantedSignal,
  queuePositionSignal,
  releaseLockSignal,
  statusQuery,
  type Decision,
  type DecisionAction,
  type PipelineStatus,
  type StepState,
} from '../core/contract.js';
import { startReporter } from './reporter.js';
import { applicationFailureOf, publishRun, setPhase } from './runs.js';
import { InputError, validatePipelineInput, type ValidPipelineInput } from '../core/validate.js';

const setupOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [FAILURE_TYPES.invalidInput],
  },
};
/** Runs recorded before `local-setup-activities` scheduled these on the task queue. */
const remoteSetup = proxyActivities<Activities>(setupOptions);
/** Short and side-effect-light: run in the worker that runs the workflow, without a task-queue round trip. */
const localSetup = proxyLocalActivities<Activities>(setupOptions);

/** Infrastructure errors the workflow retries itself, so `status.error` can say what is going on. */
const INFRA_FAILURES: string[] = [STEP_FAILURE_TYPES.dockerUnavailable, STEP_FAILURE_TYPES.compose];
const MAX_INFRA_RETRIES = 8;
const DEFAULT_STEP_TIMEOUT_SECONDS = 600;
/** Long enough for a slow `docker compose` start, short enough that a dead worker is noticed soon. */
const STEP_HEARTBEAT_TIMEOUT = '20 seconds';

function stepActivities(timeoutSeconds: number) {
  return proxyActivities<Activities>({
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

export async function pipelineWorkflow(rawInput?: unknown): Promise<PipelineStatus> {
  let input: ValidPipelineInput;
  try {
    input = validatePipelineInput(rawInput);
  } catch (err) {
    if (err instanceof InputError)
      throw ApplicationFailure.nonRetryable(`invalid pipeline input: ${err.message}`, FAILURE_TYPES.invalidInput);
    throw err;
  }
  const info = workflowInfo();
  const status: PipelineStatus = {
    id: info.workflowId,
    kind: 'pipeline',
    phase: 'QUEUED',
    goal: input.goal,
    requestedBy: input.requestedBy ?? null,
    queuePosition: null,
    steps: input.steps.map((name): StepState => ({
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
    })),
    error: null,
    workspace: input.workspace ?? null,
    onFailure: input.onFailure,
    pendingDecision: null,
    decisions: [],
    startedAt: now(),
    finishedAt: null,
    slackMessage: input.slack?.messageTs ? { channel: input.slack.channel, ts: input.slack.messageTs } : null,
  };
  setHandler(statusQuery, () => status);
  publishRun('pipeline', status, { goal: input.goal }, input.slack);
  const reporter = startReporter(status, input.slack);

  const changed = () => reporter.changed();
  const enterPhase = (phase: PipelineStatus['phase']) => {
    setPhase(status, phase);
    changed();
  };

  // Decisions (after a failure with onFailure=ask, or before a gated step) arrive as the `decide` update.
  let decision: Decision | undefined;
  setHandler(
    decideUpdate,
    (d) => {
      if (decision !== undefined)
        throw ApplicationFailure.nonRetryable(
          'a decision was already made for this question',
          FAILURE_TYPES.decisionTaken,
        );
      decision = d;
      return { action: d.action, step: status.pendingDecision?.step ?? '' };
    },
    {
      validator: (d) => {
        const pending = status.pendingDecision;
        if (!pending || status.phase !== 'AWAITING_DECISION') {
          throw new Error(`${status.id} is ${status.phase}, not awaiting a decision; nothing to decide`);
        }
        if (!d || typeof d !== 'object' || typeof d.action !== 'string') {
          throw new Error(`decide needs { "action": ${pending.options.map((o) => `"${o}"`).join(' | ')} }`);
        }
        if (!pending.options.includes(d.action)) {
          throw new Error(
            `"${String(d.action).slice(0, 40)}" does not answer this question; choose ${pending.options.join(', ')}`,
          );
        }
        if (d.decisionId !== undefined && d.decisionId !== pending.id) {
          throw new Error('that button belongs to an earlier question, which is already settled');
        }
      },
    },
  );

  // Approval gates: `approveAll` (the "Approve all" button) lets every later gate through.
  let approveAll = false;
  const gated = (name: string) => !approveAll && (input.approve === 'all' || input.approve.includes(name));

  async function awaitDecision(kind: 'failure' | 'approval', step: StepState, options: readonly DecisionAction[]) {
    const deadline = Date.now() + input.decisionTimeoutSeconds * 1000;
    status.pendingDecision = {
      id: `${kind}-${step.name}-${step.attempt}-${status.decisions.length}`,
      kind,
      step: step.name,
      options: [...options],
      deadline: new Date(deadline).toISOString(),
    };
    enterPhase('AWAITING_DECISION');
    const answered = await condition(() => decision !== undefined, input.decisionTimeoutSeconds * 1000);
    const d: Decision =
      answered && decision ? decision : { action: kind === 'failure' ? 'abort' : 'deny', by: 'timeout' };
    status.decisions.push({
      id: status.pendingDecision.id,
      step: step.name,
      action: d.action,
      by: d.by ?? null,
      at: now(),
    });
    status.pendingDecision = null;
    decision = undefined;
    enterPhase('RUNNING');
    return d;
  }

  let lockId: string | undefined;
  let granted = false;
  setHandler(lockGrantedSignal, () => {
    granted = true;
    status.queuePosition = null;
  });
  setHandler(queuePositionSignal, ({ ahead }) => {
    if (granted) return;
    status.queuePosition = ahead;
    changed();
  });

  // Upgrade guard (see README, "Safe workflow upgrades"): runs that started before this change
  // replay with remote activities, new runs take the faster path.
  const { prepareRun, requestWorkspaceLock } = patched('local-setup-activities') ? localSetup : remoteSetup;

  let plan: RunPlan;
  try {
    plan = await prepareRun({ workflowId: status.id, workspace: input.workspace, steps: input.steps });
  } catch (err) {
    const failure = applicationFailureOf(err);
    if (failure?.type === FAILURE_TYPES.invalidInput) {
      status.error = failure.message;
      await finish('FAILED');
      throw ApplicationFailure.nonRetryable(`invalid pipeline input: ${failure.message}`, FAILURE_TYPES.invalidInput);
    }
    throw err;
  }
  status.workspace = plan.workspace;
  plan.steps.forEach((step, i) => (status.steps[i].command = step.command));

  async function finish(phase: 'DONE' | 'FAILED' | 'CANCELLED') {
    for (const step of status.steps) if (step.status === 'pending') step.status = 'skipped';
    status.finishedAt = now();
    status.queuePosition = null;
    status.pendingDecision = null;
    setPhase(status, phase);
    reporter.changed();
    await CancellationScope.nonCancellable(async () => {
      if (lockId) {
        // Leaves the queue, or frees the workspace for the next run.
        await getExternalWorkflowHandle(lockId)
          .signal(releaseLockSignal, { workflowId: status.id })
          .catch(() => undefined);
      }
      await reporter.finish();
    });
  }

  try {
    lockId = `${INTERNAL_ID.workspaceLockPrefix}${plan.lockKey}`;
    status.queuePosition = 0;
    await requestWorkspaceLock({
      lockId,
      workspace: plan.workspace,
      workflowId: status.id,
      startedAt: info.startTime.toISOString(),
    });
    await condition(() => granted);
    enterPhase('RUNNING');

    for (let i = 0; i < plan.steps.length; i++) {
      const step = status.steps[i];
      if (gated(step.name)) {
        const d = await awaitDecision('approval', step, APPROVAL_ACTIONS);
        if (d.action === 'deny') {
          const why = d.by === 'timeout' ? 'no answer in time' : `denied by ${d.by ?? 'someone'}`;
          status.error = `step ${step.name} was not approved (${why})`;
          await finish('CANCELLED');
          return status;
        }
        if (d.action === 'approveAll') approveAll = true;
      }

      const outcome = await runStepToEnd(plan, plan.steps[i], step);
      if (outcome === 'done') continue;

      if (input.onFailure === 'ask') {
        const d = await awaitDecision('failure', step, FAILURE_ACTIONS);
        if (d.action === 'retry') {
          status.error = null;
          i -= 1;
          continue;
        }
        if (d.action === 'skip') {
          step.status = 'skipped';
          status.error = null;
          changed();
          continue;
        }
        const detail = d.by === 'timeout' ? ': no decision in time' : d.by ? ` by ${d.by}` : '';
        status.error = `${status.error ?? `step ${step.name} failed`} (aborted${detail})`;
      }
      await finish('FAILED');
      throw ApplicationFailure.create({
        message: status.error ?? `step ${step.name} failed`,
        type: FAILURE_TYPES.pipelineFailed,
        nonRetryable: true,
        details: [status],
      });
    }
    await finish('DONE');
    return status;
  } catch (err) {
    if (isCancellation(err)) {
      for (const step of status.steps) if (step.status === 'running') step.status = 'cancelled';
      status.error = status.error ?? 'cancelled';
      await finish('CANCELLED');
    }
    throw err;
  }

  /** Runs one step to success or failure; infrastructure errors are retried here with backoff. */
  async function runStepToEnd(runPlan: RunPlan, stepPlan: StepPlan, step: StepState): Promise<'done' | 'failed'> {
    const timeoutSeconds = input.stepTimeoutSeconds ?? stepPlan.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
    const runStep = stepActivities(timeoutSeconds);
    for (let infraRetries = 0; ;) {
      step.attempt += 1;
      step.status = 'running';
      step.startedAt = now();
      step.finishedAt = null;
      step.exitCode = null;
      step.durationMs = null;
      step.logPath = `${runPlan.jobDir}/logs/${step.name}.log`;
      changed();
      try {
        const result = await runStep({
          workflowId: status.id,
          workspace: runPlan.workspace,
          composeFiles: runPlan.composeFiles,
          service: runPlan.service,
          step: stepPlan,
          attempt: step.attempt,
          logPath: step.logPath,
          jobDir: runPlan.jobDir,
          timeoutSeconds,
        });
        Object.assign(step, {
          status: 'done',
          exitCode: result.exitCode,
          durationMs: result.durationMs,
          logTail: result.logTail,
          finishedAt: now(),
        });
        status.error = null;
        changed();
        return 'done';
      } catch (err) {
        if (isCancellation(err)) {
          step.status = 'cancelled';
          step.finishedAt = now();
          throw err;
        }
        const failure = applicationFailureOf(err);
        if (failure && INFRA_FAILURES.includes(failure.type ?? '') && infraRetries < MAX_INFRA_RETRIES) {
          infraRetries += 1;
          const delaySeconds = Math.min(60, 2 ** infraRetries);
          status.error =
            `${failure.message} — retrying step ${step.name} in ${delaySeconds} s ` +
            `(${infraRetries}/${MAX_INFRA_RETRIES})`;
          step.status = 'pending';
          changed();
          await sleep(delaySeconds * 1000);
          continue;
        }
        const details = failure?.details?.[0] as StepFailureDetails | undefined;
        Object.assign(step, {
          status: 'failed',
          exitCode: details?.exitCode ?? null,
          logTail: details?.logTail ?? null,
          finishedAt: now(),
          durationMs: Date.parse(now()) - Date.parse(step.startedAt ?? now()),
        });
        status.error = failure?.message ?? String((err as Error).message ?? err);
        status.error = `${status.error} — log: ${step.logPath}`;
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
        changed();
        return 'failed';
      }
    }
  }
}
