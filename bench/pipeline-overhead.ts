/**
 * What Temporal costs a pipeline. In one script, on a real dev server and a real Docker engine:
 *   A. a pipeline of 5 trivial container steps through the worker (start → result);
 *   B. the same 5 `docker compose run --rm -T runner bash -lc true` in a plain loop (the baseline);
 * alternated, several rounds; prints both medians, their ratio (goal ≤ 1.10) and the median
 * orchestration overhead per step.
 *
 *   npx tsx bench/pipeline-overhead.ts [rounds=7]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../core/config.js';
import { startPipeline } from '../client/index.js';
import { detectCompose } from '../docker/index.js';
import { ensureTemporalCli, startDevServer } from '../worker/devserver.js';
import { createPocWorker, ensureSearchAttributes, installRuntime } from '../worker/index.js';
import { ensureBashImage, fixtureWorkspace } from '../test/support/images.js';
import { freePort } from '../test/support/temporal.js';

const rounds = Number(process.argv[2] ?? 7);
const STEPS = ['bootstrap', 'doctor', 'lint', 'test', 'e2e'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

installRuntime({ logLevel: 'ERROR' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-bench-pipeline-'));
await ensureBashImage();
const compose = await detectCompose();
const cli = await ensureTemporalCli((l) => process.stderr.write(l + '\n'));
const server = await startDevServer({
  cliPath: cli.path,
  port: await freePort(),
  dbFile: path.join(dir, 'temporal.db'),
});
const connection = await Connection.connect({ address: server.address });
await ensureSearchAttributes(connection, 'default');
const client = new Client({ connection });
const native = await NativeConnection.connect({ address: server.address });
const config = {
  ...loadConfig(),
  temporalAddress: server.address,
  taskQueue: 'bench-pipeline',
  jobsDir: path.join(dir, 'jobs'),
};
const worker = await createPocWorker({ connection: native, client, config });
const running = worker.run();

const ws = fixtureWorkspace(path.join(dir, 'ws'), Object.fromEntries(STEPS.map((s) => [s, 'true'])));

async function viaWorker(): Promise<number> {
  const started = performance.now();
  const { workflowId } = await startPipeline(client, { steps: STEPS, workspace: ws }, { taskQueue: config.taskQueue });
  const status = await client.workflow.getHandle(workflowId).result();
  if (status.phase !== 'DONE') throw new Error(`bench pipeline ended ${status.phase}`);
  return performance.now() - started;
}

async function plainLoop(): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < STEPS.length; i++) {
    await execa(compose.command, [...compose.prefix, 'run', '--rm', '-T', 'runner', 'bash', '-lc', 'true'], {
      cwd: ws,
      stdin: 'ignore',
    });
  }
  return performance.now() - started;
}

const a: number[] = [];
const b: number[] = [];
try {
  process.stderr.write(
    `compose: ${compose.command} ${compose.prefix.join(' ')} ${compose.version}; ${rounds} rounds (+1 warm-up)\n`,
  );
  await viaWorker();
  await plainLoop();
  for (let i = 0; i < rounds; i++) {
    // Alternate, so drift in the machine's load hits both sides alike.
    a.push(await viaWorker());
    b.push(await plainLoop());
    process.stderr.write(
      `  round ${i + 1}: worker ${(a[i] / 1000).toFixed(2)} s, loop ${(b[i] / 1000).toFixed(2)} s\n`,
    );
  }
} finally {
  worker.shutdown();
  await running;
  await native.close();
  await connection.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

const mA = median(a);
const mB = median(b);
const rows = [
  ['pipeline via worker (5 steps)', `${(mA / 1000).toFixed(2)} s`],
  ['plain docker compose loop (5 runs)', `${(mB / 1000).toFixed(2)} s`],
  ['ratio worker / loop (goal ≤ 1.10)', (mA / mB).toFixed(3)],
  ['orchestration overhead per step', `${((mA - mB) / STEPS.length).toFixed(0)} ms`],
];
process.stdout.write(`\n${rows.map(([k, v]) => `${k.padEnd(38)} ${v}`).join('\n')}\n`);
