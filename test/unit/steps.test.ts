/** A step's Compose arguments (docker/argv.ts) and how its end is classified (activities/step-outcome.ts). */
import { describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { composeBuildArgv, composeRunArgv, LABEL_STEP, LABEL_WORKFLOW } from '../../docker/argv.js';
import { classifyStep, needsContainerRecord, needsEngineCheck, type StepFacts } from '../../activities/step-outcome.js';

describe('compose argv', () => {
  const target = { prefix: ['compose'], files: ['a.yml', 'b.yml'], service: 'runner' };

  test('build: the files, then build <service>', () => {
    expect(composeBuildArgv(target)).toEqual(['compose', '-f', 'a.yml', '-f', 'b.yml', 'build', 'runner']);
    expect(composeBuildArgv({ ...target, prefix: [], files: [] })).toEqual(['build', '--force-rm', 'runner']);
  });

  test('run: a named one-off container with labels and variables, the command one argument of bash -lc', () => {
    const command = 'echo "$(id)"; rm -rf / # never split, never a shell of ours';
    const argv = composeRunArgv({
      ...target,
      name: 'poc-pipeline-x-lint-1.1',
      labels: [
        [LABEL_WORKFLOW, 'pipeline-x'],
        [LABEL_STEP, 'lint'],
      ],
      env: [['POC_STEP', 'lint']],
      command,
    });
    expect(argv).toEqual([
      'compose',
      '-f',
      'a.yml',
      '-f',
      'b.yml',
      'run',
      '--rm',
      '-T',
      '--name',
      'poc-pipeline-x-lint-1.1',
      '--label',
      'poc.workflow-id=pipeline-x',
      '--label',
      'poc.step=lint',
      '-e',
      'POC_STEP=lint',
      'runner',
      'bash',
      '-lc',
      command,
    ]);
  });
});

describe('step outcome', () => {
  const run = (over: Partial<StepFacts>): StepFacts => ({
    kind: 'run',
    clientExitCode: 0,
    container: { exitCode: 0, oomKilled: false },
    timedOut: false,
    cancelled: false,
    engineProblem: null,
    ...over,
  });

  test('the container record decides a run step; the client exit code a build', () => {
    expect(classifyStep(run({}))).toEqual({ outcome: 'passed', exitCode: 0, oomKilled: false });
    expect(classifyStep(run({ clientExitCode: 3, container: { exitCode: 3, oomKilled: false } }))).toEqual({
      outcome: 'failed',
      exitCode: 3,
      oomKilled: false,
    });
    expect(classifyStep(run({ clientExitCode: 137, container: { exitCode: 137, oomKilled: true } }))).toEqual({
      outcome: 'failed',
      exitCode: 137,
      oomKilled: true,
    });
    const build = run({ kind: 'build', container: null });
    expect(classifyStep({ ...build, clientExitCode: 0 }).outcome).toBe('passed');
    expect(classifyStep({ ...build, clientExitCode: 1 })).toEqual({ outcome: 'failed', exitCode: 1, oomKilled: false });
  });

  test('a container that never ran is Compose failing, or the engine when it does not answer', () => {
    expect(classifyStep(run({ clientExitCode: 1, container: null })).outcome).toBe('compose-error');
    expect(classifyStep(run({ clientExitCode: 1, container: null, engineProblem: 'down' })).outcome).toBe(
      'engine-down',
    );
    expect(classifyStep(run({ kind: 'build', clientExitCode: 1, engineProblem: 'down' })).outcome).toBe('engine-down');
    // A script's own exit code is never blamed on the engine.
    const failed = run({ clientExitCode: 2, container: { exitCode: 2, oomKilled: false }, engineProblem: 'down' });
    expect(classifyStep(failed).outcome).toBe('failed');
  });

  test('a cancel wins over a timeout, a timeout over the exit code', () => {
    const record = { exitCode: 143, oomKilled: false };
    expect(classifyStep(run({ cancelled: true, timedOut: true, container: record })).outcome).toBe('cancelled');
    expect(classifyStep(run({ timedOut: true, container: record }))).toEqual({
      outcome: 'timeout',
      exitCode: 143,
      oomKilled: false,
    });
  });

  test('the engine is asked only when a failure may be its own; the record unless exit 0 says it all', () => {
    assert.equal(needsContainerRecord('run', 0, false), false);
    assert.equal(needsContainerRecord('run', 0, true), true);
    assert.equal(needsContainerRecord('run', 1, false), true);
    assert.equal(needsContainerRecord('build', 1, false), false);
    const { engineProblem: _unused, ...facts } = run({ clientExitCode: 1, container: null });
    assert.equal(needsEngineCheck(facts), true);
    assert.equal(needsEngineCheck({ ...facts, container: { exitCode: 1, oomKilled: false } }), false);
    assert.equal(needsEngineCheck({ ...facts, timedOut: true }), false);
    assert.equal(needsEngineCheck({ ...facts, kind: 'build' }), true);
    assert.equal(needsEngineCheck({ ...facts, kind: 'build', clientExitCode: 0 }), false);
  });
});
