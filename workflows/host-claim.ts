/**
 * A pipeline's side of the host registry (host-registry.ts): wait for a host while learning the
 * position and the reason, take the grant, hear when that host is lost, and give it back (or ask
 * for another when the host lacks the run's workspace) however the run ends.
 */
import { condition, getExternalWorkflowHandle, setHandler } from '@temporalio/workflow';
import {
  hostGrantedSignal,
  hostLostSignal,
  hostQueueSignal,
  releaseHostSignal,
  type HostGrant,
  type HostLostNotice,
  type HostQueueNotice,
} from '../core/contract.js';

/** Thrown out of a step that was abandoned because its host was lost (the run moves; nothing is recorded). */
export class HostInterrupted extends Error {
  constructor(readonly notice: HostLostNotice) {
    super(notice.reason);
    this.name = 'HostInterrupted';
  }
}

/** What a waiting run shows: how many runs are ahead and why it waits. */
export interface WaitingRun {
  queuePosition: number | null;
  queueReason?: string | null;
}

export type NextHost = { grant: HostGrant } | { stuck: string } | { timedOut: true };

export interface HostSeat {
  /** Waits for a host (the first, or the next after a loss); `stuck` when no host that is up can take the run. */
  next(timeoutMs?: number): Promise<NextHost>;
  /** Calls `onLost` when the host of `grant` is lost while the run holds it; returns the way to stop listening. */
  watch(grant: HostGrant, onLost: (notice: HostLostNotice) => void): () => void;
  /** The loss of `grant`'s host, if it happened. */
  lostNotice(grant: HostGrant): HostLostNotice | undefined;
  /** Gives the host back (the run ended), or asks for another one (`workspaceMissing`). Never fails. */
  release(opts?: { workspaceMissing?: boolean }): Promise<void>;
}

/**
 * Registers the registry's signals for the run. While waiting, `run.queuePosition` and
 * `run.queueReason` follow the registry's notices and every change is reported with `changed()`.
 */
export function hostSeat(run: WaitingRun, changed: () => void, registryId: string, workflowId: string): HostSeat {
  let offered: HostGrant | undefined;
  let held: HostGrant | undefined;
  /** The grant taken last (null: none yet); a notice about another wait than the one after it is stale. */
  let lastGrantId: number | null = null;
  let lost: HostLostNotice | undefined;
  let stuck: string | undefined;
  /** The newest notice about the wait after `lastGrantId`, kept until the run waits (signals may cross). */
  let latest: HostQueueNotice | undefined;
  let listener: { grantId: number; onLost: (notice: HostLostNotice) => void } | undefined;

  const waiting = () => !offered && (!held || lost !== undefined);
  const show = () => {
    if (!latest || !waiting()) return;
    run.queuePosition = latest.ahead;
    run.queueReason = latest.reason;
    stuck = latest.unsatisfiable ? latest.reason : undefined;
    changed();
  };

  setHandler(hostGrantedSignal, (grant) => {
    if (grant.grantId === held?.grantId || grant.grantId === offered?.grantId) return; // said again
    offered = grant;
    stuck = undefined;
  });
  setHandler(hostQueueSignal, (notice) => {
    if ((notice.sinceGrant ?? null) !== lastGrantId) return; // about an earlier wait
    latest = notice;
    show();
  });
  setHandler(hostLostSignal, (notice) => {
    if (held?.grantId === notice.grantId && !lost) {
      lost = notice;
      if (listener?.grantId === notice.grantId) listener.onLost(notice);
      show();
    } else if (offered?.grantId === notice.grantId) {
      offered = undefined; // lost before the run took it; the registry finds it another
    }
  });

  return {
    async next(timeoutMs) {
      const ready = () => offered !== undefined || stuck !== undefined;
      if (timeoutMs === undefined) await condition(ready);
      else await condition(ready, timeoutMs);
      if (offered) {
        held = offered;
        lastGrantId = held.grantId;
        latest = undefined;
        offered = undefined;
        lost = undefined;
        run.queuePosition = null;
        run.queueReason = null;
        return { grant: held };
      }
      return stuck !== undefined ? { stuck } : { timedOut: true };
    },
    watch(grant, onLost) {
      listener = { grantId: grant.grantId, onLost };
      return () => {
        if (listener?.grantId === grant.grantId) listener = undefined;
      };
    },
    lostNotice(grant) {
      return lost?.grantId === grant.grantId ? lost : undefined;
    },
    async release({ workspaceMissing } = {}) {
      const grantId = held?.grantId;
      held = undefined;
      lost = undefined;
      stuck = undefined;
      show();
      await getExternalWorkflowHandle(registryId)
        .signal(releaseHostSignal, {
          workflowId,
          ...(grantId !== undefined ? { grantId } : {}),
          ...(workspaceMissing ? { workspaceMissing } : {}),
        })
        .catch(() => undefined);
    },
  };
}
