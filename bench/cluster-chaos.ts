/**
 * Chaos on the production-shaped cluster (cluster/: PostgreSQL, frontend, history, matching and
 * worker as four processes, mTLS, supervised). One round per server process: pipelines are started
 * and held mid-step (a step that sleeps) and LLM prompts mid-answer (the local OpenAI-compatible
 * server streams slowly), then the process is SIGKILLed — history, then matching, then the
 * frontend, then PostgreSQL itself — and the supervisor restarts it. Counted, not assumed: every
 * run finishes DONE, no step that had finished runs again (each execution appends a line to a
 * counter file), no prompt is sent to the provider twice (requests counted at the fake server),
 * no container is left, and each round's first history replays on today's workflow code.
 *
 * A real worker process (`test/support/worker-process.ts`, the code of `poc worker`) and the
 * client connect through loadConfig + connectionOptions with the cluster's TEMPORAL_* variables.
 *
 *   npx tsx bench/cluster-chaos.ts [pipelines=4] [prompts=8] [--dir CLUSTER_DIR]
 * A cluster is brought up in a temporary folder (and down at the end), or --dir names a running
 * one. `test/cluster/chaos.e2e.test.ts` runs a small version in `npm run test:cluster`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { getPipelineStatus, startLlm, startPipeline, type PipelineStatus } from '../client/index.js';
import { clusterDown, clusterEnvironment, clusterStatus, clusterUp, type ClusterStatus } from '../cluster/index.js';
import type { Role } from '../cluster/plan.js';
import { loadConfig } from '../core/config.js';
import type { LlmResult } from '../core/contract.js';
import { connectionOptions } from '../core/temporal.js';
import { listContainers } from '../docker/index.js';
import { installRuntime, workflowBundle } from '../worker/index.js';
import { startFakeLlm, type FakeLlmServer } from '../test/support/fake-llm.js';
import { ensureBashImage, fixtureWorkspace } from '../test/support/images.js';
import { startTsx, type Child } from '../test/support/processes.js';
import { countOf, counted, markdownTable } from './chaos.js';

export const CHAOS_ROLES: readonly Role[] = ['history', 'matching', 'frontend', 'postgres'];
/** A round that kills nothing: the same work's timing undisturbed, for comparison. */
export const NO_KILL = 'nothing' as const;
type Target = Role | typeof NO_KILL;

export interface ClusterChaosRow {
  killed: Target;
  pipelines: number;
  prompts: number;
  done: number;
  lost: number;
  /** Steps that had finished before the kill and ran again (must be 0). */
  finishedStepsRunTwice: number;
  /** Steps running at the kill that ran again (allowed, from a clean container; expected 0 here). */
  inFlightStepsRerun: number;
  /** Prompts the provider was asked more than once (must be 0). */
  answersRequestedTwice: number;
  containersLeft: number;
  /** SIGKILL → the supervisor's new process (0 when nothing is killed). */
  restartMs: number;
  /** SIGKILL (or the same moment, when nothing is killed) → every run of the round finished. */
  allFinishedMs: number;
  note: string;
}

export interface ClusterChaosOptions {
  pipelinesPerKill: number;
  promptsPerKill: number;
  roles?: readonly Role[];
  /** First a round that kills nothing, so the others' timings have a reference. */
  baseline?: boolean;
  /** A running cluster's folder; else one is started in a temporary folder and stopped at the end. */
  dir?: string;
  log?: (line: string) => void;
}

const STEPS = ['bootstrap', 'doctor', 'lint'];
/** The step held while the kill happens: long enough to be mid-step, short enough to finish. */
const HELD_STEP = 'doctor';
const ANSWER = Array.from({ length: 10 }, (_, i) => `part${i} `);
const RUN_DEADLINE_MS = 300_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` gives a value; errors (a server process down) count as "not yet". */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${(last as Error).message})` : ''}`);
    await sleep(200);
  }
}

/** A workflow's result, asked again while a server process is down (a failed run is a result too). */
async function outcome<T>(client: Client, workflowId: string): Promise<T | WorkflowFailedError> {
  return until(
    `${workflowId} to finish`,
    () =>
      client.workflow
        .getHandle(workflowId)
        .result()
        .catch((err: unknown) => {
          if (err instanceof WorkflowFailedError) return err;
          throw err;
        }) as Promise<T | WorkflowFailedError>,
    RUN_DEADLINE_MS,
  );
}

function promptOf(request: FakeLlmServer['requests'][number]): string {
  const messages = (request.body?.messages ?? []) as Array<{ content?: unknown }>;
  return String(messages[messages.length - 1]?.content ?? '');
}

function pidOf(status: ClusterStatus | undefined, role: Role): number | undefined {
  return status?.processes.find((p) => p.role === role)?.pid ?? undefined;
}

export async function runClusterChaos(opts: ClusterChaosOptions): Promise<ClusterChaosRow[]> {
  const log = opts.log ?? (() => undefined);
  installRuntime({ logLevel: 'ERROR' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-cluster-chaos-'));
  const ownCluster = opts.dir === undefined;
  // Its own folder under /tmp: PostgreSQL runs as another user and must reach it.
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'poc-cluster-chaos-cluster-'));
  const stops: Array<() => Promise<unknown>> = [];
  const children: Child[] = [];
  const rows: ClusterChaosRow[] = [];
  try {
    if (ownCluster)
      stops.push(async () => {
        await clusterDown({ dir, wipe: true });
        fs.rmSync(dir, { recursive: true, force: true });
      });
    const status = ownCluster ? await clusterUp({ config: loadConfig(), dir, log }) : await clusterStatus({ dir });
    if (!status) throw new Error(`no cluster runs in ${dir}`);
    await ensureBashImage();
    const fakeLlm = await startFakeLlm();
    stops.push(() => fakeLlm.close());
    fakeLlm.defaultBehaviour = { chunks: ANSWER, chunkDelayMs: 300 };

    // The client, the worker and everything else reach the cluster as a user's would: its variables.
    const env: NodeJS.ProcessEnv = { ...process.env, ...clusterEnvironment(status) };
    const config = loadConfig(env);
    const connection = await Connection.connect(connectionOptions(config));
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: config.namespace });
    const taskQueue = `cluster-chaos-${process.pid}`;
    const worker = startTsx('test/support/worker-process.ts', {
      ...clusterEnvironment(status),
      POC_TASK_QUEUE: taskQueue,
      POC_JOBS_DIR: path.join(work, 'jobs'),
      OPENAI_BASE_URL: `${fakeLlm.url}/v1`,
      OPENAI_API_KEY: 'sk-cluster-chaos-not-a-real-key-0000',
      POC_LOG_LEVEL: 'ERROR',
    });
    children.push(worker);
    await worker.waitFor(/^ready$/m);
    const bundle = await workflowBundle();

    const targets: Target[] = [...(opts.baseline ? [NO_KILL] : []), ...(opts.roles ?? CHAOS_ROLES)];
    for (const role of targets) {
      rows.push(await round({ role, client, taskQueue, fakeLlm, dir, work, bundle, opts, log }));
    }
  } finally {
    for (const child of children) await child.kill('SIGKILL');
    for (const stop of stops.reverse()) await stop().catch((err: Error) => log(`while stopping: ${err.message}`));
    fs.rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

async function round({
  role,
  client,
  taskQueue,
  fakeLlm,
  dir,
  work,
  bundle,
  opts,
  log,
}: {
  role: Target;
  client: Client;
  taskQueue: string;
  fakeLlm: FakeLlmServer;
  dir: string;
  work: string;
  bundle: Awaited<ReturnType<typeof workflowBundle>>;
  opts: ClusterChaosOptions;
  log: (line: string) => void;
}): Promise<ClusterChaosRow> {
  const row: ClusterChaosRow = {
    killed: role,
    pipelines: opts.pipelinesPerKill,
    prompts: opts.promptsPerKill,
    done: 0,
    lost: 0,
    finishedStepsRunTwice: 0,
    inFlightStepsRerun: 0,
    answersRequestedTwice: 0,
    containersLeft: 0,
    restartMs: 0,
    allFinishedMs: 0,
    note: '',
  };
  const pipelines: Array<{ workflowId: string; ws: string }> = [];
  for (let i = 0; i < opts.pipelinesPerKill; i++) {
    const ws = fixtureWorkspace(
      path.join(work, `ws-${role}-${i}`),
      Object.fromEntries(STEPS.map((step) => [step, step === HELD_STEP ? `${counted} && sleep 4` : counted])),
      { files: { 'runner/counts/.keep': '' } },
    );
    const { workflowId } = await startPipeline(
      client,
      { goal: `cluster chaos: ${role} killed`, steps: STEPS, workspace: ws },
      { taskQueue },
    );
    pipelines.push({ workflowId, ws });
  }
  // Mid-step: every pipeline inside the held step, with the step before it finished.
  await until(
    `every pipeline of the ${role} round running ${HELD_STEP}`,
    async () => {
      const statuses = await Promise.all(pipelines.map((p) => getPipelineStatus(client, p.workflowId)));
      return statuses.every((s) => s.steps.find((x) => x.name === HELD_STEP)?.status === 'running') || undefined;
    },
    120_000,
  );
  const prompts = Array.from({ length: opts.promptsPerKill }, (_, i) => `cluster chaos ${role} prompt ${i}`);
  const llmRuns = await Promise.all(
    prompts.map((prompt) => startLlm(client, { backend: 'openai', model: 'gpt-chaos', prompt }, { taskQueue })),
  );
  // Mid-answer: every prompt's request has started streaming.
  await until(
    `every prompt of the ${role} round streaming`,
    async () => {
      const streaming = fakeLlm.requests.filter((r) => prompts.includes(promptOf(r)) && r.chunksSent > 0);
      return streaming.length >= prompts.length || undefined;
    },
    120_000,
  );
  const before = new Map<string, PipelineStatus>();
  for (const p of pipelines) before.set(p.workflowId, await getPipelineStatus(client, p.workflowId));

  const killedAt = Date.now();
  if (role !== NO_KILL) {
    const oldPid = pidOf(await clusterStatus({ dir }), role);
    if (!oldPid) throw new Error(`no ${role} process to kill in ${dir}`);
    process.kill(oldPid, 'SIGKILL');
    log(
      `${role} (pid ${oldPid}) SIGKILLed with ${pipelines.length} pipeline(s) mid-step ` +
        `and ${prompts.length} answer(s) streaming`,
    );
    await until(
      `the supervisor restarting ${role}`,
      async () => {
        const pid = pidOf(await clusterStatus({ dir }), role);
        return pid && pid !== oldPid ? pid : undefined;
      },
      60_000,
    );
    row.restartMs = Date.now() - killedAt;
  }

  const pipelineResults = await Promise.all(pipelines.map((p) => outcome<PipelineStatus>(client, p.workflowId)));
  const llmResults = await Promise.all(llmRuns.map((r) => outcome<LlmResult>(client, r.workflowId)));
  row.allFinishedMs = Date.now() - killedAt;

  pipelineResults.forEach((result, i) => {
    const { workflowId, ws } = pipelines[i];
    if (!(result instanceof WorkflowFailedError) && result.phase === 'DONE') row.done += 1;
    else row.lost += 1;
    for (const step of STEPS) {
      const runs = countOf(ws, workflowId, step);
      const wasDone = before.get(workflowId)?.steps.find((s) => s.name === step)?.status === 'done';
      if (wasDone && runs !== 1) row.finishedStepsRunTwice += 1;
      if (!wasDone && runs > 1) row.inFlightStepsRerun += 1;
    }
  });
  for (const result of llmResults) {
    if (!(result instanceof WorkflowFailedError) && result.text === ANSWER.join('')) row.done += 1;
    else row.lost += 1;
  }
  for (const prompt of prompts) {
    if (fakeLlm.requests.filter((r) => promptOf(r) === prompt).length > 1) row.answersRequestedTwice += 1;
  }
  const ids = [...pipelines.map((p) => p.workflowId), ...llmRuns.map((r) => r.workflowId)];
  row.containersLeft = (await listContainers()).filter((c) => ids.includes(c.workflowId)).length;

  // The history written across the kill is whole and replays on today's code.
  const first = pipelines[0]?.workflowId ?? llmRuns[0]?.workflowId;
  if (first) {
    const history = await client.workflow.getHandle(first).fetchHistory();
    const events = history.events ?? [];
    const contiguous = events.every((e, i) => Number(e.eventId) === i + 1);
    const replays = await Worker.runReplayHistory({ workflowBundle: bundle }, history, first).then(
      () => true,
      () => false,
    );
    row.note = `history of ${first}: ${events.length} events, contiguous ${contiguous}, replays ${replays}`;
    if (!contiguous || !replays) row.lost += 1;
  }
  const back = role === NO_KILL ? 'nothing killed' : `${role}: back in ${(row.restartMs / 1000).toFixed(1)} s`;
  log(
    `${back}, every run finished ${(row.allFinishedMs / 1000).toFixed(1)} s after the kill point ` +
      `(${row.done} DONE, ${row.lost} lost)`,
  );
  return row;
}

export function renderClusterChaos(rows: ClusterChaosRow[]): string {
  return markdownTable(
    [
      'SIGKILLed',
      'pipelines',
      'prompts',
      'DONE',
      'lost',
      'finished steps run twice',
      'answers requested twice',
      'in-flight steps re-run',
      'containers left',
      'new process after',
      'all runs finished after',
    ],
    rows.map((r) => [
      r.killed,
      r.pipelines,
      r.prompts,
      r.done,
      r.lost,
      r.finishedStepsRunTwice,
      r.answersRequestedTwice,
      r.inFlightStepsRerun,
      r.containersLeft,
      r.killed === NO_KILL ? '-' : `${(r.restartMs / 1000).toFixed(1)} s`,
      `${(r.allFinishedMs / 1000).toFixed(1)} s`,
    ]),
  );
}

export function chaosHeld(rows: ClusterChaosRow[]): boolean {
  return rows.every(
    (r) =>
      r.lost === 0 &&
      r.done === r.pipelines + r.prompts &&
      r.finishedStepsRunTwice === 0 &&
      r.answersRequestedTwice === 0 &&
      r.containersLeft === 0,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const dirAt = args.indexOf('--dir');
  const dir = dirAt >= 0 ? path.resolve(args.splice(dirAt, 2)[1]) : undefined;
  const pipelinesPerKill = Number(args[0] ?? 4);
  const promptsPerKill = Number(args[1] ?? 8);
  const started = Date.now();
  const rows = await runClusterChaos({
    pipelinesPerKill,
    promptsPerKill,
    dir,
    baseline: true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`\n${renderClusterChaos(rows)}\n\n`);
  for (const row of rows) process.stdout.write(`${row.killed}: ${row.note}\n`);
  process.stdout.write(`(${Math.round((Date.now() - started) / 1000)} s)\n`);
  process.exitCode = chaosHeld(rows) ? 0 : 1;
}
