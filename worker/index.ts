/**
 * The worker: our workflows and activities on task queue `poc` (POC_TASK_QUEUE).
 *
 * At start it registers the search attributes (idempotent, so a fresh external server works
 * too) and sweeps containers left by runs that are no longer executing.
 */
import { fileURLToPath } from 'node:url';
import {
  Client,
  Connection,
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  makeTelemetryFilterString,
  type LogEntry,
  type LogLevel,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import proto from '@temporalio/proto';
import { createActivities } from '../activities/index.js';
import { listContainers, removeContainers } from '../docker/index.js';
import type { PocConfig } from '../core/config.js';
import { SEARCH_ATTRIBUTES } from './devserver.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let bundlePromise: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per process (webpack takes a few seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundlePromise ??= bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  return bundlePromise;
}

let runtimeInstalled = false;
/**
 * One runtime per process: JSON log lines (with the workflow id on every run-related line) and,
 * when `metricsPort` is set, the SDK's Prometheus metrics plus ours on that port.
 */
export function installRuntime({
  metricsPort,
  logLevel = 'INFO',
  shutdownSignals,
}: {
  metricsPort?: number;
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
      const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
      process.stderr.write(JSON.stringify({ time, level, msg: message, ...meta }) + '\n');
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(metricsPort !== undefined
        ? {
            metrics: {
              prometheus: {
                bindAddress: `0.0.0.0:${metricsPort}`,
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
  env?: NodeJS.ProcessEnv;
  /** Replaces some activities (tests of workflow logic that should not need Docker). */
  activityOverrides?: Partial<PocActivities>;
}

export type PocActivities = ReturnType<typeof createActivities>;

/**
 * Concurrency and polling, each overridable from the environment. Numbers measured by
 * bench/llm-throughput on a 2-core machine (see README).
 */
export function tuning(env: NodeJS.ProcessEnv) {
  // Poll counts are the SDK's own defaults: the bench measured the same 31–33 workflows/s with
  // 4, 10, 20 or 40 pollers and sticky ratios 0.2–1. The run is CPU-bound (about 50 ms of CPU
  // per prompt, half of it the Temporal server), not poll-bound.
  const POLL_DEFAULTS = { workflow: 10, activity: 10, nonStickyRatio: 0.2 };
  const int = (name: string, fallback: number) => (Number(env[name]) > 0 ? Math.floor(Number(env[name])) : fallback);
  const fraction = (name: string, fallback: number) =>
    Number(env[name]) > 0 && Number(env[name]) <= 1 ? Number(env[name]) : fallback;
  const maxActivities = int('POC_MAX_ACTIVITIES', 500);
  const maxWorkflowTasks = Math.max(2, int('POC_MAX_WORKFLOW_TASKS', 100));
  return {
    maxConcurrentActivityTaskExecutions: maxActivities,
    maxConcurrentWorkflowTaskExecutions: maxWorkflowTasks,
    maxCachedWorkflows: int('POC_MAX_CACHED_WORKFLOWS', 2_000),
    // The SDK wants 2 ≤ polls ≤ slots.
    maxConcurrentWorkflowTaskPolls: Math.min(
      Math.max(2, int('POC_WORKFLOW_TASK_POLLS', POLL_DEFAULTS.workflow)),
      maxWorkflowTasks,
    ),
    maxConcurrentActivityTaskPolls: Math.min(int('POC_ACTIVITY_TASK_POLLS', POLL_DEFAULTS.activity), maxActivities),
    nonStickyToStickyPollRatio: fraction('POC_NON_STICKY_POLL_RATIO', POLL_DEFAULTS.nonStickyRatio),
  };
}

export async function createPocWorker({
  connection,
  client,
  config,
  taskQueue,
  env = process.env,
  activityOverrides,
}: PocWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: taskQueue ?? config.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: {
      ...createActivities({ client, config: { ...config, taskQueue: taskQueue ?? config.taskQueue }, env }),
      ...activityOverrides,
    },
    // Cancels reach activities through heartbeats: send them often enough that Cancel feels immediate.
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
    shutdownGraceTime: '10 seconds',
    ...tuning(env),
  });
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

/**
 * Removes containers of ours whose run no longer executes (a worker that died mid-step leaves
 * its container running). Containers of running runs are left to their step's next attempt.
 */
export async function sweepOrphanContainers(
  client: Client,
  log: (msg: string) => void = () => undefined,
): Promise<string[]> {
  let containers;
  try {
    containers = await listContainers();
  } catch (err) {
    log(`container sweep skipped: ${(err as Error).message}`);
    return [];
  }
  const open = new Map<string, boolean>();
  const orphans: string[] = [];
  for (const container of containers) {
    if (!open.has(container.workflowId)) {
      try {
        const description = await client.workflow.getHandle(container.workflowId).describe();
        open.set(container.workflowId, description.status.name === 'RUNNING');
      } catch (err) {
        // Unknown to this server (other namespace, deleted history): only certain absence counts.
        open.set(container.workflowId, !(err instanceof WorkflowNotFoundError));
      }
    }
    if (!open.get(container.workflowId)) orphans.push(container.name);
  }
  await removeContainers(orphans);
  if (orphans.length > 0)
    log(`removed ${orphans.length} container(s) of runs no longer executing: ${orphans.join(', ')}`);
  return orphans;
}

export const RETENTION_SCHEDULE = 'poc-retention';

/**
 * One retention schedule per task queue, so each fleet's own workers prune its run folders; the default queue's keeps
 * the plain name.
 */
export function retentionScheduleId(taskQueue: string): string {
  return taskQueue === 'poc' ? RETENTION_SCHEDULE : `${RETENTION_SCHEDULE}-${taskQueue}`;
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
  const args = [{ olderThanDays: config.retentionDays }];
  if (config.retentionDays === 0) {
    await handle.delete().catch(() => undefined);
    return 'off';
  }
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1 hour' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'pruneJobs',
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
  worker: Worker;
  connection: NativeConnection;
  client: Client;
  /** Resolves when the worker has stopped (after `shutdown()` or a fatal error). */
  running: Promise<void>;
  shutdown(): Promise<void>;
}

/** Connects, prepares the namespace, sweeps, and runs a worker until shut down. */
export async function startWorker({
  address,
  config,
  taskQueue,
  env = process.env,
  log = () => undefined,
}: {
  address: string;
  config: PocConfig;
  taskQueue?: string;
  env?: NodeJS.ProcessEnv;
  log?: (msg: string) => void;
}): Promise<StartedWorker> {
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace: config.namespace });
  try {
    await ensureSearchAttributes(clientConnection, config.namespace);
  } catch (err) {
    log(
      `could not register search attributes (${(err as Error).message}); ` +
        'register PocKind, PocPhase, PocRequestedBy, PocSlackThread as Keyword yourself',
    );
  }
  await sweepOrphanContainers(client, log);
  try {
    await ensureRetentionSchedule(client, config);
  } catch (err) {
    log(`retention schedule not set up (${(err as Error).message}); run folders are kept`);
  }
  const connection = await NativeConnection.connect({ address });
  const worker = await createPocWorker({ connection, client, config, taskQueue, env });
  const running = worker.run().finally(async () => {
    await connection.close().catch(() => undefined);
    await clientConnection.close().catch(() => undefined);
  });
  return {
    worker,
    connection,
    client,
    running,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
