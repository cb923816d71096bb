/**
 * What Temporal costs a pipeline. In one script, on a real Temporal server and a real Docker engine:
 *   A. a pipeline of 5 trivial container steps through the worker (start → result);
 *   B. the same 5 `docker compose run --rm -T runner bash -lc true` in a plain loop (the baseline);
 * alternated, several rounds; prints both medians, their ratio (goal ≤ 1.10), the median
 * orchestration overhead per step, and the server's own floor measured in the same run: a no-op
 * workflow running one no-op activity, one at a time (bench/servers.ts). With `--cluster` it runs
 * on the dev server and on the production-shaped cluster (PostgreSQL, four services, mTLS), side
 * by side.
 *
 *   npx tsx bench/pipeline-overhead.ts [rounds=7] [--cluster]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { startPipeline } from '../client/index.js';
import { detectCompose } from '../docker/index.js';
import { createPocWorker, installRuntime } from '../worker/index.js';
import { ensureBashImage, fixtureWorkspace } from '../test/support/images.js';
import { markdownTable } from './chaos.js';
import { connectTo, measureCeiling, onEachServer, percentile, serverKinds, type BenchServer } from './servers.js';

const rounds = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 7);
const STEPS = ['bootstrap', 'doctor', 'lint', 'test', 'e2e'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const log = (line: string) => process.stderr.write(`${line}\n`);

installRuntime({ logLevel: 'ERROR' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-bench-pipeline-'));
await ensureBashImage();
const compose = await detectCompose();
log(`compose: ${compose.command} ${compose.prefix.join(' ')} ${compose.version}; ${rounds} rounds (+1 warm-up)`);

interface Side {
  kind: string;
  viaWorker: number[];
  loop: number[];
  floorMs: number;
  floorPerSecond: number;
}

async function plainLoop(ws: string): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < STEPS.length; i++) {
    await execa(compose.command, [...compose.prefix, 'run', '--rm', '-T', 'runner', 'bash', '-lc', 'true'], {
      cwd: ws,
      stdin: 'ignore',
    });
  }
  return performance.now() - started;
}

/** Alternating rounds of the pipeline and the plain loop on one server, then the server's floor. */
async function onServer(server: BenchServer): Promise<Side> {
  const connected = await connectTo(server);
  const taskQueue = 'bench-pipeline';
  const config = { ...server.config, taskQueue, jobsDir: path.join(dir, 'jobs') };
  const worker = await createPocWorker({ connection: connected.native, client: connected.client, config });
  const running = worker.run();
  const ws = fixtureWorkspace(
    path.join(dir, `ws-${server.kind.replace(' ', '-')}`),
    Object.fromEntries(STEPS.map((s) => [s, 'true'])),
  );
  const viaWorker = async (): Promise<number> => {
    const started = performance.now();
    const { workflowId } = await startPipeline(connected.client, { steps: STEPS, workspace: ws }, { taskQueue });
    const status = await connected.client.workflow.getHandle(workflowId).result();
    if (status.phase !== 'DONE') throw new Error(`bench pipeline ended ${status.phase}`);
    return performance.now() - started;
  };
  const side: Side = { kind: server.kind, viaWorker: [], loop: [], floorMs: NaN, floorPerSecond: NaN };
  try {
    await viaWorker();
    await plainLoop(ws);
    for (let i = 0; i < rounds; i++) {
      // Alternate, so drift in the machine's load hits both sides alike.
      side.viaWorker.push(await viaWorker());
      side.loop.push(await plainLoop(ws));
      log(`  round ${i + 1}, ${server.kind}: worker ${seconds(side.viaWorker[i])}, loop ${seconds(side.loop[i])}`);
    }
    const floor = await measureCeiling(server, connected, { count: 20, concurrency: 1, warmUp: 5 });
    side.floorMs = percentile(floor.latenciesMs, 50);
    side.floorPerSecond = floor.perSecond;
    return side;
  } finally {
    worker.shutdown();
    await running;
    await connected.close();
  }
}

let sides: Side[];
try {
  sides = await onEachServer(serverKinds(process.argv), dir, process.env, log, onServer);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const figures = sides.map((side) => {
  const worker = median(side.viaWorker);
  const loop = median(side.loop);
  // Per round, pipeline minus the loop right after it: drift in the machine's load cancels out.
  const perStep = median(side.viaWorker.map((ms, i) => ms - side.loop[i])) / STEPS.length;
  return { side, worker, loop, perStep };
});
process.stdout.write(
  `\n${markdownTable(
    ['', ...figures.map((f) => f.side.kind)],
    [
      ['plain docker compose loop (5 runs)', ...figures.map((f) => seconds(f.loop))],
      ['pipeline via worker (5 steps)', ...figures.map((f) => seconds(f.worker))],
      ['ratio of the medians, worker / loop (goal ≤ 1.10)', ...figures.map((f) => (f.worker / f.loop).toFixed(3))],
      [
        'median of the rounds’ own ratios (steadier under load)',
        ...figures.map((f) => median(f.side.viaWorker.map((ms, i) => ms / f.side.loop[i])).toFixed(3)),
      ],
      ['orchestration overhead per step (median of the rounds)', ...figures.map((f) => `${f.perStep.toFixed(0)} ms`)],
      [
        'server floor: no-op workflow + activity, one at a time',
        ...figures.map((f) => `${f.side.floorMs.toFixed(0)} ms (${f.side.floorPerSecond.toFixed(1)}/s)`),
      ],
      ['overhead per step ÷ server floor', ...figures.map((f) => (f.perStep / f.side.floorMs).toFixed(2))],
    ],
  )}\n`,
);
