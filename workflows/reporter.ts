/**
 * Live progress in Slack, sent by the workflow itself (so it survives a bot restart and Slack
 * errors are retried by Temporal). One status message per run, updated in place.
 *
 * Changes are coalesced: while one update is in flight, later changes only bump a version, and
 * the next update carries the newest state. That keeps us near Slack's ~1 message/s per channel
 * however fast steps change, and costs one activity per burst of changes.
 */
import { CancellationScope, condition, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { withSummary } from './details.js';
import { SLACK_UPDATE_OPTIONS, isPermanentSlackFailure } from './slack-updates.js';
import type { RunStatus, SlackTarget, StepFailureNotice } from '../core/contract.js';

const { reportToSlack } = proxyActivities<Activities>(SLACK_UPDATE_OPTIONS);

export interface Reporter {
  /** Note that the status changed; the message follows as soon as the previous update is done. */
  changed(): void;
  /** Post a reply under the status message (e.g. a failed step's log tail) with the next update. */
  reply(notice: StepFailureNotice): void;
  /** Flush the last state; resolves once Slack has it (or gave up). */
  finish(): Promise<void>;
}

const noReporter: Reporter = { changed() {}, reply() {}, finish: async () => undefined };

export function startReporter(status: RunStatus, target: SlackTarget | undefined): Reporter {
  if (!target) return noReporter;
  let version = 1;
  let sent = 0;
  let finished = false;
  let disabled = false;
  const replies: StepFailureNotice[] = [];

  // Not cancellable: the last update ("cancelled") must still go out after a cancel request.
  const loop = CancellationScope.nonCancellable(async () => {
    for (;;) {
      await condition(() => version > sent || finished);
      if (version === sent || disabled) return;
      const upTo = version;
      const outgoing = replies.splice(0, replies.length);
      try {
        const message = await withSummary(reportToSlack, `Slack: ${status.phase}`, {
          target,
          status,
          messageTs: status.slackMessage?.ts ?? target.messageTs ?? null,
          replies: outgoing,
        });
        status.slackMessage = message;
      } catch (err) {
        // Progress reporting never fails the run; the history shows the failed activity.
        log.warn('Slack progress update failed; the run goes on', { error: String(err) });
        if (isPermanentSlackFailure(err)) disabled = true;
      }
      sent = upTo;
    }
  });

  return {
    changed() {
      version += 1;
    },
    reply(notice) {
      replies.push(notice);
      version += 1;
    },
    async finish() {
      finished = true;
      await loop;
    },
  };
}
