/** Who may use the bot (slack/auth.ts): one rule from the config and the app's team, and the polite no. */
import { describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../core/config.js';
import { refusal, slackAccess } from '../../slack/auth.js';

const accessFromEnv = (env: NodeJS.ProcessEnv, team?: string) => slackAccess(loadConfig(env).slack, team);
const asker = (user: string, channel: string, team = 'T1') => ({ team, user, channel });

describe('slackAccess', () => {
  test.each<[NodeJS.ProcessEnv, string | undefined, string]>([
    [{}, undefined, 'every user in every channel may use the bot'],
    [{ POC_ALLOWED_USERS: 'U1,U2' }, undefined, '2 allowed user(s) in every channel may use the bot'],
    [{ POC_ALLOWED_CHANNELS: 'C1' }, 'T1', 'every user in 1 allowed channel(s) of team T1 may use the bot'],
    [
      { POC_ALLOWED_USERS: 'U1,U1,U2', POC_ALLOWED_CHANNELS: 'C1,C2,C3' },
      undefined,
      '2 allowed user(s) in 3 allowed channel(s) may use the bot',
    ],
  ])('%j %s: %s', (env, team, description) => {
    expect(accessFromEnv(env, team).describe()).toBe(description);
  });

  test('one access rule: team, user and channel for every request; a run is seen where it was started', () => {
    assert.ok(accessFromEnv({}).permits(asker('U1', 'C1')));
    assert.ok(accessFromEnv({}).permits(asker('U1', 'D1'), 'C7'), 'no limits: every run, from anywhere');
    const users = accessFromEnv({ POC_ALLOWED_USERS: ' U1, U2 ,' });
    assert.ok(users.permits(asker('U2', 'C9')));
    assert.ok(!users.permits(asker('U3', 'C9')));
    const both = accessFromEnv({ POC_ALLOWED_USERS: 'U1', POC_ALLOWED_CHANNELS: 'C1,C2' }, 'T1');
    assert.ok(both.permits(asker('U1', 'C1')));
    assert.ok(!both.permits(asker('U1', 'C3')));
    assert.ok(!both.permits(asker('U2', 'C1')));
    assert.ok(!both.permits(asker('U1', 'C1', 'T2')), 'an event of another team');
    // A run started in C2 is seen from C1 (the asker could act in C2); one of C3 only from C3, which is not allowed.
    assert.ok(both.permits(asker('U1', 'C1'), 'C2'));
    assert.ok(!both.permits(asker('U1', 'C1'), 'C3'));
    assert.ok(both.permits(asker('U1', 'C1'), null), 'a run started outside Slack');
    assert.ok(!both.permits(asker('U1', 'D9'), 'C1'), 'a direct message is a channel like any other');
  });

  test('an allow-list set but empty is a start-up error, not everyone; names are not ids', () => {
    for (const name of ['POC_ALLOWED_USERS', 'POC_ALLOWED_CHANNELS']) {
      for (const value of ['', '  ', ' , ']) {
        assert.throws(
          () => loadConfig({ [name]: value }),
          (err: Error) =>
            err instanceof ConfigError && new RegExp(`^${name} is set but lists nobody;`).test(err.message),
        );
      }
    }
    assert.throws(() => loadConfig({ POC_ALLOWED_USERS: 'U1,alice' }), /"alice" is not a Slack id/);
    assert.throws(() => loadConfig({ POC_ALLOWED_CHANNELS: '#general' }), /"#general" is not a Slack id/);
  });

  test('channels alone: anyone, only there', () => {
    const access = accessFromEnv({ POC_ALLOWED_CHANNELS: 'C1' });
    expect([
      access.permits(asker('U1', 'C1')),
      access.permits(asker('U9', 'C1')),
      access.permits(asker('U1', 'C2')),
    ]).toEqual([true, true, false]);
  });

  test('ids are compared exactly (case and surrounding spaces)', () => {
    const access = accessFromEnv({ POC_ALLOWED_USERS: 'U1' });
    expect([
      access.permits(asker('U1', 'C')),
      access.permits(asker('u1', 'C')),
      access.permits(asker(' U1', 'C')),
    ]).toEqual([true, false, false]);
  });
});

describe('refusal', () => {
  test('says who, why, and who can change it', () => {
    expect(refusal('U0BOB')).toBe(
      ':lock: Sorry <@U0BOB>, you may not use poc-orchestrator here. ' +
        'Whoever runs it can add you to POC_ALLOWED_USERS (or this channel to POC_ALLOWED_CHANNELS).',
    );
  });

  test('a user that is not a Slack id is escaped, not mentioned', () => {
    expect(refusal('<!channel>')).toMatch(/^:lock: Sorry &lt;!channel&gt;, you may not/);
  });
});
