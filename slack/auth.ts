/**
 * Who may use the bot: ONE rule for every command, button and thread reply, reads included.
 *
 *   An asker (team, user, channel) is permitted when the team is the app's own, the user is on
 *   POC_ALLOWED_USERS and the channel on POC_ALLOWED_CHANNELS (an unset list: no limit). A run is
 *   visible to a permitted asker in its own channel, or anywhere when the asker would be permitted
 *   in the run's channel too (runs started outside Slack belong to no channel).
 *
 * Whoever is refused learns nothing: the same refusal whatever was asked, and a run they may not
 * see answers as if it did not exist.
 */
import type { SlackSettings } from '../core/config.js';
import { who } from '../render/slack-text.js';

/** Who is asking, from where. */
export interface Asker {
  team: string;
  user: string;
  channel: string;
}

export interface Access {
  /** True when `asker` may use the bot here and, when `runChannel` is given, see and act on that run. */
  permits(asker: Asker, runChannel?: string | null): boolean;
  /** What the limits are, for the start-up log. */
  describe(): string;
}

/**
 * The limits of the config (`loadConfig(env).slack`: POC_ALLOWED_USERS, POC_ALLOWED_CHANNELS) and
 * the app's own team (`auth.test`); without a team, any team passes (a bot not yet connected).
 */
export function slackAccess(slack: Pick<SlackSettings, 'allowedUsers' | 'allowedChannels'>, appTeam?: string): Access {
  const users = slack.allowedUsers && new Set(slack.allowedUsers);
  const channels = slack.allowedChannels && new Set(slack.allowedChannels);
  const channelAllowed = (channel: string) => !channels || channels.has(channel);
  return {
    permits(asker, runChannel) {
      if (appTeam !== undefined && asker.team !== appTeam) return false;
      if ((users && !users.has(asker.user)) || !channelAllowed(asker.channel)) return false;
      return !runChannel || runChannel === asker.channel || channelAllowed(runChannel);
    },
    describe() {
      const people = users ? `${users.size} allowed user(s)` : 'every user';
      const where = channels ? `${channels.size} allowed channel(s)` : 'every channel';
      return `${people} in ${where}${appTeam ? ` of team ${appTeam}` : ''} may use the bot`;
    },
  };
}

/** The polite no: says why and who can change it, and nothing else happens. */
export function refusal(user: string): string {
  return (
    `:lock: Sorry ${who(user)}, you may not use poc-orchestrator here. ` +
    'Whoever runs it can add you to POC_ALLOWED_USERS (or this channel to POC_ALLOWED_CHANNELS).'
  );
}
