/**
 * The `poc` command. Exit codes: 0 success, 1 the run (or the operation) failed, 2 bad usage.
 * Every read command takes --json for scripts.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import {
  InputError,
  RunNotFoundError,
  cancelRun,
  connect,
  decide,
  endChat,
  followRun,
  getRunStatus,
  listHosts,
  listRuns,
  liveStepOutput,
  startLlm,
  startPipeline,
  waitForLlmResult,
  type LiveStepOutput,
  type LlmStatus,
  type PipelineStatus,
  type RunKind,
  type StepState,
  type RunStatus,
} from '../client/index.js';
import { ConfigError, loadHostConfig, repoRoot, runUrl, type PocConfig } from '../core/config.js';
import { DECISION_ACTIONS, helpText, parseCommand, UsageError, type Command } from '../client/grammar.js';
import { readFrom, readStepLog, pickStep } from '../client/logs.js';
import {
  paint,
  plainLine,
  renderHosts,
  renderList,
  renderStatus,
  spinnerLine,
  stepLine,
  totalsText,
  type Style,
} from './render.js';
import { hostMoveText } from '../render/hosts.js';
import { redact } from '../core/redact.js';

class RunFailed extends Error {}

/** Where output goes: the process's streams, or a caller's (tests, embedding). */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** What `poc chat` reads (the process's stdin when left out). */
  stdin?: NodeJS.ReadableStream;
}
let io: Io = process;
/** False when NO_COLOR is set (the config's `color`). */
let colorAllowed = true;
const out = (text: string) => io.stdout.write(text.endsWith('\n') ? text : text + '\n');
const err = (text: string) => io.stderr.write(text.endsWith('\n') ? text : text + '\n');

function style(stream: Io['stdout'] = io.stdout): Style {
  return { color: Boolean(stream.isTTY) && colorAllowed };
}

function whoAmI(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** `stream`, with everything written to it redacted first: no path of the CLI prints a secret. */
function redacting<S extends Io['stdout']>(stream: S): S {
  return new Proxy(stream, {
    get(target, property) {
      if (property === 'write') {
        return (chunk: unknown, ...rest: unknown[]) =>
          (target.write as (...args: unknown[]) => boolean)(
            typeof chunk === 'string' || Buffer.isBuffer(chunk) ? redact(String(chunk)) : chunk,
            ...rest,
          );
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Where a run started here comes from, for the Web UI's details. */
function cliSource(): string {
  return `poc CLI on ${os.hostname()}`;
}

export async function main(argv: string[], streams: Io = process): Promise<number> {
  const previous = io;
  io = { stdout: redacting(streams.stdout), stderr: redacting(streams.stderr) };
  try {
    return await runCommand(argv);
  } finally {
    io = previous;
  }
}

async function runCommand(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv, 'cli');
  } catch (e) {
    if (e instanceof UsageError) {
      err(`poc: ${e.message}`);
      return 2;
    }
    throw e;
  }
  let config: PocConfig;
  try {
    // `.env` and `runner/.env` of this folder first (the real environment wins), as the original did.
    config = loadHostConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(`poc: ${redact(e.message)}`);
    return 2;
  }
  colorAllowed = config.color;
  let client: Client | undefined;
  const getClient = async () => (client ??= await connect(config));
  try {
    return await dispatch(command, config, getClient);
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError) {
      err(`poc: ${e.message}`);
      return 2;
    }
    if (e instanceof RunFailed) return 1;
    err(`poc: ${redact(e instanceof RunNotFoundError ? e.message : ((e as Error).message ?? String(e)))}`);
    return 1;
  } finally {
    await client?.connection.close().catch(() => undefined);
  }
}

async function dispatch(command: Command, config: PocConfig, getClient: () => Promise<Client>): Promise<number> {
  const log = (line: string) => err(line);
  switch (command.name) {
    case 'help':
      out(helpText('cli', command.topic));
      return 0;
    case 'version': {
      const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
        version: string;
      };
      out(pkg.version);
      return 0;
    }
    case 'up': {
      const { up } = await import('./stack.js');
      await up(config, log);
      return 0;
    }
    case 'server': {
      const { serverOnly } = await import('./stack.js');
      await serverOnly(config, log);
      return 0;
    }
    case 'worker': {
      const { workerOnly } = await import('./stack.js');
      await workerOnly(config, log);
      return 0;
    }
    case 'bot': {
      const { botOnly } = await import('./stack.js');
      await botOnly(config, log);
      return 0;
    }
    case 'doctor': {
      const { runDoctor, renderChecks } = await import('./doctor.js');
      const checks = await runDoctor(config);
      out(command.json ? JSON.stringify(checks, null, 2) : renderChecks(checks, style().color));
      return checks.some((c) => c.state === 'FAIL') ? 1 : 0;
    }
    case 'run': {
      const client = await getClient();
      // --workspace, else this shell's POC_WORKSPACE, else the host's default (its own POC_WORKSPACE);
      // a run from git (--repo) has a checkout of its own on its host instead.
      const chosen = command.repo ? undefined : (command.workspace ?? config.workspaceFromEnv);
      const workspace = chosen ? path.resolve(chosen) : undefined;
      const started = await startPipeline(
        client,
        {
          goal: command.goal,
          steps: command.steps,
          workspace,
          requestedBy: whoAmI(),
          onFailure: command.ask ? 'ask' : 'fail',
          approve: command.approve,
          labels: command.labels,
          repo: command.repo,
          ref: command.ref,
          queueTimeoutSeconds: command.queueTimeoutSeconds,
        },
        { id: command.id, taskQueue: config.taskQueue, source: cliSource() },
      );
      if (command.json && !command.follow) {
        out(JSON.stringify(started));
        return 0;
      }
      err(`started ${started.workflowId}  ${runUrl(config, started.workflowId)}`);
      if (!command.follow) {
        err(`follow it with \`poc status ${started.workflowId}\` or \`poc logs ${started.workflowId} --follow\``);
        out(started.workflowId);
        return 0;
      }
      const final = await followPipeline(client, started.workflowId, command.json);
      return final.phase === 'DONE' ? 0 : 1;
    }
    case 'llm': {
      const input = {
        backend: command.backend,
        model: command.model,
        prompt: command.prompt,
        system: command.system,
        maxTokens: command.maxTokens,
        temperature: command.temperature,
      };
      if (command.direct) {
        const { runLlmDirect } = await import('./llm-direct.js');
        const result = await runLlmDirect(input, command.json ? devNull() : io.stdout, config.llm);
        if (command.json) out(JSON.stringify(result, null, 2));
        else
          err(
            `\n${result.inputTokens} in / ${result.outputTokens} out tokens · ` +
              `${result.latencyMs} ms · ${result.finishReason}`,
          );
        return 0;
      }
      const client = await getClient();
      const started = await startLlm(
        client,
        { ...input, requestedBy: whoAmI() },
        { taskQueue: config.taskQueue, source: cliSource() },
      );
      if (!command.json) err(`started ${started.workflowId}  ${runUrl(config, started.workflowId)}`);
      return streamLlm(client, started.workflowId, command.json);
    }
    case 'chat': {
      const { runChat } = await import('./chat.js');
      return runChat(await getClient(), config, command, {
        stdin: io.stdin ?? process.stdin,
        stdout: io.stdout,
        stderr: io.stderr,
        style: style(io.stderr),
        who: whoAmI(),
      });
    }
    case 'end': {
      const client = await getClient();
      const id = command.id ?? (await newestRun(client, true, 'chat'));
      const final = await endChat(client, id, whoAmI());
      out(command.json ? JSON.stringify(final, null, 2) : `ended ${final.id} · ${totalsText(final.usage)}`);
      return 0;
    }
    case 'models': {
      const { listModelsDirect } = await import('./llm-direct.js');
      const models = await listModelsDirect(command.backend, config.llm);
      out(command.json ? JSON.stringify(models) : models.join('\n') || '(no models)');
      return 0;
    }
    case 'status': {
      const client = await getClient();
      const id = command.id ?? (await newestRun(client));
      const status = await getRunStatus(client, id);
      out(command.json ? JSON.stringify(status, null, 2) : renderStatus(status, style()));
      return 0;
    }
    case 'hosts': {
      const hosts = await listHosts(await getClient(), { taskQueue: config.taskQueue });
      out(command.json ? JSON.stringify(hosts, null, 2) : renderHosts(hosts, style()));
      return 0;
    }
    case 'list': {
      const runs = await listRuns(await getClient(), {
        limit: command.limit,
        kind: command.kind,
        phase: command.phase,
      });
      out(command.json ? JSON.stringify(runs, null, 2) : renderList(runs, style()));
      return 0;
    }
    case 'logs': {
      const client = await getClient();
      const status = await getRunStatus(client, command.id);
      if (status.kind !== 'pipeline')
        throw new UsageError(
          `${status.id} is ${status.kind === 'chat' ? 'a conversation' : 'an LLM run'}; it has no step logs ` +
            `(\`poc status ${status.id}\` shows ${status.kind === 'chat' ? 'its transcript' : 'its answer'})`,
        );
      if (command.follow) return followLog(client, status, command.step);
      const log = readStepLog(status, command.step, command.lines);
      if (command.json) out(JSON.stringify(log, null, 2));
      else {
        err(
          `${status.id} · ${log.step} · ${log.path ?? 'no log yet'}` +
            `${log.source === 'status' ? ' (file not on this machine; tail kept by the run)' : ''}`,
        );
        if (log.text) out(log.text);
      }
      return 0;
    }
    case 'cancel': {
      const client = await getClient();
      const workflowId = await cancelRun(client, command.id ?? (await newestRun(client, true)));
      out(
        command.json
          ? JSON.stringify({ workflowId, cancelRequested: true })
          : `cancel requested for ${workflowId}; its container is stopped and removed`,
      );
      return 0;
    }
    case 'retry':
    case 'skip':
    case 'abort':
    case 'approve':
    case 'approve-all':
    case 'deny': {
      // One id for this invocation: however often the call is retried, it answers one question.
      const updateId = `cli-${crypto.randomUUID()}`;
      const result = await decide(
        await getClient(),
        command.id,
        { action: DECISION_ACTIONS[command.name], by: whoAmI() },
        { updateId },
      );
      out(command.json ? JSON.stringify(result) : `${result.action} accepted for step ${result.step}`);
      return 0;
    }
    case 'schedule': {
      const { runScheduleCommand } = await import('../client/schedules.js');
      return runScheduleCommand(await getClient(), config, command, out);
    }
    case 'cluster': {
      const { runClusterCommand } = await import('./cluster.js');
      return runClusterCommand(command, config, { out, err });
    }
  }
}

function devNull(): NodeJS.WritableStream {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

async function newestRun(client: Client, openOnly = false, kind?: RunKind): Promise<string> {
  const runs = await listRuns(client, { limit: openOnly ? 50 : 1, kind });
  const run = openOnly ? runs.find((r) => !r.closeTime) : runs[0];
  if (!run && kind === 'chat') throw new UsageError('no conversation is open; give its id (`poc list --kind chat`)');
  if (!run)
    throw new UsageError(
      openOnly ? 'no run is queued or running; give a run id' : 'no runs yet; start one with `poc run`',
    );
  return run.workflowId;
}

/** Live view of a pipeline: a line per step change, a ticking line for the running step. */
async function followPipeline(client: Client, workflowId: string, json: boolean): Promise<PipelineStatus> {
  const tty = Boolean(io.stderr.isTTY) && !json;
  const s = style(io.stderr);
  const printed = new Map<string, string>();
  let current: PipelineStatus | undefined;
  let lastPhase = '';
  let lastError = '';
  let lastHost: string | null = null;
  let lastCommit: string | null = null;
  let movesShown = 0;
  let frame = 0;
  const runningStep = () => current?.steps.find((step) => step.status === 'running');
  const clearLine = () => tty && io.stderr.write('\r\u001b[2K');
  // The running step's newest output line, from its heartbeat: a step that takes minutes is never silent.
  let live: LiveStepOutput | undefined;
  const liveFor = (step: StepState) =>
    live && live.step === step.name && live.attempt === step.attempt ? live.lastLine : undefined;
  const stopWatching = json
    ? () => undefined
    : watchLiveOutput(client, workflowId, tty ? 1_000 : 5_000, (update) => {
        live = update;
        const running = runningStep();
        const line = running && liveFor(running);
        if (!tty && running && line) err(paint(s, 'gray', `  │ ${running.name}: ${plainLine(line)}`));
      });
  const ticker = tty
    ? setInterval(() => {
        const running = runningStep();
        if (running) io.stderr.write(`\r\u001b[2K${spinnerLine(running, frame++, liveFor(running), s, columns())}`);
      }, 100)
    : undefined;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  const abort = new AbortController();
  const watchInterrupt = setInterval(() => interrupted && abort.abort(), 100);
  let final: RunStatus;
  try {
    final = await followRun(
      client,
      workflowId,
      (status) => {
        const p = status as PipelineStatus;
        current = p;
        if (json) {
          out(JSON.stringify(p));
          return;
        }
        for (const move of (p.hostMoves ?? []).slice(movesShown)) {
          clearLine();
          err(paint(s, 'yellow', hostMoveText(move)));
        }
        movesShown = p.hostMoves?.length ?? 0;
        if (p.phase !== lastPhase) {
          lastPhase = p.phase;
          clearLine();
          const extra = p.phase === 'QUEUED' && p.queuePosition ? ` (${p.queuePosition} ahead)` : '';
          const why = p.phase === 'QUEUED' && p.queueReason ? `: ${p.queueReason}` : '';
          if (!['DONE', 'FAILED', 'CANCELLED'].includes(p.phase)) err(paint(s, 'bold', `${p.phase}${extra}${why}`));
        }
        if (p.host && p.host !== lastHost) {
          clearLine();
          err(paint(s, 'gray', `on host ${p.host}`));
        }
        lastHost = p.host ?? null;
        if (p.commit && p.commit !== lastCommit) {
          clearLine();
          err(paint(s, 'gray', `checked out ${p.repo ?? ''} ${p.ref ? `${p.ref} ` : ''}at ${p.commit.slice(0, 12)}`));
        }
        lastCommit = p.commit ?? null;
        if (p.error && p.error !== lastError) {
          lastError = p.error;
          if (p.phase === 'RUNNING' || p.phase === 'QUEUED') {
            clearLine();
            err(paint(s, 'yellow', `  ${p.error}`));
          }
        }
        for (const step of p.steps) {
          const key = `${step.status}#${step.attempt}`;
          if (printed.get(step.name) === key) continue;
          printed.set(step.name, key);
          if (step.status === 'pending') continue;
          if (step.status === 'running' && tty) continue; // The ticker shows it.
          clearLine();
          err(stepLine(step, s));
        }
        if (p.pendingDecision) {
          clearLine();
          const verbs = p.pendingDecision.options.map((o) => (o === 'approveAll' ? 'approve-all' : o)).join('|');
          err(paint(s, 'yellow', `? ${p.pendingDecision.step} awaits a decision: poc ${verbs} ${p.id}`));
        }
      },
      { signal: abort.signal },
    );
  } finally {
    if (ticker) clearInterval(ticker);
    stopWatching();
    clearInterval(watchInterrupt);
    process.off('SIGINT', onSigint);
    clearLine();
  }
  const status = final as PipelineStatus;
  if (interrupted && !['DONE', 'FAILED', 'CANCELLED'].includes(status.phase)) {
    err(`stopped following; ${workflowId} goes on (\`poc cancel ${workflowId}\` stops it)`);
    return status;
  }
  if (json) return status;
  if (status.phase === 'DONE') err(paint(s, 'green', `✔ DONE: every step passed (${workflowId})`));
  else if (status.phase === 'CANCELLED')
    err(paint(s, 'yellow', `■ CANCELLED${status.error && status.error !== 'cancelled' ? `: ${status.error}` : ''}`));
  else {
    const failed = pickStep(status);
    const log = readStepLog(status, failed.name, 30);
    err(paint(s, 'red', `✖ FAILED at ${failed.name}${failed.exitCode !== null ? ` (exit ${failed.exitCode})` : ''}`));
    if (log.text)
      err(
        paint(
          s,
          'gray',
          log.text
            .split('\n')
            .map((l) => `  │ ${l}`)
            .join('\n'),
        ),
      );
    err(`log: ${log.path ?? 'none'}`);
  }
  return status;
}

/** Terminal width for one-line displays. */
function columns(): number {
  return (io.stderr as { columns?: number }).columns ?? 100;
}

/**
 * Calls `onChange` whenever the run's running step reports a new output line (its heartbeat
 * details, read every `everyMs`); returns the function that stops watching.
 */
function watchLiveOutput(
  client: Client,
  workflowId: string,
  everyMs: number,
  onChange: (live: LiveStepOutput) => void,
): () => void {
  let stopped = false;
  let last = '';
  let wake: (() => void) | undefined;
  void (async () => {
    while (!stopped) {
      const live = await liveStepOutput(client, workflowId).catch(() => undefined);
      const key = live ? `${live.step}#${live.attempt}:${live.lastLine}` : '';
      if (!stopped && live?.lastLine && key !== last) {
        last = key;
        onChange(live);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, everyMs).unref();
      });
    }
  })();
  return () => {
    stopped = true;
    wake?.();
  };
}

/**
 * Streams a step's log as it grows. When the file is on another machine (the worker's), the
 * running step's newest line comes from its heartbeat instead; on a terminal a spinner with the
 * elapsed time shows the step is alive between lines.
 */
async function followLog(client: Client, status: PipelineStatus, stepName?: string): Promise<number> {
  let step = pickStep(status, stepName);
  let offset = 0;
  let current = status;
  const tty = Boolean(io.stderr.isTTY);
  const s = style(io.stderr);
  let frame = 0;
  let live: LiveStepOutput | undefined;
  let remoteLine = '';
  let partial = '';
  const clearLine = () => tty && io.stderr.write('\r\u001b[2K');
  const stopWatching = watchLiveOutput(client, status.id, 1_000, (update) => (live = update));
  try {
    for (;;) {
      const local = step.logPath !== null && fs.existsSync(step.logPath);
      if (step.logPath && local) {
        const chunk = readFrom(step.logPath, offset);
        offset = chunk.offset;
        if (chunk.text) {
          // Whole lines only while the spinner is up, so it never lands in the middle of one.
          const text = partial + chunk.text;
          const cut = tty ? text.lastIndexOf('\n') + 1 : text.length;
          partial = text.slice(cut);
          clearLine();
          io.stdout.write(text.slice(0, cut));
        }
      } else if (live && live.step === step.name && live.attempt === step.attempt && live.lastLine !== remoteLine) {
        remoteLine = live.lastLine;
        clearLine();
        out(plainLine(remoteLine));
      }
      if (['DONE', 'FAILED', 'CANCELLED'].includes(current.phase)) {
        clearLine();
        if (partial) io.stdout.write(partial);
        return current.phase === 'DONE' ? 0 : 1;
      }
      if (!stepName && step.status !== 'running' && step.status !== 'pending') {
        const next = pickStep(current);
        if (next.name !== step.name && next.logPath) {
          if (partial) io.stdout.write(`${partial}\n`);
          partial = '';
          step = next;
          offset = 0;
          clearLine();
          err(`--- ${step.name} ---`);
          continue;
        }
      }
      if (tty && step.status === 'running') {
        const line = local ? undefined : remoteLine || undefined;
        io.stderr.write(`\r\u001b[2K${spinnerLine(step, frame++, line, s, columns())}`);
      }
      await new Promise((r) => setTimeout(r, 250));
      current = (await getRunStatus(client, status.id)) as PipelineStatus;
      step = current.steps.find((candidate) => candidate.name === step.name) ?? step;
    }
  } finally {
    stopWatching();
    clearLine();
  }
}

/** Prints an LLM answer as it streams in (stdout), usage at the end (stderr). */
async function streamLlm(client: Client, workflowId: string, json: boolean): Promise<number> {
  let shown = '';
  let attempt = 1;
  const final = (await followRun(
    client,
    workflowId,
    (status) => {
      const s = status as LlmStatus;
      if (json) return;
      if (s.attempt !== attempt) {
        attempt = s.attempt;
        if (shown) io.stdout.write(`\n[attempt ${attempt}]\n`);
        shown = '';
      }
      if (s.partialText.startsWith(shown) && s.partialText.length > shown.length) {
        io.stdout.write(s.partialText.slice(shown.length));
        shown = s.partialText;
      }
    },
    { intervalMs: 150 },
  )) as LlmStatus;
  if (final.phase !== 'DONE' || !final.result) {
    const message =
      final.error ??
      (await waitForLlmResult(client, workflowId).then(
        () => 'ended without an answer',
        (e: Error) => e.message,
      ));
    if (json) out(JSON.stringify({ workflowId, phase: final.phase, error: message }));
    else err(`\n${final.phase}: ${message}`);
    return 1;
  }
  const result = final.result;
  if (json) {
    out(JSON.stringify(result, null, 2));
    return 0;
  }
  if (result.text.startsWith(shown)) io.stdout.write(result.text.slice(shown.length));
  else io.stdout.write((shown ? '\n' : '') + result.text);
  io.stdout.write('\n');
  err(
    `${result.usage.inputTokens} in / ${result.usage.outputTokens} out tokens · ` +
      `${result.latencyMs} ms · ${result.attempts} attempt(s) · ${result.finishReason}`,
  );
  return 0;
}

// `tsx cli/main.ts …` (runner/scripts/run.sh) runs it directly; the `poc` bin imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Output to a pipe is flushed before exit; a stray handle must not keep the command alive.
  setTimeout(() => process.exit(code), 3_000).unref();
}
