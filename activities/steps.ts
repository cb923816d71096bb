/**
 * `runStep`: one pipeline step in the workspace's compose service, its output streamed to the
 * step log as it comes.
 *
 * The container has a fixed name and our labels, and this activity owns its end: on success,
 * failure, timeout and cancel it is stopped and removed by name (killing the compose client does
 * not reliably stop a container). What it runs is built as data (docker/argv.ts) and how it ended
 * is told from the facts by a pure function (step-outcome.ts); here is only the orchestration.
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { execa } from 'execa';
import { ApplicationFailure, Context, log as activityLog } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { stepOutputSignal, type StepHeartbeat } from '../core/contract.js';
import {
  ComposeMissingError,
  LABEL_ATTEMPT,
  LABEL_HOST,
  LABEL_STEP,
  LABEL_WORKFLOW,
  composeBuildArgv,
  composeRunArgv,
  containerExit,
  containerName,
  detectCompose,
  engineProblem,
  listContainers,
  removeContainers,
  stopAndRemove,
  type Compose,
  type ContainerExit,
} from '../docker/index.js';
import type { ComposeChoice } from '../core/config.js';
import { redact } from '../core/redact.js';
import { classifyStep, needsContainerRecord, needsEngineCheck, type ClassifiedStep } from './step-outcome.js';
import { CoalescedLine, LineTail } from './step-output.js';
import { STEP_FAILURE_TYPES, type RunStepArgs, type StepFailureDetails, type StepResult } from './types.js';

const HEARTBEAT_EVERY_MS = 2_000;
/** The newest line as heartbeats and the `stepOutput` signal carry it. */
const LIVE_LINE_CHARS = 200;
const STOP_GRACE_SECONDS = 5;

/**
 * The `runStep` activity, with the Compose flavour the config forces (POC_COMPOSE), if any, and
 * the client that sends a Slack run its step's newest line; on a build host, its containers carry
 * the host's name (`poc.host` label, POC_HOST in the container).
 */
export function createRunStep({
  compose,
  client,
  host,
}: { compose?: ComposeChoice; client?: Client; host?: string } = {}) {
  return function runStep(args: RunStepArgs): Promise<StepResult> {
    return runStepWith(args, compose, client, host);
  };
}

/**
 * Where the step's newest line goes while it runs: the heartbeat details every beat (what clients
 * read live with `describe()`, at no cost to history), and — for runs that report to Slack — the
 * `stepOutput` signal, coalesced to one every `liveOutputSeconds` at most, only when it changed.
 */
function liveOutput(args: RunStepArgs, client: Client | undefined) {
  const ctx = Context.current();
  const coalesced = args.liveOutputSeconds ? new CoalescedLine(args.liveOutputSeconds * 1000) : undefined;
  let inFlight = false;
  return (tail: LineTail) => {
    const lastLine = tail.lastLine().slice(0, LIVE_LINE_CHARS);
    const beat: StepHeartbeat = { step: args.step.name, attempt: args.attempt, bytes: tail.bytes, lastLine };
    ctx.heartbeat(beat);
    const line = !inFlight && client ? coalesced?.next(lastLine, Date.now()) : undefined;
    if (line === undefined || !client) return;
    inFlight = true;
    client.workflow
      .getHandle(args.workflowId)
      .signal(stepOutputSignal, { step: args.step.name, attempt: args.attempt, line })
      // The line is a courtesy: a run that is gone or a server hiccup never fails the step.
      .catch((err: unknown) => activityLog.debug('step output not sent', { error: String(err) }))
      .finally(() => (inFlight = false));
  };
}

/** The Compose arguments of this step (a build, or a one-off container with our name and labels). */
function stepArgv(
  args: RunStepArgs,
  compose: Compose,
  name: string,
  activityAttempt: number,
  host: string | undefined,
): string[] {
  const target = { prefix: compose.prefix, files: args.composeFiles, service: args.service };
  if (args.step.kind === 'build') return composeBuildArgv(target);
  return composeRunArgv({
    ...target,
    name,
    labels: [
      [LABEL_WORKFLOW, args.workflowId],
      [LABEL_STEP, args.step.name],
      [LABEL_ATTEMPT, `${args.attempt}.${activityAttempt}`],
      ...(host ? [[LABEL_HOST, host] as [string, string]] : []),
    ],
    env: [
      ['POC_RUN_ID', args.workflowId],
      ['POC_STEP', args.step.name],
      ...(host ? [['POC_HOST', host] as [string, string]] : []),
    ],
    command: args.step.command,
  });
}

async function runStepWith(
  args: RunStepArgs,
  forcedCompose: ComposeChoice | undefined,
  client: Client | undefined,
  host: string | undefined,
): Promise<StepResult> {
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

  const argv = stepArgv(args, compose, name, ctx.info.attempt, host);
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
  const report = liveOutput(args, client);
  const heartbeat = setInterval(() => report(tail), HEARTBEAT_EVERY_MS);
  report(tail);

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

  // The engine's record says whether the script ran (and with what code); whatever is left of the
  // container (a stop, a client that could not remove it) goes now.
  const stopped = stopping !== undefined;
  let container: ContainerExit | null = { exitCode: 0, oomKilled: false };
  if (needsContainerRecord(step.kind, result.exitCode, stopped)) {
    container = await containerExit(name, containerSince);
    if (stopping) await stopping;
    await removeContainers([name]);
  }
  const facts = {
    kind: step.kind,
    clientExitCode: result.exitCode,
    container,
    timedOut,
    cancelled: ctx.cancellationSignal.aborted,
  };
  const problem = needsEngineCheck(facts) ? await engineProblem() : null;
  const classified = classifyStep({ ...facts, engineProblem: problem });

  const durationMs = Date.now() - started;
  activityLog.info('step finished', {
    step: step.name,
    attempt: args.attempt,
    outcome: classified.outcome,
    exitCode: classified.exitCode ?? result.exitCode ?? null,
    durationMs,
  });
  ctx.metricMeter
    .createHistogram('poc_step_duration', 'int', 'ms', 'duration of pipeline steps, by step and outcome')
    .record(durationMs, { step: step.name, outcome: classified.outcome });
  collectArtifacts(args.workspace, path.join(args.jobDir, 'artifacts'), started);
  const finish = (line: string) =>
    new Promise<void>((resolve) => {
      writeLine(`=== ${line} (${(durationMs / 1000).toFixed(1)} s)`);
      log.end(resolve);
    });
  const ending = endOf(args, classified, { compose, clientExitCode: result.exitCode, problem, tail });
  await finish(ending.line);
  if (classified.outcome === 'cancelled') throw ctx.cancellationSignal.reason;
  if (ending.failure) throw ending.failure;
  return { exitCode: 0, durationMs, logTail: tail.tail() };
}

/** The log's last line for a step's outcome and, unless it passed, the failure the workflow gets. */
function endOf(
  args: RunStepArgs,
  { outcome, exitCode, oomKilled }: ClassifiedStep,
  seen: { compose: Compose; clientExitCode: number | undefined; problem: string | null; tail: LineTail },
): { line: string; failure?: ApplicationFailure } {
  const step = args.step.name;
  const details = (code: number | null): StepFailureDetails => ({
    exitCode: code,
    logTail: seen.tail.tail(),
    logPath: args.logPath,
    timedOut: outcome === 'timeout',
  });
  const failure = (message: string, type: string, code: number | null) =>
    ApplicationFailure.create({ message, type, nonRetryable: true, details: [details(code)] });
  switch (outcome) {
    case 'passed':
      return { line: `step ${step} passed` };
    case 'cancelled':
      return { line: `step ${step} cancelled` };
    case 'timeout':
      return {
        line: `step ${step} timed out`,
        failure: failure(
          `step ${step} timed out after ${args.timeoutSeconds} s`,
          STEP_FAILURE_TYPES.timedOut,
          exitCode,
        ),
      };
    case 'engine-down': {
      const why = seen.problem ?? 'Docker engine unreachable';
      return { line: why, failure: failure(why, STEP_FAILURE_TYPES.dockerUnavailable, null) };
    }
    case 'compose-error': {
      // Compose never got the script running: an infrastructure problem, not the user's code.
      const { compose } = seen;
      const why =
        `${compose.command} ${compose.prefix.join(' ')} run failed before the step started: ` +
        `${redact(seen.tail.lastLine()).slice(0, 300) || `exit code ${seen.clientExitCode}`}`;
      return { line: why, failure: failure(why, STEP_FAILURE_TYPES.compose, null) };
    }
    case 'failed': {
      const oom = oomKilled ? ' (killed: out of memory)' : '';
      const message = `step ${step} failed with exit code ${exitCode}${oom}`;
      return { line: message, failure: failure(message, STEP_FAILURE_TYPES.failed, exitCode) };
    }
  }
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
