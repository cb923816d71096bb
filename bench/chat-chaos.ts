/**
 * The conversation scenario of bench/chaos.ts: conversations run side by side while the worker
 * is SIGKILLed twice — once while their `run_steps` tools run (a Docker step in a child
 * pipeline), once while the model streams an answer. Counted, not assumed:
 *
 *   - requests per answered turn: model requests the fake LLM answered in full (billed) over the
 *     answers in the transcripts — 1.00 means no answered turn was asked again after a crash;
 *   - requests cut off by a kill and asked again (they were never answered, so never billed whole);
 *   - tools run per approval: executions of the approved step over approvals, and finished tools
 *     run again (must be 0; a step in flight at the kill runs again from a clean container).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { decide, endChat, getChatStatus, say, startChat, type ChatStatus } from '../client/index.js';
import type { FakeLlmServer, RecordedRequest } from '../test/support/fake-llm.js';
import { fixtureWorkspace } from '../test/support/images.js';
import type { ChaosRow } from './chaos.js';

export interface ChatChaosOptions {
  client: Client;
  taskQueue: string;
  fakeLlm: FakeLlmServer;
  conversations: number;
  dir: string;
  /** SIGKILLs the worker and starts a new one. */
  killWorker(): Promise<void>;
  log(line: string): void;
  /** The child pipelines started here are added (the bench checks no container of theirs is left). */
  runIds: string[];
}

const EXPLAIN = 'explain what happened';

function lastUser(request: RecordedRequest): string {
  const messages = (request.body?.messages ?? []) as { role: string; content: unknown }[];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  return typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`chat chaos: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runChatChaos(opts: ChatChaosOptions): Promise<ChaosRow> {
  const { client, fakeLlm, log } = opts;
  const row: ChaosRow = {
    scenario: 'worker SIGKILL mid-tool and mid-answer (conversations)',
    runs: opts.conversations,
    done: 0,
    lost: 0,
    finishedStepsRunTwice: 0,
    inFlightStepsRerun: 0,
    containersLeft: 0,
    note: '',
  };
  // Each `test` run appends a line at its start and another when it finishes. A workspace per
  // conversation: one pipeline runs at a time per workspace, and the kill should find every step running.
  const workspaces = Array.from({ length: opts.conversations }, (_, i) =>
    fixtureWorkspace(
      path.join(opts.dir, `ws-chat-${i}`),
      {
        test:
          'echo start >> "runner/counts/$POC_RUN_ID.test" && sleep 3 && ' +
          'echo end >> "runner/counts/$POC_RUN_ID.test" && echo "7 passed"',
      },
      { files: { 'runner/counts/.keep': '' }, config: { chat: { tools: ['run_steps'] } } },
    ),
  );
  const counts = (i: number, runId: string) => {
    const file = path.join(workspaces[i], 'runner', 'counts', `${runId}.test`);
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
    return { started: lines.filter((l) => l === 'start').length, finished: lines.filter((l) => l === 'end').length };
  };

  // The model: a tool call for the first question, an answer citing the tool, a long streamed
  // answer that holds once (the kill comes while it streams), short answers otherwise.
  const heldOnce = new Set<string>();
  fakeLlm.defaultBehaviour = {
    respond: (request) => {
      const question = lastUser(request);
      const sent = JSON.stringify(request.body?.messages ?? []);
      const conversation = /conversation \d+/.exec(sent)?.[0] ?? '?';
      if (question.startsWith('run the tests') && !sent.includes('"role":"tool"'))
        return { toolCalls: [{ name: 'run_steps', arguments: { steps: ['test'] } }] };
      if (question === EXPLAIN) {
        const chunks = Array.from({ length: 8 }, (_, i) => `part ${i} `);
        if (heldOnce.has(conversation)) return { chunks };
        heldOnce.add(conversation);
        return { chunks, pauseAfterChunks: 3 };
      }
      return { chunks: [`answer for ${conversation}`] };
    },
  };
  const before = fakeLlm.requests.length;
  const ids: string[] = [];
  for (let i = 0; i < opts.conversations; i++) {
    const { workflowId } = await startChat(
      client,
      {
        backend: 'openai',
        model: 'gpt-4o-mini',
        prompt: `run the tests for conversation ${i}`,
        workspace: workspaces[i],
      },
      { taskQueue: opts.taskQueue },
    );
    ids.push(workflowId);
  }
  const childOf = (id: string) => `pipeline-${id.slice('chat-'.length)}-t1`;
  opts.runIds.push(...ids.map(childOf));

  // 1. Approve every tool call, then kill the worker while the steps run.
  for (const id of ids) {
    const asking = await until(`${id} to ask`, async () => {
      const s = await getChatStatus(client, id);
      return s.pendingDecision ? s : undefined;
    });
    await decide(client, id, { action: 'approve', by: 'chaos', decisionId: asking.pendingDecision?.id });
  }
  await until('every step running', async () =>
    ids.every((id, i) => counts(i, childOf(id)).started > 0) ? true : undefined,
  );
  await opts.killWorker();
  log(`chat: killed the worker with ${ids.length} tool step(s) running`);
  const runsWhenAnswered = new Map<string, number>();
  for (const [i, id] of ids.entries()) {
    await until(`${id} to answer after its tool`, async () => {
      const s = await getChatStatus(client, id);
      return s.answeredUpTo >= 1 && s.waitingFor === 'user' ? s : undefined;
    });
    runsWhenAnswered.set(id, counts(i, childOf(id)).started);
  }

  // 2. Kill the worker while every conversation streams its next answer.
  for (const id of ids) await say(client, id, { text: EXPLAIN, by: 'chaos' });
  await until('every answer streaming', async () =>
    fakeLlm.requests.filter((r) => r.chunksSent >= 3 && !r.finished && !r.aborted).length >= ids.length
      ? true
      : undefined,
  );
  await opts.killWorker();
  log(`chat: killed the worker with ${ids.length} answer(s) streaming`);

  // 3. One more turn each, then end.
  const finals: ChatStatus[] = [];
  for (const id of ids) {
    const explained = await until(`${id} to finish its answer`, async () => {
      const s = await getChatStatus(client, id);
      return s.answeredUpTo >= 3 && s.waitingFor === 'user' ? s : undefined;
    });
    const said = await say(client, id, { text: 'thanks', by: 'chaos' });
    await until(`${id} to answer the thanks`, async () => {
      const s = await getChatStatus(client, id);
      return s.answeredUpTo >= said.turn && s.waitingFor === 'user' ? s : undefined;
    });
    finals.push(await endChat(client, id, 'chaos'));
    if (!explained.turns.some((t) => t.role === 'assistant' && t.text.includes('part 7'))) row.lost += 1;
  }

  const requests = fakeLlm.requests.slice(before).filter((r) => r.method === 'POST');
  const billed = requests.filter((r) => r.finished && !r.aborted && (r.behaviour.status ?? 200) < 400);
  const answers = finals.reduce((n, s) => n + s.turns.filter((t) => t.role === 'assistant' && !t.error).length, 0);
  const aborted = requests.filter((r) => r.aborted).length;
  let toolRuns = 0;
  for (const [i, s] of finals.entries()) {
    const { started } = counts(i, childOf(s.id));
    toolRuns += started;
    // A run that starts after the tool answered would be a finished tool run again.
    if (started > (runsWhenAnswered.get(s.id) ?? started)) row.finishedStepsRunTwice += 1;
    if (s.phase === 'DONE' && s.usage.requests === s.turns.filter((t) => t.role === 'assistant').length) row.done += 1;
  }
  row.lost += opts.conversations - row.done;
  row.inFlightStepsRerun = aborted + (toolRuns - ids.length);
  const perTurn = (billed.length / Math.max(1, answers)).toFixed(2);
  const perApproval = (toolRuns / ids.length).toFixed(2);
  row.note =
    `requests per answered turn ${perTurn} (${billed.length} billed / ${answers} answers), ` +
    `${aborted} cut off by a kill and asked again; tools run per approval ${perApproval} ` +
    `(${toolRuns} runs / ${ids.length} approvals: every step was in flight at the kill and ran again ` +
    'from a clean container; none ran again once finished)';
  return row;
}
