/**
 * What the Temporal Web UI shows of a run besides its raw input: the workflow's current details
 * (one live line: phase, step, queue position) and a summary on each activity naming what it does
 * (`lint`, `bootstrap`, …), so the timeline and the event list read like the pipeline.
 *
 * Current details are served by the SDK's metadata query and cost no history; activity summaries
 * ride on the commands that schedule them, so they are behind `patched(ACTIVITY_SUMMARIES)` like
 * any other change of a command.
 */
import { patched, setCurrentDetails } from '@temporalio/workflow';
import type { ChatStatus, LlmStatus, PipelineStatus, RunStatus } from '../core/contract.js';
import type { Reporter } from './reporter.js';

/** Patch id: activities scheduled from here on carry a summary (user metadata). */
export const ACTIVITY_SUMMARIES = 'activity-summaries';

/** One line, Web UI sized: whitespace folded, cut with an ellipsis. */
export function oneLine(text: string, max = 160): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  return folded.length > max ? `${folded.slice(0, max - 1)}…` : folded;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function pipelineDetails(s: PipelineStatus): string {
  const where = s.workspace ? ` in ${s.workspace}` : '';
  const done = s.steps.filter((step) => step.status === 'done').length;
  switch (s.phase) {
    case 'QUEUED': {
      // On a fleet, why the run waits (no host with its labels, every host busy, …) says more than its place.
      const why = s.queueReason ? ` · ${s.queueReason}` : '';
      if (s.queuePosition) return `QUEUED · ${plural(s.queuePosition, 'run')} ahead${where}${why}`;
      return s.queueReason ? `QUEUED · ${s.queueReason}` : `QUEUED · waiting for the workspace${where}`;
    }
    case 'RUNNING': {
      const index = s.steps.findIndex((step) => step.status === 'running');
      if (index < 0) return `RUNNING · ${done}/${s.steps.length} steps done${s.error ? ` · ${s.error}` : ''}`;
      const step = s.steps[index];
      const attempt = step.attempt > 1 ? ` (attempt ${step.attempt})` : '';
      const line = step.lastLine ? ` · ${step.lastLine}` : '';
      return `RUNNING · step ${index + 1} of ${s.steps.length}: ${step.name}${attempt}${line}`;
    }
    case 'AWAITING_DECISION': {
      const d = s.pendingDecision;
      if (!d) return 'AWAITING_DECISION';
      const question = d.kind === 'failure' ? `${d.step} failed` : `${d.step} waits for approval`;
      return `AWAITING_DECISION · ${question}: ${d.options.join(', ')} (until ${d.deadline})`;
    }
    case 'DONE':
      return `DONE · ${plural(done, 'step')} passed`;
    default:
      return `${s.phase}${s.error ? ` · ${s.error}` : ''}`;
  }
}

function llmDetails(s: LlmStatus): string {
  const model = `${s.backend}/${s.model}`;
  if (s.phase === 'DONE' && s.result)
    return `DONE · ${model} · ${s.result.usage.inputTokens} in / ${s.result.usage.outputTokens} out tokens`;
  const attempt = s.attempt > 1 ? ` · attempt ${s.attempt}` : '';
  return `${s.phase} · ${model}${attempt}${s.error ? ` · ${s.error}` : ''}`;
}

function chatDetails(s: ChatStatus): string {
  const waiting =
    s.waitingFor === 'decision'
      ? ` · waiting for approval of ${s.pendingDecision?.step ?? 'a tool call'}`
      : s.waitingFor
        ? ` · waiting for the ${s.waitingFor}`
        : '';
  const cost = s.usage.costUsd ? ` · ~$${s.usage.costUsd.toFixed(4)}` : '';
  return (
    `${s.phase}${waiting} · ${s.backend}/${s.model} · ${plural(s.earlierTurns + s.turns.length, 'turn')} · ` +
    `${plural(s.usage.requests, 'request')}${cost}`
  );
}

/** The live one-line status of a run, as the Web UI shows it under "Current Details". */
export function currentDetailsOf(status: RunStatus): string {
  if (status.kind === 'chat') return oneLine(chatDetails(status), 300);
  return oneLine(status.kind === 'pipeline' ? pipelineDetails(status) : llmDetails(status), 300);
}

/** A reporter that also keeps the workflow's current details in step with every change. */
export function withCurrentDetails(reporter: Reporter, status: RunStatus): Reporter {
  const publish = () => setCurrentDetails(currentDetailsOf(status));
  publish();
  return {
    changed() {
      publish();
      reporter.changed();
    },
    reply(notice) {
      reporter.reply(notice);
    },
    async finish() {
      publish();
      await reporter.finish();
    },
  };
}

/** An activity function as `proxyActivities` / `proxyLocalActivities` return it. */
interface ActivityCall<A extends unknown[], R> {
  (...args: A): Promise<R>;
  executeWithOptions(options: { summary: string }, args: A): Promise<R>;
}

/**
 * Calls an activity with a summary for the Web UI (`lint`, `Slack: RUNNING`, …). Runs recorded
 * before summaries existed replay without them.
 */
export function withSummary<A extends unknown[], R>(activity: ActivityCall<A, R>, summary: string, ...args: A) {
  return patched(ACTIVITY_SUMMARIES)
    ? activity.executeWithOptions({ summary: oneLine(summary) }, args)
    : activity(...args);
}
