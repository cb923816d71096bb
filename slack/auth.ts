/**
 * Who may change things from Slack. Reading (status, list, logs, help) is open to everyone who
 * can talk to the bot; starting, cancelling and deciding are limited by POC_ALLOWED_USERS and
 * POC_ALLOWED_CHANNELS (comma-separated Slack ids; unset means everyone / everywhere).
 */
import { who } from '../render/slack-text.js';

export interface Access {
  /** True when `user` may start, cancel or decide runs from `channel`. */
  allows(user: string, channel: string): boolean;
  /** What the limits are, for the start-up log. */
  describe(): string;
}

function idList(value: string | undefined): Set<string> | undefined {
  const ids = (value ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  return ids.length ? new Set(ids) : undefined;
}

export function accessFromEnv(env: NodeJS.ProcessEnv): Access {
  const users = idList(env.POC_ALLOWED_USERS);
  const channels = idList(env.POC_ALLOWED_CHANNELS);
  return {
    allows(user, channel) {
      return (!users || users.has(user)) && (!channels || channels.has(channel));
    },
    describe() {
      const who = users ? `${users.size} allowed user(s)` : 'every user';
      const where = channels ? `${channels.size} allowed channel(s)` : 'every channel';
      return `${who} in ${where} may start, cancel and decide runs`;
    },
  };
}

/** The polite no: says why and who can change it, and nothing else happens. */
export function refusal(user: string): string {
  return (
    `:lock: Sorry ${who(user)}, you may not start, cancel or decide runs here. ` +
    'Whoever runs poc-orchestrator can add you to POC_ALLOWED_USERS (or this channel to POC_ALLOWED_CHANNELS).'
  );
}
