/**
 * This worker as a build host of the fleet: it heartbeats into its task queue's host registry
 * (every fifth of POC_HOST_TIMEOUT_SECONDS, saying whether its Docker engine answers) and sweeps,
 * at start and every minute, what runs that are no longer its own left here — their containers
 * and their git checkouts. Its own task queue is polled by the worker (worker/index.ts).
 */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { PocHost, hostHeartbeatSignal, hostRegistryId, isExecutionOpen, type HostHeartbeat } from '../core/contract.js';
import type { HostSettings } from '../core/config.js';
import { signalRegistry } from '../activities/hosts.js';
import { listCheckouts, removeCheckout } from '../activities/git.js';

/** Where a run stands, as the sweep needs it. */
export interface Whereabouts {
  open: boolean;
  /** Its PocHost search attribute: the host it holds (or last held); undefined before the fleet. */
  host: string | undefined;
}

/** Looks runs up once per sweep: open or not, and on which host. Only certain absence counts as closed. */
export function whereaboutsOf(client: Client): (workflowId: string) => Promise<Whereabouts> {
  const known = new Map<string, Promise<Whereabouts>>();
  return (workflowId) => {
    let found = known.get(workflowId);
    if (!found) {
      found = client.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          (d) => ({ open: isExecutionOpen(d), host: d.typedSearchAttributes.get(PocHost) }),
          (err: unknown) => ({ open: !(err instanceof WorkflowNotFoundError), host: undefined }),
        );
      known.set(workflowId, found);
    }
    return found;
  };
}

/**
 * True when what a run left here should go: the run ended, or — for what carries this host's name
 * (`markedMine`) — the run no longer holds this host (it moved, or waits for another).
 */
export function leftBehind(where: Whereabouts, me: string | undefined, markedMine: boolean): boolean {
  return !where.open || (me !== undefined && markedMine && where.host !== me);
}

/** Removes the git checkouts of runs that ended or moved to another host. */
export async function sweepCheckouts(
  client: Client,
  host: HostSettings,
  log: (msg: string) => void = () => undefined,
): Promise<string[]> {
  const where = whereaboutsOf(client);
  const removed: string[] = [];
  for (const { runFolder, workflowId } of listCheckouts(host.reposDir)) {
    if (!leftBehind(await where(workflowId), host.name, true)) continue;
    await removeCheckout(host.reposDir, runFolder);
    removed.push(runFolder);
  }
  if (removed.length > 0) log(`removed ${removed.length} checkout(s) of runs no longer on this host`);
  return removed;
}

export interface HostAgentOptions {
  client: Client;
  /** The shared task queue (the registry is its). */
  taskQueue: string;
  host: HostSettings;
  /** The host's own task queue. */
  hostQueue: string;
  /** Null when the Docker engine answers, else why not. */
  checkEngine: () => Promise<string | null>;
  /** Removes what runs no longer on this host left here. */
  sweep: () => Promise<void>;
  log: (msg: string) => void;
}

export interface HostAgent {
  /** Sends one heartbeat now (the worker sends the first before it polls). */
  beat(): Promise<void>;
  stop(): Promise<void>;
}

/** A build host's runs move to other hosts when it is lost: what they left is looked for every minute. */
export const HOST_SWEEP_EVERY_MS = 60_000;

/** Starts heartbeats and the periodic sweep; `stop()` ends both (the registry notices the silence). */
export function startHostAgent(opts: HostAgentOptions): HostAgent {
  const session = crypto.randomUUID();
  const registry = { registryId: hostRegistryId(opts.taskQueue), taskQueue: opts.taskQueue };
  const intervalMs = Math.max(1_000, (opts.host.timeoutSeconds * 1000) / 5);
  let stopped = false;
  let stopping: Promise<void> | undefined;
  let lastComplaint = 0;

  const beat = async (draining = false) => {
    const problem = await opts.checkEngine().catch((err: Error) => `engine check failed: ${err.message}`);
    const heartbeat: HostHeartbeat = {
      name: opts.host.name,
      queue: opts.hostQueue,
      labels: opts.host.labels,
      slots: opts.host.slots,
      timeoutSeconds: opts.host.timeoutSeconds,
      session,
      problem,
      ...(draining ? { draining } : {}),
    };
    try {
      await signalRegistry(opts.client, registry, hostHeartbeatSignal, heartbeat);
    } catch (err) {
      if (Date.now() - lastComplaint > 60_000) {
        lastComplaint = Date.now();
        opts.log(`host ${opts.host.name}: heartbeat not delivered (${(err as Error).message}); retrying`);
      }
    }
  };
  const sweep = () =>
    opts.sweep().catch((err: Error) => opts.log(`host ${opts.host.name}: sweep failed (${err.message})`));

  // One heartbeat and one sweep at a time, each on its own timer: a slow sweep never delays a heartbeat.
  const beating = serialized(() => beat());
  const sweeping = serialized(sweep);
  const heartbeats = setInterval(() => void (stopped || beating.run()), intervalMs);
  const sweeps = setInterval(() => void (stopped || sweeping.run()), HOST_SWEEP_EVERY_MS);

  return {
    beat: () => beating.run(),
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(heartbeats);
        clearInterval(sweeps);
        await Promise.all([beating.idle(), sweeping.idle()]);
        // No new runs for a worker on its way out; its runs stay in case it is back within its timeout.
        await beat(true);
      })();
      return stopping;
    },
  };
}

/** Runs `fn` unless a run of it is still going (a tick that finds one going is skipped). */
function serialized(fn: () => Promise<void>): { run(): Promise<void>; idle(): Promise<void> } {
  let inFlight: Promise<void> | undefined;
  return {
    run() {
      inFlight ??= fn().finally(() => (inFlight = undefined));
      return inFlight;
    },
    idle: () => inFlight ?? Promise.resolve(),
  };
}
