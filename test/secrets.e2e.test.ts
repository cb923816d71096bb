/**
 * A key printed by a step never gets out: not to Slack (status message, failure reply), not to
 * the failure text or the run's status, not to the step log, not to CLI output. A real worker
 * process (with the key in its environment, as a real deployment has) runs a real container
 * that prints it; progress goes to a fake Slack through the real bot and workflow.
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
const secret = `sk-proj-${crypto.randomBytes(24).toString('hex')}`;
const deployToken = `dt_${crypto.randomBytes(16).toString('hex')}`;
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
  fs.mkdirSync(ws, { recursive: true });
  // The container gets the key the way the repository's own compose file passes it: by name.
  fs.writeFileSync(
    path.join(ws, 'docker-compose.yml'),
    `services:\n  runner:\n    image: ${BASH_IMAGE}\n    pull_policy: never\n    network_mode: none\n` +
      '    working_dir: /workspace\n    volumes:\n      - .:/workspace\n' +
      '    environment:\n      - OPENAI_API_KEY\n      - DEPLOY_TOKEN\n',
  );
  fs.writeFileSync(
    path.join(ws, 'poc.config.json'),
    JSON.stringify({
      steps: { leak: 'echo "calling the API with $OPENAI_API_KEY"; echo "deploy token=$DEPLOY_TOKEN" >&2; exit 3' },
    }),
  );
  const secrets = { OPENAI_API_KEY: secret, DEPLOY_TOKEN: deployToken };
  worker = startTsx('test/support/worker-process.ts', {
    ...secrets,
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

test('a key printed by a step reaches neither Slack nor the failure text, the status, the log or the CLI', async () => {
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

  const everything = [
    ...fake.botMessages('C0GENERAL').flatMap((m) => m.versions.map((v) => JSON.stringify(v))),
    failure.message,
    String(failure.cause?.message),
    JSON.stringify(await getPipelineStatus(clientSide.client, workflowId)),
  ];
  const status = await getPipelineStatus(clientSide.client, workflowId);
  const log = fs.readFileSync(status.steps[0].logPath as string, 'utf8');
  assert.match(log, /calling the API with \[redacted:OPENAI_API_KEY\]/);
  assert.match(log, /deploy token=\[redacted:DEPLOY_TOKEN\]/);
  everything.push(log);
  const cliEnv = { ...process.env, TEMPORAL_ADDRESS: server.address, POC_TASK_QUEUE: taskQueue };
  for (const args of [
    ['logs', workflowId],
    ['status', workflowId, '--json'],
  ]) {
    const result = await execa(process.execPath, [path.join(root, 'cli', 'poc.js'), ...args], {
      env: cliEnv,
      reject: false,
    });
    everything.push(result.stdout, result.stderr);
  }
  for (const text of everything) {
    assert.ok(!text.includes(secret), `the key leaked: ${text.slice(0, 300)}`);
    assert.ok(!text.includes(deployToken), `the token leaked: ${text.slice(0, 300)}`);
  }
}, 180_000);
