/**
 * `toSlackFailure` (activities/slack.ts): Slack's errors as Temporal failures that say whether
 * another attempt can help. The errors are @slack/web-api's own classes, built as its WebClient
 * builds them, and the same errors thrown by a real WebClient against a 127.0.0.1 server.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/activity';
import {
  ErrorCode,
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import { toSlackFailure } from '../../activities/slack.js';

function shape(failure: ApplicationFailure) {
  expect(failure).toBeInstanceOf(ApplicationFailure);
  return {
    message: failure.message,
    type: failure.type,
    nonRetryable: failure.nonRetryable,
    nextRetryDelay: failure.nextRetryDelay,
  };
}
const rejected = (message: string) => ({
  message,
  type: 'SlackRejected',
  nonRetryable: true,
  nextRetryDelay: undefined,
});
const unavailable = (message: string, nextRetryDelay?: number) => ({
  message,
  type: 'SlackUnavailable',
  nonRetryable: false,
  nextRetryDelay,
});
/** What the WebClient throws for an `{ ok: false, error }` answer. */
const platform = (error: string) => new WebAPIPlatformError({ ok: false, error });

/** Answers no retry can change, and the hint each one gets. */
const PERMANENT: [string, string][] = [
  ['invalid_auth', ' (check SLACK_BOT_TOKEN)'],
  ['not_authed', ' (check SLACK_BOT_TOKEN)'],
  ['token_revoked', ' (check SLACK_BOT_TOKEN)'],
  ['not_in_channel', ' (invite the app to the channel: /invite @poc)'],
  ['channel_not_found', ' (invite the app to the channel: /invite @poc)'],
  ...[
    'account_inactive',
    'token_expired',
    'no_permission',
    'missing_scope',
    'not_allowed_token_type',
    'ekm_access_denied',
    'team_access_not_granted',
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
  ].map((code): [string, string] => [code, '']),
];

describe('toSlackFailure', () => {
  test.each(PERMANENT)('platform error %s is permanent', (code, hint) => {
    expect(shape(toSlackFailure(platform(code)))).toEqual(rejected(`Slack: An API error occurred: ${code}${hint}`));
  });

  test.each([
    'ratelimited',
    'internal_error',
    'fatal_error',
    'service_unavailable',
    'request_timeout',
    'message_not_found',
  ])('platform error %s is retried', (code) => {
    expect(shape(toSlackFailure(platform(code)))).toEqual(unavailable(`Slack: An API error occurred: ${code}`));
  });

  test('a platform error with an empty error code is retried', () => {
    expect(shape(toSlackFailure(platform('')))).toEqual(unavailable('Slack: An API error occurred: '));
  });

  test.each<[number, number]>([
    [0, 0],
    [1, 1_000],
    [30, 30_000],
    [300, 300_000],
    [301, 300_000],
    [86_400, 300_000],
  ])('rate limited, retry after %i s: the next attempt in %i ms', (retryAfter, delay) => {
    expect(shape(toSlackFailure(new WebAPIRateLimitedError(retryAfter)))).toEqual(
      unavailable(`Slack: A rate-limit has been reached, you may retry this request in ${retryAfter} seconds`, delay),
    );
  });

  test.each([400, 401, 403, 404, 410, 413])('HTTP %i is permanent', (status) => {
    const err = new WebAPIHTTPError(status, 'No', { 'content-type': 'text/plain' }, 'no');
    expect(shape(toSlackFailure(err))).toEqual(
      rejected(`Slack: An HTTP protocol error occurred: statusCode = ${status}`),
    );
  });

  test.each([429, 500, 502, 503, 504])('HTTP %i is retried', (status) => {
    const err = new WebAPIHTTPError(status, 'Busy', {}, '{"ok":false}');
    expect(shape(toSlackFailure(err))).toEqual(
      unavailable(`Slack: An HTTP protocol error occurred: statusCode = ${status}`),
    );
  });

  test('a request that never got an answer is retried', () => {
    const err = new WebAPIRequestError(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
    );
    expect(err.code).toBe(ErrorCode.RequestError);
    expect(shape(toSlackFailure(err))).toEqual(
      unavailable('Slack: A request error occurred: connect ECONNREFUSED 127.0.0.1:9'),
    );
  });

  test.each<[string, unknown, string]>([
    ['an Error', new Error('chat.postMessage answered without a ts'), 'Slack: chat.postMessage answered without a ts'],
    ['a string', 'odd', 'Slack: odd'],
    ['null', null, 'Slack: null'],
    ['a coded error of another kind', Object.assign(new Error('x'), { code: 'slack_webapi_other' }), 'Slack: x'],
  ])('anything else (%s) is retried', (_name, err, message) => {
    expect(shape(toSlackFailure(err))).toEqual(unavailable(message));
  });

  test('an ApplicationFailure passes through as it is', () => {
    const failure = ApplicationFailure.nonRetryable('no token', 'SlackNotConfigured');
    expect(toSlackFailure(failure)).toBe(failure);
  });

  test('the message goes through the redactor; the hint is added after it', () => {
    const redact = (text: string) => text.replace(/xoxb-[\w-]+/g, '[redacted:SLACK_BOT_TOKEN]');
    expect(toSlackFailure(new Error('bad token xoxb-123-abc'), redact).message).toBe(
      'Slack: bad token [redacted:SLACK_BOT_TOKEN]',
    );
    expect(
      toSlackFailure(new WebAPIPlatformError({ ok: false, error: 'invalid_auth' }), (t) => t.toUpperCase()).message,
    ).toBe('SLACK: AN API ERROR OCCURRED: INVALID_AUTH (check SLACK_BOT_TOKEN)');
  });
});

describe('the same errors from a real WebClient', () => {
  /** Slack's Web API, scripted per method: `{ ok: false }` bodies, HTTP errors, a 429 with Retry-After. */
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const method = req.url?.replace(/^\/api\//, '');
      if (method === 'chat.postMessage') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'not_in_channel' }));
      } else if (method === 'chat.update') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'internal_error' }));
      } else if (method === 'chat.delete') {
        res.writeHead(429, { 'retry-after': '7' });
        res.end();
      } else if (method === 'chat.getPermalink') {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('down');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no such method');
      }
    });
  });
  let client: WebClient;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new WebClient('xoxb-test', {
      slackApiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: LogLevel.ERROR,
      logger: {
        debug() {},
        info() {},
        warn() {},
        error() {},
        setLevel() {},
        getLevel: () => LogLevel.ERROR,
        setName() {},
      },
    });
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function failureOf(call: () => Promise<unknown>) {
    try {
      await call();
    } catch (err) {
      return shape(toSlackFailure(err));
    }
    throw new Error('the call succeeded');
  }

  test('a platform error: permanent with its hint, or retried', async () => {
    expect(await failureOf(() => client.chat.postMessage({ channel: 'C1', text: 'x' }))).toEqual(
      rejected('Slack: An API error occurred: not_in_channel (invite the app to the channel: /invite @poc)'),
    );
    expect(await failureOf(() => client.chat.update({ channel: 'C1', ts: '1.2', text: 'x' }))).toEqual(
      unavailable('Slack: An API error occurred: internal_error'),
    );
  });

  test('a 429 with Retry-After sets the next attempt', async () => {
    expect(await failureOf(() => client.chat.delete({ channel: 'C1', ts: '1.2' }))).toEqual(
      unavailable('Slack: A rate-limit has been reached, you may retry this request in 7 seconds', 7_000),
    );
  });

  test('HTTP errors: 5xx retried, 4xx permanent', async () => {
    expect(await failureOf(() => client.chat.getPermalink({ channel: 'C1', message_ts: '1.2' }))).toEqual(
      unavailable('Slack: An HTTP protocol error occurred: statusCode = 503'),
    );
    expect(await failureOf(() => client.auth.test())).toEqual(
      rejected('Slack: An HTTP protocol error occurred: statusCode = 404'),
    );
  });
});
