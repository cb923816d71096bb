/**
 * `pipeline`: build → bootstrap → doctor → lint → test (or the steps asked for), one activity per
 * step, in the workspace's `runner` compose service, one pipeline per workspace at a time.
 *
 * On a fleet (every run started since `fleet-hosts`), the run first claims a build host from its
 * task queue's host registry, then prepares its workspace, takes the workspace lock and runs every
 * step on that host's own task queue. If the host is lost, the run waits for another and starts
 * again there from the first step (the workspace and its volumes are the host's own).
 *
 * Everything a run knows lives in this function's variables; Temporal's replay restores them
 * after a worker, bot or server restart, so there are no lock or state files anywhere.
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type WorkflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { LockRequestArgs, RunPlan } from '../activities/types.js';
import {
  APPROVAL_ACTIONS,
  FAILURE_ACTIONS,
  FAILURE_TYPES,
  INTERNAL_ID,
  PocHost,
  hostRegistryId,
  statusQuery,
  type HostGrant,
  type PipelineStatus,
  type StepState,
} from '../core/contract.js';
import { InputError, validatePipelineInput, type ValidPipelineInput } from '../core/validate.js';
import { decisionGate, type Question } from './decisions.js';
import { withCurrentDetails, withSummary } from './details.js';
import { HostInterrupted, hostSeat } from './host-claim.js';
import { startReporter, type Reporter } from './reporter.js';
import { applicationFailureOf, publishRun, setPhase } from './runs.js';
import { followStepOutput } from './step-output.js';
import { pendingStep, runStepToEnd, type StepRunContext } from './steps.js';
import { workspaceQueue, type WorkspaceQueue } from './workspace-queue.js';

/** Upgrade guard: runs started before the fleet replay the single-worker path below, unchanged. */
export const FLEET_PATCH = 'fleet-hosts';

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

/** Preparing the workspace on the run's host; a clone may take minutes, and heartbeats while git works. */
function prepareOnHost(taskQueue: string) {
  return proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '1 minute',
    retry: {
      initialInterval: '1 second',
      maximumInterval: '30 seconds',
      maximumAttempts: 5,
      nonRetryableErrorTypes: [FAILURE_TYPES.invalidInput, FAILURE_TYPES.workspaceMissing],
    },
  }).prepareRun;
}

/** The workspace lock's request, named in the Web UI. */
function joinWorkspaceQueue(request: typeof localSetup.requestWorkspaceLock) {
  return (args: LockRequestArgs) => withSummary(request, `queue for the workspace ${args.workspace}`, args);
}

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
    host: null,
    hostMoves: [],
    queueReason: null,
    repo: input.repo ?? null,
    ref: input.repo ? (input.ref ?? null) : null,
    commit: null,
  };
}

/** What the parts of a run share. */
interface Run {
  input: ValidPipelineInput;
  info: WorkflowInfo;
  status: PipelineStatus;
  reporter: Reporter;
  queue: WorkspaceQueue;
  changed(): void;
  enterPhase(phase: PipelineStatus['phase']): void;
  ask(kind: Question['kind'], step: StepState): ReturnType<ReturnType<typeof decisionGate>['ask']>;
  gates: {
    /** "Approve all" lets every later gate through. */
    approveAll: boolean;
    /** Steps approved before the run moved host: not asked again. */
    approved: Set<string>;
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
  const ask = (kind: Question['kind'], step: StepState) =>
    decisions.ask({
      kind,
      step: step.name,
      attempt: step.attempt,
      options: kind === 'failure' ? FAILURE_ACTIONS : APPROVAL_ACTIONS,
      timeoutSeconds: input.decisionTimeoutSeconds,
    });

  const queue = workspaceQueue(status, changed);
  // A running step's newest line (sent only when the run reports to Slack, which shows it).
  followStepOutput(status, changed);
  const run: Run = {
    input,
    info,
    status,
    reporter,
    queue,
    changed,
    enterPhase,
    ask,
    gates: { approveAll: false, approved: new Set() },
  };
  return patched(FLEET_PATCH) ? onFleet(run) : onOneWorker(run);
}

/** Ends the run in `phase`: the host given back, pending steps skipped, the workspace freed, the last report out. */
async function finish(run: Run, phase: 'DONE' | 'FAILED' | 'CANCELLED', giveBack?: () => Promise<void>) {
  const { status, reporter } = run;
  // The host first: its next run need not wait for this one's last report, and the report is the last word.
  if (giveBack) await CancellationScope.nonCancellable(giveBack);
  for (const step of status.steps) if (step.status === 'pending') step.status = 'skipped';
  status.finishedAt = now();
  status.queuePosition = null;
  status.pendingDecision = null;
  if (status.queueReason) status.queueReason = null;
  setPhase(status, phase);
  reporter.changed();
  await CancellationScope.nonCancellable(async () => {
    // Leaves the queue, or frees the workspace for the next run.
    await run.queue.leave(status.id);
    await reporter.finish();
  });
}

type Ending = 'DONE' | 'FAILED' | 'DENIED';

/** Every step in order, with approval gates and decisions after a failure. */
async function runSteps(run: Run, plan: RunPlan, stepContext: StepRunContext): Promise<Ending> {
  const { input, status, gates } = run;
  const gated = (name: string) =>
    !gates.approveAll && !gates.approved.has(name) && (input.approve === 'all' || input.approve.includes(name));
  for (let i = 0; i < plan.steps.length; i++) {
    const step = status.steps[i];
    if (gated(step.name)) {
      const d = await run.ask('approval', step);
      if (d.action === 'deny') {
        const why = d.by === 'timeout' ? 'no answer in time' : `denied by ${d.by ?? 'someone'}`;
        status.error = `step ${step.name} was not approved (${why})`;
        return 'DENIED';
      }
      if (d.action === 'approveAll') gates.approveAll = true;
    }

    const outcome = await runStepToEnd(stepContext, plan, plan.steps[i], step);
    if (outcome === 'done') continue;

    if (input.onFailure === 'ask') {
      const d = await run.ask('failure', step);
      if (d.action === 'retry') {
        status.error = null;
        i -= 1;
        continue;
      }
      if (d.action === 'skip') {
        step.status = 'skipped';
        status.error = null;
        run.changed();
        continue;
      }
      const detail = d.by === 'timeout' ? ': no decision in time' : d.by ? ` by ${d.by}` : '';
      status.error = `${status.error ?? `step ${step.name} failed`} (aborted${detail})`;
    }
    return 'FAILED';
  }
  return 'DONE';
}

/** Finishes the run as its steps ended: DONE returns the status, FAILED fails the workflow (red in the UI). */
async function end(run: Run, ending: Ending, giveBack?: () => Promise<void>): Promise<PipelineStatus> {
  const { status } = run;
  if (ending === 'DENIED') {
    await finish(run, 'CANCELLED', giveBack);
    return status;
  }
  if (ending === 'FAILED') {
    const failed = status.steps.find((s) => s.status === 'failed');
    await finish(run, 'FAILED', giveBack);
    throw ApplicationFailure.create({
      message: status.error ?? `step ${failed?.name ?? '?'} failed`,
      type: FAILURE_TYPES.pipelineFailed,
      nonRetryable: true,
      details: [status],
    });
  }
  await finish(run, 'DONE', giveBack);
  return status;
}

async function failInvalid(run: Run, message: string, giveBack?: () => Promise<void>): Promise<never> {
  run.status.error = message;
  await finish(run, 'FAILED', giveBack);
  throw ApplicationFailure.nonRetryable(`invalid pipeline input: ${message}`, FAILURE_TYPES.invalidInput);
}

async function endCancelled(run: Run, err: unknown, giveBack?: () => Promise<void>): Promise<never> {
  if (isCancellation(err)) {
    const { status } = run;
    for (const step of status.steps) if (step.status === 'running') step.status = 'cancelled';
    status.error = status.error ?? 'cancelled';
    await finish(run, 'CANCELLED', giveBack);
  }
  throw err;
}

/** Runs started before the fleet: everything on the workflow's own task queue (the commands as they were). */
async function onOneWorker(run: Run): Promise<PipelineStatus> {
  const { input, status, info } = run;
  const { prepareRun, requestWorkspaceLock } = patched('local-setup-activities') ? localSetup : remoteSetup;

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
    if (failure?.type === FAILURE_TYPES.invalidInput) return failInvalid(run, failure.message);
    throw err;
  }
  status.workspace = plan.workspace;
  status.jobDir = plan.jobDir;
  plan.steps.forEach((step, i) => (status.steps[i].command = step.command));

  try {
    status.queuePosition = 0;
    await run.queue.wait(joinWorkspaceQueue(requestWorkspaceLock), {
      lockId: `${INTERNAL_ID.workspaceLockPrefix}${plan.lockKey}`,
      workspace: plan.workspace,
      workflowId: status.id,
      startedAt: info.startTime.toISOString(),
    });
    run.enterPhase('RUNNING');
    const ending = await runSteps(run, plan, {
      status,
      reporter: run.reporter,
      stepTimeoutSeconds: input.stepTimeoutSeconds,
      liveOutput: input.slack !== undefined,
    });
    return await end(run, ending);
  } catch (err) {
    return endCancelled(run, err);
  }
}

type OnHost = Ending | 'MISSING' | { invalid: string };

/**
 * On a fleet: claim a host, run there; when the host is lost, start over on the next one. A
 * host without the run's workspace path is remembered by the registry and another is tried.
 */
async function onFleet(run: Run): Promise<PipelineStatus> {
  const { input, status, info } = run;
  const registryId = hostRegistryId(info.taskQueue);
  const seat = hostSeat(status, run.changed, registryId, status.id);
  const giveBack = () => seat.release();
  const root = CancellationScope.current();
  try {
    const labels = input.labels.length > 0 ? ` with ${input.labels.join(', ')}` : '';
    await withSummary(localSetup.claimHost, `claim a build host${labels}`, {
      registryId,
      claim: {
        workflowId: status.id,
        startedAt: info.startTime.toISOString(),
        labels: input.labels,
        workspace: input.workspace ?? null,
        ownCheckout: input.repo !== undefined,
      },
    });
    let move: { from: string; reason: string } | undefined;
    for (;;) {
      const timeoutMs = input.queueTimeoutSeconds !== undefined ? input.queueTimeoutSeconds * 1000 : undefined;
      const next = await seat.next(timeoutMs);
      if ('stuck' in next) return await failInvalid(run, `${next.stuck}; ${WORKSPACE_FIX}`, giveBack);
      if ('timedOut' in next) return await failNoHost(run, giveBack);
      takeHost(run, next.grant, move);
      move = undefined;

      const session = new CancellationScope();
      let interrupt!: (reason: HostInterrupted) => void;
      const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
      interrupted.catch(() => undefined);
      const stopWatching = seat.watch(next.grant, (notice) => {
        interrupt(new HostInterrupted(notice));
        session.cancel();
      });
      let ending: OnHost;
      try {
        ending = await session.run(() => onHost(run, next.grant, interrupted));
      } catch (err) {
        const lost = seat.lostNotice(next.grant);
        // Cancelled while the host was being lost: the cancel wins.
        if (root.consideredCancelled && err instanceof HostInterrupted) throw new CancelledFailure('cancelled');
        if (!lost || root.consideredCancelled) throw err;
        await CancellationScope.nonCancellable(() => run.queue.leave(status.id));
        move = { from: next.grant.host, reason: lost.reason };
        startOver(run, move.from, lost.reason);
        continue;
      } finally {
        stopWatching();
      }
      if (ending === 'MISSING') {
        await seat.release({ workspaceMissing: true });
        leaveHost(run);
        continue;
      }
      if (typeof ending === 'object') return await failInvalid(run, ending.invalid, giveBack);
      return await end(run, ending, giveBack);
    }
  } catch (err) {
    return endCancelled(run, err, giveBack);
  }
}

const WORKSPACE_FIX = "set POC_WORKSPACE or the run's workspace to a compose project folder a host has";

async function failNoHost(run: Run, giveBack: () => Promise<void>): Promise<never> {
  const { status, input } = run;
  status.error = `no host could take the run within ${input.queueTimeoutSeconds} s (${status.queueReason ?? 'none'})`;
  await finish(run, 'FAILED', giveBack);
  throw ApplicationFailure.create({ message: status.error, type: FAILURE_TYPES.noEligibleHost, nonRetryable: true });
}

/** The run now holds `grant`'s host: status, search attribute (`PocHost="b1"`), and the move that led here. */
function takeHost(run: Run, grant: HostGrant, move: { from: string; reason: string } | undefined): void {
  const { status } = run;
  status.host = grant.host;
  status.queueReason = null;
  upsertSearchAttributes([{ key: PocHost, value: grant.host }]);
  if (move) status.hostMoves?.push({ from: move.from, to: grant.host, at: now(), reason: move.reason });
  run.changed();
}

/** The run holds no host now: `PocHost` no longer names one (a returning host's sweep sees it left). */
function leaveHost(run: Run): void {
  run.status.host = null;
  upsertSearchAttributes([{ key: PocHost, value: null }]);
  run.changed();
}

/** The host is gone: every step starts again on the next host; approvals already given stand. */
function startOver(run: Run, from: string, reason: string): void {
  const { status, gates } = run;
  for (const d of status.decisions) if (d.action === 'approve' || d.action === 'approveAll') gates.approved.add(d.step);
  status.steps = status.steps.map((s) => ({ ...pendingStep(s.name), attempt: s.attempt, command: s.command }));
  leaveHost(run);
  status.pendingDecision = null;
  status.error = null;
  // The registry's notice may already be here (it is sent with the loss); it says more.
  status.queueReason ??= `left ${from} (${reason}); waiting for another host`;
  setPhase(status, 'QUEUED');
  run.changed();
}

/** One stay on a host: prepare the workspace there, take its lock, run the steps on the host's queue. */
async function onHost(run: Run, grant: HostGrant, interrupted: Promise<never>): Promise<OnHost> {
  const { input, status, info } = run;
  let plan: RunPlan;
  try {
    plan = await withSummary(prepareOnHost(grant.queue), `prepare on ${grant.host}: ${input.steps.join(', ')}`, {
      workflowId: status.id,
      workspace: input.workspace,
      steps: input.steps,
      onFleet: true,
      ...(input.repo
        ? {
            repo: input.repo,
            ...(input.ref ? { ref: input.ref } : {}),
            ...(status.commit ? { commit: status.commit } : {}),
          }
        : {}),
    });
  } catch (err) {
    const failure = applicationFailureOf(err);
    if (failure?.type === FAILURE_TYPES.workspaceMissing) return 'MISSING';
    if (failure?.type === FAILURE_TYPES.invalidInput) return { invalid: failure.message };
    throw err;
  }
  status.workspace = plan.workspace;
  status.jobDir = plan.jobDir;
  if (plan.commit) status.commit = plan.commit;
  plan.steps.forEach((step, i) => (status.steps[i].command = step.command));
  run.changed();
  if (!plan.commit) {
    // A checkout of its own needs no lock; a workspace path is never used by two runs at once on a host.
    await run.queue.wait(joinWorkspaceQueue(localSetup.requestWorkspaceLock), {
      lockId: `${INTERNAL_ID.workspaceLockPrefix}${plan.lockKey}`,
      workspace: plan.workspace,
      workflowId: status.id,
      startedAt: info.startTime.toISOString(),
    });
  }
  run.enterPhase('RUNNING');
  return runSteps(run, plan, {
    status,
    reporter: run.reporter,
    stepTimeoutSeconds: input.stepTimeoutSeconds,
    liveOutput: input.slack !== undefined,
    host: { name: grant.host, taskQueue: grant.queue, interrupt: interrupted },
  });
}
