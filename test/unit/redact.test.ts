/** Secret redaction (activities/redact.ts): what must never reach a log, Slack or the CLI. */
import { describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { createLineRedactor, createRedactor, redact } from '../../core/redact.js';

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

describe('the usual shapes, names and URLs', () => {
  const r = createRedactor({});

  test.each<[string, string]>([
    ['ghp_' + 'a1B2'.repeat(9), '[redacted:github-token]'],
    ['gho_' + 'Z9y8'.repeat(9), '[redacted:github-token]'],
    ['github_pat_11ABCDEFG0abcdefghijkl_' + 'x'.repeat(59), '[redacted:github-token]'],
    ['AKIAIOSFODNN7EXAMPLE', '[redacted:aws-key-id]'],
    ['https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX', '[redacted:slack-webhook]'],
    [
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      '[redacted:jwt]',
    ],
    ['glpat-' + 'x'.repeat(20), '[redacted:gitlab-token]'],
    ['npm_' + 'a'.repeat(36), '[redacted:npm-token]'],
  ])('%s', (secret, label) => {
    expect(r(`before ${secret} after`)).toBe(`before ${label} after`);
  });

  test('the password of a URL, and a user part that is a token', () => {
    expect(r('git clone https://ann:s3cr3t-pw@git.example.com/x.git')).toBe(
      'git clone https://ann:[redacted:url-password]@git.example.com/x.git',
    );
    expect(r('postgres://app:pw@db:5432/app')).toBe('postgres://app:[redacted:url-password]@db:5432/app');
    expect(r('https://x-access-token-abcdefghijklmnop@github.com/o/r')).toBe(
      'https://[redacted:url-token]@github.com/o/r',
    );
    // Not credentials: a port, a plain user, an e-mail address.
    for (const text of ['http://localhost:8080/a@b', 'ssh://git@github.com/o/r', 'mail ann@example.com'])
      expect(r(text)).toBe(text);
  });

  test('a private key block, whole or cut', () => {
    const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdef\n-----END RSA PRIVATE KEY-----';
    expect(r(`key:\n${key}\ndone`)).toBe('key:\n[redacted:private-key]\ndone');
    expect(r('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt')).toBe('[redacted:private-key]');
    expect(r('-----BEGIN CERTIFICATE-----\nMIIB')).toBe('-----BEGIN CERTIFICATE-----\nMIIB');
  });

  test.each(['SECRET_KEY_BASE', 'GITHUB_PAT', 'NPM_AUTH', '_auth', 'REGISTRY_AUTH'])('%s holds a secret', (name) => {
    expect(createRedactor({ [name]: 'value-123456' })('is value-123456.')).toBe(`is [redacted:${name}].`);
  });

  test('a *_URL, *_URI or *_DSN holding credentials is a secret, whole and its password alone', () => {
    const redact = createRedactor({
      DATABASE_URL: 'postgres://app:hunter2-pw@db/app',
      SENTRY_DSN: 'https://publickey:secretkey99@o1.ingest.example/1',
      HOMEPAGE_URL: 'https://example.com/',
    });
    expect(redact('DATABASE_URL=postgres://app:hunter2-pw@db/app')).toBe('DATABASE_URL=[redacted:DATABASE_URL]');
    expect(redact('password hunter2-pw')).toBe('password [redacted:DATABASE_URL]');
    expect(redact('dsn secretkey99')).toBe('dsn [redacted:SENTRY_DSN]');
    expect(redact('see https://example.com/')).toBe('see https://example.com/');
  });
});

describe('createLineRedactor', () => {
  test('a private key printed line by line is redacted from its BEGIN to its END', () => {
    const lines = ['before', '-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 'YWJj'];
    const redactLine = createLineRedactor(createRedactor({}));
    expect([...lines, '-----END PRIVATE KEY----- after', 'next'].map(redactLine)).toEqual([
      'before',
      '[redacted:private-key]',
      '[redacted:private-key]',
      '[redacted:private-key]',
      '[redacted:private-key] after',
      'next',
    ]);
  });
});
