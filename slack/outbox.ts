/**
 * Where the bot's answers go, per kind of request: a message or a mention is answered in its
 * thread; a slash command ephemerally (its run's status message is a visible post); a click
 * ephemerally to the clicker or in the run's thread.
 */
import type { RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { SlackMessage } from '../render/slack.js';
import type { ClickOutbox, Outbox } from './commands.js';

function toSlack(message: SlackMessage) {
  return { text: message.text, blocks: message.blocks };
}

const onlyInThread = () => Promise.reject(new Error('messages answer in their thread'));

/** Replies in the thread of a message (or starts one under it). */
export function threadOutbox(web: WebClient, channel: string, threadTs: string): Outbox {
  return {
    async reply(message) {
      await web.chat.postMessage({
        channel,
        thread_ts: threadTs,
        ...toSlack(message),
        unfurl_links: false,
        unfurl_media: false,
      });
    },
    post: onlyInThread,
    update: onlyInThread,
    remove: onlyInThread,
  };
}

/** Ephemeral replies to the person who typed the slash command; the run's status message is a visible post. */
export function slashOutbox(web: WebClient, channel: string, user: string, respond: RespondFn): Outbox {
  return {
    async reply(message) {
      try {
        await respond({ response_type: 'ephemeral', replace_original: false, ...toSlack(message) });
      } catch {
        // response_url has a use limit and expires; an ephemeral message needs neither.
        await web.chat.postEphemeral({ channel, user, ...toSlack(message) });
      }
    },
    async post(message) {
      const posted = await web.chat.postMessage({
        channel,
        ...toSlack(message),
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!posted.ts) throw new Error('chat.postMessage answered without a ts');
      return posted.ts;
    },
    async update(ts, message) {
      await web.chat.update({ channel, ts, ...toSlack(message) });
    },
    async remove(ts) {
      await web.chat.delete({ channel, ts });
    },
  };
}

/** Answers to a click: to the clicker alone, or to everyone in the run's thread. */
export function clickOutbox(web: WebClient, channel: string, user: string, threadTs: string | undefined): ClickOutbox {
  const inThread = threadTs ? { thread_ts: threadTs } : {};
  return {
    async ephemeral(reply) {
      await web.chat.postEphemeral({ channel, user, ...inThread, ...toSlack(reply) });
    },
    async threadReply(reply) {
      await web.chat.postMessage({ channel, ...inThread, ...toSlack(reply) });
    },
  };
}
