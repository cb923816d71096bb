/**
 * The host registry's bookkeeping as pure functions of its state and the time: which hosts are
 * up, which runs wait for one, who gets the next free slot, and what each waiting run is told.
 * Deterministic (it runs inside the `hostRegistry` workflow); test/unit/fleet.test.ts drives it
 * without a server.
 *
 * Rules:
 * - A host is eligible for a run when it is up and healthy, has every label the run asks for, and
 *   has not been found to lack the run's workspace path.
 * - It is free for the run when it has a slot left and, for a run on a workspace path, no run on
 *   that host uses the same path (a run from git has a checkout of its own).
 * - Runs are served in start order. A run whose eligible hosts are all full reserves them, so a
 *   later run cannot overtake it there; a host held up only by a busy workspace is not reserved.
 * - A host not heard from (or whose engine has not answered) for its timeout is lost: its runs go
 *   back to the front of the queue, keeping their start order, and are told why.
 */
import type { FleetView, HostClaim, HostGrant, HostHeartbeat, HostInfo, HostQueueNotice } from '../core/contract.js';

export interface HostRecord {
  name: string;
  queue: string;
  labels: string[];
  slots: number;
  timeoutMs: number;
  session: string;
  /** The session before the current one: hearing from it again means two workers share the name. */
  previousSession: string | null;
  /** Workflow time two workers were last heard under this name (null: never). */
  duplicateAt: number | null;
  /** Workflow time (ms) of the last heartbeat, and of the last one saying the engine answers. */
  lastSeen: number;
  lastHealthy: number;
  problem: string | null;
  /** Shutting down: no new runs (its own stay until it is lost or back). */
  draining: boolean;
  state: 'up' | 'lost';
  lostReason: string | null;
  /** Workspace paths this host was found not to have, during its current session. */
  lacks: string[];
}

export interface ClaimRecord extends HostClaim {
  /** Arrival order, to break ties between runs that started in the same millisecond. */
  seq: number;
  host: string | null;
  grantId: number | null;
  /** The grant it held last (kept while it waits again after a loss). */
  lastGrantId: number | null;
  /** The last notice sent (JSON), so a waiting run hears only about changes. */
  notice: string | null;
}

export interface RegistryState {
  hosts: HostRecord[];
  claims: ClaimRecord[];
  nextGrantId: number;
  nextSeq: number;
}

export interface GrantMessage {
  workflowId: string;
  grant: HostGrant;
}

export interface LostMessage {
  workflowId: string;
  grantId: number;
  host: string;
  reason: string;
}

export interface NoticeMessage {
  workflowId: string;
  notice: HostQueueNotice;
}

/** Remembered this many workspace paths a host lacks, the oldest forgotten first. */
const MAX_LACKS = 200;
/** A lost host with no runs left is forgotten after a day. */
export const FORGET_LOST_AFTER_MS = 24 * 3_600_000;

export function emptyRegistry(): RegistryState {
  return { hosts: [], claims: [], nextGrantId: 1, nextSeq: 1 };
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Records a heartbeat; true when it may change who can run where (a new host, one back, other labels…). */
export function applyHeartbeat(state: RegistryState, hb: HostHeartbeat, now: number): boolean {
  const labels = [...hb.labels].sort();
  const host = state.hosts.find((h) => h.name === hb.name);
  if (!host) {
    state.hosts.push({
      name: hb.name,
      queue: hb.queue,
      labels,
      slots: hb.slots,
      timeoutMs: hb.timeoutSeconds * 1000,
      session: hb.session,
      previousSession: null,
      duplicateAt: null,
      lastSeen: now,
      lastHealthy: hb.problem === null ? now : 0,
      problem: hb.problem,
      draining: hb.draining === true,
      state: 'up',
      lostReason: null,
      lacks: [],
    });
    return true;
  }
  // The last word of a worker already replaced by a new one (a restart that overlapped): nothing to do.
  if (hb.draining && hb.session === host.previousSession) return false;
  let changed =
    host.queue !== hb.queue ||
    host.slots !== hb.slots ||
    !sameList(host.labels, labels) ||
    host.draining !== (hb.draining === true);
  if (host.session !== hb.session) {
    // A worker restarting starts a new session for good; two workers under one name take turns.
    if (hb.session === host.previousSession && now - host.lastSeen < host.timeoutMs) host.duplicateAt = now;
    host.previousSession = host.session;
    host.session = hb.session;
    host.lacks = [];
    changed = true;
  }
  Object.assign(host, { queue: hb.queue, labels, slots: hb.slots, timeoutMs: hb.timeoutSeconds * 1000 });
  host.lastSeen = now;
  host.draining = hb.draining === true;
  const duplicated = host.duplicateAt !== null && now - host.duplicateAt < host.timeoutMs;
  const problem = duplicated
    ? `two workers use the host name ${host.name}, so its steps could run on either; give each its own POC_HOST_NAME`
    : hb.problem;
  if ((host.problem === null) !== (problem === null)) changed = true;
  host.problem = problem;
  if (problem === null) {
    host.lastHealthy = now;
    if (host.state === 'lost') {
      host.state = 'up';
      host.lostReason = null;
      changed = true;
    }
  }
  return changed;
}

/** Up, its engine answering, and not shutting down: it may take new runs. */
function healthy(host: HostRecord): boolean {
  return host.state === 'up' && host.problem === null && !host.draining;
}

/** The key two runs must not share on one host; null for a run with a checkout of its own. */
export function workspaceKey(claim: HostClaim): string | null {
  return claim.ownCheckout ? null : (claim.workspace ?? '');
}

function workspaceName(key: string): string {
  return key === '' ? "the host's default workspace" : `workspace ${key}`;
}

function runsOn(state: RegistryState, host: string): ClaimRecord[] {
  return state.claims.filter((c) => c.host === host);
}

function hasLabels(host: HostRecord, claim: HostClaim): boolean {
  return claim.labels.every((label) => host.labels.includes(label));
}

function eligible(host: HostRecord, claim: HostClaim): boolean {
  const key = workspaceKey(claim);
  return healthy(host) && hasLabels(host, claim) && (key === null || !host.lacks.includes(key));
}

function full(state: RegistryState, host: HostRecord): boolean {
  return runsOn(state, host.name).length >= host.slots;
}

function workspaceBusy(state: RegistryState, host: HostRecord, claim: HostClaim): boolean {
  const key = workspaceKey(claim);
  return key !== null && runsOn(state, host.name).some((c) => workspaceKey(c) === key);
}

/** Waiting claims in the order they are served: start time, then arrival. */
export function waitingInOrder(state: RegistryState): ClaimRecord[] {
  return state.claims
    .filter((c) => c.host === null)
    .sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.seq - b.seq));
}

export type ClaimResult = 'new' | 'waiting' | 'granted';

/** Adds a claim; a repeated one (an activity retry) changes nothing and says where it stands. */
export function addClaim(state: RegistryState, claim: HostClaim): ClaimResult {
  const existing = state.claims.find((c) => c.workflowId === claim.workflowId);
  if (existing) return existing.host === null ? 'waiting' : 'granted';
  state.claims.push({
    workflowId: claim.workflowId,
    startedAt: claim.startedAt,
    labels: [...claim.labels],
    workspace: claim.workspace,
    ownCheckout: claim.ownCheckout,
    seq: state.nextSeq++,
    host: null,
    grantId: null,
    lastGrantId: null,
    notice: null,
  });
  return 'new';
}

/** The grant a claim holds, to send it again. */
export function grantOf(state: RegistryState, workflowId: string): HostGrant | undefined {
  const claim = state.claims.find((c) => c.workflowId === workflowId);
  const host = claim?.host ? state.hosts.find((h) => h.name === claim.host) : undefined;
  return claim && host && claim.grantId !== null
    ? { grantId: claim.grantId, host: host.name, queue: host.queue }
    : undefined;
}

/**
 * A run gives its host back (it ended), or leaves the queue; with `workspaceMissing` the host
 * is remembered to lack the run's workspace and the run waits for another. A release of an
 * older grant than the one held is ignored. True when something changed.
 */
export function releaseClaim(
  state: RegistryState,
  release: { workflowId: string; grantId?: number; workspaceMissing?: boolean },
): boolean {
  const index = state.claims.findIndex((c) => c.workflowId === release.workflowId);
  if (index < 0) return false;
  const claim = state.claims[index];
  if (release.grantId !== undefined && claim.grantId !== release.grantId) return false;
  const key = workspaceKey(claim);
  if (release.workspaceMissing && claim.host !== null && key !== null) {
    const host = state.hosts.find((h) => h.name === claim.host);
    if (host && !host.lacks.includes(key)) host.lacks = [...host.lacks, key].slice(-MAX_LACKS);
    Object.assign(claim, { host: null, grantId: null, notice: null });
    return true;
  }
  state.claims.splice(index, 1);
  return true;
}

/** Drops the claims of runs that have ended (they can no longer release their slot themselves). */
export function dropClaims(state: RegistryState, workflowIds: string[]): boolean {
  const before = state.claims.length;
  state.claims = state.claims.filter((c) => !workflowIds.includes(c.workflowId));
  return state.claims.length !== before;
}

/**
 * Hosts whose time is up become lost; their runs go back to waiting. Returns the runs to tell.
 * Lost hosts without runs are forgotten after FORGET_LOST_AFTER_MS.
 */
export function expireHosts(state: RegistryState, now: number): LostMessage[] {
  const moved: LostMessage[] = [];
  for (const host of state.hosts) {
    if (host.state !== 'up' || now - host.lastHealthy < host.timeoutMs) continue;
    host.state = 'lost';
    host.lostReason =
      now - host.lastSeen >= host.timeoutMs || host.problem === null
        ? `${host.name} stopped answering`
        : `${host.name} is unusable (${host.problem})`;
    for (const claim of runsOn(state, host.name)) {
      moved.push({
        workflowId: claim.workflowId,
        grantId: claim.grantId ?? 0,
        host: host.name,
        reason: host.lostReason,
      });
      Object.assign(claim, { host: null, grantId: null, notice: null });
    }
  }
  state.hosts = state.hosts.filter(
    (h) => h.state === 'up' || now - h.lastSeen < FORGET_LOST_AFTER_MS || runsOn(state, h.name).length > 0,
  );
  return moved;
}

/** When the next host runs out of time, if any is up (workflow time, ms). */
export function nextExpiry(state: RegistryState): number | undefined {
  const times = state.hosts.filter((h) => h.state === 'up').map((h) => h.lastHealthy + h.timeoutMs);
  return times.length > 0 ? Math.min(...times) : undefined;
}

/** Gives free slots to waiting runs, in order; returns the grants to send. */
export function schedule(state: RegistryState): GrantMessage[] {
  const grants: GrantMessage[] = [];
  const reserved = new Set<string>();
  for (const claim of waitingInOrder(state)) {
    const candidates = state.hosts.filter((h) => eligible(h, claim));
    const usable = candidates.filter(
      (h) => !reserved.has(h.name) && !full(state, h) && !workspaceBusy(state, h, claim),
    );
    if (usable.length === 0) {
      for (const host of candidates) if (full(state, host)) reserved.add(host.name);
      continue;
    }
    // The emptiest host first (most free slots), then the one with fewer runs, then by name.
    const free = (h: HostRecord) => h.slots - runsOn(state, h.name).length;
    const pick = [...usable].sort(
      (a, b) =>
        free(b) - free(a) || runsOn(state, a.name).length - runsOn(state, b.name).length || (a.name < b.name ? -1 : 1),
    )[0];
    claim.host = pick.name;
    claim.grantId = state.nextGrantId++;
    claim.lastGrantId = claim.grantId;
    claim.notice = null;
    grants.push({
      workflowId: claim.workflowId,
      grant: { grantId: claim.grantId, host: pick.name, queue: pick.queue },
    });
  }
  return grants;
}

function namesOf(hosts: HostRecord[]): string {
  return hosts.map((h) => h.name).join(', ');
}

/** Why `claim` waits, and whether any host that is up could ever take it. */
export function waitReason(state: RegistryState, claim: HostClaim): { reason: string; unsatisfiable: boolean } {
  const up = state.hosts.filter(healthy);
  const down = state.hosts.filter((h) => !healthy(h));
  const why = (h: HostRecord) =>
    h.lostReason ??
    (h.problem ? `${h.name}: ${h.problem}` : h.draining ? `${h.name} is shutting down` : `${h.name} is down`);
  if (up.length === 0) {
    return {
      reason:
        down.length > 0
          ? `no host is up (${down.map(why).join('; ')})`
          : 'no host is up yet; start one with `poc worker`',
      unsatisfiable: false,
    };
  }
  const withLabels = up.filter((h) => hasLabels(h, claim));
  if (withLabels.length === 0) {
    const downWith = down.filter((h) => hasLabels(h, claim));
    const labels = `label${claim.labels.length === 1 ? '' : 's'} ${claim.labels.join(', ')}`;
    return {
      reason:
        `no host that is up has ${labels}` +
        (downWith.length > 0 ? ` (${downWith.map(why).join('; ')})` : `; hosts up: ${namesOf(up)}`),
      unsatisfiable: false,
    };
  }
  const key = workspaceKey(claim);
  const candidates = withLabels.filter((h) => eligible(h, claim));
  if (key !== null && candidates.length === 0) {
    // A path no host that is up has is a mistake to report now, not a reason to wait.
    return {
      reason:
        `${workspaceName(key)} does not exist on ${withLabels.length === 1 ? 'host' : 'any of the hosts'} ` +
        namesOf(withLabels),
      unsatisfiable: true,
    };
  }
  const parts = candidates.map((h) =>
    full(state, h)
      ? `${h.name} ${runsOn(state, h.name).length}/${h.slots} busy`
      : workspaceBusy(state, h, claim)
        ? `${h.name} has ${workspaceName(key ?? '')} in use`
        : `${h.name} is promised to an earlier run`,
  );
  return { reason: `waiting for a host: ${parts.join(', ')}`, unsatisfiable: false };
}

/**
 * Runs ahead of `claim`: earlier waiting runs that compete for one of its hosts, plus the runs
 * using its workspace there when that is what holds it up.
 */
export function aheadOf(state: RegistryState, claim: ClaimRecord, waiting: ClaimRecord[]): number {
  const mine = state.hosts.filter((h) => eligible(h, claim));
  const names = new Set(mine.map((h) => h.name));
  let ahead = 0;
  for (const other of waiting) {
    if (other === claim) break;
    if (state.hosts.some((h) => names.has(h.name) && eligible(h, other))) ahead += 1;
  }
  const key = workspaceKey(claim);
  if (key !== null && mine.length > 0 && mine.every((h) => full(state, h) || workspaceBusy(state, h, claim))) {
    ahead += state.claims.filter((c) => c.host !== null && names.has(c.host) && workspaceKey(c) === key).length;
  }
  return ahead;
}

/** What each waiting run should hear now, for those whose notice changed. */
export function queueNotices(state: RegistryState): NoticeMessage[] {
  const waiting = waitingInOrder(state);
  const messages: NoticeMessage[] = [];
  for (const claim of waiting) {
    const notice: HostQueueNotice = {
      ahead: aheadOf(state, claim, waiting),
      ...waitReason(state, claim),
      sinceGrant: claim.lastGrantId,
    };
    const json = JSON.stringify(notice);
    if (json === claim.notice) continue;
    claim.notice = json;
    messages.push({ workflowId: claim.workflowId, notice });
  }
  return messages;
}

/** True when nothing is there to look after: no host up and no run waiting or holding a host. */
export function idle(state: RegistryState): boolean {
  return state.claims.length === 0 && state.hosts.every((h) => h.state === 'lost');
}

function hostInfo(state: RegistryState, host: HostRecord): HostInfo {
  return {
    name: host.name,
    labels: [...host.labels],
    slots: host.slots,
    running: runsOn(state, host.name).map((c) => c.workflowId),
    lastSeen: new Date(host.lastSeen).toISOString(),
    state: host.state === 'up' && host.draining ? 'draining' : host.state,
    queue: host.queue,
    problem: host.state === 'lost' ? host.lostReason : host.problem,
  };
}

/** `poc hosts`: every host (up first, then by name) and the runs waiting, in order. */
export function fleetView(state: RegistryState): FleetView {
  const hosts = [...state.hosts].sort((a, b) =>
    a.state !== b.state ? (a.state === 'up' ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  return {
    hosts: hosts.map((h) => hostInfo(state, h)),
    waiting: waitingInOrder(state).map((c) => {
      const notice = c.notice ? (JSON.parse(c.notice) as HostQueueNotice) : undefined;
      return { workflowId: c.workflowId, ahead: notice?.ahead ?? 0, reason: notice?.reason ?? 'waiting' };
    }),
  };
}
