/**
 * Records the replay corpus: representative runs on a fresh dev server, saved with
 * `temporal workflow show --output json` (the format the `temporal` CLI gives users) under
 * test/histories/<label>/. Run it before changing a workflow, so the change is checked against
 * histories made by the code before it:
 *
 *   npx tsx test/support/record-histories.ts v2
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  cancelRun,
  decide,
  endChat,
  getChatStatus,
  getPipelineStatus,
  getRunStatus,
  hostRegistryId,
  hostTaskQueue,
  say,
  startChat,
  startLlm,
  startPipeline,
} from '../../client/index.js';
import type { ChatAnswer, ChatModelArgs } from '../../activities/chat.js';
import { lockKeyFor } from '../../activities/workspace.js';
import { ensureTemporalCli } from '../../worker/devserver.js';
import { decideSignal, llmChunkSignal, stepOutputSignal, type LlmInput, type LlmResult } from '../../core/contract.js';
import { scriptedSteps, scriptedWorkspace } from './scripted-steps.js';
import { gitRepo, scriptedFiles, startTestHost, type TestHost } from './fleet.js';
import { eventually, startTestWorker, tempDir, testServer } from './temporal.js';

const label = process.argv[2];
if (!label || !/^[a-z0-9][a-z0-9._-]*$/.test(label)) {
  process.stderr.write('usage: npx tsx test/support/record-histories.ts <label>   (e.g. v2)\n');
  process.exit(2);
}
const outDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'histories', label);
if (fs.existsSync(outDir)) {
  process.stderr.write(`${outDir} exists; histories are never overwritten — pick a new label\n`);
  process.exit(2);
}

const cli = await ensureTemporalCli((line) => process.stderr.write(line + '\n'), { allowDownload: false });
const server = await testServer();
const root = tempDir('record');
const steps = scriptedSteps();
let llmCalls = 0;
const worker = await startTestWorker({
  address: server.address,
  config: { jobsDir: path.join(root, 'jobs') },
  overrides: {
    runStep: steps.runStep,
    async completePrompt(input: LlmInput): Promise<LlmResult> {
      const attempt = Context.current().info.attempt;
      llmCalls += 1;
      if (input.prompt.includes('flaky') && attempt === 1)
        throw ApplicationFailure.create({
          message: 'openai: 429 rate limited',
          type: 'LlmRetryable',
          nextRetryDelay: 100,
        });
      // A streamed answer: its text so far goes to the workflow (and from there to Slack) as it grows.
      if (input.prompt.includes('stream')) {
        const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
        for (const text of ['hel', 'lo'])
          await worker.client.workflow.getHandle(workflowId).signal(llmChunkSignal, { attempt, text });
      }
      return {
        text: 'hello',
        backend: input.backend,
        model: input.model,
        usage: { inputTokens: 3, outputTokens: 1 },
        finishReason: 'stop',
        latencyMs: 5,
        attempts: attempt,
      };
    },
    /** A scripted model: a tool call when asked to run something, else an answer that quotes the last tool result. */
    async answerChat(args: ChatModelArgs): Promise<ChatAnswer> {
      const last = args.messages[args.messages.length - 1];
      const attempt = Context.current().info.attempt;
      llmCalls += 1;
      const usage = { inputTokens: 10, outputTokens: 2, costUsd: 0.0000027 };
      const base = { usage, finishReason: 'stop', model: args.model, latencyMs: 5, attempts: attempt };
      if (last?.role === 'user' && last.text.startsWith('run '))
        return {
          ...base,
          text: 'Running it.',
          toolCalls: [{ id: `call_${args.turn}`, name: 'run_steps', input: { steps: [last.text.slice(4)] } }],
          finishReason: 'tool',
        };
      return { ...base, text: last?.role === 'tool' ? `It said: ${last.text.split('\n')[0]}` : 'ok', toolCalls: [] };
    },
    async reportChat(args) {
      return {
        posted: Object.fromEntries(args.messages.map(({ view, ts }) => [String(view.key), ts ?? '1700000000.000300'])),
      };
    },
    async reportToSlack(args) {
      return { channel: args.target.channel, ts: args.messageTs ?? '1700000000.000200' };
    },
  },
});
const { client } = worker;
const taskQueue = worker.taskQueue;
let n = 0;
const ws = (commands: Record<string, string>) => scriptedWorkspace(path.join(root, `ws${++n}`), commands);
const all5 = { build: 'ok', bootstrap: 'ok', doctor: 'ok', lint: 'ok', test: 'ok' };
/** Name, workflow id, and the run when it is not the latest (a run that continued as new). */
const recorded: [string, string, string?][] = [];
const settle = (id: string) =>
  client.workflow
    .getHandle(id)
    .result()
    .catch(() => undefined);

async function scenario(name: string, body: () => Promise<string>) {
  const workflowId = await body();
  await settle(workflowId);
  recorded.push([name, workflowId]);
}

try {
  await scenario(
    'pipeline-done',
    async () =>
      (await startPipeline(client, { goal: 'all green', workspace: ws(all5), requestedBy: 'U1' }, { taskQueue }))
        .workflowId,
  );
  await scenario(
    'pipeline-failed',
    async () => (await startPipeline(client, { workspace: ws({ ...all5, lint: 'exit 2' }) }, { taskQueue })).workflowId,
  );
  await scenario('pipeline-cancelled', async () => {
    const { workflowId } = await startPipeline(client, { workspace: ws({ ...all5, doctor: 'block' }) }, { taskQueue });
    await steps.started(workflowId, 'doctor');
    await cancelRun(client, workflowId);
    return workflowId;
  });
  await scenario('pipeline-ask-retry', async () => {
    const { workflowId } = await startPipeline(
      client,
      { steps: ['lint', 'test'], workspace: ws({ lint: 'fail-once 1', test: 'ok' }), onFailure: 'ask' },
      { taskQueue },
    );
    await eventually('a decision', async () =>
      (await getRunStatus(client, workflowId)).phase === 'AWAITING_DECISION' ? true : undefined,
    );
    await decide(client, workflowId, { action: 'retry', by: 'U2' });
    return workflowId;
  });
  await scenario('pipeline-approval', async () => {
    const { workflowId } = await startPipeline(
      client,
      { steps: ['lint', 'test'], workspace: ws({ lint: 'ok', test: 'ok' }), approve: 'all' },
      { taskQueue },
    );
    await eventually('an approval', async () =>
      (await getRunStatus(client, workflowId)).phase === 'AWAITING_DECISION' ? true : undefined,
    );
    await decide(client, workflowId, { action: 'approveAll', by: 'U3' });
    return workflowId;
  });
  await scenario('pipeline-signal-decide', async () => {
    // tctl's way: a refused `decide` signal (recorded in status), then one that answers.
    const { workflowId } = await startPipeline(
      client,
      { steps: ['lint'], workspace: ws({ lint: 'fail-once 1' }), onFailure: 'ask' },
      { taskQueue },
    );
    await eventually('a decision', async () =>
      (await getRunStatus(client, workflowId)).phase === 'AWAITING_DECISION' ? true : undefined,
    );
    const handle = client.workflow.getHandle(workflowId);
    await handle.signal(decideSignal, { action: 'approve', by: 'tctl' });
    await eventually('the refusal', async () => {
      const status = await getRunStatus(client, workflowId);
      return status.kind === 'pipeline' && status.lastRefusedDecision ? true : undefined;
    });
    await handle.signal(decideSignal, { action: 'retry', by: 'tctl' });
    return workflowId;
  });
  await scenario('pipeline-live-output', async () => {
    // A run that reports to Slack: its running step sends its newest line.
    const { workflowId } = await startPipeline(
      client,
      { steps: ['lint'], workspace: ws({ lint: 'hold' }), slack: { channel: 'C1', threadTs: '1700000000.000300' } },
      { taskQueue },
    );
    await steps.started(workflowId, 'lint');
    await client.workflow
      .getHandle(workflowId)
      .signal(stepOutputSignal, { step: 'lint', attempt: 1, line: 'eslint: 12 files' });
    await eventually('the line', async () => {
      const status = await getRunStatus(client, workflowId);
      return status.kind === 'pipeline' && status.steps[0].lastLine ? true : undefined;
    });
    steps.release(workflowId, 'lint');
    return workflowId;
  });
  await scenario(
    'pipeline-infra-retry',
    async () =>
      (await startPipeline(client, { steps: ['lint'], workspace: ws({ lint: 'docker-down-once' }) }, { taskQueue }))
        .workflowId,
  );
  await scenario(
    'pipeline-slack',
    async () =>
      (
        await startPipeline(
          client,
          {
            steps: ['lint', 'test'],
            workspace: ws({ lint: 'exit 1', test: 'ok' }),
            slack: { channel: 'C1', threadTs: '1700000000.000100' },
          },
          { taskQueue },
        )
      ).workflowId,
  );
  await scenario(
    'pipeline-invalid',
    async () =>
      (await startPipeline(client, { steps: ['nope'], workspace: ws({ lint: 'ok' }) }, { taskQueue })).workflowId,
  );
  const shared = ws({ lint: 'block', test: 'ok' });
  const first = await startPipeline(client, { steps: ['lint'], workspace: shared }, { taskQueue });
  await steps.started(first.workflowId, 'lint');
  const second = await startPipeline(client, { steps: ['test'], workspace: shared }, { taskQueue });
  await eventually('second queued', async () =>
    (await getRunStatus(client, second.workflowId)).phase === 'QUEUED' &&
    (await getRunStatus(client, second.workflowId)).id
      ? true
      : undefined,
  );
  await cancelRun(client, first.workflowId);
  await scenario('pipeline-queued', async () => second.workflowId);
  // Since the fleet, a workspace's lock is per host: its key is taken on the host's own queue.
  const lockQueue = hostTaskQueue(taskQueue, worker.config.host.name);
  recorded.push(['workspace-lock', `poc-lock-${lockKeyFor(shared, lockQueue)}`]);

  // The fleet: a run from git; a run that waits for a label, gets a host, loses it and moves on.
  const repo = await gitRepo(root, 'app', scriptedFiles({ lint: 'ok', test: 'ok' }));
  await scenario(
    'pipeline-repo',
    async () =>
      (await startPipeline(client, { steps: ['lint', 'test'], repo: repo.url, ref: 'main' }, { taskQueue })).workflowId,
  );
  const extraHosts: TestHost[] = [];
  const host = async (name: string) => {
    const started = await startTestHost({
      address: server.address,
      taskQueue,
      name,
      root,
      labels: ['movable'],
      overrides: { runStep: steps.runStep },
    });
    extraHosts.push(started);
    return started;
  };
  try {
    await scenario('pipeline-moved', async () => {
      const { workflowId } = await startPipeline(
        client,
        { steps: ['lint', 'test'], workspace: ws({ lint: 'ok', test: 'hold' }), labels: ['movable'] },
        { taskQueue },
      );
      await eventually('the label wait', async () =>
        (await getPipelineStatus(client, workflowId)).queueReason ? true : undefined,
      );
      const first = await host('rec-a');
      await steps.started(workflowId, 'test');
      await host('rec-b');
      await first.stop();
      await eventually(
        'the move',
        async () => ((await getPipelineStatus(client, workflowId)).host === 'rec-b' ? true : undefined),
        60_000,
      );
      steps.release(workflowId, 'test');
      return workflowId;
    });
  } finally {
    for (const extra of extraHosts) await extra.stop();
  }
  recorded.push(['host-registry', hostRegistryId(taskQueue)]);
  await scenario(
    'llm-done',
    async () =>
      (await startLlm(client, { backend: 'openai', model: 'gpt-test', prompt: 'hi' }, { taskQueue })).workflowId,
  );
  await scenario(
    'llm-streamed-slack',
    async () =>
      (
        await startLlm(
          client,
          { backend: 'openai', model: 'gpt-test', prompt: 'stream hi', slack: { channel: 'C1' } },
          { taskQueue },
        )
      ).workflowId,
  );
  await scenario(
    'llm-retried',
    async () =>
      (
        await startLlm(
          client,
          { backend: 'anthropic', model: 'claude-test', prompt: 'flaky hi', slack: { channel: 'C1' } },
          { taskQueue },
        )
      ).workflowId,
  );

  // Conversations: a tool approved and run as a child pipeline; one denied; one that continued as new.
  const chatWs = scriptedWorkspace(
    path.join(root, 'ws-chat'),
    { test: 'ok', lint: 'exit 1' },
    {
      chat: { tools: ['run_steps', 'read_log', 'list_runs'] },
    },
  );
  const chatInput = { backend: 'openai' as const, model: 'gpt-test', workspace: chatWs, requestedBy: 'U1' };
  const waitFor = (id: string, what: string, ok: (s: Awaited<ReturnType<typeof getChatStatus>>) => boolean) =>
    eventually(what, async () => ((s) => (ok(s) ? s : undefined))(await getChatStatus(client, id)));
  await scenario('chat-tool', async () => {
    const { workflowId } = await startChat(
      client,
      { ...chatInput, prompt: 'run test', slack: { channel: 'C1', threadTs: '1700000000.000100' } },
      { taskQueue },
    );
    const asking = await waitFor(workflowId, 'an approval', (s) => s.phase === 'AWAITING_DECISION');
    await decide(client, workflowId, { action: 'approve', by: 'U2', decisionId: asking.pendingDecision?.id });
    await waitFor(workflowId, 'the answer', (s) => s.answeredUpTo === 1 && s.waitingFor === 'user');
    await say(client, workflowId, { text: 'thanks', by: 'U2' }, { updateId: 'slack:T1:C1:1700000000.000400' });
    await waitFor(workflowId, 'the second answer', (s) => s.answeredUpTo === 5 && s.waitingFor === 'user');
    await endChat(client, workflowId, 'U1');
    return workflowId;
  });
  await scenario('chat-denied', async () => {
    const { workflowId } = await startChat(client, { ...chatInput, prompt: 'run lint' }, { taskQueue });
    const asking = await waitFor(workflowId, 'an approval', (s) => s.phase === 'AWAITING_DECISION');
    await decide(client, workflowId, { action: 'deny', by: 'U2', decisionId: asking.pendingDecision?.id });
    await waitFor(workflowId, 'the answer', (s) => s.answeredUpTo === 1 && s.waitingFor === 'user');
    await cancelRun(client, workflowId);
    return workflowId;
  });
  const continued = await startChat(client, { ...chatInput, prompt: 'hello', maxHistoryEvents: 50 }, { taskQueue });
  for (let turn = 1; ;) {
    const s = await waitFor(
      continued.workflowId,
      `answer ${turn}`,
      (x) => x.answeredUpTo >= turn && x.waitingFor === 'user',
    );
    if (s.generation > 0) break;
    turn = (await say(client, continued.workflowId, { text: `more ${turn}`, by: 'U1' })).turn;
  }
  let firstRun: string | undefined;
  for await (const execution of client.workflow.list({ query: `WorkflowId = "${continued.workflowId}"` }))
    if (execution.status.name === 'CONTINUED_AS_NEW') firstRun = execution.runId;
  await endChat(client, continued.workflowId, 'U1');
  if (!firstRun) throw new Error('the conversation did not continue as new');
  recorded.push(['chat-continued-as-new', continued.workflowId, firstRun]);
  recorded.push(['chat-after-continue', continued.workflowId]);

  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, workflowId, runId] of recorded) {
    const { stdout } = await execa(cli.path, [
      'workflow',
      'show',
      '--address',
      server.address,
      '--workflow-id',
      workflowId,
      ...(runId ? ['--run-id', runId] : []),
      '--output',
      'json',
    ]);
    fs.writeFileSync(path.join(outDir, `${name}.json`), stdout.trim() + '\n');
    process.stdout.write(`recorded ${name} (${workflowId})\n`);
  }
  process.stdout.write(`${recorded.length} histories in ${outDir} (${llmCalls} LLM calls)\n`);
} finally {
  await worker.stop();
  await server.stop();
  fs.rmSync(root, { recursive: true, force: true });
}
