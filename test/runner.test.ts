/**
 * The runner's files, without containers: the compose file validates under every Compose this
 * machine has, every script passes shellcheck, and the scripts do on the host what they promise
 * (doctor's checks and summary, test.sh's artifacts and counts, bootstrap's stamp, lint.sh's
 * verdict, the entrypoint's .env loading). Scripts run in throwaway copies of a project, so each
 * test controls what they find. Containers are covered by runner.e2e.test.ts.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { execa } from 'execa';
import { repoRoot } from '../core/config.js';
import { freePort, tempDir } from './support/temporal.js';

const scriptsDir = path.join(repoRoot, 'runner', 'scripts');
const scripts = fs.readdirSync(scriptsDir).filter((f) => f.endsWith('.sh'));
const root = tempDir('runner');
let projects = 0;

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/**
 * Variables that would leak the machine's own setup into a script under test — NODE_TEST_CONTEXT
 * would make test.sh's runner believe it is nested in this one.
 */
const HOST_ONLY = [
  'NODE_TEST_CONTEXT',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'OLLAMA_HOST',
  'TEMPORAL_ADDRESS',
  'POC_IN_CONTAINER',
  'POC_ARTIFACTS_DIR',
  'POC_UNIT_TESTS_DIR',
];
function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of HOST_ONLY) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/**
 * A throwaway project: runner/scripts copied from this repository (scripts find their root from
 * their own location), the given files, and — when asked — this repository's node_modules linked in.
 */
function project(files: Record<string, string>, { modules = true } = {}): string {
  const dir = path.join(root, `project${++projects}`);
  fs.mkdirSync(path.join(dir, 'runner', 'scripts'), { recursive: true });
  for (const script of scripts)
    fs.copyFileSync(path.join(scriptsDir, script), path.join(dir, 'runner', 'scripts', script));
  if (modules) fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

async function bash(dir: string, script: string, env: NodeJS.ProcessEnv, args: string[] = []) {
  return execa('bash', [path.join(dir, 'runner', 'scripts', script), ...args], {
    cwd: dir,
    env,
    extendEnv: false,
    reject: false,
    all: true,
    timeout: 120_000,
  });
}

async function commandWorks(command: string, args: string[]): Promise<boolean> {
  const result = await execa(command, args, { reject: false, timeout: 20_000 }).catch(() => undefined);
  return result?.exitCode === 0;
}

interface ServiceShape {
  image?: string;
  pull_policy?: string;
  network_mode?: string;
  dockerfile?: string;
  extraHosts: string[];
  /** `source:target`, source being a path or a volume name. */
  volumes: string[];
  text: string;
}

/**
 * `config` output reduced to what the tests check. v2+ prints JSON on request (long-form volumes,
 * extra_hosts as a map in newer releases); v1 prints YAML only, read here line by line — its
 * output is normalised (two-space indent, short-form lists), so that is enough.
 */
async function composeConfig(
  command: string,
  prefix: string[],
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): Promise<Record<string, ServiceShape>> {
  const v1 = command === 'docker-compose';
  const result = await execa(command, [...prefix, ...args, 'config', ...(v1 ? [] : ['--format', 'json'])], {
    cwd: repoRoot,
    env,
    reject: false,
  });
  assert.equal(result.exitCode, 0, result.stderr);
  const services: Record<string, ServiceShape> = {};
  if (!v1) {
    const json = JSON.parse(result.stdout) as { services: Record<string, Record<string, unknown>> };
    for (const [name, svc] of Object.entries(json.services)) {
      const hosts = svc.extra_hosts;
      services[name] = {
        image: svc.image as string | undefined,
        pull_policy: svc.pull_policy as string | undefined,
        network_mode: svc.network_mode as string | undefined,
        dockerfile: (svc.build as { dockerfile?: string } | undefined)?.dockerfile,
        extraHosts: Array.isArray(hosts)
          ? hosts.map(String)
          : Object.entries((hosts ?? {}) as Record<string, unknown>).map(([k, v]) => `${k}:${String(v)}`),
        volumes: ((svc.volumes ?? []) as { source?: string; target: string }[]).map(
          (v) => `${v.source ?? ''}:${v.target}`,
        ),
        text: JSON.stringify(svc),
      };
    }
    return services;
  }
  const lines = result.stdout.split('\n');
  const top = lines.indexOf('services:');
  for (let i = top + 1; i < lines.length && /^( {2}|$)/.test(lines[i]); i++) {
    const name = /^ {2}(\S+):$/.exec(lines[i])?.[1];
    if (!name) continue;
    const block: string[] = [];
    for (let j = i + 1; j < lines.length && /^ {4}/.test(lines[j]); j++) block.push(lines[j]);
    const scalar = (key: string) => block.find((l) => l.startsWith(`    ${key}: `))?.slice(key.length + 6);
    const list = (key: string) => {
      const at = block.indexOf(`    ${key}:`);
      if (at < 0) return [];
      const items: string[] = [];
      for (let k = at + 1; k < block.length && block[k].startsWith('    - '); k++) items.push(block[k].slice(6));
      return items;
    };
    services[name] = {
      image: scalar('image'),
      pull_policy: scalar('pull_policy'),
      network_mode: scalar('network_mode'),
      dockerfile: block.find((l) => l.startsWith('      dockerfile: '))?.slice(18),
      extraHosts: list('extra_hosts'),
      volumes: list('volumes').map((v) => v.replace(/:(rw|ro)$/, '')),
      text: block.join('\n'),
    };
  }
  return services;
}

const flavours: [string, string, string[]][] = [
  ['docker-compose (v1)', 'docker-compose', []],
  ['docker compose (v2+)', 'docker', ['compose']],
];
// What this machine has decides which tests exist, before any runs (jest cannot skip mid-test).
const installed = new Set<string>();
for (const [label, command, prefix] of flavours) {
  if (await commandWorks(command, [...prefix, 'version'])) installed.add(label);
}
const shellcheckInstalled = await commandWorks('shellcheck', ['--version']);

describe('docker-compose.yml', () => {
  for (const [label, command, prefix] of flavours) {
    // A flavour this machine lacks is reported as skipped, not passed.
    const testIfInstalled = installed.has(label) ? test : test.skip;
    testIfInstalled(`validates with ${label}: runner and runner_offline, temporal behind its profile`, async () => {
      // Unset rather than empty: v2 reads an empty COMPOSE_FILE as a file name.
      const env = cleanEnv({
        POC_NODE_MODULES: undefined,
        POC_RUNNER_IMAGE: undefined,
        POC_NODE_IMAGE: undefined,
        COMPOSE_FILE: undefined,
        COMPOSE_PROFILES: undefined,
        COMPOSE_PROJECT_NAME: undefined,
      });
      const services = await composeConfig(command, prefix, env);
      for (const name of ['runner', 'runner_offline']) {
        const svc = services[name];
        assert.ok(svc, `service ${name} is missing`);
        assert.equal(svc.pull_policy, 'never', name);
        assert.equal(svc.image, 'poc-orchestrator-runner:latest', name);
        assert.equal(svc.dockerfile, '../../Dockerfile.poc', name);
        assert.ok(svc.volumes.includes(`${repoRoot}:/workspace`), `${name} volumes: ${svc.volumes.join(', ')}`);
        assert.ok(
          svc.volumes.some((v) => /node_modules:\/workspace\/node_modules$/.test(v) && !v.startsWith('/')),
          `${name} uses the named volume`,
        );
      }
      assert.ok(
        services.runner.extraHosts.some((h) => /^host\.docker\.internal[:=]host-gateway$/.test(h)),
        services.runner.extraHosts.join(', '),
      );
      assert.equal(services.runner.network_mode, undefined);
      assert.equal(services.runner_offline.network_mode, 'none');

      const names = await execa(command, [...prefix, '--profile', 'temporal', 'config', '--services'], {
        cwd: repoRoot,
        env,
      });
      assert.deepEqual(names.stdout.trim().split('\n').sort(), ['runner', 'runner_offline', 'temporal']);
      const temporal = (await composeConfig(command, prefix, env, ['--profile', 'temporal'])).temporal;
      assert.match(temporal.text, /start-dev/);
      assert.match(temporal.text, /8233/);

      // POC_NODE_MODULES swaps the dependency volume for a host folder.
      const bound = await composeConfig(command, prefix, { ...env, POC_NODE_MODULES: '/srv/deps/node_modules' });
      assert.ok(
        bound.runner.volumes.includes('/srv/deps/node_modules:/workspace/node_modules'),
        bound.runner.volumes.join(', '),
      );
    });
  }
});

describe('runner/scripts', () => {
  test('has every step script plus run.sh and entrypoint.sh, executable', () => {
    for (const name of ['bootstrap.sh', 'doctor.sh', 'lint.sh', 'test.sh', 'run.sh', 'entrypoint.sh']) {
      const file = path.join(scriptsDir, name);
      assert.ok(fs.existsSync(file), `${name} is missing`);
      assert.ok(fs.statSync(file).mode & 0o100, `${name} is not executable`);
      const text = fs.readFileSync(file, 'utf8');
      assert.match(text, /^#!\/usr\/bin\/env bash\n/);
      assert.match(text, /^set -euo pipefail$/m);
    }
  });

  (shellcheckInstalled ? test : test.skip)('every script passes shellcheck', async () => {
    const result = await execa('shellcheck', ['--external-sources', ...scripts], { cwd: scriptsDir, reject: false });
    assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
  });
});

describe('runner/.env.example', () => {
  const contract = [
    'TEMPORAL_ADDRESS',
    'TEMPORAL_NAMESPACE',
    'TEMPORAL_CLI_PATH',
    'POC_TASK_QUEUE',
    'POC_WORKSPACE',
    'SLACK_BOT_TOKEN',
    'SLACK_APP_TOKEN',
    'SLACK_SIGNING_SECRET',
    'SLACK_API_URL',
    'POC_ALLOWED_USERS',
    'POC_ALLOWED_CHANNELS',
    'OPENAI_API_KEY',
    'OPENAI_BASE_URL',
    'ANTHROPIC_API_KEY',
    'ANTHROPIC_BASE_URL',
    'OLLAMA_HOST',
    'OLLAMA_BASE_URL',
    'POC_OFFLINE',
    'POC_TEMPORAL_UI_URL',
    'POC_METRICS_PORT',
    'POC_HOST_NAME',
    'POC_HOST_LABELS',
    'POC_HOST_SLOTS',
    'POC_HOST_TIMEOUT_SECONDS',
    'POC_REPOS_DIR',
  ];
  const example = fs.readFileSync(path.join(repoRoot, 'runner', '.env.example'), 'utf8');

  test('documents every public variable, each commented out', () => {
    for (const name of contract) assert.match(example, new RegExp(`^# ${name}=`, 'm'), `${name} is missing`);
    assert.doesNotMatch(example, /^[A-Z_]+=/m, 'a copy as runner/.env must set nothing until edited');
  });

  test('copied as runner/.env, the entrypoint loads nothing from it', async () => {
    const dir = project({ 'runner/.env': example }, { modules: false });
    const result = await execa('bash', [path.join(dir, 'runner', 'scripts', 'entrypoint.sh'), 'true'], {
      env: cleanEnv({ POC_WORKDIR: dir }),
      extendEnv: false,
      reject: false,
    });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stderr, '');
  });
});

describe('doctor.sh on the host', () => {
  const tsProject = {
    'package.json': JSON.stringify({ name: 'fixture', private: true, devDependencies: { typescript: '*' } }),
    'tsconfig.json': JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', target: 'ES2022', types: [] },
      include: ['src'],
    }),
    'src/ok.ts': 'export const answer: number = 42;\n',
  };
  const secret = `sk-doctor-test-${Math.random().toString(36).slice(2)}-do-not-print`;
  let closedPort: number;

  beforeAll(async () => {
    // Nothing listens here: a refused connection, at once, without touching any network.
    closedPort = await freePort();
  });

  /** Nothing reachable, and the run declared offline (so outbound HTTPS is not required). */
  function offlineEnv(extra: Record<string, string | undefined> = {}) {
    return cleanEnv({
      OLLAMA_HOST: `http://127.0.0.1:${closedPort}`,
      POC_DOCTOR_HTTPS_URL: `https://127.0.0.1:${closedPort}/`,
      TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}`,
      POC_DOCTOR_TIMEOUT: '3',
      POC_OFFLINE: '1',
      ...extra,
    });
  }

  function summaryOf(dir: string) {
    return JSON.parse(fs.readFileSync(path.join(dir, 'runner', 'artifacts', 'doctor-summary.json'), 'utf8')) as {
      ok: boolean;
      where: string;
      counts: { pass: number; warn: number; fail: number };
      checks: { id: number; name: string; status: string; detail: string }[];
    };
  }

  test(
    'seven numbered checks; with a key set and nothing reachable: ' +
      'outbound HTTPS FAILs, exit 1, the key never printed',
    async () => {
      const dir = project(tsProject);
      const result = await bash(dir, 'doctor.sh', offlineEnv({ OPENAI_API_KEY: secret, POC_OFFLINE: undefined }));
      assert.equal(result.exitCode, 1, result.all);
      for (let i = 1; i <= 7; i++) assert.match(result.all, new RegExp(`^\\[${i}/7\\] (PASS|WARN|FAIL) `, 'm'));
      assert.match(result.all, /\[1\/7\] PASS Node\.js >= 20/);
      assert.match(result.all, /\[2\/7\] PASS dependencies installed — all 1 declared packages present/);
      assert.match(result.all, /\[3\/7\] PASS TypeScript compiles/);
      assert.match(
        result.all,
        new RegExp(`\\[4/7\\] WARN Ollama reachable — no answer from http://127\\.0\\.0\\.1:${closedPort}`),
      );
      assert.match(
        result.all,
        new RegExp(
          `\\[5/7\\] FAIL outbound HTTPS — no answer from https://127\\.0\\.0\\.1:${closedPort}/ .*` +
            'fix the network or proxy, or declare the run offline with POC_OFFLINE=1',
        ),
      );
      assert.match(result.all, /\[6\/7\] PASS provider keys present — OPENAI_API_KEY set; ANTHROPIC_API_KEY not set/);
      assert.match(result.all, /\[7\/7\] WARN Temporal reachable/);
      assert.match(result.all, /doctor: 4 PASS, 2 WARN, 1 FAIL/);

      const summaryText = fs.readFileSync(path.join(dir, 'runner', 'artifacts', 'doctor-summary.json'), 'utf8');
      for (const text of [result.all, summaryText]) {
        assert.ok(!text.includes(secret), 'the key value was printed');
        assert.ok(!text.includes(secret.slice(0, 20)), 'part of the key value was printed');
      }
      const summary = summaryOf(dir);
      assert.equal(summary.ok, false);
      assert.equal(summary.where, 'host');
      assert.deepEqual(summary.counts, { pass: 4, warn: 2, fail: 1 });
      assert.deepEqual(
        summary.checks.map((c) => [c.id, c.status]),
        [
          [1, 'PASS'],
          [2, 'PASS'],
          [3, 'PASS'],
          [4, 'WARN'],
          [5, 'FAIL'],
          [6, 'PASS'],
          [7, 'WARN'],
        ],
      );
      assert.equal(summary.checks[5].detail, 'OPENAI_API_KEY set; ANTHROPIC_API_KEY not set');
    },
  );

  test('declared offline (POC_OFFLINE=1, as runner_offline sets it): outbound HTTPS is not required', async () => {
    const dir = project(tsProject);
    const result = await bash(dir, 'doctor.sh', offlineEnv({ POC_DOCTOR_SKIP_TSC: '1' }));
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.all, /\[5\/7\] WARN outbound HTTPS — not checked: POC_OFFLINE=1 declares this run offline/);
    assert.equal(summaryOf(dir).checks[4].status, 'WARN');
  });

  test('OLLAMA_BASE_URL is read as an alias; OLLAMA_HOST wins, and the line says which is used', async () => {
    const dir = project(tsProject);
    const alias = `http://127.0.0.1:${closedPort}/alias`;
    const viaAlias = await bash(
      dir,
      'doctor.sh',
      offlineEnv({ OLLAMA_HOST: undefined, OLLAMA_BASE_URL: alias, POC_DOCTOR_SKIP_TSC: '1' }),
    );
    assert.match(
      viaAlias.all,
      /\[4\/7\] WARN Ollama reachable — no answer from http:\/\/127\.0\.0\.1:\d+\/alias \(from OLLAMA_BASE_URL/,
    );
    const both = await bash(dir, 'doctor.sh', offlineEnv({ OLLAMA_BASE_URL: alias, POC_DOCTOR_SKIP_TSC: '1' }));
    assert.match(
      both.all,
      /\[4\/7\] WARN Ollama reachable — no answer from http:\/\/127\.0\.0\.1:\d+ \(from OLLAMA_HOST/,
    );
  });

  test('with no provider key: a WARN that says only ollama will work', async () => {
    const dir = project(tsProject);
    const result = await bash(dir, 'doctor.sh', offlineEnv({ POC_DOCTOR_SKIP_TSC: '1' }));
    assert.equal(result.exitCode, 0, result.all);
    assert.match(
      result.all,
      /\[6\/7\] WARN provider keys present — neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set/,
    );
    assert.equal(summaryOf(dir).checks[5].status, 'WARN');
  });

  test('Ollama and Temporal that answer are PASS, with the Ollama version', async () => {
    const ollama = http.createServer((req, res) => {
      res.writeHead(req.url === '/api/version' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: '0.9.7-test' }));
    });
    const temporal = net.createServer((socket) => socket.end());
    ollama.listen(0, '127.0.0.1');
    temporal.listen(0, '127.0.0.1');
    await Promise.all([once(ollama, 'listening'), once(temporal, 'listening')]);
    try {
      const dir = project(tsProject);
      const env = offlineEnv({
        OLLAMA_HOST: `127.0.0.1:${(ollama.address() as net.AddressInfo).port}`,
        TEMPORAL_ADDRESS: `127.0.0.1:${(temporal.address() as net.AddressInfo).port}`,
        POC_DOCTOR_SKIP_TSC: '1',
      });
      const result = await bash(dir, 'doctor.sh', env);
      assert.equal(result.exitCode, 0, result.all);
      assert.match(result.all, /\[4\/7\] PASS Ollama reachable — Ollama 0\.9\.7-test at http:\/\/127\.0\.0\.1:\d+/);
      assert.match(result.all, /\[7\/7\] PASS Temporal reachable/);
    } finally {
      ollama.close();
      temporal.close();
    }
  });

  test('a type error is a FAIL: exit 1 and "ok": false in the summary', async () => {
    const dir = project({ ...tsProject, 'src/bad.ts': 'export const n: number = "not a number";\n' });
    const result = await bash(dir, 'doctor.sh', offlineEnv());
    assert.equal(result.exitCode, 1, result.all);
    assert.match(result.all, /\[3\/7\] FAIL TypeScript compiles — tsc --noEmit reported 1 error\(s\)/);
    assert.match(result.all, /src\/bad\.ts/);
    const summary = summaryOf(dir);
    assert.equal(summary.ok, false);
    assert.equal(summary.counts.fail, 1);
  });

  test('a dependency missing from node_modules is a FAIL naming it', async () => {
    const dir = project({
      ...tsProject,
      'package.json': JSON.stringify({
        name: 'fixture',
        private: true,
        dependencies: { 'poc-not-installed-anywhere': '1.0.0' },
        devDependencies: { typescript: '*' },
      }),
    });
    const result = await bash(dir, 'doctor.sh', offlineEnv());
    assert.equal(result.exitCode, 1, result.all);
    assert.match(
      result.all,
      /\[2\/7\] FAIL dependencies installed — missing from node_modules: poc-not-installed-anywhere/,
    );
    assert.match(result.all, /\[3\/7\] FAIL TypeScript compiles — cannot compile without the dependencies/);
  });

  test('POC_IN_CONTAINER switches the defaults to the host as seen from a container', async () => {
    const dir = project(tsProject);
    const env = offlineEnv({
      POC_IN_CONTAINER: '1',
      OLLAMA_HOST: undefined,
      TEMPORAL_ADDRESS: undefined,
      POC_DOCTOR_SKIP_TSC: '1',
      POC_DOCTOR_TIMEOUT: '1',
    });
    const result = await bash(dir, 'doctor.sh', env);
    assert.match(result.all, /on the container/);
    assert.match(result.all, /no answer from http:\/\/host\.docker\.internal:11434/);
    assert.match(result.all, /cannot connect to host\.docker\.internal:7233/);
    assert.equal(summaryOf(dir).where, 'container');
  });
});

describe('test.sh', () => {
  const artifacts = () => fs.mkdtempSync(path.join(root, 'artifacts-'));
  function testsDir(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(root, 'unit-'));
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    return dir;
  }
  const run = (dir: string, out: string) =>
    bash(repoRoot, 'test.sh', cleanEnv({ POC_UNIT_TESTS_DIR: dir, POC_ARTIFACTS_DIR: out }));

  test('2 pass, 1 fail: exit non-zero, the report and the JUnit XML say so', async () => {
    const dir = testsDir({
      // jest's globals: fixtures outside the repository cannot resolve @jest/globals.
      'a.test.ts': "test('first passes', () => {});\ntest('second passes', () => {});\n",
      'b.test.ts':
        "import assert from 'node:assert/strict';\n" +
        "describe('group', () => { test('third fails', () => assert.equal(1, 2)); });\n",
    });
    const out = artifacts();
    const result = await run(dir, out);
    assert.notEqual(result.exitCode, 0, result.all);
    assert.match(result.all, /test: FAILED — 3 tests, 2 passed, 1 failed/);
    const report = fs.readFileSync(path.join(out, 'test-report.md'), 'utf8');
    assert.match(report, /^# Unit tests: FAILED/);
    assert.match(report, /\| 3 \| 2 \| 1 \| 0 \| 0 \| [\d.]+ s \|/);
    assert.match(report, /## Failed\n\n- group › third fails\n/);
    assert.doesNotMatch(report, /passes/);
    const junit = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
    assert.match(junit, /^<\?xml/);
    assert.equal(junit.match(/<testcase /g)?.length, 3);
    assert.equal(junit.match(/<failure[ >]/g)?.length, 1);
    assert.match(junit, /<testcase [^>]*name="group third fails"/);
  });

  test('all passing (skips and todos counted apart): exit 0, PASSED', async () => {
    const dir = testsDir({
      'ok.test.ts': "test('passes', () => {});\ntest.skip('skipped', () => {});\ntest.todo('later');\n",
    });
    const out = artifacts();
    const result = await run(dir, out);
    assert.equal(result.exitCode, 0, result.all);
    const report = fs.readFileSync(path.join(out, 'test-report.md'), 'utf8');
    assert.match(report, /^# Unit tests: PASSED/);
    assert.match(report, /\| 3 \| 1 \| 0 \| 1 \| 1 \|/);
    assert.doesNotMatch(report, /## Failed/);
    assert.equal(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8').match(/<testcase /g)?.length, 3);
  });

  test('a file that does not load counts as a failure', async () => {
    const dir = testsDir({ 'broken.test.ts': "import { missing } from './nowhere.js';\nmissing();\n" });
    const out = artifacts();
    const result = await run(dir, out);
    assert.notEqual(result.exitCode, 0);
    assert.match(fs.readFileSync(path.join(out, 'test-report.md'), 'utf8'), /broken\.test\.ts/);
  });

  test('no test files: exit 1 and a report that says so', async () => {
    const out = artifacts();
    const result = await run(testsDir({ 'helper.ts': 'export {};\n' }), out);
    assert.equal(result.exitCode, 1);
    assert.match(fs.readFileSync(path.join(out, 'test-report.md'), 'utf8'), /NO TESTS/);
    assert.ok(fs.existsSync(path.join(out, 'junit.xml')));
  });
});

describe('bootstrap.sh', () => {
  test('installs once, then skips until package-lock.json changes', async () => {
    const lock = (version: string) =>
      JSON.stringify(
        { name: 'fx', version, lockfileVersion: 3, requires: true, packages: { '': { name: 'fx', version } } },
        null,
        2,
      );
    const dir = project(
      {
        'package.json': JSON.stringify({ name: 'fx', version: '1.0.0', private: true }),
        'package-lock.json': lock('1.0.0'),
      },
      { modules: false },
    );
    // No dependencies: npm ci has nothing to fetch, and --offline makes sure it does not try.
    const env = cleanEnv({ POC_NPM_CI_ARGS: '--offline' });
    const first = await bash(dir, 'bootstrap.sh', env);
    assert.equal(first.exitCode, 0, first.all);
    assert.match(first.all, /bootstrap: first install/);
    assert.match(first.all, /npm ci --no-audit --no-fund --offline/);
    const stamp = path.join(dir, 'node_modules', '.poc-bootstrap.sha256');
    const hash = (await bash(dir, 'bootstrap.sh', env, ['--print-hash'])).stdout.trim();
    assert.equal(fs.readFileSync(stamp, 'utf8').trim(), hash);

    const second = await bash(dir, 'bootstrap.sh', env);
    assert.equal(second.exitCode, 0, second.all);
    assert.match(second.all, /up to date .* nothing to do/);
    assert.doesNotMatch(second.all, /npm ci/);

    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fx', version: '1.0.1', private: true }));
    fs.writeFileSync(path.join(dir, 'package-lock.json'), lock('1.0.1'));
    const third = await bash(dir, 'bootstrap.sh', env);
    assert.equal(third.exitCode, 0, third.all);
    assert.match(third.all, /changed; reinstalling/);
    assert.notEqual(fs.readFileSync(stamp, 'utf8').trim(), hash);
  });

  /** A project with one dependency whose tarball `registry` serves (or does not). */
  function withDependency(registry: string): string {
    const lock = {
      name: 'fx',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'fx', version: '1.0.0', dependencies: { 'fx-dep': '1.0.0' } },
        'node_modules/fx-dep': { version: '1.0.0', resolved: `${registry}fx-dep/-/fx-dep-1.0.0.tgz` },
      },
    };
    return project(
      {
        'package.json': JSON.stringify({
          name: 'fx',
          version: '1.0.0',
          private: true,
          dependencies: { 'fx-dep': '1.0.0' },
        }),
        'package-lock.json': JSON.stringify(lock, null, 2),
      },
      { modules: false },
    );
  }

  /** A registry that accepts connections: answers the probe (or not) and never sends a tarball. */
  async function silentRegistry(answerProbe: boolean): Promise<{ url: string; close: () => void }> {
    const sockets = new Set<net.Socket>();
    const server = http.createServer((req, res) => {
      if (answerProbe && req.method === 'HEAD') res.end();
    });
    server.on('connection', (socket) => sockets.add(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    return { url, close: () => (sockets.forEach((socket) => socket.destroy()), server.close()) };
  }

  const cache = () => fs.mkdtempSync(path.join(root, 'npm-cache-'));

  test('no registry: fails at once naming it and the cause, with the ways out; npm never waits', async () => {
    const registry = `http://127.0.0.1:${await freePort()}/`;
    const dir = withDependency(registry);
    const result = await bash(
      dir,
      'bootstrap.sh',
      cleanEnv({ npm_config_registry: registry, npm_config_cache: cache() }),
    );
    assert.equal(result.exitCode, 1, result.all);
    assert.match(
      result.all,
      new RegExp(`cannot install: ${registry.replace(/[.]/g, '\\.')} is unreachable from here \\(ECONNREFUSED\\)`),
    );
    assert.match(result.all, /ways out:\n.*a proxy: set HTTPS_PROXY/);
    assert.match(result.all, /a prepared dependency volume: .*\n.*\n.*runner_offline/);
    assert.match(result.all, /POC_NPM_CI_ARGS=--offline/);
    assert.doesNotMatch(result.all, /running npm ci/);
  });

  test('a registry that never answers: the probe gives up after its timeout', async () => {
    const registry = await silentRegistry(false);
    try {
      const dir = withDependency(registry.url);
      const env = cleanEnv({
        npm_config_registry: registry.url,
        npm_config_cache: cache(),
        POC_BOOTSTRAP_PROBE_TIMEOUT: '2',
      });
      const result = await bash(dir, 'bootstrap.sh', env);
      assert.equal(result.exitCode, 1, result.all);
      assert.match(result.all, /is unreachable from here \(no answer within 2 s\)/);
    } finally {
      registry.close();
    }
  });

  test("npm's own fetch gives up in seconds, not minutes, and the cause is named", async () => {
    // The probe passes, the download hangs: what a registry behind a broken proxy looks like.
    const registry = await silentRegistry(true);
    try {
      const dir = withDependency(registry.url);
      const env = cleanEnv({
        npm_config_registry: registry.url,
        npm_config_cache: cache(),
        npm_config_fetch_timeout: '1500',
      });
      const result = await bash(dir, 'bootstrap.sh', env);
      assert.equal(result.exitCode, 1, result.all);
      assert.match(result.all, /running npm ci/);
      assert.match(result.all, /is unreachable from here \(network timeout, after npm's retries\)/);
      assert.match(result.all, /ways out:/);
      assert.ok(!fs.existsSync(path.join(dir, 'node_modules', '.poc-bootstrap.sha256')), 'nothing stamped');
    } finally {
      registry.close();
    }
  });

  test('declared offline (POC_OFFLINE=1): only the npm cache is used, and an empty one says so', async () => {
    const registry = `http://127.0.0.1:${await freePort()}/`;
    const dir = withDependency(registry);
    const result = await bash(
      dir,
      'bootstrap.sh',
      cleanEnv({ npm_config_registry: registry, npm_config_cache: cache(), POC_OFFLINE: '1' }),
    );
    assert.equal(result.exitCode, 1, result.all);
    assert.match(result.all, /POC_OFFLINE=1: installing from the npm cache only \(npm ci --offline\)/);
    assert.match(
      result.all,
      /cannot install offline: the npm cache lacks packages of package-lock\.json \(ENOTCACHED\)/,
    );
  });

  test('without package-lock.json: a clear error, nothing installed', async () => {
    const dir = project({ 'package.json': '{}' }, { modules: false });
    const result = await bash(dir, 'bootstrap.sh', cleanEnv());
    assert.equal(result.exitCode, 1);
    assert.match(result.all, /has no package-lock\.json/);
    assert.ok(!fs.existsSync(path.join(dir, 'node_modules')));
  });
});

describe('lint.sh', () => {
  const scriptsWith = (lint: string, typecheck: string) =>
    project(
      { 'package.json': JSON.stringify({ name: 'fx', private: true, scripts: { lint, typecheck } }) },
      { modules: false },
    );

  test('runs npm run lint and npm run typecheck; passes when both do', async () => {
    const result = await bash(scriptsWith('echo eslint-ran', 'echo tsc-ran'), 'lint.sh', cleanEnv());
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.all, /eslint-ran[\s\S]*tsc-ran/);
    assert.match(result.all, /lint: eslint and tsc passed/);
  });

  test('a failing linter still lets the type check run, and fails the step', async () => {
    const result = await bash(scriptsWith('exit 3', 'echo tsc-ran'), 'lint.sh', cleanEnv());
    assert.equal(result.exitCode, 1);
    assert.match(result.all, /npm run lint failed \(exit code 3\)/);
    assert.match(result.all, /tsc-ran/);
    assert.match(result.all, /lint: FAILED: lint$/m);
  });
});

describe('run.sh', () => {
  test('runs cli/main.ts with tsx from the project root, arguments passed through', async () => {
    const dir = project({
      'package.json': JSON.stringify({ name: 'fx', private: true, type: 'module' }),
      'cli/main.ts':
        'const args: string[] = process.argv.slice(2);\n' +
        'console.log(JSON.stringify({ cwd: process.cwd(), args }));\nprocess.exit(7);\n',
    });
    const result = await execa(
      'bash',
      [path.join(dir, 'runner', 'scripts', 'run.sh'), 'llm', '--prompt', 'hello world'],
      { cwd: root, env: cleanEnv(), reject: false },
    );
    assert.equal(result.exitCode, 7, result.stderr);
    assert.deepEqual(
      JSON.parse(result.stdout),
      { cwd: dir, args: ['llm', '--prompt', 'hello world', '--direct'] },
      '`llm` asks the provider directly',
    );
    const other = await execa('bash', [path.join(dir, 'runner', 'scripts', 'run.sh'), 'status', 'x'], {
      cwd: root,
      env: cleanEnv(),
      reject: false,
    });
    assert.deepEqual(JSON.parse(other.stdout).args, ['status', 'x']);
  });
});

describe('entrypoint.sh outside the image', () => {
  test('loads runner/.env without overriding what is set, and leaves users alone', async () => {
    const dir = project(
      {
        'runner/.env': [
          '# a comment',
          'FROM_FILE=plain value  # trailing comment',
          'export QUOTED="kept # not a comment"',
          "SINGLE='single quoted'",
          'SET_BY_CALLER=from-file',
          'EMPTY_AT_CALLER=from-file',
          'OPENAI_API_KEY=sk-entrypoint-secret-value',
          'not a variable line',
          '',
        ].join('\n'),
      },
      { modules: false },
    );
    const env = cleanEnv({
      POC_WORKDIR: dir,
      SET_BY_CALLER: 'from-caller',
      EMPTY_AT_CALLER: '',
      POC_IN_RUNNER_IMAGE: undefined,
    });
    const result = await execa(
      'bash',
      [
        path.join(dir, 'runner', 'scripts', 'entrypoint.sh'),
        'node',
        '-e',
        'const e = process.env; console.log(JSON.stringify([e.FROM_FILE, e.QUOTED, e.SINGLE, e.SET_BY_CALLER, ' +
          'e.EMPTY_AT_CALLER, e.OLLAMA_HOST, e.POC_IN_CONTAINER, process.getuid?.()]))',
      ],
      { env, extendEnv: false, reject: false },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), [
      'plain value',
      'kept # not a comment',
      'single quoted',
      'from-caller',
      'from-file',
      'http://host.docker.internal:11434',
      '1',
      process.getuid?.(),
    ]);
    assert.match(result.stderr, /runner\/\.env:8 is not KEY=VALUE; ignored/);
    assert.match(result.stderr, /loaded FROM_FILE QUOTED SINGLE EMPTY_AT_CALLER OPENAI_API_KEY from runner\/\.env/);
    assert.ok(!result.stderr.includes('sk-entrypoint-secret-value'));
  });
});
