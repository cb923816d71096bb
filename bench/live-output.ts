/**
 * What live step output costs a run's history. In one script, on a real dev server, a real
 * worker and a real Docker engine, runs of one step lasting SECONDS:
 *   A. reporting to (a local fake) Slack, the step silent (the baseline: nothing to send);
 *   B. reporting to Slack, the step printing a line every 100 ms: it also sends its newest line
 *      with the coalesced `stepOutput` signal, and the status message shows it;
 *   C. the talkative step in a run without Slack: the line lives only in heartbeats, read by
 *      `describe()` (`poc run --follow`), and nothing is added to history.
 * Prints the histories' event counts and sizes, the B/A ratio, the signals sent, and how long a
 * `describe()` read of the live line takes (median).
 *
 *   npx tsx bench/live-output.ts [seconds=60]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../core/config.js';
import { liveStepOutput, startPipeline, stepOutputSignal } from '../client/index.js';
import { ensureTemporalCli, startDevServer } from '../worker/devserver.js';
import { createPocWorker, ensureSearchAttributes, installRuntime } from '../worker/index.js';
import { ensureBashImage, fixtureWorkspace } from '../test/support/images.js';
import { startFakeSlack } from '../test/support/fake-slack.js';
import { freePort } from '../test/support/temporal.js';

const seconds = Number(process.argv[2] ?? 60);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

installRuntime({ logLevel: 'ERROR' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-bench-live-'));
await ensureBashImage();
const cli = await ensureTemporalCli((l) => process.stderr.write(l + '\n'));
const server = await startDevServer({ cliPath: cli.path, port: await freePort(), dbFile: path.join(dir, 't.db') });
const slack = await startFakeSlack();
const connection = await Connection.connect({ address: server.address });
await ensureSearchAttributes(connection, 'default');
const client = new Client({ connection });
const native = await NativeConnection.connect({ address: server.address });
const base = loadConfig({ ...process.env, SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl });
const config = { ...base, temporalAddress: server.address, taskQueue: 'bench-live', jobsDir: path.join(dir, 'jobs') };
const worker = await createPocWorker({ connection: native, client, config });
const running = worker.run();

const talk = `for i in $(seq 1 ${seconds * 10}); do echo "line $i of the step"; sleep 0.1; done`;
const ws = fixtureWorkspace(path.join(dir, 'ws'), { talk, quiet: `sleep ${seconds}` });

async function run(step: 'talk' | 'quiet', withSlack: boolean) {
  const { workflowId } = await startPipeline(
    client,
    { steps: [step], workspace: ws, ...(withSlack ? { slack: { channel: 'C0BENCH' } } : {}) },
    { taskQueue: config.taskQueue },
  );
  const reads: number[] = [];
  const handle = client.workflow.getHandle(workflowId);
  let ended = false;
  const result = handle.result().finally(() => (ended = true));
  // While the step runs: time the reads a following terminal makes.
  while (!ended && step === 'talk' && reads.length < 50) {
    const started = performance.now();
    const live = await liveStepOutput(client, workflowId);
    if (live?.lastLine) reads.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await result;
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const signals = events.filter(
    (e) => e.workflowExecutionSignaledEventAttributes?.signalName === stepOutputSignal.name,
  );
  return { events: events.length, bytes: JSON.stringify(history).length, signals: signals.length, reads };
}

try {
  const a = await run('quiet', true);
  const b = await run('talk', true);
  const c = await run('talk', false);
  const row = (label: string, r: typeof a) =>
    `| ${label} | ${r.events} | ${(r.bytes / 1024).toFixed(1)} KiB | ${r.signals} |`;
  console.log(`One step of ${seconds} s:\n`);
  console.log('| run | history events | history size | stepOutput signals |');
  console.log('| --- | --- | --- | --- |');
  console.log(row('A. Slack, silent step (baseline)', a));
  console.log(row('B. Slack, 10 lines a second', b));
  console.log(row('C. no Slack, 10 lines a second', c));
  console.log(`\nratio of history events B/A: ${(b.events / a.events).toFixed(2)}`);
  console.log(`events added per minute of output: ${(((b.events - a.events) * 60) / seconds).toFixed(1)}`);
  console.log(`describe() read of the live line: median ${median([...b.reads, ...c.reads]).toFixed(1)} ms`);
} finally {
  worker.shutdown();
  await running;
  await native.close();
  await connection.close();
  await slack.stop();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
