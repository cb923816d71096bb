/**
 * Chaos run: proves that nothing is lost when anything dies, against a real dev server and a real
 * Docker engine. Each pipeline step appends a line to a counter file per execution, so "ran
 * exactly once" is counted, not assumed.
 *
 *   - N pipelines, the worker SIGKILLed at a random moment of each and a new one started;
 *   - the Temporal dev server killed and restarted (same SQLite file) in the middle of a run;
 *   - the Slack bot stopped and restarted while runs are in flight (fake Slack server);
 *   - M llmPrompt runs with the worker killed mid-request.
 *
 *   npx tsx bench/chaos.ts [pipelines=20] [llm=20]
 * `test/chaos.e2e.test.ts` runs a small version of the same function in `npm test`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { getPipelineStatus, startLlm, startPipeline, type PipelineStatus } from '../client/index.js';
import { listContainers } from '../docker/index.js';
import { findTemporalCli, startDevServer, type DevServer } from '../worker/devserver.js';
import { ensureSearchAttributes, installRuntime, workflowBundle } from '../worker/index.js';
import type { LlmResult } from '../core/contract.js';
import { ensureBashImage, fixtureWorkspace } from '../test/support/images.js';
import { startFakeLlm } from '../test/support/fake-llm.js';
import { startFakeSlack } from '../test/support/fake-slack.js';
import { runSlackChaos } from '../test/support/slack-chaos.js';
import { startTsx, type Child } from '../test/support/processes.js';
import { freePort } from '../test/support/temporal.js';

export interface ChaosRow {
  scenario: string;
  runs: number;
  done: number;
  lost: number;
  /** Steps that had finished before a kill and ran again (must be 0). */
  finishedStepsRunTwice: number;
  /** Steps in flight at a kill, run again from a clean container (expected). */
  inFlightStepsRerun: number;
  containersLeft: number;
  note: string;
}

export interface ChaosOptions {
  pipelines: number;
  llms: number;
  serverRestart: boolean;
  /** Runs started from Slack while the bot is stopped and restarted (0 = skip). */
  slackRuns: number;
  log?: (line: string) => void;
  random?: () => number;
}

const STEPS = ['build', 'bootstrap', 'doctor', 'lint', 'test'];
/** A step that appends a line per execution to `runner/counts/<run>.<step>` (counted, not assumed). */
export const counted = 'echo "$POC_STEP" >> "runner/counts/$POC_RUN_ID.$POC_STEP" && sleep 1';

/** How many times `step` of `workflowId` ran in `ws` (see `counted`). */
export function countOf(ws: string, workflowId: string, step: string): number {
  const file = path.join(ws, 'runner', 'counts', `${workflowId}.${step}`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').length : 0;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosRow[]> {
  const log = opts.log ?? (() => undefined);
  const random = opts.random ?? Math.random;
  installRuntime({ logLevel: 'ERROR' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-chaos-'));
  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI; run `npm test` once (it builds one) or set TEMPORAL_CLI_PATH');
  await ensureBashImage();
  const port = await freePort();
  const dbFile = path.join(dir, 'temporal.db');
  const startServer = () => startDevServer({ cliPath: cli.path, port, dbFile, logFile: path.join(dir, 'server.log') });
  let server: DevServer = await startServer();
  const connection = await Connection.connect({ address: server.address });
  await ensureSearchAttributes(connection, 'default');
  const client = new Client({ connection });
  const fakeLlm = await startFakeLlm();
  const fakeSlack = opts.slackRuns > 0 ? await startFakeSlack() : undefined;
  const taskQueue = 'chaos';
  const slackWorkspace = fixtureWorkspace(
    path.join(dir, 'ws-slack'),
    { bootstrap: counted, lint: counted },
    { files: { 'runner/counts/.keep': '' } },
  );
  const workerEnv = {
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: taskQueue,
    POC_JOBS_DIR: path.join(dir, 'jobs'),
    OPENAI_BASE_URL: `${fakeLlm.url}/v1`,
    OPENAI_API_KEY: 'sk-chaos-not-a-real-key-000000',
    POC_LOG_LEVEL: 'WARN',
    // Runs started from Slack use the worker's default workspace; their progress goes to the fake Slack.
    POC_WORKSPACE: slackWorkspace,
    ...(fakeSlack ? { SLACK_BOT_TOKEN: fakeSlack.botToken, SLACK_API_URL: fakeSlack.apiUrl } : {}),
  };
  let worker: Child | undefined;
  const children: Child[] = [];
  const startWorker = async () => {
    const child = startTsx('test/support/worker-process.ts', workerEnv);
    children.push(child);
    await child.waitFor(/^ready$/m);
    return child;
  };
  const killWorker = async () => {
    await worker?.kill('SIGKILL');
    worker = await startWorker();
  };
  const rows: ChaosRow[] = [];
  const runIds: string[] = [];

  try {
    worker = await startWorker();

    // 1. Worker SIGKILLed at a random moment of each pipeline.
    if (opts.pipelines > 0) {
      const row: ChaosRow = {
        scenario: 'worker SIGKILL mid-pipeline',
        runs: 0,
        done: 0,
        lost: 0,
        finishedStepsRunTwice: 0,
        inFlightStepsRerun: 0,
        containersLeft: 0,
        note: '',
      };
      for (let i = 0; i < opts.pipelines; i++) {
        const ws = fixtureWorkspace(
          path.join(dir, `ws-${i}`),
          Object.fromEntries(STEPS.map((s) => [s, s === 'build' ? { build: true } : counted])),
          {
            files: { 'runner/counts/.keep': '' },
          },
        );
        const { workflowId } = await startPipeline(client, { goal: `chaos ${i}`, workspace: ws }, { taskQueue });
        runIds.push(workflowId);
        row.runs += 1;
        // A random moment of the run: anywhere from the first step to the last.
        await new Promise((r) => setTimeout(r, 300 + random() * 6_000));
        const before: PipelineStatus = await getPipelineStatus(client, workflowId);
        await killWorker();
        log(
          `pipeline ${i + 1}/${opts.pipelines}: killed the worker with ` +
            `${before.steps.filter((s) => s.status === 'done').length} step(s) done`,
        );
        const after = (await client.workflow
          .getHandle(workflowId)
          .result()
          .catch(() => getPipelineStatus(client, workflowId))) as PipelineStatus;
        if (after.phase === 'DONE') row.done += 1;
        else row.lost += 1;
        for (const step of STEPS.slice(1)) {
          const n = countOf(ws, workflowId, step);
          const wasDone = before.steps.find((s) => s.name === step)?.status === 'done';
          if (wasDone && n !== 1) row.finishedStepsRunTwice += 1;
          if (!wasDone && n > 1) row.inFlightStepsRerun += 1;
        }
      }
      rows.push(row);
    }

    // 2. The dev server killed and restarted on the same SQLite file mid-run.
    if (opts.serverRestart) {
      const row: ChaosRow = {
        scenario: 'server kill + restart mid-run',
        runs: 1,
        done: 0,
        lost: 0,
        finishedStepsRunTwice: 0,
        inFlightStepsRerun: 0,
        containersLeft: 0,
        note: '',
      };
      const ws = fixtureWorkspace(
        path.join(dir, 'ws-server'),
        { bootstrap: counted, doctor: `${counted} && sleep 2`, lint: counted },
        { files: { 'runner/counts/.keep': '' } },
      );
      const { workflowId } = await startPipeline(
        client,
        { steps: ['bootstrap', 'doctor', 'lint'], workspace: ws },
        { taskQueue },
      );
      runIds.push(workflowId);
      for (;;) {
        const s = await getPipelineStatus(client, workflowId);
        if (s.steps[1].status === 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const pid = server.serverPid();
      if (pid) process.kill(pid, 'SIGKILL');
      await new Promise((r) => server.process.once('exit', r));
      log('server killed mid-run; restarting it on the same SQLite file');
      server = await startServer();
      const status = (await client.workflow.getHandle(workflowId).result()) as PipelineStatus;
      if (status.phase === 'DONE') row.done = 1;
      else row.lost = 1;
      if (countOf(ws, workflowId, 'bootstrap') !== 1) row.finishedStepsRunTwice += 1;
      // History whole: contiguous event ids ending in completion, and it replays on today's code.
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const events = history.events ?? [];
      const contiguous = events.every((e, i) => Number(e.eventId) === i + 1);
      const last = events[events.length - 1];
      let replays = true;
      try {
        await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
      } catch {
        replays = false;
      }
      row.note =
        `history ${events.length} events, contiguous ${contiguous}, ` +
        `completed ${Boolean(last?.workflowExecutionCompletedEventAttributes)}, replays ${replays}`;
      if (!contiguous || !last?.workflowExecutionCompletedEventAttributes || !replays) row.lost = 1;
      rows.push(row);
    }

    // 3. The Slack bot stopped and restarted while runs are in flight.
    if (fakeSlack)
      rows.push(
        await runSlackChaos({
          client,
          taskQueue,
          runs: opts.slackRuns,
          log,
          runIds,
          fake: fakeSlack,
          address: server.address,
        }),
      );

    // 4. llmPrompt runs with the worker killed mid-request.
    if (opts.llms > 0) {
      const row: ChaosRow = {
        scenario: 'worker SIGKILL mid-LLM-request',
        runs: opts.llms,
        done: 0,
        lost: 0,
        finishedStepsRunTwice: 0,
        inFlightStepsRerun: 0,
        containersLeft: 0,
        note: '',
      };
      fakeLlm.defaultBehaviour = { chunks: Array.from({ length: 10 }, (_, i) => `part${i} `), chunkDelayMs: 300 };
      const started = await Promise.all(
        Array.from({ length: opts.llms }, (_, i) =>
          startLlm(client, { backend: 'openai', model: 'gpt-chaos', prompt: `chaos prompt ${i}` }, { taskQueue }),
        ),
      );
      await fakeLlm.next('chunk');
      await killWorker();
      log(`killed the worker with ${fakeLlm.requests.length} LLM request(s) under way`);
      const results = await Promise.all(
        started.map(
          (s) =>
            client.workflow
              .getHandle(s.workflowId)
              .result()
              .catch(() => undefined) as Promise<LlmResult | undefined>,
        ),
      );
      const whole = results.filter((r) => r?.text === Array.from({ length: 10 }, (_, i) => `part${i} `).join(''));
      row.done = whole.length;
      row.lost = opts.llms - whole.length;
      row.inFlightStepsRerun = results.filter((r) => (r?.attempts ?? 1) > 1).length;
      row.note = `${fakeLlm.requests.length} HTTP requests for ${opts.llms} prompts; one answer each`;
      rows.push(row);
    }

    const left = (await listContainers()).filter((c) => runIds.includes(c.workflowId));
    for (const row of rows) row.containersLeft = left.length;
  } finally {
    for (const child of children) await child.kill('SIGKILL');
    await connection.close().catch(() => undefined);
    await fakeLlm.close();
    await fakeSlack?.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** A Markdown table (README's figures are pasted from these). */
export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(header), `|${header.map(() => ' --- |').join('')}`, ...rows.map(line)].join('\n');
}

export function renderTable(rows: ChaosRow[]): string {
  const header = [
    'scenario',
    'runs',
    'DONE',
    'lost',
    'finished steps run twice',
    'in-flight re-run',
    'containers left',
    'note',
  ];
  return markdownTable(
    header,
    rows.map((r) => [
      r.scenario,
      r.runs,
      r.done,
      r.lost,
      r.finishedStepsRunTwice,
      r.inFlightStepsRerun,
      r.containersLeft,
      r.note,
    ]),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const pipelines = Number(process.argv[2] ?? 20);
  const llms = Number(process.argv[3] ?? 20);
  const started = Date.now();
  const rows = await runChaos({
    pipelines,
    llms,
    serverRestart: true,
    slackRuns: 5,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(`\n${renderTable(rows)}\n\n(${Math.round((Date.now() - started) / 1000)} s)\n`);
  process.exitCode = rows.every((r) => r.lost === 0 && r.finishedStepsRunTwice === 0 && r.containersLeft === 0) ? 0 : 1;
}
