/**
 * A secret printed by a step never gets out. Planted: keys in the worker's environment (passed
 * to the container by name, as the repository's own compose file does), values in the
 * workspace's `.env` and `runner/.env`, a database URL with a password, and the usual shapes — a
 * GitHub token, an AWS key id, a Slack webhook, a private key, a JWT, a URL with a password. A
 * real worker process runs a real container that prints them all and fails; the run reports to a
 * fake Slack through the real bot and workflow. Then each secret is searched for in the whole
 * workflow history (`temporal workflow show -o json`, payloads decoded), the worker's log, every
 * message and API call the fake Slack saw, the step log and the CLI's output.
 */
import { afterAll, beforeAll, test } from '@jest/globals';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { WorkflowFailedError } from '@temporalio/client';
import { getPipelineStatus, slackRunId } from '../client/index.js';
import { startSlackBot, type SlackBot } from '../slack/app.js';
import { findTemporalCli } from '../worker/devserver.js';
import { BASH_IMAGE, ensureBashImage } from './support/images.js';
import { startFakeSlack, textOf, type FakeSlack } from './support/fake-slack.js';
import { startTsx, type Child } from './support/processes.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  withEnv,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = tempDir('secrets');
const hex = (n: number) => crypto.randomBytes(n).toString('hex');
const alnum = (n: number) =>
  Array.from(
    crypto.randomBytes(n),
    (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62],
  ).join('');
/** In the worker's environment; the compose file passes them to the container by name. */
const workerSecrets = {
  OPENAI_API_KEY: `sk-proj-${hex(24)}`,
  DEPLOY_TOKEN: `dt_${hex(16)}`,
  SECRET_KEY_BASE: hex(32),
  GITHUB_PAT: `pat-${hex(12)}`,
};
const dbPassword = `pw-${hex(10)}`;
const databaseUrl = `postgres://app:${dbPassword}@db.internal:5432/app`;
/** In the workspace's .env files: a step's scripts load them, the worker hides them. */
const dotenvSecret = `dotenv-${hex(12)}`;
const runnerEnvSecret = `runnerenv-${hex(12)}`;
/** Shapes no variable holds. */
const shapes = {
  github: `ghp_${alnum(36)}`,
  aws: `AKIA${alnum(16)
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, 'Q')}`,
  webhook: `https://hooks.slack.com/services/T${hex(4).toUpperCase()}/B${hex(4).toUpperCase()}/${alnum(24)}`,
  keyBody: alnum(64),
  jwt: `eyJ${alnum(20)}.eyJ${alnum(30)}.${alnum(40)}`,
  urlPassword: `up-${hex(10)}`,
};
const planted = [
  ...Object.values(workerSecrets),
  dbPassword,
  databaseUrl,
  dotenvSecret,
  runnerEnvSecret,
  shapes.github,
  shapes.aws,
  shapes.webhook,
  shapes.keyBody,
  shapes.jwt,
  shapes.urlPassword,
];
const taskQueue = `secrets-${Date.now()}`;
let server: TestServer;
let clientSide: TestWorker;
let worker: Child;
let fake: FakeSlack;
let bot: SlackBot;
let ws: string;

beforeAll(async () => {
  await ensureBashImage();
  server = await testServer();
  fake = await startFakeSlack();
  ws = path.join(dir, 'ws');
  fs.mkdirSync(path.join(ws, 'runner'), { recursive: true });
  fs.writeFileSync(
    path.join(ws, 'docker-compose.yml'),
    [
      'services:',
      '  runner:',
      `    image: ${BASH_IMAGE}`,
      '    pull_policy: never',
      '    network_mode: none',
      '    working_dir: /workspace',
      '    volumes:',
      '      - .:/workspace',
      '    environment:',
      ...[...Object.keys(workerSecrets), 'DATABASE_URL'].map((name) => `      - ${name}`),
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(ws, '.env'), `DB_PASSWORD=${dotenvSecret}\n`);
  fs.writeFileSync(path.join(ws, 'runner', '.env'), `NPM_AUTH=${runnerEnvSecret}\n`);
  // What a step finds and prints (a config file, a test fixture, a dump): in the workspace, not in
  // the command, which is configuration shown in the status (secrets go in variables, by name).
  fs.writeFileSync(
    path.join(ws, 'runner', 'found.txt'),
    [
      `token ${shapes.github} aws ${shapes.aws}`,
      `hook ${shapes.webhook}`,
      '-----BEGIN RSA PRIVATE KEY-----',
      shapes.keyBody,
      '-----END RSA PRIVATE KEY-----',
      `auth: Bearer ${shapes.jwt}`,
      `git clone https://ci:${shapes.urlPassword}@git.example.com/app.git`,
      '',
    ].join('\n'),
  );
  const leak = [
    'echo "calling the API with $OPENAI_API_KEY"',
    'echo "deploy token=$DEPLOY_TOKEN" >&2',
    'echo "rails $SECRET_KEY_BASE pat $GITHUB_PAT"',
    'echo "db $DATABASE_URL"',
    'cat .env runner/.env runner/found.txt',
    // The last line is what a failure message may quote.
    'echo "failing with $OPENAI_API_KEY $(head -c 40 runner/found.txt)"',
    'exit 3',
  ].join('; ');
  fs.writeFileSync(path.join(ws, 'poc.config.json'), JSON.stringify({ steps: { leak } }));
  worker = startTsx('test/support/worker-process.ts', {
    ...workerSecrets,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: taskQueue,
    POC_JOBS_DIR: path.join(dir, 'jobs'),
    POC_WORKSPACE: ws,
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_API_URL: fake.apiUrl,
  });
  await worker.waitFor(/^ready$/m);
  // This process only needs a client; the runs go to the worker process's task queue.
  clientSide = await startTestWorker({ address: server.address });
  bot = await startSlackBot({
    config: withEnv(
      { ...clientSide.config, taskQueue },
      { SLACK_BOT_TOKEN: fake.botToken, SLACK_APP_TOKEN: fake.appToken, SLACK_API_URL: fake.apiUrl },
    ),
    client: clientSide.client,
    log: () => undefined,
  });
  await fake.connected();
});

afterAll(async () => {
  await bot?.stop();
  await worker?.kill();
  await clientSide?.stop();
  await fake?.stop();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Every string in a JSON value, base64 payload data decoded as well. */
function stringsOf(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') {
    into.push(value);
    if (/^[A-Za-z0-9+/=]{8,}$/.test(value)) into.push(Buffer.from(value, 'base64').toString('utf8'));
  } else if (Array.isArray(value)) for (const item of value) stringsOf(item, into);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) stringsOf(item, into);
  return into;
}

test('no planted secret reaches history, the worker log, Slack, the step log or the CLI', async () => {
  const command = fake.sendMessage({ text: '!poc run leak test --steps leak' });
  const workflowId = `pipeline-${slackRunId(fake.teamId, 'C0GENERAL', command.ts)}`;
  await eventually('the bot to start the run', () => clientSide.client.workflow.getHandle(workflowId).describe());
  const failure = await clientSide.client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => undefined,
      (e: WorkflowFailedError) => e,
    );
  assert.ok(failure instanceof WorkflowFailedError, 'the run failed (the step exits 3)');
  const reply = await fake.waitFor(
    'the failure reply with the log tail',
    () =>
      fake
        .botMessages('C0GENERAL', command.ts)
        .find((m) => /exit code 3/.test(textOf(m)) && /redacted/.test(textOf(m))),
    60_000,
  );
  assert.match(textOf(reply), /\[redacted:OPENAI_API_KEY\]/, 'the reply shows where the key was');

  const status = await getPipelineStatus(clientSide.client, workflowId);
  const log = fs.readFileSync(status.steps[0].logPath as string, 'utf8');
  for (const shown of [
    /calling the API with \[redacted:OPENAI_API_KEY\]/,
    /deploy token=\[redacted:DEPLOY_TOKEN\]/,
    /db \[redacted:DATABASE_URL\]/,
    /DB_PASSWORD=\[redacted:DB_PASSWORD\]/,
    /NPM_AUTH=\[redacted:NPM_AUTH\]/,
    /token \[redacted:github-token\] aws \[redacted:aws-key-id\]/,
    /hook \[redacted:slack-webhook\]/,
    /\[redacted:private-key\]/,
    /Bearer \[redacted:jwt\]/,
    /https:\/\/ci:\[redacted:url-password\]@git\.example\.com/,
  ]) {
    assert.match(log, shown);
  }

  const cli = findTemporalCli();
  assert.ok(cli, 'the Temporal CLI');
  const history = await execa(cli.path, [
    'workflow',
    'show',
    '--workflow-id',
    workflowId,
    '--address',
    server.address,
    '--output',
    'json',
  ]);
  const searched: [string, string][] = [
    ['history', stringsOf(JSON.parse(history.stdout)).join('\n')],
    ['worker log', worker.output()],
    ['Slack messages', JSON.stringify(fake.botMessages('C0GENERAL').flatMap((m) => m.versions))],
    ['Slack calls', JSON.stringify(fake.calls)],
    ['Slack ephemerals', JSON.stringify(fake.ephemerals)],
    ['failure', `${failure.message}\n${String(failure.cause?.message)}`],
    ['status', JSON.stringify(status)],
    ['step log', log],
  ];
  const cliEnv = { ...process.env, TEMPORAL_ADDRESS: server.address, POC_TASK_QUEUE: taskQueue };
  for (const args of [['logs', workflowId], ['status', workflowId], ['status', workflowId, '--json'], ['list']]) {
    const result = await execa(process.execPath, [path.join(root, 'cli', 'poc.js'), ...args], {
      env: cliEnv,
      reject: false,
    });
    searched.push([`poc ${args.join(' ')}`, `${result.stdout}\n${result.stderr}`]);
  }
  assert.ok(searched[0][1].includes('redacted:OPENAI_API_KEY'), 'the history was searched, payloads decoded');
  const leaks = searched.flatMap(([where, text]) =>
    planted.filter((secret) => text.includes(secret)).map((secret) => `${where}: ${secret.slice(0, 12)}…`),
  );
  assert.deepEqual(leaks, []);
}, 180_000);
