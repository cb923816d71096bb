/**
 * Containers a step left behind (a worker killed mid-step leaves its container running) are
 * removed by a sweep — at start and then periodically — but only those the sweep can prove are
 * done with: labelled with this worker's own server and namespace (the namespace id), and whose
 * run that namespace says is closed or gone. Another server's or another namespace's containers,
 * and containers from before the labels existed, are left alone: a worker never guesses.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { isExecutionOpen } from '../core/contract.js';
import { listContainers, removeContainers, type ContainerOwner } from '../docker/index.js';

export const DEFAULT_SWEEP_EVERY_MS = 10 * 60_000;

/** True when `workflowId` is closed, or not there at all, on the client's namespace. */
async function provedClosed(client: Client, workflowId: string): Promise<boolean> {
  try {
    return !isExecutionOpen(await client.workflow.getHandle(workflowId).describe());
  } catch (err) {
    // A running run is always found: not found on the namespace that labelled it means not running.
    if (err instanceof WorkflowNotFoundError) return true;
    throw err;
  }
}

/** Removes this namespace's containers whose run is closed; returns their names. */
export async function sweepOrphanContainers(
  client: Client,
  owner: ContainerOwner,
  log: (msg: string) => void = () => undefined,
): Promise<string[]> {
  let containers;
  try {
    containers = await listContainers();
  } catch (err) {
    log(`container sweep skipped: ${(err as Error).message}`);
    return [];
  }
  const closed = new Map<string, boolean>();
  const orphans: string[] = [];
  for (const container of containers) {
    if (container.namespaceId !== owner.namespaceId) continue;
    if (!closed.has(container.workflowId)) {
      try {
        closed.set(container.workflowId, await provedClosed(client, container.workflowId));
      } catch {
        closed.set(container.workflowId, false); // The server did not answer: nothing is proved.
      }
    }
    if (closed.get(container.workflowId)) orphans.push(container.name);
  }
  await removeContainers(orphans);
  if (orphans.length > 0)
    log(`removed ${orphans.length} container(s) of runs no longer executing: ${orphans.join(', ')}`);
  return orphans;
}

export interface OrphanSweeps {
  /** Resolves when the first sweep (at start) is done. */
  first: Promise<void>;
  /** Stops the periodic sweep and waits for one under way. */
  stop(): Promise<void>;
}

/** Sweeps now and then every `everyMs`, one sweep at a time, until stopped. */
export function startOrphanSweeps(
  client: Client,
  owner: () => Promise<ContainerOwner>,
  { everyMs = DEFAULT_SWEEP_EVERY_MS, log = () => undefined }: { everyMs?: number; log?: (msg: string) => void } = {},
): OrphanSweeps {
  let running: Promise<void> = Promise.resolve();
  const sweep = () => {
    running = running.then(async () => {
      try {
        await sweepOrphanContainers(client, await owner(), log);
      } catch (err) {
        log(`container sweep skipped: ${(err as Error).message}`);
      }
    });
    return running;
  };
  const first = sweep();
  const timer = setInterval(() => void sweep(), everyMs);
  timer.unref();
  return {
    first,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
