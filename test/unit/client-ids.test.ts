/** The ids the client API makes (client/index.ts): run ids, Slack-derived ids, thread keys, the not-found error. */
import { describe, expect, test } from '@jest/globals';
import { RunNotFoundError, newRunId, slackRunId, slackThreadKey } from '../../client/index.js';

/** Crockford's base32, lower case: no i, l, o, u. */
const ALPHABET = /^[0-9abcdefghjkmnpqrstvwxyz]+$/;

describe('newRunId', () => {
  test('8 characters people can read and type', () => {
    for (let i = 0; i < 200; i++) {
      const id = newRunId();
      expect(id).toHaveLength(8);
      expect(id).toMatch(ALPHABET);
    }
  });

  test('fresh each time', () => {
    expect(new Set(Array.from({ length: 1_000 }, newRunId)).size).toBe(1_000);
  });
});

describe('slackRunId', () => {
  test('the same message always maps to the same run, across versions', () => {
    // Pinned: a redelivered Slack message must find the run an earlier version started.
    expect(slackRunId('T1', 'C1', '1700000000.000100')).toBe('svadk5f1d0');
    expect(slackRunId('T1', 'C1', 'trigger:123.456.abc')).toBe('s2p0gyezg9');
    expect(slackRunId('T1', 'C1', '1700000000.000100')).toBe(slackRunId('T1', 'C1', '1700000000.000100'));
  });

  test('team, channel and message each change it', () => {
    const ids = [
      slackRunId('T1', 'C1', '1.1'),
      slackRunId('T2', 'C1', '1.1'),
      slackRunId('T1', 'C2', '1.1'),
      slackRunId('T1', 'C1', '1.2'),
    ];
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) {
      expect(id).toHaveLength(10);
      expect(id).toMatch(/^s/);
      expect(id).toMatch(ALPHABET);
    }
  });
});

describe('slackThreadKey', () => {
  test.each<[Parameters<typeof slackThreadKey>[0], string | undefined]>([
    [{ channel: 'C1', threadTs: '1.1' }, 'C1/1.1'],
    [{ channel: 'C1', messageTs: '2.2' }, 'C1/2.2'],
    [{ channel: 'C1', threadTs: '1.1', messageTs: '2.2' }, 'C1/1.1'],
    [{ channel: 'C1' }, undefined],
  ])('%j → %s', (target, key) => {
    expect(slackThreadKey(target)).toBe(key);
  });
});

describe('RunNotFoundError', () => {
  test('names the id, cut at 60 characters, and where to look', () => {
    const err = new RunNotFoundError('ab12');
    expect([err.name, err.id, err.message]).toEqual([
      'RunNotFoundError',
      'ab12',
      'no run "ab12"; `poc list` shows the recent ones',
    ]);
    expect(new RunNotFoundError(`${'x'.repeat(70)}`).message).toBe(
      `no run "${'x'.repeat(60)}…"; \`poc list\` shows the recent ones`,
    );
    expect(new RunNotFoundError('a"\nb').message).toBe('no run "a\\"\\nb"; `poc list` shows the recent ones');
  });
});
