/**
 * A pipeline's side of the workspace lock (workflows/lock.ts): join the workspace's queue, learn
 * the position while waiting, be told when it is this run's turn, and leave (which frees the
 * workspace for the next run) however the run ends.
 */
import { condition, getExternalWorkflowHandle, setHandler } from '@temporalio/workflow';
import { lockGrantedSignal, queuePositionSignal, releaseLockSignal } from '../core/contract.js';
import type { LockRequestArgs } from '../activities/types.js';

export interface WorkspaceQueue {
  /** Joins the queue with `request` (an activity: signal-with-start of the lock) and waits for the turn. */
  wait(request: (args: LockRequestArgs) => Promise<void>, args: LockRequestArgs): Promise<void>;
  /** Leaves the queue or frees the workspace; never fails (the lock also notices a closed holder). */
  leave(workflowId: string): Promise<void>;
}

/**
 * Registers the lock's signals. While waiting, `run.queuePosition` is the number of runs ahead
 * (the running one included) and every move is reported with `changed()`; the grant clears it
 * without a report of its own (the phase change that follows reports it).
 */
export function workspaceQueue(run: { queuePosition: number | null }, changed: () => void): WorkspaceQueue {
  let lockId: string | undefined;
  let granted = false;
  setHandler(lockGrantedSignal, () => {
    granted = true;
    run.queuePosition = null;
  });
  setHandler(queuePositionSignal, ({ ahead }) => {
    if (granted) return;
    run.queuePosition = ahead;
    changed();
  });

  return {
    async wait(request, args) {
      lockId = args.lockId;
      await request(args);
      await condition(() => granted);
    },
    async leave(workflowId) {
      if (!lockId) return;
      await getExternalWorkflowHandle(lockId)
        .signal(releaseLockSignal, { workflowId })
        .catch(() => undefined);
    },
  };
}
