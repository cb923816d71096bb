/**
 * `pipeline`: build → bootstrap → doctor → lint → test (or the steps asked for), one activity per
 * step, in the workspace's `runner` compose service, one pipeline per workspace at a time.
 *
 * Everything a run knows lives in this function's variables; Temporal's replay restores them
 * after a worker, bot or server restart, so there are no lock or state files anywhere.
 */
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { LockRequestArgs, RunPlan } from '../activities/types.js';
import {
  APPROVAL_ACTIONS,
  FAILURE_ACTIONS,
  FAILURE_TYPES,
  INTERNAL_ID,
  statusQuery,
  type PipelineStatus,
  type StepState,
} from '../core/contract.js';
import { InputError, validatePipelineInput, type ValidPipelineInput } from '../core/validate.js';
import { decisionGate } from './decisions.js';
import { withCurrentDetails, withSummary } from './details.js';
import { startReporter } from './reporter.js';
import { applicationFailureOf, publishRun, setPhase } from './runs.js';
import { followStepOutput } from './step-output.js';
import { pendingStep, runStepToEnd } from './steps.js';
import { workspaceQueue } from './workspace-queue.js';

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

function now(): string {
  return new Date().toISOString();
}

function parseInput(rawInput: unknown): ValidPipelineInput {
  try {
    return validatePipelineInput(rawInput);
  } catch (err) {
    if (err instanceof InputError) {
      throw ApplicationFailure.nonRetryable(`invalid pipeline input: ${err.message}`, FAILURE_TYPES.invalidInput);
    }
    throw err;
  }
}

function initialStatus(input: ValidPipelineInput): PipelineStatus {
  return {
    id: workflowInfo().workflowId,
    kind: 'pipeline',
    phase: 'QUEUED',
    goal: input.goal,
    requestedBy: input.requestedBy ?? null,
    queuePosition: null,
    steps: input.steps.map(pendingStep),
    error: null,
    workspace: input.workspace ?? null,
    jobDir: null,
    onFailure: input.onFailure,
    pendingDecision: null,
    decisions: [],
    startedAt: now(),
    finishedAt: null,
    slackMessage: input.slack?.messageTs ? { channel: input.slack.channel, ts: input.slack.messageTs } : null,
    lastRefusedDecision: null,
  };
}

export async function pipelineWorkflow(rawInput?: unknown): Promise<PipelineStatus> {
  const input = parseInput(rawInput);
  const info = workflowInfo();
  const status = initialStatus(input);
  setHandler(statusQuery, () => status);
  publishRun('pipeline', status, { goal: input.goal }, input.slack);
  // Slack (when the run reports there) and the Web UI's current details follow every change.
  const reporter = withCurrentDetails(startReporter(status, input.slack), status);

  const changed = () => reporter.changed();
  const enterPhase = (phase: PipelineStatus['phase']) => {
    setPhase(status, phase);
    changed();
  };

  // Decisions (after a failure with onFailure=ask, or before a gated step) arrive as the `decide`
  // update, or as the `decide` signal from tools that only send signals (tctl).
  const decisions = decisionGate(status, (awaiting) => enterPhase(awaiting ? 'AWAITING_DECISION' : 'RUNNING'), changed);
  const ask = (kind: 'failure' | 'approval', step: StepState) =>
    decisions.ask({
      kind,
      step: step.name,
      attempt: step.attempt,
      options: kind === 'failure' ? FAILURE_ACTIONS : APPROVAL_ACTIONS,
      timeoutSeconds: input.decisionTimeoutSeconds,
    });

  // Approval gates: `approveAll` (the "Approve all" button) lets every later gate through.
  let approveAll = false;
  const gated = (name: string) => !approveAll && (input.approve === 'all' || input.approve.includes(name));

  const queue = workspaceQueue(status, changed);
  // A running step's newest line (sent only when the run reports to Slack, which shows it).
  followStepOutput(status, changed);

  // Upgrade guard (see README, "Safe workflow upgrades"): runs that started before this change
  // replay with remote activities, new runs take the faster path.
  const { prepareRun, requestWorkspaceLock } = patched('local-setup-activities') ? localSetup : remoteSetup;

  async function finish(phase: 'DONE' | 'FAILED' | 'CANCELLED') {
    for (const step of status.steps) if (step.status === 'pending') step.status = 'skipped';
    status.finishedAt = now();
    status.queuePosition = null;
    status.pendingDecision = null;
    setPhase(status, phase);
    reporter.changed();
    await CancellationScope.nonCancellable(async () => {
      // Leaves the queue, or frees the workspace for the next run.
      await queue.leave(status.id);
      await reporter.finish();
    });
  }

  let plan: RunPlan;
  try {
    const steps = input.steps.join(', ');
    plan = await withSummary(prepareRun, `prepare: ${steps}`, {
      workflowId: status.id,
      workspace: input.workspace,
      steps: input.steps,
    });
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
  status.jobDir = plan.jobDir;
  plan.steps.forEach((step, i) => (status.steps[i].command = step.command));
  const stepContext = {
    status,
    reporter,
    stepTimeoutSeconds: input.stepTimeoutSeconds,
    liveOutput: input.slack !== undefined,
  };

  try {
    status.queuePosition = 0;
    const joinQueue = (args: LockRequestArgs) =>
      withSummary(requestWorkspaceLock, `queue for the workspace ${args.workspace}`, args);
    await queue.wait(joinQueue, {
      lockId: `${INTERNAL_ID.workspaceLockPrefix}${plan.lockKey}`,
      workspace: plan.workspace,
      workflowId: status.id,
      startedAt: info.startTime.toISOString(),
    });
    enterPhase('RUNNING');

    for (let i = 0; i < plan.steps.length; i++) {
      const step = status.steps[i];
      if (gated(step.name)) {
        const d = await ask('approval', step);
        if (d.action === 'deny') {
          const why = d.by === 'timeout' ? 'no answer in time' : `denied by ${d.by ?? 'someone'}`;
          status.error = `step ${step.name} was not approved (${why})`;
          await finish('CANCELLED');
          return status;
        }
        if (d.action === 'approveAll') approveAll = true;
      }

      const outcome = await runStepToEnd(stepContext, plan, plan.steps[i], step);
      if (outcome === 'done') continue;

      if (input.onFailure === 'ask') {
        const d = await ask('failure', step);
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
}
