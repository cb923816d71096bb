/** Activities the workspace lock needs: they talk to Temporal itself through the worker's client. */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import {
  acquireLockSignal,
  isExecutionOpen,
  WORKFLOW_TYPES,
  type LockRequest,
  type LockState,
} from '../core/contract.js';
import type { LockRequestArgs } from './types.js';
import type { workspaceLockWorkflow } from '../workflows/lock.js';

export function createLockActivities(client: Client) {
  return {
    /** Joins the workspace's queue, starting its lock workflow when none runs (signal-with-start). */
    async requestWorkspaceLock({ lockId, workspace, workflowId, startedAt }: LockRequestArgs): Promise<void> {
      const initial: LockState = { workspace, holder: null, queue: [] };
      await client.workflow.signalWithStart<typeof workspaceLockWorkflow, [LockRequest]>(WORKFLOW_TYPES.workspaceLock, {
        workflowId: lockId,
        taskQueue: Context.current().info.taskQueue,
        args: [initial],
        signal: acquireLockSignal,
        signalArgs: [{ workflowId, startedAt }],
        memo: { workspace },
        // What the Web UI's list and the run's page say of this otherwise anonymous workflow.
        staticSummary: `workspace lock: ${workspace}`,
        staticDetails:
          `One pipeline at a time runs in \`${workspace}\`; the others wait here in start order. ` +
          'Current details: who holds it and how many wait.',
      });
    },

    /** Whether a run is still open (the lock frees a workspace whose holder ended without a word). */
    async isRunOpen(workflowId: string): Promise<boolean> {
      try {
        const description = await client.workflow.getHandle(workflowId).describe();
        return isExecutionOpen(description);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}
