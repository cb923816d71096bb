/**
 * Activities of the fleet that talk to Temporal itself: a pipeline's claim on a host and the
 * registry's check for runs that ended without giving their host back.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { WORKFLOW_TYPES, claimHostSignal, isExecutionOpen, type HostClaim } from '../core/contract.js';
import type { hostRegistryWorkflow } from '../workflows/host-registry.js';
import type { SignalDefinition } from '@temporalio/common';

/** Signals the registry of `taskQueue`, starting it when none runs (the first host or run brings it up). */
export async function signalRegistry<Args extends unknown[]>(
  client: Client,
  { registryId, taskQueue }: { registryId: string; taskQueue: string },
  signal: SignalDefinition<Args>,
  ...signalArgs: Args
): Promise<void> {
  await client.workflow.signalWithStart<typeof hostRegistryWorkflow, unknown[]>(WORKFLOW_TYPES.hostRegistry, {
    workflowId: registryId,
    taskQueue,
    args: [],
    signal: signal as SignalDefinition<unknown[]>,
    signalArgs,
    memo: { taskQueue },
  });
}

export interface ClaimHostArgs {
  registryId: string;
  claim: HostClaim;
}

export function createHostActivities(client: Client) {
  return {
    /** Joins the registry's queue for a host (the registry runs on the run's own task queue). */
    async claimHost({ registryId, claim }: ClaimHostArgs): Promise<void> {
      const taskQueue = Context.current().info.taskQueue;
      await signalRegistry(client, { registryId, taskQueue }, claimHostSignal, claim);
    },

    /** Which of these runs have ended (or never existed): their slots are free again. */
    async closedRuns(workflowIds: string[]): Promise<string[]> {
      const closed: string[] = [];
      for (let i = 0; i < workflowIds.length; i += 20) {
        const batch = workflowIds.slice(i, i + 20);
        const states = await Promise.all(
          batch.map((id) =>
            client.workflow
              .getHandle(id)
              .describe()
              .then(
                (d) => isExecutionOpen(d),
                (err: unknown) => {
                  if (err instanceof WorkflowNotFoundError) return false;
                  throw err;
                },
              ),
          ),
        );
        batch.forEach((id, j) => (states[j] ? undefined : closed.push(id)));
      }
      return closed;
    },
  };
}
