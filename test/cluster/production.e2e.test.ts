/**
 * poc-orchestrator on a production-shaped Temporal: the four-process cluster on PostgreSQL behind
 * mTLS that `npm run test:cluster` brings up (POC_TEST_CLUSTER_DIR names it; this folder runs only
 * there). Everything goes through what users run: `poc worker` and `poc bot` as processes, the
 * `temporal` CLI with its --tls-* flags, a fake Slack speaking Slack's protocols, a real Docker
 * engine for the steps.
 *
 * - a pipeline started with the `temporal` CLI and one started from Slack both end DONE, and
 *   `temporal workflow list --query 'PocKind="pipeline" AND PocPhase="DONE"'` finds them (SQL
 *   visibility on PostgreSQL);
 * - a history written by the cluster replays on today's workflow code;
 * - the worker, the bot and the CLI pointed at the cluster with a wrong CA, without the client
 *   certificate, or with a certificate of another CA each stop at start with one line naming the
 *   setting and the fix.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { getPipelineStatus, slackRunId, type PipelineStatus } from '../../client/index.js';
import { ensureCerts } from '../../cluster/certs.js';
import { clusterStatus, type ClusterStatus } from '../../cluster/index.js';
import { loadConfig } from '../../core/config.js';
import { connectionOptions } from '../../core/temporal.js';
import { listContainers } from '../../docker/index.js';
import { findTemporalCli } from '../../worker/devserver.js';
import { installRuntime, workflowBundle } from '../../worker/index.js';
import { startFakeSlack, textOf, type FakeSlack } from '../support/fake-slack.js';
import { ensureBashImage, fixtureWorkspace } from '../support/images.js';
import { startTsx, type Child } from '../support/processes.js';
import { eventually, tempDir } from '../support/temporal.js';

const clusterDir = process.env.POC_TEST_CLUSTER_DIR;
if (!clusterDir) throw new Error('test/cluster/ runs against the cluster `npm run test:cluster` brings up');

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const root = tempDir('cluster-production');
const taskQueue = `cluster-production-${process.pid}`;
const CHANNEL = 'C0GENERAL';
let status: ClusterStatus;
let temporalCliPath: string;
let fake: FakeSlack;
let connection: Connection;
let client: Client;
const children: Child[] = [];
const started: { cli?: string; slack?: string } = {};

/** The `temporal` CLI with the cluster's mTLS as flags, and none of the TEMPORAL_* variables: the flags alone count. */
function temporalCli(args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_')));
  return execa(
    temporalCliPath,
    [
      ...args,
      '--address',
      status.address,
      '--namespace',
      status.namespace,
      '--tls-ca-path',
      status.tls.caCertPath,
      '--tls-cert-path',
      status.tls.clientCertPath,
      '--tls-key-path',
      status.tls.clientKeyPath,
      '--tls-server-name',
      status.tls.serverName,
    ],
    { env, extendEnv: false, reject: false, timeout: 60_000 },
  );
}

/** `poc <args>` as users run it (the bin), with the cluster's variables from jest's setup plus `env`. */
function poc(args: string[], env: NodeJS.ProcessEnv) {
  return execa(process.execPath, [path.join(repo, 'cli', 'poc.js'), ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    reject: false,
    timeout: 90_000,
  });
}

async function finished(workflowId: string): Promise<PipelineStatus> {
  // A run started from Slack exists once the bot has handled the message.
  await eventually(`${workflowId} to exist`, () => client.workflow.getHandle(workflowId).describe(), 60_000);
  await client.workflow
    .getHandle(workflowId)
    .result()
    .catch(() => undefined);
  return getPipelineStatus(client, workflowId);
}

beforeAll(async () => {
  installRuntime({ logLevel: 'ERROR' });
  status = (await clusterStatus({ dir: clusterDir })) as ClusterStatus;
  expect(status).toBeDefined();
  temporalCliPath = (findTemporalCli() as { path: string }).path;
  await ensureBashImage();
  fake = await startFakeSlack();
  connection = await Connection.connect(connectionOptions(loadConfig()));
  client = new Client({ connection, namespace: status.namespace });
  const ws = fixtureWorkspace(path.join(root, 'ws'), {
    bootstrap: 'echo "bootstrap on the cluster"',
    lint: 'echo "lint on the cluster"',
  });
  const shared = { POC_TASK_QUEUE: taskQueue, SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl };
  const worker = startTsx('cli/main.ts', { ...shared, POC_WORKSPACE: ws, POC_JOBS_DIR: path.join(root, 'jobs') }, [
    'worker',
  ]);
  children.push(worker);
  const bot = startTsx('cli/main.ts', { ...shared, SLACK_APP_TOKEN: fake.appToken }, ['bot']);
  children.push(bot);
  await worker.waitFor(/worker on .* task queue/);
  await bot.waitFor(/Slack bot running/);
  await fake.connected();
});

afterAll(async () => {
  for (const child of children) await child.kill();
  await connection?.close();
  await fake?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('runs on the four-process cluster on PostgreSQL with mTLS', () => {
  test('a pipeline started with the temporal CLI (--tls-* flags) ends DONE', async () => {
    const workflowId = `pipeline-cluster-cli-${process.pid}`;
    const input = JSON.stringify({ goal: 'started with the temporal CLI', steps: ['bootstrap', 'lint'] });
    const start = await temporalCli([
      'workflow',
      'start',
      '--type',
      'pipeline',
      '--task-queue',
      taskQueue,
      '--workflow-id',
      workflowId,
      '--input',
      input,
    ]);
    expect(start.stderr).toBe('');
    expect(start.exitCode).toBe(0);
    started.cli = workflowId;
    const final = await finished(workflowId);
    expect(final.phase).toBe('DONE');
    expect(final.steps.map((s) => [s.name, s.status])).toEqual([
      ['bootstrap', 'done'],
      ['lint', 'done'],
    ]);
    expect(fs.readFileSync(final.steps[1].logPath as string, 'utf8')).toMatch(/lint on the cluster/);
    expect(await listContainers({ workflowId })).toEqual([]);
  });

  test('a pipeline started from Slack ends DONE, and its status message says so', async () => {
    const command = fake.sendMessage({ channel: CHANNEL, text: '!poc run from Slack --steps bootstrap,lint' });
    const workflowId = `pipeline-${slackRunId(fake.teamId, CHANNEL, command.ts)}`;
    started.slack = workflowId;
    const final = await finished(workflowId);
    expect(final.phase).toBe('DONE');
    expect(final.goal).toBe('from Slack');
    await fake.waitFor('the status message in the thread to say DONE', () =>
      fake.botMessages(CHANNEL, command.ts).find((m) => /— \*DONE\*/.test(textOf(m))),
    );
  });

  const doneQuery = 'PocKind="pipeline" AND PocPhase="DONE"';
  test(`temporal workflow list --query '${doneQuery}' finds both (SQL visibility)`, async () => {
    expect(started.cli && started.slack).toBeTruthy();
    const found = await eventually(
      'both pipelines in the visibility query',
      async () => {
        const list = await temporalCli(['workflow', 'list', '--query', doneQuery, '--output', 'json']);
        if (list.exitCode !== 0) throw new Error(list.stderr);
        const ids = (JSON.parse(list.stdout || '[]') as Array<{ execution: { workflowId: string } }>).map(
          (e) => e.execution.workflowId,
        );
        return ids.includes(started.cli as string) && ids.includes(started.slack as string) ? ids : undefined;
      },
      60_000,
    );
    expect(found).toEqual(expect.arrayContaining([started.cli, started.slack]));
  });

  test("poc doctor reports the cluster: mTLS, the server's version, the namespace, the search attributes", async () => {
    const doctor = await poc(['doctor', '--json'], {});
    const checks = JSON.parse(doctor.stdout) as Array<{ name: string; state: string; detail: string }>;
    const check = (name: string) => checks.find((c) => c.name === name);
    expect(check('Temporal access')).toMatchObject({
      state: 'PASS',
      detail: expect.stringMatching(/TLS \(client certificate, CA .*ca\.pem, server name localhost\), no API key/),
    });
    expect(check('Temporal server')).toMatchObject({ state: 'PASS', detail: expect.stringMatching(/1\.29\.1/) });
    expect(check('Namespace')?.state).toBe('PASS');
    expect(check('Search attributes')?.state).toBe('PASS');
  });

  test('a history the cluster wrote replays on the current workflow code', async () => {
    const show = await temporalCli(['workflow', 'show', '--workflow-id', started.slack as string, '--output', 'json']);
    expect(show.exitCode).toBe(0);
    const history = JSON.parse(show.stdout);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, started.slack);
  });
});

describe('pointed at the cluster with the wrong TLS settings, each piece stops at start with one line', () => {
  let other: Awaited<ReturnType<typeof ensureCerts>>;
  beforeAll(async () => {
    // Certificates of another CA: a CA the cluster's server certificate does not chain to, and a
    // client pair the cluster does not trust.
    other = await ensureCerts(path.join(root, 'other-ca'));
  });

  const problems: Array<{ what: string; env: () => NodeJS.ProcessEnv; says: RegExp }> = [
    {
      what: 'a wrong CA',
      env: () => ({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: other.caCertPath }),
      says: new RegExp(
        '^poc: the certificate of Temporal at \\S+ is not signed by the CA of TEMPORAL_TLS_SERVER_CA_CERT_PATH ' +
          '.*; point it at the CA that signed',
      ),
    },
    {
      what: 'no client certificate',
      env: () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' }),
      says: new RegExp(
        '^poc: Temporal at \\S+ requires a client certificate \\(mTLS\\) and none is set; ' +
          'set TEMPORAL_TLS_CLIENT_CERT_PATH',
      ),
    },
    {
      what: 'a client certificate of another CA',
      env: () => ({
        TEMPORAL_TLS_CLIENT_CERT_PATH: other.clientCertPath,
        TEMPORAL_TLS_CLIENT_KEY_PATH: other.clientKeyPath,
      }),
      says: new RegExp(
        '^poc: Temporal at \\S+ rejected the client certificate of TEMPORAL_TLS_CLIENT_CERT_PATH ' +
          '.*; use a certificate signed by a CA the server trusts',
      ),
    },
  ];
  const pieces: Array<{ name: string; args: string[]; env: () => NodeJS.ProcessEnv }> = [
    { name: 'the worker (poc worker)', args: ['worker'], env: () => ({ POC_TASK_QUEUE: `${taskQueue}-refused` }) },
    {
      name: 'the bot (poc bot)',
      args: ['bot'],
      env: () => ({ SLACK_BOT_TOKEN: fake.botToken, SLACK_APP_TOKEN: fake.appToken, SLACK_API_URL: fake.apiUrl }),
    },
    { name: 'the CLI (poc list)', args: ['list'], env: () => ({}) },
  ];
  for (const piece of pieces) {
    for (const problem of problems) {
      // Concurrently: each one waits for its connection attempt to fail, not for the CPU.
      test.concurrent(`${piece.name} with ${problem.what}`, async () => {
        const result = await poc(piece.args, { ...piece.env(), ...problem.env() });
        const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
        expect({ exitCode: result.exitCode, lines: lines.length, stdout: result.stdout }).toEqual({
          exitCode: 1,
          lines: 1,
          stdout: '',
        });
        expect(lines[0]).toMatch(problem.says);
      });
    }
  }
});
