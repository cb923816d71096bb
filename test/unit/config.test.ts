/**
 * The one config reader: every variable, one set of rules (trimmed, empty = unset, checked, one
 * line per error), README's table generated from the same list, and no other reader of the
 * environment in the source rooms.
 */
import { describe, test, expect } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import {
  CONFIG_TABLE_BEGIN,
  CONFIG_TABLE_END,
  CONFIG_VARIABLES,
  ConfigError,
  MIN_DEFAULT_SLOTS,
  configVariablesMarkdown,
  defaultHostName,
  loadConfig,
  repoRoot,
  secretValues,
} from '../../core/config.js';
import { HOST_NAME } from '../../core/validate.js';

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

function tempFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-config-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('CONFIG_VARIABLES and README', () => {
  test("README's table lists exactly the variables of CONFIG_VARIABLES", () => {
    const block = readme.slice(readme.indexOf(CONFIG_TABLE_BEGIN), readme.indexOf(CONFIG_TABLE_END));
    const listed = [...block.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual(CONFIG_VARIABLES.map((v) => v.name));
  });

  test('README carries the generated table as it is (run `npm run docs:env` after changing a variable)', () => {
    expect(readme).toContain(`${CONFIG_TABLE_BEGIN}\n${configVariablesMarkdown()}\n${CONFIG_TABLE_END}`);
  });

  test('each variable is listed once, with a group, a description and a default', () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const v of CONFIG_VARIABLES) {
      expect(v.group.length).toBeGreaterThan(0);
      expect(v.description.length).toBeGreaterThan(0);
      expect(v.default.length).toBeGreaterThan(0);
    }
  });

  test('loadConfig reads every listed variable', () => {
    const read = new Set<string>();
    const env = new Proxy({} as NodeJS.ProcessEnv, {
      get(_target, name) {
        if (typeof name === 'string') read.add(name);
        return undefined;
      },
    });
    loadConfig(env);
    expect(CONFIG_VARIABLES.map((v) => v.name).filter((name) => !read.has(name))).toEqual([]);
  });

  test("no other source file reads the environment (the redactor and a step's Compose call excepted)", () => {
    const rooms = [
      'core',
      'client',
      'docker',
      'render',
      'providers',
      'activities',
      'workflows',
      'worker',
      'cli',
      'slack',
      'cluster',
    ];
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.ts') && full !== path.join(repoRoot, 'core', 'config.ts')) {
          const code = fs
            .readFileSync(full, 'utf8')
            .replace(/\/\*[\s\S]*?\*\//g, '')
            .replace(/\/\/.*$/gm, '');
          for (const line of code.split('\n')) {
            if (
              /process\.env\b|\benv\.[A-Z]|\benv\[/.test(line) &&
              !/createRedactor\(|composeEnvironment\(/.test(line)
            ) {
              offenders.push(`${path.relative(repoRoot, full)}: ${line.trim()}`);
            }
          }
        }
      }
    };
    for (const room of rooms) walk(path.join(repoRoot, room));
    expect(offenders).toEqual([]);
  });
});

describe('loadConfig', () => {
  test('nothing set: the embedded stack and documented defaults', () => {
    const config = loadConfig({});
    expect(config.temporalAddress).toBeUndefined();
    expect(config.namespace).toBe('default');
    expect(config.taskQueue).toBe('poc');
    expect(config.uiUrl).toBe('http://127.0.0.1:8233');
    expect(config.embedded.port).toBe(7233);
    expect(config.retentionDays).toBe(14);
    expect(config.temporal.tls).toBe(false);
    expect(config.slack.port).toBe(3000);
    expect(config.llm.ollama.host).toBe('http://127.0.0.1:11434');
    expect(config.llm.idleTimeoutMs).toBe(120_000);
    expect(config.worker).toEqual({
      maxActivities: 500,
      maxWorkflowTasks: 100,
      maxCachedWorkflows: undefined,
      workflowTaskPolls: 10,
      activityTaskPolls: 10,
      nonStickyPollRatio: 0.2,
    });
    expect(config.compose).toBeUndefined();
    expect(config.color).toBe(true);
    expect(config.host).toEqual({
      name: defaultHostName(),
      labels: [],
      slots: Math.max(MIN_DEFAULT_SLOTS, os.availableParallelism()),
      timeoutSeconds: 30,
      reposDir: path.join(config.stateDir, 'repos'),
    });
    expect(config.host.name).toMatch(HOST_NAME);
  });

  test('build host settings: name, labels (deduplicated), slots (0 = not a host), timeout, repos folder', () => {
    const config = loadConfig({
      POC_HOST_NAME: ' b1 ',
      POC_HOST_LABELS: 'gpu, arm64,gpu,',
      POC_HOST_SLOTS: '0',
      POC_HOST_TIMEOUT_SECONDS: '12',
      POC_REPOS_DIR: '/srv/poc/repos',
    });
    expect(config.host).toEqual({
      name: 'b1',
      labels: ['gpu', 'arm64'],
      slots: 0,
      timeoutSeconds: 12,
      reposDir: '/srv/poc/repos',
    });
  });

  test('values are trimmed and an empty value counts as unset, for every kind of setting', () => {
    const config = loadConfig({
      POC_TASK_QUEUE: '  q1  ',
      TEMPORAL_NAMESPACE: '   ',
      SLACK_BOT_TOKEN: ' xoxb-1 ',
      SLACK_APP_TOKEN: '',
      POC_SLACK_PORT: ' 3100 ',
      POC_ALLOWED_USERS: ' U1, U2 ,',
      OPENAI_API_KEY: '  ',
      POC_MAX_ACTIVITIES: ' 7 ',
      POC_COMPOSE: ' docker-compose ',
      NO_COLOR: ' ',
    });
    expect(config.taskQueue).toBe('q1');
    expect(config.namespace).toBe('default');
    expect(config.slack.botToken).toBe('xoxb-1');
    expect(config.slack.appToken).toBeUndefined();
    expect(config.slack.port).toBe(3100);
    expect(config.slack.allowedUsers).toEqual(['U1', 'U2']);
    expect(config.llm.openai.apiKey).toBeUndefined();
    expect(config.worker.maxActivities).toBe(7);
    expect(config.compose).toBe('docker-compose');
    expect(config.color).toBe(true);
  });

  test('a bad value is one line naming the variable and the fix', () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ POC_METRICS_PORT: '99999' }, 'POC_METRICS_PORT'],
      [{ POC_SLACK_PORT: 'eighty' }, 'POC_SLACK_PORT'],
      [{ POC_EMBEDDED_PORT: '-1' }, 'POC_EMBEDDED_PORT'],
      [{ POC_RETENTION_DAYS: 'forever' }, 'POC_RETENTION_DAYS'],
      [{ POC_MAX_ACTIVITIES: '0' }, 'POC_MAX_ACTIVITIES'],
      [{ POC_MAX_WORKFLOW_TASKS: '1' }, 'POC_MAX_WORKFLOW_TASKS'],
      [{ POC_NON_STICKY_POLL_RATIO: '2' }, 'POC_NON_STICKY_POLL_RATIO'],
      [{ POC_LLM_IDLE_TIMEOUT_MS: '1.5s' }, 'POC_LLM_IDLE_TIMEOUT_MS'],
      [{ POC_COMPOSE: 'podman compose' }, 'POC_COMPOSE'],
      [{ SLACK_API_URL: 'slack.com/api' }, 'SLACK_API_URL'],
      [{ OPENAI_BASE_URL: 'ftp://x' }, 'OPENAI_BASE_URL'],
      [{ POC_TEMPORAL_UI_URL: 'localhost:8233' }, 'POC_TEMPORAL_UI_URL'],
      [{ OLLAMA_HOST: 'ftp://x' }, 'OLLAMA_HOST'],
      [{ TEMPORAL_ADDRESS: 'temporal.example.com' }, 'TEMPORAL_ADDRESS'],
      [{ TEMPORAL_TLS: 'maybe', TEMPORAL_ADDRESS: 'h:7233' }, 'TEMPORAL_TLS'],
      [{ POC_HOST_NAME: '-b1' }, 'POC_HOST_NAME'],
      [{ POC_HOST_NAME: 'b 1' }, 'POC_HOST_NAME'],
      [{ POC_HOST_LABELS: 'gpu,a b' }, 'POC_HOST_LABELS'],
      [{ POC_HOST_SLOTS: '-1' }, 'POC_HOST_SLOTS'],
      [{ POC_HOST_TIMEOUT_SECONDS: '2' }, 'POC_HOST_TIMEOUT_SECONDS'],
    ];
    for (const [env, variable] of cases) {
      const err = configError(env);
      expect(err.variable).toBe(variable);
      expect(err.message.startsWith(`${variable}=`)).toBe(true);
      expect(err.message).not.toContain('\n');
      expect(err.message).toMatch(/; (set|fix|add|create|keep|unset)/);
    }
  });

  test('Temporal connection variables: TLS files, API key, and what they need', () => {
    const mtls = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.example.com:7233',
      TEMPORAL_NAMESPACE: 'ci',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/certs/client.pem',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '/certs/client.key',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/certs/ca.pem',
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
    });
    expect(mtls.temporalAddress).toBe('temporal.example.com:7233');
    expect(mtls.namespace).toBe('ci');
    expect(mtls.temporal.tls).toEqual({
      clientCert: { path: '/certs/client.pem', setting: 'TEMPORAL_TLS_CLIENT_CERT_PATH' },
      clientKey: { path: '/certs/client.key', setting: 'TEMPORAL_TLS_CLIENT_KEY_PATH' },
      serverCaCert: { path: '/certs/ca.pem', setting: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH' },
      serverName: 'frontend.internal',
    });

    const keyed = loadConfig({ TEMPORAL_ADDRESS: 'ns.tmprl.cloud:7233', TEMPORAL_API_KEY: 'key-123456' });
    expect(keyed.temporal.apiKey).toBe('key-123456');
    expect(keyed.temporal.tls).toEqual({});
    expect(secretValues(keyed).TEMPORAL_API_KEY).toBe('key-123456');
    const plainKeyed = loadConfig({
      TEMPORAL_ADDRESS: 'h:7233',
      TEMPORAL_API_KEY: 'key-123456',
      TEMPORAL_TLS: 'false',
    });
    expect(plainKeyed.temporal.tls).toBe(false);
    expect(loadConfig({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS: 'TRUE' }).temporal.tls).toEqual({});

    expect(configError({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS_CLIENT_CERT_PATH: '/c.pem' }).variable).toBe(
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
    );
    expect(configError({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS_CLIENT_KEY_PATH: '/c.key' }).variable).toBe(
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
    );
    expect(configError({ TEMPORAL_API_KEY: 'key-123456' }).message).toMatch(
      /^TEMPORAL_API_KEY is set but TEMPORAL_ADDRESS is not: set TEMPORAL_ADDRESS/,
    );
  });

  test("the Temporal CLI's profiles: the file's values, overridden by variables, each error one line", () => {
    const file = tempFile(
      'temporal.toml',
      [
        '[profile.default]',
        'address = "default.example.com:7233"',
        '',
        '[profile.prod]',
        'address = "prod.example.com:7233"',
        'namespace = "prod-ns"',
        'api_key = "prod-key-123456"',
        '[profile.prod.tls]',
        'server_name = "prod.internal"',
        '[profile.prod.grpc_meta]',
        'x-team = "ci"',
      ].join('\n'),
    );
    expect(loadConfig({ TEMPORAL_CONFIG_FILE: file }).temporalAddress).toBe('default.example.com:7233');
    const prod = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
    expect(prod.temporalAddress).toBe('prod.example.com:7233');
    expect(prod.namespace).toBe('prod-ns');
    expect(prod.temporal.apiKey).toBe('prod-key-123456');
    expect(prod.temporal.tls).toEqual({ serverName: 'prod.internal' });
    expect(prod.temporal.metadata).toEqual({ 'x-team': 'ci' });
    expect(prod.temporal.profile).toBe('prod');
    expect(prod.temporal.addressSetting).toBe(`address of profile "prod" in ${file}`);
    const overridden = loadConfig({
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'other',
      TEMPORAL_TLS: 'false',
    });
    expect(overridden.namespace).toBe('other');
    expect(overridden.temporal.namespaceSetting).toBe('TEMPORAL_NAMESPACE');
    expect(overridden.temporal.tls).toBe(false);

    const missingProfile = configError({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' });
    expect(missingProfile.variable).toBe('TEMPORAL_PROFILE');
    expect(missingProfile.message).toContain('has no such profile');
    expect(configError({ TEMPORAL_CONFIG_FILE: `${file}.missing` }).variable).toBe('TEMPORAL_CONFIG_FILE');
    const broken = configError({ TEMPORAL_CONFIG_FILE: tempFile('temporal.toml', '[profile.default\naddress=') });
    expect(broken.variable).toBe('TEMPORAL_CONFIG_FILE');
    expect(broken.message).not.toContain('\n');
    expect(loadConfig({ TEMPORAL_CONFIG_FILE: tempFile('temporal.toml', '') }).temporalAddress).toBeUndefined();
    expect(configError({ TEMPORAL_PROFILE: 'prod', HOME: path.join(os.tmpdir(), 'nowhere') }).variable).toBe(
      'TEMPORAL_PROFILE',
    );
  });
});

describe('seed habits', () => {
  test('OLLAMA_BASE_URL is an alias of OLLAMA_HOST; OLLAMA_HOST wins; the setting used is named', () => {
    expect(loadConfig({ OLLAMA_BASE_URL: 'http://gpu:11434' }).llm.ollama).toEqual({
      host: 'http://gpu:11434',
      setting: 'OLLAMA_BASE_URL',
    });
    expect(loadConfig({ OLLAMA_HOST: 'box:11434', OLLAMA_BASE_URL: 'http://gpu:11434' }).llm.ollama).toEqual({
      host: 'box:11434',
      setting: 'OLLAMA_HOST',
    });
    expect(loadConfig({}).llm.ollama).toEqual({ host: 'http://127.0.0.1:11434' });
    expect(configError({ OLLAMA_BASE_URL: 'ftp://gpu' }).message).toBe(
      'OLLAMA_BASE_URL=ftp://gpu is not an Ollama address; set it like http://127.0.0.1:11434 or unset it',
    );
  });

  test('POC_OFFLINE declares the machine offline', () => {
    expect(loadConfig({}).offline).toBe(false);
    expect(loadConfig({ POC_OFFLINE: '1' }).offline).toBe(true);
    expect(configError({ POC_OFFLINE: 'maybe' }).variable).toBe('POC_OFFLINE');
  });

  test('.env then runner/.env are read with process.loadEnvFile; the real environment wins; names only', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-envfiles-'));
    try {
      fs.mkdirSync(path.join(dir, 'runner'));
      fs.writeFileSync(path.join(dir, '.env'), 'POC_TEST_ENVFILE_A=from-dotenv\nPOC_TEST_ENVFILE_B=from-dotenv\n');
      fs.writeFileSync(
        path.join(dir, 'runner', '.env'),
        'POC_TEST_ENVFILE_B=from-runner\nPOC_TEST_ENVFILE_C="from runner"\n',
      );
      // In a process of its own: process.loadEnvFile writes the real environment, which jest's sandbox copies.
      const script =
        `const { loadEnvFiles } = await import(${JSON.stringify(path.join(repoRoot, 'core', 'config.ts'))});` +
        'const files = loadEnvFiles(process.argv[1]);' +
        "const values = ['A', 'B', 'C'].map((k) => process.env['POC_TEST_ENVFILE_' + k]);" +
        'console.log(JSON.stringify({ files, values }));';
      const { stdout } = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], {
        env: { ...process.env, POC_TEST_ENVFILE_A: 'real' },
        cwd: repoRoot,
      });
      expect(JSON.parse(stdout)).toEqual({
        files: [path.join(dir, '.env'), path.join(dir, 'runner', '.env')],
        values: ['real', 'from-dotenv', 'from runner'],
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
