/**
 * Block Kit for runs: the status message the workflow keeps up to date, and the bot's replies.
 * Pure functions of a status; everything a person or a step wrote is redacted, escaped and cut
 * to Slack's limits here, so no caller can forget it.
 */
import {
  isFinalPhase,
  type ChatStatus,
  type ChatTotals,
  type ChatUsage,
  type DecisionAction,
  type HostInfo,
  type DecisionRecord,
  type LlmStatus,
  type Phase,
  type PipelineStatus,
  type RunStatus,
  type StepFailureNotice,
  type StepState,
  type StepStatus,
} from '../core/contract.js';
import { redact as processRedact } from '../core/redact.js';
import { hostMoveText, hostsTable } from './hosts.js';
import { codeBlock, cut, escapeMrkdwn, formatDuration, mrkdwn, slackDate, who } from './slack-text.js';

/** Slack's documented limits (a message over them is rejected with `invalid_blocks` or `msg_too_long`). */
export const SLACK_LIMITS = {
  sectionText: 3_000,
  blocks: 50,
  text: 40_000,
  contextElements: 10,
  buttonText: 75,
  buttonValue: 2_000,
} as const;

export interface TextObject {
  type: 'mrkdwn' | 'plain_text';
  text: string;
  emoji?: boolean;
}

export interface ButtonElement {
  type: 'button';
  action_id: string;
  text: TextObject;
  value?: string;
  url?: string;
  style?: 'primary' | 'danger';
  confirm?: {
    title: TextObject;
    text: TextObject;
    confirm: TextObject;
    deny: TextObject;
    style?: 'primary' | 'danger';
  };
}

export type Block =
  | { type: 'section'; block_id?: string; text: TextObject }
  | { type: 'context'; block_id?: string; elements: TextObject[] }
  | { type: 'actions'; block_id?: string; elements: ButtonElement[] }
  | { type: 'divider'; block_id?: string };

export interface SlackMessage {
  /** Notification / fallback text (mrkdwn). */
  text: string;
  blocks?: Block[];
}

export interface RenderOptions {
  /** Link to the run in the Temporal Web UI (a link button). */
  runUrl?: string;
  /** Decision and Cancel buttons (false for copies shown by `status`: one set of buttons per run). */
  interactive?: boolean;
  redact?: (text: string) => string;
}

export const ACTION_IDS = {
  cancel: 'poc_cancel',
  retry: 'poc_retry',
  skip: 'poc_skip',
  abort: 'poc_abort',
  approve: 'poc_approve',
  approveAll: 'poc_approve_all',
  deny: 'poc_deny',
  openRun: 'poc_open_run',
  /** Ends a conversation. */
  end: 'poc_end',
} as const;

export type ButtonAction = 'cancel' | 'end' | DecisionAction;

/** What a click on one of our action ids asks for (the link button asks for nothing). */
export function buttonActionOf(actionId: string): ButtonAction | undefined {
  const entry = Object.entries(ACTION_IDS).find(([, id]) => id === actionId);
  if (!entry || entry[0] === 'openRun') return undefined;
  return entry[0] as ButtonAction;
}

/** Button payload: the run and, for decisions, the question it answers (so a stale click is refused). */
export interface ButtonValue {
  workflowId: string;
  decisionId?: string;
}

export function buttonValue(workflowId: string, decisionId?: string): string {
  return JSON.stringify(decisionId ? { w: workflowId, d: decisionId } : { w: workflowId });
}

const WORKFLOW_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

export function parseButtonValue(value: unknown): ButtonValue | undefined {
  if (typeof value !== 'string' || value.length > SLACK_LIMITS.buttonValue) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const { w, d } = parsed as { w?: unknown; d?: unknown };
  if (typeof w !== 'string' || !WORKFLOW_ID.test(w)) return undefined;
  if (d !== undefined && (typeof d !== 'string' || d.length > 200)) return undefined;
  return d === undefined ? { workflowId: w } : { workflowId: w, decisionId: d };
}

export const PHASE_EMOJI: Record<Phase, string> = {
  QUEUED: ':hourglass_flowing_sand:',
  RUNNING: ':arrows_counterclockwise:',
  AWAITING_DECISION: ':raised_hand:',
  DONE: ':white_check_mark:',
  FAILED: ':x:',
  CANCELLED: ':no_entry_sign:',
};

const PHASE_LABEL: Record<Phase, string> = {
  QUEUED: 'QUEUED',
  RUNNING: 'RUNNING',
  AWAITING_DECISION: 'AWAITING DECISION',
  DONE: 'DONE',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
};

export const STEP_EMOJI: Record<StepStatus, string> = {
  pending: ':white_circle:',
  running: ':arrows_counterclockwise:',
  done: ':white_check_mark:',
  failed: ':x:',
  skipped: ':fast_forward:',
  cancelled: ':no_entry_sign:',
};

const DECIDED: Record<DecisionAction, string> = {
  retry: 'retried',
  skip: 'skipped',
  abort: 'aborted',
  approve: 'approved',
  approveAll: 'approved (with every later gate)',
  deny: 'denied',
};

export function phaseEmoji(phase: string): string {
  return PHASE_EMOJI[phase as Phase] ?? ':grey_question:';
}
export function phaseLabel(phase: string): string {
  return PHASE_LABEL[phase as Phase] ?? escapeMrkdwn(phase);
}

export function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: cut(text, SLACK_LIMITS.sectionText) } };
}

export function context(parts: (string | null | undefined | false)[]): Block | undefined {
  const text = parts.filter(Boolean).join(' · ');
  return text
    ? { type: 'context', elements: [{ type: 'mrkdwn', text: cut(text, SLACK_LIMITS.sectionText) }] }
    : undefined;
}

export function button(actionId: string, label: string, extra: Partial<ButtonElement> = {}): ButtonElement {
  return {
    type: 'button',
    action_id: actionId,
    text: { type: 'plain_text', text: cut(label, SLACK_LIMITS.buttonText), emoji: true },
    ...extra,
  };
}

/** Inline code of text we do not control: backticks would end the span early. */
export function inlineCode(text: string, max: number): string {
  return '`' + mrkdwn(text.replace(/`/g, "'").replace(/\s+/g, ' '), max) + '`';
}

/** Sections of at most Slack's size, split at line ends, at most `maxSections`. */
function linesToSections(lines: string[], maxSections: number): Block[] {
  const sections: string[] = [];
  let current = '';
  for (const line of lines) {
    const piece = cut(line, SLACK_LIMITS.sectionText - 10);
    if (current && current.length + 1 + piece.length > SLACK_LIMITS.sectionText) {
      sections.push(current);
      current = piece;
    } else {
      current = current ? `${current}\n${piece}` : piece;
    }
  }
  if (current) sections.push(current);
  if (sections.length > maxSections) {
    const hidden = sections.length - maxSections + 1;
    sections.splice(maxSections - 1, sections.length, `_…and ${hidden} more part(s), not shown_`);
  }
  return sections.map(section);
}

/** Keeps a message within Slack's block count, the buttons (last block) always kept. */
export function fitBlocks(blocks: Block[]): Block[] {
  if (blocks.length <= SLACK_LIMITS.blocks) return blocks;
  const last = blocks[blocks.length - 1];
  const keepLast = last.type === 'actions';
  const room = SLACK_LIMITS.blocks - 1 - (keepLast ? 1 : 0);
  const hidden = blocks.length - room - (keepLast ? 1 : 0);
  const note: Block = { type: 'context', elements: [{ type: 'mrkdwn', text: `…${hidden} more block(s) not shown` }] };
  return [...blocks.slice(0, room), note, ...(keepLast ? [last] : [])];
}

export function message(text: string, blocks: (Block | undefined)[]): SlackMessage {
  return { text: cut(text, SLACK_LIMITS.text), blocks: fitBlocks(blocks.filter((b): b is Block => b !== undefined)) };
}

/** Whether a phase is final (the one helper, `isFinalPhase` of the contract, under its render name). */
export const isFinal = isFinalPhase;

/** The status message of a run. */
export function renderRunStatus(status: RunStatus, opts: RenderOptions = {}): SlackMessage {
  if (status.kind === 'chat') return renderChatStatus(status, opts);
  return status.kind === 'llm' ? renderLlm(status, opts) : renderPipeline(status, opts);
}

function stepLine(step: StepState, r: (s: string) => string): string {
  const parts = [`${STEP_EMOJI[step.status] ?? ':grey_question:'} *${escapeMrkdwn(step.name)}*`];
  const attempt = step.attempt > 1 ? `attempt ${step.attempt}` : null;
  switch (step.status) {
    case 'running':
      parts.push(attempt ? `running (${attempt})` : 'running');
      if (step.command) parts.push(inlineCode(r(step.command), 150));
      // Its newest output line (sent coalesced by the step): a long step is never a silent one.
      if (step.lastLine) return `${parts.join(' · ')}\n        ↳ ${inlineCode(r(step.lastLine), 200)}`;
      break;
    case 'done':
    case 'failed':
      if (step.durationMs !== null) parts.push(formatDuration(step.durationMs));
      if (step.exitCode !== null) parts.push(`exit ${step.exitCode}`);
      if (attempt) parts.push(attempt);
      break;
    default:
      parts.push(step.status);
  }
  return parts.filter(Boolean).join(' · ');
}

function decisionLine(d: DecisionRecord): string {
  const action = DECIDED[d.action] ?? escapeMrkdwn(String(d.action));
  const by = d.by === 'timeout' ? '(no answer in time)' : `by ${who(d.by)}`;
  return `• *${escapeMrkdwn(d.step)}*: ${action} ${by}`;
}

export function linkButton(opts: RenderOptions): ButtonElement | undefined {
  return opts.runUrl ? button(ACTION_IDS.openRun, 'Open in Temporal', { url: opts.runUrl }) : undefined;
}

export function actions(elements: (ButtonElement | undefined)[]): Block | undefined {
  const present = elements.filter((e): e is ButtonElement => e !== undefined);
  return present.length ? { type: 'actions', block_id: 'poc_run_actions', elements: present } : undefined;
}

function cancelButton(workflowId: string): ButtonElement {
  return button(ACTION_IDS.cancel, 'Cancel', {
    value: buttonValue(workflowId),
    style: 'danger',
    confirm: {
      title: { type: 'plain_text', text: 'Cancel this run?' },
      text: { type: 'mrkdwn', text: `\`${workflowId}\` stops; its running step is stopped too.` },
      confirm: { type: 'plain_text', text: 'Cancel the run' },
      deny: { type: 'plain_text', text: 'Keep it running' },
      style: 'danger',
    },
  });
}

function renderPipeline(s: PipelineStatus, opts: RenderOptions): SlackMessage {
  const r = opts.redact ?? processRedact;
  const interactive = opts.interactive ?? true;
  const title = `${phaseEmoji(s.phase)} *Pipeline \`${escapeMrkdwn(s.id)}\`* — *${phaseLabel(s.phase)}*`;
  const blocks: (Block | undefined)[] = [section(`${title}\n*Goal:* ${mrkdwn(r(s.goal), 1_500)}`)];
  const took = s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : null;
  blocks.push(
    context([
      s.requestedBy ? `requested by ${who(s.requestedBy)}` : null,
      s.host ? `on host *${escapeMrkdwn(s.host)}*` : null,
      s.repo ? `${inlineCode(r(s.repo), 200)}${s.ref ? ` @ ${inlineCode(s.ref, 100)}` : ''}` : null,
      s.commit ? `commit ${inlineCode(s.commit.slice(0, 12), 20)}` : null,
      `started ${slackDate(s.startedAt)}`,
      took !== null && took >= 0 ? `took ${formatDuration(took)}` : null,
      s.onFailure === 'ask' ? 'asks before giving up on a failed step' : null,
    ]),
  );
  for (const move of (s.hostMoves ?? []).slice(-5)) {
    blocks.push(section(`:twisted_rightwards_arrows: ${mrkdwn(hostMoveText(move), 500)}`));
  }
  if (s.phase === 'QUEUED') {
    const ahead = s.queuePosition;
    const aheadText = ahead && ahead > 0 ? `*${ahead}* run${ahead === 1 ? '' : 's'} ahead` : '';
    blocks.push(
      section(
        s.queueReason
          ? `:hourglass_flowing_sand: Waiting for a host: ${mrkdwn(r(s.queueReason), 1_000)}` +
              (aheadText ? ` (${aheadText}).` : '.')
          : aheadText
            ? `:hourglass_flowing_sand: Waiting for the workspace: ${aheadText}.`
            : ':hourglass_flowing_sand: Waiting for the workspace.',
      ),
    );
  }
  blocks.push(
    ...linesToSections(
      s.steps.map((step) => stepLine(step, r)),
      4,
    ),
  );
  if (s.error) blocks.push(section(`:warning: ${mrkdwn(r(s.error), 2_000)}`));

  const pending = s.phase === 'AWAITING_DECISION' ? s.pendingDecision : null;
  if (pending) {
    const step = `*${escapeMrkdwn(pending.step)}*`;
    const deadline = slackDate(pending.deadline, '{time}');
    blocks.push(
      section(
        pending.kind === 'failure'
          ? `:raised_hand: ${step} failed. Retry it, skip it, or abort the run? ` +
              `No answer by ${deadline} counts as abort.`
          : `:raised_hand: ${step} waits for approval. Approve it, approve every remaining gated step, or deny. ` +
              `A *yes* or *no* reply in this thread works too. No answer by ${deadline} counts as deny.`,
      ),
    );
  }
  const refused = s.lastRefusedDecision;
  if (refused && !isFinal(s.phase)) {
    const what = refused.action ? `"${mrkdwn(refused.action, 40)}"` : 'a decision';
    const from = refused.by ? ` from ${who(refused.by)}` : '';
    blocks.push(context([`:no_entry: ${what}${from} was refused: ${mrkdwn(r(refused.reason), 300)}`]));
  }
  if (s.decisions.length > 0) {
    const shown = s.decisions.slice(-10);
    const more = s.decisions.length - shown.length;
    blocks.push(
      context([[...(more > 0 ? [`…${more} earlier decision(s)`] : []), ...shown.map(decisionLine)].join('\n')]),
    );
  }

  const buttons: (ButtonElement | undefined)[] = [];
  if (interactive && !isFinal(s.phase)) {
    if (pending) {
      const value = buttonValue(s.id, pending.id);
      const offered = (action: DecisionAction) => pending.options.includes(action);
      if (pending.kind === 'failure') {
        if (offered('retry')) buttons.push(button(ACTION_IDS.retry, 'Retry', { value, style: 'primary' }));
        if (offered('skip')) buttons.push(button(ACTION_IDS.skip, 'Skip', { value }));
        if (offered('abort')) buttons.push(button(ACTION_IDS.abort, 'Abort', { value, style: 'danger' }));
      } else {
        if (offered('approve')) buttons.push(button(ACTION_IDS.approve, 'Approve', { value, style: 'primary' }));
        if (offered('approveAll')) buttons.push(button(ACTION_IDS.approveAll, 'Approve all', { value }));
        if (offered('deny')) buttons.push(button(ACTION_IDS.deny, 'Deny', { value, style: 'danger' }));
      }
    } else {
      buttons.push(cancelButton(s.id));
    }
  }
  buttons.push(linkButton(opts));
  blocks.push(actions(buttons));

  const text =
    `${phaseEmoji(s.phase)} Pipeline ${escapeMrkdwn(s.id)}: ` + `${phaseLabel(s.phase)} — ${mrkdwn(r(s.goal), 200)}`;
  return message(text, blocks);
}

/** An answer over several sections (long answers are common), cut at a line end where possible. */
export function answerSections(
  answer: string,
  maxSections: number,
  { label = '*Answer:*\n', whole = "the whole text is the run's result", escaped: ready = false } = {},
): Block[] {
  const escaped = ready ? answer : escapeMrkdwn(answer);
  const size = SLACK_LIMITS.sectionText - 100;
  const chunks: string[] = [];
  let rest = escaped;
  while (rest.length > 0 && chunks.length < maxSections) {
    if (rest.length <= size) {
      chunks.push(rest);
      rest = '';
      break;
    }
    let end = rest.lastIndexOf('\n', size);
    if (end < size / 2) end = size;
    // Never split an entity (&amp;) or a surrogate pair.
    const partial = /&[a-z]{0,3}$/.exec(rest.slice(0, end));
    if (partial) end = partial.index;
    if (/[\ud800-\udbff]/.test(rest[end - 1] ?? '')) end -= 1;
    chunks.push(rest.slice(0, end));
    rest = rest.slice(end).replace(/^\n/, '');
  }
  if (rest.length > 0) chunks[chunks.length - 1] += `\n_…answer cut here (${rest.length} more characters); ${whole}._`;
  return chunks.map((chunk, i) => section(i === 0 ? `${label}${chunk}` : chunk));
}

function renderLlm(s: LlmStatus, opts: RenderOptions): SlackMessage {
  const r = opts.redact ?? processRedact;
  const interactive = opts.interactive ?? true;
  const title = `${phaseEmoji(s.phase)} *LLM \`${escapeMrkdwn(s.id)}\`* — *${phaseLabel(s.phase)}*`;
  const quoted = mrkdwn(r(s.prompt), 600)
    .split('\n')
    .map((line) => `>${line}`)
    .join('\n');
  const blocks: (Block | undefined)[] = [
    section(
      `${title}\n*Backend:* ${escapeMrkdwn(s.backend)} · *model:* ${inlineCode(s.model, 200)}\n*Prompt:*\n${quoted}`,
    ),
  ];
  const answer = s.result?.text ?? (s.phase === 'RUNNING' ? s.partialText : '');
  if (answer) blocks.push(...answerSections(r(answer), 10));
  else if (s.phase === 'RUNNING') blocks.push(section('_thinking…_'));
  const result = s.result;
  blocks.push(
    context([
      s.requestedBy ? `requested by ${who(s.requestedBy)}` : null,
      result ? `tokens in ${result.usage.inputTokens} · out ${result.usage.outputTokens}` : null,
      result ? formatDuration(result.latencyMs) : null,
      result ? `finish: ${escapeMrkdwn(result.finishReason)}` : null,
      (result?.attempts ?? s.attempt) > 1 ? `attempt ${result?.attempts ?? s.attempt}` : null,
      `started ${slackDate(s.startedAt)}`,
    ]),
  );
  if (s.error) blocks.push(section(`:warning: ${mrkdwn(r(s.error), 2_000)}`));
  blocks.push(actions([interactive && !isFinal(s.phase) ? cancelButton(s.id) : undefined, linkButton(opts)]));
  const text =
    `${phaseEmoji(s.phase)} LLM ${escapeMrkdwn(s.id)} ` +
    `(${escapeMrkdwn(s.backend)}/${escapeMrkdwn(s.model)}): ${phaseLabel(s.phase)}`;
  return message(text, blocks);
}

/** Thread reply when a step fails: what failed, the end of its log, and where the whole log is. */
export function renderStepFailure(notice: StepFailureNotice, opts: Pick<RenderOptions, 'redact'> = {}): SlackMessage {
  const r = opts.redact ?? processRedact;
  const attempt = notice.attempt > 1 ? ` (attempt ${notice.attempt})` : '';
  const head = `:x: *${escapeMrkdwn(notice.step)}* ${mrkdwn(r(notice.why), 300)}${attempt}`;
  const path = notice.logPath ? `\nLog: ${inlineCode(r(notice.logPath), 500)}` : '';
  const tail = r(notice.logTail ?? '');
  return message(
    `:x: ${escapeMrkdwn(notice.step)} ${mrkdwn(r(notice.why), 300)}${attempt}` +
      `${notice.logPath ? ` — log: ${mrkdwn(r(notice.logPath), 500)}` : ''}`,
    [
      section(head + path),
      section(tail.trim() ? codeBlock(tail, SLACK_LIMITS.sectionText - 10) : '_(the step wrote no output)_'),
    ],
  );
}

export interface RunListItem {
  workflowId: string;
  phase: string;
  title: string;
  requestedBy: string | null;
  startTime: Date;
}

export function renderRunList(runs: RunListItem[], opts: Pick<RenderOptions, 'redact'> = {}): SlackMessage {
  const r = opts.redact ?? processRedact;
  if (runs.length === 0) return { text: 'No runs yet. Start one with `!poc run [goal]`.' };
  const lines = runs.map(
    (run) =>
      `${phaseEmoji(run.phase)} \`${escapeMrkdwn(run.workflowId)}\` ${phaseLabel(run.phase)} — ` +
      `${mrkdwn(r(run.title), 60) || '_(no goal)_'}` +
      `${run.requestedBy ? ` · ${who(run.requestedBy)}` : ''} · ${slackDate(run.startTime.toISOString())}`,
  );
  return message(`The newest ${runs.length} run(s)`, [
    section(`*The newest ${runs.length} run${runs.length === 1 ? '' : 's'}*, newest first`),
    ...linesToSections(lines, 10),
  ]);
}

export interface LogReply {
  workflowId: string;
  step: string;
  path: string | null;
  text: string;
  source: 'file' | 'status' | 'none';
}

export function renderLog(log: LogReply, opts: Pick<RenderOptions, 'redact'> = {}): SlackMessage {
  const r = opts.redact ?? processRedact;
  const from =
    log.source === 'file' ? 'end of the log' : log.source === 'status' ? 'last lines kept by the run' : 'no output yet';
  const head =
    `:page_facing_up: *${escapeMrkdwn(log.step)}* of \`${escapeMrkdwn(log.workflowId)}\` — ${from}` +
    `${log.path ? `\nLog: ${inlineCode(r(log.path), 500)}` : ''}`;
  const blocks = [section(head)];
  if (log.text.trim()) blocks.push(section(codeBlock(r(log.text), SLACK_LIMITS.sectionText - 10)));
  return message(`Log of ${escapeMrkdwn(log.step)} (${escapeMrkdwn(log.workflowId)})`, blocks);
}

/** `!poc hosts`: the same table as `poc hosts`, with the reason of any host that is not well. */
export function renderHosts(hosts: HostInfo[], now = Date.now()): SlackMessage {
  if (hosts.length === 0) return notice('No build hosts yet; start one with `poc worker`.');
  const up = hosts.filter((h) => h.state === 'up').length;
  const title = `*Build hosts* — ${up} of ${hosts.length} up`;
  const problems = hosts
    .filter((h) => h.problem)
    .map((h) => `• *${escapeMrkdwn(h.name)}*: ${mrkdwn(h.problem ?? '', 300)}`);
  return message(title, [
    section(title),
    section(codeBlock(hostsTable(hosts, now), SLACK_LIMITS.sectionText - 10)),
    ...(problems.length > 0 ? linesToSections(problems, 2) : []),
  ]);
}

/** A reply of our own words (already mrkdwn) — errors, confirmations. */
export function notice(text: string): SlackMessage {
  return message(text, [section(text)]);
}

/** Plain text shown as preformatted (help, schedule tables). */
export function preformatted(title: string, text: string, opts: Pick<RenderOptions, 'redact'> = {}): SlackMessage {
  const r = opts.redact ?? processRedact;
  return message(title, [section(title), section(codeBlock(r(text), SLACK_LIMITS.sectionText - 10))]);
}

// Conversations (render/chat.ts has their messages; what `renderRunStatus` needs is here).

export function formatCost(costUsd: number | null): string {
  if (costUsd === null) return 'cost unknown';
  if (costUsd === 0) return '$0';
  return costUsd < 0.01 ? `~$${costUsd.toFixed(4)}` : `~$${costUsd.toFixed(2)}`;
}

export function formatUsage(usage: ChatUsage): string {
  return `${usage.inputTokens} in · ${usage.outputTokens} out · ${formatCost(usage.costUsd)}`;
}

export function formatTotals(totals: ChatTotals): string {
  const unpriced = totals.unpriced ? ` + ${totals.unpriced} unpriced` : '';
  return (
    `${totals.requests} request${totals.requests === 1 ? '' : 's'} · ${totals.inputTokens} in · ` +
    `${totals.outputTokens} out · ${formatCost(totals.costUsd)}${unpriced}`
  );
}

/** `!poc status chat-…`: where the conversation stands and its last exchange (no buttons: one set per thread). */
export function renderChatStatus(s: ChatStatus, opts: RenderOptions = {}): SlackMessage {
  const r = opts.redact ?? processRedact;
  const title =
    `${phaseEmoji(s.phase)} *Conversation \`${escapeMrkdwn(s.id)}\`* — *${phaseLabel(s.phase)}*` +
    (s.waitingFor && !isFinal(s.phase) ? ` · waiting for ${s.waitingFor}` : '');
  const blocks: (Block | undefined)[] = [
    section(`${title}\n*Backend:* ${escapeMrkdwn(s.backend)} · *model:* ${inlineCode(s.model, 200)}`),
  ];
  const last = s.turns.slice(-4).filter((t) => t.role !== 'tool');
  for (const turn of last) {
    const who_ = turn.role === 'user' ? who(turn.by) : '*model*';
    blocks.push(section(`${who_}: ${mrkdwn(r(turn.text || turn.error || '…'), 1_200)}`));
  }
  blocks.push(
    context([
      s.requestedBy ? `started by ${who(s.requestedBy)}` : null,
      `${s.earlierTurns + s.turns.length} turns`,
      `${formatTotals(s.usage)} (estimate)`,
      s.tools.length ? `tools: ${s.tools.map((t) => escapeMrkdwn(t)).join(', ')}` : 'no tools',
      s.endedBy ? `ended by ${who(s.endedBy)}` : null,
    ]),
  );
  if (s.error) blocks.push(section(`:warning: ${mrkdwn(r(s.error), 2_000)}`));
  blocks.push(actions([linkButton(opts)]));
  return message(`Conversation ${escapeMrkdwn(s.id)}: ${phaseLabel(s.phase)}`, blocks);
}
