/**
 * The `poc` command as users run it (the bin, in a child process) against a real dev server and
 * a real worker (steps scripted, so no Docker): exit codes 0/1/2, --follow, --json, and the
 * visible-from-outside promise (`temporal workflow list/query/cancel/start`).
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { getPipelineStatus, type PipelineStatus, type RunSummary } from '../client/index.js';
import { findTemporalCli } from '../worker/devserver.js';
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
const dir = tempDir('cli');
const steps = scriptedSteps();
let server: TestServer;
let worker: TestWorker;
let env: NodeJS.ProcessEnv;
let temporal: string;

function poc(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return execa(process.execPath, [path.join(root, 'cli', 'poc.js'), ...args], {
    env: { ...env, ...extraEnv },
    reject: false,
    timeout: 120_000,
  });
}

function temporalCli(args: string[]) {
  return execa(temporal, [...args, '--address', server.address], { reject: false, timeout: 60_000 });
}

beforeAll(async () => {
  server = await testServer();
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep: steps.runStep },
    config: { jobsDir: path.join(dir, 'jobs') },
  });
  const ws = scriptedWorkspace(path.join(dir, 'ws'), {
    build: 'ok',
    bootstrap: 'ok',
    doctor: 'ok',
    lint: 'ok',
    test: 'exit 3',
    slow: 'block',
    flaky: 'fail-once 5',
  });
  env = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: worker.taskQueue,
    POC_WORKSPACE: ws,
    NO_COLOR: '1',
  };
  temporal = (findTemporalCli() as { path: string }).path;
});

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('poc CLI', () => {
  test('run --follow shows each step and exits 0 when every step passed', async () => {
    const result = await poc(['run', 'cli goal', '--steps', 'build,lint', '--follow']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stderr, /started pipeline-[0-9a-z]{8}/);
    assert.match(result.stderr, /✔ build\s+done/);
    assert.match(result.stderr, /✔ lint\s+done/);
    assert.match(result.stderr, /DONE: every step passed/);
  });

  test('run --follow exits 1 when a step failed, with its log tail and path', async () => {
    const result = await poc(['run', '--steps', 'lint,test', '--follow']);
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /✖ test\s+failed.*exit 3/);
    assert.match(result.stderr, /FAILED at test \(exit 3\)/);
    assert.match(result.stderr, /│ test attempt 1/, 'the tail of the step log');
    assert.match(result.stderr, /log: .*\/logs\/test\.log/);
  });

  test('status, list and logs with --json; without an id, status shows the newest run', async () => {
    const started = await poc(['run', 'json goal', '--steps', 'lint', '--json']);
    assert.equal(started.exitCode, 0, started.stderr);
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
    await worker.client.workflow.getHandle(workflowId).result();
    const status = JSON.parse((await poc(['status', workflowId, '--json'])).stdout) as PipelineStatus;
    assert.equal(status.phase, 'DONE');
    assert.equal(status.goal, 'json goal');
    const short = workflowId.replace('pipeline-', '');
    assert.equal(JSON.parse((await poc(['status', short, '--json'])).stdout).id, workflowId, 'the bare id works too');
    const newest = await eventually('list to show the run', async () => {
      const list = JSON.parse((await poc(['list', '--json', '--limit', '5'])).stdout) as RunSummary[];
      return list.find((r) => r.workflowId === workflowId && r.phase === 'DONE');
    });
    assert.equal(newest.title, 'json goal');
    const text = await poc(['list']);
    assert.match(text.stdout, new RegExp(`${workflowId}\\s+✔ DONE`));
    const logs = await poc(['logs', workflowId, 'lint', '--json']);
    assert.equal(JSON.parse(logs.stdout).text, 'lint attempt 1');
    assert.equal((await poc(['logs', workflowId])).stdout.trim(), 'lint attempt 1');
  });

  test('cancel, and decisions on a run that waits for one', async () => {
    const slow = JSON.parse((await poc(['run', '--steps', 'slow', '--json'])).stdout) as { workflowId: string };
    await steps.started(slow.workflowId, 'slow');
    const cancelled = await poc(['cancel', slow.workflowId]);
    assert.equal(cancelled.exitCode, 0, cancelled.stderr);
    await eventually('cancelled', async () =>
      (await getPipelineStatus(worker.client, slow.workflowId)).phase === 'CANCELLED' ? true : undefined,
    );
    assert.match((await poc(['cancel', slow.workflowId])).stderr, /already ended/);

    const asked = JSON.parse((await poc(['run', '--steps', 'flaky', '--ask', '--json'])).stdout) as {
      workflowId: string;
    };
    await eventually('awaiting', async () =>
      (await getPipelineStatus(worker.client, asked.workflowId)).phase === 'AWAITING_DECISION' ? true : undefined,
    );
    const wrong = await poc(['approve', asked.workflowId]);
    assert.equal(wrong.exitCode, 1);
    assert.match(wrong.stderr, /"approve" does not answer this question; choose retry, skip, abort/);
    const retried = await poc(['retry', asked.workflowId]);
    assert.equal(retried.exitCode, 0, retried.stderr);
    assert.match(retried.stdout, /retry accepted for step flaky/);
    const status = await worker.client.workflow.getHandle(asked.workflowId).result();
    assert.equal(status.decisions[0].by?.startsWith('cli:'), true);
  });

  test('bad usage exits 2 with a one-line error naming the problem', async () => {
    for (const [args, message] of [
      [['frobnicate'], /unknown command "frobnicate"; `poc help` lists the commands/],
      [['run', '--bogus'], /unknown option --bogus; usage: poc run/],
      [['run', '--steps', 'Lint;rm'], /"Lint;rm" is not a step name/],
      [['llm', '--backend', 'gpt', '--model', 'x', 'hi'], /--backend must be one of ollama, openai, anthropic/],
      [['logs'], /a run id is needed; usage: poc logs/],
    ] as const) {
      const result = await poc([...args]);
      assert.equal(result.exitCode, 2, `${args.join(' ')} → ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
    }
    const missing = await poc(['status', 'no-such-run']);
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /no run "no-such-run"/);
    const unreachable = await poc(['list'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(unreachable.exitCode, 1);
    assert.match(unreachable.stderr, /cannot reach Temporal at 127\.0\.0\.1:1 .*set TEMPORAL_ADDRESS/);
  });

  test('help lists every command of the contract; `npx poc` finds the bin', async () => {
    const npx = await execa('npx', ['--no', 'poc', 'version'], { cwd: root, env, reject: false });
    assert.equal(npx.exitCode, 0, npx.stderr);
    assert.match(npx.stdout, /^\d+\.\d+\.\d+$/);
    const result = await poc(['help']);
    assert.equal(result.exitCode, 0);
    for (const verb of [
      'up',
      'server',
      'worker',
      'bot',
      'run',
      'llm',
      'status',
      'list',
      'logs',
      'cancel',
      'retry',
      'skip',
      'abort',
      'doctor',
      'schedule',
    ]) {
      assert.match(result.stdout, new RegExp(`^poc ${verb}\\b`, 'm'), verb);
    }
  });

  test('runs are visible and controllable with the temporal CLI', async () => {
    const started = await temporalCli([
      'workflow',
      'start',
      '--type',
      'pipeline',
      '--task-queue',
      worker.taskQueue,
      '--workflow-id',
      'pipeline-fromcli1',
      '--input',
      JSON.stringify({
        goal: 'from the temporal CLI',
        steps: ['slow'],
        requestedBy: 'U-temporal',
        workspace: env.POC_WORKSPACE,
      }),
    ]);
    assert.equal(started.exitCode, 0, started.stderr);
    await steps.started('pipeline-fromcli1', 'slow');
    const listed = await eventually('the run in a visibility query', async () => {
      const r = await temporalCli([
        'workflow',
        'list',
        '--query',
        'PocKind="pipeline" AND PocPhase="RUNNING" AND PocRequestedBy="U-temporal"',
        '--output',
        'json',
      ]);
      return r.stdout.includes('pipeline-fromcli1') ? r.stdout : undefined;
    });
    assert.match(listed, /pipeline-fromcli1/);
    const queried = await temporalCli([
      'workflow',
      'query',
      '--workflow-id',
      'pipeline-fromcli1',
      '--type',
      'status',
      '--output',
      'json',
    ]);
    assert.equal(queried.exitCode, 0, queried.stderr);
    assert.match(queried.stdout, /"phase":\s*"RUNNING"/);
    assert.match(queried.stdout, /"goal":\s*"from the temporal CLI"/);
    const described = await temporalCli([
      'workflow',
      'describe',
      '--workflow-id',
      'pipeline-fromcli1',
      '--output',
      'json',
    ]);
    assert.match(described.stdout, /from the temporal CLI/, 'the memo carries the goal');
    const cancelled = await temporalCli(['workflow', 'cancel', '--workflow-id', 'pipeline-fromcli1']);
    assert.equal(cancelled.exitCode, 0, cancelled.stderr);
    await eventually('cancelled from the temporal CLI', async () =>
      (await getPipelineStatus(worker.client, 'pipeline-fromcli1')).phase === 'CANCELLED' ? true : undefined,
    );
    const failed = await eventually('the failed-phase query', async () => {
      const r = await temporalCli([
        'workflow',
        'list',
        '--query',
        'PocKind="pipeline" AND PocPhase="CANCELLED"',
        '--output',
        'json',
      ]);
      return r.stdout.includes('pipeline-fromcli1') ? true : undefined;
    });
    assert.ok(failed);
  });

  test('the decide update rejects a decision the run does not await, through the temporal CLI too', async () => {
    const r = await poc(['run', '--steps', 'slow', '--json']);
    const { workflowId } = JSON.parse(r.stdout) as { workflowId: string };
    await steps.started(workflowId, 'slow');
    const update = await temporalCli([
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      workflowId,
      '--name',
      'decide',
      '--input',
      '{"action":"retry"}',
    ]);
    assert.notEqual(update.exitCode, 0);
    assert.match(update.stderr + update.stdout, /not awaiting a decision/);
    await poc(['cancel', workflowId]);
  });
});
