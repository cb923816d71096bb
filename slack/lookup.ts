/**
 * Finding the run a command is about, with no state of the bot's own: a Slack thread's runs by
 * the `PocSlackThread` search attribute, a channel's by its prefix (or the memo), an id by the
 * client's resolution.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { PocSlackThread, isFinalPhase, listRuns, slackThreadKey, type RunSummary } from '../client/index.js';
import { SLACK_ID } from '../core/validate.js';
import type { Invocation } from './parse.js';

/** Runs reporting to one Slack thread, newest first. */
export async function runsOfThread(
  client: Client,
  channel: string,
  threadTs: string,
  limit = 10,
): Promise<RunSummary[]> {
  // Both come from Slack, but they end up in a query: only well-formed ids get there.
  if (!SLACK_ID.channel.test(channel) || !SLACK_ID.ts.test(threadTs)) return [];
  return listRuns(client, { limit, query: `${PocSlackThread.name} = "${slackThreadKey({ channel, threadTs })}"` });
}

/** Runs started from one channel, newest first (by the `PocSlackThread` prefix, else the memo). */
export async function runsOfChannel(
  client: Client,
  channel: string,
  { limit = 10, activeOnly = false } = {},
): Promise<RunSummary[]> {
  if (!SLACK_ID.channel.test(channel)) return [];
  const active = activeOnly ? ' AND ExecutionStatus = "Running"' : '';
  try {
    return await listRuns(client, { limit, query: `${PocSlackThread.name} STARTS_WITH "${channel}/"${active}` });
  } catch {
    // Visibility stores without STARTS_WITH: the newest runs, filtered by the channel in their memo.
    const recent = await listRuns(client, { limit: 200 });
    return recent
      .filter((run) => run.slackChannel === channel && (!activeOnly || !isFinalPhase(run.phase)))
      .slice(0, limit);
  }
}

/** The run a command without an id means: the one of this thread, else the newest of this channel. */
export async function defaultRun(
  client: Client,
  inv: Pick<Invocation, 'channel' | 'threadTs'>,
  activeOnly: boolean,
): Promise<string | undefined> {
  if (inv.threadTs) {
    const inThread = (await runsOfThread(client, inv.channel, inv.threadTs)).find(
      (run) => !activeOnly || !isFinalPhase(run.phase),
    );
    if (inThread) return inThread.workflowId;
  }
  return (await runsOfChannel(client, inv.channel, { limit: 1, activeOnly }))[0]?.workflowId;
}

export async function workflowExists(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
