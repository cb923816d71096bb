/**
 * The Slack part of the chaos run: runs started from Slack while the bot is stopped and restarted.
 * Commands sent while no bot is connected wait in the fake Slack (as Slack queues them), some
 * deliveries are repeated (as Slack retries un-acked events); afterwards every command has
 * exactly one run and one status message, each in its final state.
 */
import type { Client } from '@temporalio/client';
import { loadConfig } from '../../core/config.js';
import { slackRunId } from '../../client/index.js';
import { startSlackBot } from '../../slack/app.js';
import { withEnv } from './temporal.js';
import type { ChaosRow } from '../../bench/chaos.js';
import { textOf, type FakeSlack, type MessageDelivery, type PostedMessage } from './fake-slack.js';

const CHANNEL = 'C0CHAOS';

function statusMessages(fake: FakeSlack, ts: string): PostedMessage[] {
  return fake.botMessages(CHANNEL, ts).filter((m) => /^\S+ \*Pipeline `/.test(m.blocks[0]?.text?.text ?? ''));
}

export async function runSlackChaos({
  client,
  taskQueue,
  runs,
  log,
  runIds,
  fake,
  address,
}: {
  client: Client;
  taskQueue: string;
  runs: number;
  log: (line: string) => void;
  runIds: string[];
  fake: FakeSlack;
  address: string;
}): Promise<ChaosRow> {
  const row: ChaosRow = {
    scenario: 'Slack bot stop + restart mid-run',
    runs,
    done: 0,
    lost: 0,
    finishedStepsRunTwice: 0,
    inFlightStepsRerun: 0,
    containersLeft: 0,
    note: '',
  };
  const env = { SLACK_BOT_TOKEN: fake.botToken, SLACK_APP_TOKEN: fake.appToken, SLACK_API_URL: fake.apiUrl };
  const config = withEnv({ ...loadConfig(), temporalAddress: address, taskQueue }, env);
  const start = () => startSlackBot({ config, client, log: () => undefined });
  let bot = await start();
  await fake.connected();

  const commands: MessageDelivery[] = [];
  const half = Math.ceil(runs / 2);
  for (let i = 0; i < half; i++)
    commands.push(
      fake.sendMessage({
        channel: CHANNEL,
        user: 'U0CHAOS',
        text: `!poc run chaos from slack ${i} --steps bootstrap,lint`,
      }),
    );
  // The first run is under way (its status message is up), then the bot goes away.
  await fake.waitFor('the first status message', () => statusMessages(fake, commands[0].ts)[0], 120_000);
  await bot.stop();
  log('Slack bot stopped with runs in flight');
  for (let i = half; i < runs; i++)
    commands.push(
      fake.sendMessage({
        channel: CHANNEL,
        user: 'U0CHAOS',
        text: `!poc run chaos from slack ${i} --steps bootstrap,lint`,
      }),
    );
  bot = await start();
  await fake.connected();
  // Slack retries a delivery it is unsure about: the same event again must not start a second run.
  for (const command of commands.slice(0, 2)) fake.redeliver(command);
  log('Slack bot restarted; two deliveries repeated');

  try {
    for (const command of commands) {
      const id = `pipeline-${slackRunId(fake.teamId, CHANNEL, command.ts)}`;
      runIds.push(id);
      try {
        const status = await client.workflow.getHandle(id).result();
        const message = await fake.waitFor(
          `the final status message of ${id}`,
          () => statusMessages(fake, command.ts).find((m) => /— \*DONE\*/.test(textOf(m))),
          60_000,
        );
        if (status.phase === 'DONE' && message) row.done += 1;
        else row.lost += 1;
      } catch {
        row.lost += 1;
      }
      if (statusMessages(fake, command.ts).length > 1) row.note = 'a thread got two status messages';
    }
    const started = await client.workflow.count(`PocSlackThread STARTS_WITH "${CHANNEL}/"`);
    row.note ||= `${started.count} runs for ${runs} commands (2 delivered twice); one status message each`;
    if (started.count !== runs) row.lost += Math.abs(started.count - runs);
  } finally {
    await bot.stop();
  }
  return row;
}
