/**
 * Live output through the real `runStep` on a real Docker engine: a step that prints a line every
 * half second shows its newest line in its heartbeat (what `poc run --follow` reads) and, for a
 * run that reports to Slack, in the run's status and on its Slack status message (the coalesced
 * `stepOutput` signal), redacted. The fake Slack speaks Slack's Web API to the real SDK.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { getPipelineStatus, liveStepOutput, startPipeline, type PipelineStatus } from '../client/index.js';
import { ensureBashImage, fixtureWorkspace } from './support/images.js';
import { startFakeSlack, textOf, type FakeSlack } from './support/fake-slack.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const root = tempDir('live-output-e2e');
const secret = `sk-live-${Math.random().toString(36).slice(2)}-0123456789abcdef`;
let server: TestServer;
let fake: FakeSlack;
let worker: TestWorker;
let client: Client;

beforeAll(async () => {
  await ensureBashImage();
  server = await testServer();
  fake = await startFakeSlack();
  worker = await startTestWorker({
    address: server.address,
    // A key of the worker's: whatever a step prints of it is redacted.
    env: { SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl, OPENAI_API_KEY: secret },
    config: { jobsDir: path.join(root, 'jobs') },
  });
  client = worker.client;
});

afterAll(async () => {
  await worker?.stop();
  await fake?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a running step in a container', () => {
  test('its newest line is in the heartbeat, in the status and on the Slack message, redacted', async () => {
    // Prints until the test drops runner/stop into the mounted workspace.
    const talk =
      `i=0; while [ ! -f runner/stop ]; do i=$((i+1)); echo "tick $i key ${secret}"; sleep 0.5; done; ` +
      'echo finished';
    const ws = fixtureWorkspace(path.join(root, 'ws'), { talk });
    const channel = 'C0LIVE';
    const { workflowId } = await startPipeline(
      client,
      { steps: ['talk'], workspace: ws, slack: { channel, threadTs: '1700000000.000100' } },
      { taskQueue: worker.taskQueue },
    );
    try {
      const live = await eventually(
        'a line in the heartbeat',
        async () => {
          const output = await liveStepOutput(client, workflowId);
          return output?.lastLine.startsWith('tick ') ? output : undefined;
        },
        90_000,
      );
      assert.equal(live.step, 'talk');
      assert.ok(!live.lastLine.includes(secret), live.lastLine);
      assert.match(live.lastLine, /^tick \d+ key \[redacted:[\w-]+\]$/);

      // The signal is coalesced (one every 10 s at most): wait for it, don't time it.
      const status = await eventually(
        'the line in the status',
        async () => {
          const s = await getPipelineStatus(client, workflowId);
          return s.steps[0].lastLine?.startsWith('tick ') ? s : undefined;
        },
        60_000,
      );
      assert.ok(!status.steps[0].lastLine?.includes(secret));
      const message = await fake.waitFor('the line on the status message', () =>
        fake.botMessages(channel, '1700000000.000100').find((m) => /↳ `tick \d+ key \[redacted/.test(textOf(m))),
      );
      assert.ok(!textOf(message).includes(secret));
    } finally {
      fs.writeFileSync(path.join(ws, 'runner', 'stop'), '');
    }
    const final = (await client.workflow.getHandle(workflowId).result()) as PipelineStatus;
    assert.equal(final.phase, 'DONE');
  }, 240_000);
});
