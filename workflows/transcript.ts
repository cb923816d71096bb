/**
 * A conversation's transcript, as pure functions: what the model is sent, and the rule that
 * keeps it bounded.
 *
 * The rule (README, "Conversations"): the workflow keeps the newest turns whose text adds up to
 * at most `contextChars` characters. When more is said, the oldest exchanges (a user turn with
 * the answers and tool results that followed it) leave the transcript whole, the newest exchange
 * never does, and each leaves one line in the digest: its turn number, who asked, the first 200
 * characters of the question, the first 300 of the answer and the tools it used. The digest
 * keeps the very first exchange's line and as many of the newest lines as fit in 6,000
 * characters; the model gets it in its system text. Usage totals always cover every turn.
 */
import type { ChatToolCall, ChatTurn } from '../core/contract.js';
import type { ChatMessage } from '../providers/types.js';

/** What one turn may keep: long answers and tool output are cut (the model has seen them whole). */
export const TURN_TEXT_LIMITS = { user: 20_000, assistant: 20_000, tool: 6_000 } as const;
export const DIGEST_LIMIT = 6_000;
const QUESTION_CHARS = 200;
const ANSWER_CHARS = 300;

export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n…(${text.length - max} more characters not kept)`;
}

/** Characters a turn takes in the transcript (text and tool-call arguments). */
export function turnSize(turn: ChatTurn): number {
  return (
    turn.text.length + (turn.toolCalls ?? []).reduce((n, c) => n + c.name.length + JSON.stringify(c.input).length, 0)
  );
}

/**
 * The model's view of the turns: answered assistant turns with their tool calls, each call's
 * result right after the turn that made it (whatever was said in between comes after the
 * results, as the providers require), a call without a result answered as not run.
 */
export function toMessages(turns: readonly ChatTurn[]): ChatMessage[] {
  const results = new Map<string, ChatTurn>();
  for (const turn of turns) if (turn.role === 'tool' && turn.toolCallId) results.set(turn.toolCallId, turn);
  const messages: ChatMessage[] = [];
  for (const turn of turns) {
    if (turn.role === 'user') messages.push({ role: 'user', text: turn.text });
    else if (turn.role === 'assistant') {
      if (turn.streaming || (turn.error && !turn.text && !turn.toolCalls?.length)) continue;
      const calls: ChatToolCall[] = turn.toolCalls ?? [];
      messages.push(
        calls.length
          ? { role: 'assistant', text: turn.text, toolCalls: calls }
          : { role: 'assistant', text: turn.text },
      );
      for (const call of calls) {
        const result = results.get(call.id);
        messages.push({
          role: 'tool',
          callId: call.id,
          name: call.name,
          text: result?.text ?? '(not run: the conversation moved on before this call was made)',
          isError: result ? result.outcome !== 'done' : true,
        });
      }
    }
  }
  return messages;
}

/** The number of the last user turn among `turns` (0 when there is none). */
export function lastUserTurn(turns: readonly ChatTurn[]): number {
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i].role === 'user') return turns[i].n;
  return 0;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The digest line of one exchange (a user turn and what followed it). */
export function digestLine(exchange: readonly ChatTurn[]): string {
  const question = exchange.find((t) => t.role === 'user');
  const answers = exchange.filter((t) => t.role === 'assistant' && t.text.trim());
  const tools = exchange.filter((t) => t.role === 'tool').map((t) => `${t.tool ?? 'tool'} ${t.outcome ?? ''}`.trim());
  const parts = [
    `#${exchange[0].n}`,
    question ? `${question.by ?? 'user'}: ${oneLine(question.text, QUESTION_CHARS)}` : '(continued)',
  ];
  const answer = answers.map((t) => t.text).join(' ');
  if (answer) parts.push(`→ ${oneLine(answer, ANSWER_CHARS)}`);
  if (tools.length) parts.push(`[tools: ${tools.join(', ')}]`);
  return parts.join(' ');
}

/** The digest with new lines added: the first line stays, then the newest that fit in DIGEST_LIMIT. */
export function extendDigest(digest: string | null, lines: readonly string[]): string {
  const all = [...(digest ? digest.split('\n') : []), ...lines];
  if (all.join('\n').length <= DIGEST_LIMIT) return all.join('\n');
  const [first, ...rest] = all;
  const kept: string[] = [];
  let size = first.length + 2;
  for (let i = rest.length - 1; i >= 0; i--) {
    if (rest[i] === '…') continue;
    if (size + rest[i].length + 1 > DIGEST_LIMIT) break;
    kept.unshift(rest[i]);
    size += rest[i].length + 1;
  }
  return [first, '…', ...kept].join('\n');
}

/** Splits turns into exchanges: each starts at a user turn (leading non-user turns form one of their own). */
export function exchanges(turns: readonly ChatTurn[]): ChatTurn[][] {
  const groups: ChatTurn[][] = [];
  for (const turn of turns) {
    if (turn.role === 'user' || groups.length === 0) groups.push([turn]);
    else groups[groups.length - 1].push(turn);
  }
  return groups;
}

export interface Folded {
  turns: ChatTurn[];
  /** Turns that left the transcript. */
  folded: number;
  digest: string | null;
}

/**
 * Applies the rule: while the turns take more than `budget` characters and more than one
 * exchange is left, the oldest exchange leaves for the digest.
 */
export function foldTranscript(turns: readonly ChatTurn[], digest: string | null, budget: number): Folded {
  const groups = exchanges(turns);
  let size = turns.reduce((n, t) => n + turnSize(t), 0);
  const lines: string[] = [];
  let folded = 0;
  while (size > budget && groups.length > 1) {
    const oldest = groups.shift() as ChatTurn[];
    size -= oldest.reduce((n, t) => n + turnSize(t), 0);
    folded += oldest.length;
    lines.push(digestLine(oldest));
  }
  return { turns: groups.flat(), folded, digest: lines.length ? extendDigest(digest, lines) : digest };
}
