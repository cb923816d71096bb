/**
 * A real Temporal server and a real worker for tests. jest's globalSetup (test/jest/provision.ts)
 * starts one server for the whole run — the dev server, or with `npm run test:cluster` the
 * production-shaped cluster behind mTLS — and passes its address in POC_TEST_TEMPORAL_ADDRESS (and
 * the cluster's TEMPORAL_TLS_* variables); a file run outside jest starts its own dev server. Every
 * connection is made from loadConfig + connectionOptions, as the product makes it. Each test file
 * gets its own task queue, so files never share work.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig, type PocConfig } from '../../core/config.js';
import { connectionOptions } from '../../core/temporal.js';
import { findTemporalCli, startDevServer } from '../../worker/devserver.js';
import {
  createPocWorker,
  ensureSearchAttributes,
  installRuntime,
  type PocActivities,
  type PocWorker,
} from '../../worker/index.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `poc-${prefix}-`));
}

export interface TestServer {
  address: string;
  stop(): Promise<void>;
}

export async function testServer(): Promise<TestServer> {
  installRuntime({ logLevel: (process.env.POC_TEST_LOG_LEVEL as 'WARN' | undefined) ?? 'ERROR' });
  const shared = process.env.POC_TEST_TEMPORAL_ADDRESS;
  if (shared) return { address: shared, stop: async () => undefined };
  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI: run `npm test` (it builds one) or set TEMPORAL_CLI_PATH');
  const dir = tempDir('temporal');
  const server = await startDevServer({
    cliPath: cli.path,
    port: await freePort(),
    dbFile: path.join(dir, 'temporal.db'),
  });
  return {
    address: server.address,
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `config` with the Slack, LLM and chat settings of `env`: a bot or activities set up apart from their worker. */
export function withEnv(config: PocConfig, env: NodeJS.ProcessEnv): PocConfig {
  const fresh = loadConfig(env);
  return { ...config, slack: fresh.slack, llm: fresh.llm, chat: fresh.chat };
}

export interface TestWorker {
  client: Client;
  config: PocConfig;
  taskQueue: string;
  worker: PocWorker;
  /** Stops the worker and closes its connections. */
  stop(): Promise<void>;
}

export async function startTestWorker({
  address,
  env = {},
  overrides,
  config: configOverrides = {},
  taskQueue = `test-${crypto.randomUUID().slice(0, 8)}`,
  checkEngine,
}: {
  address: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Partial<PocActivities>;
  config?: Partial<PocConfig>;
  taskQueue?: string;
  /** How the host checks its Docker engine; with scripted steps (no Docker) it always answers. */
  checkEngine?: () => Promise<string | null>;
}): Promise<TestWorker> {
  const workerEnv = { ...process.env, ...env };
  const config = { ...loadConfig(workerEnv), temporalAddress: address, taskQueue, ...configOverrides };
  const options = connectionOptions(config);
  const connection = await Connection.connect(options);
  const client = new Client({ connection, namespace: config.namespace });
  await ensureSearchAttributes(connection, config.namespace);
  const native = await NativeConnection.connect(options);
  const worker = await createPocWorker({
    connection: native,
    client,
    config,
    taskQueue,
    activityOverrides: overrides,
    checkEngine: checkEngine ?? (overrides?.runStep ? async () => null : undefined),
  });
  const running = worker.run();
  let stopped = false;
  return {
    client,
    config,
    taskQueue,
    worker,
    async stop() {
      if (stopped) return;
      stopped = true;
      worker.shutdown();
      await running.catch(() => undefined);
      await native.close();
      await connection.close();
    },
  };
}

/** Polls `check` every `intervalMs` until it returns a value (not undefined); fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
