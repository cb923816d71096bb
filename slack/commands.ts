/**
 * What the bot does with a command, whatever surface it came from (`!poc …`, `/poc …`, a
 * mention, a button, an approval word in a thread): parsing (parse.ts) → run lookup (lookup.ts) →
 * dispatch (here). The bot is a pure workflow client: every answer comes from Temporal (the
 * status query, visibility), every change goes to Temporal (start, cancel, the decide update).
 */
import type { Client } from '@temporalio/client';
import {
  ID_PREFIX,
  InputError,
  RunNotFoundError,
  cancelRun,
  decide,
  decisionUpdateId,
  endChat,
  getRunStatus,
  isFinalPhase,
  listHosts,
  say,
  slackRunId,
  startChat,
  startLlm,
  startPipeline,
  type ChatInput,
  type DecideResult,
  type DecisionAction,
  type LlmInput,
  type PipelineInput,
  type SlackTarget,
  type Started,
} from '../client/index.js';
import { chatModelFor, runUrl, type PocConfig } from '../core/config.js';
import { DECISION_ACTIONS, UsageError, helpText, type Command, type DecisionVerb } from '../client/grammar.js';
import { readStepLog } from '../client/logs.js';
import { runScheduleCommand } from '../client/schedules.js';
import { validateChatInput, validateLlmInput, validatePipelineInput } from '../core/validate.js';
import { refusal, type Access } from './auth.js';
import {
  defaultRun,
  openConversationOfThread,
  runsOfThread,
  visibleRunId,
  visibleRuns,
  workflowExists,
} from './lookup.js';
import { adaptPrefix, parseSlackCommand, slackUpdateId, type Invocation } from './parse.js';
import {
  buttonActionOf,
  notice,
  parseButtonValue,
  preformatted,
  renderHosts,
  renderLog,
  renderRunList,
  renderRunStatus,
  type SlackMessage,
} from '../render/slack.js';
import { escapeMrkdwn, who } from '../render/slack-text.js';

export type { Invocation } from './parse.js';

export interface BotContext {
  client: Client;
  config: PocConfig;
  access: Access;
  redact: (text: string) => string;
  log: (line: string) => void;
  /** How long one command may wait for Temporal before the answer is the error (default 15 s). */
  temporalTimeoutMs?: number;
}

export const TEMPORAL_TIMEOUT_MS = 15_000;

/** Temporal calls made by `fn` give up at the deadline, so a command is always answered. */
function withinDeadline<T>(ctx: BotContext, fn: () => Promise<T>): Promise<T> {
  return ctx.client.withDeadline(Date.now() + (ctx.temporalTimeoutMs ?? TEMPORAL_TIMEOUT_MS), fn);
}

/** How answers get to Slack; the app decides (thread reply, or ephemeral for slash commands). */
export interface Outbox {
  reply(message: SlackMessage): Promise<void>;
  /** A visible message in the channel (the status message of a slash-command run); returns its ts. */
  post(message: SlackMessage): Promise<string>;
  update(ts: string, message: SlackMessage): Promise<void>;
  remove(ts: string): Promise<void>;
}

const DECIDED_TEXT: Record<DecisionAction, string> = {
  retry: 'a retry of',
  skip: 'skipping',
  abort: 'aborting at',
  approve: 'approval of',
  approveAll: 'approval of every remaining gate from',
  deny: 'denial of',
};

/**
 * Runs one command and answers it. Never throws: every failure becomes a reply. Whoever the
 * access rule refuses gets the refusal, whatever the command (not even its grammar is checked).
 */
export async function executeCommand(ctx: BotContext, inv: Invocation, text: string, out: Outbox): Promise<void> {
  try {
    if (!ctx.access.permits(inv)) return await out.reply(notice(refusal(inv.user)));
    const command = parseSlackCommand(text);
    await withinDeadline(ctx, () => dispatch(ctx, inv, command, out));
  } catch (err) {
    await out
      .reply(errorReply(err, inv, ctx.redact))
      .catch((replyErr: Error) => ctx.log(`could not answer a command: ${replyErr.message}`));
  }
}

type CommandOf<N extends Command['name']> = Extract<Command, { name: N }>;

async function dispatch(ctx: BotContext, inv: Invocation, command: Command, out: Outbox): Promise<void> {
  switch (command.name) {
    case 'help':
      return helpCommand(inv, command, out, ctx);
    case 'run':
      return runCommand(ctx, inv, command, out);
    case 'llm':
      return llmCommand(ctx, inv, command, out);
    case 'chat':
      return chatCommand(ctx, inv, command, out);
    case 'end':
      return endCommand(ctx, inv, command, out);
    case 'status':
      return statusCommand(ctx, inv, command, out);
    case 'list':
      return listCommand(ctx, inv, command, out);
    case 'logs':
      return logsCommand(ctx, inv, command, out);
    case 'cancel':
      return cancelCommand(ctx, inv, command, out);
    case 'retry':
    case 'skip':
    case 'abort':
    case 'approve':
    case 'approve-all':
    case 'deny':
      return decisionCommand(ctx, inv, command, out);
    case 'schedule':
      return scheduleCommand(ctx, inv, command, out);
    case 'hosts':
      return out.reply(renderHosts(await listHosts(ctx.client, { taskQueue: ctx.config.taskQueue })));
    default:
      throw new UsageError(
        `"${command.name}" is not available in Slack; ${adaptPrefix('`!poc help`', inv)} lists the commands`,
      );
  }
}

/**
 * The update id of a decision sent by a message or a slash command: the same Slack request (a
 * redelivery) always sends the same id, so it answers one question however often it arrives.
 */
function updateIdOf(inv: Invocation): string {
  return decisionUpdateId('slack', inv.team, inv.channel, inv.ts ?? `trigger:${inv.triggerId ?? ''}`);
}

/** Which question a decision settled, in words: "*lint* of `pipeline-x` (the approval gate before it)". */
function answered(result: DecideResult, workflowId: string): string {
  const question = result.kind === 'approval' ? 'the approval gate before it' : 'after its failure';
  return `*${escapeMrkdwn(result.step)}* of \`${escapeMrkdwn(workflowId)}\` (${question})`;
}

/** The workflow id of `id` when the asker may see the run; otherwise "no run", as for an unknown id. */
function visible(ctx: BotContext, inv: Invocation, id: string): Promise<string> {
  return visibleRunId(ctx.client, ctx.access, inv, id);
}

function helpCommand(inv: Invocation, command: CommandOf<'help'>, out: Outbox, ctx: BotContext): Promise<void> {
  const title =
    inv.source === 'slash'
      ? '*poc-orchestrator* — `/poc <command>` (or `!poc <command>` in a channel, or mention me):'
      : '*poc-orchestrator* — `!poc <command>` (or `/poc <command>`, or mention me):';
  return out.reply(preformatted(title, adaptPrefix(helpText('slack', command.topic), inv), { redact: ctx.redact }));
}

async function runCommand(ctx: BotContext, inv: Invocation, command: CommandOf<'run'>, out: Outbox): Promise<void> {
  const input: PipelineInput = {
    goal: command.goal,
    steps: command.steps,
    onFailure: command.ask ? 'ask' : 'fail',
    requestedBy: inv.user,
    ...(command.approve ? { approve: command.approve } : {}),
    ...(command.labels ? { labels: command.labels } : {}),
    ...(command.repo ? { repo: command.repo } : {}),
    ...(command.ref ? { ref: command.ref } : {}),
    ...(command.queueTimeoutSeconds ? { queueTimeoutSeconds: command.queueTimeoutSeconds } : {}),
  };
  const start = (slack: SlackTarget, id: string) =>
    startPipeline(
      ctx.client,
      { ...input, slack },
      { id, idempotent: true, taskQueue: ctx.config.taskQueue, source: slackSource(inv.team, slack) },
    );
  if (inv.source !== 'slash') return startFromMessage(inv, start);
  validatePipelineInput(input);
  const goal = command.goal ? `: ${escapeMrkdwn(command.goal.slice(0, 200))}` : '';
  const intro = `:hourglass_flowing_sand: ${who(inv.user)} started a pipeline${goal}`;
  return startFromSlash(ctx, inv, out, 'pipeline', start, intro);
}

async function llmCommand(ctx: BotContext, inv: Invocation, command: CommandOf<'llm'>, out: Outbox): Promise<void> {
  const input: LlmInput = {
    backend: command.backend,
    model: command.model,
    prompt: command.prompt,
    requestedBy: inv.user,
  };
  if (command.system !== undefined) input.system = command.system;
  if (command.maxTokens !== undefined) input.maxTokens = command.maxTokens;
  if (command.temperature !== undefined) input.temperature = command.temperature;
  const start = (slack: SlackTarget, id: string) =>
    startLlm(
      ctx.client,
      { ...input, slack },
      { id, idempotent: true, taskQueue: ctx.config.taskQueue, source: slackSource(inv.team, slack) },
    );
  if (inv.source !== 'slash') return startFromMessage(inv, start);
  validateLlmInput(input);
  const intro = `:robot_face: ${who(inv.user)} asked ${escapeMrkdwn(command.backend)}/${escapeMrkdwn(command.model)}`;
  return startFromSlash(ctx, inv, out, 'llm', start, intro);
}

// Conversations: `!poc chat`, `/poc chat`, a mention or a direct message with a question, the
// replies in a conversation's thread, `!poc end` and the End button.

/**
 * The open conversation of the invocation's thread: the one its first message started (found by
 * id, without waiting for visibility), else any other open one reporting there.
 */
async function conversationOfThread(ctx: BotContext, inv: Invocation): Promise<string | undefined> {
  if (!inv.threadTs) return undefined;
  const own = `${ID_PREFIX.chat}${slackRunId(inv.team, inv.channel, inv.threadTs)}`;
  const description = await ctx.client.workflow
    .getHandle(own)
    .describe()
    .catch(() => undefined);
  if (description?.status.name === 'RUNNING') return own;
  return openConversationOfThread(ctx.client, inv.channel, inv.threadTs);
}

/** Says `text` in a conversation, once per Slack message (its update id comes from the message). */
async function sayInConversation(ctx: BotContext, inv: Invocation, workflowId: string, text: string): Promise<void> {
  // Nothing to answer on success: the model's answer appears in the thread.
  await say(ctx.client, workflowId, { text, by: inv.user }, { updateId: slackUpdateId(inv) });
}

async function chatCommand(ctx: BotContext, inv: Invocation, command: CommandOf<'chat'>, out: Outbox): Promise<void> {
  // Reached from executeCommand and from a question: both go through the one access rule.
  if (!ctx.access.permits(inv)) return out.reply(notice(refusal(inv.user)));
  const open = await conversationOfThread(ctx, inv);
  // In a conversation's thread, `!poc chat more words` is one more turn of it.
  if (open && command.prompt && !command.backend && !command.model)
    return sayInConversation(ctx, inv, open, command.prompt);
  const { backend, model } = chatModelFor(ctx.config.chat, command.backend, command.model);
  const input: ChatInput = {
    backend,
    model,
    requestedBy: inv.user,
    ...(command.prompt ? { prompt: command.prompt } : {}),
    ...(command.system ? { system: command.system } : {}),
  };
  const start = (slack: SlackTarget, id: string) =>
    startChat(
      ctx.client,
      { ...input, slack: { channel: slack.channel, threadTs: slack.threadTs } },
      { id, idempotent: true, taskQueue: ctx.config.taskQueue },
    );
  if (inv.source !== 'slash') return startFromMessage(inv, start);
  validateChatInput(input);
  const asked = `:speech_balloon: ${who(inv.user)} asked ${escapeMrkdwn(backend)}/${escapeMrkdwn(model)}`;
  const quote = command.prompt ? `: ${escapeMrkdwn(command.prompt.slice(0, 500))}` : '';
  return startFromSlash(ctx, inv, out, 'chat', start, asked, notice(`${asked}${quote}\n_Reply in the thread._`));
}

/**
 * A mention or a direct message that is not a command: a question. In the thread of an open
 * conversation it is its next turn; anywhere else it starts one.
 */
export async function askFromSlack(ctx: BotContext, inv: Invocation, text: string, out: Outbox): Promise<void> {
  try {
    await withinDeadline(ctx, () =>
      chatCommand(ctx, inv, { name: 'chat', prompt: text, keep: false, json: false }, out),
    );
  } catch (err) {
    await out
      .reply(errorReply(err, inv, ctx.redact))
      .catch((replyErr: Error) => ctx.log(`could not answer a question: ${replyErr.message}`));
  }
}

/**
 * A reply in a thread that holds an open conversation: the next turn, when its author may talk
 * to it (anyone else's reply is ignored: a thread is a conversation, not a command line).
 * False when the thread holds no open conversation.
 */
export async function replyToConversation(
  ctx: BotContext,
  inv: Invocation,
  text: string,
  out: Outbox,
): Promise<boolean> {
  if (!inv.threadTs || !text.trim()) return false;
  try {
    return await withinDeadline(ctx, async () => {
      const id = await conversationOfThread(ctx, inv);
      if (!id) return false;
      if (!ctx.access.permits(inv)) {
        ctx.log(`slack: ${inv.user} may not talk to ${id}; their reply is ignored`);
        return true;
      }
      await sayInConversation(ctx, inv, id, text);
      return true;
    });
  } catch (err) {
    await out.reply(errorReply(err, inv, ctx.redact)).catch(() => undefined);
    return true;
  }
}

async function endCommand(ctx: BotContext, inv: Invocation, command: CommandOf<'end'>, out: Outbox): Promise<void> {
  // A conversation the asker may not see is not found, as any run is.
  const id = command.id ? await visible(ctx, inv, command.id) : await conversationOfThread(ctx, inv);
  if (!id) {
    return out.reply(
      notice(`No conversation is open in this thread; ${adaptPrefix('`!poc end <id>`', inv)} ends one by its id.`),
    );
  }
  const final = await endChat(ctx.client, id, inv.user);
  // In its own thread the conversation says it has ended; elsewhere the answer says so.
  if (command.id || inv.source === 'slash')
    await out.reply(notice(`:checkered_flag: ${who(inv.user)} ended \`${escapeMrkdwn(final.id)}\`.`));
}

async function statusCommand(
  ctx: BotContext,
  inv: Invocation,
  command: CommandOf<'status'>,
  out: Outbox,
): Promise<void> {
  const id = command.id ? await visible(ctx, inv, command.id) : await defaultRun(ctx.client, inv, false);
  if (!id) {
    return out.reply(
      notice(`No runs started from this channel yet; ${adaptPrefix('`!poc list`', inv)} shows every run.`),
    );
  }
  const status = await getRunStatus(ctx.client, id);
  return out.reply(
    renderRunStatus(status, { runUrl: runUrl(ctx.config, status.id), interactive: false, redact: ctx.redact }),
  );
}

async function listCommand(ctx: BotContext, inv: Invocation, command: CommandOf<'list'>, out: Outbox): Promise<void> {
  const { limit, kind, phase } = command;
  const runs = await visibleRuns(ctx.client, ctx.access, inv, { limit, kind, phase });
  return out.reply(renderRunList(runs, { redact: ctx.redact }));
}

async function logsCommand(ctx: BotContext, inv: Invocation, command: CommandOf<'logs'>, out: Outbox): Promise<void> {
  const status = await getRunStatus(ctx.client, await visible(ctx, inv, command.id));
  if (status.kind !== 'pipeline') {
    return out.reply(
      notice(
        `\`${escapeMrkdwn(status.id)}\` is an LLM run and has no step logs; ` +
          `${adaptPrefix(`\`!poc status ${status.id}\``, inv)} shows its answer.`,
      ),
    );
  }
  const log = readStepLog(status, command.step, command.lines);
  return out.reply(renderLog({ workflowId: status.id, ...log }, { redact: ctx.redact }));
}

async function cancelCommand(
  ctx: BotContext,
  inv: Invocation,
  command: CommandOf<'cancel'>,
  out: Outbox,
): Promise<void> {
  const id = command.id ? await visible(ctx, inv, command.id) : await defaultRun(ctx.client, inv, true);
  if (!id) return out.reply(notice('Nothing to cancel: no run of this channel is queued or running.'));
  const workflowId = await cancelUnlessEnded(ctx, id);
  return out.reply(
    notice(
      `:no_entry_sign: ${who(inv.user)} asked to cancel \`${escapeMrkdwn(workflowId)}\`; ` +
        'its status message shows when it has stopped.',
    ),
  );
}

async function decisionCommand(
  ctx: BotContext,
  inv: Invocation,
  command: CommandOf<DecisionVerb>,
  out: Outbox,
): Promise<void> {
  const action = DECISION_ACTIONS[command.name];
  const workflowId = await visible(ctx, inv, command.id);
  const result = await decide(ctx.client, workflowId, { action, by: inv.user }, { updateId: updateIdOf(inv) });
  return out.reply(
    notice(`:ok_hand: ${who(inv.user)} chose ${DECIDED_TEXT[result.action]} ${answered(result, workflowId)}.`),
  );
}

/** Cancels a run, unless its own status already says it has ended (it may still be saying so in Slack). */
async function cancelUnlessEnded(ctx: BotContext, id: string): Promise<string> {
  const status = await getRunStatus(ctx.client, id);
  if (isFinalPhase(status.phase))
    throw new Error(`${status.id} has already ended (${status.phase}); nothing to cancel`);
  return cancelRun(ctx.client, status.id);
}

/** A run started by a message reports in that message's thread; its id comes from the message. */
async function startFromMessage(
  inv: Invocation,
  start: (slack: SlackTarget, id: string) => Promise<Started>,
): Promise<void> {
  if (!inv.ts) throw new Error('a message without a ts cannot start a run');
  // Nothing to say on success: the workflow posts the status message in this thread itself.
  await start({ channel: inv.channel, threadTs: inv.threadTs ?? inv.ts }, slackRunId(inv.team, inv.channel, inv.ts));
}

/**
 * Slash commands have no message to thread under and no ts to derive an id from: the bot posts
 * the status message itself, the run updates it, and the id comes from the trigger id (the same
 * on a repeated delivery). A second delivery finds the run and posts nothing.
 */
async function startFromSlash(
  ctx: BotContext,
  inv: Invocation,
  out: Outbox,
  kind: 'pipeline' | 'llm' | 'chat',
  start: (slack: SlackTarget, id: string) => Promise<Started>,
  intro: string,
  /** What the posted message says once the run started (runs that keep no status message of their own). */
  startedMessage?: SlackMessage,
): Promise<void> {
  if (!inv.triggerId) throw new Error('a slash command without a trigger id cannot start a run');
  const id = slackRunId(inv.team, inv.channel, `trigger:${inv.triggerId}`);
  const workflowId = `${ID_PREFIX[kind]}${id}`;
  if (await workflowExists(ctx.client, workflowId)) {
    return out.reply(notice(`This command already started \`${workflowId}\`; its status message is in the channel.`));
  }
  let ts: string;
  try {
    ts = await out.post(notice(`${intro} — starting…`));
  } catch (err) {
    throw new Error(
      `I cannot post in this channel (${(err as Error).message}); invite me with \`/invite @poc\` and try again`,
    );
  }
  let started: Started;
  try {
    started = await start({ channel: inv.channel, threadTs: ts, messageTs: ts }, id);
  } catch (err) {
    await out.update(ts, errorReply(err, inv, ctx.redact)).catch(() => undefined);
    return;
  }
  // Two deliveries raced past the check: the other one's message is the run's; this one goes.
  if (!started.started) await out.remove(ts).catch(() => undefined);
  else if (startedMessage) await out.update(ts, startedMessage).catch(() => undefined);
}

async function scheduleCommand(
  ctx: BotContext,
  inv: Invocation,
  command: CommandOf<'schedule'>,
  out: Outbox,
): Promise<void> {
  const lines: string[] = [];
  await runScheduleCommand(ctx.client, ctx.config, { ...command, json: false }, (text) => lines.push(text));
  return out.reply(
    preformatted(
      `:calendar: schedule ${escapeMrkdwn(command.action)}`,
      adaptPrefix(lines.join('\n').replace(/`poc /g, '`!poc '), inv),
      { redact: ctx.redact },
    ),
  );
}

/** A failure as a reply that says what was wrong and, for usage mistakes, the right form. */
export function errorReply(
  err: unknown,
  inv: Pick<Invocation, 'source'>,
  redact: (text: string) => string,
): SlackMessage {
  const prefix = (text: string) => adaptPrefix(text, inv);
  if (err instanceof UsageError) {
    const base = err.usage ? err.message.slice(0, err.message.length - `; usage: ${err.usage}`.length) : err.message;
    const usage = err.usage ? `\nUsage: \`${escapeMrkdwn(prefix(err.usage))}\`` : '';
    return notice(`:warning: ${escapeMrkdwn(redact(prefix(base)))}${usage}`);
  }
  if (err instanceof InputError) return notice(`:warning: ${escapeMrkdwn(redact(err.message))}`);
  if (err instanceof RunNotFoundError) {
    return notice(`:mag: No run "${escapeMrkdwn(err.id)}"; ${prefix('`!poc list`')} shows the recent ones.`);
  }
  const message = (err as Error)?.message ?? String(err);
  const causes: string[] = [];
  for (let e: unknown = err; e && causes.length < 5; e = (e as { cause?: unknown }).cause)
    causes.push(String((e as Error).message ?? e));
  if (causes.some((m) => /\b(UNAVAILABLE|DEADLINE_EXCEEDED)\b|[Dd]eadline exceeded|cannot reach Temporal/.test(m))) {
    return notice(
      `:boom: Temporal is not reachable right now (${escapeMrkdwn(redact(message).slice(0, 300))}); ` +
        'try again in a moment.',
    );
  }
  return notice(`:boom: ${escapeMrkdwn(redact(message).slice(0, 2_000))}`);
}

/**
 * A whole-message "yes"/"no" in the thread of a run that waits for an approval answers it.
 * Returns false when no run of the thread waits for one (then it was just conversation).
 */
export async function answerApprovalReply(
  ctx: BotContext,
  inv: Invocation,
  answer: 'approve' | 'deny',
  out: Outbox,
): Promise<boolean> {
  if (!inv.threadTs) return false;
  const threadTs = inv.threadTs;
  return withinDeadline(ctx, () => answerApproval(ctx, inv, threadTs, answer, out));
}

async function answerApproval(
  ctx: BotContext,
  inv: Invocation,
  threadTs: string,
  answer: 'approve' | 'deny',
  out: Outbox,
): Promise<boolean> {
  const candidates = (await runsOfThread(ctx.client, inv.channel, threadTs)).filter((run) => !isFinalPhase(run.phase));
  for (const run of candidates) {
    const status = await getRunStatus(ctx.client, run.workflowId).catch(() => undefined);
    // Pipelines at an approval gate, and conversations whose tool call waits for one.
    if (
      (status?.kind !== 'pipeline' && status?.kind !== 'chat') ||
      status.phase !== 'AWAITING_DECISION' ||
      status.pendingDecision?.kind !== 'approval'
    )
      continue;
    if (!ctx.access.permits(inv, inv.channel)) {
      await out.reply(notice(refusal(inv.user)));
      return true;
    }
    try {
      // The id comes from the reply itself: delivered again after this question is settled, it
      // gets this answer back from the server and never answers the next question.
      const result = await decide(
        ctx.client,
        status.id,
        { action: answer, by: inv.user, decisionId: status.pendingDecision.id },
        { updateId: updateIdOf(inv) },
      );
      const verb = result.action === 'deny' ? 'denied' : 'approved';
      await out.reply(notice(`:ok_hand: ${who(inv.user)} ${verb} ${answered(result, status.id)}.`));
    } catch (err) {
      await out.reply(errorReply(err, inv, ctx.redact));
    }
    return true;
  }
  return false;
}

export interface ButtonClick {
  actionId: string;
  value: unknown;
  team: string;
  user: string;
  channel: string;
  /** The message the button is on, and when it was clicked: together, one click (redelivered or not). */
  messageTs?: string;
  actionTs?: string;
}

export interface ClickOutbox {
  /** Only the clicker sees it (refusals, stale clicks). */
  ephemeral(message: SlackMessage): Promise<void>;
  /** Everyone in the run's thread sees it. */
  threadReply(message: SlackMessage): Promise<void>;
}

/**
 * A button of a status message. Decisions carry the id of the question they answer, so a click
 * on an older message (or a second click) is refused by the workflow, not acted upon.
 */
export async function executeButton(ctx: BotContext, click: ButtonClick, out: ClickOutbox): Promise<void> {
  const action = buttonActionOf(click.actionId);
  if (!action) return; // The link button: Slack opens the URL, nothing to do here.
  try {
    const target = parseButtonValue(click.value);
    if (!target)
      return await out.ephemeral(notice(':warning: That button carries no run I know; use a newer status message.'));
    if (!ctx.access.permits(click)) return await out.ephemeral(notice(refusal(click.user)));
    const workflowId = await withinDeadline(ctx, () => visibleRunId(ctx.client, ctx.access, click, target.workflowId));
    if (action === 'cancel') {
      await withinDeadline(ctx, () => cancelUnlessEnded(ctx, workflowId));
      return await out.threadReply(
        notice(`:no_entry_sign: ${who(click.user)} cancelled \`${escapeMrkdwn(workflowId)}\`.`),
      );
    }
    // The conversation posts its own closing notice in the thread.
    if (action === 'end')
      return void (await withinDeadline(ctx, () => endChat(ctx.client, target.workflowId, click.user)));
    // The workflow's next status update shows who decided and removes the buttons.
    const { team, channel, messageTs = '', actionId, actionTs = '', user } = click;
    const updateId = decisionUpdateId('slack-click', team, channel, messageTs, actionId, actionTs, user);
    await withinDeadline(ctx, () =>
      decide(ctx.client, workflowId, { action, by: click.user, decisionId: target.decisionId }, { updateId }),
    );
  } catch (err) {
    const reason = errorReply(err, { source: 'message' }, ctx.redact);
    await out
      .ephemeral(notice(`That click did nothing: ${reason.text.replace(/^:[a-z_]+: /, '')}`))
      .catch((e: Error) => ctx.log(`could not answer a click: ${e.message}`));
  }
}

/** The Web UI's "source" of a run started here: a link that opens its Slack thread (Temporal markdown). */
export function slackSource(team: string, slack: SlackTarget): string {
  const ts = slack.threadTs ?? slack.messageTs;
  if (!ts) return `Slack channel ${slack.channel}`;
  const url = `https://app.slack.com/client/${team}/${slack.channel}/thread/${slack.channel}-${ts}`;
  return `[Slack thread ${slack.channel}/${ts}](${url})`;
}
