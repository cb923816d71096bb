/**
 * `hostRegistry`: one per task queue (`poc-hosts`, `poc-hosts-<queue>`), the fleet's memory.
 * Hosts heartbeat into it (`hostHeartbeat`, signal-with-start, every fifth of their timeout);
 * pipelines claim a host (`claimHost`) and give it back (`releaseHost`). It grants free slots in
 * start order (`hostGranted`), tells waiting runs their position and why they wait (`hostQueue`),
 * and when a host goes silent past its timeout tells its runs (`hostLost`) and queues them again
 * at the front. The bookkeeping is in fleet.ts; this file is the loop and the messages.
 *
 * There is no other state anywhere: the registry's variables are its history, continued as new
 * when the history grows long.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
  type SignalDefinition,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  claimHostSignal,
  fleetQuery,
  hostGrantedSignal,
  hostHeartbeatSignal,
  hostLostSignal,
  hostQueueSignal,
  releaseHostSignal,
} from '../core/contract.js';
import {
  addClaim,
  applyHeartbeat,
  dropClaims,
  emptyRegistry,
  expireHosts,
  fleetView,
  grantOf,
  idle,
  nextExpiry,
  queueNotices,
  releaseClaim,
  schedule,
  type RegistryState,
} from './fleet.js';

const { closedRuns } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30 seconds', maximumAttempts: 3 },
});

/** How often runs holding or waiting for a host are checked for having ended without a word. */
const OPEN_CHECK_MS = 60_000;
/** With no host up and no run waiting for this long, the registry ends; the next heartbeat starts it again. */
const IDLE_END_MS = 10 * 60_000;
const MAX_HISTORY_EVENTS = 10_000;

export async function hostRegistryWorkflow(initial?: RegistryState): Promise<void> {
  const state: RegistryState = initial ?? emptyRegistry();
  let dirty = true;
  /** Runs that claimed again while holding a grant (an activity retry): they hear it once more. */
  const regrant = new Set<string>();

  setHandler(hostHeartbeatSignal, (hb) => {
    if (applyHeartbeat(state, hb, Date.now())) dirty = true;
  });
  setHandler(claimHostSignal, (claim) => {
    if (addClaim(state, claim) === 'granted') regrant.add(claim.workflowId);
    dirty = true;
  });
  setHandler(releaseHostSignal, (release) => {
    if (releaseClaim(state, release)) dirty = true;
  });
  setHandler(fleetQuery, () => fleetView(state));

  let nextOpenCheck = Date.now() + OPEN_CHECK_MS;
  let idleSince = Date.now();
  for (;;) {
    // A signal that arrives while this round's messages go out (a run releasing its slot) marks
    // the state dirty again; clearing the flag only after those awaits lost it, and the freed slot
    // stayed empty until some other event woke the registry (a wave of runs, in the fleet bench).
    const wakeOnEverySignal = patched('registry-dirty-before-round');
    if (wakeOnEverySignal) dirty = false;
    const now = Date.now();
    const lost = expireHosts(state, now);
    const grants = schedule(state);
    const again = [...regrant].map((workflowId) => ({ workflowId, grant: grantOf(state, workflowId) }));
    regrant.clear();
    const notices = queueNotices(state);
    // Every message of this round goes out in one workflow task; a run that has ended is dropped.
    const gone = await Promise.all([
      ...lost.map((m) => tell(m.workflowId, hostLostSignal, { grantId: m.grantId, host: m.host, reason: m.reason })),
      ...[...grants, ...again].map((m) => (m.grant ? tell(m.workflowId, hostGrantedSignal, m.grant) : undefined)),
      ...notices.map((m) => tell(m.workflowId, hostQueueSignal, m.notice)),
    ]);
    if (
      dropClaims(
        state,
        gone.filter((id): id is string => id !== undefined),
      )
    )
      continue;

    if (state.claims.length > 0 && now >= nextOpenCheck) {
      nextOpenCheck = now + OPEN_CHECK_MS;
      const closed = await closedRuns(state.claims.map((c) => c.workflowId)).catch(() => []);
      if (dropClaims(state, closed)) continue;
    }

    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof hostRegistryWorkflow>(state);
    }

    if (!idle(state)) idleSince = now;
    else if (now - idleSince >= IDLE_END_MS) {
      await condition(allHandlersFinished);
      return; // Nothing to remember; a signal racing this return makes the server retry the task.
    }

    const wakeAt = Math.min(
      nextExpiry(state) ?? Infinity,
      state.claims.length > 0 ? nextOpenCheck : Infinity,
      idle(state) ? idleSince + IDLE_END_MS : Infinity,
    );
    if (!wakeOnEverySignal) dirty = false;
    if (wakeAt === Infinity) await condition(() => dirty);
    else await condition(() => dirty, Math.max(100, wakeAt - Date.now()));
  }
}

/** Signals a run; resolves to its id when it no longer exists or has closed, else undefined. */
async function tell<Args extends unknown[]>(
  workflowId: string,
  signal: SignalDefinition<Args>,
  ...args: Args
): Promise<string | undefined> {
  try {
    await getExternalWorkflowHandle(workflowId).signal(signal, ...args);
    return undefined;
  } catch {
    return workflowId;
  }
}
