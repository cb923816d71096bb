/**
 * A small version of bench/chaos.ts in every test run: worker SIGKILLed mid-pipeline, the dev
 * server killed and restarted on its SQLite file mid-run, the Slack bot restarted with runs in
 * flight, the worker killed mid-LLM-request, and conversations whose worker is killed while their
 * tools run and while they stream. Nothing is lost, no finished step or tool runs twice, no
 * answered turn is asked again, no container is left.
 */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { renderTable, runChaos } from '../bench/chaos.js';
import { prng } from './support/hostile.js';

test('chaos: nothing is lost when a worker, the server or the bot dies', async () => {
  const rows = await runChaos({
    pipelines: 2,
    llms: 3,
    serverRestart: true,
    slackRuns: 3,
    chats: 2,
    random: prng(7),
  });
  const table = renderTable(rows);
  assert.equal(rows.length, 5, table);
  for (const row of rows) {
    assert.equal(row.lost, 0, `${row.scenario}: lost runs\n${table}`);
    assert.equal(row.done, row.runs, `${row.scenario}: not every run finished DONE\n${table}`);
    assert.equal(row.finishedStepsRunTwice, 0, `${row.scenario}: a finished step ran again\n${table}`);
    assert.equal(row.containersLeft, 0, `${row.scenario}: containers left behind\n${table}`);
  }
  assert.match(
    rows.find((r) => r.scenario.startsWith('server'))?.note ?? '',
    /contiguous true, completed true, replays true/,
  );
  assert.match(rows.find((r) => r.scenario.includes('conversations'))?.note ?? '', /requests per answered turn 1\.00 /);
}, 600_000);
