/**
 * The worker: our workflows and activities on task queue `poc` (POC_TASK_QUEUE) and, as a build
 * host of the fleet (POC_HOST_NAME, POC_HOST_SLOTS, POC_HOST_LABELS), the steps of the runs it
 * holds on its own task queue `<queue>@<host>` — Temporal's worker-specific task queue: only this
 * worker polls it, so everything scheduled there runs here, with this machine's Docker engine and
 * folders. It heartbeats into the task queue's host registry (worker/host.ts).
 *
 * At start it registers the search attributes (idempotent, so a fresh external server works
 * too) and sweeps containers left by runs that are no longer executing, or no longer here.
 */
import type { Connection } from '@temporalio/client';
import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  makeTelemetryFilterString,
  type LogEntry,
  type LogLevel,
} from '@temporalio/worker';
import proto from '@temporalio/proto';
import { createActivities, type Activities } from '../activities/index.js';
import { engineProblem } from '../docker/index.js';
import type { PocConfig, WorkerTuning } from '../core/config.js';
import {
  TemporalConnectionError,
  connectTemporal,
  connectionOptions,
  describeConnectionError,
} from '../core/temporal.js';
import { DEFAULT_TASK_QUEUE, INTERNAL_ID, WORKFLOW_TYPES, hostTaskQueue } from '../core/contract.js';
import { containerOwner } from '../activities/owner.js';
import type { ContainerOwner } from '../docker/index.js';
import { DEFAULT_SWEEP_EVERY_MS, startOrphanSweeps, sweepOrphanContainers } from './sweep.js';
import { HOST_SWEEP_EVERY_MS, startHostAgent, sweepCheckouts, type HostAgent } from './host.js';
import { workflowBundle } from './bundle.js';
import type { pruneJobsWorkflow, PruneJobsInput } from '../workflows/retention.js';
import { SEARCH_ATTRIBUTES } from './devserver.js';

export { workflowBundle, workflowsPath } from './bundle.js';

let runtimeInstalled = false;
const NO_WORKFLOWS_WARNING = 'No workflows registered, not polling for workflow tasks';
/**
 * One runtime per process: JSON log lines (with the workflow id on every run-related line) and,
 * when `metricsPort` is set, the SDK's Prometheus metrics plus ours on that port.
 */
export function installRuntime({
  metricsPort,
  metricsHost = '127.0.0.1',
  logLevel = 'INFO',
  shutdownSignals,
}: {
  metricsPort?: number;
  /** Address the endpoint binds (POC_METRICS_HOST): loopback unless the operator says otherwise. */
  metricsHost?: string;
  logLevel?: LogLevel;
  /** Empty when the caller stops workers itself (`poc up` stops bot, worker, server in order). */
  shutdownSignals?: NodeJS.Signals[];
} = {}): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    ...(shutdownSignals ? { shutdownSignals } : {}),
    logger: new DefaultLogger(logLevel, (entry: LogEntry) => {
      const { message, level, meta } = entry;
      // A build host's own queue serves activities only, by design (its runs' workflows live on
      // the shared queue, which always has them): the SDK's warning about it read like a fault.
      if (message === NO_WORKFLOWS_WARNING) return;
      const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
      process.stderr.write(JSON.stringify({ time, level, msg: message, ...meta }) + '\n');
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(metricsPort !== undefined
        ? {
            metrics: {
              prometheus: {
                bindAddress: `${metricsHost.includes(':') ? `[${metricsHost}]` : metricsHost}:${metricsPort}`,
                countersTotalSuffix: true,
                histogramBucketOverrides: {
                  poc_step_duration: [100, 500, 1_000, 5_000, 15_000, 60_000, 300_000, 900_000],
                },
              },
            },
          }
        : {}),
    },
  });
}

export interface PocWorkerOptions {
  connection: NativeConnection;
  client: Client;
  config: PocConfig;
  taskQueue?: string;
  /** Replaces some activities (tests of workflow logic that should not need Docker). */
  activityOverrides?: Partial<PocActivities>;
  /** How the host tells whether its Docker engine answers (null: it does); tests without Docker pass one. */
  checkEngine?: () => Promise<string | null>;
  /** The host's heartbeats, already going (startWorker starts them before the slow parts of a start). */
  agent?: HostAgent;
  log?: (msg: string) => void;
}

export type PocActivities = Activities;

/**
 * Concurrency and polling, from the config (POC_MAX_ACTIVITIES, … — see README). Numbers
 * measured by bench/llm-throughput on a 2-core machine (see README).
 */
export function tuning(worker: WorkerTuning) {
  // Poll defaults are the SDK's own: the bench measured the same 31–33 workflows/s with
  // 4, 10, 20 or 40 pollers and sticky ratios 0.2–1. The run is CPU-bound (about 50 ms of CPU
  // per prompt, half of it the Temporal server), not poll-bound.
  return {
    maxConcurrentActivityTaskExecutions: worker.maxActivities,
    maxConcurrentWorkflowTaskExecutions: worker.maxWorkflowTasks,
    ...(worker.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: worker.maxCachedWorkflows } : {}),
    // The SDK wants 2 ≤ polls ≤ slots.
    maxConcurrentWorkflowTaskPolls: Math.min(Math.max(2, worker.workflowTaskPolls), worker.maxWorkflowTasks),
    maxConcurrentActivityTaskPolls: Math.min(worker.activityTaskPolls, worker.maxActivities),
    nonStickyToStickyPollRatio: worker.nonStickyPollRatio,
  };
}

/** A worker: the shared task queue and, when it is a build host, its own queue and its heartbeats. */
export interface PocWorker {
  /** This worker as a build host (undefined with POC_HOST_SLOTS=0). */
  readonly host: { name: string; queue: string } | undefined;
  /** Runs until `shutdown()` or a fatal error of either queue's worker. */
  run(): Promise<void>;
  /** Stops it; at any time and more than once — also before run() has started polling (it then ends at once). */
  shutdown(): void;
  getState(): ReturnType<Worker['getState']>;
}

/** Cancels reach activities through heartbeats: send them often enough that Cancel feels immediate. */
const heartbeatThrottle = {
  maxHeartbeatThrottleInterval: '1 second',
  defaultHeartbeatThrottleInterval: '1 second',
  shutdownGraceTime: '10 seconds',
} as const;

export async function createPocWorker({
  connection,
  client,
  config: givenConfig,
  taskQueue,
  activityOverrides,
  checkEngine = engineProblem,
  agent: givenAgent,
  log = () => undefined,
}: PocWorkerOptions): Promise<PocWorker> {
  const config = { ...givenConfig, taskQueue: taskQueue ?? givenConfig.taskQueue };
  const activities: Activities = { ...createActivities({ client, config }), ...activityOverrides };
  const shared = await Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    workflowBundle: await workflowBundle(config.cacheDir, log),
    activities,
    ...heartbeatThrottle,
    ...tuning(config.worker),
  });
  if (config.host.slots === 0) {
    let stopAsked = false;
    return {
      host: undefined,
      run() {
        const running = shared.run();
        if (stopAsked) stopWorker(shared);
        return running;
      },
      shutdown() {
        stopAsked = true;
        stopWorker(shared);
      },
      getState: () => shared.getState(),
    };
  }
  const hostQueue = hostTaskQueue(config.taskQueue, config.host.name);
  const { runStep, prepareRun } = activities;
  const hostWorker = await Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: hostQueue,
    // What must happen on this machine: its workspace, its Docker engine. The step says where it ran.
    activities: {
      prepareRun,
      runStep: async (args: Parameters<typeof runStep>[0]) => ({ ...(await runStep(args)), host: config.host.name }),
    },
    ...heartbeatThrottle,
    maxConcurrentActivityTaskExecutions: config.worker.maxActivities,
    maxConcurrentActivityTaskPolls: Math.min(config.worker.activityTaskPolls, config.worker.maxActivities),
  });
  let agent = givenAgent;
  // A stop can come while run() still awaits the first heartbeat, before either worker runs (Ctrl-C
  // just after `poc up` printed its banner): remembered here, it stops them as soon as they start.
  let stopAsked = false;
  const stopAll = () => {
    stopAsked = true;
    void agent?.stop();
    stopWorker(shared);
    stopWorker(hostWorker);
  };
  return {
    host: { name: config.host.name, queue: hostQueue },
    async run() {
      agent ??= startBuildHost(client, config, checkEngine, log);
      // Heard before it polls: the registry knows the host by the time it handles anything.
      await agent.beat();
      // Either queue's worker ending (a fatal error) ends the other: a host serves both or neither.
      const both = Promise.allSettled([shared.run().finally(stopAll), hostWorker.run().finally(stopAll)]);
      if (stopAsked) stopAll();
      const results = await both;
      await agent.stop();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    shutdown: stopAll,
    getState: () => shared.getState(),
  };
}

/**
 * Heartbeats into the registry and the periodic sweep of this worker as a build host: its
 * checkouts and — unless `owner` is null because the worker's own orphan sweep already covers
 * them (startWorker) — its containers.
 */
export function startBuildHost(
  client: Client,
  config: PocConfig,
  checkEngine: () => Promise<string | null> = engineProblem,
  log: (msg: string) => void = () => undefined,
  owner: (() => Promise<ContainerOwner>) | null = containerOwner(client, config),
): HostAgent {
  return startHostAgent({
    client,
    taskQueue: config.taskQueue,
    host: config.host,
    hostQueue: hostTaskQueue(config.taskQueue, config.host.name),
    checkEngine,
    sweep: async () => {
      if (owner) await sweepOrphanContainers(client, await owner(), log, config.host.name);
      await sweepCheckouts(client, config.host, log);
    },
    log,
  });
}

function stopWorker(worker: Worker): void {
  if (worker.getState() === 'RUNNING') worker.shutdown();
}

/** Registers our custom search attributes on the namespace; already present is fine. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((name) => !(name in (existing.customAttributes ?? {})));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((name) => [name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
}

export { sweepOrphanContainers } from './sweep.js';

export const RETENTION_SCHEDULE = INTERNAL_ID.retentionSchedule;

/**
 * One retention schedule per task queue, so each fleet's own workers prune its run folders; the default queue's keeps
 * the plain name.
 */
export function retentionScheduleId(taskQueue: string): string {
  return taskQueue === DEFAULT_TASK_QUEUE ? RETENTION_SCHEDULE : `${RETENTION_SCHEDULE}-${taskQueue}`;
}

/**
 * The hourly `pruneJobs` schedule (idempotent; every worker may call it). It prunes the jobs folder
 * of the worker that picks it up, so several worker machines want a shared POC_JOBS_DIR.
 */
export async function ensureRetentionSchedule(
  client: Client,
  config: PocConfig,
): Promise<'created' | 'updated' | 'exists' | 'off'> {
  const scheduleId = retentionScheduleId(config.taskQueue);
  const handle = client.schedule.getHandle(scheduleId);
  const args: [PruneJobsInput] = [{ olderThanDays: config.retentionDays }];
  if (config.retentionDays === 0) {
    await handle.delete().catch(() => undefined);
    return 'off';
  }
  try {
    await client.schedule.create<typeof pruneJobsWorkflow>({
      scheduleId,
      spec: { intervals: [{ every: '1 hour' }] },
      action: {
        type: 'startWorkflow',
        workflowType: WORKFLOW_TYPES.retention,
        workflowId: scheduleId,
        taskQueue: config.taskQueue,
        args,
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      memo: { cron: 'every hour' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const current = await handle.describe();
  const currentArgs = (current.action as { args?: unknown[] }).args;
  if (JSON.stringify(currentArgs) === JSON.stringify(args)) return 'exists';
  await handle.update((previous) => ({ ...previous, action: { ...previous.action, args } as typeof previous.action }));
  return 'updated';
}

export interface StartedWorker {
  worker: PocWorker;
  connection: NativeConnection;
  client: Client;
  /** Resolves when the worker has stopped (after `shutdown()` or a fatal error). */
  running: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The worker's native connection, with the config's connection settings; a failure is a
 * TemporalConnectionError with one line (the same mapping as the client's).
 */
export async function connectNative(config: PocConfig): Promise<NativeConnection> {
  const options = connectionOptions(config);
  try {
    return await NativeConnection.connect(options);
  } catch (err) {
    throw new TemporalConnectionError(config.temporal.addressSetting, await describeConnectionError(err, config));
  }
}

/** Connects, prepares the namespace, sweeps, and runs a worker until shut down. */
export async function startWorker({
  address,
  config: givenConfig,
  taskQueue,
  log = () => undefined,
  sweepEveryMs,
}: {
  /** Dial this instead of the config's address (the embedded server `poc up` just started). */
  address?: string;
  config: PocConfig;
  taskQueue?: string;
  log?: (msg: string) => void;
  /** How often leftover containers are swept (after the sweep at start). */
  sweepEveryMs?: number;
}): Promise<StartedWorker> {
  const config = {
    ...givenConfig,
    ...(address ? { temporalAddress: address } : {}),
    ...(taskQueue ? { taskQueue } : {}),
  };
  const clientConnection = await connectTemporal(config);
  const client = new Client({ connection: clientConnection, namespace: config.namespace });
  try {
    await ensureSearchAttributes(clientConnection, config.namespace);
  } catch (err) {
    log(
      `could not register search attributes (${(err as Error).message}); ` +
        `register ${SEARCH_ATTRIBUTES.join(', ')} as Keyword yourself`,
    );
  }
  const owner = containerOwner(client, config);
  const host = config.host.slots > 0 ? config.host.name : undefined;
  // A restarted host is heard again at once, before the slow parts (the sweep, bundling the workflows):
  // back within its timeout, its runs stay where they are.
  // One periodic container sweep per worker (a host's runs move, so a host sweeps more often);
  // the host agent's own sweep keeps to the checkouts.
  const agent = host ? startBuildHost(client, config, engineProblem, log, null) : undefined;
  const sweeps = startOrphanSweeps(client, owner, {
    everyMs: sweepEveryMs ?? (host ? HOST_SWEEP_EVERY_MS : DEFAULT_SWEEP_EVERY_MS),
    log,
    host,
  });
  try {
    await agent?.beat();
    await sweeps.first;
    if (host)
      await sweepCheckouts(client, config.host, log).catch((err: Error) =>
        log(`checkout sweep failed: ${err.message}`),
      );
  } catch (err) {
    // No heartbeats from a host that never started: its runs move after the timeout.
    await sweeps.stop();
    await agent?.stop();
    await clientConnection.close().catch(() => undefined);
    throw err;
  }
  try {
    await ensureRetentionSchedule(client, config);
  } catch (err) {
    log(`retention schedule not set up (${(err as Error).message}); run folders are kept`);
  }
  let connection: NativeConnection;
  try {
    connection = await connectNative(config);
  } catch (err) {
    await sweeps.stop();
    await agent?.stop();
    await clientConnection.close().catch(() => undefined);
    throw err;
  }
  let worker: PocWorker;
  try {
    worker = await createPocWorker({ connection, client, config, agent, log });
  } catch (err) {
    await sweeps.stop();
    await agent?.stop();
    await connection.close().catch(() => undefined);
    await clientConnection.close().catch(() => undefined);
    throw err;
  }
  const running = worker.run().finally(async () => {
    await sweeps.stop();
    await connection.close().catch(() => undefined);
    await clientConnection.close().catch(() => undefined);
  });
  return {
    worker,
    connection,
    client,
    running,
    async shutdown() {
      worker.shutdown();
      await running;
    },
  };
}
