/** Secret redaction (activities/redact.ts): what must never reach a log, Slack or the CLI. */
import { describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { createRedactor } from '../../core/redact.js';

describe('createRedactor', () => {
  test('replaces the values of secret-named variables by their name', () => {
    const redact = createRedactor({
      OPENAI_API_KEY: 'abc123secret',
      SLACK_BOT_TOKEN: 'tok-987654',
      DB_PASSWORD: 'hunter2hunter2',
      HOME: '/home/someone',
    });
    assert.equal(
      redact('key=abc123secret token=tok-987654 pw=hunter2hunter2 home=/home/someone'),
      'key=[redacted:OPENAI_API_KEY] token=[redacted:SLACK_BOT_TOKEN] pw=[redacted:DB_PASSWORD] home=/home/someone',
    );
    assert.equal(
      redact('twice abc123secret abc123secret'),
      'twice [redacted:OPENAI_API_KEY] [redacted:OPENAI_API_KEY]',
    );
  });

  test('leaves short values alone: they are too likely to be ordinary words', () => {
    const redact = createRedactor({ SOME_TOKEN: 'true', OTHER_KEY: '' });
    assert.equal(redact('the flag is true'), 'the flag is true');
  });

  test('a secret containing another is replaced whole', () => {
    const redact = createRedactor({ SHORT_KEY: 'secret1', LONG_KEY: 'secret1-and-more' });
    assert.equal(redact('x secret1-and-more y secret1'), 'x [redacted:LONG_KEY] y [redacted:SHORT_KEY]');
  });

  test('extra names mark other variables as secret', () => {
    const redact = createRedactor({ WEBHOOK_URL: 'https://hooks.example/abc' }, ['WEBHOOK_URL']);
    assert.equal(redact('posting to https://hooks.example/abc'), 'posting to [redacted:WEBHOOK_URL]');
  });

  test('well-known token shapes are caught even when no variable holds them', () => {
    const redact = createRedactor({});
    assert.equal(redact('xoxb-1234567890-abcdef'), '[redacted:slack-token]');
    assert.equal(redact('xapp-1-A0123-4567890-abc'), '[redacted:slack-app-token]');
    assert.equal(redact('sk-ant-api03-aaaaaaaaaaaaaaaaaaaa'), '[redacted:anthropic-key]');
    assert.equal(redact('Bearer sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX'), 'Bearer [redacted:openai-key]');
    assert.equal(redact('a sk-short one'), 'a sk-short one');
  });
});
