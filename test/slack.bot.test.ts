/**
 * The Slack bot end to end: the real Bolt app (Socket Mode and HTTP mode) against a local fake
 * Slack that speaks Slack's protocols, a real Temporal dev server and a real worker whose
 * `runStep` and `completePrompt` are scripted (no Docker, no LLM). The status messages asserted
 * on are posted by the workflows themselves through the `reportToSlack` activity.
 */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure, Client as TemporalClient, Connection, type Client } from '@temporalio/client';
import {
  RunNotFoundError,
  cancelRun,
  getPipelineStatus,
  listRuns,
  resolveRunId,
  slackRunId,
  startPipeline,
  stepOutputSignal,
  type LlmInput,
  type LlmResult,
  type PipelineStatus,
} from '../client/index.js';
import type { RunStepArgs, StepResult } from '../activities/types.js';
import { createSlackActivities } from '../activities/slack.js';
import { startSlackBot, SlackBotConfigError, type SlackBot } from '../slack/app.js';
import { isFinal } from '../render/slack.js';
import {
  buttonsOf,
  postSignedToBolt,
  startFakeSlack,
  textOf,
  type FakeSlack,
  type PostedMessage,
} from './support/fake-slack.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import {
  eventually,
  freePort,
  startTestWorker,
  tempDir,
  testServer,
  withEnv,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

/** Waits are on events; this only turns a missing event into a failure instead of a hang. */
const LIMIT = 90_000;
const CH = 'C0GENERAL';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const MALLORY = 'U0MALLORY';
const SIGNING_SECRET = 'test-signing-secret-0123456789';

let server: TestServer;
let fake: FakeSlack;
let worker: TestWorker;
let client: Client;
let bot: SlackBot | undefined;
const botLog: string[] = [];
const root = tempDir('slack-bot');
const steps = scriptedSteps();

// A step that waits until the test opens its gate (runs that must outlive a bot restart).
const gates = new Map<string, () => void>();
const gateEvents = new EventEmitter();
async function runStep(args: RunStepArgs): Promise<StepResult> {
  if (args.step.command !== 'gate') return steps.runStep(args);
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 200);
  try {
    await new Promise<void>((resolve, reject) => {
      gates.set(args.workflowId, resolve);
      gateEvents.emit('waiting', args.workflowId);
      ctx.cancellationSignal.addEventListener('abort', () => reject(ctx.cancellationSignal.reason), { once: true });
    });
  } finally {
    clearInterval(beat);
  }
  return { exitCode: 0, durationMs: 5, logTail: 'gate opened' };
}
async function gateWaiting(workflowId: string): Promise<() => void> {
  while (!gates.has(workflowId)) await once(gateEvents, 'waiting');
  return gates.get(workflowId) as () => void;
}

const prompts: LlmInput[] = [];
async function completePrompt(input: LlmInput): Promise<LlmResult> {
  prompts.push(input);
  return {
    text: 'The answer is <42> & that is *that*',
    backend: input.backend,
    model: input.model,
    usage: { inputTokens: 7, outputTokens: 5 },
    finishReason: 'stop',
    latencyMs: 12,
    attempts: 1,
  };
}

function botEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_APP_TOKEN: fake.appToken,
    SLACK_API_URL: fake.apiUrl,
    POC_ALLOWED_USERS: `${ALICE},${BOB}`,
    ...extra,
  };
}

async function startBot(extra: NodeJS.ProcessEnv = {}): Promise<SlackBot> {
  return startSlackBot({ config: withEnv(worker.config, botEnv(extra)), client, log: (line) => botLog.push(line) });
}

function pipelineIdOf(ts: string, channel = CH): string {
  return `pipeline-${slackRunId(fake.teamId, channel, ts)}`;
}

function isStatusMessage(m: PostedMessage): boolean {
  return /^\S+ \*(Pipeline|LLM) `/.test(m.blocks[0]?.text?.text ?? '');
}

/** The status message of the run started in `threadTs`, once its text matches `pattern`. */
function statusReaches(threadTs: string, pattern: RegExp, channel = CH): Promise<PostedMessage> {
  return fake.waitFor(`the status message in thread ${threadTs} to match ${pattern}`, () => {
    const message = fake.botMessages(channel, threadTs).find(isStatusMessage);
    return message && pattern.test(textOf(message)) ? message : undefined;
  });
}

function replyIn(threadTs: string, pattern: RegExp, channel = CH): Promise<PostedMessage> {
  return fake.waitFor(`a reply matching ${pattern} in thread ${threadTs}`, () =>
    fake.botMessages(channel, threadTs).find((m) => pattern.test(textOf(m))),
  );
}

/** The activity's expected failures are asserted, not logged. */
const quiet = new DefaultLogger('ERROR');

const actionIds = (m: Pick<PostedMessage, 'blocks'>) => buttonsOf(m).map((b) => b.action_id);

beforeAll(async () => {
  server = await testServer();
  fake = await startFakeSlack();
  const workspace = scriptedWorkspace(path.join(root, 'ws'), {
    build: 'ok',
    bootstrap: 'ok',
    doctor: 'ok',
    lint: 'ok',
    review: 'hold',
    test: 'ok',
    flaky: 'fail-once 2',
    broken: 'exit 3',
    hold: 'block',
    gate: 'gate',
  });
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep, completePrompt },
    env: { SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl },
    config: { workspace, jobsDir: path.join(root, 'jobs') },
  });
  client = worker.client;
  bot = await startBot();
  await fake.connected();
});

afterAll(async () => {
  await bot?.stop();
  await worker?.stop();
  await fake?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
  if (process.env.POC_TEST_VERBOSE) console.error(botLog.join('\n'));
});

describe('Slack bot (Socket Mode)', () => {
  test(
    '`!poc run` creates one status message in its thread and updates it through every step to the final state',
    async () => {
      const command = fake.sendMessage({
        user: ALICE,
        text: '!poc run nightly <check> & "more words" --steps build,review,test',
      });
      const id = pipelineIdOf(command.ts);
      // The step holds until its running state is on the message (updates are coalesced, so a
      // step that ends at once may go straight from pending to done).
      await statusReaches(command.ts, /:arrows_counterclockwise: \*review\* · running/);
      steps.release(id, 'review');
      const final = await statusReaches(command.ts, /— \*DONE\*/);

      const inThread = fake.botMessages(CH, command.ts);
      assert.equal(inThread.length, 1, 'one message in the thread: the status message');
      assert.equal(fake.botMessages(CH, null).length, 0, 'nothing at the top level of the channel');
      assert.equal(final.threadTs, command.ts);
      assert.ok(final.versions.length >= 3, `updated in place (${final.versions.length} versions)`);
      assert.match(textOf(final.versions[0]), /— \*(QUEUED|RUNNING)\*/);
      assert.deepEqual(actionIds(final.versions[1]).slice(0, 1), ['poc_cancel'], 'Cancel while it ran');
      assert.match(textOf(final), /:white_check_mark: \*build\* · \d+ ms · exit 0/);
      assert.match(textOf(final), /:white_check_mark: \*test\*/);
      assert.deepEqual(actionIds(final), ['poc_open_run'], 'only the Web UI link is left');
      assert.match(buttonsOf(final)[0].url ?? '', new RegExp(`/namespaces/default/workflows/${id}$`));

      // What was typed reached the run unescaped, and is shown escaped.
      const status = await getPipelineStatus(client, id);
      assert.equal(status.goal, 'nightly <check> & more words');
      assert.equal(status.requestedBy, ALICE);
      assert.equal(status.slackMessage?.ts, final.ts);
      assert.match(textOf(final), /\*Goal:\* nightly &lt;check&gt; &amp; more words/);
    },
    LIMIT,
  );

  test(
    'the Cancel button stops the run; the message ends CANCELLED without buttons',
    async () => {
      const command = fake.sendMessage({ user: BOB, text: '!poc run --steps build,hold,test' });
      const id = pipelineIdOf(command.ts);
      await steps.started(id, 'hold');
      const running = await statusReaches(command.ts, /\*hold\* · running/);
      const cancelled = new Promise<void>((resolve) =>
        steps.events.on('cancelled', (e) => e.workflowId === id && resolve()),
      );
      await fake.clickButton(running, 'poc_cancel', { user: BOB }).acked;
      await cancelled;

      const final = await statusReaches(command.ts, /— \*CANCELLED\*/);
      assert.deepEqual(actionIds(final), ['poc_open_run']);
      assert.match(textOf(final), /:no_entry_sign: \*hold\* · cancelled/);
      await replyIn(command.ts, /<@U0BOB> cancelled `pipeline-/);
      const status = await getPipelineStatus(client, id);
      assert.deepEqual(
        status.steps.map((s) => s.status),
        ['done', 'cancelled', 'skipped'],
      );
    },
    LIMIT,
  );

  test(
    '--ask: a failure posts its log tail; Retry re-runs the step and the message says who decided; ' +
      'stale clicks are refused',
    async () => {
      const command = fake.sendMessage({ user: ALICE, text: '!poc run --steps flaky,broken --ask' });
      const id = pipelineIdOf(command.ts);
      const asking = await statusReaches(command.ts, /\*flaky\* failed\. Retry it/);
      const firstQuestion = asking.versions.length - 1;
      assert.deepEqual(actionIds(asking), ['poc_retry', 'poc_skip', 'poc_abort', 'poc_open_run']);
      const retryValue = JSON.parse(buttonsOf(asking)[0].value ?? '{}');
      assert.equal(retryValue.w, id);
      assert.equal(retryValue.d, (await getPipelineStatus(client, id)).pendingDecision?.id);

      const tail = await replyIn(command.ts, /\*flaky\* failed with exit code 2/);
      assert.match(textOf(tail), /```\nboom 2\n```/);
      assert.match(textOf(tail), /Log: `[^`]*\/logs\/flaky\.log`/);

      await fake.clickButton(asking, 'poc_retry', { user: BOB }).acked;
      const second = await statusReaches(command.ts, /\*broken\* failed\. Retry it/);
      assert.match(textOf(second), /\*flaky\*: retried by <@U0BOB>/);
      assert.equal(steps.executions.filter((e) => e.workflowId === id && e.step === 'flaky').length, 2);

      // The Retry button of the first question, clicked on a screen that was not refreshed.
      await fake.clickOldButton(asking, firstQuestion, 'poc_retry', { user: BOB }).acked;
      const stale = await fake.waitFor('the stale click answered', () =>
        fake.ephemerals.find((e) => e.user === BOB && /earlier question/.test(e.text)),
      );
      assert.equal(stale.threadTs, command.ts);
      assert.equal((await getPipelineStatus(client, id)).phase, 'AWAITING_DECISION', 'the stale click changed nothing');
      assert.equal(steps.executions.filter((e) => e.workflowId === id && e.step === 'broken').length, 1);

      const lastQuestion = second.versions.length - 1;
      await fake.clickButton(second, 'poc_abort', { user: ALICE }).acked;
      const final = await statusReaches(command.ts, /— \*FAILED\*/);
      assert.match(textOf(final), /\*broken\*: aborted by <@U0ALICE>/);
      assert.deepEqual(actionIds(final), ['poc_open_run']);

      await fake.clickOldButton(final, lastQuestion, 'poc_retry', { user: BOB }).acked;
      await fake.waitFor('the click on an ended run answered', () =>
        fake.ephemerals.find((e) => e.user === BOB && /has already ended/.test(e.text)),
      );
    },
    LIMIT,
  );

  test(
    'the same event delivered twice (retry_attempt) starts one workflow and one status message',
    async () => {
      const command = fake.sendMessage({ user: ALICE, text: '!poc run twice --steps build' });
      const again = fake.redeliver(command);
      assert.equal(again.record.retryAttempt, 1);
      // And the mention Slack sends for the same message, had it mentioned the bot.
      const mention = fake.sendMention({ user: ALICE, text: 'run twice --steps build', ts: command.ts });
      await Promise.all([command.acked, again.acked, mention.acked]);
      const id = pipelineIdOf(command.ts);
      await statusReaches(command.ts, /— \*DONE\*/);
      const runs = await eventually('the run closed in visibility', async () => {
        const found = await listRuns(client, { query: `PocSlackThread = "${CH}/${command.ts}"` });
        return found.length > 0 && found.every((r) => isFinal(r.phase)) ? found : undefined;
      });
      assert.deepEqual(
        runs.map((r) => r.workflowId),
        [id],
      );
      assert.equal(fake.botMessages(CH, command.ts).length, 1);
      assert.equal(steps.executions.filter((e) => e.workflowId === id).length, 1);

      // A redelivery after the run ended starts nothing either.
      await fake.redeliver(again).acked;
      const later = fake.sendMessage({ user: ALICE, text: `!poc status ${id}`, threadTs: command.ts });
      await fake.waitFor('the status reply', () => fake.botMessages(CH, command.ts).find((m) => m.ts > later.ts));
      assert.equal((await client.workflow.getHandle(id).describe()).status.name, 'COMPLETED');
    },
    LIMIT,
  );

  test(
    'a user not on the allow-list is refused politely and nothing happens',
    async () => {
      const denied = fake.sendMessage({ user: MALLORY, text: '!poc run --steps build' });
      await replyIn(denied.ts, /Sorry <@U0MALLORY>, you may not use poc-orchestrator here/);
      await assert.rejects(() => resolveRunId(client, pipelineIdOf(denied.ts)), RunNotFoundError);

      const command = fake.sendMessage({ user: BOB, text: '!poc run --steps hold' });
      const id = pipelineIdOf(command.ts);
      await steps.started(id, 'hold');
      const running = await statusReaches(command.ts, /\*hold\* · running/);
      await fake.clickButton(running, 'poc_cancel', { user: MALLORY }).acked;
      await fake.waitFor('the refusal of the click', () =>
        fake.ephemerals.find((e) => e.user === MALLORY && /may not use poc-orchestrator/.test(e.text)),
      );
      const typed = fake.sendMessage({ user: MALLORY, text: `!poc cancel ${id}`, threadTs: command.ts });
      await fake.waitFor('the refusal of the command', () =>
        fake.botMessages(CH, command.ts).find((m) => m.ts > typed.ts && /Sorry <@U0MALLORY>/.test(textOf(m))),
      );
      // Reading obeys the same rule: Mallory learns nothing.
      const read = fake.sendMessage({ user: MALLORY, text: `!poc status ${id}`, threadTs: command.ts });
      const readRefused = await fake.waitFor('the refusal of the read', () =>
        fake.botMessages(CH, command.ts).find((m) => m.ts > read.ts && /Sorry <@U0MALLORY>/.test(textOf(m))),
      );
      assert.doesNotMatch(textOf(readRefused), /RUNNING|hold/);

      assert.equal((await getPipelineStatus(client, id)).phase, 'RUNNING');
      assert.equal(steps.executions.filter((e) => e.workflowId === id).length, 1);
      await cancelRun(client, id);
      await statusReaches(command.ts, /— \*CANCELLED\*/);
    },
    LIMIT,
  );

  test(
    'one access rule for reads too: outsiders, other channels, direct messages and other teams learn nothing',
    async () => {
      await bot?.stop();
      bot = await startBot({ POC_ALLOWED_CHANNELS: `${CH},C0SECOND` });
      try {
        const started = fake.sendMessage({ user: ALICE, text: '!poc run visible --steps lint' });
        const visibleId = pipelineIdOf(started.ts);
        await statusReaches(started.ts, /— \*DONE\*/);
        // A run reporting to a channel the bot does not serve (started with another configuration).
        const hidden = await startPipeline(
          client,
          { goal: 'hidden', steps: ['lint'], slack: { channel: 'C0HIDDEN' } },
          { taskQueue: worker.taskQueue },
        );
        await client.workflow.getHandle(hidden.workflowId).result();

        const ask = (text: string, opts: { user?: string; channel?: string; team?: string; im?: boolean } = {}) => {
          const channel = opts.channel ?? CH;
          const sent = fake.sendMessage({
            user: opts.user ?? ALICE,
            channel,
            text,
            team: opts.team,
            channelType: opts.im ? 'im' : 'channel',
          });
          return fake.waitFor(`the answer to ${text} in ${channel}`, () => fake.botMessages(channel, sent.ts)[0]);
        };
        const refusalOf = (user: string) =>
          new RegExp(`^:lock: Sorry <@${user}>, you may not use poc-orchestrator here`);
        // Whatever an outsider asks, about an existing run or not, the answer is the same refusal.
        const outsider = [
          `!poc status ${visibleId}`,
          '!poc status pipeline-nosuchrun',
          '!poc list',
          `!poc logs ${visibleId}`,
          '!poc schedule list',
          '!poc help',
          '!poc frobnicate',
        ];
        const answers = await Promise.all(outsider.map((text) => ask(text, { user: MALLORY })));
        for (const answer of answers) assert.match(textOf(answer), refusalOf(MALLORY));
        assert.equal(new Set(answers.map((a) => textOf(a))).size, 1);
        // An allowed person, from a channel or a direct message the bot does not serve, or from another team.
        assert.match(textOf(await ask(`!poc status ${visibleId}`, { channel: 'C0THIRD' })), refusalOf(ALICE));
        assert.match(textOf(await ask(`!poc status ${visibleId}`, { channel: 'D0ALICE', im: true })), refusalOf(ALICE));
        assert.match(textOf(await ask(`!poc status ${visibleId}`, { team: 'T0OTHER' })), refusalOf(ALICE));
        const slash = fake.sendSlashCommand({ user: ALICE, text: `status ${visibleId}`, team: 'T0OTHER' });
        const slashAnswer = await fake.waitFor('the slash answer', () =>
          fake.responses.find((r) => r.for === slash.triggerId),
        );
        assert.match(String(slashAnswer.body.text), refusalOf(ALICE));

        // From the other served channel, a run of this one is readable; the hidden run does not exist.
        assert.match(textOf(await ask(`!poc status ${visibleId}`, { channel: 'C0SECOND' })), /— \*DONE\*/);
        const hiddenAnswer = textOf(await ask(`!poc status ${hidden.workflowId}`, { channel: 'C0SECOND' }));
        const missing = textOf(await ask('!poc status pipeline-zzzzzzzz', { channel: 'C0SECOND' }));
        assert.equal(hiddenAnswer.split(hidden.workflowId).join('ID'), missing.split('pipeline-zzzzzzzz').join('ID'));
        assert.match(textOf(await ask(`!poc logs ${hidden.workflowId}`)), /No run/);
        assert.match(textOf(await ask(`!poc cancel ${hidden.workflowId}`)), /No run/);
        const list = textOf(await ask('!poc list --limit 50'));
        assert.ok(list.includes(visibleId) && !list.includes(hidden.workflowId), list);

        // A button clicked from another team does nothing.
        const held = fake.sendMessage({ user: ALICE, text: '!poc run --steps review' });
        const heldId = pipelineIdOf(held.ts);
        await steps.started(heldId, 'review');
        const running = await statusReaches(held.ts, /\*review\* · running/);
        await fake.clickButton(running, 'poc_cancel', { user: ALICE, team: 'T0OTHER' }).acked;
        await fake.waitFor('the refused click', () =>
          fake.ephemerals.find((e) => e.user === ALICE && /may not use poc-orchestrator/.test(e.text)),
        );
        assert.equal((await getPipelineStatus(client, heldId)).phase, 'RUNNING');
        steps.release(heldId, 'review');
        await statusReaches(held.ts, /— \*DONE\*/);
      } finally {
        await bot?.stop();
        bot = await startBot();
      }
    },
    LIMIT,
  );

  test(
    'malformed commands get a reply saying what was wrong and the right form; junk events are ignored',
    async () => {
      const cases: [string, RegExp][] = [
        ['!poc frobnicate', /unknown command "frobnicate"; `!poc help` lists the commands/],
        ['!poc run --steps', /--steps needs a value\nUsage: `!poc run \[goal\] \[--steps a,b\]/],
        ['!poc run --stepz lint', /unknown option --stepz/],
        ['!poc run --steps "Lint;rm -rf /"', /"Lint;rm -rf \/" is not a step name/],
        ['!poc llm --backend nope --model m hi', /--backend must be one of ollama, openai, anthropic/],
        ['!poc llm --backend ollama hi', /--model is required/],
        ['!poc run "unclosed', /unclosed double quote/],
        ['!poc status nosuchrun', /No run "nosuchrun"; `!poc list` shows the recent ones/],
        ['!poc logs', /a run id is needed\nUsage: `!poc logs &lt;id&gt; \[step\]/],
        ['!poc retry', /a run id is needed/],
        ['!poc up', /unknown command "up"/],
        ['!poc run --follow', /unknown option --follow/],
        ['!poc', /!poc run +start a pipeline/],
        ['!POC HELP logs', /!poc logs &lt;id&gt; \[step\] \[--lines N\]/],
      ];
      // Events that are not commands: an edit, a message without text, a bot's message, chatter.
      fake.sendEvent({
        type: 'message',
        subtype: 'message_changed',
        channel: CH,
        ts: fake.nextTs(),
        message: { text: '!poc run' },
      });
      fake.sendEvent({ type: 'message', channel: CH, user: ALICE, ts: fake.nextTs() });
      fake.sendEvent({
        type: 'message',
        channel: CH,
        bot_id: 'B0OTHER',
        user: 'U0OTHERBOT',
        text: '!poc run',
        ts: fake.nextTs(),
      });
      const chatter = fake.sendMessage({ user: ALICE, text: 'poc run is great' });
      const sent = cases.map(([text, expected]) => ({ message: fake.sendMessage({ user: ALICE, text }), expected }));
      for (const { message, expected } of sent) {
        const reply = await replyIn(message.ts, expected);
        assert.equal(reply.threadTs, message.ts);
      }
      // A slash command answers through its response_url, with the slash form of the usage.
      const slash = fake.sendSlashCommand({ user: ALICE, text: 'run --steps' });
      const response = await fake.waitFor('the slash response', () =>
        fake.responses.find((r) => r.for === slash.triggerId),
      );
      assert.match(String(response.body.text), /--steps needs a value/);
      assert.match(JSON.stringify(response.body.blocks), /Usage: `\/poc run/);
      assert.equal(response.body.response_type, 'ephemeral');
      assert.equal(fake.botMessages(CH, chatter.ts).length, 0, 'chatter is not answered');
      assert.equal(fake.botMessages(CH, null).length, 0);
    },
    LIMIT,
  );

  test(
    'the bot stopped and restarted mid-run loses nothing: the run finishes and its message reaches its final state',
    async () => {
      const command = fake.sendMessage({ user: ALICE, text: '!poc run across a restart --steps gate,test' });
      const id = pipelineIdOf(command.ts);
      const open = await gateWaiting(id);
      await statusReaches(command.ts, /\*gate\* · running/);

      await bot?.stop();
      bot = undefined;
      assert.equal(fake.openConnections, 0);
      open();
      const final = await statusReaches(command.ts, /— \*DONE\*/);
      assert.equal(fake.botMessages(CH, command.ts).filter(isStatusMessage).length, 1);
      assert.deepEqual(actionIds(final), ['poc_open_run']);

      // Said while the bot was away: Slack holds it and delivers it to the restarted bot.
      const asked = fake.sendMessage({ user: BOB, text: `!poc status ${id}`, threadTs: command.ts });
      const connections = fake.connectionsOpened;
      bot = await startBot();
      assert.equal(fake.connectionsOpened, connections + 1);
      await asked.acked;
      const reply = await fake.waitFor('the answer of the restarted bot', () =>
        fake.botMessages(CH, command.ts).find((m) => m.ts > asked.ts),
      );
      assert.match(textOf(reply), /— \*DONE\*/);
      assert.deepEqual(actionIds(reply), ['poc_open_run'], 'a status reply carries no buttons of its own');
    },
    LIMIT,
  );

  test(
    'approval gates: a "yes" reply in the thread approves, "no" denies, others are refused; ' +
      'Approve all works as a button',
    async () => {
      const command = fake.sendMessage({ user: ALICE, text: '!poc run --steps lint,test --approve test' });
      const id = pipelineIdOf(command.ts);
      const asking = await statusReaches(command.ts, /\*test\* waits for approval/);
      assert.deepEqual(actionIds(asking), ['poc_approve', 'poc_approve_all', 'poc_deny', 'poc_open_run']);

      const refused = fake.sendMessage({ user: MALLORY, text: 'yes', threadTs: command.ts });
      await fake.waitFor('the refusal', () =>
        fake.botMessages(CH, command.ts).find((m) => m.ts > refused.ts && /Sorry <@U0MALLORY>/.test(textOf(m))),
      );
      assert.equal((await getPipelineStatus(client, id)).phase, 'AWAITING_DECISION');

      // Only an approval word as the whole message answers; "yes!" or "ok then" is conversation.
      fake.sendMessage({ user: ALICE, text: 'yes!', threadTs: command.ts });
      fake.sendMessage({ user: ALICE, text: 'ok then', threadTs: command.ts });
      fake.sendMessage({ user: BOB, text: 'Yes', threadTs: command.ts });
      const final = await statusReaches(command.ts, /— \*DONE\*/);
      assert.match(textOf(final), /\*test\*: approved by <@U0BOB>/);
      await replyIn(command.ts, /<@U0BOB> approved \*test\* of `pipeline-\w+` \(the approval gate before it\)/);
      assert.deepEqual(
        (await getPipelineStatus(client, id)).decisions.map((d) => `${d.step}:${d.action}:${d.by}`),
        ['test:approve:U0BOB'],
      );
      assert.deepEqual(actionIds(final), ['poc_open_run']);

      const denied = fake.sendMessage({ user: ALICE, text: '!poc run --steps lint --approve all' });
      await statusReaches(denied.ts, /\*lint\* waits for approval/);
      fake.sendMessage({ user: ALICE, text: 'NO', threadTs: denied.ts });
      const cancelled = await statusReaches(denied.ts, /— \*CANCELLED\*/);
      assert.match(textOf(cancelled), /\*lint\*: denied by <@U0ALICE>/);
      assert.ok(!steps.executions.some((e) => e.workflowId === pipelineIdOf(denied.ts)), 'the denied step never ran');

      const all = fake.sendMessage({ user: ALICE, text: '!poc run --steps lint,test --approve all' });
      const gate = await statusReaches(all.ts, /\*lint\* waits for approval/);
      await fake.clickButton(gate, 'poc_approve_all', { user: ALICE }).acked;
      const done = await statusReaches(all.ts, /— \*DONE\*/);
      assert.match(textOf(done), /\*lint\*: approved \(with every later gate\) by <@U0ALICE>/);
    },
    LIMIT,
  );

  test(
    'a decision delivered again (a thread reply, a typed command) gets its first answer back, never the next gate',
    async () => {
      const command = fake.sendMessage({ user: ALICE, text: '!poc run --steps lint,test,doctor --approve all' });
      const id = pipelineIdOf(command.ts);
      const pending = async () => (await getPipelineStatus(client, id)).pendingDecision?.step;
      const repliesLike = (pattern: RegExp) =>
        fake.botMessages(CH, command.ts).filter((m) => pattern.test(textOf(m))).length;

      await statusReaches(command.ts, /\*lint\* waits for approval/);
      const reply = fake.sendMessage({ user: BOB, text: 'yes', threadTs: command.ts });
      await statusReaches(command.ts, /\*test\* waits for approval/);
      const lintAnswered = /<@U0BOB> approved \*lint\* of/;
      await fake.waitFor('the answer to the reply', () => repliesLike(lintAnswered) === 1 || undefined);
      fake.redeliver(reply);
      await fake.waitFor('the answer to the redelivered reply', () => repliesLike(lintAnswered) === 2 || undefined);
      assert.equal(await pending(), 'test', 'the redelivered "yes" did not answer the next gate');

      const typed = fake.sendMessage({ user: ALICE, text: `!poc approve ${id}`, threadTs: command.ts });
      await statusReaches(command.ts, /\*doctor\* waits for approval/);
      const testAnswered = /<@U0ALICE> chose approval of \*test\* of `pipeline-\w+` \(the approval gate before it\)/;
      await fake.waitFor('the answer to the command', () => repliesLike(testAnswered) === 1 || undefined);
      fake.redeliver(typed);
      await fake.waitFor('the answer to the redelivered command', () => repliesLike(testAnswered) === 2 || undefined);
      assert.equal(await pending(), 'doctor', 'the redelivered command did not answer the next gate');

      const gate = await statusReaches(command.ts, /\*doctor\* waits for approval/);
      await fake.clickButton(gate, 'poc_approve', { user: ALICE }).acked;
      await statusReaches(command.ts, /— \*DONE\*/);
      assert.deepEqual(
        (await getPipelineStatus(client, id)).decisions.map((d) => `${d.step}:${d.by}`),
        ['lint:U0BOB', 'test:U0ALICE', 'doctor:U0ALICE'],
      );
    },
    LIMIT,
  );

  test(
    "the original's short approval words: 'go' approves, 'reject' denies",
    async () => {
      const approved = fake.sendMessage({ user: ALICE, text: '!poc run --steps lint --approve lint' });
      await statusReaches(approved.ts, /\*lint\* waits for approval/);
      fake.sendMessage({ user: BOB, text: 'go', threadTs: approved.ts });
      assert.match(textOf(await statusReaches(approved.ts, /— \*DONE\*/)), /\*lint\*: approved by <@U0BOB>/);

      const rejected = fake.sendMessage({ user: ALICE, text: '!poc run --steps lint --approve lint' });
      await statusReaches(rejected.ts, /\*lint\* waits for approval/);
      fake.sendMessage({ user: ALICE, text: 'Reject', threadTs: rejected.ts });
      assert.match(textOf(await statusReaches(rejected.ts, /— \*CANCELLED\*/)), /\*lint\*: denied by <@U0ALICE>/);
    },
    LIMIT,
  );

  test(
    "the status message shows the running step's newest line (redacted); the Web UI details link the thread",
    async () => {
      const command = fake.sendMessage({ user: ALICE, text: '!poc run live output --steps review' });
      const id = pipelineIdOf(command.ts);
      try {
        await statusReaches(command.ts, /\*review\* · running/);
        // What the step itself sends for a run that reports to Slack (activities/steps.ts, coalesced).
        await client.workflow
          .getHandle(id)
          .signal(stepOutputSignal, { step: 'review', attempt: 1, line: `fetching with ${fake.botToken}` });
        const live = await statusReaches(command.ts, /\*review\* · running.*\n\s+↳ `fetching with \[redacted/);
        assert.ok(!textOf(live).includes(fake.botToken), 'the token was shown');
      } finally {
        // Never left holding the workspace, whatever failed: the tests after this one use it too.
        steps.release(id, 'review');
      }
      await statusReaches(command.ts, /— \*DONE\*/);

      const details = (await (await client.workflow.getHandle(id).describe()).staticDetails()) ?? '';
      const thread = `${CH}/${command.ts}`;
      assert.ok(
        details.includes(
          `[Slack thread ${thread}](https://app.slack.com/client/${fake.teamId}/${CH}/thread/${CH}-${command.ts})`,
        ),
        details,
      );
    },
    LIMIT,
  );

  test(
    '`!poc llm` runs the prompt and shows backend, model, the answer (escaped) and token usage',
    async () => {
      const command = fake.sendMessage({
        user: ALICE,
        text: '!poc llm --backend ollama --model llama3.1 is 1 < 2 & why?',
      });
      const final = await statusReaches(command.ts, /— \*DONE\*/);
      assert.equal(prompts.at(-1)?.prompt, 'is 1 < 2 & why?');
      assert.equal(prompts.at(-1)?.backend, 'ollama');
      assert.equal(prompts.at(-1)?.model, 'llama3.1');
      const text = textOf(final);
      assert.match(text, /\*LLM `llm-s[0-9a-z]+`\*/);
      assert.match(text, /\*Backend:\* ollama · \*model:\* `llama3\.1`/);
      assert.match(text, />is 1 &lt; 2 &amp; why\?/);
      assert.match(text, /The answer is &lt;42&gt; &amp; that is \*that\*/);
      assert.match(text, /tokens in 7 · out 5/);
      assert.deepEqual(actionIds(final), ['poc_open_run']);
    },
    LIMIT,
  );

  test(
    '`/poc run` posts the status message itself, the run updates it in place, a repeated delivery starts nothing',
    async () => {
      const slash = fake.sendSlashCommand({ user: ALICE, text: 'run from slash --steps build' });
      await slash.acked;
      const parent = await fake.waitFor('the parent message', () =>
        fake.botMessages(CH, null).find((m) => /started a pipeline: from slash/.test(m.versions[0].text)),
      );
      const final = await fake.waitFor('the parent message to reach DONE', () =>
        /— \*DONE\*/.test(textOf(parent)) ? parent : undefined,
      );
      assert.equal(final.threadTs, null);
      assert.ok(final.versions.length >= 2);
      assert.equal(
        fake.botMessages(CH, parent.ts).filter(isStatusMessage).length,
        0,
        'no second status message in its thread',
      );

      await fake.redeliver(slash).acked;
      const again = await fake.waitFor('the answer to the repeat', () =>
        fake.responses.find((r) => r.for === slash.triggerId && /already started/.test(String(r.body.text))),
      );
      assert.match(String(again.body.text), /pipeline-s[0-9a-z]+/);
      assert.equal(fake.botMessages(CH, null).filter((m) => /from slash/.test(m.versions[0].text)).length, 1);
    },
    LIMIT,
  );

  test(
    '`status` and `cancel` without an id mean the newest run of the channel (or of the thread)',
    async () => {
      const channel = 'C0QUIET';
      const command = fake.sendMessage({ channel, user: ALICE, text: '!poc run quiet one --steps hold' });
      const id = pipelineIdOf(command.ts, channel);
      await steps.started(id, 'hold');
      await eventually('the run in visibility', async () =>
        (await listRuns(client, { query: `PocSlackThread = "${channel}/${command.ts}"` })).length ? true : undefined,
      );
      const asked = fake.sendMessage({ channel, user: BOB, text: '!poc status' });
      const status = await replyIn(asked.ts, /— \*RUNNING\*/, channel);
      assert.match(textOf(status), new RegExp(`Pipeline \`${id}\``));
      const cancel = fake.sendMessage({ channel, user: BOB, text: '!poc cancel' });
      await replyIn(cancel.ts, new RegExp(`<@U0BOB> asked to cancel \`${id}\``), channel);
      await statusReaches(command.ts, /— \*CANCELLED\*/, channel);
      await eventually('the run closed in visibility', async () =>
        (
          await listRuns(client, {
            query: `PocSlackThread = "${channel}/${command.ts}" AND ExecutionStatus = "Running"`,
          })
        ).length === 0
          ? true
          : undefined,
      );
      const nothing = fake.sendMessage({ channel, user: BOB, text: '!poc cancel' });
      await replyIn(nothing.ts, /Nothing to cancel/, channel);
      const empty = fake.sendMessage({ channel: 'C0EMPTY', user: BOB, text: '!poc status' });
      await replyIn(empty.ts, /No runs started from this channel yet/, 'C0EMPTY');
    },
    LIMIT,
  );

  test(
    'text commands: retry by id, logs (from the log file), list, schedule',
    async () => {
      const command = fake.sendMessage({ user: ALICE, text: '!poc run typed --steps flaky,test --ask' });
      const id = pipelineIdOf(command.ts);
      await statusReaches(command.ts, /\*flaky\* failed\. Retry it/);
      const logs = fake.sendMessage({ user: BOB, text: `!poc logs ${id}`, threadTs: command.ts });
      const log = await fake.waitFor('the log reply', () =>
        fake.botMessages(CH, command.ts).find((m) => m.ts > logs.ts && /end of the log/.test(textOf(m))),
      );
      assert.match(textOf(log), /:page_facing_up: \*flaky\* of `pipeline-s[0-9a-z]+` — end of the log/);
      assert.match(textOf(log), /```\nflaky attempt 1\n```/);

      const retry = fake.sendMessage({ user: BOB, text: `!poc retry ${id}`, threadTs: command.ts });
      await fake.waitFor('the retry reply', () =>
        fake
          .botMessages(CH, command.ts)
          .find((m) => m.ts > retry.ts && /<@U0BOB> chose a retry of \*flaky\*/.test(textOf(m))),
      );
      const final = await statusReaches(command.ts, /— \*DONE\*/);
      assert.match(textOf(final), /\*flaky\*: retried by <@U0BOB>/);
      const again = fake.sendMessage({ user: BOB, text: `!poc skip ${id}`, threadTs: command.ts });
      await fake.waitFor('the late decision refused', () =>
        fake.botMessages(CH, command.ts).find((m) => m.ts > again.ts && /has already ended/.test(textOf(m))),
      );

      const list = fake.sendMessage({ user: BOB, text: '!poc list --limit 50' });
      const listed = await replyIn(list.ts, /newest first/);
      assert.match(textOf(listed), new RegExp(`:white_check_mark: \`${id}\` DONE — typed · <@U0ALICE>`));

      const schedules = fake.sendMessage({ user: BOB, text: '!poc schedule list' });
      await replyIn(schedules.ts, /:calendar: schedule list/);
      const outsiderList = fake.sendMessage({ user: MALLORY, text: '!poc schedule list' });
      await replyIn(outsiderList.ts, /Sorry <@U0MALLORY>/);
      const create = fake.sendMessage({ user: MALLORY, text: '!poc schedule create nightly --cron "0 3 * * *"' });
      await replyIn(create.ts, /Sorry <@U0MALLORY>/);
    },
    LIMIT,
  );

  test(
    'a mention is a command too, answered in its thread',
    async () => {
      const mention = fake.sendMention({ user: BOB, text: 'help status' });
      const reply = await replyIn(mention.ts, /!poc status \[id\]/);
      assert.equal(reply.threadTs, mention.ts);
    },
    LIMIT,
  );

  test(
    'Slack rate limits (429 with Retry-After) are waited out and the message still reaches its final state',
    async () => {
      fake.failNext('chat.update', { status: 429, retryAfter: 1 });
      const command = fake.sendMessage({ user: ALICE, text: '!poc run --steps build,lint' });
      const final = await statusReaches(command.ts, /— \*DONE\*/);
      const updates = fake.calls.filter((c) => c.method === 'chat.update' && c.params.ts === final.ts);
      const limited = updates.findIndex((c) => c.outcome === 'http 429');
      assert.ok(limited >= 0, 'an update was rate limited');
      assert.ok(updates[limited + 1].at - updates[limited].at >= 950, 'the next try waited for Retry-After');
      assert.equal(fake.botMessages(CH, command.ts).length, 1);
    },
    LIMIT,
  );

  test(
    'a channel Slack refuses (not_in_channel) stops the reporting, not the run',
    async () => {
      fake.setChannelError('C0SECRET', 'not_in_channel');
      const command = fake.sendMessage({ channel: 'C0SECRET', user: ALICE, text: '!poc run --steps build' });
      const id = pipelineIdOf(command.ts, 'C0SECRET');
      await eventually('the run to start', () => resolveRunId(client, id));
      const result: PipelineStatus = await client.workflow.getHandle(id).result();
      assert.equal(result.phase, 'DONE');
      const posts = fake.calls.filter((c) => c.method === 'chat.postMessage' && c.params.channel === 'C0SECRET');
      assert.equal(posts.length, 1, 'a refusal is not retried');
      assert.equal(posts[0].outcome, 'not_in_channel');
    },
    LIMIT,
  );

  test(
    'with Temporal unreachable the bot answers with the error and keeps running',
    async () => {
      const dead = new TemporalClient({
        connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}`, connectTimeout: '1 second' }),
      });
      const lonely = await startSlackBot({
        config: withEnv(worker.config, botEnv()),
        client: dead,
        log: (line) => botLog.push(line),
        temporalTimeoutMs: 2_000,
      });
      try {
        // The newest connection gets the envelopes, as Slack spreads them over an app's connections.
        const asked = fake.sendMessage({ user: ALICE, text: '!poc status' });
        await replyIn(asked.ts, /Temporal is not reachable right now/);
        const run = fake.sendMessage({ user: ALICE, text: '!poc run --steps build' });
        await replyIn(run.ts, /Temporal is not reachable right now|:boom:/);
        const help = fake.sendMessage({ user: ALICE, text: '!poc help' });
        await replyIn(help.ts, /!poc run +start a pipeline/);
      } finally {
        await lonely.stop();
        await dead.connection.close().catch(() => undefined);
      }
    },
    LIMIT,
  );

  test(
    'every envelope was acked within 3 s',
    async () => {
      await fake.waitFor('every envelope acked', () => fake.unacked().length === 0);
      const times = fake.ackTimes().sort((a, b) => a - b);
      assert.ok(times.length > 50, `${times.length} envelopes`);
      const p99 = times[Math.min(times.length - 1, Math.floor(times.length * 0.99))];
      assert.ok(
        times[times.length - 1] < 3_000,
        `slowest ack ${times[times.length - 1].toFixed(1)} ms (p99 ${p99.toFixed(1)} ms)`,
      );
    },
    LIMIT,
  );
});

describe('Slack bot (HTTP mode)', () => {
  let httpBot: SlackBot;
  let url: string;
  beforeAll(async () => {
    httpBot = await startSlackBot({
      config: withEnv(worker.config, {
        SLACK_BOT_TOKEN: fake.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        POC_SLACK_PORT: '0',
        SLACK_API_URL: fake.apiUrl,
      }),
      client,
      log: (line) => botLog.push(line),
    });
    assert.equal(httpBot.mode, 'http');
    url = `http://127.0.0.1:${httpBot.port}/slack/events`;
  });
  afterAll(async () => {
    await httpBot?.stop();
  });

  function eventBody(text: string, ts: string): string {
    return JSON.stringify({
      token: 'fake-verification-token',
      team_id: fake.teamId,
      api_app_id: 'A0POC',
      type: 'event_callback',
      event_id: `Ev${ts.replace('.', '')}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [
        {
          enterprise_id: null,
          team_id: fake.teamId,
          user_id: fake.botUserId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      event: { type: 'message', channel: CH, user: ALICE, text, ts, event_ts: ts, channel_type: 'channel' },
    });
  }

  test(
    'a forged or stale signature is rejected and starts nothing; a correct one is accepted',
    async () => {
      const ts = fake.nextTs();
      const body = eventBody('!poc run via http --steps build', ts);
      const forged = await postSignedToBolt(url, {
        body,
        contentType: 'application/json',
        secret: 'not-the-signing-secret',
      });
      assert.equal(forged.status, 401);
      const stale = await postSignedToBolt(url, {
        body,
        contentType: 'application/json',
        secret: SIGNING_SECRET,
        timestamp: Math.floor(Date.now() / 1000) - 600,
      });
      assert.equal(stale.status, 401);
      await assert.rejects(() => resolveRunId(client, pipelineIdOf(ts)), RunNotFoundError);

      const accepted = await postSignedToBolt(url, { body, contentType: 'application/json', secret: SIGNING_SECRET });
      assert.equal(accepted.status, 200);
      const retried = await postSignedToBolt(url, {
        body,
        contentType: 'application/json',
        secret: SIGNING_SECRET,
        retryNum: 1,
      });
      assert.equal(retried.status, 200);
      await statusReaches(ts, /— \*DONE\*/);
      assert.equal(fake.botMessages(CH, ts).length, 1);
    },
    LIMIT,
  );

  test(
    'slash commands and the URL check work over HTTP',
    async () => {
      const challenge = await postSignedToBolt(url, {
        body: JSON.stringify({ token: 'x', challenge: 'c0ffee', type: 'url_verification' }),
        contentType: 'application/json',
        secret: SIGNING_SECRET,
      });
      assert.equal(challenge.status, 200);
      assert.match(challenge.text, /c0ffee/);

      const form = new URLSearchParams({
        token: 'fake-verification-token',
        team_id: fake.teamId,
        channel_id: CH,
        user_id: BOB,
        command: '/poc',
        text: 'help',
        response_url: `http://127.0.0.1:${fake.port}/respond/http-trigger`,
        trigger_id: 'http-trigger',
      }).toString();
      const response = await postSignedToBolt(url, {
        body: form,
        contentType: 'application/x-www-form-urlencoded',
        secret: SIGNING_SECRET,
      });
      assert.equal(response.status, 200);
      const answer = await fake.waitFor('the help answer', () => fake.responses.find((r) => r.for === 'http-trigger'));
      assert.match(JSON.stringify(answer.body.blocks), /\/poc run +start a pipeline/);
    },
    LIMIT,
  );
});

describe('Slack bot start-up and the reportToSlack activity', () => {
  test(
    'missing or wrong settings fail the start with a list of what is missing',
    async () => {
      await assert.rejects(
        () => startSlackBot({ config: withEnv(worker.config, {}), client, log: () => undefined }),
        (err: unknown) => {
          assert.ok(err instanceof SlackBotConfigError);
          assert.equal(err.problems.length, 2);
          assert.match(err.message, /SLACK_BOT_TOKEN is not set/);
          assert.match(err.message, /neither SLACK_APP_TOKEN .* nor SLACK_SIGNING_SECRET/);
          return true;
        },
      );
      await assert.rejects(
        () =>
          startSlackBot({
            config: withEnv(worker.config, { ...botEnv(), SLACK_APP_TOKEN: 'xoxb-swapped' }),
            client,
            log: () => undefined,
          }),
        /SLACK_APP_TOKEN must be an app-level token/,
      );
      await assert.rejects(
        () =>
          startSlackBot({
            config: withEnv(worker.config, { ...botEnv(), SLACK_BOT_TOKEN: 'xoxb-revoked' }),
            client,
            log: () => undefined,
          }),
        /Slack did not accept SLACK_BOT_TOKEN \(auth\.test: .*invalid_auth/,
      );
      await assert.rejects(
        () =>
          startSlackBot({
            config: withEnv(worker.config, { ...botEnv(), SLACK_APP_TOKEN: 'xapp-revoked' }),
            client,
            log: () => undefined,
          }),
        /Socket Mode did not connect .*invalid_auth/,
      );
    },
    LIMIT,
  );

  test(
    'reportToSlack edits its message in place, and posts a new one when someone deleted it',
    async () => {
      const { reportToSlack } = createSlackActivities({
        config: withEnv(worker.config, { SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl }),
      });
      const threadTs = fake.sendMessage({ channel: 'C0REPOST', text: 'a thread' }).ts;
      const status = (goal: string): PipelineStatus => ({
        id: 'pipeline-repost1',
        kind: 'pipeline',
        phase: 'RUNNING',
        goal,
        requestedBy: ALICE,
        queuePosition: null,
        steps: [],
        error: null,
        workspace: null,
        onFailure: 'fail',
        pendingDecision: null,
        decisions: [],
        startedAt: new Date().toISOString(),
        finishedAt: null,
        slackMessage: null,
      });
      const report = (goal: string, messageTs: string | null) =>
        new MockActivityEnvironment({ attempt: 1 }, { logger: quiet }).run(reportToSlack, {
          target: { channel: 'C0REPOST', threadTs },
          status: status(goal),
          messageTs,
          replies: [],
        }) as Promise<{ ts: string }>;
      const first = await report('first words', null);
      const edited = await report('second words', first.ts);
      assert.equal(edited.ts, first.ts);
      const [message] = fake.botMessages('C0REPOST', threadTs);
      assert.equal(message.versions.length, 2);
      // Someone deletes the status message (through Slack's own API, as a person's client would).
      await new WebClient(fake.botToken, { slackApiUrl: fake.apiUrl }).chat.delete({
        channel: 'C0REPOST',
        ts: first.ts,
      });
      const reposted = await report('third words', first.ts);
      assert.notEqual(reposted.ts, first.ts);
      const shown = fake.botMessages('C0REPOST', threadTs);
      assert.deepEqual(
        shown.map((m) => m.ts),
        [reposted.ts],
      );
      assert.match(JSON.stringify(shown[0].blocks), /third words/);
    },
    LIMIT,
  );

  test(
    'reportToSlack continues from its heartbeat after a failed reply instead of posting twice',
    async () => {
      const { reportToSlack } = createSlackActivities({
        config: withEnv(worker.config, { SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl }),
      });
      const threadTs = fake.sendMessage({ channel: 'C0REPORT', text: 'a thread' }).ts;
      const status: PipelineStatus = {
        id: 'pipeline-report1',
        kind: 'pipeline',
        phase: 'FAILED',
        goal: 'reporting',
        requestedBy: ALICE,
        queuePosition: null,
        steps: [],
        error: 'step beta failed',
        workspace: null,
        onFailure: 'fail',
        pendingDecision: null,
        decisions: [],
        startedAt: new Date().toISOString(),
        finishedAt: new Date().toISOString(),
        slackMessage: null,
      };
      const notice = (step: string) => ({
        step,
        attempt: 1,
        why: 'failed with exit code 1',
        logTail: `${step} broke`,
        logPath: `/jobs/x/logs/${step}.log`,
      });
      const args = {
        target: { channel: 'C0REPORT', threadTs },
        status,
        messageTs: null,
        replies: [notice('alpha'), notice('beta')],
      };
      fake.failNext('chat.postMessage', { error: 'internal_error' }, 1, (p) => String(p.text).startsWith(':x: beta'));

      const first = new MockActivityEnvironment({ attempt: 1 }, { logger: quiet });
      const beats: unknown[] = [];
      first.on('heartbeat', (details: unknown) => beats.push(details));
      await assert.rejects(first.run(reportToSlack, args), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'SlackUnavailable');
        assert.equal(err.nonRetryable, false);
        return true;
      });
      const second = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: beats.at(-1) }, { logger: quiet });
      const posted = (await second.run(reportToSlack, args)) as { ts: string };

      const inThread = fake.botMessages('C0REPORT', threadTs);
      assert.deepEqual(
        inThread.map((m) =>
          isStatusMessage(m) ? 'status' : /alpha/.test(m.text) ? 'alpha' : /beta/.test(m.text) ? 'beta' : '?',
        ),
        ['status', 'alpha', 'beta'],
      );
      assert.equal(posted.ts, inThread[0].ts);
      assert.equal(inThread[0].versions.length, 2, 'the second attempt updated the message it had posted');

      const noToken = createSlackActivities({ config: withEnv(worker.config, {}) });
      await assert.rejects(
        new MockActivityEnvironment({}, { logger: quiet }).run(noToken.reportToSlack, args),
        (err: unknown) => {
          assert.ok(err instanceof ApplicationFailure);
          assert.equal(err.type, 'SlackNotConfigured');
          assert.equal(err.nonRetryable, true);
          return true;
        },
      );
      fake.setChannelError('C0GONE', 'channel_not_found');
      await assert.rejects(
        new MockActivityEnvironment({}, { logger: quiet }).run(reportToSlack, {
          ...args,
          target: { channel: 'C0GONE' },
        }),
        (err: unknown) => {
          assert.ok(err instanceof ApplicationFailure);
          assert.equal(err.type, 'SlackRejected');
          assert.equal(err.nonRetryable, true);
          return true;
        },
      );
    },
    LIMIT,
  );
});
