/**
 * The `conversation` workflow on a real dev server and a real worker; its model requests go
 * through the real SDKs to the fake LLM server, its `run_steps` tool runs real child `pipeline`
 * workflows whose `runStep` is scripted (no Docker here; test/chat.e2e.test.ts has Docker).
 * Turns and usage, tools under approval (approve, approve all, deny, timeout), allow-lists,
 * read-only tools, duplicate updates, continue-as-new over hundreds of turns, errors that leave
 * the conversation open, end, idle timeout, cancel, bad input.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { execa } from 'execa';
import {
  PocKind,
  PocPhase,
  cancelRun,
  decide,
  endChat,
  getChatStatus,
  listRuns,
  say,
  startChat,
  statusQuery,
  type ChatInput,
  type ChatStatus,
  type ChatTurn,
} from '../client/index.js';
import { findTemporalCli } from '../worker/devserver.js';
import { startFakeLlm, type FakeLlmServer, type RecordedRequest } from './support/fake-llm.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const LIMIT = 90_000;
let server: TestServer;
let fake: FakeLlmServer;
let worker: TestWorker;
let client: Client;
const steps = scriptedSteps();
const root = tempDir('chat-wf');
let toolsWorkspace: string;
let plainWorkspace: string;

beforeAll(async () => {
  server = await testServer();
  fake = await startFakeLlm();
  const stepCommands = { lint: 'ok', test: 'ok', broken: 'exit 3', hold: 'hold', deploy: 'ok' };
  toolsWorkspace = scriptedWorkspace(path.join(root, 'ws-tools'), stepCommands, {
    chat: { tools: ['run_steps', 'read_log', 'list_runs'], steps: ['lint', 'test', 'broken', 'hold'] },
  });
  plainWorkspace = scriptedWorkspace(path.join(root, 'ws-plain'), stepCommands);
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep: steps.runStep },
    env: {
      OPENAI_BASE_URL: `${fake.url}/v1`,
      OPENAI_API_KEY: 'sk-test-chat-wf-0123456789',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_API_KEY: 'sk-ant-test-chat-wf-0123456789',
      OLLAMA_HOST: fake.url,
      POC_LLM_PRICES: 'priced-model=1000/2000',
    },
    config: { workspace: toolsWorkspace, jobsDir: path.join(root, 'jobs') },
  });
  client = worker.client;
});

afterAll(async () => {
  await worker?.stop();
  await fake?.close();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

beforeEach(() => fake.reset());

async function start(overrides: Partial<ChatInput> = {}, id?: string): Promise<string> {
  const { workflowId } = await startChat(
    client,
    { backend: 'openai', model: 'gpt-4o-mini', prompt: 'Hello there', requestedBy: 'U0ALICE', ...overrides },
    { taskQueue: worker.taskQueue, id },
  );
  return workflowId;
}

async function statusWhen(id: string, what: string, ok: (s: ChatStatus) => boolean): Promise<ChatStatus> {
  return eventually(
    what,
    async () => {
      const s = await getChatStatus(client, id);
      return ok(s) ? s : undefined;
    },
    LIMIT,
  );
}

/** The conversation has answered `turn` and waits for the user again. */
const answeredTurn = (id: string, turn: number) =>
  statusWhen(id, `the answer to turn ${turn}`, (s) => s.answeredUpTo >= turn && s.waitingFor === 'user');

const roles = (turns: ChatTurn[]) => turns.map((t) => t.role);
const chatRequests = (since: number): RecordedRequest[] =>
  fake.requests.slice(since).filter((r) => r.method === 'POST' && r.protocol === 'openai');
const sentMessages = (request: RecordedRequest) => request.body?.messages as { role: string; content: unknown }[];

/** The summaries on the activities a run scheduled, as the Web UI's timeline shows them. */
async function activitySummaries(workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const summary = event.userMetadata?.summary;
    return event.activityTaskScheduledEventAttributes && summary
      ? [defaultPayloadConverter.fromPayload(summary as never) as string]
      : [];
  });
}

/** The run's current details, read the way the Web UI reads them (`temporal workflow metadata`). */
async function currentDetails(workflowId: string): Promise<string> {
  const temporal = (findTemporalCli() as { path: string }).path;
  const args = ['workflow', 'metadata', '--workflow-id', workflowId, '--address', server.address];
  const result = await execa(temporal, args, { reject: false, timeout: 60_000 });
  assert.equal(result.exitCode, 0, result.stderr);
  return result.stdout;
}

describe('conversation workflow', () => {
  test(
    'answers, remembers what was said, and counts tokens and the estimated cost per turn and in total',
    async () => {
      fake.enqueue(
        'openai',
        { chunks: ['Hi ', 'Alice.'], usage: { inputTokens: 100, outputTokens: 20 } },
        { chunks: ['You said hello.'], usage: { inputTokens: 150, outputTokens: 10 } },
      );
      const before = fake.requests.length;
      const id = await start();
      assert.match(id, /^chat-[0-9a-z]{8}$/);
      await answeredTurn(id, 1);
      const said = await say(client, id, { text: 'What did I say first?', by: 'U0BOB' });
      assert.deepEqual(said, { turn: 3, duplicate: false, workflowId: id });
      const s = await answeredTurn(id, 3);

      assert.deepEqual(roles(s.turns), ['user', 'assistant', 'user', 'assistant']);
      expect(s.turns.map((t) => [t.n, t.text, t.by])).toEqual([
        [1, 'Hello there', 'U0ALICE'],
        [2, 'Hi Alice.', null],
        [3, 'What did I say first?', 'U0BOB'],
        [4, 'You said hello.', null],
      ]);
      // gpt-4o-mini: $0.15 / $0.60 per million tokens.
      expect(s.turns[1].usage).toEqual({ inputTokens: 100, outputTokens: 20, costUsd: 0.000027 });
      expect(s.turns[3].usage).toEqual({ inputTokens: 150, outputTokens: 10, costUsd: 0.0000285 });
      expect(s.usage).toEqual({ inputTokens: 250, outputTokens: 30, costUsd: 0.0000555, requests: 2, unpriced: 0 });
      assert.equal(s.phase, 'RUNNING');
      assert.equal(s.kind, 'chat');
      expect(s.tools).toEqual(['run_steps', 'read_log', 'list_runs']);

      // The second request carried the whole conversation so far.
      const [first, second] = chatRequests(before);
      expect(sentMessages(first).slice(1)).toEqual([{ role: 'user', content: 'Hello there' }]);
      expect(sentMessages(second).slice(1)).toEqual([
        { role: 'user', content: 'Hello there' },
        { role: 'assistant', content: 'Hi Alice.' },
        { role: 'user', content: 'What did I say first?' },
      ]);
      assert.equal(chatRequests(before).length, 2, 'one request per answer');

      const final = await endChat(client, id, 'U0BOB');
      assert.equal(final.phase, 'DONE');
      assert.equal(final.endedBy, 'U0BOB');
      assert.equal(final.waitingFor, null);
      const result = (await client.workflow.getHandle(id).result()) as ChatStatus;
      assert.equal(result.turns.length, 4);
      await assert.rejects(() => say(client, id, { text: 'still there?' }), /has ended/);
    },
    LIMIT,
  );

  test(
    'run_steps waits for approval, runs a child pipeline after it, and the next answer cites the result',
    async () => {
      fake.enqueue(
        'openai',
        { chunks: ['I will run the tests.'], toolCalls: [{ name: 'run_steps', arguments: { steps: ['test'] } }] },
        {
          respond: (request) => {
            const tool = sentMessages(request).find((m) => m.role === 'tool');
            const line = String(tool?.content ?? '').match(/- test: \w+, exit code \d+/)?.[0] ?? 'no result';
            return { chunks: [`The tests ran: ${line}.`] };
          },
        },
      );
      const id = await start({ prompt: 'Please run the tests' });
      const asking = await statusWhen(id, 'the approval question', (s) => s.phase === 'AWAITING_DECISION');
      assert.equal(asking.waitingFor, 'decision');
      assert.equal(asking.pendingDecision?.tool, 'run_steps');
      assert.equal(asking.pendingDecision?.step, 'test');
      expect(asking.pendingDecision?.options).toEqual(['approve', 'approveAll', 'deny']);
      assert.equal(steps.executions.filter((e) => e.workflowId.includes(id.slice(5))).length, 0, 'nothing ran yet');
      const visibility = await eventually('PocPhase AWAITING_DECISION', async () => {
        const d = await client.workflow.getHandle(id).describe();
        return d.typedSearchAttributes.get(PocPhase) === 'AWAITING_DECISION' ? d : undefined;
      });
      assert.equal(visibility.typedSearchAttributes.get(PocKind), 'chat');

      await decide(client, id, { action: 'approve', by: 'U0BOB', decisionId: asking.pendingDecision?.id });
      const s = await answeredTurn(id, 1);
      assert.deepEqual(roles(s.turns), ['user', 'assistant', 'tool', 'assistant']);
      const toolTurn = s.turns[2];
      const childId = `pipeline-${id.slice('chat-'.length)}-t1`;
      expect(toolTurn).toMatchObject({ tool: 'run_steps', outcome: 'done', by: 'U0BOB', runId: childId });
      assert.match(toolTurn.text, /pipeline-.*: DONE\n- test: done, exit code 0/);
      assert.equal(s.turns[3].text, 'The tests ran: - test: done, exit code 0.');
      expect(s.decisions.map((d) => [d.action, d.by])).toEqual([['approve', 'U0BOB']]);

      // A real child workflow, visible as such (the Web UI shows it under its parent).
      const child = await client.workflow.getHandle(childId).describe();
      assert.equal(child.type, 'pipeline');
      assert.equal(child.status.name, 'COMPLETED');
      assert.equal(child.parentExecution?.workflowId, id);
      assert.equal(steps.executions.filter((e) => e.workflowId === childId && e.step === 'test').length, 1);
      await endChat(client, id);
    },
    LIMIT,
  );

  test(
    'the Web UI reads a summary and details from the start, the live line, and what each activity does',
    async () => {
      fake.enqueue(
        'openai',
        { chunks: ['Running them.'], toolCalls: [{ name: 'run_steps', arguments: { steps: ['lint'] } }] },
        { chunks: ['Lint passed.'] },
      );
      const { workflowId: id } = await startChat(
        client,
        { backend: 'openai', model: 'gpt-4o-mini', prompt: 'Lint it please', requestedBy: 'U0ALICE' },
        { taskQueue: worker.taskQueue, source: 'poc CLI on test-host' },
      );
      const description = await client.workflow.getHandle(id).describe();
      assert.equal(await description.staticSummary(), 'chat: openai/gpt-4o-mini');
      const details = (await description.staticDetails()) ?? '';
      assert.match(details, /\*\*started by:\*\* U0ALICE/);
      assert.match(details, /\*\*source:\*\* poc CLI on test-host/);
      assert.match(details, /\*\*first question:\*\* Lint it please/);

      const asking = await statusWhen(id, 'the approval question', (s) => s.phase === 'AWAITING_DECISION');
      await eventually('the live line to name the approval', async () =>
        /AWAITING_DECISION · waiting for approval of lint · openai\/gpt-4o-mini/.test(await currentDetails(id))
          ? true
          : undefined,
      );
      await decide(client, id, { action: 'approve', by: 'U0BOB', decisionId: asking.pendingDecision?.id });
      await answeredTurn(id, 1);
      assert.match(
        await currentDetails(id),
        /RUNNING · waiting for the user · openai\/gpt-4o-mini · 4 turns · 2 requests/,
      );
      const summaries = await activitySummaries(id);
      expect(summaries).toEqual(['model: answer 2', 'model: answer 4']);
      // run_steps is a child pipeline: the Web UI shows it with its own summary and details.
      const child = await client.workflow.getHandle(`pipeline-${id.slice('chat-'.length)}-t1`).describe();
      assert.equal(await child.staticSummary(), `pipeline: asked in a conversation (${id})`);
      assert.match((await child.staticDetails()) ?? '', /\*\*approved by:\*\* U0BOB/);
      await endChat(client, id);
    },
    LIMIT,
  );

  test(
    'Deny and an unanswered question (the timeout) both refuse the call; the model is told why',
    async () => {
      const call = { toolCalls: [{ name: 'run_steps', arguments: { steps: ['lint'] } }] };
      fake.enqueue('openai', call, { chunks: ['Understood, not running it.'] }, call, { chunks: ['Nobody answered.'] });
      const id = await start({ prompt: 'lint it', decisionTimeoutSeconds: 2 });
      const asking = await statusWhen(id, 'the first question', (s) => s.phase === 'AWAITING_DECISION');
      await decide(client, id, { action: 'deny', by: 'U0BOB', decisionId: asking.pendingDecision?.id });
      let s = await answeredTurn(id, 1);
      expect(s.turns[2]).toMatchObject({ role: 'tool', outcome: 'denied', by: 'U0BOB' });
      assert.match(s.turns[2].text, /Not run: U0BOB denied it/);

      await say(client, id, { text: 'lint it again', by: 'U0BOB' });
      s = await answeredTurn(id, 5);
      expect(s.turns[6]).toMatchObject({ role: 'tool', outcome: 'denied', by: 'timeout' });
      assert.match(s.turns[6].text, /nobody approved it in time/);
      expect(s.decisions.map((d) => [d.action, d.by])).toEqual([
        ['deny', 'U0BOB'],
        ['deny', 'timeout'],
      ]);
      assert.equal(steps.executions.filter((e) => e.workflowId.includes(id.slice(5))).length, 0, 'nothing ran');
      await endChat(client, id);
    },
    LIMIT,
  );

  test(
    'Approve all lets every later call of the conversation run without asking',
    async () => {
      fake.enqueue(
        'openai',
        { toolCalls: [{ name: 'run_steps', arguments: { steps: ['lint'] } }] },
        { toolCalls: [{ name: 'run_steps', arguments: { steps: ['test'] } }] },
        { chunks: ['Both ran.'] },
      );
      const id = await start({ prompt: 'lint then test' });
      const asking = await statusWhen(id, 'the question', (s) => s.phase === 'AWAITING_DECISION');
      await decide(client, id, { action: 'approveAll', by: 'U0ALICE' });
      const s = await answeredTurn(id, 1);
      assert.deepEqual(roles(s.turns), ['user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']);
      expect(s.turns.filter((t) => t.role === 'tool').map((t) => [t.outcome, t.by, t.runId])).toEqual([
        ['done', 'U0ALICE', `pipeline-${id.slice(5)}-t1`],
        ['done', 'U0ALICE', `pipeline-${id.slice(5)}-t2`],
      ]);
      assert.equal(s.decisions.length, 1, 'asked once');
      assert.ok(asking.pendingDecision);
      await endChat(client, id);
    },
    LIMIT,
  );

  test(
    'a failed step comes back with its log tail; read_log and list_runs run without asking',
    async () => {
      fake.enqueue(
        'openai',
        { toolCalls: [{ name: 'run_steps', arguments: { steps: ['broken'] } }] },
        { toolCalls: [{ name: 'read_log', arguments: {} }] },
        { toolCalls: [{ name: 'list_runs', arguments: { limit: 5, phase: 'FAILED' } }] },
        { chunks: ['broken failed with exit code 3.'] },
      );
      const id = await start({ prompt: 'run broken and tell me why it fails' });
      await statusWhen(id, 'the question', (s) => s.phase === 'AWAITING_DECISION');
      await decide(client, id, { action: 'approve', by: 'U0ALICE' });
      const s = await answeredTurn(id, 1);
      const [run, log, list] = s.turns.filter((t) => t.role === 'tool');
      const childId = `pipeline-${id.slice(5)}-t1`;
      expect(run).toMatchObject({ outcome: 'failed', runId: childId });
      assert.match(run.text, /: FAILED/);
      assert.match(run.text, /- broken: failed, exit code 3/);
      assert.match(run.text, /End of the log of broken:\nboom 3/);
      expect(log).toMatchObject({ tool: 'read_log', outcome: 'done', by: 'auto' });
      assert.match(log.text, new RegExp(`${childId}, step broken: failed, exit code 3\\. End of its log:\\nboom 3`));
      expect(list).toMatchObject({ tool: 'list_runs', outcome: 'done', by: 'auto' });
      assert.match(list.text, new RegExp(`${childId} FAILED`));
      assert.equal(s.decisions.length, 1, 'only run_steps asked');
      await endChat(client, id);
    },
    LIMIT,
  );

  test(
    'calls outside the allow-list are refused with a reason the model can act on; nothing runs',
    async () => {
      fake.enqueue(
        'openai',
        {
          toolCalls: [
            { name: 'run_steps', arguments: { steps: ['deploy'] } },
            { name: 'rm_rf', arguments: {} },
            { name: 'run_steps', arguments: { steps: 'test' } },
          ],
        },
        { chunks: ['I may not do that.'] },
      );
      const id = await start({ prompt: 'deploy' });
      const s = await answeredTurn(id, 1);
      const results = s.turns.filter((t) => t.role === 'tool');
      expect(results.map((t) => t.outcome)).toEqual(['invalid', 'invalid', 'invalid']);
      assert.match(results[0].text, /"deploy" may not be run from here \(allowed: lint, test, broken, hold\)/);
      assert.match(results[1].text, /"rm_rf" is not a tool of this conversation/);
      assert.match(results[2].text, /steps: must be an array of step names/);
      assert.equal(s.decisions.length, 0);
      await endChat(client, id);

      // A workspace without a `chat` section allows no tools, and sends none to the model.
      fake.enqueue('openai', { toolCalls: [{ name: 'list_runs', arguments: {} }] }, { chunks: ['ok'] });
      const before = fake.requests.length;
      const plain = await start({ workspace: plainWorkspace, prompt: 'list runs' });
      const p = await answeredTurn(plain, 1);
      expect(p.tools).toEqual([]);
      assert.equal(chatRequests(before)[0].body?.tools, undefined);
      assert.match(p.turns[2].text, /is not a tool of this conversation \(tools: none\)/);
      await endChat(client, plain);
    },
    LIMIT,
  );

  test(
    'the same update id adds one turn — also after continue-as-new',
    async () => {
      fake.defaultBehaviour = { chunks: ['ok'] };
      const id = await start({ prompt: 'one', maxHistoryEvents: 50 });
      await answeredTurn(id, 1);
      const first = await say(client, id, { text: 'two', by: 'U0BOB' }, { updateId: 'slack-C1-1700000000.000200' });
      const again = await say(client, id, { text: 'two', by: 'U0BOB' }, { updateId: 'slack-C1-1700000000.000200' });
      assert.equal(again.turn, first.turn);
      let s = await answeredTurn(id, first.turn);
      // Talk until the workflow has continued as new, then deliver the same update again.
      for (let i = 0; s.generation === 0; i++) {
        const said = await say(client, id, { text: `more ${i}`, by: 'U0BOB' });
        s = await answeredTurn(id, said.turn);
        s = await statusWhen(id, 'a quiet moment', (x) => x.waitingFor === 'user');
      }
      const turns = s.earlierTurns + s.turns.length;
      const redelivered = await say(
        client,
        id,
        { text: 'two', by: 'U0BOB' },
        { updateId: 'slack-C1-1700000000.000200' },
      );
      expect(redelivered).toMatchObject({ turn: first.turn, duplicate: true });
      s = await getChatStatus(client, id);
      assert.equal(s.earlierTurns + s.turns.length, turns, 'no turn added');
      assert.equal(s.turns.filter((t) => t.text === 'two').length, 1);
      await endChat(client, id);
    },
    LIMIT,
  );

  test(
    'hundreds of turns stay far below the history limits: continue-as-new carries the transcript, ' +
      'the digest keeps the oldest exchanges, the totals every turn',
    async () => {
      fake.defaultBehaviour = {
        respond: (request) => {
          const messages = sentMessages(request);
          return {
            chunks: [`answer to ${String(messages[messages.length - 1].content)}`],
            usage: { inputTokens: 3, outputTokens: 2 },
          };
        },
      };
      const TURNS = 150;
      const id = await start({ prompt: 'turn 0', maxHistoryEvents: 200, contextChars: 2_000, model: 'priced-model' });
      let s = await answeredTurn(id, 1);
      for (let i = 1; i < TURNS; i++) {
        const said = await say(client, id, { text: `turn ${i}`, by: 'U0BOB' });
        s = await answeredTurn(id, said.turn);
      }
      assert.equal(s.earlierTurns + s.turns.length, TURNS * 2);
      expect(s.usage).toMatchObject({ requests: TURNS, inputTokens: 3 * TURNS, outputTokens: 2 * TURNS });
      // priced-model: $1000 / $2000 per million tokens (POC_LLM_PRICES).
      assert.equal(s.usage.costUsd, Math.round(TURNS * (3 * 1000 + 2 * 2000)) / 1e6);
      assert.ok(s.generation >= 3, `continued as new ${s.generation} times`);
      // The chain keeps its search attributes and memo: still found as a conversation.
      const latest = await client.workflow.getHandle(id).describe();
      assert.equal(latest.typedSearchAttributes.get(PocKind), 'chat');
      assert.equal(latest.memo?.prompt, 'turn 0');
      const last = s.turns[s.turns.length - 1];
      assert.equal(last.text, `answer to turn ${TURNS - 1}`);
      assert.equal(last.n, TURNS * 2);
      assert.ok(s.turns.reduce((n, t) => n + t.text.length, 0) <= 2_000, 'the transcript kept within contextChars');
      assert.ok(s.summary?.startsWith('#1 U0ALICE: turn 0 → answer to turn 0'), s.summary ?? 'no digest');

      // Every run of the chain has a short history.
      const runs: { events: number }[] = [];
      for await (const execution of client.workflow.list({ query: `WorkflowId = "${id}"` })) {
        const history = await client.workflow.getHandle(id, execution.runId).fetchHistory();
        runs.push({ events: history.events?.length ?? 0 });
      }
      assert.equal(runs.length, s.generation + 1);
      assert.ok(
        runs.every((r) => r.events < 400),
        `events per run: ${runs.map((r) => r.events).join(', ')}`,
      );
      // The model saw the digest of what left the transcript.
      const lastRequest = fake.requests.filter((r) => r.method === 'POST').at(-1);
      assert.match(
        String(sentMessages(lastRequest as RecordedRequest)[0].content),
        /Earlier turns.*\n#1 U0ALICE: turn 0/,
      );
      await endChat(client, id);
    },
    240_000,
  );

  test(
    'a model error is an answer that says so; the conversation stays open and the next turn tries again',
    async () => {
      fake.enqueue('openai', { status: 401 }, { chunks: ['Back again.'] });
      const id = await start({ prompt: 'hello' });
      let s = await answeredTurn(id, 1);
      assert.match(s.turns[1].error ?? '', /openai: 401 invalid API key — check OPENAI_API_KEY/);
      assert.equal(s.turns[1].text, '');
      assert.equal(s.phase, 'RUNNING');
      await say(client, id, { text: 'try again', by: 'U0ALICE' });
      s = await answeredTurn(id, 3);
      assert.equal(s.turns[3].text, 'Back again.');
      assert.equal(s.usage.requests, 1);
      await endChat(client, id);
    },
    LIMIT,
  );

  test(
    'end stops the tool under way (its pipeline is cancelled) and answers with the final status',
    async () => {
      fake.enqueue('openai', { toolCalls: [{ name: 'run_steps', arguments: { steps: ['hold'] } }] });
      const id = await start({ prompt: 'hold on' });
      await statusWhen(id, 'the question', (s) => s.phase === 'AWAITING_DECISION');
      await decide(client, id, { action: 'approve', by: 'U0ALICE' });
      const childId = `pipeline-${id.slice(5)}-t1`;
      await steps.started(childId, 'hold');
      const final = await endChat(client, id, 'U0ALICE');
      assert.equal(final.phase, 'DONE');
      assert.equal(final.endedBy, 'U0ALICE');
      const child = await eventually('the child pipeline cancelled', async () => {
        const d = await client.workflow.getHandle(childId).describe();
        return d.status.name === 'RUNNING' ? undefined : d;
      });
      assert.equal(child.status.name, 'CANCELLED');
    },
    LIMIT,
  );

  test(
    'the idle timeout ends a quiet conversation; a cancel ends it CANCELLED',
    async () => {
      fake.defaultBehaviour = { chunks: ['ok'] };
      const idle = await start({ prompt: 'hi', idleTimeoutSeconds: 2 });
      const result = (await client.workflow.getHandle(idle).result()) as ChatStatus;
      expect(result).toMatchObject({ phase: 'DONE', endedBy: 'idle', waitingFor: null });
      assert.equal(result.turns.length, 2);

      const cancelled = await start({ prompt: 'hi' });
      await answeredTurn(cancelled, 1);
      await cancelRun(client, cancelled);
      await assert.rejects(() => client.workflow.getHandle(cancelled).result(), WorkflowFailedError);
      const s = await client.workflow.getHandle(cancelled).query(statusQuery);
      expect(s).toMatchObject({ phase: 'CANCELLED', endedBy: 'someone' });
    },
    LIMIT,
  );

  test(
    'bad input: one line naming the field; a bad say is refused with its reason and adds nothing',
    async () => {
      await assert.rejects(() => startChat(client, { backend: 'gpt', model: 'x' } as never), /backend: must be one of/);
      const handle = await client.workflow.start('conversation', {
        workflowId: `chat-bad${Date.now()}`,
        taskQueue: worker.taskQueue,
        args: [{ backend: 'openai', model: 'm', idleTimeoutSeconds: -1 }],
      });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(err.cause?.message ?? '', /invalid conversation input: idleTimeoutSeconds: must be a whole number/);

      fake.defaultBehaviour = { chunks: ['ok'] };
      const id = await start({ prompt: 'hi' });
      await answeredTurn(id, 1);
      await assert.rejects(() => say(client, id, { text: '   ' }), /say: text: is required and must not be empty/);
      await assert.rejects(() => say(client, id, { text: 'x'.repeat(20_001) }), /the limit is 20000/);
      assert.equal((await getChatStatus(client, id)).turns.length, 2);
      await endChat(client, id);
      await assert.rejects(() => endChat(client, id), /has ended/);
    },
    LIMIT,
  );

  test(
    'started bare (temporal CLI, Web UI), it is findable as PocKind="chat" and listed with the runs',
    async () => {
      fake.defaultBehaviour = { chunks: ['ok'] };
      const workflowId = `chat-raw${Date.now()}`;
      const handle = await client.workflow.start('conversation', {
        workflowId,
        taskQueue: worker.taskQueue,
        args: [{ backend: 'ollama', model: 'llama3.1', prompt: 'hi from the CLI' }],
      });
      const s = await answeredTurn(workflowId, 1);
      expect(s.turns[1].usage).toEqual({ inputTokens: 12, outputTokens: 1, costUsd: 0 });
      const listed = await eventually('the conversation in listRuns', async () => {
        const runs = await listRuns(client, { kind: 'chat', query: `WorkflowId = "${workflowId}"` });
        return runs[0];
      });
      expect(listed).toMatchObject({ kind: 'chat', phase: 'RUNNING', title: 'hi from the CLI' });
      await handle.signal('end', {});
      const result = (await handle.result()) as ChatStatus;
      assert.equal(result.phase, 'DONE');
    },
    LIMIT,
  );
});
