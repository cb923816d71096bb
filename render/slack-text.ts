/**
 * Slack text in and out. Incoming message text arrives escaped (`&amp;`, `&lt;`, `&gt;`) with
 * links, mentions and channels wrapped in `<…>`; outgoing user text must have `&`, `<`, `>`
 * escaped and nothing else, or Slack would turn it into mentions and links.
 */

/** Escapes text for mrkdwn (and plain `text` fields): only `&`, `<` and `>`, as Slack asks. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function decodeEntities(text: string): string {
  // `&amp;` last, so `&amp;lt;` (a typed "&lt;") stays the literal "&lt;".
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * Turns the text of an incoming message back into what the person typed: links become their
 * URL, mentions `@U123` (or `@name` when Slack sent one), channels `#name`, special mentions
 * `@here`, and the three entities their characters. Literal `<` in a message always arrives as
 * `&lt;`, so every `<…>` is one of Slack's markups.
 */
export function unescapeSlack(text: string): string {
  const unwrapped = text.replace(/<([^<>]*)>/g, (_whole, inner: string) => {
    const bar = inner.indexOf('|');
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? inner.slice(bar + 1) : undefined;
    if (target.startsWith('@')) return label ? `@${label.replace(/^@/, '')}` : target;
    if (target.startsWith('#')) return label ? `#${label.replace(/^#/, '')}` : target;
    if (target.startsWith('!')) {
      // <!here>, <!channel>, <!subteam^S1|@team>, <!date^…|fallback>
      if (label) return label;
      return `@${target.slice(1).split('^')[0]}`;
    }
    return target;
  });
  return decodeEntities(unwrapped);
}

/** The first `max` characters (surrogate pairs kept whole), with `…` when something was cut. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…'.slice(0, max);
  let end = max - 1;
  if (isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
  return text.slice(0, end) + '…';
}

/** The last `max` characters, with `…` in front when something was cut (log tails keep their end). */
export function cutStart(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…'.slice(0, max);
  let start = text.length - (max - 1);
  if (isLowSurrogate(text.charCodeAt(start))) start += 1;
  return '…' + text.slice(start);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Escaped and cut to `max` characters of escaped text, never splitting an entity. */
export function mrkdwn(text: string, max: number): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  let head = escaped.slice(0, max - 1);
  if (isHighSurrogate(head.charCodeAt(head.length - 1))) head = head.slice(0, -1);
  return head.replace(/&[a-z]{0,3}$/, '') + '…';
}

/** A code block of the END of `text` (logs): escaped, fences in the text defused, within `max`. */
export function codeBlock(text: string, max: number): string {
  const fence = '```';
  const body = escapeMrkdwn(text.replace(/\r/g, '')).replace(/```/g, '`\u200b`\u200b`');
  const room = max - fence.length * 2 - 2;
  let shown = body.length <= room ? body : cutStart(body, room);
  // A cut at the front can leave half an entity ("amp;"); drop it.
  if (shown !== body) shown = '…' + shown.slice(1).replace(/^[a-z]{1,3};/, '');
  return `${fence}\n${shown.trim() === '' ? ' ' : shown}\n${fence}`;
}

/** `<@U123>` for a Slack user id, else the escaped name (`cli:alice`, `schedule:nightly`). */
export function who(by: string | null | undefined): string {
  if (!by) return 'someone';
  if (/^[UW][A-Z0-9]{2,30}$/.test(by)) return `<@${by}>`;
  return escapeMrkdwn(by.slice(0, 80));
}

/** Slack's localised date markup, with a UTC fallback for clients that cannot show it. */
export function slackDate(iso: string, format = '{date_short_pretty} {time}'): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeMrkdwn(iso);
  const fallback = new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  return `<!date^${Math.floor(ms / 1000)}^${format}|${fallback}>`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  // Round once to the unit shown, then split: never "1000 ms", "60.0 s" or "59 min 60 s".
  if (Math.round(ms) < 1_000) return `${Math.round(ms)} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.round(ms / 60_000);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
