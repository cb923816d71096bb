/** `--cron` never schedules more often than once a minute (client/grammar.ts, client/schedules.ts). */
import { describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { UsageError, parseCommand, subMinuteCron } from '../../client/grammar.js';

describe('schedule intervals', () => {
  const create = (cron: string) => parseCommand(['schedule', 'create', 'n', '--cron', cron], 'cli');

  test('sub-minute expressions are refused with one line saying why and the limit', () => {
    for (const cron of ['* * * * * * *', '*/10 * * * * * *', '0,30 * * * * * *', '@every 30s', '@every 59s/5s']) {
      assert.throws(
        () => create(cron),
        (err: Error) =>
          err instanceof UsageError &&
          /the shortest interval is one minute/.test(err.message) &&
          !err.message.includes('\n'),
        cron,
      );
    }
  });

  test('a minute or more is fine', () => {
    for (const cron of ['* * * * *', '0 3 * * *', '15 * * * * * *', '@every 60s', '@every 1m', '@every 2h', '@daily']) {
      assert.equal(subMinuteCron(cron), undefined, cron);
      assert.equal(create(cron).name, 'schedule');
    }
  });
});
