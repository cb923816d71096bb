/**
 * Slack text helpers (render/slack-text.ts) beyond what slack-render.test.ts shows: cutting at
 * the edges, code blocks, people, dates and durations, and more of what Slack sends.
 */
import { describe, expect, test } from '@jest/globals';
import {
  codeBlock,
  cut,
  cutStart,
  escapeMrkdwn,
  formatDuration,
  mrkdwn,
  slackDate,
  unescapeSlack,
  who,
} from '../../render/slack-text.js';

describe('cutting', () => {
  test.each<[string, number, string]>([
    ['abc', 3, 'abc'],
    ['abcd', 3, 'ab…'],
    ['abc', 1, '…'],
    ['abc', 0, ''],
    ['a😀b', 3, 'a…'],
    ['ab😀', 4, 'ab😀'],
    ['ab😀c', 4, 'ab…'],
  ])('cut(%j, %i) = %j', (text, max, result) => {
    expect(cut(text, max)).toBe(result);
  });

  test.each<[string, number, string]>([
    ['abc', 3, 'abc'],
    ['abcd', 3, '…cd'],
    ['abc', 1, '…'],
    ['abc', 0, ''],
    ['a😀b', 3, '…b'],
    ['😀bc', 3, '…bc'],
  ])('cutStart(%j, %i) = %j', (text, max, result) => {
    expect(cutStart(text, max)).toBe(result);
  });

  test.each<[string, number, string]>([
    ['a<b', 6, 'a&lt;b'],
    ['a<b', 4, 'a…'],
    ['ab<c', 4, 'ab…'],
    ['abcdef', 4, 'abc…'],
    ['ab😀c', 4, 'ab…'],
    ['a&b', 5, 'a…'],
    ['a&b', 7, 'a&amp;b'],
    ['&<>', 14, '&amp;&lt;&gt;'],
    ['&<>', 13, '&amp;&lt;&gt;'],
    ['&<>', 12, '&amp;&lt;…'],
  ])('mrkdwn(%j, %i) = %j: escaped first, never a broken entity', (text, max, result) => {
    expect(mrkdwn(text, max)).toBe(result);
    expect(mrkdwn(text, max).length).toBeLessThanOrEqual(max);
  });
});

describe('codeBlock', () => {
  test('an empty log is a block with one space (Slack refuses an empty one)', () => {
    expect(codeBlock('', 100)).toBe('```\n \n```');
    expect(codeBlock('\n\n', 100)).toBe('```\n \n```');
  });

  test('carriage returns are dropped', () => {
    expect(codeBlock('a\r\nb\r', 100)).toBe('```\na\nb\n```');
  });

  test('cut at the front, a half entity left there is dropped', () => {
    expect(codeBlock('x&y'.repeat(10), 20)).toBe('```\n…yx&amp;y\n```');
    expect(codeBlock('&'.repeat(8), 17)).toBe('```\n…&amp;\n```');
    expect(codeBlock('0123456789abcdef', 20)).toBe('```\n…56789abcdef\n```');
  });
});

describe('who', () => {
  test.each<[string | null | undefined, string]>([
    ['U0ALICE', '<@U0ALICE>'],
    ['W0ABC', '<@W0ABC>'],
    ['U1', 'U1'],
    ['u0alice', 'u0alice'],
    ['U0ALICE>', 'U0ALICE&gt;'],
    ['schedule:nightly', 'schedule:nightly'],
    ['', 'someone'],
    [undefined, 'someone'],
  ])('%j → %j', (by, shown) => {
    expect(who(by)).toBe(shown);
  });

  test('a long name is cut to 80 characters before escaping', () => {
    expect(who('x'.repeat(100))).toBe('x'.repeat(80));
    expect(who(`${'y'.repeat(79)}<script>`)).toBe(`${'y'.repeat(79)}&lt;`);
  });
});

describe('slackDate', () => {
  test("Slack's date markup with a UTC fallback, to the minute", () => {
    expect(slackDate('2026-01-01T10:00:00.000Z')).toBe(
      '<!date^1767261600^{date_short_pretty} {time}|2026-01-01 10:00 UTC>',
    );
    expect(slackDate('2026-01-01T10:00:30.999Z', '{time}')).toBe('<!date^1767261630^{time}|2026-01-01 10:00 UTC>');
  });

  test('text that is not a date is shown escaped', () => {
    expect(slackDate('soon <x>')).toBe('soon &lt;x&gt;');
    expect(slackDate('')).toBe('');
  });
});

describe('formatDuration', () => {
  test.each<[number | null | undefined, string]>([
    [null, ''],
    [undefined, ''],
    [NaN, ''],
    [Infinity, ''],
    [-1, ''],
    [0, '0 ms'],
    [0.4, '0 ms'],
    [999.4, '999 ms'],
    // Rounded once, then split: never "1000 ms", "60.0 s" nor "59 min 60 s".
    [999.5, '1.0 s'],
    [1_000, '1.0 s'],
    [1_250, '1.3 s'],
    [59_900, '59.9 s'],
    [59_949, '59.9 s'],
    [59_950, '1 min 0 s'],
    [60_000, '1 min 0 s'],
    [119_500, '2 min 0 s'],
    [65_000, '1 min 5 s'],
    [3_599_000, '59 min 59 s'],
    [3_599_499, '59 min 59 s'],
    [3_599_500, '1 h 0 min'],
    [3_600_000, '1 h 0 min'],
    [7_169_999, '1 h 59 min'],
    [7_170_000, '2 h 0 min'],
    [90_061_000, '25 h 1 min'],
  ])('%s ms → %j', (ms, text) => {
    expect(formatDuration(ms as number)).toBe(text);
  });
});

describe('unescapeSlack', () => {
  test.each<[string, string]>([
    ['<@U1|@bob>', '@bob'],
    ['<#C1|#general>', '#general'],
    ['<!here|here>', 'here'],
    ['<!subteam^S1>', '@subteam'],
    ['<tel:123|call>', 'tel:123'],
    ['a &gt;&gt; b &amp;&amp; c', 'a >> b && c'],
    ['&amp;lt;', '&lt;'],
    ['<<@U1>>', '<@U1>'],
  ])('%j → %j', (text, typed) => {
    expect(unescapeSlack(text)).toBe(typed);
  });

  test('escaping then unescaping text full of markup gives it back', () => {
    const text = '<!here> <@U1|bob> <#C1> <http://x.example|x> &amp; &lt; > <';
    expect(unescapeSlack(escapeMrkdwn(text))).toBe(text);
  });
});
