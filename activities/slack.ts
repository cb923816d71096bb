/**
 * Slack progress from the workflow: post the run's one status message the first time, update it
 * in place afterwards, and post failure notices (log tails) in its thread.
 *
 * Temporal retries this activity, so an attempt must be safe to repeat: what an earlier attempt
 * already did (the message's ts, the replies posted) is carried in heartbeat details, and the
 * next attempt continues from there instead of posting twice.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ErrorCode, LogLevel, WebAPICallError, WebClient } from '@slack/web-api';
import { runUrl, secretValues, type PocConfig } from '../core/config.js';
import {
  SLACK_FAILURE_TYPES,
  type ChatEndView,
  type ChatMessageView,
  type RunStatus,
  type SlackTarget,
  type StepFailureNotice,
} from '../core/contract.js';
import { renderRunStatus, renderStepFailure, type SlackMessage } from '../render/slack.js';
import { renderChatEnd, renderChatTurn } from '../render/chat.js';
import { createRedactor } from '../core/redact.js';
import { loadOnce } from '../core/load-once.js';

export interface ReportArgs {
  target: SlackTarget;
  status: RunStatus;
  messageTs: string | null;
  replies: StepFailureNotice[];
}

export { SLACK_FAILURE_TYPES } from '../core/contract.js';

/** A conversation's messages to post or update (one per answer), and the notice when it ends. */
export interface ChatReportArgs {
  target: SlackTarget;
  messages: { view: ChatMessageView; ts: string | null }[];
  end: ChatEndView | null;
}

export interface ChatReportResult {
  /** The message of each answer, by its turn number. */
  posted: Record<string, string>;
}

/** What earlier attempts of `reportChat` already posted. */
interface ChatReportProgress {
  posted?: Record<string, string>;
  endPosted?: boolean;
}

/** Answers that no retry can change: the token, the channel or the message itself is wrong. */
const PERMANENT_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'ekm_access_denied',
  'team_access_not_granted',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'channel_is_archived',
  'restricted_action',
  'restricted_action_read_only_channel',
  'restricted_action_thread_only_channel',
  'restricted_action_non_threadable_channel',
  'cannot_reply_to_message',
  'msg_too_long',
  'no_text',
  'invalid_blocks',
  'invalid_blocks_format',
  'invalid_arguments',
  'invalid_arg_name',
  'too_many_attachments',
  'invalid_thread_ts',
  'thread_reply_not_allowed',
]);

/** The status message is gone (deleted by someone): post a new one rather than give up. */
const MESSAGE_GONE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed']);

/** What earlier attempts of this activity already did. */
interface ReportProgress {
  ts?: string;
  repliesPosted?: number;
}

/**
 * The Slack SDK is loaded when a run first reports: a worker that never talks to Slack never holds
 * it in memory. Its error codes, by value, so that reading an error needs no SDK.
 */
const slackSdk = loadOnce(() => import('@slack/web-api'));
const SLACK_ERROR_CODES = {
  platform: 'slack_webapi_platform_error',
  rateLimited: 'slack_webapi_rate_limited_error',
  http: 'slack_webapi_http_error',
} as const satisfies Record<string, `${ErrorCode}`>;
const SDK_LOG_LEVEL: `${LogLevel.ERROR}` = 'error';

export function createSlackActivities({ config }: { config: PocConfig }) {
  const redact = createRedactor({ ...process.env, ...secretValues(config) });
  let cached: { key: string; client: WebClient } | undefined;

  async function webClient(): Promise<WebClient> {
    const token = config.slack.botToken;
    if (!token) {
      throw ApplicationFailure.nonRetryable(
        'SLACK_BOT_TOKEN is not set on the worker, so runs cannot report to Slack; ' +
          'set it (see slack/README.md) and restart the worker',
        SLACK_FAILURE_TYPES.notConfigured,
      );
    }
    const url = config.slack.apiUrl;
    const key = `${token}\u0000${url ?? ''}`;
    if (cached?.key !== key) {
      const { WebClient } = await slackSdk();
      cached = {
        key,
        client: new WebClient(token, {
          ...(url ? { slackApiUrl: url } : {}),
          // Temporal retries the whole activity with backoff; the client only rides out short
          // blips and 429s (it waits the Retry-After itself).
          retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 5_000 },
          timeout: 10_000,
          logLevel: SDK_LOG_LEVEL as LogLevel,
        }),
      };
    }
    return cached.client;
  }

  return {
    /**
     * A conversation's answers in its thread: each posted once and updated in place afterwards
     * (a retried attempt continues from what the earlier one posted), then the end notice.
     */
    async reportChat(args: ChatReportArgs): Promise<ChatReportResult> {
      const ctx = Context.current();
      const progress = (ctx.info.heartbeatDetails as ChatReportProgress | undefined) ?? {};
      const posted: Record<string, string> = { ...progress.posted };
      const client = await webClient();
      const { channel, threadTs } = args.target;
      try {
        for (const { view, ts: known } of args.messages) {
          const key = String(view.key);
          const shown = renderChatTurn(view, { runUrl: runUrl(config, view.conversationId), redact });
          posted[key] = await updateOrPost(client, channel, known ?? posted[key] ?? null, shown, threadTs);
          ctx.heartbeat({ posted, endPosted: false } satisfies ChatReportProgress);
        }
        if (args.end && !progress.endPosted) {
          const shown = renderChatEnd(args.end, { runUrl: runUrl(config, args.end.conversationId), redact });
          await postIn(client, channel, threadTs, shown);
          ctx.heartbeat({ posted, endPosted: true } satisfies ChatReportProgress);
        }
      } catch (err) {
        throw toSlackFailure(err, redact);
      }
      return { posted };
    },

    async reportToSlack(args: ReportArgs): Promise<{ channel: string; ts: string }> {
      const ctx = Context.current();
      const progress = (ctx.info.heartbeatDetails as ReportProgress | undefined) ?? {};
      const client = await webClient();
      const { channel } = args.target;
      const shown = renderRunStatus(args.status, { runUrl: runUrl(config, args.status.id), redact });

      const known = args.messageTs ?? progress.ts ?? null;
      let ts: string;
      try {
        ts = await updateOrPost(client, channel, known, shown, args.target.threadTs);
        if (ts !== known) ctx.heartbeat({ ts, repliesPosted: 0 } satisfies ReportProgress);
        for (let i = progress.repliesPosted ?? 0; i < args.replies.length; i++) {
          await postIn(client, channel, args.target.threadTs ?? ts, renderStepFailure(args.replies[i], { redact }));
          ctx.heartbeat({ ts, repliesPosted: i + 1 } satisfies ReportProgress);
        }
      } catch (err) {
        throw toSlackFailure(err, redact);
      }
      return { channel, ts };
    },
  };
}

/**
 * Shows `message` in the message `ts` (edited in place) or, when there is none yet or it was
 * deleted, in a new one; returns the ts it is in.
 */
async function updateOrPost(
  client: WebClient,
  channel: string,
  ts: string | null,
  message: SlackMessage,
  threadTs: string | undefined,
): Promise<string> {
  if (ts) {
    try {
      await client.chat.update({ channel, ts, text: message.text, blocks: message.blocks });
      return ts;
    } catch (err) {
      if (!MESSAGE_GONE.has(platformError(err) ?? '')) throw err;
    }
  }
  const posted = await postIn(client, channel, threadTs, message);
  if (!posted.ts) throw new Error('chat.postMessage answered without a ts');
  return posted.ts;
}

/** A new message in `channel` (in the thread `threadTs`, if any), without link previews. */
function postIn(client: WebClient, channel: string, threadTs: string | undefined, message: SlackMessage) {
  return client.chat.postMessage({
    channel,
    thread_ts: threadTs,
    text: message.text,
    blocks: message.blocks,
    unfurl_links: false,
    unfurl_media: false,
  });
}

function platformError(err: unknown): string | undefined {
  const e = err as WebAPICallError;
  return e?.code === SLACK_ERROR_CODES.platform ? String(e.data?.error ?? '') : undefined;
}

/** Slack's error, as a Temporal failure that says whether another attempt can help. */
export function toSlackFailure(err: unknown, redact: (text: string) => string = (t) => t): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const e = err as WebAPICallError & { retryAfter?: number; statusCode?: number };
  const message = redact(`Slack: ${(err as Error)?.message ?? String(err)}`);
  const platform = platformError(err);
  if (platform !== undefined) {
    if (PERMANENT_ERRORS.has(platform)) {
      const hint =
        platform === 'not_in_channel' || platform === 'channel_not_found'
          ? ' (invite the app to the channel: /invite @poc)'
          : platform === 'invalid_auth' || platform === 'not_authed' || platform === 'token_revoked'
            ? ' (check SLACK_BOT_TOKEN)'
            : '';
      return ApplicationFailure.nonRetryable(`${message}${hint}`, SLACK_FAILURE_TYPES.rejected);
    }
    return ApplicationFailure.retryable(message, SLACK_FAILURE_TYPES.unavailable);
  }
  if (e?.code === SLACK_ERROR_CODES.rateLimited && typeof e.retryAfter === 'number') {
    return ApplicationFailure.create({
      message,
      type: SLACK_FAILURE_TYPES.unavailable,
      nextRetryDelay: Math.min(e.retryAfter, 300) * 1000,
    });
  }
  if (
    e?.code === SLACK_ERROR_CODES.http &&
    typeof e.statusCode === 'number' &&
    e.statusCode >= 400 &&
    e.statusCode < 500 &&
    e.statusCode !== 429
  ) {
    return ApplicationFailure.nonRetryable(message, SLACK_FAILURE_TYPES.rejected);
  }
  return ApplicationFailure.retryable(message, SLACK_FAILURE_TYPES.unavailable);
}
