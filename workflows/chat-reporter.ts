/**
 * A conversation's Slack thread, kept by the workflow: one message per answer of the model,
 * posted when the answer starts and updated in place as it streams, as its tools wait, run and
 * finish, and once more when a newer answer takes the End button over.
 *
 * Coalesced like workflows/reporter.ts: changes only mark messages dirty; one `reportChat`
 * activity at a time carries the newest state of every dirty message, so a fast stream costs one
 * Slack update per round trip (about one a second), not one per chunk.
 */
import { CancellationScope, condition, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { SlackTarget, ChatEndView, ChatMessageView } from '../core/contract.js';
import { withSummary } from './details.js';
import { SLACK_UPDATE_OPTIONS, isPermanentSlackFailure } from './slack-updates.js';

const { reportChat } = proxyActivities<Activities>(SLACK_UPDATE_OPTIONS);

export interface ChatReporter {
  /** The message of assistant turn `n` changed; it follows with the next update. */
  changed(n: number): void;
  /** Waits until Slack has everything changed so far (before continue-as-new). */
  flush(): Promise<void>;
  /** Posts the end notice after the last updates; resolves once Slack has it (or gave up). */
  end(view: ChatEndView): Promise<void>;
  /** Messages posted so far, by turn number. */
  readonly posted: Record<string, string>;
}

const noReporter: ChatReporter = {
  changed() {},
  flush: async () => undefined,
  end: async () => undefined,
  posted: {},
};

/**
 * `view(n)` renders the newest state of turn `n` when an update goes out (undefined: nothing to
 * show). `posted` holds messages of earlier runs of the workflow (continue-as-new).
 */
export function startChatReporter(
  target: SlackTarget | undefined,
  view: (n: number) => ChatMessageView | undefined,
  posted: Record<string, string> = {},
): ChatReporter {
  if (!target) return noReporter;
  const known: Record<string, string> = { ...posted };
  const dirty = new Set<number>();
  let ending: ChatEndView | undefined;
  let endSent = false;
  let busy = false;
  let disabled = false;

  const settled = () => disabled || (dirty.size === 0 && !busy && (ending === undefined || endSent));

  // Not cancellable: the last update ("ended") must still go out after a cancel request.
  void CancellationScope.nonCancellable(async () => {
    for (;;) {
      await condition(() => dirty.size > 0 || (ending !== undefined && !endSent));
      if (disabled) return;
      busy = true;
      const keys = [...dirty].sort((a, b) => a - b);
      dirty.clear();
      const messages = keys.flatMap((n) => {
        const shown = view(n);
        return shown ? [{ view: shown, ts: known[String(n)] ?? null }] : [];
      });
      const end = ending !== undefined && !endSent ? ending : null;
      try {
        const summary = `Slack: ${end ? 'ended' : `answer ${keys.join(', ')}`}`;
        const result = await withSummary(reportChat, summary, { target, messages, end });
        Object.assign(known, result.posted);
      } catch (err) {
        // Slack trouble never stops the conversation; the history shows the failed activity.
        log.warn('Slack update of a conversation failed; the conversation goes on', { error: String(err) });
        if (isPermanentSlackFailure(err)) disabled = true;
      }
      if (end) endSent = true;
      busy = false;
    }
  });

  return {
    changed(n) {
      dirty.add(n);
    },
    async flush() {
      await condition(settled);
    },
    async end(view) {
      ending = view;
      await condition(settled);
    },
    posted: known,
  };
}
