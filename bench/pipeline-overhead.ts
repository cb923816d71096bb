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
import { connectTo, measureCeiling, percentile, serverKinds, startBenchServers, type Connected } from './servers.js';

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
const servers = await startBenchServers(serverKinds(process.argv), dir, process.env, log);

interface OnServer {
  kind: string;
  connected: Connected;
  taskQueue: string;
  ws: string;
  stopWorker: () => Promise<void>;
  viaWorker: number[];
  loop: number[];
  floorMs?: number;
  floorPerSecond?: number;
}

const sides: OnServer[] = [];
try {
  for (const server of servers) {
    const connected = await connectTo(server);
    const taskQueue = 'bench-pipeline';
    const config = { ...server.config, taskQueue, jobsDir: path.join(dir, 'jobs') };
    const worker = await createPocWorker({ connection: connected.native, client: connected.client, config });
    const running = worker.run();
    const ws = fixtureWorkspace(
      path.join(dir, `ws-${server.kind.replace(' ', '-')}`),
      Object.fromEntries(STEPS.map((s) => [s, 'true'])),
    );
    sides.push({
      kind: server.kind,
      connected,
      taskQueue,
      ws,
      stopWorker: async () => {
        worker.shutdown();
        await running;
      },
      viaWorker: [],
      loop: [],
    });
  }

  const viaWorker = async (side: OnServer): Promise<number> => {
    const started = performance.now();
    const { workflowId } = await startPipeline(
      side.connected.client,
      { steps: STEPS, workspace: side.ws },
      { taskQueue: side.taskQueue },
    );
    const status = await side.connected.client.workflow.getHandle(workflowId).result();
    if (status.phase !== 'DONE') throw new Error(`bench pipeline ended ${status.phase}`);
    return performance.now() - started;
  };
  const plainLoop = async (ws: string): Promise<number> => {
    const started = performance.now();
    for (let i = 0; i < STEPS.length; i++) {
      await execa(compose.command, [...compose.prefix, 'run', '--rm', '-T', 'runner', 'bash', '-lc', 'true'], {
        cwd: ws,
        stdin: 'ignore',
      });
    }
    return performance.now() - started;
  };

  log(`compose: ${compose.command} ${compose.prefix.join(' ')} ${compose.version}; ${rounds} rounds (+1 warm-up)`);
  for (const side of sides) {
    await viaWorker(side);
    await plainLoop(side.ws);
  }
  for (let i = 0; i < rounds; i++) {
    // Alternate, so drift in the machine's load hits both sides alike.
    for (const side of sides) {
      side.viaWorker.push(await viaWorker(side));
      side.loop.push(await plainLoop(side.ws));
      log(`  round ${i + 1}, ${side.kind}: worker ${seconds(side.viaWorker[i])}, loop ${seconds(side.loop[i])}`);
    }
  }
  for (const [i, side] of sides.entries()) {
    const floor = await measureCeiling(servers[i], side.connected, { count: 20, concurrency: 1, warmUp: 5 });
    side.floorMs = percentile(floor.latenciesMs, 50);
    side.floorPerSecond = floor.perSecond;
  }
} finally {
  for (const side of sides) {
    await side.stopWorker();
    await side.connected.close();
  }
  for (const server of servers) await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

const figures = sides.map((side) => {
  const worker = median(side.viaWorker);
  const loop = median(side.loop);
  return { side, worker, loop, perStep: (worker - loop) / STEPS.length };
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
      ['orchestration overhead per step', ...figures.map((f) => `${f.perStep.toFixed(0)} ms`)],
      [
        'server floor: no-op workflow + activity, one at a time',
        ...figures.map(
          (f) => `${(f.side.floorMs ?? NaN).toFixed(0)} ms (${(f.side.floorPerSecond ?? NaN).toFixed(0)}/s)`,
        ),
      ],
      ['overhead per step ÷ server floor', ...figures.map((f) => (f.perStep / (f.side.floorMs ?? NaN)).toFixed(2))],
    ],
  )}\n`,
);
