/**
 * The fleet of build hosts on a real dev server, with hosts as in-process workers on one task
 * queue and scripted steps (no Docker): claims in start order with positions and reasons,
 * capacity, labels, a workspace path only some hosts have, a host lost mid-run (its runs start
 * again on another, finished runs untouched, the Slack message says so), a run left without any
 * eligible host, runs from git, and the surfaces: `poc hosts`, `poc run --repo --ref --on`,
 * `poc status`, `temporal workflow list --query 'PocHost="…"'`, `!poc hosts` and `!poc run --repo`.
 * test/fleet.e2e.test.ts does the same with `poc worker` processes, each with its own Docker engine.
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
import { eventually, startTestWorker, tempDir, testServer, withEnv, type TestServer } from './support/temporal.js';
import { startFakeSlack, textOf, type FakeSlack, type PostedMessage } from './support/fake-slack.js';
import { startSlackBot, type SlackBot } from '../slack/app.js';
import { loadConfig } from '../core/config.js';
import { findTemporalCli } from '../worker/devserver.js';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

let server: TestServer;
let fake: FakeSlack;
let bot: SlackBot | undefined;
const CH = 'C0FLEET';
const root = tempDir('fleet');
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
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
async function addHost(
  name: string,
  opts: { labels?: string[]; slots?: number; disk?: string; timeoutSeconds?: number } = {},
) {
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
    timeoutSeconds: opts.timeoutSeconds,
    env: { SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl },
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
  fake = await startFakeSlack();
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
});

/** The status message of a run the workflow posts in `threadTs`, once it matches `pattern`. */
function slackStatus(threadTs: string, pattern: RegExp): Promise<PostedMessage> {
  return fake.waitFor(`the status message in ${threadTs} to match ${pattern}`, () => {
    const message = fake.botMessages(CH, threadTs).find((m) => /\*Pipeline `/.test(textOf(m)));
    return message && pattern.test(textOf(message)) ? message : undefined;
  });
}

function poc(args: string[]) {
  return execa(process.execPath, [path.join(repoRoot, 'cli', 'poc.js'), ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, POC_TASK_QUEUE: taskQueue, NO_COLOR: '1' },
    reject: false,
    timeout: 120_000,
  });
}

afterAll(async () => {
  await bot?.stop();
  for (const name of [...hosts.keys()]) await stopHost(name);
  await fake?.stop();
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

  test('slots freed together all go to waiting runs at once, even while the registry is busy', async () => {
    // Two runs end together, so the second release reaches the registry while it still sends the
    // first one's grant. A release lost there left its slot empty until the registry's next timer
    // (the host's 60 s timeout here) — never a wait on an event.
    const chain = await addHost('chain', { slots: 2, labels: ['chain'], timeoutSeconds: 60 });
    const start = (lint: string) => run({ steps: ['lint'], labels: ['chain'], workspace: workspace({ lint }) });
    /** Seconds each wait took: for a run to hear it waits, for a freed slot to reach it. */
    const waits: Record<string, number> = {};
    const timed = async (what: string, wait: () => Promise<unknown>) => {
      const since = Date.now();
      await wait();
      waits[what] = Math.round((Date.now() - since) / 1000);
    };
    for (let round = 0; round < 3; round++) {
      const held = [await start('hold'), await start('hold')];
      for (const h of held) await steps.started(h.workflowId, 'lint');
      const waiting = [await start('ok'), await start('ok')];
      await timed(`round ${round}: queued`, () =>
        Promise.all(
          waiting.map((w) => until(w.workflowId, 'QUEUED with a reason', (s) => Boolean(s.queueReason), 120_000)),
        ),
      );
      for (const h of held) steps.release(h.workflowId, 'lint');
      await timed(`round ${round}: granted`, () =>
        Promise.all(waiting.map((w) => until(w.workflowId, 'granted', (s) => s.host === 'chain', 120_000))),
      );
      await Promise.all([...held, ...waiting].map((s) => result(s.workflowId)));
    }
    // About a second each on a busy machine; a lost signal waits for the timer.
    expect(Object.entries(waits).filter(([, seconds]) => !(seconds < 20))).toEqual([]);
    await chain.stop();
    hosts.delete('chain');
  });

  test('a host told to stop while its first heartbeat is on its way stops, and never starts polling', async () => {
    // Ctrl-C right after `poc up` prints its banner: the worker still awaits the heartbeat it sends
    // before it polls (its engine check is slow on a loaded machine). That stop used to be dropped
    // (neither queue's worker ran yet) and the worker then polled on until killed.
    let engineAnswers = () => {};
    const engineCheck = new Promise<null>((resolve) => (engineAnswers = () => resolve(null)));
    const early = await startTestWorker({
      address: server.address,
      // A registry of its own: the other tests count the hosts of theirs.
      taskQueue: `${taskQueue}-early`,
      config: {
        host: { name: 'early', labels: [], slots: 1, timeoutSeconds: 5, reposDir: path.join(root, 'early', 'repos') },
      },
      checkEngine: () => engineCheck,
    });
    const stopped = early.stop();
    engineAnswers();
    let bound: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      stopped.then(() => 'stopped'),
      new Promise((resolve) => (bound = setTimeout(resolve, 30_000, 'still running after 30 s'))),
    ]);
    clearTimeout(bound);
    assert.equal(outcome, 'stopped');
    assert.equal(early.worker.getState(), 'STOPPED');
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
    const thread = fake.nextTs();
    const victim = await run({
      steps: ['build', 'test'],
      workspace: workspace({ build: 'ok', test: 'hold' }),
      slack: { channel: CH, threadTs: thread },
    });
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
    // The run's Slack message names its host and the move.
    const message = await slackStatus(thread, /DONE/);
    expect(textOf(message)).toMatch(/on host \*d\*/);
    expect(textOf(message)).toMatch(/moved from a to d: a stopped answering/);
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

  test('the surfaces: poc hosts, poc run --repo --ref --follow, poc status, temporal workflow list, !poc', async () => {
    const listed = await poc(['hosts', '--json']);
    assert.equal(listed.exitCode, 0, listed.stderr);
    const json = JSON.parse(listed.stdout) as Record<string, unknown>[];
    const y = json.find((h) => h.name === 'y');
    expect(y).toMatchObject({ name: 'y', labels: [], slots: 1, running: [], state: 'up' });
    assert.ok(Date.now() - Date.parse(String(y?.lastSeen)) < 30_000);
    assert.ok(json.some((h) => h.name === 'a' && h.state === 'lost'));
    const text = await poc(['hosts']);
    assert.match(text.stdout, /^HOST\s+STATE\s+SLOTS\s+LABELS\s+LAST SEEN\s+RUNS$/m);
    assert.match(text.stdout, /^y\s+up\s+0\/1\s+-\s+\d+s ago\s+-$/m);
    assert.match(text.stdout, /^a\s+lost\s+0\/1\s+.*\(a stopped answering\)$/m);

    const repo = await gitRepo(root, 'cli', scriptedFiles({ lint: 'ok' }));
    const followed = await poc(['run', '--repo', repo.url, '--ref', 'main', '--steps', 'lint', '--follow']);
    assert.equal(followed.exitCode, 0, followed.stderr);
    const id = /started (pipeline-\S+)/.exec(followed.stderr)?.[1] as string;
    const final = await status(id);
    assert.match(followed.stderr, new RegExp(`^on host ${final.host}$`, 'm'));
    assert.match(followed.stderr, new RegExp(`^checked out ${repo.url} main at ${final.commit?.slice(0, 12)}$`, 'm'));
    const shown = await poc(['status', id]);
    assert.match(shown.stdout, new RegExp(`^host ${final.host}$`, 'm'));
    assert.match(shown.stdout, new RegExp(`^repo ${repo.url} @ main \\(commit ${final.commit?.slice(0, 12)}\\)$`, 'm'));

    const temporal = (findTemporalCli() as { path: string }).path;
    const found = await eventually('temporal workflow list to find the run by PocHost', async () => {
      const r = await execa(
        temporal,
        ['workflow', 'list', '--address', server.address, '--query', `PocHost="${final.host}"`, '--output', 'json'],
        { reject: false },
      );
      return r.stdout.includes(id) ? r.stdout : undefined;
    });
    assert.ok(found);

    for (const [args, message] of [
      [['run', '--ref', 'main'], /--ref needs --repo/],
      [['run', '--repo', repo.url, '--ref=--upload-pack=touch /tmp/x'], /--ref: "--upload-pack=touch \/tmp\/x" is not/],
      [['run', '--repo', '--upload-pack=x'], /--repo needs a value/],
      [['run', '--repo', 'ext::sh'], /--repo: "ext::sh" is not a repository URL/],
      [['run', '--on', 'a b'], /"a b" is not a host label/],
    ] as const) {
      const result = await poc([...args]);
      assert.equal(result.exitCode, 2, `${args.join(' ')} → ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }

    // Slack: !poc hosts, and a run from git whose status message names its host and commit.
    const config = { ...loadConfig({}), temporalAddress: server.address, taskQueue };
    bot = await startSlackBot({
      config: withEnv(config, {
        SLACK_BOT_TOKEN: fake.botToken,
        SLACK_APP_TOKEN: fake.appToken,
        SLACK_API_URL: fake.apiUrl,
      }),
      client,
      log: () => undefined,
    });
    await fake.connected();
    const asked = fake.sendMessage({ channel: CH, text: '!poc hosts' });
    const hostsReply = await fake.waitFor('the hosts reply', () =>
      fake.botMessages(CH, asked.ts).find((m) => /Build hosts/.test(textOf(m))),
    );
    assert.match(textOf(hostsReply), /\*Build hosts\* — 2 of \d+ up/);
    assert.match(textOf(hostsReply), /y\s+up\s+0\/1/);
    assert.match(textOf(hostsReply), /\*a\*: a stopped answering/);
    const started = fake.sendMessage({ channel: CH, text: `!poc run --repo ${repo.url} --ref main --steps lint` });
    const message = await slackStatus(started.ts, /DONE/);
    assert.match(textOf(message), /on host \*[yz]\*/);
    assert.match(textOf(message), new RegExp(`commit \`${final.commit?.slice(0, 12)}\``));
  }, 180_000);
});
