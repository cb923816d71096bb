/**
 * `workspaceLock`: one per workspace, so one pipeline at a time runs in a compose project while
 * the others wait durably in arrival order. Pipelines join with the `acquire` signal (sent with
 * signal-with-start by an activity), are told `lockGranted` when it is their turn and
 * `queuePosition` whenever the queue moves, and leave with `release`.
 *
 * A holder that ended without releasing (terminated, or reset) is noticed by a periodic check,
 * so a workspace can never stay locked by a run that no longer exists.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
  type SignalDefinition,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  acquireLockSignal,
  lockGrantedSignal,
  lockStateQuery,
  queuePositionSignal,
  releaseLockSignal,
  type LockState,
} from '../core/contract.js';
import { withSummary } from './details.js';

const { isRunOpen } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '30 seconds' },
});

const HOLDER_CHECK_INTERVAL = '1 minute';
/** An idle lock ends after this long; the next pipeline starts a fresh one. */
const IDLE_TIMEOUT = '10 minutes';

export async function workspaceLockWorkflow(initial: LockState): Promise<void> {
  const state: LockState = {
    workspace: initial.workspace,
    holder: initial.holder ?? null,
    queue: [...(initial.queue ?? [])],
  };
  let queueMoved = true;
  let regrant = false;

  setHandler(lockStateQuery, () => state);
  const queued = (workflowId: string) => state.queue.findIndex((r) => r.workflowId === workflowId);
  setHandler(acquireLockSignal, ({ workflowId, startedAt }) => {
    if (state.holder === workflowId || queued(workflowId) >= 0) {
      // A retried request (activity retry, worker restart): re-send the grant if it already holds the lock.
      if (state.holder === workflowId) regrant = true;
      return;
    }
    // Start order: a run that started earlier goes before one that started later, even if its request came second.
    const request = { workflowId, startedAt: startedAt ?? '' };
    const at = state.queue.findIndex((r) => (r.startedAt ?? '') > request.startedAt && request.startedAt !== '');
    if (at < 0) state.queue.push(request);
    else state.queue.splice(at, 0, request);
    queueMoved = true;
  });
  setHandler(releaseLockSignal, ({ workflowId }) => {
    if (state.holder === workflowId) state.holder = null;
    const at = queued(workflowId);
    if (at >= 0) state.queue.splice(at, 1);
    queueMoved = true;
  });

  const lockId = workflowInfo().workflowId;
  for (;;) {
    // The Web UI's line for the lock: which run holds the workspace and how many wait.
    setCurrentDetails(lockDetails(state));
    if (state.holder === null && state.queue.length > 0) {
      const next = (state.queue.shift() as { workflowId: string }).workflowId;
      state.holder = next;
      queueMoved = true;
      if (!(await tell(next, lockGrantedSignal, { lockId }))) state.holder = null;
      continue;
    }
    if (regrant && state.holder) {
      regrant = false;
      await tell(state.holder, lockGrantedSignal, { lockId });
    }
    if (queueMoved) {
      queueMoved = false;
      for (const [index, waiter] of [...state.queue].entries()) {
        if (!(await tell(waiter.workflowId, queuePositionSignal, { ahead: index + (state.holder ? 1 : 0) }))) {
          state.queue.splice(queued(waiter.workflowId), 1);
          queueMoved = true;
        }
      }
      continue;
    }

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof workspaceLockWorkflow>(state);
    }

    if (state.holder === null) {
      const busy = await condition(() => state.queue.length > 0 || queueMoved, IDLE_TIMEOUT);
      if (!busy) {
        await condition(allHandlersFinished);
        return; // Idle: nothing to remember. A signal that races this return makes the server retry the task.
      }
      continue;
    }
    const holder = state.holder;
    const moved = await condition(() => state.holder !== holder || queueMoved || regrant, HOLDER_CHECK_INTERVAL);
    if (!moved && !(await withSummary(isRunOpen, `is ${holder} still open?`, holder))) {
      if (state.holder === holder) state.holder = null;
      queueMoved = true;
    }
  }
}

/** Signal another run; false when it no longer exists or has closed. */
async function tell<Args extends unknown[]>(
  workflowId: string,
  signal: SignalDefinition<Args>,
  ...args: Args
): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(workflowId).signal(signal, ...args);
    return true;
  } catch {
    return false;
  }
}

/** `held by pipeline-x · 2 waiting: pipeline-a, pipeline-b` (the workspace is in the lock's summary). */
export function lockDetails(state: LockState): string {
  const waiting = state.queue.map((r) => r.workflowId);
  const shown = waiting.slice(0, 5).join(', ') + (waiting.length > 5 ? ', …' : '');
  return (
    `${state.holder ? `held by ${state.holder}` : 'free'} · ${waiting.length} waiting` +
    (waiting.length ? `: ${shown}` : '') +
    ` · ${state.workspace}`
  );
}
