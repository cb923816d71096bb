/**
 * The production-shaped cluster (cluster/): PostgreSQL plus frontend, history, matching and worker
 * as four processes, the frontend behind mTLS, supervised. One cluster for the whole file, in a
 * temporary folder; the last test brings it down and checks nothing it started is left.
 *
 * Jest style. The first run builds temporal-server (minutes, cached after); later ones take
 * seconds. `npx tsx bench/cluster-smoke.ts` runs the same story with timings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { serverConfigYaml } from '../cluster/config.js';
import { loadConfig } from '../core/config.js';
import { connectionOptions } from '../core/temporal.js';
import {
  clusterDown,
  clusterStatus,
  clusterEnvironment,
  CLUSTER_SEARCH_ATTRIBUTES,
  processesUsing,
  type ClusterStatus,
} from '../cluster/index.js';
import { readPlan, type Role } from '../cluster/plan.js';
import { pickFreePorts, portIsFree } from '../cluster/ports.js';
import { restartDelayMs } from '../cluster/supervisor.js';
import { installRuntime } from '../worker/index.js';

const PocKind = defineSearchAttributeKey('PocKind', SearchAttributeType.KEYWORD);
const workflowsPath = fileURLToPath(new URL('../cluster/smoke-workflow.ts', import.meta.url));
const taskQueue = `cluster-test-${process.pid}`;
const root = fileURLToPath(new URL('..', import.meta.url));

/** Polls until `attempt` returns a value (a throw or undefined = not yet) or the time is up. */
async function eventually<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('cluster pieces without a cluster', () => {
  test('ports come from below 32768 (membership ports are a PostgreSQL smallint) and are free', async () => {
    const ports = await pickFreePorts(10);
    expect(new Set(ports).size).toBe(10);
    for (const port of ports) {
      expect(port).toBeLessThan(32_768);
      expect(await portIsFree(port)).toBe(true);
    }
  });

  test('a process that keeps failing is restarted sooner first, then at most every 5 s', () => {
    expect(restartDelayMs(1)).toBe(250);
    expect(restartDelayMs(2)).toBe(500);
    expect(restartDelayMs(10)).toBe(5_000);
  });
});

describe('deploy/compose.yaml', () => {
  /** Temporal's own connection variables (issue #9): read through the SDK's envconfig, not by name in our code. */
  const TEMPORAL_CONNECTION = [
    'TEMPORAL_TLS',
    'TEMPORAL_TLS_CLIENT_CERT_PATH',
    'TEMPORAL_TLS_CLIENT_KEY_PATH',
    'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    'TEMPORAL_TLS_SERVER_NAME',
    'TEMPORAL_API_KEY',
  ];

  /** The environment keys of one service in `docker-compose config` output (keys two levels under it). */
  function environmentOf(rendered: string, service: string): string[] {
    const lines = rendered.split('\n');
    const start = lines.indexOf(`  ${service}:`);
    const env = lines.indexOf('    environment:', start);
    const keys: string[] = [];
    for (let i = env + 1; i < lines.length && lines[i].startsWith('      '); i += 1)
      keys.push(lines[i].trim().split(':')[0]);
    return keys;
  }

  function sourcesMention(name: string): boolean {
    const rooms = fs
      .readdirSync(root)
      .filter(
        (entry) =>
          !['node_modules', 'test', 'deploy', '.git'].includes(entry) &&
          fs.statSync(path.join(root, entry)).isDirectory(),
      );
    const files = rooms.flatMap((room) =>
      fs
        .readdirSync(path.join(root, room), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.join(root, room, f)),
    );
    return files.some((file) => fs.readFileSync(file, 'utf8').includes(name));
  }

  test('Compose accepts it, and the poc services get only variables the code reads', async () => {
    const compose =
      (await execa('docker', ['compose', 'version'], { reject: false })).exitCode === 0
        ? ['docker', 'compose']
        : ['docker-compose'];
    const result = await execa(
      compose[0],
      [...compose.slice(1), '-f', path.join(root, 'deploy', 'compose.yaml'), '--profile', 'slack', 'config'],
      { reject: false, all: true },
    );
    expect(result.stderr).not.toMatch(/error|invalid/i);
    expect(result.exitCode).toBe(0);
    for (const service of ['poc-worker', 'poc-bot']) {
      const keys = environmentOf(result.stdout, service);
      expect(keys).toContain('TEMPORAL_ADDRESS');
      for (const key of keys)
        if (!TEMPORAL_CONNECTION.includes(key)) expect([key, sourcesMention(key)]).toEqual([key, true]);
    }
  }, 60_000);
});

describe('a four-process cluster on PostgreSQL with mTLS', () => {
  let dir: string;
  let status: ClusterStatus;
  let connection: Connection;
  let client: Client;
  let nativeConnection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;

  const runOne = async (label: string): Promise<string> => {
    const workflowId = `cluster-test-${label}-${Date.now()}`;
    const result = await client.workflow.execute('clusterSmoke', {
      workflowId,
      taskQueue,
      args: [label],
      typedSearchAttributes: [{ key: PocKind, value: 'cluster-test' }],
      workflowExecutionTimeout: '2 minutes',
    });
    expect(result).toBe(`hello ${label}`);
    return workflowId;
  };

  const killAndExpectRestart = async (role: Role) => {
    const before = (await clusterStatus({ dir }))?.processes.find((p) => p.role === role);
    expect(before?.pid).toBeTruthy();
    process.kill(before?.pid as number, 'SIGKILL');
    const after = await eventually(`${role} restarted`, 60_000, async () => {
      const entry = (await clusterStatus({ dir }))?.processes.find((p) => p.role === role);
      return entry?.pid && entry.pid !== before?.pid ? entry : undefined;
    });
    expect(after.restarts).toBe((before?.restarts ?? 0) + 1);
    // The cluster answers again: a new workflow runs to completion.
    await eventually(`a workflow after killing ${role}`, 180_000, () => runOne(`after-${role}`));
  };

  /** `poc cluster …` as users run it (the bin), on this file's folder. */
  const pocCluster = (args: string[]) =>
    execa(process.execPath, [path.join(root, 'cli', 'poc.js'), 'cluster', ...args], {
      env: { ...process.env, POC_CLUSTER_DIR: dir, NO_COLOR: '1' },
      reject: false,
      timeout: 900_000,
    });

  beforeAll(async () => {
    installRuntime({ logLevel: 'ERROR' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-cluster-test-'));
    // Brought up through the bin; its --json output is the status object.
    const up = await pocCluster(['up', '--json']);
    process.stderr.write(`${up.stderr.replace(/^/gm, '[poc cluster up] ')}\n`);
    expect(up.exitCode).toBe(0);
    status = JSON.parse(up.stdout) as ClusterStatus;
    // Connected the way every piece of the product connects: the variables `up` prints.
    const options = connectionOptions(loadConfig({ ...process.env, ...clusterEnvironment(status) }));
    connection = await Connection.connect(options);
    client = new Client({ connection, namespace: status.namespace });
    nativeConnection = await NativeConnection.connect(options);
    worker = await Worker.create({
      connection: nativeConnection,
      namespace: status.namespace,
      taskQueue,
      workflowsPath,
    });
    running = worker.run();
  }, 900_000);

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running?.catch(() => undefined);
    await nativeConnection?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    if (!dir) return;
    await clusterDown({ dir, wipe: true }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  test('status says exactly what a client and an operator need', async () => {
    expect(Object.keys(status).sort()).toEqual(['address', 'namespace', 'processes', 'tls', 'uiUrl']);
    expect(status.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Number(status.address.split(':')[1])).toBeLessThan(32_768);
    expect(status.namespace).toBe('default');
    expect(Object.keys(status.tls).sort()).toEqual(['caCertPath', 'clientCertPath', 'clientKeyPath', 'serverName']);
    for (const file of [status.tls.caCertPath, status.tls.clientCertPath, status.tls.clientKeyPath])
      expect(fs.existsSync(file)).toBe(true);
    const roles = status.processes.map((p) => p.role);
    expect(roles.slice(0, 5)).toEqual(['postgres', 'frontend', 'history', 'matching', 'worker']);
    // The UI server is a fifth process when it could be built; then uiUrl answers.
    expect(roles.includes('ui')).toBe(status.uiUrl !== null);
    for (const p of status.processes) {
      expect(p.pid).toBeGreaterThan(0);
      expect(p.restarts).toBe(0);
    }
    if (status.uiUrl) expect((await fetch(status.uiUrl)).ok).toBe(true);
    expect(await clusterStatus({ dir })).toEqual(status);
    const json = await pocCluster(['status', '--json']);
    expect(json.exitCode).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(status);
  });

  test('poc cluster status tells people where it is and what to export; --env prints only that', async () => {
    const human = await pocCluster(['status']);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toContain(`Temporal cluster in ${dir}`);
    expect(human.stdout).toMatch(new RegExp(`frontend +${status.address} \\(mTLS, server name localhost\\)`));
    for (const p of status.processes) expect(human.stdout).toContain(`${p.role} ${p.pid}`);
    const exports = await pocCluster(['status', '--env']);
    expect(exports.exitCode).toBe(0);
    const expected = Object.entries(clusterEnvironment(status)).map(([name, value]) => `export ${name}=${value}`);
    expect(exports.stdout.split('\n')).toEqual(expected);
    for (const line of expected) expect(human.stdout).toContain(`  ${line}`);
    expect(expected.map((line) => line.split('=')[0])).toEqual(
      expect.arrayContaining([
        'export TEMPORAL_ADDRESS',
        'export TEMPORAL_TLS_SERVER_CA_CERT_PATH',
        'export TEMPORAL_TLS_CLIENT_CERT_PATH',
        'export TEMPORAL_TLS_CLIENT_KEY_PATH',
        'export TEMPORAL_TLS_SERVER_NAME',
      ]),
    );
  });

  test('poc cluster up on a running cluster returns it as it is', async () => {
    const again = await pocCluster(['up', '--json']);
    expect(again.exitCode).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(status);
    expect(again.stderr).toMatch(/a cluster already runs/);
  }, 120_000);

  test('one config for the four services: the frontend requires client certificates, the system worker has one', () => {
    const plan = readPlan(dir);
    expect(plan).toBeDefined();
    const yaml = serverConfigYaml(plan!);
    expect(yaml).toContain('requireClientAuth: true');
    expect(yaml).toMatch(/systemWorker:\n\s+certFile: ".*client\.pem"/);
    expect(fs.readdirSync(plan!.configDir)).toContain('cluster.yaml');
  });

  test('the frontend refuses a client without a certificate', async () => {
    const bare = await Connection.connect({
      address: status.address,
      tls: {
        serverNameOverride: status.tls.serverName,
        serverRootCACertificate: fs.readFileSync(status.tls.caCertPath),
      },
      connectTimeout: 2_000,
    }).catch((err: Error) => err);
    if (bare instanceof Error) return; // refused at connect: what we want
    try {
      await expect(
        bare.withDeadline(Date.now() + 3_000, () => bare.workflowService.getSystemInfo({})),
      ).rejects.toThrow();
    } finally {
      await bare.close();
    }
  }, 30_000);

  test('the search attributes are registered for the namespace', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: status.namespace });
    for (const name of CLUSTER_SEARCH_ATTRIBUTES) expect(Object.keys(customAttributes ?? {})).toContain(name);
  });

  test('a workflow runs over mTLS and a visibility query on PocKind finds it', async () => {
    const workflowId = await runOne('first');
    const found = await eventually('the workflow in visibility', 30_000, async () => {
      for await (const execution of client.workflow.list({
        query: `PocKind = "cluster-test" AND WorkflowId = "${workflowId}"`,
      }))
        return execution;
      return undefined;
    });
    expect(found.status.name).toBe('COMPLETED');
  });

  test('a SIGKILLed history process is restarted with a new pid and the cluster answers again', async () => {
    await killAndExpectRestart('history');
  }, 300_000);

  test('a SIGKILLed PostgreSQL is restarted and the cluster answers again', async () => {
    await killAndExpectRestart('postgres');
  }, 300_000);

  test('poc cluster down stops every process it started and nothing else is left', async () => {
    worker.shutdown();
    await running;
    const down = await pocCluster(['down']);
    expect(down.exitCode).toBe(0);
    expect(down.stdout).toBe(`cluster stopped (${dir}); \`npx poc cluster up\` starts it again with its data`);
    expect(await clusterStatus({ dir })).toBeUndefined();
    expect(processesUsing(dir)).toEqual([]);
    const none = await pocCluster(['status', '--json']);
    expect([none.exitCode, none.stdout, none.stderr.trim()]).toEqual([
      1,
      'null',
      `no cluster runs in ${dir}; start one with \`npx poc cluster up\``,
    ]);
    // The data stays (no wipe): the next `up` finds the namespace where it left it.
    expect(fs.existsSync(path.join(dir, 'postgres', 'data', 'PG_VERSION'))).toBe(true);
  }, 180_000);
});
