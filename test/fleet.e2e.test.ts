/**
 * A small version of bench/fleet.ts in every test run: two build hosts, each a `poc worker`
 * process with its own Docker engine, runs from a local bare repository. One host's worker is
 * SIGKILLed and its engine stopped mid-run: every run ends DONE with all its steps on one host,
 * the dead host's runs start again on the other within the documented time, no container is left
 * on the survivor; a run asking for a label no host has waits, saying so, until the dead host
 * comes back with that label — and that host's sweep removes what it left behind.
 */
import { expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { documentedMoveMs, renderLoss, runFleet } from '../bench/fleet.js';
import { canRunEngines } from './support/engines.js';

const maybe = canRunEngines() ? test : test.skip;

maybe(
  'a fleet of two hosts with their own engines: a host lost mid-run, a label that joins later',
  async () => {
    const timeoutSeconds = 10;
    const { loss } = await runFleet({
      runs: 4,
      hostCounts: [],
      lossHosts: 2,
      slots: 1,
      steps: 2,
      sleepSeconds: 2,
      timeoutSeconds,
    });
    assert.ok(loss);
    const table = renderLoss(loss);
    assert.equal(loss.done, loss.runs, table);
    assert.equal(loss.onOneHost, loss.runs, table);
    assert.ok(loss.onDeadHost >= 1, table);
    assert.equal(loss.moved, loss.onDeadHost, table);
    // One host left with one slot: a moved run may wait for the other's run to end, so the bound is on noticing.
    assert.ok(loss.maxNoticedMs <= documentedMoveMs(timeoutSeconds), table);
    assert.equal(loss.containersLeftOnSurvivors, 0, table);
    // Compose v1 removes a `run --rm` container itself, so the stopped engine keeps it: the sweep's work.
    if (/^docker-compose 1\./.test(loss.compose)) assert.ok(loss.leftoversOnReturn >= 1, table);
    assert.equal(loss.leftoversAfterSweep, 0, table);
    expect(loss.labelReason).toMatch(/no host that is up has label fast/);
    assert.equal(loss.labelRunPhase, 'DONE', table);
    assert.equal(loss.labelRunHost, 'h1', table);
  },
  600_000,
);
