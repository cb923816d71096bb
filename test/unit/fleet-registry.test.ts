/** The host registry's bookkeeping (workflows/fleet.ts), driven as pure functions with a fake clock. */
import { describe, expect, test } from '@jest/globals';
import type { HostClaim, HostHeartbeat } from '../../core/contract.js';
import {
  FORGET_LOST_AFTER_MS,
  addClaim,
  applyHeartbeat,
  emptyRegistry,
  expireHosts,
  fleetView,
  nextExpiry,
  queueNotices,
  releaseClaim,
  schedule,
  type RegistryState,
} from '../../workflows/fleet.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');

function beat(name: string, extra: Partial<HostHeartbeat> = {}): HostHeartbeat {
  return {
    name,
    queue: `poc@${name}`,
    labels: [],
    slots: 1,
    timeoutSeconds: 30,
    session: `${name}-1`,
    problem: null,
    ...extra,
  };
}

let started = 0;
function claim(workflowId: string, extra: Partial<HostClaim> = {}): HostClaim {
  started += 1;
  return {
    workflowId,
    startedAt: new Date(T0 + started * 1000).toISOString(),
    labels: [],
    workspace: `/ws/${workflowId}`,
    ownCheckout: false,
    ...extra,
  };
}

function fleet(...beats: HostHeartbeat[]): RegistryState {
  const state = emptyRegistry();
  for (const b of beats) applyHeartbeat(state, b, T0);
  return state;
}

const granted = (state: RegistryState) =>
  Object.fromEntries(state.claims.filter((c) => c.host).map((c) => [c.workflowId, c.host]));

describe('host registry bookkeeping', () => {
  test('grants in start order, to the host with the most free slots, never past the slots', () => {
    const state = fleet(beat('a', { slots: 2 }), beat('b', { slots: 1 }));
    for (const id of ['r1', 'r2', 'r3', 'r4']) addClaim(state, claim(id));
    const grants = schedule(state);
    expect(grants.map((g) => [g.workflowId, g.grant.host, g.grant.queue])).toEqual([
      ['r1', 'a', 'poc@a'],
      ['r2', 'b', 'poc@b'],
      ['r3', 'a', 'poc@a'],
    ]);
    expect(new Set(grants.map((g) => g.grant.grantId)).size).toBe(3);
    const [notice] = queueNotices(state);
    expect(notice).toEqual({
      workflowId: 'r4',
      notice: {
        ahead: 0,
        reason: 'waiting for a host: a 2/2 busy, b 1/1 busy',
        unsatisfiable: false,
        sinceGrant: null,
      },
    });
    // Nothing new to say: nothing is sent again.
    expect(queueNotices(state)).toEqual([]);
    releaseClaim(state, { workflowId: 'r2', grantId: grants[1].grant.grantId });
    expect(schedule(state).map((g) => [g.workflowId, g.grant.host])).toEqual([['r4', 'b']]);
  });

  test('a run that started earlier is served first, whatever order the claims arrive in', () => {
    const state = fleet(beat('a'));
    const late = claim('late');
    const early = { ...claim('early'), startedAt: new Date(T0).toISOString() };
    addClaim(state, late);
    addClaim(state, early);
    expect(schedule(state).map((g) => g.workflowId)).toEqual(['early']);
  });

  test('labels: only hosts with every label; a run waits with the reason and does not hold up others', () => {
    const state = fleet(beat('a'), beat('gpu1', { labels: ['gpu', 'arm64'] }));
    addClaim(state, claim('needs-fpga', { labels: ['fpga'] }));
    addClaim(state, claim('needs-gpu', { labels: ['gpu'] }));
    addClaim(state, claim('any'));
    expect(schedule(state).map((g) => [g.workflowId, g.grant.host])).toEqual([
      ['needs-gpu', 'gpu1'],
      ['any', 'a'],
    ]);
    expect(queueNotices(state)[0].notice).toMatchObject({
      ahead: 0,
      reason: 'no host that is up has label fpga; hosts up: a, gpu1',
      unsatisfiable: false,
    });
    applyHeartbeat(state, beat('f', { labels: ['fpga'] }), T0 + 1000);
    expect(schedule(state).map((g) => [g.workflowId, g.grant.host])).toEqual([['needs-fpga', 'f']]);
  });

  test('one run per workspace path on a host; another path runs beside it; positions count the holder', () => {
    const state = fleet(beat('a', { slots: 5 }));
    addClaim(state, claim('first', { workspace: '/ws/shared' }));
    addClaim(state, claim('second', { workspace: '/ws/shared' }));
    addClaim(state, claim('third', { workspace: '/ws/shared' }));
    addClaim(state, claim('other', { workspace: '/ws/other' }));
    addClaim(state, claim('git1', { workspace: null, ownCheckout: true }));
    addClaim(state, claim('git2', { workspace: null, ownCheckout: true }));
    expect(schedule(state).map((g) => g.workflowId)).toEqual(['first', 'other', 'git1', 'git2']);
    const notices = Object.fromEntries(queueNotices(state).map((m) => [m.workflowId, m.notice]));
    expect(notices.second).toMatchObject({ ahead: 1, reason: 'waiting for a host: a has workspace /ws/shared in use' });
    expect(notices.third).toMatchObject({ ahead: 2 });
  });

  test('a host that lacks the workspace is remembered; when none that is up has it the run cannot go anywhere', () => {
    const state = fleet(beat('a'), beat('b'));
    addClaim(state, claim('r', { workspace: '/only/on/c' }));
    const [first] = schedule(state);
    releaseClaim(state, { workflowId: 'r', grantId: first.grant.grantId, workspaceMissing: true });
    const [second] = schedule(state);
    expect(second.grant.host).not.toBe(first.grant.host);
    releaseClaim(state, { workflowId: 'r', grantId: second.grant.grantId, workspaceMissing: true });
    expect(schedule(state)).toEqual([]);
    expect(queueNotices(state)[0].notice).toMatchObject({
      reason: 'workspace /only/on/c does not exist on any of the hosts a, b',
      unsatisfiable: true,
      sinceGrant: second.grant.grantId,
    });
    // A host that restarts (a new session) may have it now.
    applyHeartbeat(state, beat('a', { session: 'a-2' }), T0 + 1000);
    expect(schedule(state).map((g) => g.grant.host)).toEqual(['a']);
  });

  test('an earlier run waiting for full hosts is not overtaken there by a later one', () => {
    const state = fleet(beat('a'), beat('gpu1', { labels: ['gpu'] }));
    addClaim(state, claim('busy-a'));
    addClaim(state, claim('busy-gpu', { labels: ['gpu'] }));
    schedule(state);
    addClaim(state, claim('wants-any'));
    addClaim(state, claim('wants-gpu', { labels: ['gpu'] }));
    expect(schedule(state)).toEqual([]);
    releaseClaim(state, { workflowId: 'busy-gpu' });
    // gpu1 frees: the earlier run (any host) takes it, not the later gpu run.
    expect(schedule(state).map((g) => [g.workflowId, g.grant.host])).toEqual([['wants-any', 'gpu1']]);
  });

  test('a host silent past its timeout is lost: its runs wait again at the front, told why', () => {
    const state = fleet(beat('a'), beat('b'));
    addClaim(state, claim('on-a'));
    addClaim(state, claim('on-b'));
    const grants = schedule(state);
    addClaim(state, claim('later'));
    schedule(state);
    expect(nextExpiry(state)).toBe(T0 + 30_000);
    applyHeartbeat(state, beat('b'), T0 + 25_000);
    expect(expireHosts(state, T0 + 29_999)).toEqual([]);
    const lost = expireHosts(state, T0 + 30_000);
    const onA = grants.find((g) => g.workflowId === 'on-a');
    expect(lost).toEqual([
      {
        workflowId: onA?.workflowId,
        grantId: onA?.grant.grantId,
        host: onA?.grant.host,
        reason: 'a stopped answering',
      },
    ]);
    expect(nextExpiry(state)).toBe(T0 + 55_000);
    const view = fleetView(state);
    expect(view.hosts.map((h) => [h.name, h.state, h.problem])).toEqual([
      ['b', 'up', null],
      ['a', 'lost', 'a stopped answering'],
    ]);
    // b frees: the moved run (started before `later`) goes first.
    releaseClaim(state, { workflowId: 'on-b' });
    expect(schedule(state).map((g) => [g.workflowId, g.grant.host])).toEqual([['on-a', 'b']]);
    // a comes back: it takes runs again.
    applyHeartbeat(state, beat('a', { session: 'a-2' }), T0 + 40_000);
    expect(schedule(state).map((g) => [g.workflowId, g.grant.host])).toEqual([['later', 'a']]);
  });

  test("an engine that stops answering: no new runs at once, the host's runs move after its timeout", () => {
    const state = fleet(beat('a'), beat('b'));
    addClaim(state, claim('r1'));
    schedule(state);
    const holder = state.claims[0].host as string;
    applyHeartbeat(state, beat(holder, { problem: 'Cannot connect to the Docker daemon' }), T0 + 5_000);
    addClaim(state, claim('r2'));
    expect(schedule(state).map((g) => g.grant.host)).toEqual([holder === 'a' ? 'b' : 'a']);
    applyHeartbeat(state, beat(holder, { problem: 'Cannot connect to the Docker daemon' }), T0 + 29_000);
    applyHeartbeat(state, beat(holder === 'a' ? 'b' : 'a'), T0 + 29_000);
    expect(expireHosts(state, T0 + 30_000)).toEqual([
      expect.objectContaining({
        workflowId: 'r1',
        reason: `${holder} is unusable (Cannot connect to the Docker daemon)`,
      }),
    ]);
  });

  test('a host shutting down takes no new runs but keeps its own', () => {
    const state = fleet(beat('a'), beat('b'));
    addClaim(state, claim('r1'));
    schedule(state);
    const holder = state.claims[0].host as string;
    applyHeartbeat(state, beat(holder, { draining: true }), T0 + 1_000);
    addClaim(state, claim('r2'));
    expect(schedule(state).map((g) => g.grant.host)).toEqual([holder === 'a' ? 'b' : 'a']);
    expect(state.claims.find((c) => c.workflowId === 'r1')?.host).toBe(holder);
    expect(fleetView(state).hosts.find((h) => h.name === holder)?.state).toBe('draining');
  });

  test('claims are idempotent; a release of an older grant is ignored; lost hosts are forgotten after a day', () => {
    const state = fleet(beat('a'));
    expect(addClaim(state, claim('r'))).toBe('new');
    expect(addClaim(state, { ...state.claims[0] })).toBe('waiting');
    const [grant] = schedule(state);
    expect(addClaim(state, { ...state.claims[0] })).toBe('granted');
    expect(releaseClaim(state, { workflowId: 'r', grantId: grant.grant.grantId + 99 })).toBe(false);
    expect(granted(state)).toEqual({ r: 'a' });
    expect(releaseClaim(state, { workflowId: 'r', grantId: grant.grant.grantId })).toBe(true);
    expect(state.claims).toEqual([]);
    expireHosts(state, T0 + 30_000);
    expect(state.hosts.map((h) => h.state)).toEqual(['lost']);
    expireHosts(state, T0 + FORGET_LOST_AFTER_MS);
    expect(state.hosts).toEqual([]);
  });

  test('two workers under one host name: flagged, no new runs there, its runs move after the timeout', () => {
    const state = fleet(beat('a'), beat('b'));
    addClaim(state, claim('r1'));
    schedule(state);
    const holder = state.claims[0].host as string;
    const other = holder === 'a' ? 'b' : 'a';
    // A restart is a new session for good: nothing wrong.
    expect(applyHeartbeat(state, beat(holder, { session: 'second' }), T0 + 1_000)).toBe(true);
    applyHeartbeat(state, beat(holder, { session: 'second' }), T0 + 2_000);
    // The old worker's last word, after the new one started, changes nothing either.
    expect(applyHeartbeat(state, beat(holder, { draining: true }), T0 + 2_500)).toBe(false);
    expect(fleetView(state).hosts.find((h) => h.name === holder)?.problem).toBeNull();
    // The first session again: two workers take turns under one name.
    applyHeartbeat(state, beat(holder, { session: `${holder}-1` }), T0 + 3_000);
    expect(fleetView(state).hosts.find((h) => h.name === holder)?.problem).toMatch(
      new RegExp(`two workers use the host name ${holder}.*give each its own POC_HOST_NAME`),
    );
    addClaim(state, claim('r2'));
    expect(schedule(state).map((g) => g.grant.host)).toEqual([other]);
    applyHeartbeat(state, beat(holder, { session: 'second' }), T0 + 20_000);
    applyHeartbeat(state, beat(other), T0 + 30_000);
    expect(expireHosts(state, T0 + 32_000)).toEqual([
      expect.objectContaining({ workflowId: 'r1', reason: expect.stringMatching(/is unusable \(two workers/) }),
    ]);
  });

  test('no host at all: the reason says how to start one', () => {
    const state = emptyRegistry();
    addClaim(state, claim('r'));
    expect(queueNotices(state)[0].notice.reason).toBe('no host is up yet; start one with `poc worker`');
  });
});
