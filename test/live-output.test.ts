/**
 * A running step is never silent: `poc run --follow` and `poc logs --follow` show its newest
 * output line (from the step's heartbeat details, which cost the run no history), on a terminal
 * with a spinner and the elapsed time; a run that reports to Slack keeps the line in its status
 * (the `stepOutput` signal), and the Web UI's current details carry it. Real dev server and
 * worker; steps scripted (they heartbeat like the real one), no Docker.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import {
  getPipelineStatus,
  liveStepOutput,
  startPipeline,
  stepOutputSignal,
  type PipelineStatus,
} from '../client/index.js';
import { main } from '../cli/main.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = tempDir('live-output');
const steps = scriptedSteps();
let server: TestServer;
let worker: TestWorker;
let client: Client;
let ws: string;
let env: NodeJS.ProcessEnv;
const savedEnv = { ...process.env };

beforeAll(async () => {
  server = await testServer();
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep: steps.runStep },
    config: { jobsDir: path.join(dir, 'jobs') },
  });
  client = worker.client;
  ws = scriptedWorkspace(path.join(dir, 'ws'), { build: 'ok', slow: 'hold', other: 'hold' });
  env = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: worker.taskQueue,
    POC_WORKSPACE: ws,
    NO_COLOR: '1',
  };
});

afterAll(async () => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  await worker?.stop();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the bin and resolves once its stderr matches `pattern` (then `whenSeen` runs); then waits for its end. */
function pocUntil(args: string[], pattern: RegExp, whenSeen: (stderr: string) => void) {
  const child = spawn(process.execPath, [path.join(root, 'cli', 'poc.js'), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let seen = false;
  const check = () => {
    if (!seen && pattern.test(stdout + stderr)) {
      seen = true;
      whenSeen(stderr);
    }
  };
  child.stdout.on('data', (chunk: Buffer) => ((stdout += chunk.toString()), check()));
  child.stderr.on('data', (chunk: Buffer) => ((stderr += chunk.toString()), check()));
  return new Promise<{ code: number | null; stdout: string; stderr: string; seen: boolean }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr, seen })),
  );
}

describe('live step output', () => {
  test('liveStepOutput reads the running step and its newest line from the heartbeat', async () => {
    const { workflowId } = await startPipeline(
      client,
      { steps: ['slow'], workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    await steps.started(workflowId, 'slow');
    const live = await eventually('the heartbeat', () => liveStepOutput(client, workflowId));
    assert.equal(live.step, 'slow');
    assert.equal(live.attempt, 1);
    assert.equal(live.lastLine, 'slow attempt 1 is working');
    assert.ok(live.at instanceof Date);
    steps.release(workflowId, 'slow');
    await client.workflow.getHandle(workflowId).result();
    assert.equal(await liveStepOutput(client, workflowId), undefined, 'nothing runs any more');
  });

  test('poc run --follow prints the running step newest line, then the end as before', async () => {
    let workflowId = '';
    const result = await pocUntil(
      ['run', 'live', '--steps', 'build,slow', '--follow'],
      /│ slow: slow attempt 1 is working/,
      (stderr) => {
        workflowId = /started (pipeline-\w+)/.exec(stderr)?.[1] ?? '';
        steps.release(workflowId, 'slow');
      },
    );
    assert.ok(result.seen, result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /✔ slow\s+done/);
    assert.match(result.stderr, /DONE: every step passed/);
  });

  /** A stream that looks like a terminal and calls `onWrite` with everything written so far. */
  function terminal(tty: boolean, onWrite: (all: string) => void) {
    let all = '';
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        all += chunk.toString();
        onWrite(all);
        done();
      },
    });
    return Object.assign(stream, { isTTY: tty, columns: 120, text: () => all });
  }

  test('on a terminal, run --follow ticks a spinner with the elapsed time and the newest line', async () => {
    Object.assign(process.env, env);
    let workflowId = '';
    const stderr = terminal(true, (all) => {
      workflowId ||= /started (pipeline-\w+)/.exec(all)?.[1] ?? '';
      if (workflowId && /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] other\s+running\s+\d+\.\ds │ other attempt 1 is working/.test(all))
        steps.release(workflowId, 'other');
    });
    const code = await main(['run', '--steps', 'other', '--follow'], { stdout: terminal(false, () => {}), stderr });
    assert.equal(code, 0, stderr.text());
    assert.match(stderr.text(), /DONE: every step passed/);
  });

  test('on a terminal, logs --follow streams the log with a spinner below it', async () => {
    Object.assign(process.env, env);
    const { workflowId } = await startPipeline(
      client,
      { steps: ['other'], workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    await steps.started(workflowId, 'other');
    const stdout = terminal(false, () => {});
    const stderr = terminal(true, (all) => {
      if (/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] other\s+running\s+\d+\.\ds/.test(all) && /other attempt 1/.test(stdout.text()))
        steps.release(workflowId, 'other');
    });
    const code = await main(['logs', workflowId, 'other', '--follow'], { stdout, stderr });
    assert.equal(code, 0, stderr.text());
    assert.match(stdout.text(), /^other attempt 1$/m, 'the log itself');
  });

  test('poc logs --follow, with the log on another machine, shows the newest line from the heartbeat', async () => {
    const { workflowId } = await startPipeline(
      client,
      { steps: ['slow'], workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    await steps.started(workflowId, 'slow');
    // The worker's file is not on this machine: the reader only has the run and its heartbeat.
    const { steps: stepStates } = await getPipelineStatus(client, workflowId);
    fs.rmSync(stepStates[0].logPath as string);
    const result = await pocUntil(['logs', workflowId, 'slow', '--follow'], /slow attempt 1 is working/, () =>
      steps.release(workflowId, 'slow'),
    );
    assert.ok(result.seen, result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^slow attempt 1 is working$/m);
  });
});

describe('the stepOutput signal (sent by the steps of runs that report to Slack)', () => {
  test('sets the running step line in status and in the current details; stale lines are dropped', async () => {
    const { workflowId } = await startPipeline(
      client,
      { steps: ['slow'], workspace: ws },
      { taskQueue: worker.taskQueue },
    );
    await steps.started(workflowId, 'slow');
    const handle = client.workflow.getHandle(workflowId);
    await handle.signal(stepOutputSignal, { step: 'slow', attempt: 1, line: 'npm ci: added 412 packages' });
    await handle.signal(stepOutputSignal, { step: 'slow', attempt: 9, line: 'a stale attempt: dropped' });
    await handle.signal(stepOutputSignal, { step: 'nope', attempt: 1, line: 'no such step: dropped' });
    const status = await eventually('the line in status', async () => {
      const s = await getPipelineStatus(client, workflowId);
      return s.steps[0].lastLine ? s : undefined;
    });
    assert.equal(status.steps[0].lastLine, 'npm ci: added 412 packages');
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.equal(metadata.currentDetails, 'RUNNING · step 1 of 1: slow · npm ci: added 412 packages');
    steps.release(workflowId, 'slow');
    const final = (await handle.result()) as PipelineStatus;
    assert.equal(final.phase, 'DONE');
  });
});
