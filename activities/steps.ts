/**
 * `runStep`: one pipeline step in the workspace's compose service, its output streamed to the
 * step log as it comes.
 *
 * The container has a fixed name and our labels, and this activity owns its end: on success,
 * failure, timeout and cancel it is stopped and removed by name (killing the compose client does
 * not reliably stop a container). The exit code is read from the engine, so a script that exits
 * non-zero is told apart from Compose failing before the script ran.
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { execa } from 'execa';
import { ApplicationFailure, Context, log as activityLog } from '@temporalio/activity';
import {
  ComposeMissingError,
  LABEL_ATTEMPT,
  LABEL_STEP,
  LABEL_WORKFLOW,
  containerName,
  detectCompose,
  engineProblem,
  containerExit,
  listContainers,
  removeContainers,
  stopAndRemove,
} from '../docker/index.js';
import type { ComposeChoice } from '../core/config.js';
import { redact } from '../core/redact.js';
import { STEP_FAILURE_TYPES, type RunStepArgs, type StepFailureDetails, type StepResult } from './types.js';

const TAIL_LINES = 40;
const TAIL_CHARS = 3_500;
const HEARTBEAT_EVERY_MS = 2_000;
const STOP_GRACE_SECONDS = 5;

/** Keeps the last lines of a stream, redacted, split on newlines across chunk boundaries. */
export class LineTail {
  private lines: string[] = [];
  private partial = '';
  bytes = 0;

  /** Feeds a chunk; returns the complete lines (redacted) it finished. */
  push(chunk: string): string[] {
    this.bytes += Buffer.byteLength(chunk);
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    const done = parts.map((line) => redact(line.replace(/\r$/, '')));
    this.lines.push(...done);
    if (this.lines.length > TAIL_LINES * 2) this.lines = this.lines.slice(-TAIL_LINES);
    return done;
  }

  /** The unfinished last line, redacted, and forgets it. */
  flush(): string | undefined {
    if (!this.partial) return undefined;
    const line = redact(this.partial);
    this.partial = '';
    this.lines.push(line);
    return line;
  }

  tail(): string {
    let text = this.lines.slice(-TAIL_LINES).join('\n');
    if (text.length > TAIL_CHARS) text = '…' + text.slice(-TAIL_CHARS);
    return text;
  }

  lastLine(): string {
    return this.lines[this.lines.length - 1] ?? '';
  }
}

function composeArgs(files: string[]): string[] {
  return files.flatMap((file) => ['-f', file]);
}

/** The `runStep` activity, with the Compose flavour the config forces (POC_COMPOSE), if any. */
export function createRunStep({ compose }: { compose?: ComposeChoice } = {}) {
  return function runStep(args: RunStepArgs): Promise<StepResult> {
    return runStepWith(args, compose);
  };
}

async function runStepWith(args: RunStepArgs, forcedCompose: ComposeChoice | undefined): Promise<StepResult> {
  const ctx = Context.current();
  const started = Date.now();
  const { step, workflowId } = args;
  const name = containerName(workflowId, step.name, args.attempt, ctx.info.attempt);

  fs.mkdirSync(path.dirname(args.logPath), { recursive: true });
  const log = fs.createWriteStream(args.logPath, { flags: 'a' });
  const writeLine = (line: string) => log.write(line + '\n');
  const tail = new LineTail();

  let compose;
  try {
    compose = await detectCompose(forcedCompose);
  } catch (err) {
    log.end();
    if (err instanceof ComposeMissingError)
      throw ApplicationFailure.nonRetryable(err.message, STEP_FAILURE_TYPES.dockerUnavailable);
    throw err;
  }

  // An earlier attempt of this step (worker died, heartbeat timed out) may have left its container.
  if (args.attempt > 1 || ctx.info.attempt > 1) {
    const leftovers = await listContainers({ workflowId, step: step.name }).catch(() => []);
    await removeContainers(leftovers.map((c) => c.id));
  }

  const argv =
    step.kind === 'build'
      ? [...compose.prefix, ...composeArgs(args.composeFiles), 'build', args.service]
      : [
          ...compose.prefix,
          ...composeArgs(args.composeFiles),
          'run',
          '--rm',
          '-T',
          '--name',
          name,
          '--label',
          `${LABEL_WORKFLOW}=${workflowId}`,
          '--label',
          `${LABEL_STEP}=${step.name}`,
          '--label',
          `${LABEL_ATTEMPT}=${args.attempt}.${ctx.info.attempt}`,
          '-e',
          `POC_RUN_ID=${workflowId}`,
          '-e',
          `POC_STEP=${step.name}`,
          args.service,
          'bash',
          '-lc',
          step.command,
        ];
  writeLine(
    `=== ${new Date(started).toISOString()} step ${step.name} · attempt ${args.attempt}` +
      `${ctx.info.attempt > 1 ? ` (activity attempt ${ctx.info.attempt})` : ''}` +
      ` · ${compose.command} ${argv.join(' ')}`,
  );

  // Events of this container are looked up from here on (a second of slack for clock rounding).
  const containerSince = (Date.now() - 1_000) / 1000;
  activityLog.info('step started', {
    step: step.name,
    attempt: args.attempt,
    container: step.kind === 'run' ? name : null,
    compose: `${compose.command} ${compose.version}`,
  });
  const child = execa(compose.command, argv, {
    cwd: args.workspace,
    all: true,
    buffer: false,
    reject: false,
    stdin: 'ignore',
    // No TTY, plain progress: logs stay readable. (Never COMPOSE_INTERACTIVE_NO_CLI: with it,
    // docker-compose 1.29 starts a `run` container twice, so the step would run twice.)
    env: { COMPOSE_PROGRESS: 'plain', BUILDKIT_PROGRESS: 'plain' },
    forceKillAfterDelay: 5_000,
  });
  child.all?.setEncoding('utf8');
  child.all?.on('data', (chunk: string) => {
    for (const line of tail.push(chunk)) writeLine(line);
  });

  let stopping: Promise<void> | undefined;
  let timedOut = false;
  const stop = () => {
    // Build steps have no container: ending the client cancels the build.
    stopping ??=
      step.kind === 'build'
        ? Promise.resolve(void child.kill('SIGTERM'))
        : stopAndRemove(name, STOP_GRACE_SECONDS).then(() => void child.kill('SIGTERM'));
    return stopping;
  };
  const timeout = setTimeout(() => {
    timedOut = true;
    writeLine(`=== step ${step.name} timed out after ${args.timeoutSeconds} s; stopping it`);
    void stop();
  }, args.timeoutSeconds * 1000);
  const onCancel = () => {
    writeLine(
      `=== step ${step.name} cancelled ` +
        `(${String(ctx.cancellationSignal.reason?.message ?? 'cancel requested')}); stopping it`,
    );
    void stop();
  };
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  const heartbeat = setInterval(
    () => ctx.heartbeat({ bytes: tail.bytes, lastLine: tail.lastLine().slice(0, 200) }),
    HEARTBEAT_EVERY_MS,
  );
  ctx.heartbeat({ bytes: 0 });

  let result;
  try {
    result = await child;
    if (child.all && !child.all.readableEnded) await once(child.all, 'end').catch(() => undefined);
  } finally {
    clearTimeout(timeout);
    clearInterval(heartbeat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  }
  const last = tail.flush();
  if (last !== undefined) writeLine(last);

  // `--rm` removed the container when it ended by itself; exit 0 is unambiguous and costs nothing
  // more. Otherwise the engine's record says whether the script ran (and with what code) — compose's
  // own exit code cannot tell a script's `exit 1` from compose failing — and whatever is left of the
  // container (a stop, a client that could not remove it) goes now.
  const exit =
    step.kind !== 'run'
      ? null
      : result.exitCode === 0 && !stopping
        ? { exitCode: 0, oomKilled: false }
        : await containerExit(name, containerSince);
  if (step.kind === 'run' && (result.exitCode !== 0 || stopping)) {
    if (stopping) await stopping;
    await removeContainers([name]);
  }
  const durationMs = Date.now() - started;
  const outcome = ctx.cancellationSignal.aborted
    ? 'cancelled'
    : timedOut
      ? 'timeout'
      : exit?.exitCode === 0 || (step.kind === 'build' && result.exitCode === 0)
        ? 'passed'
        : 'failed';
  activityLog.info('step finished', {
    step: step.name,
    attempt: args.attempt,
    outcome,
    exitCode: exit?.exitCode ?? result.exitCode ?? null,
    durationMs,
  });
  ctx.metricMeter
    .createHistogram('poc_step_duration', 'int', 'ms', 'duration of pipeline steps, by step and outcome')
    .record(durationMs, { step: step.name, outcome });
  collectArtifacts(args.workspace, path.join(args.jobDir, 'artifacts'), started);
  const finish = (line: string) =>
    new Promise<void>((resolve) => {
      writeLine(`=== ${line} (${(durationMs / 1000).toFixed(1)} s)`);
      log.end(resolve);
    });

  if (ctx.cancellationSignal.aborted) {
    await finish(`step ${step.name} cancelled`);
    throw ctx.cancellationSignal.reason;
  }
  const details = (exitCode: number | null): StepFailureDetails => ({
    exitCode,
    logTail: tail.tail(),
    logPath: args.logPath,
    timedOut,
  });
  if (timedOut) {
    await finish(`step ${step.name} timed out`);
    throw ApplicationFailure.create({
      message: `step ${step.name} timed out after ${args.timeoutSeconds} s`,
      type: STEP_FAILURE_TYPES.timedOut,
      nonRetryable: true,
      details: [details(exit?.exitCode ?? null)],
    });
  }

  const exitCode = step.kind === 'run' ? (exit?.exitCode ?? null) : (result.exitCode ?? null);
  if (exitCode === 0) {
    await finish(`step ${step.name} passed`);
    return { exitCode: 0, durationMs, logTail: tail.tail() };
  }
  if (step.kind === 'run' && exit === null) {
    // Compose never got the script running: an infrastructure problem, not the user's code.
    const problem = await engineProblem();
    const why =
      problem ??
      `${compose.command} ${compose.prefix.join(' ')} run failed before the step started: ` +
        `${redact(tail.lastLine()).slice(0, 300) || `exit code ${result.exitCode}`}`;
    await finish(why);
    throw ApplicationFailure.create({
      message: why,
      type: problem ? STEP_FAILURE_TYPES.dockerUnavailable : STEP_FAILURE_TYPES.compose,
      nonRetryable: true,
      details: [details(null)],
    });
  }
  if (step.kind === 'build') {
    const problem = await engineProblem();
    if (problem) {
      await finish(problem);
      throw ApplicationFailure.create({
        message: problem,
        type: STEP_FAILURE_TYPES.dockerUnavailable,
        nonRetryable: true,
        details: [details(null)],
      });
    }
  }
  const oom = exit?.oomKilled ? ' (killed: out of memory)' : '';
  await finish(`step ${step.name} failed with exit code ${exitCode}${oom}`);
  throw ApplicationFailure.create({
    message: `step ${step.name} failed with exit code ${exitCode}${oom}`,
    type: STEP_FAILURE_TYPES.failed,
    nonRetryable: true,
    details: [details(exitCode)],
  });
}

/** Copies what the step wrote to `<workspace>/runner/artifacts/` into the run's own artifacts folder. */
export function collectArtifacts(workspace: string, target: string, sinceMs: number): string[] {
  const source = path.join(workspace, 'runner', 'artifacts');
  const copied: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(source);
  } catch {
    return copied;
  }
  for (const name of names) {
    const file = path.join(source, name);
    try {
      const stat = fs.statSync(file);
      if (!stat.isFile() || stat.mtimeMs < sinceMs - 1_000) continue;
      fs.mkdirSync(target, { recursive: true });
      fs.copyFileSync(file, path.join(target, name));
      copied.push(name);
    } catch {
      // An artifact that vanished or cannot be read is not worth failing a step for.
    }
  }
  return copied;
}
