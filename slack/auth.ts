/**
 * Who may change things from Slack. Reading (status, list, logs, help) is open to everyone who
 * can talk to the bot; starting, cancelling and deciding are limited by POC_ALLOWED_USERS and
 * POC_ALLOWED_CHANNELS (comma-separated Slack ids; unset means everyone / everywhere).
 */
import type { SlackSettings } from '../core/config.js';
import { who } from '../render/slack-text.js';

export interface Access {
  /** True when `user` may start, cancel or decide runs from `channel`. */
  allows(user: string, channel: string): boolean;
  /** What the limits are, for the start-up log. */
  describe(): string;
}

/** The limits of the config (`loadConfig(env).slack`: POC_ALLOWED_USERS, POC_ALLOWED_CHANNELS). */
export function slackAccess(slack: Pick<SlackSettings, 'allowedUsers' | 'allowedChannels'>): Access {
  const users = slack.allowedUsers && new Set(slack.allowedUsers);
  const channels = slack.allowedChannels && new Set(slack.allowedChannels);
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
