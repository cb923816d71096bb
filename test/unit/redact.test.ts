/** Secret redaction (activities/redact.ts): what must never reach a log, Slack or the CLI. */
import { describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { createRedactor, redact } from '../../core/redact.js';

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

describe('createRedactor, the edges', () => {
  test.each([
    'OPENAI_API_KEY',
    'TEMPORAL_TLS_CLIENT_KEY_DATA',
    'SLACK_BOT_TOKEN',
    'SLACK_SIGNING_SECRET',
    'DB_PASSWORD',
    'FTP_PASSWD',
    'GCP_CREDENTIAL',
    'AWS_CREDENTIALS',
    'SSH_PRIVATE',
    'my_token',
    'Api_Key',
  ])('%s holds a secret', (name) => {
    expect(createRedactor({ [name]: 'value-123456' })('is value-123456.')).toBe(`is [redacted:${name}].`);
  });

  test.each(['TOKEN_URL', 'KEYBOARD', 'SECRETARY', 'PASSWORD_HINT', 'HOME', 'PATH'])(
    '%s does not (the name must end with the word)',
    (name) => {
      expect(createRedactor({ [name]: 'value-123456' })('is value-123456.')).toBe('is value-123456.');
    },
  );

  test('six characters are enough to be a secret, five are not', () => {
    const redact = createRedactor({ SIX_TOKEN: 'abcdef', FIVE_TOKEN: 'vwxyz' });
    expect(redact('abcdef vwxyz')).toBe('[redacted:SIX_TOKEN] vwxyz');
  });

  test('values are matched literally, not as patterns', () => {
    const redact = createRedactor({ ODD_SECRET: 'a.b*c+(d)$' });
    expect(redact('x a.b*c+(d)$ y aXbbc+(d)$')).toBe('x [redacted:ODD_SECRET] y aXbbc+(d)$');
  });

  test('an extra name with a short value is still left alone', () => {
    expect(createRedactor({ WEBHOOK: 'abc' }, ['WEBHOOK'])('abc')).toBe('abc');
  });

  test('a variable holding a token is named; the token shape does not re-label it', () => {
    const redact = createRedactor({ SLACK_BOT_TOKEN: 'xoxb-1234567890-abcdef' });
    expect(redact('t=xoxb-1234567890-abcdef')).toBe('t=[redacted:SLACK_BOT_TOKEN]');
  });

  test.each<[string, string]>([
    ['xoxa-1234567890', '[redacted:slack-token]'],
    ['xoxp-1234567890-12', '[redacted:slack-token]'],
    ['xoxo-1234567890', '[redacted:slack-token]'],
    ['xoxs-1234567890', '[redacted:slack-token]'],
    ['xoxr-1234567890', '[redacted:slack-token]'],
    ['xoxe-1234567890', '[redacted:slack-token]'],
    ['xoxb-123456789', 'xoxb-123456789'],
    ['xoxz-1234567890', 'xoxz-1234567890'],
    ['xapp-123456789', 'xapp-123456789'],
    ['sk-ant-0123456789abcdef', '[redacted:anthropic-key]'],
    ['sk-ant-0123456789abcde', 'sk-ant-0123456789abcde'],
    ['sk-0123456789abcdefghij', '[redacted:openai-key]'],
    ['sk-0123456789abcdefghi', 'sk-0123456789abcdefghi'],
    ['sk-proj-0123456789abcdefghij', '[redacted:openai-key]'],
    ['task-0123456789abcdefghijklmn', 'task-0123456789abcdefghijklmn'],
    ['a=xoxb-1234567890 b=sk-0123456789abcdefghij', 'a=[redacted:slack-token] b=[redacted:openai-key]'],
  ])('token shape %s → %s', (text, redacted) => {
    expect(createRedactor({})(text)).toBe(redacted);
  });
});

describe('redact (this process)', () => {
  test('reads the environment once, at its first use', () => {
    const name = 'POC_REDACT_TEST_TOKEN';
    process.env[name] = 'first-value-123';
    try {
      expect(redact('first-value-123 sk-0123456789abcdefghij')).toBe(`[redacted:${name}] [redacted:openai-key]`);
      process.env[name] = 'second-value-456';
      expect(redact('second-value-456')).toBe('second-value-456');
    } finally {
      delete process.env[name];
    }
  });
});
