/**
 * Bad input, all at once: 520 generated hostile or malformed inputs through every entry point —
 * workflow inputs and workflow ids started with the Temporal client (bypassing our client's
 * checks), CLI argument lists, and Slack commands through the real bot. Each gets a clear error or
 * a sane run; the worker and the bot stay up; no user text is ever executed. The steps are real:
 * the real `runStep`, Compose and containers, on a workspace whose steps write the run id they
 * were given into the mounted workspace — so a canary file appears if any text reached a shell on
 * the host, or inside a container (in the workspace). LLM prompts go to a local fake server
 * through the real SDKs.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { main } from '../cli/main.js';
import { parseCommand, UsageError } from '../client/grammar.js';
import { startPipeline, statusQuery } from '../client/index.js';
import { CONTAINER_CANARY, hostileCommands, hostileIds, hostileInputs } from './support/hostile.js';
import { startFakeLlm, type FakeLlmServer } from './support/fake-llm.js';
import { startFakeSlack, textOf, type FakeSlack } from './support/fake-slack.js';
import { startSlackBot, type SlackBot } from '../slack/app.js';
import { ensureBashImage, fixtureWorkspace } from './support/images.js';
import { startTestWorker, tempDir, testServer, withEnv, type TestServer, type TestWorker } from './support/temporal.js';

const SEED = Number(process.env.POC_FUZZ_SEED ?? 20261126);
const dir = tempDir('fuzz');
const canary = path.join(dir, 'CANARY-if-this-exists-text-reached-a-shell');
/** A step's command: what it was given arrives as data, written into the mounted workspace. */
const recordIds = 'printf "%s %s\\n" "$POC_STEP" "$POC_RUN_ID" >> runner/seen-ids.txt';
let ws: string;
let server: TestServer;
let worker: TestWorker;
let fake: FakeSlack;
let llm: FakeLlmServer;
let bot: SlackBot;
const savedEnv = { ...process.env };
const containerCanary = () => path.join(ws, CONTAINER_CANARY);
const noCanary = () => !fs.existsSync(canary) && !fs.existsSync(containerCanary());

beforeAll(async () => {
  await ensureBashImage();
  server = await testServer();
  fake = await startFakeSlack();
  llm = await startFakeLlm();
  ws = fixtureWorkspace(path.join(dir, 'ws'), {
    bootstrap: recordIds,
    doctor: recordIds,
    lint: recordIds,
    test: recordIds,
  });
  // The real step path: no activity is replaced.
  worker = await startTestWorker({
    address: server.address,
    config: { jobsDir: path.join(dir, 'jobs'), workspace: ws },
    env: {
      SLACK_BOT_TOKEN: fake.botToken,
      SLACK_API_URL: fake.apiUrl,
      OPENAI_API_KEY: 'sk-fuzz-0123456789abcdefghij',
      OPENAI_BASE_URL: `${llm.url}/v1`,
    },
  });
  Object.assign(process.env, {
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: worker.taskQueue,
    POC_WORKSPACE: ws,
    NO_COLOR: '1',
  });
  bot = await startSlackBot({
    config: withEnv(worker.config, {
      SLACK_BOT_TOKEN: fake.botToken,
      SLACK_APP_TOKEN: fake.appToken,
      SLACK_API_URL: fake.apiUrl,
    }),
    client: worker.client,
    log: () => undefined,
  });
  await fake.connected();
});

afterAll(async () => {
  process.env = savedEnv;
  await bot?.stop();
  await fake?.stop();
  await worker?.stop();
  await llm?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A message a person can act on: one line, not a stack trace, not empty, not endless. */
function assertClear(message: string, context: string) {
  assert.ok(message.trim().length > 0, `empty error for ${context}`);
  assert.ok(!/\n\s+at /.test(message), `stack trace for ${context}: ${message.slice(0, 300)}`);
  assert.ok(message.length < 2_000, `endless error for ${context}: ${message.length} chars`);
}

describe('520 hostile inputs', () => {
  test(
    '200 workflow inputs fail with InvalidInput naming the field, or run sanely',
    async () => {
      const inputs = [
        ...hostileInputs(SEED, 150, canary, 'pipeline').map((i) => ['pipeline', i] as const),
        ...hostileInputs(SEED + 1, 50, canary, 'llm').map((i) => ['llmPrompt', i] as const),
      ];
      let invalid = 0;
      let ran = 0;
      // Status checks still under way when a run ends are awaited, so none outlives the test.
      const checks = new Set<Promise<unknown>>();
      await Promise.all(
        inputs.map(async ([type, input], index) => {
          const handle = await worker.client.workflow.start(type, {
            workflowId: `${type === 'pipeline' ? 'pipeline' : 'llm'}-fuzz${index}`,
            taskQueue: worker.taskQueue,
            args: [input],
          });
          // A valid input may ask for an approval gate: that is a sane run; end it rather than wait.
          const watcher = setInterval(() => {
            const check = handle
              .query(statusQuery)
              .then((s) => (s.phase === 'AWAITING_DECISION' ? handle.cancel() : undefined))
              .catch(() => undefined)
              .finally(() => checks.delete(check));
            checks.add(check);
          }, 500);
          try {
            await handle.result();
            ran += 1;
          } catch (err) {
            assert.ok(
              err instanceof WorkflowFailedError,
              `#${index} ${JSON.stringify(input).slice(0, 200)}: ${String(err)}`,
            );
            const cause = err.cause as { type?: string; message: string };
            if (cause instanceof CancelledFailure) {
              ran += 1;
              return;
            }
            assertClear(cause.message, `#${index}`);
            if (cause.type === 'InvalidInput') {
              invalid += 1;
              assert.match(
                cause.message,
                new RegExp(
                  [
                    String.raw`invalid (pipeline|llmPrompt) input: (".*?"|[\w.]+): `,
                    'is not defined in workspace',
                    'workspace .* (does not exist|is not a folder|has no compose file)',
                    'workflow id is too long for a run folder',
                  ].join('|'),
                ),
                `#${index}: ${cause.message}`,
              );
            } else {
              ran += 1; // A valid run that failed or was ended on its own terms, not on the input.
            }
          } finally {
            clearInterval(watcher);
          }
        }),
      );
      await Promise.all(checks);
      assert.equal(invalid + ran, inputs.length);
      assert.ok(invalid > 100, `most generated inputs are invalid (${invalid})`);
      assert.ok(noCanary(), 'no input text reached a shell, on the host or in a container');
    },
    15 * 60_000,
  );

  test(
    '20 workflow ids full of shell syntax and look-alikes run their real steps; each keeps its own folder',
    async () => {
      const ids = hostileIds(SEED + 4, 20, canary);
      const statuses = await Promise.all(
        ids.map(async (workflowId) => {
          const handle = await worker.client.workflow.start('pipeline', {
            workflowId,
            taskQueue: worker.taskQueue,
            args: [{ steps: ['lint'] }],
          });
          return handle.result();
        }),
      );
      for (const status of statuses) assert.equal(status.phase, 'DONE', `${status.id}: ${status.error}`);
      // The ids reached the containers as data: each one, whole, in the file its step wrote.
      const seen = fs.readFileSync(path.join(ws, 'runner', 'seen-ids.txt'), 'utf8');
      for (const id of ids) assert.ok(seen.includes(`lint ${id}\n`), `${JSON.stringify(id)} arrived whole`);
      // Look-alike ids (a/b_1, a_b:1) never share a run folder or a log.
      const folders = statuses.map((s) => s.jobDir);
      assert.equal(new Set(folders).size, ids.length);
      for (const status of statuses) {
        const log = fs.readFileSync(status.steps[0].logPath as string, 'utf8');
        assert.equal(log.match(/=== .* step lint · attempt/g)?.length, 1, `${status.id} has its log alone`);
      }
      assert.ok(noCanary(), 'no id reached a shell, on the host or in a container');
    },
    10 * 60_000,
  );

  test(
    '200 CLI argument lists get a one-line usage error (exit 2) or do what they say',
    async () => {
      const commands = hostileCommands(SEED + 2, 200, canary);
      const codes = new Map<number, number>();
      for (const [index, argv] of commands.entries()) {
        let errText = '';
        const stderr = new Writable({
          write(chunk, _encoding, done) {
            errText += String(chunk);
            done();
          },
        });
        const code = await main(argv, { stdout: new Writable({ write: (_c, _e, done) => done() }), stderr });
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === 2) {
          // A usage error from the grammar, or an input error from the client's checks (e.g. a goal too long).
          assert.match(errText, /^poc: /, `#${index} ${JSON.stringify(argv).slice(0, 200)}`);
          assert.equal(errText.trim().split('\n').length, 1, `#${index} one line: ${errText.slice(0, 300)}`);
        }
        if (code === 0) assert.doesNotThrow(() => parseCommand(argv, 'cli'), UsageError);
        if (code === 1) assertClear(errText, `#${index} ${JSON.stringify(argv).slice(0, 200)}`);
      }
      assert.ok((codes.get(2) ?? 0) > 50, `usage errors: ${JSON.stringify([...codes])}`);
      assert.ok(noCanary(), 'no argument reached a shell');
    },
    10 * 60_000,
  );

  test(
    '100 Slack commands each get a reply in their thread; the bot stays up',
    async () => {
      const commands = hostileCommands(SEED + 3, 100, canary).map((words) =>
        fake.sendMessage({ user: 'U0FUZZ', text: `!poc ${words.join(' ')}` }),
      );
      for (const [index, command] of commands.entries()) {
        const reply = await fake.waitFor(
          `a reply to #${index} (${command.ts})`,
          () => fake.botMessages('C0GENERAL', command.ts)[0],
          60_000,
        );
        assertClear(textOf(reply), `slack #${index}`);
      }
      await fake.waitFor('every envelope to be acknowledged', () => fake.unacked().length === 0);
      const help = fake.sendMessage({ user: 'U0FUZZ', text: '!poc help' });
      const answer = await fake.waitFor('help after the fuzz', () => fake.botMessages('C0GENERAL', help.ts)[0]);
      assert.match(textOf(answer), /!poc run/);
      assert.ok(noCanary(), 'no message text reached a shell');
    },
    10 * 60_000,
  );

  test(
    'afterwards the worker still runs pipelines',
    async () => {
      const { workflowId } = await startPipeline(worker.client, { steps: ['lint'] }, { taskQueue: worker.taskQueue });
      assert.equal((await worker.client.workflow.getHandle(workflowId).result()).phase, 'DONE');
      assert.ok(noCanary());
    },
    5 * 60_000,
  );
});
