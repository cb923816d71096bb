/**
 * `conversation` (`chat-<id>`): one LLM thread as one workflow. The first prompt and everything
 * said with the `say` update become user turns; each model request is an activity with the
 * conversation so far, streamed into one Slack message per answer; tools the workspace allows
 * run under approval (workflows/chat-tools.ts). `end` (an update or a signal), a cancel or the
 * idle timeout close it.
 *
 * Exactly once where it costs: an answered turn is in history, so a worker that dies and a
 * workflow that replays never ask the model again for it; only the request in flight at a crash
 * is asked again. A tool's child pipeline is started once and its result recorded once.
 *
 * Bounded: the transcript keeps the newest turns within `contextChars` (workflows/transcript.ts
 * folds older exchanges into a digest), and at the first quiet moment after `maxHistoryEvents`
 * events (or when the server suggests it) the workflow continues as new with everything it
 * knows in `carried` — a thread of hundreds of turns is a chain of short histories.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ChatPlan } from '../activities/chat.js';
import {
  FAILURE_TYPES,
  chatChunkSignal,
  endSignal,
  endUpdate,
  saySignal,
  sayUpdate,
  statusQuery,
  type ChatCarried,
  type ChatInput,
  type ChatStatus,
  type ChatTurn,
  type ChatUsage,
  type SayRequest,
  type ChatEndView,
  type ChatMessageView,
  type ChatToolView,
} from '../core/contract.js';
import { InputError, validateChatInput, validateSay, type ValidChatInput } from '../core/validate.js';
import { startChatReporter } from './chat-reporter.js';
import { describeCall, runToolCall, type ToolContext, type ToolResult, type ToolState } from './chat-tools.js';
import { decisionGate } from './decisions.js';
import { currentDetailsOf, withSummary } from './details.js';
import { applicationFailureOf, publishRun, setPhase } from './runs.js';
import { TURN_TEXT_LIMITS, cutText, foldTranscript, lastUserTurn, toMessages } from './transcript.js';

const { answerChat } = proxyActivities<Activities>({
  // Streaming keeps long answers alive; this bounds one attempt, the heartbeat notices a dead worker.
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '20 seconds',
  // "Ended" must mean the request is closed (and no longer billed), so wait for the activity.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 6,
    nonRetryableErrorTypes: [FAILURE_TYPES.llmFatal, FAILURE_TYPES.invalidInput],
  },
});

const { prepareChat } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: [FAILURE_TYPES.invalidInput],
  },
});

/** Rounds of tool calls one answer may take before the model has to answer in words. */
const MAX_TOOL_ROUNDS = 8;
/** User turns waiting for an answer before `say` refuses more (a flood, not a conversation). */
const MAX_WAITING_TURNS = 20;
/** History bytes after which the next quiet moment continues as new (Temporal's own limit is 50 MB). */
const MAX_HISTORY_BYTES = 4 * 1024 * 1024;
/** Update ids remembered across continue-as-new for deduplication. */
const SEEN_UPDATES_KEPT = 500;
const SLACK_USER = /^[UW][A-Z0-9]{2,30}$/;

function now(): string {
  return new Date().toISOString();
}

function parseInput(raw: unknown): ValidChatInput {
  try {
    return validateChatInput(raw);
  } catch (err) {
    if (err instanceof InputError)
      throw ApplicationFailure.nonRetryable(`invalid conversation input: ${err.message}`, FAILURE_TYPES.invalidInput);
    throw err;
  }
}

function initialStatus(input: ValidChatInput): ChatStatus {
  const at = now();
  return {
    id: workflowInfo().workflowId,
    kind: 'chat',
    phase: 'RUNNING',
    waitingFor: 'user',
    backend: input.backend,
    model: input.model,
    requestedBy: input.requestedBy ?? null,
    workspace: input.workspace ?? null,
    tools: [],
    turns: [],
    earlierTurns: 0,
    summary: null,
    answeredUpTo: 0,
    usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, requests: 0, unpriced: 0 },
    pendingDecision: null,
    decisions: [],
    generation: 0,
    error: null,
    endedBy: null,
    startedAt: at,
    lastTurnAt: at,
    idleDeadline: null,
    finishedAt: null,
    slackMessage: null,
  };
}

export async function conversationWorkflow(rawInput: unknown): Promise<ChatStatus> {
  const input = parseInput(rawInput);
  const carried = input.carried;
  const status: ChatStatus = carried
    ? { ...carried.status, generation: carried.status.generation + 1 }
    : initialStatus(input);
  setHandler(statusQuery, () => status);
  // A continued run inherits its search attributes and memo; only the first announces itself.
  if (!carried) publishRun('chat', status, { prompt: (input.prompt ?? '').slice(0, 200) }, input.slack);

  const seen = new Map<string, number>((carried?.seenUpdates ?? []).map(({ id, turn }) => [id, turn]));
  const live = new Map<string, ChatToolView>();
  let nextN = status.earlierTurns + status.turns.length + 1;
  let streaming: ChatTurn | undefined;
  let ending: { by: string | null; reason: ChatEndView['reason'] } | undefined;
  let finished = false;
  let round: CancellationScope | undefined;

  const newestAnswer = () => [...status.turns].reverse().find((t) => t.role === 'assistant')?.n ?? 0;
  const reporter = startChatReporter(input.slack, (n) => messageView(n), carried?.messages ?? {});
  /** The message of answer `n` changed: Slack follows, and the Web UI's current details now. */
  const show = (n: number) => {
    setCurrentDetails(currentDetailsOf(status));
    if (n) reporter.changed(n);
  };
  const changed = () => show(newestAnswer());

  function messageView(n: number): ChatMessageView | undefined {
    const at = status.turns.findIndex((t) => t.n === n);
    const turn = status.turns[at];
    if (!turn || turn.role !== 'assistant') return undefined;
    const before = status.turns[at - 1];
    const pending = status.pendingDecision;
    const calls = turn.toolCalls ?? [];
    return {
      key: n,
      conversationId: status.id,
      backend: status.backend,
      model: status.model,
      text: turn.text,
      streaming: Boolean(turn.streaming),
      attempt: turn.attempt ?? 1,
      error: turn.error ?? null,
      tools: calls.map((call) => toolView(call.id, call.name, describeCall(call.name, call.input))),
      usage: turn.usage,
      totals: status.usage,
      pending: pending && calls.some((c) => live.get(c.id)?.state === 'awaiting') ? pending : null,
      latest: n === newestAnswer() && !ending && !finished,
      question:
        before?.role === 'user' && before.by && !SLACK_USER.test(before.by)
          ? { by: before.by, text: before.text.slice(0, 1_000) }
          : null,
    };
  }

  function toolView(callId: string, name: string, what: string): ChatToolView {
    const result = status.turns.find((t) => t.role === 'tool' && t.toolCallId === callId);
    const shown = live.get(callId);
    if (result) {
      const state = result.outcome === 'done' ? 'done' : (result.outcome ?? 'failed');
      return {
        name,
        what,
        state,
        by: result.by,
        runId: result.runId ?? null,
        result: shown?.result ?? result.text.split('\n')[0],
      };
    }
    return shown ?? { name, what, state: 'awaiting', by: null, runId: null, result: null };
  }

  const decisions = decisionGate(status, (awaiting) => {
    setPhase(status, awaiting ? 'AWAITING_DECISION' : 'RUNNING');
    status.waitingFor = awaiting ? 'decision' : 'tool';
    changed();
  });

  function addUserTurn({ text, by }: Required<SayRequest>): number {
    const n = nextN++;
    status.turns.push({ n, role: 'user', text: cutText(text, TURN_TEXT_LIMITS.user), usage: null, by, at: now() });
    status.lastTurnAt = now();
    setCurrentDetails(currentDetailsOf(status));
    return n;
  }

  const unanswered = () => lastUserTurn(status.turns) > status.answeredUpTo;
  const isOpen = () => !ending && !finished && status.phase !== 'FAILED';

  setHandler(
    sayUpdate,
    (request) => {
      const id = currentUpdateInfo()?.id;
      const known = id !== undefined ? seen.get(id) : undefined;
      if (known !== undefined) return { turn: known, duplicate: true };
      const turn = addUserTurn(validateSay(request));
      if (id !== undefined) {
        seen.set(id, turn);
        if (seen.size > SEEN_UPDATES_KEPT) seen.delete(seen.keys().next().value as string);
      }
      return { turn, duplicate: false };
    },
    {
      validator: (request) => {
        const id = currentUpdateInfo()?.id;
        if (id !== undefined && seen.has(id)) return;
        if (!isOpen()) throw new Error(`${status.id} has ended; start a new conversation`);
        try {
          validateSay(request);
        } catch (err) {
          throw new Error(err instanceof InputError ? `say: ${err.message}` : String(err));
        }
        const waiting = status.turns.filter((t) => t.role === 'user' && t.n > status.answeredUpTo).length;
        if (waiting >= MAX_WAITING_TURNS)
          throw new Error(`${waiting} messages already wait for an answer; wait for it before saying more`);
      },
    },
  );
  setHandler(saySignal, (request) => {
    if (!isOpen()) return;
    try {
      addUserTurn(validateSay(request));
    } catch {
      // A signal has no one to answer: a bad one is dropped (the update says why).
    }
  });

  const requestEnd = (by: string | null, reason: ChatEndView['reason']) => {
    if (ending) return;
    ending = { by, reason };
    round?.cancel();
  };
  setHandler(
    endUpdate,
    async (request) => {
      requestEnd(request?.by ?? null, 'user');
      await condition(() => finished);
      return status;
    },
    {
      validator: (_request) => {
        if (!isOpen()) throw new Error(`${status.id} has already ended`);
      },
    },
  );
  setHandler(endSignal, (request) => requestEnd(request?.by ?? null, 'user'));

  setHandler(chatChunkSignal, ({ turn, attempt, text }) => {
    const t = streaming;
    if (!t || t.n !== turn || attempt < (t.attempt ?? 1)) return; // Late text of another turn or attempt.
    if (attempt > (t.attempt ?? 1)) {
      t.attempt = attempt;
      t.text = '';
    }
    if (t.text.length < TURN_TEXT_LIMITS.assistant) t.text += text.slice(0, TURN_TEXT_LIMITS.assistant - t.text.length);
    show(t.n);
  });

  const tools: ToolState = {
    plan: carried?.plan ?? { workspace: null, tools: [], steps: [] },
    approveAllBy: carried?.approveAllBy ?? null,
    toolRuns: carried?.toolRuns ?? 0,
    lastRunId: carried?.lastRunId ?? null,
  };
  const toolContext: ToolContext = {
    conversationId: status.id,
    state: tools,
    decisions,
    decisionTimeoutSeconds: input.decisionTimeoutSeconds,
    requestedBy: status.requestedBy,
    slack: input.slack,
    live,
    changed,
    running: () => {
      status.waitingFor = 'tool';
      changed();
    },
    now,
  };

  function addUsage(usage: ChatUsage) {
    const total = status.usage;
    total.inputTokens += usage.inputTokens;
    total.outputTokens += usage.outputTokens;
    total.requests += 1;
    if (usage.costUsd === null) total.unpriced += 1;
    // Ten decimal places, as providers/prices.ts rounds each request: the sum must not drift.
    else total.costUsd = Math.round(((total.costUsd ?? 0) + usage.costUsd) * 1e10) / 1e10;
  }

  /** One model request: the next assistant turn, streamed into its message. */
  async function ask(): Promise<ChatTurn> {
    const turn: ChatTurn = { n: nextN++, role: 'assistant', text: '', usage: null, by: null, at: now() };
    turn.streaming = true;
    turn.attempt = 1;
    const messages = toMessages(status.turns);
    const upTo = lastUserTurn(status.turns);
    const previous = newestAnswer();
    status.turns.push(turn);
    streaming = turn;
    status.waitingFor = 'model';
    if (previous) show(previous); // The End button moves to the new message.
    show(turn.n);
    try {
      const answer = await withSummary(answerChat, `model: answer ${turn.n}`, {
        backend: status.backend,
        model: status.model,
        system: input.system,
        digest: status.summary,
        maxTokens: input.maxTokens,
        temperature: input.temperature,
        messages,
        tools: { names: tools.plan.tools, steps: tools.plan.steps },
        turn: turn.n,
      });
      turn.text = cutText(answer.text, TURN_TEXT_LIMITS.assistant);
      turn.usage = answer.usage;
      turn.attempt = answer.attempts;
      if (answer.toolCalls.length) turn.toolCalls = uniqueIds(answer.toolCalls, turn.n);
      addUsage(answer.usage);
    } catch (err) {
      if (isCancellation(err)) {
        turn.error = 'stopped: the conversation ended';
        throw err;
      }
      turn.error = applicationFailureOf(err)?.message ?? String((err as Error)?.message ?? err);
    } finally {
      delete turn.streaming;
      streaming = undefined;
      status.answeredUpTo = Math.max(status.answeredUpTo, upTo);
      status.lastTurnAt = now();
      show(turn.n);
    }
    return turn;
  }

  /** Answers what was said: model requests and the tool calls they make, until the model answers in words. */
  async function answerRound(): Promise<void> {
    for (let rounds = 1; ; rounds++) {
      const turn = await ask();
      const calls = turn.toolCalls ?? [];
      if (!calls.length) return;
      for (const [index, call] of calls.entries()) {
        const result =
          rounds > MAX_TOOL_ROUNDS ? limitResult(call.id, call.name) : await runToolCall(toolContext, call, index);
        status.turns.push({ n: nextN++, ...result });
        status.waitingFor = 'model';
        show(turn.n);
      }
      if (rounds > MAX_TOOL_ROUNDS) return;
    }
  }

  function limitResult(callId: string, name: string): ToolResult {
    return {
      role: 'tool',
      text: `Not run: ${MAX_TOOL_ROUNDS} rounds of tool calls in one answer is the limit; answer in words now.`,
      usage: null,
      by: null,
      at: now(),
      toolCallId: callId,
      tool: name,
      outcome: 'invalid',
    };
  }

  async function answerInScope(): Promise<void> {
    round = new CancellationScope();
    try {
      await round.run(answerRound);
    } catch (err) {
      if (!(isCancellation(err) && ending)) throw err;
    } finally {
      round = undefined;
      live.clear();
      const folded = foldTranscript(status.turns, status.summary, input.contextChars);
      status.turns = folded.turns;
      status.earlierTurns += folded.folded;
      status.summary = folded.digest;
    }
  }

  /** Closes the conversation; not cancellable: a cancelled run still says so in its thread. */
  function finish(phase: 'DONE' | 'CANCELLED' | 'FAILED'): Promise<void> {
    return CancellationScope.nonCancellable(async () => {
      status.waitingFor = null;
      status.pendingDecision = null;
      status.idleDeadline = null;
      status.finishedAt = now();
      if (ending) status.endedBy = ending.by ?? (ending.reason === 'idle' ? 'idle' : 'someone');
      setPhase(status, phase);
      finished = true;
      changed();
      await reporter.end({
        conversationId: status.id,
        by: ending?.by ?? null,
        reason: phase === 'FAILED' ? 'failed' : (ending?.reason ?? (phase === 'CANCELLED' ? 'cancelled' : 'user')),
        turns: status.earlierTurns + status.turns.length,
        totals: status.usage,
        error: status.error,
      });
      await condition(allHandlersFinished);
    });
  }

  function historyIsLong(): boolean {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      info.historyLength >= input.maxHistoryEvents ||
      info.historySize >= MAX_HISTORY_BYTES
    );
  }

  /** Continues as new with everything the conversation knows, unless it is ending meanwhile. */
  async function continueWithCarried(): Promise<void> {
    await reporter.flush();
    // An `end` under way waits for the conversation to finish: it wins over continuing.
    await condition(() => allHandlersFinished() || ending !== undefined);
    if (ending) return;
    const newest = newestAnswer();
    const next: ChatCarried = {
      status,
      seenUpdates: [...seen.entries()].map(([id, turn]) => ({ id, turn })),
      approveAllBy: tools.approveAllBy,
      toolRuns: tools.toolRuns,
      lastRunId: tools.lastRunId,
      messages: newest && reporter.posted[String(newest)] ? { [String(newest)]: reporter.posted[String(newest)] } : {},
      plan: tools.plan,
    };
    const { prompt: _first, carried: _previous, ...settings } = input;
    await continueAsNew<typeof conversationWorkflow>({ ...settings, carried: next } satisfies ChatInput);
  }

  try {
    if (!carried) {
      let plan: ChatPlan;
      try {
        plan = await prepareChat({ workspace: input.workspace });
      } catch (err) {
        const failure = applicationFailureOf(err);
        status.error = failure?.message ?? String(err);
        await finish('FAILED');
        throw ApplicationFailure.nonRetryable(`conversation cannot start: ${status.error}`, FAILURE_TYPES.invalidInput);
      }
      tools.plan = { workspace: plan.workspace, tools: plan.tools, steps: plan.steps };
      status.workspace = plan.workspace;
      status.tools = plan.tools;
      if (input.prompt) addUserTurn({ text: input.prompt, by: input.requestedBy ?? 'someone' });
    }
    for (;;) {
      if (ending) break;
      if (unanswered()) {
        await answerInScope();
        continue;
      }
      status.waitingFor = 'user';
      if (historyIsLong()) {
        await continueWithCarried();
        continue;
      }
      const idleMs = Date.parse(status.lastTurnAt) + input.idleTimeoutSeconds * 1000 - Date.now();
      status.idleDeadline = new Date(Date.now() + Math.max(0, idleMs)).toISOString();
      setCurrentDetails(currentDetailsOf(status)); // Waiting for the user now; costs no history.
      const woke = idleMs > 0 && (await condition(() => ending !== undefined || unanswered(), idleMs));
      if (!woke && !ending) requestEnd(null, 'idle');
    }
    await finish('DONE');
    return status;
  } catch (err) {
    if (isCancellation(err) && !finished) {
      ending ??= { by: null, reason: 'cancelled' };
      await finish('CANCELLED');
    }
    throw err;
  }
}

/** Tool call ids unique within the transcript (some servers reuse `call_0` in every answer). */
function uniqueIds(calls: ChatTurn['toolCalls'] & object, n: number) {
  return calls.map((call, i) => ({ ...call, id: call.id && !/^call_\d+$/.test(call.id) ? call.id : `call_${n}_${i}` }));
}
