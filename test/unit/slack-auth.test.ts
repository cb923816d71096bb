/** Who may change things from Slack (slack/auth.ts): the allow-lists from the config, and the polite no. */
import { describe, expect, test } from '@jest/globals';
import { loadConfig } from '../../core/config.js';
import { refusal, slackAccess } from '../../slack/auth.js';

const accessFromEnv = (env: NodeJS.ProcessEnv) => slackAccess(loadConfig(env).slack);

describe('slackAccess', () => {
  test.each<[NodeJS.ProcessEnv, string]>([
    [{}, 'every user in every channel may start, cancel and decide runs'],
    [{ POC_ALLOWED_USERS: ' , ' }, 'every user in every channel may start, cancel and decide runs'],
    [{ POC_ALLOWED_USERS: 'U1,U2' }, '2 allowed user(s) in every channel may start, cancel and decide runs'],
    [{ POC_ALLOWED_CHANNELS: 'C1' }, 'every user in 1 allowed channel(s) may start, cancel and decide runs'],
    [
      { POC_ALLOWED_USERS: 'U1,U1,U2', POC_ALLOWED_CHANNELS: 'C1,C2,C3' },
      '2 allowed user(s) in 3 allowed channel(s) may start, cancel and decide runs',
    ],
  ])('%j: %s', (env, description) => {
    expect(accessFromEnv(env).describe()).toBe(description);
  });

  test('channels alone: anyone, only there', () => {
    const access = accessFromEnv({ POC_ALLOWED_CHANNELS: 'C1' });
    expect([access.allows('U1', 'C1'), access.allows('U9', 'C1'), access.allows('U1', 'C2')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  test('ids are compared exactly (case and surrounding spaces)', () => {
    const access = accessFromEnv({ POC_ALLOWED_USERS: 'U1' });
    expect([access.allows('U1', 'C'), access.allows('u1', 'C'), access.allows(' U1', 'C')]).toEqual([
      true,
      false,
      false,
    ]);
  });
});

describe('refusal', () => {
  test('says who, why, and who can change it', () => {
    expect(refusal('U0BOB')).toBe(
      ':lock: Sorry <@U0BOB>, you may not start, cancel or decide runs here. ' +
        'Whoever runs poc-orchestrator can add you to POC_ALLOWED_USERS (or this channel to POC_ALLOWED_CHANNELS).',
    );
  });

  test('a user that is not a Slack id is escaped, not mentioned', () => {
    expect(refusal('<!channel>')).toMatch(/^:lock: Sorry &lt;!channel&gt;, you may not/);
  });
});
