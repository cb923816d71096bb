/**
 * The fleet of build hosts on a real dev server, with hosts as in-process workers on one task
 * queue and scripted steps (no Docker): claims in start order with positions and reasons,
 * capacity, labels, a workspace path only some hosts have, a host lost mid-run (its runs start
 * again on another, finished runs untouched), a run left without any eligible host, and runs
 * from git. test/fleet.e2e.test.ts does the same with `poc worker` processes and Docker engines.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import {
  FAILURE_TYPES,
  PocHost,
  getFleet,
  getPipelineStatus,
  listHosts,
  startPipeline,
  type PipelineInput,
  type PipelineStatus,
} from '../client/index.js';
import type { PrepareRunArgs } from '../activities/types.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import { gitRepo, scriptedFiles, startTestHost, type TestHost } from './support/fleet.js';
import { eventually, tempDir, testServer, type TestServer } from './support/temporal.js';

let server: TestServer;
const root = tempDir('fleet');
const taskQueue = `fleet-${crypto.randomUUID().slice(0, 8)}`;
const steps = scriptedSteps();
/** Which host ran which step (as each host's runStep saw it). */
const ranOn: { host: string; workflowId: string; step: string }[] = [];
const hosts = new Map<string, TestHost>();
let client: Client;
let wsCount = 0;

function workspace(stepCommands: Record<string, string>, under = root): string {
  return scriptedWorkspace(path.join(under, `ws${++wsCount}`), stepCommands);
}

/** Host `name`; with `disk`, only workspace paths under that folder exist there. */
async function addHost(name: string, opts: { labels?: string[]; slots?: number; disk?: string } = {}) {
  const { createPrepareRun } = await import('../activities/workspace.js');
  const realPrepare = createPrepareRun({
    workspace: root,
    jobsDir: path.join(root, name, 'jobs'),
    reposDir: path.join(root, name, 'repos'),
  });
  const host = await startTestHost({
    address: server.address,
    taskQueue,
    name,
    root,
    labels: opts.labels,
    slots: opts.slots,
    overrides: {
      async runStep(args) {
        ranOn.push({ host: name, workflowId: args.workflowId, step: args.step.name });
        return steps.runStep(args);
      },
      ...(opts.disk
        ? {
            async prepareRun(args: PrepareRunArgs) {
              if (args.workspace && !args.workspace.startsWith(opts.disk as string)) {
                throw ApplicationFailure.nonRetryable(
                  `workspace ${args.workspace} does not exist`,
                  FAILURE_TYPES.workspaceMissing,
                );
              }
              return realPrepare(args);
            },
          }
        : {}),
    },
  });
  hosts.set(name, host);
  await eventually(`host ${name} up`, async () => {
    const list = await listHosts(client, { taskQueue }).catch(() => []);
    return list.some((h) => h.name === name && h.state === 'up') ? true : undefined;
  });
  return host;
}

async function stopHost(name: string) {
  await hosts.get(name)?.stop();
  hosts.delete(name);
}

async function run(input: PipelineInput) {
  return startPipeline(client, input, { taskQueue });
}

function status(workflowId: string): Promise<PipelineStatus> {
  return getPipelineStatus(client, workflowId);
}

async function until(workflowId: string, what: string, check: (s: PipelineStatus) => boolean, timeoutMs = 60_000) {
  return eventually(
    `${workflowId}: ${what}`,
    async () => {
      const s = await status(workflowId);
      return check(s) ? s : undefined;
    },
    timeoutMs,
  );
}

async function result(workflowId: string): Promise<PipelineStatus> {
  return client.workflow.getHandle(workflowId).result();
}

beforeAll(async () => {
  server = await testServer();
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
});

afterAll(async () => {
  for (const name of [...hosts.keys()]) await stopHost(name);
  await client?.connection.close();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a fleet of build hosts', () => {
  test('hosts register with labels and slots; runs wait in start order with their position and reason', async () => {
    await addHost('a', { slots: 1 });
    await addHost('b', { slots: 1, labels: ['gpu'] });
    const fleet = await getFleet(client, { taskQueue });
    expect(fleet.hosts.map((h) => [h.name, h.labels, h.slots, h.state, h.queue])).toEqual([
      ['a', [], 1, 'up', `${taskQueue}@a`],
      ['b', ['gpu'], 1, 'up', `${taskQueue}@b`],
    ]);

    const first = await run({ steps: ['lint'], workspace: workspace({ lint: 'hold' }) });
    const second = await run({ steps: ['lint'], workspace: workspace({ lint: 'hold' }) });
    await steps.started(first.workflowId, 'lint');
    await steps.started(second.workflowId, 'lint');
    const third = await run({ steps: ['lint'], workspace: workspace({ lint: 'ok' }) });
    const fourth = await run({ steps: ['lint'], workspace: workspace({ lint: 'ok' }) });
    const waiting = await until(third.workflowId, 'QUEUED with a reason', (s) => Boolean(s.queueReason));
    assert.equal(waiting.phase, 'QUEUED');
    assert.equal(waiting.host, null);
    assert.equal(waiting.queuePosition, 0);
    assert.match(waiting.queueReason ?? '', /waiting for a host: a 1\/1 busy, b 1\/1 busy/);
    await until(fourth.workflowId, 'one run ahead', (s) => s.queuePosition === 1);

    const running = [await status(first.workflowId), await status(second.workflowId)];
    expect(running.map((s) => s.host).sort()).toEqual(['a', 'b']);
    const listed = await listHosts(client, { taskQueue });
    expect(listed.map((h) => h.running.length)).toEqual([1, 1]);

    // A slot frees: the run that started first takes it.
    steps.release(first.workflowId, 'lint');
    const third2 = await result(third.workflowId);
    assert.equal(third2.host, (await status(first.workflowId)).host);
    assert.equal((await status(fourth.workflowId)).phase, 'QUEUED');
    steps.release(second.workflowId, 'lint');
    assert.equal((await result(fourth.workflowId)).phase, 'DONE');
  });

  test('a label no host has: the run waits with that reason and starts when a host with it joins', async () => {
    const gpu = await run({ steps: ['lint'], workspace: workspace({ lint: 'ok' }), labels: ['gpu'] });
    assert.equal((await result(gpu.workflowId)).host, 'b');
    const arm = await run({ steps: ['lint'], workspace: workspace({ lint: 'ok' }), labels: ['arm64'] });
    const waiting = await until(arm.workflowId, 'a reason', (s) => Boolean(s.queueReason));
    assert.match(waiting.queueReason ?? '', /no host that is up has label arm64; hosts up: a, b/);
    assert.equal(waiting.phase, 'QUEUED');
    await addHost('c', { labels: ['arm64', 'gpu'] });
    const done = await result(arm.workflowId);
    assert.equal(done.phase, 'DONE');
    assert.equal(done.host, 'c');
    assert.equal(done.steps[0].host, 'c');
    expect(ranOn.filter((r) => r.workflowId === arm.workflowId).map((r) => r.host)).toEqual(['c']);
  });

  test('PocHost finds the runs of a host, as `temporal workflow list --query PocHost="c"` does', async () => {
    const ids: string[] = [];
    for await (const execution of client.workflow.list({ query: `${PocHost.name} = "c"` })) {
      ids.push(execution.workflowId);
    }
    const onC = ranOn.filter((r) => r.host === 'c').map((r) => r.workflowId);
    await eventually('visibility to catch up', async () => {
      const found: string[] = [];
      for await (const e of client.workflow.list({ query: `${PocHost.name} = "c"` })) found.push(e.workflowId);
      return onC.every((id) => found.includes(id)) ? found : undefined;
    });
    assert.ok(ids.every((id) => onC.includes(id)));
  });

  test('a host is lost mid-run: its runs start again from the first step on another; finished runs stay', async () => {
    await stopHost('c');
    const finished = await run({ steps: ['lint'], workspace: workspace({ lint: 'ok' }) });
    const before = await result(finished.workflowId);
    // b busy with a gpu run, so the next run lands on a.
    const busy = await run({ steps: ['lint'], workspace: workspace({ lint: 'hold' }), labels: ['gpu'] });
    await steps.started(busy.workflowId, 'lint');
    const victim = await run({ steps: ['build', 'test'], workspace: workspace({ build: 'ok', test: 'hold' }) });
    await steps.started(victim.workflowId, 'test');
    assert.equal((await status(victim.workflowId)).host, 'a');
    await addHost('d');
    const lostAt = Date.now();
    await stopHost('a');
    const moved = await until(victim.workflowId, 'moved to d', (s) => s.host === 'd' && s.hostMoves?.length === 1);
    const movedAfterMs = Date.now() - lostAt;
    expect(moved.hostMoves?.[0]).toMatchObject({ from: 'a', to: 'd', reason: 'a stopped answering' });
    // Noticed within the host timeout (5 s here) and a heartbeat or two.
    assert.ok(movedAfterMs < 30_000, `moved after ${movedAfterMs} ms`);
    steps.release(victim.workflowId, 'test');
    const done = await result(victim.workflowId);
    assert.equal(done.phase, 'DONE');
    expect(done.steps.map((s) => [s.name, s.status, s.host])).toEqual([
      ['build', 'done', 'd'],
      ['test', 'done', 'd'],
    ]);
    // Started over from the first step on d.
    expect(ranOn.filter((r) => r.workflowId === victim.workflowId).map((r) => `${r.host}:${r.step}`)).toEqual([
      'a:build',
      'a:test',
      'd:build',
      'd:test',
    ]);
    expect(await status(finished.workflowId)).toEqual(before);
    steps.release(busy.workflowId, 'lint');
    assert.equal((await result(busy.workflowId)).host, 'b');
  }, 120_000);

  test('a workspace path only some hosts have: the run goes where it exists; nowhere fails at once', async () => {
    await stopHost('b');
    await stopHost('d');
    const disk = path.join(root, 'disk-z');
    await addHost('y', { disk: path.join(root, 'disk-y') });
    await addHost('z', { disk });
    // y is tried first (the same load, and its name comes first), lacks the path, and z has it.
    const onZ = await run({ steps: ['lint'], workspace: workspace({ lint: 'ok' }, disk) });
    const done = await result(onZ.workflowId);
    assert.equal(done.host, 'z');
    assert.equal(done.hostMoves?.length, 0);
    expect(ranOn.filter((r) => r.workflowId === onZ.workflowId).map((r) => r.host)).toEqual(['z']);

    const nowhere = await run({ steps: ['lint'], workspace: workspace({ lint: 'ok' }, path.join(root, 'elsewhere')) });
    const err = await result(nowhere.workflowId).catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as ApplicationFailure).type, FAILURE_TYPES.invalidInput);
    assert.match(err.cause?.message ?? '', /workspace \S+ does not exist on any of the hosts y, z/);
  }, 120_000);

  test('no eligible host left: the run waits QUEUED with the reason until its queue timeout ends it', async () => {
    const g = await addHost('g', { labels: ['fpga'], slots: 1 });
    const waiting = await run({
      steps: ['lint'],
      workspace: workspace({ lint: 'hold' }),
      labels: ['fpga'],
      queueTimeoutSeconds: 20,
    });
    await steps.started(waiting.workflowId, 'lint');
    await stopHost(g.name);
    const queued = await until(waiting.workflowId, 'queued again', (s) => s.phase === 'QUEUED' && s.host === null);
    assert.match(queued.queueReason ?? '', /g stopped answering/);
    const err = await result(waiting.workflowId).catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as ApplicationFailure).type, FAILURE_TYPES.noEligibleHost);
    const final = await status(waiting.workflowId);
    assert.equal(final.phase, 'FAILED');
    assert.match(
      final.error ?? '',
      /no host could take the run within 20 s \(no host that is up has label fpga \(g stopped answering\)\)/,
    );
  }, 120_000);

  test('runs from git: each checks the ref out into a workspace of its own; the commit is in the status', async () => {
    const repo = await gitRepo(root, 'app', scriptedFiles({ lint: 'ok', test: 'ok' }));
    const feature = await repo.commit({ 'feature.txt': 'x' }, 'feature');
    const a = await run({ steps: ['lint', 'test'], repo: repo.url, ref: 'feature' });
    const b = await run({ steps: ['lint', 'test'], repo: repo.url, ref: 'feature' });
    const [doneA, doneB] = [await result(a.workflowId), await result(b.workflowId)];
    for (const done of [doneA, doneB]) {
      assert.equal(done.phase, 'DONE');
      assert.equal(done.commit, feature);
      assert.equal(done.repo, repo.url);
      assert.equal(done.ref, 'feature');
      const host = hosts.get(done.host ?? '');
      assert.ok(host, `host ${done.host} of ${done.id}`);
      const runs = path.join(root, done.host as string, 'repos', 'runs');
      assert.ok(done.workspace?.startsWith(runs), done.workspace ?? '');
    }
    assert.notEqual(doneA.workspace, doneB.workspace);

    const missing = await run({ steps: ['lint'], repo: repo.url, ref: 'no-such-branch' });
    const err = await result(missing.workflowId).catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(err.cause?.message ?? '', /ref "no-such-branch" is not a branch, tag or commit of file:\/\//);
    await expect(run({ repo: repo.url, ref: '--upload-pack=touch /tmp/x' })).rejects.toThrow(/is not a branch, tag/);
    await expect(run({ repo: 'ext::sh -c touch% /tmp/x' })).rejects.toThrow(/spaces or control characters/);
    await expect(run({ repo: '-uhttps://x' })).rejects.toThrow(/is not a repository URL/);
  }, 120_000);
});
