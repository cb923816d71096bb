/**
 * Containers a step left behind (a worker killed mid-step leaves its container running) are
 * removed by a sweep — at start and then periodically — but only those the sweep can prove are
 * done with: labelled with this worker's own server and namespace (the namespace id), and whose
 * run that namespace says is closed or gone. Another server's or another namespace's containers,
 * and containers from before the labels existed, are left alone: a worker never guesses.
 */
import type { Client } from '@temporalio/client';
import { listContainers, removeContainers, type ContainerOwner } from '../docker/index.js';
import { leftBehind, whereaboutsOf } from './host.js';

export const DEFAULT_SWEEP_EVERY_MS = 10 * 60_000;

/**
 * Removes this namespace's containers whose run is closed — and, on build host `host`, those
 * marked with its name whose run holds another host now (it moved while this one was away).
 * Another host's containers (a shared engine) are never touched. Returns their names.
 */
export async function sweepOrphanContainers(
  client: Client,
  owner: ContainerOwner,
  log: (msg: string) => void = () => undefined,
  host?: string,
): Promise<string[]> {
  let containers;
  try {
    containers = await listContainers();
  } catch (err) {
    log(`container sweep skipped: ${(err as Error).message}`);
    return [];
  }
  // Looked up once per run: only a run the server says is closed or gone counts as closed.
  const where = whereaboutsOf(client);
  const orphans: string[] = [];
  for (const container of containers) {
    if (container.namespaceId !== owner.namespaceId) continue;
    if (host !== undefined && container.host !== '' && container.host !== host) continue;
    const mine = host !== undefined && container.host === host;
    if (leftBehind(await where(container.workflowId), host, mine)) orphans.push(container.name);
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
  {
    everyMs = DEFAULT_SWEEP_EVERY_MS,
    log = () => undefined,
    host,
  }: { everyMs?: number; log?: (msg: string) => void; host?: string } = {},
): OrphanSweeps {
  let running: Promise<void> = Promise.resolve();
  const sweep = () => {
    running = running.then(async () => {
      try {
        await sweepOrphanContainers(client, await owner(), log, host);
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
