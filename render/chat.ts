/**
 * Block Kit for conversations: one message per answer of the model (updated in place while it
 * streams, with the tools it called, their approval buttons and the tokens it cost), the notice
 * when a conversation ends, and the status view of `!poc status chat-…`. Pure functions; all
 * text is redacted, escaped and cut here.
 */
import type { ChatEndView, ChatMessageView, ChatToolState, ChatToolView, PendingDecision } from '../core/contract.js';
import { redact as processRedact } from '../core/redact.js';
import {
  ACTION_IDS,
  answerSections,
  button,
  buttonValue,
  formatTotals,
  formatUsage,
  context,
  inlineCode,
  linkButton,
  message,
  section,
  type Block,
  type ButtonElement,
  type RenderOptions,
  type SlackMessage,
} from './slack.js';
import { escapeMrkdwn, mrkdwn, slackDate, who } from './slack-text.js';

/** Slack shows the text shown here; the transcript keeps the rest. */
const SHOWN_CHARS = 12_000;

/**
 * The model writes Markdown; Slack reads mrkdwn. Bold and headings are what differ most; code
 * (fenced or inline) is left as it is. The text is already escaped.
 */
export function markdownToMrkdwn(escaped: string): string {
  return escaped
    .split(/(```[\s\S]*?(?:```|$)|`[^`\n]*`)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part
            .replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, '*$1*')
            .replace(/__(?=\S)(.+?)(?<=\S)__/g, '*$1*')
            .replace(/^#{1,6}[ \t]+(.+?)[ \t]*#*$/gm, '*$1*'),
    )
    .join('');
}

const TOOL_EMOJI: Record<ChatToolState, string> = {
  awaiting: ':raised_hand:',
  running: ':arrows_counterclockwise:',
  done: ':white_check_mark:',
  failed: ':x:',
  denied: ':no_entry_sign:',
  invalid: ':warning:',
};

function toolLine(tool: ChatToolView, r: (s: string) => string): string {
  const head = `${TOOL_EMOJI[tool.state]} \`${escapeMrkdwn(tool.name)}\` ${mrkdwn(r(tool.what), 200)}`;
  const run = tool.runId ? ` · \`${escapeMrkdwn(tool.runId)}\`` : '';
  switch (tool.state) {
    case 'awaiting':
      return `${head} — waits for approval`;
    case 'running':
      return `${head} — running${run}`;
    case 'denied':
      return `${head} — ${tool.by === 'timeout' ? 'denied (no answer in time)' : `denied by ${who(tool.by)}`}`;
    default: {
      const approved = tool.by && tool.by !== 'auto' ? ` · approved by ${who(tool.by)}` : '';
      const result = tool.result ? `: ${mrkdwn(r(tool.result), 300)}` : '';
      return `${head}${run}${approved}${result}`;
    }
  }
}

function approvalSection(pending: PendingDecision): Block {
  const deadline = slackDate(pending.deadline, '{time}');
  return section(
    `:raised_hand: The model wants to run *${escapeMrkdwn(pending.step)}*. Approve it, approve every later ` +
      'tool call of this conversation, or deny. A *yes* or *no* reply in this thread works too. ' +
      `No answer by ${deadline} counts as deny.`,
  );
}

function approvalButtons(conversationId: string, pending: PendingDecision): ButtonElement[] {
  const value = buttonValue(conversationId, pending.id);
  const buttons: ButtonElement[] = [];
  if (pending.options.includes('approve'))
    buttons.push(button(ACTION_IDS.approve, 'Approve', { value, style: 'primary' }));
  if (pending.options.includes('approveAll')) buttons.push(button(ACTION_IDS.approveAll, 'Approve all', { value }));
  if (pending.options.includes('deny')) buttons.push(button(ACTION_IDS.deny, 'Deny', { value, style: 'danger' }));
  return buttons;
}

function endButton(conversationId: string): ButtonElement {
  return button(ACTION_IDS.end, 'End conversation', {
    value: buttonValue(conversationId),
    confirm: {
      title: { type: 'plain_text', text: 'End this conversation?' },
      text: { type: 'mrkdwn', text: `\`${conversationId}\` stops; what it runs is stopped too.` },
      confirm: { type: 'plain_text', text: 'End it' },
      deny: { type: 'plain_text', text: 'Keep talking' },
    },
  });
}

function actionsBlock(elements: (ButtonElement | undefined)[]): Block | undefined {
  const present = elements.filter((e): e is ButtonElement => e !== undefined);
  return present.length ? { type: 'actions', block_id: 'poc_chat_actions', elements: present } : undefined;
}

/** The message of one answer: the text, the tools it called, approval buttons, tokens and cost. */
export function renderChatTurn(view: ChatMessageView, opts: Omit<RenderOptions, 'interactive'> = {}): SlackMessage {
  const r = opts.redact ?? processRedact;
  const blocks: (Block | undefined)[] = [];
  if (view.question) blocks.push(context([`${who(view.question.by)} asked: ${mrkdwn(r(view.question.text), 1_000)}`]));
  const text = view.text.length > SHOWN_CHARS ? `${view.text.slice(0, SHOWN_CHARS)}…` : view.text;
  if (text.trim()) {
    const shown = markdownToMrkdwn(escapeMrkdwn(r(text))) + (view.streaming ? ' …' : '');
    blocks.push(
      ...answerSections(shown, 8, { label: '', whole: 'the whole text is in the transcript', escaped: true }),
    );
  } else if (view.streaming) blocks.push(section('_thinking…_'));
  if (view.error)
    blocks.push(
      section(`:warning: No answer: ${mrkdwn(r(view.error), 1_500)}. Say something in this thread to try again.`),
    );
  if (view.tools.length) blocks.push(section(view.tools.map((tool) => toolLine(tool, r)).join('\n')));
  if (view.pending) blocks.push(approvalSection(view.pending));
  blocks.push(
    context([
      `${escapeMrkdwn(view.backend)}/${inlineCode(view.model, 100)}`,
      view.usage ? formatUsage(view.usage) : null,
      view.attempt > 1 ? `attempt ${view.attempt}` : null,
      `conversation: ${formatTotals(view.totals)} (estimate)`,
    ]),
  );
  blocks.push(
    actionsBlock([
      ...(view.pending ? approvalButtons(view.conversationId, view.pending) : []),
      view.latest ? endButton(view.conversationId) : undefined,
      linkButton(opts),
    ]),
  );
  const fallback = text.trim() ? mrkdwn(r(text), 300) : view.error ? 'No answer' : 'thinking…';
  return message(fallback, blocks);
}

const END_REASON: Record<ChatEndView['reason'], string> = {
  user: 'ended',
  idle: 'ended after a quiet spell',
  cancelled: 'was cancelled',
  failed: 'could not go on',
};

/** The thread reply when a conversation ends. */
export function renderChatEnd(view: ChatEndView, opts: Pick<RenderOptions, 'runUrl' | 'redact'> = {}): SlackMessage {
  const r = opts.redact ?? processRedact;
  const by = view.reason === 'user' && view.by ? ` by ${who(view.by)}` : '';
  const emoji = view.reason === 'failed' ? ':x:' : ':checkered_flag:';
  const text =
    `${emoji} Conversation \`${escapeMrkdwn(view.conversationId)}\` ${END_REASON[view.reason]}${by} · ` +
    `${view.turns} turn${view.turns === 1 ? '' : 's'} · ${formatTotals(view.totals)} (estimate)`;
  return message(text, [
    section(text),
    view.error ? section(`:warning: ${mrkdwn(r(view.error), 2_000)}`) : undefined,
    actionsBlock([linkButton(opts)]),
  ]);
}
