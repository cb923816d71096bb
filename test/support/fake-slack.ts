/**
 * A local Slack for tests, speaking the real protocols so the real Bolt app and the real
 * WebClient run unmodified against it:
 *   - the Web API over HTTP (`/api/<method>`, form-encoded or JSON, `blocks` as a JSON string),
 *     with Slack's size limits enforced and scripted failures (429 + Retry-After, 500, errors);
 *   - Socket Mode over a WebSocket (`apps.connections.open` → ws://…): `hello`, envelopes
 *     (events_api with retry_attempt, slash_commands, interactive), acks by envelope_id timed
 *     from send to ack, server pings;
 *   - `response_url`s of slash commands and buttons.
 * Everything posted is recorded; tests wait on `change` events (`waitFor`) rather than sleeping.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';

export interface TextObject {
  type: string;
  text: string;
}
export interface ButtonElement {
  type: string;
  action_id: string;
  text: TextObject;
  value?: string;
  url?: string;
  style?: string;
}
export interface Block {
  type: string;
  block_id?: string;
  text?: TextObject;
  elements?: (TextObject | ButtonElement)[];
}

export interface MessageVersion {
  text: string;
  blocks: Block[];
}

export interface PostedMessage {
  channel: string;
  ts: string;
  threadTs: string | null;
  /** The bot user for API posts; the sender for messages sent by tests. */
  user: string;
  fromBot: boolean;
  /** Current content. */
  text: string;
  blocks: Block[];
  /** As posted, then after each `chat.update`. */
  versions: MessageVersion[];
  deleted: boolean;
  /** performance.now() when it was posted (latency measurements). */
  postedAt: number;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  threadTs: string | null;
  text: string;
  blocks: Block[];
}

export interface ResponseUrlPost {
  /** The trigger id of the slash command (or the envelope id of the click) it belongs to. */
  for: string;
  body: Record<string, unknown>;
}

export interface ApiCall {
  method: string;
  params: Record<string, unknown>;
  contentType: string;
  /** Date.now() when it arrived. */
  at: number;
  /** What the fake answered: `ok`, a Slack error code, or `http <status>`. */
  outcome?: string;
}

export interface EnvelopeRecord {
  envelopeId: string;
  type: 'events_api' | 'slash_commands' | 'interactive';
  payload: Record<string, unknown>;
  retryAttempt: number;
  sentAt?: number;
  ackedAt?: number;
  /** Milliseconds from sending the envelope to receiving its ack. */
  ackMs?: number;
  ackPayload?: unknown;
  /** Sent on a connection that closed before the ack: Slack delivered it again (a new record). */
  redelivered?: boolean;
}

export type ScriptedFailure = { status: 429; retryAfter: number } | { status: 500 } | { error: string };

interface PlannedFailure {
  failure: ScriptedFailure;
  /** Only calls whose parameters match; any call of the method when absent. */
  when?: (params: Record<string, unknown>) => boolean;
}

export interface Delivery {
  envelopeId: string;
  /** Resolves with the ack time in ms. */
  acked: Promise<number>;
  record: EnvelopeRecord;
}

export interface MessageDelivery extends Delivery {
  ts: string;
}

export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  /** Server pings on every socket this often (Slack does every few seconds; the client expects ≤ 30 s). */
  pingIntervalMs?: number;
  /** Deliver the bot's own posts back to it as message events, as Slack does. */
  echoBotMessages?: boolean;
}

const LIMITS = { sectionText: 3_000, blocks: 50, text: 40_000, buttonText: 75, buttonValue: 2_000 };

export function escapeLikeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Every text a person would see in a message: the text, sections, context and button labels. */
export function textOf(message: { text: string; blocks: Block[] }): string {
  const parts = [message.text];
  for (const block of message.blocks ?? []) {
    if (block.text?.text) parts.push(block.text.text);
    for (const element of block.elements ?? []) {
      if ('action_id' in element) parts.push(`[${element.text.text}]`);
      else if (element.text) parts.push(element.text);
    }
  }
  return parts.join('\n');
}

export function buttonsOf(message: { blocks: Block[] }): ButtonElement[] {
  return (message.blocks ?? []).flatMap((block) =>
    block.type === 'actions' ? ((block.elements ?? []).filter((e) => 'action_id' in e) as ButtonElement[]) : [],
  );
}

export class FakeSlack extends EventEmitter {
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  /** Messages in order: the bot's posts and the messages tests sent. */
  readonly messages: PostedMessage[] = [];
  readonly ephemerals: EphemeralMessage[] = [];
  readonly responses: ResponseUrlPost[] = [];
  readonly calls: ApiCall[] = [];
  readonly envelopes: EnvelopeRecord[] = [];
  /** Socket Mode connections opened so far (a restarted bot opens a new one). */
  connectionsOpened = 0;

  private server!: http.Server;
  private wss!: WebSocketServer;
  private sockets = new Set<WebSocket>();
  /** Envelopes sent on each connection and not acked yet. */
  private inFlight = new Map<WebSocket, Set<EnvelopeRecord>>();
  private queue: EnvelopeRecord[] = [];
  private failures = new Map<string, PlannedFailure[]>();
  private channelErrors = new Map<string, string>();
  private tickets = new Set<string>();
  private seq = 0;
  private readonly pingIntervalMs: number;
  private readonly echo: boolean;
  port = 0;

  constructor(opts: FakeSlackOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.botToken = opts.botToken ?? 'xoxb-fake-bot-token';
    this.appToken = opts.appToken ?? 'xapp-fake-app-token';
    this.teamId = opts.teamId ?? 'T0FAKE';
    this.botUserId = opts.botUserId ?? 'U0POCBOT';
    this.botId = opts.botId ?? 'B0POCBOT';
    this.pingIntervalMs = opts.pingIntervalMs ?? 5_000;
    this.echo = opts.echoBotMessages ?? true;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      this.handleHttp(req, res).catch((err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(err.message);
      });
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const ticket = url.searchParams.get('ticket') ?? '';
      if (url.pathname !== '/link' || !this.tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `times` calls of `method` fail this way. */
  failNext(
    method: string,
    failure: ScriptedFailure,
    times = 1,
    when?: (params: Record<string, unknown>) => boolean,
  ): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push({ failure, when });
    this.failures.set(method, list);
  }

  /** Every post to `channel` fails with `error` (e.g. not_in_channel) until cleared with undefined. */
  setChannelError(channel: string, error: string | undefined): void {
    if (error) this.channelErrors.set(channel, error);
    else this.channelErrors.delete(channel);
  }

  nextTs(): string {
    this.seq += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.seq).padStart(6, '0')}`;
  }

  // ---------------------------------------------------------------- waiting

  /** Resolves with the first truthy value of `check`, re-evaluated on every change of the fake. */
  waitFor<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
    const first = check();
    if (first) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const onChange = () => {
        let value: T | undefined | null | false;
        try {
          value = check();
        } catch (err) {
          cleanup();
          reject(err);
          return;
        }
        if (value) {
          cleanup();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('change', onChange);
      };
      this.on('change', onChange);
    });
  }

  /** The bot's messages in a thread (or at top level of a channel when threadTs is null). */
  botMessages(channel: string, threadTs?: string | null): PostedMessage[] {
    return this.messages.filter(
      (m) => m.fromBot && !m.deleted && m.channel === channel && (threadTs === undefined || m.threadTs === threadTs),
    );
  }

  /** A readable dump for failure messages. */
  describe(): string {
    const lines = this.messages.slice(-20).map((m) => {
      const where = `${m.channel}${m.threadTs ? `/${m.threadTs}` : ''}`;
      const text = textOf(m).replace(/\n/g, ' ⏎ ').slice(0, 400);
      const version = `v${m.versions.length}${m.deleted ? ', deleted' : ''}`;
      return `  ${m.fromBot ? 'bot ' : 'user'} ${m.ts} in ${where} (${version}): ${text}`;
    });
    const eph = this.ephemerals.slice(-5).map((e) => `  ephemeral to ${e.user}: ${e.text.slice(0, 200)}`);
    const resp = this.responses.slice(-5).map((r) => `  response_url ${r.for}: ${String(r.body.text).slice(0, 200)}`);
    return ['fake Slack, last messages:', ...lines, ...eph, ...resp].join('\n');
  }

  // ---------------------------------------------------------------- what Slack sends

  /** A person writes in a channel (or a thread). The text is escaped as Slack does unless `escaped`. */
  sendMessage(opts: {
    text: string;
    user?: string;
    channel?: string;
    threadTs?: string;
    ts?: string;
    escaped?: boolean;
    channelType?: 'channel' | 'group' | 'im';
    /** The workspace the event comes from (default: this fake's team). */
    team?: string;
  }): MessageDelivery {
    const channel = opts.channel ?? 'C0GENERAL';
    const user = opts.user ?? 'U0ALICE';
    const ts = opts.ts ?? this.nextTs();
    const text = opts.escaped ? opts.text : escapeLikeSlack(opts.text);
    this.record({ channel, ts, threadTs: opts.threadTs ?? null, user, fromBot: false, text, blocks: [] });
    const event: Record<string, unknown> = {
      type: 'message',
      channel,
      user,
      text,
      ts,
      event_ts: ts,
      channel_type: opts.channelType ?? 'channel',
      team: opts.team ?? this.teamId,
      ...(opts.threadTs ? { thread_ts: opts.threadTs, parent_user_id: 'U0SOMEONE' } : {}),
    };
    return { ...this.sendEvent(event, 0, opts.team), ts };
  }

  /** A person mentions the bot: Slack sends an app_mention (and, separately, the message event). */
  sendMention(opts: {
    text: string;
    user?: string;
    channel?: string;
    threadTs?: string;
    ts?: string;
  }): MessageDelivery {
    const channel = opts.channel ?? 'C0GENERAL';
    const user = opts.user ?? 'U0ALICE';
    const ts = opts.ts ?? this.nextTs();
    const text = `<@${this.botUserId}> ${escapeLikeSlack(opts.text)}`;
    return {
      ...this.sendEvent({
        type: 'app_mention',
        channel,
        user,
        text,
        ts,
        event_ts: ts,
        team: this.teamId,
        ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
      }),
      ts,
    };
  }

  sendEvent(event: Record<string, unknown>, retryAttempt = 0, team = this.teamId): Delivery {
    const payload = {
      token: 'fake-verification-token',
      team_id: team,
      api_app_id: 'A0POC',
      event,
      type: 'event_callback',
      event_id: `Ev${crypto.randomBytes(6).toString('hex').toUpperCase()}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [
        {
          enterprise_id: null,
          team_id: this.teamId,
          user_id: this.botUserId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
    };
    return this.sendEnvelope('events_api', payload, retryAttempt);
  }

  /** Slack delivers the same event again (the ack was late or lost): same payload, new envelope. */
  redeliver(delivery: Delivery): Delivery {
    const attempt = delivery.record.retryAttempt + 1;
    return this.sendEnvelope(delivery.record.type, delivery.record.payload, attempt);
  }

  sendSlashCommand(opts: {
    text: string;
    user?: string;
    channel?: string;
    command?: string;
    triggerId?: string;
    team?: string;
  }): Delivery & { triggerId: string } {
    const triggerId =
      opts.triggerId ??
      `${Date.now()}.${crypto.randomBytes(4).readUInt32BE()}.${crypto.randomBytes(8).toString('hex')}`;
    const channel = opts.channel ?? 'C0GENERAL';
    const payload = {
      token: 'fake-verification-token',
      team_id: opts.team ?? this.teamId,
      team_domain: 'fake',
      channel_id: channel,
      channel_name: channel.toLowerCase(),
      user_id: opts.user ?? 'U0ALICE',
      user_name: (opts.user ?? 'U0ALICE').toLowerCase(),
      command: opts.command ?? '/poc',
      text: escapeLikeSlack(opts.text),
      api_app_id: 'A0POC',
      is_enterprise_install: 'false',
      response_url: `http://127.0.0.1:${this.port}/respond/${encodeURIComponent(triggerId)}`,
      trigger_id: triggerId,
    };
    return { ...this.sendEnvelope('slash_commands', payload), triggerId };
  }

  /** A person clicks a button that is on screen in `message` now (fails if it is not there). */
  clickButton(message: PostedMessage, actionId: string, opts: { user?: string; team?: string } = {}): Delivery {
    const block = message.blocks.find(
      (b) => b.type === 'actions' && (b.elements ?? []).some((e) => 'action_id' in e && e.action_id === actionId),
    );
    const button =
      block &&
      ((block.elements ?? []).find((e) => 'action_id' in e && e.action_id === actionId) as ButtonElement | undefined);
    if (!block || !button)
      throw new Error(
        `no button ${actionId} on message ${message.ts}; buttons: ${
          buttonsOf(message)
            .map((b) => b.action_id)
            .join(', ') || 'none'
        }`,
      );
    return this.sendBlockAction(message, block.block_id ?? 'b', button, opts.user ?? 'U0ALICE', opts.team);
  }

  /** A click on a button as it was on an older version of the message (a stale screen). */
  clickOldButton(message: PostedMessage, version: number, actionId: string, opts: { user?: string } = {}): Delivery {
    const old = message.versions[version];
    if (!old) throw new Error(`message ${message.ts} has no version ${version}`);
    return this.clickButton({ ...message, blocks: old.blocks }, actionId, opts);
  }

  private sendBlockAction(
    message: PostedMessage,
    blockId: string,
    button: ButtonElement,
    user: string,
    team = this.teamId,
  ): Delivery {
    const triggerId = `${Date.now()}.${crypto.randomBytes(8).toString('hex')}`;
    const payload = {
      type: 'block_actions',
      user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: team },
      api_app_id: 'A0POC',
      token: 'fake-verification-token',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: message.channel,
        is_ephemeral: false,
        ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      },
      trigger_id: triggerId,
      team: { id: team, domain: 'fake' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: message.channel, name: message.channel.toLowerCase() },
      message: {
        type: 'message',
        user: message.user,
        bot_id: message.fromBot ? this.botId : undefined,
        ts: message.ts,
        text: message.text,
        blocks: message.blocks,
        ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      },
      state: { values: {} },
      response_url: `http://127.0.0.1:${this.port}/respond/${encodeURIComponent(triggerId)}`,
      actions: [
        {
          action_id: button.action_id,
          block_id: blockId,
          text: button.text,
          value: button.value,
          ...(button.style ? { style: button.style } : {}),
          type: 'button',
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    };
    return this.sendEnvelope('interactive', payload);
  }

  private sendEnvelope(type: EnvelopeRecord['type'], payload: Record<string, unknown>, retryAttempt = 0): Delivery {
    const record: EnvelopeRecord = { envelopeId: crypto.randomUUID(), type, payload, retryAttempt };
    this.envelopes.push(record);
    const acked = new Promise<number>((resolve) => {
      const onAck = (r: EnvelopeRecord) => {
        if (r === record) {
          this.off('ack', onAck);
          resolve(r.ackMs as number);
        }
      };
      this.on('ack', onAck);
    });
    const socket = this.openSocket();
    if (socket) this.transmit(socket, record);
    else this.queue.push(record);
    return { envelopeId: record.envelopeId, acked, record };
  }

  private transmit(socket: WebSocket, record: EnvelopeRecord): void {
    const frame = {
      envelope_id: record.envelopeId,
      payload: record.payload,
      type: record.type,
      accepts_response_payload: record.type !== 'events_api',
      ...(record.type === 'events_api'
        ? { retry_attempt: record.retryAttempt, retry_reason: record.retryAttempt ? 'timeout' : '' }
        : {}),
    };
    record.sentAt = performance.now();
    this.inFlight.get(socket)?.add(record);
    socket.send(JSON.stringify(frame));
  }

  private openSocket(): WebSocket | undefined {
    return [...this.sockets].reverse().find((ws) => ws.readyState === WebSocket.OPEN);
  }

  /** Ack times (ms) of every envelope acked so far. */
  ackTimes(): number[] {
    return this.envelopes.filter((e) => e.ackMs !== undefined).map((e) => e.ackMs as number);
  }

  /** Socket Mode connections open now. */
  get openConnections(): number {
    return [...this.sockets].filter((ws) => ws.readyState === WebSocket.OPEN).length;
  }

  /** Envelopes sent but never acked (and not delivered again after their connection closed). */
  unacked(): EnvelopeRecord[] {
    return this.envelopes.filter((e) => e.sentAt !== undefined && e.ackedAt === undefined && !e.redelivered);
  }

  // ---------------------------------------------------------------- Socket Mode

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    this.inFlight.set(ws, new Set());
    this.connectionsOpened += 1;
    const ping = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    }, this.pingIntervalMs);
    ws.on('message', (data) => {
      let frame: { envelope_id?: string; payload?: unknown };
      try {
        frame = JSON.parse(String(data));
      } catch {
        return;
      }
      const record = frame.envelope_id ? this.envelopes.find((e) => e.envelopeId === frame.envelope_id) : undefined;
      if (!record || record.ackedAt !== undefined) return;
      this.inFlight.get(ws)?.delete(record);
      record.ackedAt = performance.now();
      record.ackMs = record.ackedAt - (record.sentAt ?? record.ackedAt);
      record.ackPayload = frame.payload;
      this.emit('ack', record);
      this.emit('change');
    });
    ws.on('close', () => {
      clearInterval(ping);
      this.sockets.delete(ws);
      // What the closed connection never acked, Slack sends again (to another connection, or later).
      const lost = this.inFlight.get(ws) ?? new Set();
      this.inFlight.delete(ws);
      for (const record of lost) {
        record.redelivered = true;
        this.sendEnvelope(record.type, record.payload, record.retryAttempt + 1);
      }
      this.emit('change');
    });
    ws.on('error', () => undefined);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.sockets.size,
        debug_info: { host: 'fake-slack', approximate_connection_time: 18060 },
        connection_info: { app_id: 'A0POC' },
      }),
    );
    // What arrived while no bot was connected is delivered now, as Slack redelivers.
    const waiting = this.queue.splice(0, this.queue.length);
    for (const record of waiting) this.transmit(ws, record);
    this.emit('connected');
    this.emit('change');
  }

  /** Resolves once a bot is connected over Socket Mode (now, or when it connects). */
  connected(): Promise<void> {
    return this.waitFor('a Socket Mode connection', () => this.openSocket() !== undefined).then(() => undefined);
  }

  // ---------------------------------------------------------------- Web API

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await new Promise<string>((resolve, reject) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => resolve(body));
      req.on('error', reject);
    });
    const contentType = String(req.headers['content-type'] ?? '');
    if (url.pathname.startsWith('/respond/')) {
      const body = parseBody(raw, contentType);
      this.responses.push({ for: decodeURIComponent(url.pathname.slice('/respond/'.length)), body });
      this.emit('change');
      return json(res, 200, { ok: true });
    }
    if (!url.pathname.startsWith('/api/') || req.method !== 'POST')
      return json(res, 404, { ok: false, error: 'unknown_method' });
    const method = url.pathname.slice('/api/'.length);
    const params = parseBody(raw, contentType);
    const call: ApiCall = { method, params, contentType, at: Date.now() };
    this.calls.push(call);

    const planned = this.failures.get(method) ?? [];
    const index = planned.findIndex((p) => !p.when || p.when(params));
    if (index >= 0) {
      const [{ failure }] = planned.splice(index, 1);
      if ('status' in failure) {
        call.outcome = `http ${failure.status}`;
        if (failure.status === 429) {
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(failure.retryAfter) });
          res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
        } else {
          res.writeHead(failure.status, { 'content-type': 'text/plain' });
          res.end('internal error');
        }
        this.emit('change');
        return;
      }
      call.outcome = failure.error;
      this.emit('change');
      return json(res, 200, { ok: false, error: failure.error });
    }

    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : typeof params.token === 'string' ? params.token : '';
    const wanted = method === 'apps.connections.open' ? this.appToken : this.botToken;
    const answer = !token
      ? { ok: false, error: 'not_authed' }
      : token !== wanted
        ? {
            ok: false,
            error:
              method === 'apps.connections.open' && token.startsWith('xoxb-')
                ? 'not_allowed_token_type'
                : 'invalid_auth',
          }
        : this.api(method, params);
    call.outcome = answer.ok ? 'ok' : String(answer.error);
    this.emit('change');
    return json(res, 200, answer);
  }

  private api(method: string, p: Record<string, unknown>): Record<string, unknown> {
    const channel = typeof p.channel === 'string' ? p.channel : '';
    const channelCheck = () => {
      if (!/^[CGD][A-Z0-9]{2,}$/.test(channel)) return 'channel_not_found';
      return this.channelErrors.get(channel);
    };
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.invalid/',
          team: 'Fake',
          user: 'poc',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
          is_enterprise_install: false,
        };
      case 'apps.connections.open': {
        const ticket = crypto.randomUUID();
        this.tickets.add(ticket);
        return { ok: true, url: `ws://127.0.0.1:${this.port}/link?ticket=${ticket}` };
      }
      case 'chat.postMessage': {
        const error = channelCheck() ?? checkContent(p);
        if (error) return { ok: false, error };
        const ts = this.nextTs();
        const threadTs = typeof p.thread_ts === 'string' && p.thread_ts ? p.thread_ts : null;
        const message = this.record({
          channel,
          ts,
          threadTs,
          user: this.botUserId,
          fromBot: true,
          text: String(p.text ?? ''),
          blocks: blocksOf(p),
        });
        if (this.echo) {
          this.sendEvent({
            type: 'message',
            channel,
            user: this.botUserId,
            bot_id: this.botId,
            app_id: 'A0POC',
            text: message.text,
            ts,
            event_ts: ts,
            channel_type: 'channel',
            ...(threadTs ? { thread_ts: threadTs } : {}),
          });
        }
        return {
          ok: true,
          channel,
          ts,
          message: { type: 'message', text: message.text, user: this.botUserId, bot_id: this.botId, ts },
        };
      }
      case 'chat.update': {
        const message = this.messages.find((m) => m.channel === channel && m.ts === p.ts && !m.deleted);
        if (!message) return { ok: false, error: 'message_not_found' };
        if (!message.fromBot) return { ok: false, error: 'cant_update_message' };
        const error = checkContent(p);
        if (error) return { ok: false, error };
        message.text = String(p.text ?? '');
        message.blocks = blocksOf(p);
        message.versions.push({ text: message.text, blocks: message.blocks });
        return { ok: true, channel, ts: message.ts, text: message.text };
      }
      case 'chat.delete': {
        const message = this.messages.find((m) => m.channel === channel && m.ts === p.ts && !m.deleted);
        if (!message) return { ok: false, error: 'message_not_found' };
        message.deleted = true;
        return { ok: true, channel, ts: message.ts };
      }
      case 'chat.postEphemeral': {
        const error = channelCheck() ?? checkContent(p);
        if (error) return { ok: false, error };
        this.ephemerals.push({
          channel,
          user: String(p.user ?? ''),
          threadTs: typeof p.thread_ts === 'string' ? p.thread_ts : null,
          text: String(p.text ?? ''),
          blocks: blocksOf(p),
        });
        return { ok: true, message_ts: this.nextTs() };
      }
      case 'conversations.info': {
        const error = channelCheck();
        if (error) return { ok: false, error };
        return { ok: true, channel: { id: channel, name: channel.toLowerCase(), is_channel: true, is_member: true } };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private record(m: Omit<PostedMessage, 'versions' | 'deleted' | 'postedAt'>): PostedMessage {
    const message: PostedMessage = {
      ...m,
      versions: [{ text: m.text, blocks: m.blocks }],
      deleted: false,
      postedAt: performance.now(),
    };
    this.messages.push(message);
    this.emit('posted', message);
    return message;
  }
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('application/json')) {
    try {
      return JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function blocksOf(p: Record<string, unknown>): Block[] {
  if (p.blocks === undefined) return [];
  if (typeof p.blocks === 'string') {
    try {
      return JSON.parse(p.blocks) as Block[];
    } catch {
      return [{ type: 'invalid' }];
    }
  }
  return p.blocks as Block[];
}

/** Slack's checks of a message: what real Slack would refuse, the fake refuses too. */
function checkContent(p: Record<string, unknown>): string | undefined {
  const text = typeof p.text === 'string' ? p.text : '';
  const blocks = blocksOf(p);
  if (!text && blocks.length === 0) return 'no_text';
  if (text.length > LIMITS.text) return 'msg_too_long';
  if (!Array.isArray(blocks) || blocks.length > LIMITS.blocks) return 'invalid_blocks';
  for (const block of blocks) {
    if (!block || typeof block.type !== 'string' || block.type === 'invalid') return 'invalid_blocks_format';
    if (
      block.text &&
      (typeof block.text.text !== 'string' ||
        block.text.text.length > LIMITS.sectionText ||
        block.text.text.length === 0)
    )
      return 'invalid_blocks';
    for (const element of block.elements ?? []) {
      if ('action_id' in element) {
        if (element.text.text.length > LIMITS.buttonText) return 'invalid_blocks';
        if (element.value !== undefined && element.value.length > LIMITS.buttonValue) return 'invalid_blocks';
      } else if (typeof element.text !== 'string' || element.text.length > LIMITS.sectionText) return 'invalid_blocks';
    }
    if (block.type === 'actions') {
      const ids = (block.elements ?? []).map((e) => ('action_id' in e ? e.action_id : ''));
      if (new Set(ids).size !== ids.length) return 'invalid_blocks';
    }
  }
  return undefined;
}

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  return new FakeSlack(opts).start();
}

// ---------------------------------------------------------------- HTTP mode (Events API over HTTP)

/** Slack's request signature: v0=HMAC-SHA256(secret, `v0:{timestamp}:{body}`). */
export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${crypto.createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** Posts to a Bolt HTTP endpoint as Slack does: signed with `secret` (or forged with another). */
export async function postSignedToBolt(
  url: string,
  opts: { body: string; contentType: string; secret: string; timestamp?: number; retryNum?: number },
): Promise<{ status: number; text: string }> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': opts.contentType,
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': slackSignature(opts.secret, timestamp, opts.body),
      ...(opts.retryNum ? { 'x-slack-retry-num': String(opts.retryNum), 'x-slack-retry-reason': 'http_timeout' } : {}),
    },
    body: opts.body,
  });
  return { status: response.status, text: await response.text() };
}
