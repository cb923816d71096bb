/**
 * Every usage error ends with the way to get it right: the command's usage, or where the list of
 * commands is — tokenizer mistakes (an unclosed quote) included, on both surfaces.
 */
import { describe, test, expect } from '@jest/globals';
import { COMMANDS, UsageError, parseCommand, tokenize, type Surface } from '../../client/grammar.js';

function usageErrorOf(text: string, surface: Surface): UsageError {
  try {
    parseCommand(surface === 'slack' ? tokenize(text, surface) : tokenize(text, 'cli'), surface);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`"${text}" parsed without an error`);
}

const BAD = [
  'run "nightly check',
  "run 'nightly",
  'llm --backend openai --model m "say hi',
  'logs',
  'run --bogus',
  'run --steps Lint;rm',
  'frobnicate now',
  '"unclosed from the start',
  'schedule create nightly',
  'list --limit 0',
  'llm --backend anthropic --model claude --temperature 0.5 hi',
  ['run', ...Array.from({ length: 210 }, () => 'word')].join(' '),
];

describe('usage errors', () => {
  for (const surface of ['cli', 'slack'] as const) {
    const prefix = surface === 'slack' ? '!poc' : 'poc';
    test(`on ${surface}, each is one line ending with the right form or where the commands are listed`, () => {
      for (const text of BAD) {
        const message = usageErrorOf(text, surface).message;
        expect(message).not.toContain('\n');
        const verb = text.split(/\s+/)[0];
        const known = Object.hasOwn(COMMANDS, verb);
        if (known) expect(message).toContain(`; usage: ${prefix} ${COMMANDS[verb].usage}`);
        else expect(message).toMatch(new RegExp(`; \`${prefix.replace('!', '\\!')} help\` lists the commands$`));
      }
    });
  }

  test('an unclosed quote names the quote, the fix and the command it interrupted', () => {
    expect(usageErrorOf('run "nightly check', 'slack').message).toBe(
      'unclosed double quote; close it or escape it with \\; usage: !poc run [goal] [--steps a,b] [--ask] ' +
        '[--approve a,b|all] [--on label,…] [--repo URL [--ref REF]]',
    );
  });

  test('a temperature for anthropic is refused with the reason, never dropped', () => {
    expect(usageErrorOf('llm --backend anthropic --model c --temperature 0.2 hi', 'cli').message).toMatch(
      /^--temperature: the anthropic backend cannot take a temperature .*; usage: poc llm /,
    );
    const ok = parseCommand(tokenize('llm --backend openai --model m --temperature 0.2 hi', 'cli'), 'cli');
    expect(ok).toMatchObject({ name: 'llm', temperature: 0.2 });
  });
});
