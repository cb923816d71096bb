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
  getRunStatus,
  isFinalPhase,
  listHosts,
  listRuns,
  slackRunId,
  startLlm,
  startPipeline,
  type DecisionAction,
  type LlmInput,
  type PipelineInput,
  type SlackTarget,
  type Started,
} from '../client/index.js';
import { runUrl, type PocConfig } from '../core/config.js';
import { DECISION_ACTIONS, UsageError, helpText, type Command, type DecisionVerb } from '../client/grammar.js';
import { readStepLog } from '../client/logs.js';
import { runScheduleCommand } from '../client/schedules.js';
import { validateLlmInput, validatePipelineInput } from '../core/validate.js';
import { refusal, type Access } from './auth.js';
import { defaultRun, runsOfThread, workflowExists } from './lookup.js';
import { adaptPrefix, parseSlackCommand, type Invocation } from './parse.js';
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

/** Runs one command and answers it. Never throws: every failure becomes a reply. */
export async function executeCommand(ctx: BotContext, inv: Invocation, text: string, out: Outbox): Promise<void> {
  try {
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
    case 'status':
      return statusCommand(ctx, inv, command, out);
    case 'list':
      return listCommand(ctx, command, out);
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

function mayChange(ctx: BotContext, inv: Invocation): boolean {
  return ctx.access.allows(inv.user, inv.channel);
}

function helpCommand(inv: Invocation, command: CommandOf<'help'>, out: Outbox, ctx: BotContext): Promise<void> {
  const title =
    inv.source === 'slash'
      ? '*poc-orchestrator* — `/poc <command>` (or `!poc <command>` in a channel, or mention me):'
      : '*poc-orchestrator* — `!poc <command>` (or `/poc <command>`, or mention me):';
  return out.reply(preformatted(title, adaptPrefix(helpText('slack', command.topic), inv), { redact: ctx.redact }));
}

async function runCommand(ctx: BotContext, inv: Invocation, command: CommandOf<'run'>, out: Outbox): Promise<void> {
  if (!mayChange(ctx, inv)) return out.reply(notice(refusal(inv.user)));
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
  if (!mayChange(ctx, inv)) return out.reply(notice(refusal(inv.user)));
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

async function statusCommand(
  ctx: BotContext,
  inv: Invocation,
  command: CommandOf<'status'>,
  out: Outbox,
): Promise<void> {
  const id = command.id ?? (await defaultRun(ctx.client, inv, false));
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

async function listCommand(ctx: BotContext, command: CommandOf<'list'>, out: Outbox): Promise<void> {
  const runs = await listRuns(ctx.client, { limit: command.limit, kind: command.kind, phase: command.phase });
  return out.reply(renderRunList(runs, { redact: ctx.redact }));
}

async function logsCommand(ctx: BotContext, inv: Invocation, command: CommandOf<'logs'>, out: Outbox): Promise<void> {
  const status = await getRunStatus(ctx.client, command.id);
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
  if (!mayChange(ctx, inv)) return out.reply(notice(refusal(inv.user)));
  const id = command.id ?? (await defaultRun(ctx.client, inv, true));
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
  if (!mayChange(ctx, inv)) return out.reply(notice(refusal(inv.user)));
  const action = DECISION_ACTIONS[command.name];
  const result = await decide(ctx.client, command.id, { action, by: inv.user });
  return out.reply(
    notice(
      `:ok_hand: ${who(inv.user)} chose ${DECIDED_TEXT[action]} ` +
        `*${escapeMrkdwn(result.step)}* in \`${escapeMrkdwn(command.id)}\`.`,
    ),
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
  kind: 'pipeline' | 'llm',
  start: (slack: SlackTarget, id: string) => Promise<Started>,
  intro: string,
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
}

async function scheduleCommand(
  ctx: BotContext,
  inv: Invocation,
  command: CommandOf<'schedule'>,
  out: Outbox,
): Promise<void> {
  if (command.action !== 'list' && command.action !== 'describe' && !mayChange(ctx, inv)) {
    return out.reply(notice(refusal(inv.user)));
  }
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
    if (
      status?.kind !== 'pipeline' ||
      status.phase !== 'AWAITING_DECISION' ||
      status.pendingDecision?.kind !== 'approval'
    )
      continue;
    if (!mayChange(ctx, inv)) {
      await out.reply(notice(refusal(inv.user)));
      return true;
    }
    try {
      const result = await decide(ctx.client, status.id, {
        action: answer,
        by: inv.user,
        decisionId: status.pendingDecision.id,
      });
      await out.reply(
        notice(
          `:ok_hand: ${who(inv.user)} ${answer === 'approve' ? 'approved' : 'denied'} ` +
            `*${escapeMrkdwn(result.step)}* of \`${escapeMrkdwn(status.id)}\`.`,
        ),
      );
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
  user: string;
  channel: string;
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
    if (!ctx.access.allows(click.user, click.channel)) return await out.ephemeral(notice(refusal(click.user)));
    if (action === 'cancel') {
      const workflowId = await withinDeadline(ctx, () => cancelUnlessEnded(ctx, target.workflowId));
      return await out.threadReply(
        notice(`:no_entry_sign: ${who(click.user)} cancelled \`${escapeMrkdwn(workflowId)}\`.`),
      );
    }
    // The workflow's next status update shows who decided and removes the buttons.
    await withinDeadline(ctx, () =>
      decide(ctx.client, target.workflowId, { action, by: click.user, decisionId: target.decisionId }),
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
