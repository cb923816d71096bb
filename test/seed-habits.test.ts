/**
 * Habits of the original kept, as users meet them through the `poc` command (the bin, in a child
 * process started in a folder of the test's own): `.env` and `runner/.env` read by the host
 * processes (the real environment wins; the doctor names the files, never the values),
 * OLLAMA_BASE_URL as an alias of OLLAMA_HOST, the doctor failing without outbound HTTPS unless
 * the machine is declared offline, and a `--temperature` Anthropic cannot take refused in one line.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { Check } from '../cli/doctor.js';
import { startFakeLlm, type FakeLlmServer } from './support/fake-llm.js';
import { freePort, tempDir, testServer, type TestServer } from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = tempDir('seed-habits');
const secret = `sk-from-dotenv-${Math.random().toString(36).slice(2)}-never-printed`;
let server: TestServer;
let fake: FakeLlmServer;
let closedPort: number;

/** This process's environment without any setting the test gives through files. */
function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', TEMPORAL_ADDRESS: server.address };
  for (const name of Object.keys(env)) {
    if (/^(OPENAI_|ANTHROPIC_|OLLAMA_|POC_OFFLINE)/.test(name)) delete env[name];
  }
  return { ...env, ...extra };
}

function poc(cwd: string, args: string[], env: NodeJS.ProcessEnv) {
  return execa(process.execPath, [path.join(root, 'cli', 'poc.js'), ...args], {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    timeout: 90_000,
  });
}

/** A folder with a `.env` and a `runner/.env`, as a user's clone would have. */
function project(dotenv: string, runnerEnv: string): string {
  const folder = fs.mkdtempSync(path.join(dir, 'project-'));
  fs.mkdirSync(path.join(folder, 'runner'));
  fs.writeFileSync(path.join(folder, '.env'), dotenv);
  fs.writeFileSync(path.join(folder, 'runner', '.env'), runnerEnv);
  return folder;
}

async function doctor(cwd: string, env: NodeJS.ProcessEnv): Promise<{ checks: Check[]; text: string }> {
  const result = await poc(cwd, ['doctor', '--json'], env);
  return { checks: JSON.parse(result.stdout) as Check[], text: result.stdout + result.stderr };
}

function check(checks: Check[], name: string): Check {
  const found = checks.find((c) => c.name === name);
  assert.ok(found, `no check "${name}" in ${checks.map((c) => c.name).join(', ')}`);
  return found;
}

beforeAll(async () => {
  server = await testServer();
  fake = await startFakeLlm();
  closedPort = await freePort();
});

afterAll(async () => {
  await fake?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('.env files', () => {
  test('poc llm --direct takes its key and endpoint from .env, and Ollama from runner/.env', async () => {
    const folder = project(
      `OPENAI_API_KEY=${secret}\nOPENAI_BASE_URL=${fake.url}/v1\n`,
      `OLLAMA_BASE_URL=${fake.url}\n`,
    );
    fake.enqueue('openai', { chunks: ['from ', 'dotenv'] });
    const openai = await poc(folder, ['llm', '--direct', '-b', 'openai', '-m', 'gpt-test', 'hi'], bareEnv());
    assert.equal(openai.exitCode, 0, openai.stderr);
    assert.equal(openai.stdout.trim(), 'from dotenv');
    assert.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${secret}`);

    const ollama = await poc(folder, ['llm', '--direct', '-b', 'ollama', '-m', 'llama3.1', 'hi'], bareEnv());
    assert.equal(ollama.exitCode, 0, ollama.stderr);
    assert.equal(fake.requests.at(-1)?.path, '/api/chat');
  });

  test('the real environment wins; the doctor lists the files read and the Ollama setting used', async () => {
    const folder = project(
      `OPENAI_API_KEY=${secret}\nOPENAI_BASE_URL=${fake.url}/v1\nANTHROPIC_BASE_URL=${fake.url}\n`,
      `OLLAMA_BASE_URL=http://127.0.0.1:${closedPort}\n`,
    );
    const viaFile = await doctor(folder, bareEnv({ POC_OFFLINE: '1' }));
    assert.match(
      check(viaFile.checks, 'Settings files').detail,
      new RegExp(
        `read ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.env, .*/runner/\\.env \\(values never shown`,
      ),
    );
    assert.match(check(viaFile.checks, 'Ollama').detail, /\(from OLLAMA_BASE_URL\) does not answer/);
    assert.ok(!viaFile.text.includes(secret), 'a value from .env was printed');

    const real = await doctor(folder, bareEnv({ POC_OFFLINE: '1', OLLAMA_HOST: fake.url }));
    const ollama = check(real.checks, 'Ollama');
    assert.equal(ollama.state, 'PASS', ollama.detail);
    assert.match(ollama.detail, /\(from OLLAMA_HOST; it wins over OLLAMA_BASE_URL\) answers/);
  });
});

describe('poc doctor and outbound HTTPS', () => {
  test('no answer from a hosted provider is a FAIL naming it and the way out; POC_OFFLINE=1 declares it', async () => {
    const folder = project(`ANTHROPIC_BASE_URL=https://127.0.0.1:${closedPort}\n`, `OPENAI_BASE_URL=${fake.url}/v1\n`);
    const online = check((await doctor(folder, bareEnv())).checks, 'Outbound HTTPS');
    assert.equal(online.state, 'FAIL');
    assert.match(online.detail, new RegExp(`no answer from https://127\\.0\\.0\\.1:${closedPort} \\(anthropic\\)`));
    assert.match(online.detail, /set POC_OFFLINE=1 if this machine is offline on purpose/);

    const offline = check((await doctor(folder, bareEnv({ POC_OFFLINE: '1' }))).checks, 'Outbound HTTPS');
    assert.equal(offline.state, 'WARN');
    assert.match(offline.detail, /not checked: POC_OFFLINE=1 declares this machine offline/);
  });
});

describe('--temperature', () => {
  test('anthropic cannot take one: refused with one line and the usage, exit 2; nothing is started', async () => {
    const result = await poc(
      dir,
      ['llm', '--backend', 'anthropic', '--model', 'claude-x', '--temperature', '0.3', 'hi'],
      bareEnv({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: fake.url }),
    );
    assert.equal(result.exitCode, 2);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(
      result.stderr,
      /^poc: --temperature: the anthropic backend cannot take a temperature .*usage: poc llm/,
    );
  });
});
