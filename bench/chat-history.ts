/**
 * How big a long conversation's history gets: one conversation of N turns (default 300) against
 * the fake LLM with the default settings. The baseline is the whole chain — every event and byte
 * of all its runs, which is what one history would hold without continue-as-new — measured in the
 * same run. Prints how many runs the chain took, its largest single history (events and bytes)
 * against that baseline, the largest state continue-as-new carried, and the time per turn.
 *
 *   npx tsx bench/chat-history.ts [turns=300]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../core/config.js';
import { endChat, getChatStatus, say, startChat } from '../client/index.js';
import { findTemporalCli, startDevServer } from '../worker/devserver.js';
import { createPocWorker, ensureSearchAttributes, installRuntime } from '../worker/index.js';
import { startFakeLlm } from '../test/support/fake-llm.js';
import { freePort } from '../test/support/temporal.js';

const TURNS = Number(process.argv[2] ?? 300);

interface Measured {
  runs: number;
  maxEvents: number;
  maxBytes: number;
  totalEvents: number;
  totalBytes: number;
  carriedBytes: number;
  msPerTurn: number;
}

installRuntime({ logLevel: 'ERROR' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-chat-history-'));
const cli = findTemporalCli();
if (!cli) throw new Error('no Temporal CLI; run `npm test` once (it builds one) or set TEMPORAL_CLI_PATH');
const server = await startDevServer({ cliPath: cli.path, port: await freePort(), dbFile: path.join(dir, 'db') });
const fake = await startFakeLlm();
// A chatty exchange: a 300-character question, a 600-character answer.
fake.defaultBehaviour = { chunks: Array.from({ length: 20 }, (_, i) => `answer part ${i} `.padEnd(30, '.')) };
const connection = await Connection.connect({ address: server.address });
await ensureSearchAttributes(connection, 'default');
const client = new Client({ connection });
const native = await NativeConnection.connect({ address: server.address });
const config = {
  ...loadConfig({ OPENAI_BASE_URL: `${fake.url}/v1`, OPENAI_API_KEY: 'sk-bench-chat-history-000000000' }),
  taskQueue: 'bench-chat',
  temporalAddress: server.address,
};
const worker = await createPocWorker({ connection: native, client, config, taskQueue: config.taskQueue });
const running = worker.run();

async function conversation(): Promise<Measured> {
  const started = performance.now();
  const { workflowId } = await startChat(
    client,
    { backend: 'openai', model: 'gpt-4o-mini', prompt: 'q'.repeat(300) },
    { taskQueue: config.taskQueue },
  );
  for (let turn = 1; ;) {
    for (;;) {
      const s = await getChatStatus(client, workflowId);
      if (s.answeredUpTo >= turn && s.waitingFor === 'user') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (turn >= TURNS * 2 - 1) break;
    turn = (await say(client, workflowId, { text: `${'q'.repeat(290)} ${turn}` })).turn;
  }
  const msPerTurn = (performance.now() - started) / TURNS;
  await endChat(client, workflowId);
  const measured: Measured = {
    runs: 0,
    maxEvents: 0,
    maxBytes: 0,
    totalEvents: 0,
    totalBytes: 0,
    carriedBytes: 0,
    msPerTurn,
  };
  for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    const events = history.events ?? [];
    const bytes = Buffer.byteLength(JSON.stringify(history));
    measured.runs += 1;
    measured.maxEvents = Math.max(measured.maxEvents, events.length);
    measured.maxBytes = Math.max(measured.maxBytes, bytes);
    measured.totalEvents += events.length;
    measured.totalBytes += bytes;
    const continued = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    if (continued) measured.carriedBytes = Math.max(measured.carriedBytes, JSON.stringify(continued.input).length);
  }
  return measured;
}

try {
  const m = await conversation();
  const kb = (n: number) => `${Math.round(n / 1024)} KB`;
  process.stdout.write(
    [
      `${TURNS} turns (300-character questions, 600-character answers), ${m.msPerTurn.toFixed(0)} ms per turn`,
      '| | events | bytes |',
      '| --- | --- | --- |',
      `| baseline: the whole chain, as one history would hold it | ${m.totalEvents} | ${kb(m.totalBytes)} |`,
      `| largest single history of the ${m.runs} runs | ${m.maxEvents} | ${kb(m.maxBytes)} |`,
      `| ratio | ${(m.maxEvents / m.totalEvents).toFixed(3)} | ${(m.maxBytes / m.totalBytes).toFixed(3)} |`,
      `largest state carried by continue-as-new: ${kb(m.carriedBytes)}`,
      '',
    ].join('\n'),
  );
} finally {
  worker.shutdown();
  await running.catch(() => undefined);
  await native.close();
  await connection.close();
  await fake.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
