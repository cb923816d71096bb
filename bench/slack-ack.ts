/**
 * How fast the Slack bot answers Slack. In one script, on a real dev server and a real worker
 * (steps scripted, no Docker) with a local fake Slack speaking Socket Mode:
 *   A. N `!poc run` commands sent over the WebSocket at a steady rate to the real bot: time from
 *      envelope sent to ack received (goal p99 ≤ 100 ms; Slack's limit is 3 s), and time until
 *      each run's status message appears (posted by the workflow through the worker);
 *   B. the same envelopes to a bare Bolt app whose listener does nothing (the baseline: what
 *      Socket Mode and Bolt cost on this machine), so A is read as a ratio to B.
 *
 * The default rate, 5 commands a second for 200 s (and as long again for the baseline), is far
 * above what a team types but within what one dev server and one worker start and finish on a
 * small machine; above that, runs queue up and the time to the first status message measures the
 * backlog of the stack, not the bot.
 *
 *   npx tsx bench/slack-ack.ts [commands=1000] [per-second=5]
 */
import path from 'node:path';
import fs from 'node:fs';
import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import { createPrepareRun } from '../activities/workspace.js';
import type { PrepareRunArgs } from '../activities/types.js';
import { startSlackBot } from '../slack/app.js';
import {
  startFakeSlack,
  type FakeSlack,
  type MessageDelivery,
  type PostedMessage,
} from '../test/support/fake-slack.js';
import { scriptedSteps, scriptedWorkspace } from '../test/support/scripted-steps.js';
import { findTemporalCli, startDevServer } from '../worker/devserver.js';
import { installRuntime } from '../worker/index.js';
import { freePort, startTestWorker, tempDir, withEnv } from '../test/support/temporal.js';

const COMMANDS = Number(process.argv[2] ?? 1000);
const RATE = Number(process.argv[3] ?? 5);
const WARMUP = 20;
const CHANNEL = 'C0BENCH';

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** Sends `count` commands at `rate` per second into `deliveries` (readable while sending). */
async function sendPaced(
  fake: FakeSlack,
  count: number,
  rate: number,
  text: (i: number) => string,
  deliveries: MessageDelivery[] = [],
): Promise<MessageDelivery[]> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    deliveries.push(fake.sendMessage({ channel: CHANNEL, user: 'U0BENCH', text: text(i) }));
  }
  return deliveries;
}

/** Resolves with each delivery's time from sending to the first bot message in its thread. */
function firstMessages(
  fake: FakeSlack,
  deliveries: MessageDelivery[],
  count: number,
  timeoutMs = 600_000,
): Promise<number[]> {
  const firsts = new Map<string, number>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      fake.off('posted', onPosted);
      reject(new Error(`only ${firsts.size} of ${count} status messages appeared within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onPosted = (m: PostedMessage) => {
      if (!m.fromBot || !m.threadTs || firsts.has(m.threadTs)) return;
      const delivery = deliveries.find((d) => d.ts === m.threadTs);
      if (!delivery) return;
      firsts.set(m.threadTs, m.postedAt - (delivery.record.sentAt ?? m.postedAt));
      if (firsts.size === count) {
        clearTimeout(timer);
        fake.off('posted', onPosted);
        resolve([...firsts.values()]);
      }
    };
    fake.on('posted', onPosted);
  });
}

async function baseline(): Promise<number[]> {
  const fake = await startFakeSlack();
  const receiver = new SocketModeReceiver({
    appToken: fake.appToken,
    logLevel: LogLevel.ERROR,
    installerOptions: { clientOptions: { slackApiUrl: fake.apiUrl } },
  });
  const app = new App({
    token: fake.botToken,
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: fake.apiUrl },
    deferInitialization: true,
  });
  app.message(async () => undefined);
  await app.init();
  await app.start();
  await fake.connected();
  const warm = await sendPaced(fake, WARMUP, RATE, (i) => `!poc run warm ${i}`);
  await Promise.all(warm.map((d) => d.acked));
  const deliveries = await sendPaced(fake, COMMANDS, RATE, (i) => `!poc run bench ${i} --steps build`);
  const acks = await Promise.all(deliveries.map((d) => d.acked));
  await receiver.client.disconnect();
  await fake.stop();
  return acks;
}

installRuntime({ logLevel: 'ERROR' });
const cli = findTemporalCli();
if (!cli) throw new Error('no Temporal CLI: set TEMPORAL_CLI_PATH or run `npm test` once (it builds one)');
const root = tempDir('bench-slack');
// In memory: the bench measures the bot and the reporting, not SQLite's fsyncs.
const server = await startDevServer({ cliPath: cli.path, port: await freePort() });
try {
  process.stderr.write(`baseline: a bare Bolt app, ${COMMANDS} envelopes at ${RATE}/s…\n`);
  const base = await baseline();

  const fake = await startFakeSlack();
  const steps = scriptedSteps();
  const workspace = scriptedWorkspace(path.join(root, 'ws'), { build: 'ok' });
  const jobsDir = path.join(root, 'jobs');
  const prepare = createPrepareRun({ workspace, jobsDir });
  const env = { SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl };
  const worker = await startTestWorker({
    address: server.address,
    env,
    config: { workspace, jobsDir },
    overrides: {
      runStep: steps.runStep,
      // One workspace lock per run: the bench measures the bot and the reporting, not a queue of 1,000.
      prepareRun: async (args: PrepareRunArgs) => {
        const plan = await prepare(args);
        return { ...plan, lockKey: `${plan.lockKey}-${args.workflowId}` };
      },
    },
  });
  const bot = await startSlackBot({
    config: withEnv(worker.config, { ...env, SLACK_APP_TOKEN: fake.appToken }),
    client: worker.client,
    log: () => undefined,
  });
  await fake.connected();

  process.stderr.write(`the bot: ${WARMUP} warm-up commands, then ${COMMANDS} at ${RATE}/s…\n`);
  const warm: MessageDelivery[] = [];
  const warmFirsts = firstMessages(fake, warm, WARMUP);
  await sendPaced(fake, WARMUP, RATE, (i) => `!poc run warm ${i} --steps build`, warm);
  await warmFirsts;

  const deliveries: MessageDelivery[] = [];
  const firsts = firstMessages(fake, deliveries, COMMANDS);
  const started = performance.now();
  await sendPaced(fake, COMMANDS, RATE, (i) => `!poc run bench ${i} --steps build`, deliveries);
  const acks = await Promise.all(deliveries.map((d) => d.acked));
  const toStatus = await firsts;
  const elapsed = performance.now() - started;

  await bot.stop();
  await worker.stop();
  await fake.stop();

  const [a50, a99, aMax] = [percentile(acks, 50), percentile(acks, 99), Math.max(...acks)];
  const [b50, b99] = [percentile(base, 50), percentile(base, 99)];
  console.log(
    `Slack bot, ${COMMANDS} \`!poc run\` commands at ${RATE}/s over Socket Mode (fake Slack on 127.0.0.1), ` +
      `${(elapsed / 1000).toFixed(1)} s:`,
  );
  console.log(
    `  ack (envelope sent → ack received)      p50 ${ms(a50)}  p99 ${ms(a99)}  max ${ms(aMax)}   ` +
      `goal p99 ≤ 100 ms: ${a99 <= 100 ? 'met' : 'MISSED'}`,
  );
  console.log(
    `  first status message (sent → posted)    p50 ${ms(percentile(toStatus, 50))}  ` +
      `p99 ${ms(percentile(toStatus, 99))}  max ${ms(Math.max(...toStatus))}`,
  );
  console.log(`baseline, bare Bolt app with a no-op listener, same rate:`);
  console.log(`  ack                                     p50 ${ms(b50)}  p99 ${ms(b99)}`);
  console.log(`ratio bot / baseline: ack p50 ${(a50 / b50).toFixed(2)}×, p99 ${(a99 / b99).toFixed(2)}×`);
} finally {
  await server.stop();
  fs.rmSync(root, { recursive: true, force: true });
}
