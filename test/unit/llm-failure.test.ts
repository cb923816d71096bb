/**
 * `toFailure` (activities/llm.ts): the provider taxonomy as Temporal failures — fatal errors are
 * not retried, rate limits wait what the server asked (capped), a stalled answer is a timeout,
 * and every message is redacted.
 */
import { describe, expect, test } from '@jest/globals';
import { ApplicationFailure } from '@temporalio/activity';
import { toFailure } from '../../activities/llm.js';
import { LlmError } from '../../providers/types.js';

/** What the workflow and Temporal's retry policy look at. */
function shape(failure: ApplicationFailure) {
  expect(failure).toBeInstanceOf(ApplicationFailure);
  return {
    message: failure.message,
    type: failure.type,
    nonRetryable: failure.nonRetryable,
    details: failure.details,
    nextRetryDelay: failure.nextRetryDelay,
  };
}

describe('toFailure', () => {
  test('a fatal provider error is not retried and carries its status', () => {
    expect(shape(toFailure(new LlmError('fatal', 'openai', 'openai: 401 invalid API key', 401), 'openai'))).toEqual({
      message: 'openai: 401 invalid API key',
      type: 'LlmFatal',
      nonRetryable: true,
      details: [{ status: 401 }],
      nextRetryDelay: undefined,
    });
    expect(shape(toFailure(new LlmError('fatal', 'openai', 'openai: no API key'), 'openai')).details).toEqual([
      { status: null },
    ]);
  });

  test.each<[string, number | undefined, number | undefined]>([
    ['no retry-after: Temporal backs off', undefined, undefined],
    ['retry-after honoured', 3_000, 3_000],
    ['retry-after of zero', 0, 0],
    ['a retry-after in the past (negative) is now', -5, 0],
    ['retry-after capped at five minutes', 3_600_000, 300_000],
  ])('a retryable error: %s', (_name, retryAfterMs, delay) => {
    const err = new LlmError('retryable', 'anthropic', 'anthropic: 429 rate limited', 429, retryAfterMs);
    expect(shape(toFailure(err, 'anthropic'))).toEqual({
      message: 'anthropic: 429 rate limited',
      type: 'LlmRetryable',
      nonRetryable: false,
      details: [{ status: 429 }],
      nextRetryDelay: delay,
    });
  });

  test('a cancelled provider error that was not a cancellation of the activity is retried', () => {
    expect(shape(toFailure(new LlmError('cancelled', 'ollama', 'ollama: request cancelled'), 'ollama'))).toEqual({
      message: 'ollama: request cancelled',
      type: 'LlmRetryable',
      nonRetryable: false,
      details: [{ status: null }],
      nextRetryDelay: undefined,
    });
  });

  test.each<[string, unknown, string]>([
    ['an Error', new Error('socket exploded'), 'ollama: socket exploded'],
    ['a string', 'weird', 'ollama: weird'],
    ['undefined', undefined, 'ollama: undefined'],
  ])('anything else (%s) is retried, named by backend', (_name, err, message) => {
    expect(shape(toFailure(err, 'ollama'))).toEqual({
      message,
      type: 'LlmRetryable',
      nonRetryable: false,
      details: undefined,
      nextRetryDelay: undefined,
    });
  });

  test.each<[number, string]>([
    [30_000, 'openai: no data for 30 s; the request was abandoned and will be retried'],
    [1_499, 'openai: no data for 1 s; the request was abandoned and will be retried'],
    [120_600, 'openai: no data for 121 s; the request was abandoned and will be retried'],
  ])('a stall of %i ms is a retryable timeout, whatever error the abort caused', (stalledAfterMs, message) => {
    const fatal = new LlmError('fatal', 'openai', 'openai: 400 request rejected', 400);
    for (const err of [fatal, new Error('stalled')]) {
      expect(shape(toFailure(err, 'openai', stalledAfterMs))).toEqual({
        message,
        type: 'LlmTimeout',
        nonRetryable: false,
        details: undefined,
        nextRetryDelay: undefined,
      });
    }
  });

  test('secrets in any message are redacted', () => {
    const key = 'sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX';
    expect(toFailure(new LlmError('fatal', 'openai', `openai: 401 bad key ${key}`, 401), 'openai').message).toBe(
      'openai: 401 bad key [redacted:openai-key]',
    );
    expect(toFailure(new LlmError('retryable', 'openai', `retry ${key}`), 'openai').message).toBe(
      'retry [redacted:openai-key]',
    );
    expect(toFailure(new Error('token xoxb-1234567890-abcdef leaked'), 'anthropic').message).toBe(
      'anthropic: token [redacted:slack-token] leaked',
    );
  });
});
