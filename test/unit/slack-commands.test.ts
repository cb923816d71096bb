/**
 * The pure helpers of the bot's command handling (slack/parse.ts, slack/commands.ts), through their exported
 * names only: which message is a command, whole-message approval answers, the Slack form of the
 * grammar (dashes and quotes as Slack clients send them), and errors as replies.
 * (slack-render.test.ts has the first cases of each; these are the rest.)
 */
import { describe, expect, test } from '@jest/globals';
import { errorReply } from '../../slack/commands.js';
import { approvalAnswerOf, commandTextOf, parseSlackCommand } from '../../slack/parse.js';
import { UsageError } from '../../client/grammar.js';
import { RunNotFoundError } from '../../client/index.js';
import { InputError } from '../../core/validate.js';

const noRedact = (text: string) => text;

describe('commandTextOf', () => {
  test.each<[string, Parameters<typeof commandTextOf>[1], string | undefined]>([
    ['!poc\nrun x', {}, 'run x'],
    ['!poc\tstatus', {}, 'status'],
    ['!Poc list', {}, 'list'],
    ['!poc-run', {}, undefined],
    ['!poc status', { direct: true }, 'status'],
    ['  status  ', { direct: true }, 'status'],
    ['!poc run <http://x.example/a?b=1&amp;c=2|the link>', {}, 'run http://x.example/a?b=1&c=2'],
    ['hey <@U0BOT> run', { botUserId: 'U0BOT', mention: true }, 'hey   run'],
    ['<@U0BOT> <@U0BOT|poc>status', { botUserId: 'U0BOT', mention: true }, 'status'],
    ['<@U0BOT> run', { botUserId: 'U0BOT' }, undefined],
    ['<@U0OTHER> !poc run', { botUserId: 'U0BOT' }, undefined],
    ['<@U0OTHER> run', { botUserId: 'U0BOT', mention: true }, '@U0OTHER run'],
    ['', { mention: true }, ''],
    ['', {}, undefined],
  ])('%j %j → %j', (text, opts, command) => {
    expect(commandTextOf(text, opts)).toBe(command);
  });
});

describe('approvalAnswerOf', () => {
  test.each<[string, 'approve' | 'deny' | undefined]>([
    ['yes', 'approve'],
    ['  YES  ', 'approve'],
    ['ok', 'approve'],
    ['Approve', 'approve'],
    ['No', 'deny'],
    ['stop', 'deny'],
    ['DENY', 'deny'],
    // Exactly a word: punctuation, other words or markup make it conversation.
    ['yes!!!', undefined],
    ['ok!.', undefined],
    ['No.', undefined],
    ['yes?', undefined],
    ['&lt;yes&gt;', undefined],
    ['y', 'approve'],
    ['Go', 'approve'],
    ['Go!', undefined],
    ['n', 'deny'],
    ['reject', 'deny'],
    ['approved', undefined],
    ['no no', undefined],
    ['!poc approve', undefined],
  ])('%j → %s', (text, answer) => {
    expect(approvalAnswerOf(text)).toBe(answer);
  });
});

const RUN_USAGE = '!poc run [goal] [--steps a,b] [--ask] [--approve a,b|all] [--on label,…] [--repo URL [--ref REF]]';

describe('parseSlackCommand', () => {
  const RUN = {
    name: 'run',
    goal: undefined,
    steps: undefined,
    ask: false,
    approve: undefined,
    follow: false,
    workspace: undefined,
    id: undefined,
    json: false,
  };

  test.each<[string, Record<string, unknown>]>([
    ['run \u2014ask', { ...RUN, ask: true }],
    ['run \u2013steps lint', { ...RUN, steps: ['lint'] }],
    ['\u2014help', { name: 'help' }],
    ['run a\u2014b', { ...RUN, goal: 'a\u2014b' }],
    ['run \u2014 done', { ...RUN, goal: '\u2014 done' }],
    ['run \u20145', { ...RUN, goal: '\u20145' }],
    ['run \u2014Ask', { ...RUN, goal: '\u2014Ask' }],
    ['run \u201cquoted \u2014ask\u201d', { ...RUN, goal: 'quoted --ask' }],
    ['logs ab12', { name: 'logs', id: 'ab12', step: undefined, follow: false, lines: 30, json: false }],
    ['', { name: 'help' }],
  ])('%j', (text, command) => {
    expect(parseSlackCommand(text)).toEqual(command);
  });

  test.each<[string, string]>([
    [
      'run --follow',
      'unknown option --follow; usage: !poc run [goal] [--steps a,b] [--ask] [--approve a,b|all] ' +
        '[--on label,…] [--repo URL [--ref REF]]',
    ],
    ['models -b ollama', 'unknown command "models"; `!poc help` lists the commands'],
    ['run "open', `unclosed double quote; close it or escape it with \\; usage: ${RUN_USAGE}`],
    ['run \u201copen', `unclosed double quote; close it or escape it with \\; usage: ${RUN_USAGE}`],
  ])('%j → %s', (text, message) => {
    expect(() => parseSlackCommand(text)).toThrow(new UsageError(message));
  });
});

describe('errorReply', () => {
  const message = { source: 'message' } as const;
  const slash = { source: 'slash' } as const;
  /** The reply is one section of the same text. */
  function reply(err: unknown, inv: typeof message | typeof slash, redact = noRedact): string {
    const m = errorReply(err, inv, redact);
    expect(m.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: m.text } }]);
    return m.text;
  }

  test('a usage mistake: the message, then the right form for the surface, escaped', () => {
    let err: unknown;
    try {
      parseSlackCommand('llm -b ollama');
    } catch (e) {
      err = e;
    }
    const usage =
      'llm --backend ollama|openai|anthropic --model M [--system S] [--max-tokens N] [--temperature T] &lt;prompt&gt;';
    expect(reply(err, message)).toBe(`:warning: --model is required\nUsage: \`!poc ${usage}\``);
    expect(reply(err, slash)).toBe(`:warning: --model is required\nUsage: \`/poc ${usage}\``);
  });

  test('a usage mistake without a usage; its !poc becomes /poc for a slash command', () => {
    const err = new UsageError('unknown command "x<y>"; `!poc help` lists the commands');
    expect(reply(err, message)).toBe(':warning: unknown command "x&lt;y&gt;"; `!poc help` lists the commands');
    expect(reply(err, slash)).toBe(':warning: unknown command "x&lt;y&gt;"; `/poc help` lists the commands');
  });

  test('bad input names the field, escaped and redacted', () => {
    const err = new InputError('goal', 'must not contain <secret-123>');
    expect(reply(err, message, (t) => t.replace('secret-123', '[redacted]'))).toBe(
      ':warning: goal: must not contain &lt;[redacted]&gt;',
    );
  });

  test('an unknown run points at the list', () => {
    const err = new RunNotFoundError('ab<12');
    expect(reply(err, message)).toBe(':mag: No run "ab&lt;12"; `!poc list` shows the recent ones.');
    expect(reply(err, slash)).toBe(':mag: No run "ab&lt;12"; `/poc list` shows the recent ones.');
  });

  test.each<[string, unknown]>([
    ['UNAVAILABLE', new Error('14 UNAVAILABLE: No connection established')],
    ['DEADLINE_EXCEEDED in a cause', new Error('call failed', { cause: new Error('4 DEADLINE_EXCEEDED: x') })],
    ['a deadline, in words', new Error('Deadline exceeded after 15 s')],
    ['the client wrapper', new Error('cannot reach Temporal at 127.0.0.1:7233')],
  ])('Temporal unreachable (%s): try again', (_name, err) => {
    const text = reply(err, message);
    expect(text).toBe(`:boom: Temporal is not reachable right now (${(err as Error).message}); try again in a moment.`);
  });

  test('a Temporal error is cut at 300 characters and redacted', () => {
    const err = new Error(`UNAVAILABLE <x> token-123 ${'z'.repeat(400)}`);
    const text = reply(err, message, (t) => t.replace('token-123', '[redacted]'));
    expect(text).toBe(
      `:boom: Temporal is not reachable right now (UNAVAILABLE &lt;x&gt; [redacted] ${'z'.repeat(273)}); ` +
        'try again in a moment.',
    );
  });

  test.each<[string, unknown, string]>([
    [
      'an Error',
      new Error('pipeline-a has already ended (DONE); nothing to cancel'),
      ':boom: pipeline-a has already ended (DONE); nothing to cancel',
    ],
    ['a string', 'odd <thing>', ':boom: odd &lt;thing&gt;'],
    ['a long message', new Error('m'.repeat(3_000)), `:boom: ${'m'.repeat(2_000)}`],
  ])('anything else (%s): the message, escaped and cut', (_name, err, text) => {
    expect(reply(err, message)).toBe(text);
  });
});
