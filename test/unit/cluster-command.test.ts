/**
 * `poc cluster up|status|down`: the grammar (one line per mistake, CLI only), the settings it reads
 * (POC_CLUSTER_DIR, POC_POSTGRES_BIN_DIR), and what it prints for people and for shells.
 */
import { describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { helpText, parseCommand, UsageError } from '../../client/grammar.js';
import { exportLines, renderClusterStatus, runClusterCommand, shellWord } from '../../cli/cluster.js';
import { clusterEnvironment, type ClusterStatus } from '../../cluster/index.js';
import { loadConfig, repoRoot } from '../../core/config.js';

const status: ClusterStatus = {
  address: '127.0.0.1:29472',
  namespace: 'default',
  uiUrl: 'http://127.0.0.1:29480',
  tls: {
    caCertPath: '/srv/poc cluster/tls/ca.pem',
    clientCertPath: '/srv/poc cluster/tls/client.pem',
    clientKeyPath: '/srv/poc cluster/tls/client.key',
    serverName: 'localhost',
  },
  processes: [
    { role: 'postgres', pid: 2293, restarts: 0 },
    { role: 'frontend', pid: 2301, restarts: 0 },
    { role: 'history', pid: 2310, restarts: 1 },
    { role: 'matching', pid: 2320, restarts: 0 },
    { role: 'worker', pid: 2330, restarts: 0 },
  ],
};

describe('poc cluster: grammar', () => {
  test('up, status and down, with --json; --env with up/status; --wipe with down', () => {
    expect(parseCommand(['cluster', 'up'], 'cli')).toEqual({
      name: 'cluster',
      action: 'up',
      wipe: false,
      env: false,
      json: false,
    });
    expect(parseCommand(['cluster', 'status', '--json'], 'cli')).toMatchObject({ action: 'status', json: true });
    expect(parseCommand(['cluster', 'up', '--env'], 'cli')).toMatchObject({ action: 'up', env: true });
    expect(parseCommand(['cluster', 'down', '--wipe'], 'cli')).toMatchObject({ action: 'down', wipe: true });
  });

  test.each([
    [['cluster'], /say what to do with the cluster: up, status, down; usage: poc cluster up\|status\|down/],
    [['cluster', 'start'], /unknown cluster action "start"; use up, status, down/],
    [['cluster', 'up', 'now'], /unexpected "now"/],
    [['cluster', 'up', '--wipe'], /--wipe goes with `cluster down`/],
    [['cluster', 'down', '--env'], /--env goes with `cluster up` or `cluster status`/],
    [['cluster', 'status', '--env', '--json'], /give --env or --json, not both/],
  ])('%j is one line naming the mistake and the form', (argv, message) => {
    expect(() => parseCommand(argv, 'cli')).toThrow(UsageError);
    expect(() => parseCommand(argv, 'cli')).toThrow(message);
  });

  test('a CLI command only: Slack does not know it, and the CLI help lists it', () => {
    expect(() => parseCommand(['cluster', 'up'], 'slack')).toThrow(/unknown command "cluster"/);
    expect(helpText('cli')).toMatch(/^poc cluster +a production-shaped Temporal here/m);
    expect(helpText('slack')).not.toMatch(/cluster/);
  });
});

describe('poc cluster: settings', () => {
  test('POC_CLUSTER_DIR picks the folder (default runner/cluster); POC_POSTGRES_BIN_DIR the PostgreSQL', () => {
    expect(loadConfig({}).cluster).toEqual({
      dir: path.join(repoRoot, 'runner', 'cluster'),
      postgresBinDir: undefined,
    });
    expect(loadConfig({ POC_CLUSTER_DIR: ' /var/tmp/poc ', POC_POSTGRES_BIN_DIR: '/opt/pg/bin' }).cluster).toEqual({
      dir: '/var/tmp/poc',
      postgresBinDir: '/opt/pg/bin',
    });
  });
});

describe('poc cluster: output', () => {
  test('the variables are Temporal’s own names, so poc, the temporal CLI and the SDKs read them alike', () => {
    expect(clusterEnvironment(status)).toEqual({
      TEMPORAL_ADDRESS: '127.0.0.1:29472',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/srv/poc cluster/tls/ca.pem',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/srv/poc cluster/tls/client.pem',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '/srv/poc cluster/tls/client.key',
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      POC_TEMPORAL_UI_URL: 'http://127.0.0.1:29480',
    });
    expect(clusterEnvironment({ ...status, uiUrl: null })).not.toHaveProperty('POC_TEMPORAL_UI_URL');
  });

  test('export lines a shell can eval: paths with spaces or quotes are quoted', () => {
    expect(shellWord('/tmp/a.pem')).toBe('/tmp/a.pem');
    expect(shellWord("/tmp/it's here")).toBe(`'/tmp/it'\\''s here'`);
    expect(exportLines({ A: '1', B: 'two words' })).toBe("export A=1\nexport B='two words'");
  });

  test('the human status: address, Web UI, processes with restarts, certificates, the exports', () => {
    const text = renderClusterStatus(status, '/srv/poc cluster', clusterEnvironment(status));
    expect(text).toContain('frontend    127.0.0.1:29472 (mTLS, server name localhost), namespace "default"');
    expect(text).toContain('Web UI      http://127.0.0.1:29480');
    expect(text).toContain('history 2310 (restarted 1×)');
    expect(text).toContain("  export TEMPORAL_TLS_CLIENT_KEY_PATH='/srv/poc cluster/tls/client.key'");
    expect(renderClusterStatus({ ...status, uiUrl: null }, '/d', {})).toMatch(/Web UI +none \(the UI server/);
  });
});

describe('poc cluster: where nothing runs', () => {
  const run = async (argv: string[]) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-cluster-none-'));
    const out: string[] = [];
    const err: string[] = [];
    const command = parseCommand(['cluster', ...argv], 'cli') as Parameters<typeof runClusterCommand>[0];
    const code = await runClusterCommand(
      command,
      { ...loadConfig({}), cluster: { dir, postgresBinDir: undefined } },
      {
        out: (text) => out.push(text),
        err: (text) => err.push(text),
      },
    );
    fs.rmSync(dir, { recursive: true, force: true });
    return { code, out: out.join('\n'), err: err.join('\n'), dir };
  };

  test('status exits 1 with one line saying how to start one; --json prints null', async () => {
    const human = await run(['status']);
    expect([human.code, human.out, human.err]).toEqual([
      1,
      '',
      `no cluster runs in ${human.dir}; start one with \`npx poc cluster up\``,
    ]);
    const json = await run(['status', '--json']);
    expect([json.code, json.out]).toEqual([1, 'null']);
  });

  test('down says nothing was running and succeeds', async () => {
    const down = await run(['down']);
    expect([down.code, down.out]).toEqual([0, `no cluster was running in ${down.dir}`]);
    const json = await run(['down', '--json']);
    expect(JSON.parse(json.out)).toEqual({ dir: json.dir, stopped: false, wiped: false });
  });
});
