/**
 * `poc chat` as people and scripts run it: the real `poc` process with its stdin a pipe, a real
 * worker (its steps scripted), the model behind the local fake server. The answer streams to
 * stdout, an approval is answered inline, the end of input ends the conversation (unless it was
 * joined); `--json` prints one object per answer; `poc end`, `poc status`, `poc list --kind chat`.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { getChatStatus, startChat, type ChatStatus } from '../client/index.js';
import { startFakeLlm, type FakeLlmServer } from './support/fake-llm.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const LIMIT = 60_000;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = tempDir('cli-chat');
let server: TestServer;
let worker: TestWorker;
let fake: FakeLlmServer;
let env: NodeJS.ProcessEnv;
const steps = scriptedSteps();

beforeAll(async () => {
  server = await testServer();
  fake = await startFakeLlm();
  const workspace = scriptedWorkspace(path.join(dir, 'ws'), { test: 'ok' }, { chat: { tools: ['run_steps'] } });
  const providerEnv = { OPENAI_BASE_URL: `${fake.url}/v1`, OPENAI_API_KEY: 'sk-test-cli-chat-000000000000000' };
  worker = await startTestWorker({
    address: server.address,
    env: providerEnv,
    overrides: { runStep: steps.runStep },
    config: { workspace, jobsDir: path.join(dir, 'jobs') },
  });
  env = {
    ...process.env,
    ...providerEnv,
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: worker.taskQueue,
    POC_CHAT_BACKEND: 'openai',
    POC_CHAT_MODEL: 'gpt-4o-mini',
    NO_COLOR: '1',
  };
});

afterAll(async () => {
  await worker?.stop();
  await fake?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `poc chat …` with a stdin the test writes to as the output asks for it. */
function pocChat(args: string[]) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [path.join(root, 'cli', 'poc.js'), ...args], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  return {
    child,
    out: () => stdout,
    err: () => stderr,
    exited,
    until: (what: string, check: () => boolean) =>
      eventually(what, () => (check() ? true : undefined), LIMIT / 2).catch((e: Error) => {
        throw new Error(`${e.message}\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}`);
      }),
    line: (text: string) => child.stdin.write(`${text}\n`),
    close: () => child.stdin.end(),
  };
}

const idOf = (stderr: string) => /\b(chat-[0-9a-z]{8})\b/.exec(stderr)?.[1] ?? '';

test(
  'a terminal conversation: answers stream, an approval is asked inline, the end of input ends it',
  async () => {
    fake.enqueue(
      'openai',
      { chunks: ['Hello ', 'from ', 'the model.'], pauseAfterChunks: 2, usage: { inputTokens: 20, outputTokens: 5 } },
      { chunks: ['Running the tests.'], toolCalls: [{ name: 'run_steps', arguments: { steps: ['test'] } }] },
      {
        respond: (request) => ({
          chunks: [/: DONE/.test(JSON.stringify(request.body?.messages)) ? 'The tests passed.' : 'No result.'],
        }),
      },
    );
    const chat = pocChat(['chat', 'hello there']);
    // The model holds after two chunks: what arrived is on the terminal before the answer is whole.
    await chat.until('the answer so far', () => chat.out().includes('Hello from '));
    assert.ok(!chat.out().includes('the model.'));
    fake.release();
    await chat.until('the first answer', () => chat.out().includes('Hello from the model.\n'));
    const id = idOf(chat.err());
    assert.match(id, /^chat-/);
    assert.match(chat.err(), /openai\/gpt-4o-mini · tools: run_steps/);
    assert.match(chat.err(), /20 in \/ 5 out tokens · ~\$0\.0000/);

    chat.line('please run the tests');
    await chat.until('the approval question', () =>
      /the model wants to run run_steps: test — approve\?/.test(chat.err()),
    );
    chat.line('y');
    await chat.until('the answer after the tool', () => chat.out().includes('The tests passed.'));
    assert.match(chat.err(), /✔ run_steps done: pipeline-.*: DONE/);
    chat.close();
    assert.equal(await chat.exited, 0, chat.err());
    assert.match(chat.err(), /ended chat-\w+ · 3 request\(s\)/);

    const status = await getChatStatus(worker.client, id);
    assert.equal(status.phase, 'DONE');
    expect(status.turns.map((t) => t.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'tool', 'assistant']);
    expect(status.decisions.map((d) => d.action)).toEqual(['approve']);
    assert.match(status.decisions[0].by ?? '', /^cli:/);
  },
  LIMIT,
);

test(
  '--json: one object per answer on stdout, for scripts',
  async () => {
    fake.enqueue('openai', { chunks: ['one'] }, { chunks: ['two'], usage: { inputTokens: 7, outputTokens: 3 } });
    const { stdout, exitCode } = await execa(process.execPath, [path.join(root, 'cli', 'poc.js'), 'chat', '--json'], {
      env,
      input: 'first\nsecond\n',
      reject: false,
    });
    assert.equal(exitCode, 0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.answer ?? (l.ended ? 'ended' : '?'))).toEqual(['one', 'two', 'ended']);
    expect(lines[1]).toMatchObject({ turn: 3, usage: { requests: 2 } });
    expect((lines[1].turns as { role: string }[]).map((t) => t.role)).toEqual(['assistant']);
  },
  LIMIT,
);

test(
  'a joined conversation stays open at the end of input; poc end closes it; poc status shows the transcript',
  async () => {
    fake.defaultBehaviour = { chunks: ['ok'] };
    try {
      const { workflowId } = await startChat(
        worker.client,
        { backend: 'openai', model: 'gpt-4o-mini', prompt: 'from Slack', requestedBy: 'U0ALICE' },
        { taskQueue: worker.taskQueue },
      );
      await eventually('the first answer', async () =>
        (await getChatStatus(worker.client, workflowId)).answeredUpTo ? true : undefined,
      );
      const joined = await execa(process.execPath, [path.join(root, 'cli', 'poc.js'), 'chat', '--id', workflowId], {
        env,
        input: 'from the terminal\n',
        reject: false,
      });
      assert.equal(joined.exitCode, 0, joined.stderr);
      assert.match(joined.stderr, new RegExp(`left ${workflowId} open; \`poc chat --id ${workflowId}\``));
      assert.equal((await getChatStatus(worker.client, workflowId)).phase, 'RUNNING');

      const poc = (...args: string[]) =>
        execa(process.execPath, [path.join(root, 'cli', 'poc.js'), ...args], { env, reject: false });
      const status = await poc('status', workflowId);
      assert.match(status.stdout, /\[1\] U0ALICE: from Slack/);
      assert.match(status.stdout, /\[3\] cli:\S+: from the terminal/);
      assert.match(status.stdout, /2 request\(s\) · 24 in \/ 2 out tokens · ~\$0\.0000/);
      const listed = await poc('list', '--kind', 'chat', '--json');
      assert.ok((JSON.parse(listed.stdout) as { workflowId: string }[]).some((r) => r.workflowId === workflowId));

      const ended = await poc('end', workflowId, '--json');
      assert.equal(ended.exitCode, 0, ended.stderr);
      expect(JSON.parse(ended.stdout) as ChatStatus).toMatchObject({ phase: 'DONE', id: workflowId });
      const again = await poc('end', workflowId);
      assert.equal(again.exitCode, 1);
      assert.match(again.stderr, /^poc: chat-\w+ has ended \(completed\); start a new conversation$/);
    } finally {
      fake.reset();
    }
  },
  LIMIT,
);

test('usage mistakes are one line and exit code 2', async () => {
  const run = await execa(
    process.execPath,
    [path.join(root, 'cli', 'poc.js'), 'chat', '--id', 'chat-x', '--model', 'm'],
    { env, reject: false },
  );
  assert.equal(run.exitCode, 2);
  assert.match(run.stderr, /^poc: --id joins a conversation as it is; --backend, --model and --workspace start one;/);
  assert.equal(run.stderr.trim().split('\n').length, 1);
});
