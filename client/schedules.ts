/**
 * Pipelines on a timetable, as Temporal Schedules (the Web UI's Schedules page shows them).
 *
 * Overlap policy: a schedule's next run is SKIPPED while its previous run is still going
 * (`--overlap skip`, the default), or one run is BUFFERED and starts when the previous ends
 * (`--overlap buffer`). Runs of one workspace still queue behind each other either way.
 */
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
} from '@temporalio/client';
import type { PocConfig } from '../core/config.js';
import type { Command } from './grammar.js';
import {
  INTERNAL_ID,
  PocKind,
  PocPhase,
  PocRequestedBy,
  WORKFLOW_TYPES,
  type PipelineInput,
} from '../core/contract.js';
import type { pipelineWorkflow } from '../workflows/pipeline.js';
import { validatePipelineInput } from '../core/validate.js';
import { pipelineMetadata } from './metadata.js';

const SCHEDULE_PREFIX = INTERNAL_ID.schedulePrefix;

export interface ScheduleSummary {
  name: string;
  cron: string[];
  paused: boolean;
  note: string | null;
  nextRuns: string[];
  recentRuns: { workflowId: string; startedAt: string }[];
  goal: string | null;
  steps: string[] | null;
  overlap: string;
}

export interface CreateScheduleOptions {
  name: string;
  cron: string;
  steps?: string[];
  goal?: string;
  overlap?: 'skip' | 'buffer';
  workspace?: string;
}

export async function createSchedule(client: Client, config: PocConfig, opts: CreateScheduleOptions): Promise<string> {
  const input: PipelineInput = {
    goal: opts.goal ?? `scheduled: ${opts.name}`,
    steps: opts.steps,
    workspace: opts.workspace,
    requestedBy: `schedule:${opts.name}`,
  };
  const metadata = pipelineMetadata(validatePipelineInput(input), `schedule ${opts.name} (${opts.cron})`);
  const scheduleId = `${SCHEDULE_PREFIX}${opts.name}`;
  try {
    await client.schedule.create<typeof pipelineWorkflow>({
      scheduleId,
      spec: { cronExpressions: [opts.cron] },
      action: {
        type: 'startWorkflow',
        workflowType: WORKFLOW_TYPES.pipeline,
        // Temporal appends the scheduled time: pipeline-sched-<name>-<time>.
        workflowId: `${INTERNAL_ID.scheduledRunPrefix}${opts.name}`,
        taskQueue: config.taskQueue,
        args: [input],
        memo: { goal: input.goal as string },
        staticSummary: metadata.summary,
        staticDetails: metadata.details,
        typedSearchAttributes: [
          { key: PocKind, value: 'pipeline' },
          { key: PocPhase, value: 'QUEUED' },
          { key: PocRequestedBy, value: input.requestedBy as string },
        ],
      },
      policies: {
        overlap: opts.overlap === 'buffer' ? ScheduleOverlapPolicy.BUFFER_ONE : ScheduleOverlapPolicy.SKIP,
        catchupWindow: '10 minutes',
      },
      // The server turns cron into calendars; the memo keeps the expression people wrote.
      memo: { goal: input.goal as string, cron: opts.cron },
    });
  } catch (err) {
    if ((err as Error).name === 'ScheduleAlreadyRunning')
      throw new Error(`schedule "${opts.name}" already exists; delete it first or pick another name`);
    if (/invalid/i.test((err as Error).message))
      throw new Error(`schedule "${opts.name}" rejected: ${(err as Error).message}`);
    throw err;
  }
  return scheduleId;
}

function summarize(name: string, d: ScheduleDescription): ScheduleSummary {
  const action = d.action as { args?: unknown[] };
  const input = (action.args?.[0] ?? {}) as PipelineInput;
  return {
    name,
    cron: typeof d.memo?.cron === 'string' ? [d.memo.cron] : [],
    paused: d.state.paused,
    note: d.state.note ?? null,
    nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.slice(-5).map((a) => ({
      workflowId: 'workflow' in a.action ? a.action.workflow.workflowId : '',
      startedAt: a.takenAt.toISOString(),
    })),
    goal: input.goal ?? null,
    steps: input.steps ?? null,
    overlap: d.policies.overlap === ScheduleOverlapPolicy.BUFFER_ONE ? 'buffer' : 'skip',
  };
}

export async function describeSchedule(client: Client, name: string): Promise<ScheduleSummary> {
  try {
    return summarize(name, await client.schedule.getHandle(`${SCHEDULE_PREFIX}${name}`).describe());
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw new Error(`no schedule "${name}"; \`poc schedule list\` shows them`);
    throw err;
  }
}

export async function listSchedules(client: Client): Promise<ScheduleSummary[]> {
  const names: string[] = [];
  for await (const s of client.schedule.list()) {
    if (s.scheduleId.startsWith(SCHEDULE_PREFIX)) names.push(s.scheduleId.slice(SCHEDULE_PREFIX.length));
  }
  names.sort();
  return Promise.all(names.map((name) => describeSchedule(client, name)));
}

export async function changeSchedule(
  client: Client,
  name: string,
  action: 'pause' | 'unpause' | 'delete' | 'trigger',
  by = 'poc',
): Promise<void> {
  const handle = client.schedule.getHandle(`${SCHEDULE_PREFIX}${name}`);
  try {
    if (action === 'pause') await handle.pause(`paused by ${by}`);
    else if (action === 'unpause') await handle.unpause(`unpaused by ${by}`);
    else if (action === 'delete') await handle.delete();
    else await handle.trigger();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw new Error(`no schedule "${name}"; \`poc schedule list\` shows them`);
    throw err;
  }
}

export function renderSchedules(schedules: ScheduleSummary[]): string {
  if (schedules.length === 0) return 'no schedules; create one with `poc schedule create <name> --cron "0 3 * * *"`';
  return schedules
    .map(
      (s) =>
        `${s.name.padEnd(16)} ${s.paused ? 'paused ' : 'active '} ${s.cron.join(' | ').padEnd(16)} ` +
        `next ${s.nextRuns[0] ?? '-'}  steps ${s.steps?.join(',') ?? 'default'}  overlap ${s.overlap}`,
    )
    .join('\n');
}

/** The `schedule …` command, shared by the CLI (and the bot's replies use the same functions). */
export async function runScheduleCommand(
  client: Client,
  config: PocConfig,
  command: Extract<Command, { name: 'schedule' }>,
  out: (text: string) => void,
): Promise<number> {
  switch (command.action) {
    case 'create': {
      await createSchedule(client, config, {
        name: command.schedule,
        cron: command.cron,
        steps: command.steps,
        goal: command.goal,
        overlap: command.overlap,
      });
      const created = await describeSchedule(client, command.schedule);
      out(
        command.json
          ? JSON.stringify(created, null, 2)
          : `schedule "${command.schedule}" created; next run ${created.nextRuns[0] ?? 'not planned'}`,
      );
      return 0;
    }
    case 'list': {
      const all = await listSchedules(client);
      out(command.json ? JSON.stringify(all, null, 2) : renderSchedules(all));
      return 0;
    }
    case 'describe': {
      const one = await describeSchedule(client, command.schedule);
      out(
        command.json
          ? JSON.stringify(one, null, 2)
          : renderSchedules([one]) +
              (one.recentRuns.length ? `\nrecent: ${one.recentRuns.map((r) => r.workflowId).join(', ')}` : ''),
      );
      return 0;
    }
    default:
      await changeSchedule(client, command.schedule, command.action);
      out(
        command.json
          ? JSON.stringify({ schedule: command.schedule, action: command.action })
          : `schedule "${command.schedule}": ${command.action} done`,
      );
      return 0;
  }
}
