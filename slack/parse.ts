/**
 * From Slack's text to a command: what a message, a mention or a slash command asks for. Pure
 * functions of the text (and of where it came from); nothing here talks to Slack or Temporal.
 */
import { parseCommand, tokenize, type Command } from '../client/grammar.js';
import { unescapeSlack } from '../render/slack-text.js';

/** Where a command came from. */
export interface Invocation {
  source: 'message' | 'mention' | 'slash';
  /** The asker's workspace (team id). */
  team: string;
  channel: string;
  user: string;
  /** The command message (messages and mentions; slash commands have none). */
  ts?: string;
  /** The thread the message is in, when it is a thread reply. */
  threadTs?: string;
  /** Unique per slash command invocation, and the same when Slack delivers it again. */
  triggerId?: string;
}

const PREFIX = /^\s*!poc(?=\s|$)/i;

/** True when the text (as Slack sent it) starts with `!poc`: a message command, whatever else it mentions. */
export function hasCommandPrefix(rawText: string): boolean {
  return PREFIX.test(unescapeSlack(rawText));
}

/**
 * The command text of an incoming message, unescaped, or undefined when the message is not for
 * us. Mentions of the bot are dropped (`@poc run` is `run`); in a direct message no prefix is needed.
 */
export function commandTextOf(
  rawText: string,
  opts: { botUserId?: string; mention?: boolean; direct?: boolean } = {},
): string | undefined {
  let raw = rawText;
  if (opts.botUserId) raw = raw.split(new RegExp(`<@${opts.botUserId}(?:\\|[^>]*)?>`, 'g')).join(' ');
  const text = unescapeSlack(raw);
  if (PREFIX.test(text)) return text.replace(PREFIX, '').trim();
  if (opts.mention || opts.direct) return text.trim();
  return undefined;
}

/** The words that answer an approval gate when a thread reply is exactly one of them (any case). */
export const APPROVAL_WORDS: Readonly<Record<'approve' | 'deny', readonly string[]>> = {
  // Exactly the original's words, short ones included.
  approve: ['yes', 'y', 'approve', 'ok', 'go'],
  deny: ['no', 'n', 'deny', 'reject', 'stop'],
};

/** An approval word as a whole message (any case, a trailing "!" or "."): `APPROVAL_WORDS`. */
export function approvalAnswerOf(rawText: string): 'approve' | 'deny' | undefined {
  const text = unescapeSlack(rawText)
    .trim()
    .replace(/[.!]+$/, '')
    .toLowerCase();
  if (APPROVAL_WORDS.approve.includes(text)) return 'approve';
  if (APPROVAL_WORDS.deny.includes(text)) return 'deny';
  return undefined;
}

/** People type em dashes where they meant `--` (and some clients turn `--` into one). */
function normalizeDashes(text: string): string {
  return text.replace(/(^|\s)[\u2014\u2013](?=[a-z])/g, '$1--');
}

export function parseSlackCommand(text: string): Command {
  return parseCommand(tokenize(normalizeDashes(text)), 'slack');
}

/** `!poc …` in usage texts, `/poc …` when the command came as a slash command. */
export function adaptPrefix(text: string, inv: Pick<Invocation, 'source'>): string {
  return inv.source === 'slash' ? text.replace(/!poc\b/g, '/poc') : text;
}
