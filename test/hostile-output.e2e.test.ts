/**
 * Output that would starve a worker, through a real worker process and real containers: 100 MB
 * without a newline and `\r` progress in tiny writes. The log file grows while the step runs and
 * ends with every byte, the worker's memory stays bounded, and a step of another workspace on the
 * same worker keeps heartbeating (its heartbeat timeout is 20 s: a starved event loop would time
 * it out and run it again).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { getPipelineStatus, startPipeline } from '../client/index.js';
import { readStepLog } from '../client/logs.js';
import { ensureBashImage, fixtureWorkspace } from './support/images.js';
import { startTsx, type Child } from './support/processes.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const root = tempDir('hostile-output');
const taskQueue = `hostile-output-${crypto.randomUUID().slice(0, 8)}`;
const FLOOD_BYTES = 100_000_000;
let server: TestServer;
let clientSide: TestWorker;
let worker: Child;

/** Peak resident memory of a process so far (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** Bytes of `char` in a file, read in pieces. */
function countByte(file: string, char: string): number {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(4 * 1024 * 1024);
  const code = char.charCodeAt(0);
  let count = 0;
  try {
    for (let read; (read = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;)
      for (let i = 0; i < read; i++) if (buffer[i] === code) count += 1;
  } finally {
    fs.closeSync(fd);
  }
  return count;
}

beforeAll(async () => {
  await ensureBashImage();
  server = await testServer();
  clientSide = await startTestWorker({ address: server.address });
  worker = startTsx('test/support/worker-process.ts', {
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: taskQueue,
    POC_JOBS_DIR: path.join(root, 'jobs'),
  });
  await worker.waitFor(/^ready$/m);
}, 5 * 60_000);

afterAll(async () => {
  await worker?.kill();
  await clientSide?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

test(
  '100 MB without a newline and tiny \\r writes: bounded memory, bytes logged as they come, others beat',
  async () => {
    const noisy = fixtureWorkspace(path.join(root, 'noisy'), {
      flood: `head -c ${FLOOD_BYTES} /dev/zero | tr '\\0' x`,
      progress: 'for i in $(seq 1 20000); do printf "%d%%\\r" "$i"; done; echo done',
    });
    const quiet = fixtureWorkspace(path.join(root, 'quiet'), { wait: 'sleep 30; echo waited' });
    const baseline = peakRssMiB(worker.process.pid as number);

    const flood = await startPipeline(
      clientSide.client,
      { steps: ['flood', 'progress'], workspace: noisy, stepTimeoutSeconds: 600 },
      { taskQueue },
    );
    const beating = await startPipeline(clientSide.client, { steps: ['wait'], workspace: quiet }, { taskQueue });

    // The log grows while the step still runs: the bytes are written as they come, not at the end.
    const growing = await eventually(
      'the flood log to grow while the step runs',
      async () => {
        const status = await getPipelineStatus(clientSide.client, flood.workflowId);
        const logPath = status.steps[0].logPath;
        if (status.steps[0].status !== 'running' || !logPath || !fs.existsSync(logPath)) return undefined;
        return fs.statSync(logPath).size > 10_000_000 ? logPath : undefined;
      },
      5 * 60_000,
    );

    const [floodResult, beatingResult] = await Promise.all([
      clientSide.client.workflow.getHandle(flood.workflowId).result(),
      clientSide.client.workflow.getHandle(beating.workflowId).result(),
    ]);
    assert.equal(floodResult.phase, 'DONE', floodResult.error ?? '');
    assert.equal(beatingResult.phase, 'DONE', beatingResult.error ?? '');

    // Every byte reached the log; the progress bar's records too, and the tail shows its end.
    const xs = countByte(growing, 'x');
    // (The log's own header line shows the command, with its `x`.)
    assert.ok(xs >= FLOOD_BYTES && xs < FLOOD_BYTES + 100, `${xs} bytes of output in the log`);
    const progressLog = fs.readFileSync(floodResult.steps[1].logPath as string, 'utf8');
    assert.match(progressLog, /1%\r2%\r3%\r/);
    assert.match(progressLog, /19999%\r20000%\rdone\n/);
    // The tail shows the line as a terminal would: its end, not twenty thousand records.
    expect(floodResult.steps[1].logTail).toMatch(/(^|\n)done$/);
    expect(floodResult.steps[1].logTail?.length).toBeLessThan(1_000);
    // A reader of that log gets its end, in bounded size, whatever its shape.
    const shown = readStepLog(floodResult, 'flood', 40);
    assert.ok(shown.text.length < 10_000, `poc logs shows ${shown.text.length} characters`);

    // Nobody was starved: the other step kept beating (one attempt, no heartbeat timeout).
    assert.equal(beatingResult.steps[0].attempt, 1);
    const history = await clientSide.client.workflow.getHandle(beating.workflowId).fetchHistory();
    const timedOut = (history.events ?? []).filter((e) => e.activityTaskTimedOutEventAttributes);
    assert.deepEqual(timedOut, [], 'an activity timed out');
    const floodHistory = await clientSide.client.workflow.getHandle(flood.workflowId).fetchHistory();
    assert.deepEqual(
      (floodHistory.events ?? []).filter((e) => e.activityTaskTimedOutEventAttributes),
      [],
      'the flood step itself kept beating',
    );
    // Bounded memory: 100 MB went through, the worker's peak grew by a small fraction of it.
    const grew = peakRssMiB(worker.process.pid as number) - baseline;
    assert.ok(grew < 60, `the worker's peak memory grew by ${grew.toFixed(0)} MiB`);
  },
  10 * 60_000,
);
