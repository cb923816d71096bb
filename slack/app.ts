/**
 * The Slack bot: a Bolt app that turns `!poc …` messages, `/poc …` and mentions into calls of
 * the client API, and button clicks into cancels and decisions. It keeps no state of its own —
 * runs post and update their status messages themselves (the `reportToSlack` activity) — so it
 * can be stopped, restarted or run twice without losing anything.
 *
 * Socket Mode (SLACK_APP_TOKEN) by default; HTTP mode (SLACK_SIGNING_SECRET, POC_SLACK_PORT)
 * when there is no app token. SLACK_API_URL points both the Web API and Socket Mode elsewhere.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  App,
  HTTPReceiver,
  LogLevel,
  SocketModeReceiver,
  type BlockAction,
  type ButtonAction,
  type KnownEventFromType,
  type Logger,
  type types,
} from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import { connect } from '../client/index.js';
import { secretValues, type PocConfig, type SlackSettings } from '../core/config.js';
import { createRedactor } from '../core/redact.js';
import { slackAccess } from './auth.js';
import { answerApprovalReply, executeButton, executeCommand, type BotContext } from './commands.js';
import { clickOutbox, slashOutbox, threadOutbox } from './outbox.js';
import { approvalAnswerOf, commandTextOf, hasCommandPrefix, type Invocation } from './parse.js';
import { unescapeSlack } from '../render/slack-text.js';

export interface SlackBotOptions {
  /** Every setting, the bot's in `config.slack` (`loadConfig` at the entry point). */
  config: PocConfig;
  /** A Temporal client to use; without one the bot connects (and closes the connection on stop). */
  client?: Client;
  log?: (line: string) => void;
  /** How long one command may wait for Temporal before the bot answers with the error. */
  temporalTimeoutMs?: number;
}

export interface SlackBot {
  mode: 'socket' | 'http';
  /** HTTP mode: the port the events endpoint listens on (`/slack/events`). */
  port?: number;
  stop(): Promise<void>;
}

/** The bot cannot start; `problems` lists every missing or wrong setting at once. */
export class SlackBotConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`the Slack bot cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}\n(see slack/README.md)`);
    this.name = 'SlackBotConfigError';
  }
}

export interface SlackBotSettings {
  mode: 'socket' | 'http';
  botToken: string;
  appToken?: string;
  signingSecret?: string;
  port: number;
  apiUrl?: string;
}

/** Checks the bot's settings; throws SlackBotConfigError naming everything that is wrong. */
export function slackBotSettings(slack: SlackSettings): SlackBotSettings {
  const { botToken, appToken, signingSecret, port } = slack;
  const problems: string[] = [];
  if (!botToken)
    problems.push('SLACK_BOT_TOKEN is not set: the Bot User OAuth Token (xoxb-…) from "OAuth & Permissions"');
  else if (botToken.startsWith('xapp-'))
    problems.push(
      'SLACK_BOT_TOKEN holds an app-level token (xapp-…); ' + 'it must be the Bot User OAuth Token (xoxb-…)',
    );
  if (!appToken && !signingSecret) {
    problems.push(
      'neither SLACK_APP_TOKEN (Socket Mode: an app-level token xapp-… with connections:write) ' +
        'nor SLACK_SIGNING_SECRET (HTTP mode, with POC_SLACK_PORT) is set',
    );
  }
  if (appToken && !appToken.startsWith('xapp-'))
    problems.push('SLACK_APP_TOKEN must be an app-level token (xapp-…) from "Basic Information → App-Level Tokens"');
  if (problems.length > 0 || !botToken) throw new SlackBotConfigError(problems);
  return { mode: appToken ? 'socket' : 'http', botToken, appToken, signingSecret, port, apiUrl: slack.apiUrl };
}

/** Bolt's and Socket Mode's log lines, redacted, into our log (warnings and errors only by default). */
function boltLogger(log: (line: string) => void, redact: (text: string) => string): Logger {
  const rank: Record<string, number> = {
    [LogLevel.DEBUG]: 0,
    [LogLevel.INFO]: 1,
    [LogLevel.WARN]: 2,
    [LogLevel.ERROR]: 3,
  };
  let level: LogLevel = LogLevel.WARN;
  const at =
    (lvl: LogLevel) =>
    (...msgs: unknown[]) => {
      if (rank[lvl] >= rank[level])
        log(redact(`slack ${lvl}: ${msgs.map((m) => (m instanceof Error ? m.message : String(m))).join(' ')}`));
    };
  return {
    debug: at(LogLevel.DEBUG),
    info: at(LogLevel.INFO),
    warn: at(LogLevel.WARN),
    error: at(LogLevel.ERROR),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** A message that may be a command: a person's (not a bot's, not an edit or a join), with text. */
type PersonMessage = (types.GenericMessageEvent | types.ThreadBroadcastMessageEvent) & { text: string };

function personMessageOf(message: KnownEventFromType<'message'>): PersonMessage | undefined {
  // Edits, deletions, joins and bots' messages are not commands (answering other bots could loop).
  if (message.subtype !== undefined && message.subtype !== 'thread_broadcast') return undefined;
  if (('bot_id' in message && message.bot_id) || !message.user || typeof message.text !== 'string') return undefined;
  return message as PersonMessage;
}

/** Who asked, where, and in which thread, for a message or a mention. */
function invocationOf(
  source: 'message' | 'mention',
  m: { channel: string; ts: string; thread_ts?: string },
  user: string,
  teamId: string | undefined,
): Invocation {
  return {
    source,
    team: teamId ?? 'T0',
    channel: m.channel,
    user,
    ts: m.ts,
    threadTs: m.thread_ts && m.thread_ts !== m.ts ? m.thread_ts : undefined,
  };
}

export async function startSlackBot({
  config,
  client,
  log = (line) => console.error(line),
  temporalTimeoutMs,
}: SlackBotOptions): Promise<SlackBot> {
  const settings = slackBotSettings(config.slack);
  const redact = createRedactor({ ...process.env, ...secretValues(config) });
  const logger = boltLogger(log, redact);
  const ownClient = !client;
  const temporal = client ?? (await connect(config));

  const receiver =
    settings.mode === 'socket'
      ? new SocketModeReceiver({
          appToken: settings.appToken as string,
          logger,
          // Its own client options: Socket Mode keeps many retries for reconnecting, which our replies should not.
          installerOptions: { clientOptions: settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {} },
        })
      : new HTTPReceiver({
          signingSecret: settings.signingSecret as string,
          logger,
          port: settings.port,
          processBeforeResponse: false,
        });

  const app = new App({
    token: settings.botToken,
    receiver,
    logger,
    deferInitialization: true,
    clientOptions: {
      ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {}),
      retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 5_000 },
      timeout: 10_000,
    },
  });
  const web: WebClient = app.client;
  const ctx: BotContext = {
    client: temporal,
    config,
    access: slackAccess(config.slack),
    redact,
    log,
    temporalTimeoutMs,
  };

  const inflight = new Set<Promise<unknown>>();
  /** Runs a handler to its end whatever happens; stop() waits for the ones under way. */
  const guarded = async (what: string, work: () => Promise<unknown>): Promise<void> => {
    const running = work().catch((err: Error) => log(redact(`slack: ${what} failed: ${err?.stack ?? String(err)}`)));
    inflight.add(running);
    try {
      await running;
    } finally {
      inflight.delete(running);
    }
  };

  app.message(async ({ message, body, context }) => {
    const m = personMessageOf(message);
    if (!m) return;
    const inv = invocationOf('message', m, m.user, body.team_id ?? context.teamId);
    await guarded('a message', async () => {
      const out = threadOutbox(web, m.channel, m.thread_ts ?? m.ts);
      const command = commandTextOf(m.text, { botUserId: context.botUserId, direct: m.channel_type === 'im' });
      if (command !== undefined) return executeCommand(ctx, inv, command, out);
      const answer = inv.threadTs ? approvalAnswerOf(m.text) : undefined;
      if (answer) await answerApprovalReply(ctx, inv, answer, out);
    });
  });

  app.event('app_mention', async ({ event, body, context }) => {
    if (event.bot_id || !event.user || typeof event.text !== 'string') return;
    // "!poc … @poc" is also a message event, answered there.
    if (hasCommandPrefix(event.text)) return;
    const text = commandTextOf(event.text, { botUserId: context.botUserId, mention: true }) ?? '';
    const inv = invocationOf('mention', event, event.user, body.team_id ?? context.teamId);
    const out = threadOutbox(web, event.channel, event.thread_ts ?? event.ts);
    await guarded('a mention', () => executeCommand(ctx, inv, text, out));
  });

  app.command(/^\/poc\b/, async ({ ack, command, respond }) => {
    await ack();
    const inv: Invocation = {
      source: 'slash',
      team: command.team_id,
      channel: command.channel_id,
      user: command.user_id,
      triggerId: command.trigger_id,
    };
    const out = slashOutbox(web, command.channel_id, command.user_id, respond);
    await guarded('a slash command', () => executeCommand(ctx, inv, unescapeSlack(command.text ?? ''), out));
  });

  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: /^poc_/ },
    async ({ ack, body, action }) => {
      await ack();
      const container = body.container as { channel_id?: string; thread_ts?: string; message_ts?: string };
      const channel = body.channel?.id ?? container.channel_id;
      if (!channel) return;
      const threadTs = container.thread_ts ?? body.message?.thread_ts ?? body.message?.ts ?? container.message_ts;
      const user = body.user.id;
      const click = { actionId: action.action_id, value: action.value, user, channel };
      await guarded('a button', () => executeButton(ctx, click, clickOutbox(web, channel, user, threadTs)));
    },
  );

  app.error(async (err) => {
    log(redact(`slack: unhandled error: ${err.message}`));
  });

  try {
    await app.init();
  } catch (err) {
    if (ownClient) await temporal.connection.close().catch(() => undefined);
    throw new SlackBotConfigError([
      `Slack did not accept SLACK_BOT_TOKEN (auth.test: ${redact((err as Error).message)})`,
    ]);
  }

  let port: number | undefined;
  try {
    const started = (settings.mode === 'http' ? await app.start(settings.port) : await app.start()) as unknown;
    if (settings.mode === 'http') port = ((started as Server).address() as AddressInfo).port;
  } catch (err) {
    if (ownClient) await temporal.connection.close().catch(() => undefined);
    const why = redact((err as Error).message);
    throw new SlackBotConfigError([
      settings.mode === 'socket'
        ? `Socket Mode did not connect (${why}); check SLACK_APP_TOKEN and that Socket Mode is enabled for the app`
        : `cannot listen on POC_SLACK_PORT=${settings.port} (${why})`,
    ]);
  }
  const listening = settings.mode === 'socket' ? 'Socket Mode' : `HTTP on port ${port}, /slack/events`;
  log(`Slack bot up (${listening}); ${ctx.access.describe()}`);

  let stopped: Promise<void> | undefined;
  return {
    mode: settings.mode,
    port,
    stop() {
      stopped ??= (async () => {
        if (receiver instanceof SocketModeReceiver) {
          // Bolt's stop() does not wait for the socket to close; the client's disconnect() does.
          await Promise.race([
            receiver.client.disconnect(),
            new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
          ]);
        } else {
          await app.stop().catch(() => undefined);
        }
        // Let commands under way finish (a start that reached Temporal is idempotent anyway).
        await Promise.race([
          Promise.allSettled([...inflight]),
          new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
        ]);
        if (ownClient) await temporal.connection.close().catch(() => undefined);
      })();
      return stopped;
    },
  };
}
