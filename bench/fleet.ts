/**
 * A fleet of build hosts simulated on one machine: each host is a `poc worker` process with its
 * own Docker engine (own socket, data root, exec root, pid file) and its own folders, against one
 * Temporal server. Runs check a local bare repository (`file://`) out on their host and run steps
 * that sleep.
 *
 *   1. Makespan: the same pipelines with 1, 2, 3… hosts (2 slots each), as ratios against one host
 *      measured in the same run.
 *   2. Losing a host: mid-run, one host's worker is SIGKILLed and its engine stopped. Every run must
 *      end DONE with all its steps on one host; the dead host's runs start again elsewhere (how
 *      long after the kill is measured); no container is left on the survivors.
 *   3. A label no host has: the run waits with that reason; the dead host comes back with the label
 *      and takes it, and its sweep removes the containers it left behind.
 *
 *   npx tsx bench/fleet.ts [runs=30] [sleepSeconds=8] [--compose-v2]
 *
 * With --compose-v2 every host calls Docker Compose v5 (built once from its Go module,
 * bench/compose-v2.ts) instead of the machine's docker-compose 1.29: three hosts share this
 * machine's cores, and v1's Python client spends about 0.45 s of CPU on every step.
 * test/fleet.e2e.test.ts runs a small version of the same function in `npm test`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { detectCompose } from '../docker/index.js';
import { COMPOSE_VERSION, dockerConfigWithCompose, ensureComposeV2 } from './compose-v2.js';
import { getPipelineStatus, isFinalPhase, listHosts, startPipeline, type PipelineStatus } from '../client/index.js';
import { ensureSearchAttributes, installRuntime } from '../worker/index.js';
import { BASH_IMAGE, ensureBashImage, fixtureFiles } from '../test/support/images.js';
import { copyImage, startEngine, type Engine } from '../test/support/engines.js';
import { gitRepo } from '../test/support/fleet.js';
import { startTsx, type Child } from '../test/support/processes.js';
import { eventually, testServer } from '../test/support/temporal.js';

export interface FleetOptions {
  /** Pipelines per makespan measurement and in the host-loss scenario. */
  runs: number;
  /**
   * Host counts to measure the makespan with; the first is the baseline and is measured again at
   * the end, the mean of both counting (the machine's load drifts during a long bench). Empty skips it.
   */
  hostCounts: number[];
  /** Hosts in the host-loss scenario (0 skips it and the label scenario). */
  lossHosts: number;
  slots: number;
  steps: number;
  sleepSeconds: number;
  /** POC_HOST_TIMEOUT_SECONDS of every host. */
  timeoutSeconds: number;
  /** The hosts call Compose v2+ (bench/compose-v2.ts) instead of whichever this machine has. */
  composeV2?: boolean;
  log?: (line: string) => void;
}

export interface MakespanRow {
  hosts: number;
  runs: number;
  done: number;
  makespanMs: number;
  /** The baseline's makespan divided by this one's. */
  speedup: number;
}

export interface LossRow {
  runs: number;
  done: number;
  /** Runs whose every step ran on the host the run ended on. */
  onOneHost: number;
  /** Runs on the dead host when it died (they had to move), and those that did. */
  onDeadHost: number;
  moved: number;
  /** Longest time from the kill to a run of the dead host knowing it lost it (QUEUED again). */
  maxNoticedMs: number;
  /** Longest time from the kill to a moved run holding its new host (it may wait for a free slot). */
  maxMoveMs: number;
  /** What README promises for the defaults' proportions: the timeout, a heartbeat, and margin. */
  documentedMs: number;
  containersLeftOnSurvivors: number;
  /** Step containers the dead host's engine still had when it came back, and after its sweep. */
  leftoversOnReturn: number;
  leftoversAfterSweep: number;
  compose: string;
  labelReason: string;
  labelRunHost: string | null;
  labelRunPhase: string;
}

/** When a lost host's runs are on another one at the latest: its timeout, a heartbeat, and margin. */
export function documentedMoveMs(timeoutSeconds: number): number {
  return (timeoutSeconds + timeoutSeconds / 5 + 15) * 1000;
}

const BENCH_LABEL = 'fast';

interface Host {
  name: string;
  engine: Engine;
  child: Child;
}

export async function runFleet(opts: FleetOptions): Promise<{ makespan: MakespanRow[]; loss: LossRow | undefined }> {
  const log = opts.log ?? (() => undefined);
  installRuntime({ logLevel: 'ERROR' });
  // Short: the engines' sockets live under it.
  const dir = fs.mkdtempSync('/tmp/pf-');
  const server = await testServer();
  const connection = await Connection.connect({ address: server.address });
  await ensureSearchAttributes(connection, 'default');
  const client = new Client({ connection });
  const engines: Engine[] = [];
  const hosts = new Set<Host>();
  try {
    await ensureBashImage();
    const hostCompose = opts.composeV2
      ? { DOCKER_CONFIG: dockerConfigWithCompose(dir, await ensureComposeV2(log)), POC_COMPOSE: 'docker compose' }
      : {};
    const compose = opts.composeV2
      ? { command: 'docker', prefix: ['compose'], version: COMPOSE_VERSION.slice(1) }
      : await detectCompose();
    const stepNames = Array.from({ length: opts.steps }, (_, i) => `s${i + 1}`);
    const repo = await gitRepo(
      dir,
      'app',
      fixtureFiles(Object.fromEntries(stepNames.map((s) => [s, `sleep ${opts.sleepSeconds}`]))),
    );
    const engineCount = Math.max(0, ...opts.hostCounts, opts.lossHosts);
    log(`starting ${engineCount} Docker engines…`);
    for (let i = 1; i <= engineCount; i++) {
      const engine = await startEngine(dir, `e${i}`);
      engines.push(engine);
      await copyImage(BASH_IMAGE, engine);
    }

    const startHost = async (taskQueue: string, index: number, labels: string[] = []): Promise<Host> => {
      const name = `h${index}`;
      const child = startTsx('test/support/worker-process.ts', {
        TEMPORAL_ADDRESS: server.address,
        POC_TASK_QUEUE: taskQueue,
        POC_HOST_NAME: name,
        POC_HOST_SLOTS: String(opts.slots),
        POC_HOST_LABELS: labels.join(','),
        POC_HOST_TIMEOUT_SECONDS: String(opts.timeoutSeconds),
        POC_REPOS_DIR: path.join(dir, name, 'repos'),
        POC_JOBS_DIR: path.join(dir, name, 'jobs'),
        POC_WORKSPACE: path.join(dir, name),
        DOCKER_HOST: engines[index - 1].dockerHost,
        POC_LOG_LEVEL: 'WARN',
        ...hostCompose,
      });
      const host = { name, engine: engines[index - 1], child };
      hosts.add(host);
      await child.waitFor(/^ready$/m, 180_000);
      await eventually(
        `${name} up`,
        async () =>
          (await listHosts(client, { taskQueue })).some((h) => h.name === name && h.state === 'up') ? 1 : undefined,
        60_000,
        500,
      );
      return host;
    };
    const stopHost = async (host: Host, signal: NodeJS.Signals = 'SIGTERM') => {
      await host.child.kill(signal);
      hosts.delete(host);
    };
    const start = (taskQueue: string, extra: { labels?: string[] } = {}) =>
      startPipeline(client, { steps: stepNames, repo: repo.url, ref: 'main', ...extra }, { taskQueue });
    const result = (workflowId: string): Promise<PipelineStatus> =>
      client.workflow
        .getHandle(workflowId)
        .result()
        .catch(() => getPipelineStatus(client, workflowId));
    const onOneHost = (s: PipelineStatus) => s.host !== null && s.steps.every((step) => step.host === s.host);

    const makespan: MakespanRow[] = [];
    const rounds = opts.hostCounts.length > 1 ? [...opts.hostCounts, opts.hostCounts[0]] : opts.hostCounts;
    for (const count of rounds) {
      const taskQueue = `bench-fleet-${count}-${crypto.randomUUID().slice(0, 6)}`;
      log(`makespan: ${count} host(s), ${opts.runs} runs…`);
      const group = await Promise.all(Array.from({ length: count }, (_, i) => startHost(taskQueue, i + 1)));
      const t0 = Date.now();
      const ids = await Promise.all(Array.from({ length: opts.runs }, () => start(taskQueue)));
      const finals = await Promise.all(ids.map((s) => result(s.workflowId)));
      const makespanMs = Date.now() - t0;
      const done = finals.filter((s) => s.phase === 'DONE' && onOneHost(s)).length;
      makespan.push({ hosts: count, runs: opts.runs, done, makespanMs, speedup: 0 });
      log(`  ${(makespanMs / 1000).toFixed(1)} s, ${done}/${opts.runs} DONE`);
      for (const host of group) await stopHost(host);
    }
    if (makespan.length > 1) {
      const again = makespan.pop() as MakespanRow;
      makespan[0].makespanMs = (makespan[0].makespanMs + again.makespanMs) / 2;
      makespan[0].done = Math.min(makespan[0].done, again.done);
      log(`  baseline: ${(makespan[0].makespanMs / 1000).toFixed(1)} s, the mean of the first and the last`);
    }
    for (const row of makespan) row.speedup = makespan[0].makespanMs / row.makespanMs;

    let loss: LossRow | undefined;
    if (opts.lossHosts > 0) {
      const taskQueue = `bench-fleet-loss-${crypto.randomUUID().slice(0, 6)}`;
      log(`losing a host: ${opts.lossHosts} hosts, ${opts.runs} runs…`);
      const group = await Promise.all(Array.from({ length: opts.lossHosts }, (_, i) => startHost(taskQueue, i + 1)));
      const victim = group[0];
      const ids = (await Promise.all(Array.from({ length: opts.runs }, () => start(taskQueue)))).map(
        (s) => s.workflowId,
      );
      // Mid-run: once a step of a run on the victim is running and a share of the runs is done.
      const enough = Math.min(Math.floor(opts.runs / 3), opts.runs - opts.slots * opts.lossHosts);
      const onVictim = await eventually(
        'a run busy on the host to kill',
        async () => {
          const statuses = await Promise.all(ids.map((id) => getPipelineStatus(client, id)));
          const done = statuses.filter((s) => s.phase === 'DONE').length;
          const busy = statuses.filter(
            (s) => s.host === victim.name && s.steps.some((step) => step.status === 'running'),
          );
          if (busy.length === 0 || done < Math.max(0, enough)) return undefined;
          // A container of its own is there to be left behind.
          return (await victim.engine.stepContainers()).length > 0
            ? statuses.filter((s) => s.host === victim.name && !isFinalPhase(s.phase)).map((s) => s.id)
            : undefined;
        },
        600_000,
        1_000,
      );
      const killedAt = Date.now();
      await stopHost(victim, 'SIGKILL');
      await victim.engine.stop();
      log(`  killed ${victim.name} (worker SIGKILL, engine stopped) with ${onVictim.length} run(s) on it`);
      // When each of its runs knew: it no longer names the dead host (waiting again, or already elsewhere).
      const noticed = new Map<string, number>();
      await eventually(
        "the dead host's runs to notice",
        async () => {
          for (const id of onVictim.filter((run) => !noticed.has(run))) {
            if ((await getPipelineStatus(client, id)).host !== victim.name) noticed.set(id, Date.now() - killedAt);
          }
          return noticed.size === onVictim.length ? true : undefined;
        },
        300_000,
        1_000,
      );
      const finals = await Promise.all(ids.map(result));
      const moved = finals.filter((s) => onVictim.includes(s.id) && (s.hostMoves?.length ?? 0) > 0);
      const moveMs = moved.map((s) => Date.parse(s.hostMoves?.[0]?.at ?? '') - killedAt);
      const survivors = group.filter((h) => h !== victim);
      const left = (await Promise.all(survivors.map((h) => h.engine.stepContainers()))).flat();

      // A run asking for a label no host has: it waits, saying so, until the dead host comes back with it.
      const labelled = await start(taskQueue, { labels: [BENCH_LABEL] });
      const waiting = await eventually(
        'the labelled run to wait with its reason',
        async () => {
          const s = await getPipelineStatus(client, labelled.workflowId);
          return s.phase === 'QUEUED' && s.queueReason ? s : undefined;
        },
        60_000,
        500,
      );
      await victim.engine.start();
      const leftovers = await victim.engine.stepContainers();
      log(`  ${victim.name}'s engine is back with ${leftovers.length} step container(s) of before`);
      await startHost(taskQueue, 1, [BENCH_LABEL]);
      const swept = await eventually(
        `${victim.name}'s sweep`,
        async () => ((await victim.engine.stepContainers()).length === 0 ? 0 : undefined),
        120_000,
        500,
      ).catch(async () => (await victim.engine.stepContainers()).length);
      const labelFinal = await result(labelled.workflowId);
      loss = {
        runs: opts.runs,
        done: finals.filter((s) => s.phase === 'DONE').length,
        onOneHost: finals.filter(onOneHost).length,
        onDeadHost: onVictim.length,
        moved: moved.length,
        maxNoticedMs: Math.max(0, ...noticed.values()),
        maxMoveMs: moveMs.length > 0 ? Math.max(...moveMs) : 0,
        documentedMs: documentedMoveMs(opts.timeoutSeconds),
        containersLeftOnSurvivors: left.length,
        leftoversOnReturn: leftovers.length,
        leftoversAfterSweep: swept,
        compose: `${compose.command}${compose.prefix.length ? ' compose' : ''} ${compose.version}`,
        labelReason: waiting.queueReason ?? '',
        labelRunHost: labelFinal.host ?? null,
        labelRunPhase: labelFinal.phase,
      };
    }
    return { makespan, loss };
  } finally {
    for (const host of [...hosts]) await host.child.kill('SIGTERM');
    for (const engine of engines) await engine.remove();
    await connection.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function renderMakespan(rows: MakespanRow[], sleepSeconds: number, steps: number): string {
  const lines = [
    `| hosts (2 slots each) | runs | makespan | speedup vs 1 host | DONE on one host |`,
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.hosts} | ${r.runs} | ${(r.makespanMs / 1000).toFixed(1)} s | ` +
        `**${r.speedup.toFixed(2)}×** | ${r.done}/${r.runs} |`,
    ),
  ];
  return `${lines.join('\n')}\n(each run: ${steps} steps of \`sleep ${sleepSeconds}\`)`;
}

export function renderLoss(row: LossRow): string {
  return [
    '| runs | DONE | all steps on one host | on the dead host | moved | kill → noticed | kill → on a new host | ' +
      'documented bound | containers left on survivors | dead host leftovers on return → after sweep |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${row.runs} | ${row.done} | ${row.onOneHost} | ${row.onDeadHost} | ${row.moved} | ` +
      `${(row.maxNoticedMs / 1000).toFixed(1)} s | ${(row.maxMoveMs / 1000).toFixed(1)} s | ` +
      `${(row.documentedMs / 1000).toFixed(0)} s | ` +
      `${row.containersLeftOnSurvivors} | ${row.leftoversOnReturn} → ${row.leftoversAfterSweep} |`,
    '',
    `label run: waited with "${row.labelReason}", then ${row.labelRunPhase} on ${row.labelRunHost}` +
      ` (Compose ${row.compose})`,
  ].join('\n');
}

// `npx tsx bench/fleet.ts [runs] [sleepSeconds]`
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const runs = Number(positional[0] ?? 30);
  const sleepSeconds = Number(positional[1] ?? 8);
  const started = Date.now();
  const { makespan, loss } = await runFleet({
    runs,
    hostCounts: [1, 2, 3],
    lossHosts: 3,
    slots: 2,
    steps: 2,
    sleepSeconds,
    timeoutSeconds: 30,
    composeV2: process.argv.includes('--compose-v2'),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${renderMakespan(makespan, sleepSeconds, 2)}\n\n`);
  if (loss) process.stdout.write(`${renderLoss(loss)}\n`);
  process.stdout.write(`\nin ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  process.exit(0);
}
