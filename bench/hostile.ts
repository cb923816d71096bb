/**
 * The worker under hostile load, against a real dev server, a real Docker engine and a real
 * worker process (its memory measured from /proc). The worker is `poc worker` as it ships: this
 * repository packed, the tarball installed into an empty folder, `node_modules/.bin/poc worker`
 * started (its first line sets the V8 and malloc sizes; plain node, no tsx). Its memory is measured
 * again for `cli/poc.js worker` from this clone (the TypeScript sources through tsx), in a row of
 * its own.
 *
 *   - ingest: a step printing BENCH_FLOOD_MB MB without a newline, through the worker, against the
 *     same `docker compose run` read and thrown away by a plain loop in this process (baseline);
 *     bytes per second and the worker's peak resident memory;
 *   - memory: the worker's resident memory idle (the baseline), with BENCH_PIPELINES pipelines
 *     running at once (sleep steps, one workspace each) and during BENCH_PROMPTS LLM prompts (a
 *     local OpenAI-compatible server answering after 50 ms);
 *   - streaming: history events per minute of a BENCH_STREAM_SECONDS answer streamed to the
 *     workflow and to a Slack status message, projected to 15 minutes against Temporal's limits;
 *   - hostile inputs: generated workflow inputs, workflow ids and a hostile step, with secrets
 *     planted in the worker's environment and the workspace's .env; afterwards every history,
 *     the worker's log and every run folder are searched for the secrets and for canary files.
 *
 *   npx tsx bench/hostile.ts     (BENCH_FLOOD_MB, BENCH_PIPELINES, BENCH_PROMPTS, BENCH_STREAM_SECONDS,
 *                                 BENCH_HOSTILE to change the sizes)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { Client, Connection } from '@temporalio/client';
import { getPipelineStatus, startLlm, startPipeline, type PipelineStatus } from '../client/index.js';
import { detectCompose } from '../docker/index.js';
import { findTemporalCli, startDevServer } from '../worker/devserver.js';
import { ensureSearchAttributes } from '../worker/index.js';
import { startFakeLlm } from '../test/support/fake-llm.js';
import { startFakeSlack } from '../test/support/fake-slack.js';
import { CONTAINER_CANARY, hostileIds, hostileInputs } from '../test/support/hostile.js';
import { ensureBashImage, fixtureWorkspace } from '../test/support/images.js';
import { packAndInstall } from '../test/support/package.js';
import { startProcess } from '../test/support/processes.js';
import { freePort } from '../test/support/temporal.js';

const size = (name: string, fallback: number) =>
  Number(process.env[name]) > 0 ? Math.floor(Number(process.env[name])) : fallback;
const FLOOD_MB = size('BENCH_FLOOD_MB', 200);
const PIPELINES = size('BENCH_PIPELINES', 100);
const PROMPTS = size('BENCH_PROMPTS', 500);
const STREAM_SECONDS = size('BENCH_STREAM_SECONDS', 120);
const HOSTILE = size('BENCH_HOSTILE', 300);
const MiB = 1024 * 1024;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Resident memory of a process now (VmRSS), in MiB. */
function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** Samples `pid`'s resident memory every 100 ms while `work` runs; the highest sample. */
async function peakDuring<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
  try {
    return { result: await work(), peakMiB: Math.max(peak, rssMiB(pid)) };
  } finally {
    clearInterval(timer);
  }
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every string of a history, payloads decoded. */
function historyText(value: unknown, into: string[] = []): string[] {
  if (value instanceof Uint8Array) into.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) historyText(item, into);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) historyText(item, into);
  return into;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((rel) => path.join(dir, rel))
    .filter((file) => fs.lstatSync(file).isFile());
}

async function main(): Promise<void> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI found: set TEMPORAL_CLI_PATH or run `npm test` once (it builds one)');
  await ensureBashImage();
  const loadBefore = os.loadavg()[0].toFixed(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-bench-hostile-'));
  const stops: (() => Promise<unknown>)[] = [];
  const lines: string[] = [];
  const say = (line = '') => {
    lines.push(line);
    process.stderr.write(`${line}\n`);
  };
  try {
    const devServer = await startDevServer({
      cliPath: cli.path,
      port: await freePort(),
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'server.log'),
    });
    stops.push(() => devServer.stop());
    const connection = await Connection.connect({ address: devServer.address });
    stops.push(() => connection.close());
    await ensureSearchAttributes(connection, 'default');
    const client = new Client({ connection, namespace: 'default' });
    const llm = await startFakeLlm();
    stops.push(() => llm.close());
    const slack = await startFakeSlack();
    stops.push(() => slack.stop());

    const planted = {
      OPENAI_API_KEY: `sk-proj-${crypto.randomBytes(24).toString('hex')}`,
      DEPLOY_TOKEN: `dt_${crypto.randomBytes(16).toString('hex')}`,
      DATABASE_URL: `postgres://app:pw-${crypto.randomBytes(8).toString('hex')}@db/app`,
    };
    const dotenvSecret = `dotenv-${crypto.randomBytes(12).toString('hex')}`;
    const jobsDir = path.join(dir, 'jobs');
    say('packing and installing the package…');
    const pkg = await packAndInstall(path.join(dir, 'package'));
    const workerFolder = path.join(dir, 'worker-cwd'); // no .env of this repository's is read
    fs.mkdirSync(workerFolder);
    /** `poc worker`, as installed or from this clone, on a task queue of its own. */
    const startPocWorker = async (form: 'installed' | 'clone') => {
      const taskQueue = `bench-hostile-${form}-${crypto.randomUUID().slice(0, 8)}`;
      const env = {
        ...planted,
        OPENAI_BASE_URL: `${llm.url}/v1`,
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_API_URL: slack.apiUrl,
        TEMPORAL_ADDRESS: devServer.address,
        POC_TASK_QUEUE: taskQueue,
        POC_JOBS_DIR: jobsDir,
        // Every sleeper runs at once: the figure is the worker's memory with that many steps in flight.
        POC_HOST_SLOTS: String(PIPELINES + 4),
        NODE_OPTIONS: '',
      };
      const child =
        form === 'installed'
          ? startProcess(pkg.bin, ['worker'], env, { cwd: workerFolder, name: 'poc worker (installed)' })
          : startProcess(path.join(root, 'cli', 'poc.js'), ['worker'], env, {
              cwd: workerFolder,
              name: 'poc worker (clone)',
            });
      stops.push(() => child.kill());
      await child.waitFor(/worker on .*task queue/, 300_000);
      return { child, taskQueue, pid: child.process.pid as number };
    };
    const run = async (input: Parameters<typeof startPipeline>[1], taskQueue: string): Promise<PipelineStatus> => {
      const { workflowId } = await startPipeline(client, input, { taskQueue });
      await client.workflow
        .getHandle(workflowId)
        .result()
        .catch(() => undefined);
      return getPipelineStatus(client, workflowId);
    };
    const warm = fixtureWorkspace(path.join(dir, 'warm'), { lint: 'true' });
    /** Idle after one warm-up run, the worker waiting for work: the median of 20 readings. */
    const idleOf = async (pid: number, taskQueue: string) => {
      await run({ steps: ['lint'], workspace: warm }, taskQueue);
      await new Promise((r) => setTimeout(r, 2_000));
      const idle: number[] = [];
      for (let i = 0; i < 20; i++) {
        idle.push(rssMiB(pid));
        await new Promise((r) => setTimeout(r, 250));
      }
      return idle.sort((a, b) => a - b)[idle.length >> 1];
    };
    const { child: worker, taskQueue, pid } = await startPocWorker('installed');
    const idleMiB = await idleOf(pid, taskQueue);

    // Ingest: newline-less output through the worker, against a plain reader of the same Compose call.
    const floodCommand = `head -c ${FLOOD_MB * 1_000_000} /dev/zero | tr '\\0' x`;
    const floodWs = fixtureWorkspace(path.join(dir, 'flood'), { flood: floodCommand });
    const compose = await detectCompose();
    const baselineStarted = performance.now();
    const plain = execa(
      compose.command,
      [...compose.prefix, 'run', '--rm', '-T', 'runner', 'bash', '-lc', floodCommand],
      {
        cwd: floodWs,
        buffer: false,
        stdout: 'pipe',
        stderr: 'ignore',
      },
    );
    let plainBytes = 0;
    plain.stdout?.on('data', (chunk: Buffer) => (plainBytes += chunk.length));
    await plain;
    const baselineMs = performance.now() - baselineStarted;
    const flood = await peakDuring(pid, () =>
      run({ steps: ['flood'], workspace: floodWs, stepTimeoutSeconds: 3_600 }, taskQueue),
    );
    const floodMs = flood.result.steps[0].durationMs ?? NaN;
    const logged = fs.statSync(flood.result.steps[0].logPath as string).size;

    say(
      `${os.cpus().length} CPUs, ${Math.round(os.totalmem() / MiB / 1024)} GiB, ` +
        `Compose ${compose.command} ${compose.version}`,
    );
    say(`load average before: ${loadBefore}`);
    say();
    say('ingest of newline-less output');
    say(
      `  plain \`${compose.command} run\` read and dropped (baseline)  ${(plainBytes / MiB).toFixed(0)} MiB in ` +
        `${(baselineMs / 1000).toFixed(1)} s = ${(plainBytes / MiB / (baselineMs / 1000)).toFixed(1)} MiB/s`,
    );
    say(
      `  through the worker (redacted, logged)            ${(logged / MiB).toFixed(0)} MiB in ` +
        `${(floodMs / 1000).toFixed(1)} s = ${(logged / MiB / (floodMs / 1000)).toFixed(1)} MiB/s`,
    );
    say(
      `  worker / baseline time: ${(floodMs / baselineMs).toFixed(2)}×; ` +
        `worker peak RSS ${flood.peakMiB.toFixed(0)} MiB ` +
        `(idle ${idleMiB.toFixed(0)} MiB)`,
    );

    // Memory with many pipelines at once: one workspace each (one pipeline runs per workspace).
    const sleepers = Array.from({ length: PIPELINES }, (_, i) =>
      fixtureWorkspace(path.join(dir, `sleep-${i}`), { wait: 'sleep 600' }),
    );
    const memoryUnderLoad = async (workerPid: number, queue: string) => {
      const started = await Promise.all(
        sleepers.map((ws) => startPipeline(client, { steps: ['wait'], workspace: ws }, { taskQueue: queue })),
      );
      const busy = await peakDuring(workerPid, async () => {
        await until(
          `${PIPELINES} step containers running`,
          async () => {
            const { stdout } = await execa('docker', ['ps', '-q', '--filter', `label=poc.task-queue=${queue}`]);
            return stdout.split('\n').filter(Boolean).length >= PIPELINES ? true : undefined;
          },
          30 * 60_000,
        );
        const samples: number[] = [];
        for (let i = 0; i < 40; i++) {
          samples.push(rssMiB(workerPid));
          await new Promise((r) => setTimeout(r, 250));
        }
        return Math.max(...samples);
      });
      await Promise.all(started.map(({ workflowId }) => client.workflow.getHandle(workflowId).cancel()));
      await Promise.all(
        started.map(({ workflowId }) =>
          client.workflow
            .getHandle(workflowId)
            .result()
            .catch(() => undefined),
        ),
      );

      // Memory during many prompts at once.
      llm.defaultBehaviour = { headersDelayMs: 50, chunks: ['ok'] };
      const prompts = await peakDuring(workerPid, () =>
        Promise.all(
          Array.from({ length: PROMPTS }, async () => {
            const { workflowId } = await startLlm(
              client,
              { backend: 'openai', model: 'gpt-4o-mini', prompt: 'Say ok' },
              { taskQueue: queue },
            );
            return client.workflow.getHandle(workflowId).result();
          }),
        ),
      );
      return { busyMiB: busy.result, promptsMiB: prompts.peakMiB };
    };
    const sayMemory = (
      title: string,
      idle: number,
      { busyMiB, promptsMiB }: { busyMiB: number; promptsMiB: number },
    ) => {
      say();
      say(`worker resident memory: ${title}`);
      say(
        `  idle (baseline)                          ${idle.toFixed(0)} MiB ` +
          `(goal ≤ 200 MiB: ${idle <= 200 ? 'met' : 'NOT met'})`,
      );
      say(
        `  ${String(PIPELINES).padStart(3)} pipelines running (sleep steps)    ${busyMiB.toFixed(0)} MiB ` +
          `(${(busyMiB / idle).toFixed(2)}× idle; goal ≤ 200 MiB: ${busyMiB <= 200 ? 'met' : 'NOT met'})`,
      );
      say(
        `  during ${PROMPTS} LLM prompts                 ${promptsMiB.toFixed(0)} MiB ` +
          `(${(promptsMiB / idle).toFixed(2)}× idle; goal ≤ 400 MiB: ${promptsMiB <= 400 ? 'met' : 'NOT met'})`,
      );
    };
    sayMemory('`node_modules/.bin/poc worker`, the installed package', idleMiB, await memoryUnderLoad(pid, taskQueue));

    // Streaming: one answer of STREAM_SECONDS, 10 chunks a second, to the workflow and a Slack message.
    llm.defaultBehaviour = {
      chunks: Array.from({ length: STREAM_SECONDS * 10 }, (_, i) => `w${i} `),
      chunkDelayMs: 100,
    };
    const { workflowId: streamed } = await startLlm(
      client,
      { backend: 'openai', model: 'gpt-4o-mini', prompt: 'Talk', slack: { channel: 'C0BENCH' } },
      { taskQueue },
    );
    await client.workflow.getHandle(streamed).result();
    const streamHistory = await client.workflow.getHandle(streamed).fetchHistory();
    const events = streamHistory.events?.length ?? 0;
    const signals = (streamHistory.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    const perMinute = events / (STREAM_SECONDS / 60);
    say();
    say(`streaming an answer for ${STREAM_SECONDS} s (10 chunks/s) to the workflow and a Slack status message`);
    say(
      `  ${events} history events (${signals} llmChunk signals, ` +
        `${slack.botMessages('C0BENCH')[0]?.versions.length ?? 0} ` +
        `Slack versions) = ${perMinute.toFixed(0)} events per minute of streaming`,
    );
    say(
      `  a 15-minute answer: about ${Math.round(perMinute * 15)} events, ` +
        `${(((perMinute * 15) / 51_200) * 100).toFixed(1)}% of ` +
        `Temporal's 51,200-event limit (warning at 10,240: ${((perMinute * 15) / 10_240).toFixed(2)}×)`,
    );

    // Hostile inputs: what they may reach is searched for planted secrets and canaries afterwards.
    const hostileWs = fixtureWorkspace(
      path.join(dir, 'hostile'),
      {
        lint: 'printf "%s\\n" "$POC_RUN_ID" >> runner/ids.txt; env; cat .env; echo "$DATABASE_URL $DEPLOY_TOKEN"',
        test: 'ln -sf /etc/hostname runner/artifacts/host.txt; exit 3',
      },
      { files: { '.env': `DB_PASSWORD=${dotenvSecret}\n` } },
    );
    fs.appendFileSync(
      path.join(hostileWs, 'docker-compose.yml'),
      '    environment:\n      - OPENAI_API_KEY\n      - DEPLOY_TOKEN\n      - DATABASE_URL\n',
    );
    const canary = path.join(dir, 'CANARY-host');
    const inputs = hostileInputs(20261129, HOSTILE, canary, 'pipeline').map((input) =>
      input && typeof input === 'object' && !Array.isArray(input) ? { ...input, workspace: hostileWs } : input,
    );
    const ids = hostileIds(20261130, Math.max(10, Math.floor(HOSTILE / 10)), canary);
    const llmInputs = hostileInputs(20261131, Math.floor(HOSTILE / 3), canary, 'llm');
    llm.defaultBehaviour = { chunks: [`echo ${planted.OPENAI_API_KEY}`] };
    const workflowIds: string[] = [];
    const startAll = async (type: string, input: unknown, workflowId: string) => {
      workflowIds.push(workflowId);
      const handle = await client.workflow.start(type, { workflowId, taskQueue, args: [input] });
      // A run that asks a question, or waits for a host it can never have (a label no host has), is
      // cancelled: what counts is what it leaves behind, not how long it would wait.
      let queuedSince: number | undefined;
      // One query at a time, and the last one awaited: none may outlive the connection.
      let asking: Promise<unknown> | undefined;
      const ask = () =>
        handle
          .query('status')
          .then((s) => {
            const { phase, queueReason } = s as { phase?: string; queueReason?: string | null };
            queuedSince = phase === 'QUEUED' && queueReason ? (queuedSince ?? Date.now()) : undefined;
            const stuck = queuedSince !== undefined && Date.now() - queuedSince > 30_000;
            return phase === 'AWAITING_DECISION' || stuck ? handle.cancel() : undefined;
          })
          .catch(() => undefined)
          .finally(() => (asking = undefined));
      const watcher = setInterval(() => {
        asking ??= ask();
      }, 1_000);
      await handle.result().catch(() => undefined);
      clearInterval(watcher);
      await asking;
    };
    await Promise.all([
      ...inputs.map((input, i) => startAll('pipeline', input, `pipeline-hostile-${i}`)),
      ...llmInputs.map((input, i) => startAll('llmPrompt', input, `llm-hostile-${i}`)),
      ...ids.map((id) => startAll('pipeline', { steps: ['lint', 'test'], workspace: hostileWs }, id)),
    ]);
    const secrets = [...Object.values(planted), dotenvSecret, planted.DATABASE_URL.split(':')[2].split('@')[0]];
    const leaks: string[] = [];
    for (const workflowId of workflowIds) {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const text = historyText(history).join('\n');
      for (const secret of secrets) if (text.includes(secret)) leaks.push(`history of ${workflowId}`);
    }
    const workspaceDotenv = fs.readFileSync(path.join(hostileWs, '.env'), 'utf8');
    let dotenvCopies = 0;
    for (const file of filesUnder(jobsDir)) {
      const text = fs.readFileSync(file, 'utf8');
      // The run's own copy of the workspace's .env (what every step's Compose reads), owner-only: not a leak.
      if (path.basename(file) === 'env' && text === workspaceDotenv && (fs.statSync(file).mode & 0o077) === 0) {
        dotenvCopies += 1;
        continue;
      }
      for (const secret of secrets) if (text.includes(secret)) leaks.push(`file ${path.relative(dir, file)}`);
      if (/artifacts\/host\.txt$/.test(file)) leaks.push(`host file copied: ${file}`);
    }
    for (const secret of secrets) if (worker.output().includes(secret)) leaks.push('worker log');
    if (fs.existsSync(canary)) leaks.push('host canary');
    if (fs.existsSync(path.join(hostileWs, CONTAINER_CANARY))) leaks.push('container canary');
    const tried = inputs.length + llmInputs.length + ids.length;
    say();
    say(
      `hostile inputs tried: ${tried} (${inputs.length} pipeline inputs, ${llmInputs.length} LLM inputs, ` +
        `${ids.length} workflow ids; steps that print planted secrets and link host files)`,
    );
    say(`  (${dotenvCopies} run folders hold the owner-only copy of the workspace's .env their steps read)`);
    say(
      `leaks found: ${leaks.length}${leaks.length ? ` — ${[...new Set(leaks)].slice(0, 40).join('; ')}` : ''} (goal 0)`,
    );

    // The same memory figures for `cli/poc.js worker` in this clone (tsx compiles the sources in-process).
    await worker.kill();
    const clone = await startPocWorker('clone');
    sayMemory(
      '`cli/poc.js worker` in a clone (TypeScript through tsx)',
      await idleOf(clone.pid, clone.taskQueue),
      await memoryUnderLoad(clone.pid, clone.taskQueue),
    );
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    for (const stop of stops.reverse())
      await stop().catch((err) => process.stderr.write(`stopping: ${(err as Error).message}\n`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
