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
  composeEnvironment,
  composeRunArgv,
  composeVariables,
  containerExit,
  containerName,
  detectCompose,
  engineProblem,
  listContainers,
  removeContainers,
  stopAndRemove,
  ownerLabels,
  type Compose,
  type ContainerExit,
  type ContainerOwner,
} from '../docker/index.js';
import type { ComposeChoice } from '../core/config.js';
import { createRedactor } from '../core/redact.js';
import { classifyStep, needsContainerRecord, needsEngineCheck, type ClassifiedStep } from './step-outcome.js';
import { changedSources, fixComposeSetup } from './compose-setup.js';
import { CoalescedLine, StepOutput } from './step-output.js';
import { CONFIG_FILE, composeFilesOf, workspaceSecrets } from './workspace.js';
import {
  STEP_FAILURE_TYPES,
  type ComposeSetup,
  type RunStepArgs,
  type StepFailureDetails,
  type StepResult,
} from './types.js';

const HEARTBEAT_EVERY_MS = 2_000;
/** The newest line as heartbeats and the `stepOutput` signal carry it. */
const LIVE_LINE_CHARS = 200;
const STOP_GRACE_SECONDS = 5;

export interface RunStepDeps {
  /** The Compose flavour the config forces (POC_COMPOSE), if any. */
  compose?: ComposeChoice;
  /** Whose containers these are (labelled, for the sweep); without it, containers carry no owner. */
  owner?: () => Promise<ContainerOwner>;
  /** Sends a Slack run its step's newest line (the `stepOutput` signal); without it, heartbeats only. */
  client?: Client;
  /** On a build host, its name: its containers carry it (`poc.host` label, POC_HOST in the container). */
  host?: string;
}

/** The `runStep` activity. */
export function createRunStep(deps: RunStepDeps = {}) {
  return function runStep(args: RunStepArgs): Promise<StepResult> {
    return runStepWith(args, deps);
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
  return (tail: Pick<StepOutput, 'bytes' | 'lastLine'>) => {
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

/**
 * The Compose arguments of this step (a build, or a one-off container with our name and labels),
 * with the run's setup: its project, its copies of the compose files and `.env`.
 */
function stepArgv(
  args: RunStepArgs,
  compose: Compose,
  name: string,
  activityAttempt: number,
  owner: ContainerOwner | undefined,
  host: string | undefined,
): string[] {
  const setup = args.compose;
  const target = setup
    ? {
        prefix: compose.prefix,
        files: setup.files,
        service: args.service,
        project: setup.project,
        projectDirectory: setup.projectDirectory,
        envFile: setup.envFile,
      }
    : { prefix: compose.prefix, files: args.composeFiles, service: args.service };
  if (args.step.kind === 'build') return composeBuildArgv(target);
  return composeRunArgv({
    ...target,
    name,
    labels: [
      [LABEL_WORKFLOW, args.workflowId],
      [LABEL_STEP, args.step.name],
      [LABEL_ATTEMPT, `${args.attempt}.${activityAttempt}`],
      ...(owner ? ownerLabels(owner) : []),
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

/**
 * The run's Compose setup on this worker. Another worker may have prepared the run, with the
 * copies in a run folder this one does not share: then they are taken from the workspace now.
 */
function composeSetupHere(args: RunStepArgs, note: (line: string) => void): ComposeSetup | undefined {
  const setup = args.compose;
  if (!setup || (setup.files.every((file) => fs.existsSync(file)) && fs.existsSync(setup.envFile))) return setup;
  note(
    '=== the run was prepared by another worker whose run folder is not here; Compose files read from the workspace',
  );
  const fixed = fixComposeSetup({
    workspace: args.workspace,
    files: composeFilesOf(args.workspace, args.composeFiles),
    env: setup.variables,
    alsoWatch: [CONFIG_FILE],
    jobDir: args.jobDir,
  });
  return { ...fixed, sources: setup.sources };
}

/** The variables the workspace asks for by name: fixed at the run's start, or read now for older runs. */
function variablesOf(args: RunStepArgs): string[] {
  if (args.compose) return args.compose.variables;
  const names = new Set<string>();
  for (const file of composeFilesOf(args.workspace, args.composeFiles)) {
    try {
      for (const name of composeVariables(fs.readFileSync(path.join(args.workspace, file), 'utf8'))) names.add(name);
    } catch {
      // Compose will say what is wrong with the file.
    }
  }
  return [...names];
}

async function runStepWith(args: RunStepArgs, deps: RunStepDeps): Promise<StepResult> {
  const ctx = Context.current();
  const started = Date.now();
  const log = openStepLog(args.logPath);
  // The values of the workspace's .env files are hidden too: a step may print what it loaded.
  const redactStep = createRedactor({ ...process.env, ...workspaceSecrets(args.workspace) });
  const output = new StepOutput(redactStep);
  // Beats from the start to the very end: a slow `docker rm` or artifact copy after the step
  // ended must never look like a lost worker (that would run a finished step again).
  const report = liveOutput(args, deps.client);
  const heartbeat = setInterval(() => report(output), HEARTBEAT_EVERY_MS);
  report(output);
  try {
    return await runStepBeating(args, deps, { ctx, started, log, output, redactStep });
  } finally {
    clearInterval(heartbeat);
  }
}

interface StepIo {
  ctx: Context;
  started: number;
  log: fs.WriteStream;
  output: StepOutput;
  redactStep: (text: string) => string;
}

async function runStepBeating(
  args: RunStepArgs,
  deps: RunStepDeps,
  { ctx, started, log, output, redactStep }: StepIo,
): Promise<StepResult> {
  const { step, workflowId } = args;
  const name = containerName(workflowId, step.name, args.attempt, ctx.info.attempt);
  const writeLine = (line: string) => log.write(redactStep(line) + '\n');

  let compose;
  try {
    compose = await detectCompose(deps.compose);
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

  const setup = composeSetupHere(args, writeLine);
  const owner = await deps.owner?.();
  const argv = stepArgv({ ...args, compose: setup }, compose, name, ctx.info.attempt, owner, deps.host);
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
    // Only what Compose needs and the workspace asks for by name: never the worker's whole
    // environment. Plain progress keeps logs readable. (Never COMPOSE_INTERACTIVE_NO_CLI: with it,
    // docker-compose 1.29 starts a `run` container twice, so the step would run twice.)
    env: composeEnvironment(process.env, variablesOf(args)),
    extendEnv: false,
    forceKillAfterDelay: 5_000,
  });
  const stream = child.all;
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    // When the disk is slower than the step, the step waits (its pipe fills), not our memory.
    const text = output.push(chunk);
    if (text && !log.write(text) && stream) {
      stream.pause();
      log.once('drain', () => stream.resume());
    }
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
    writeLine(`\n=== step ${step.name} timed out after ${args.timeoutSeconds} s; stopping it`);
    void stop();
  }, args.timeoutSeconds * 1000);
  const onCancel = () => {
    writeLine(
      `\n=== step ${step.name} cancelled ` +
        `(${String(ctx.cancellationSignal.reason?.message ?? 'cancel requested')}); stopping it`,
    );
    void stop();
  };
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });

  let result;
  try {
    result = await child;
    if (stream && !stream.readableEnded) {
      stream.resume();
      await once(stream, 'end').catch(() => undefined);
    }
  } finally {
    clearTimeout(timeout);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  }
  const last = output.end();
  if (last) log.write(last + '\n');

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
  collectArtifacts(args.workspace, path.join(args.jobDir, 'artifacts'), started, (line) => writeLine(`=== ${line}`));
  const changed = args.compose ? changedSources(args.compose) : [];
  if (changed.length > 0) {
    writeLine(
      `=== the step changed ${changed.join(', ')}; the rest of this run calls Compose as it started, ` +
        'the next run reads the changed file(s)',
    );
  }
  const finish = (line: string) =>
    new Promise<void>((resolve) => {
      writeLine(`=== ${line} (${(durationMs / 1000).toFixed(1)} s)`);
      log.end(resolve);
    });
  const ending = endOf(args, classified, { compose, clientExitCode: result.exitCode, problem, output, redactStep });
  await finish(ending.line);
  if (classified.outcome === 'cancelled') throw ctx.cancellationSignal.reason;
  if (ending.failure) throw ending.failure;
  return { exitCode: 0, durationMs, logTail: output.tail() };
}

/** The log's last line for a step's outcome and, unless it passed, the failure the workflow gets. */
function endOf(
  args: RunStepArgs,
  { outcome, exitCode, oomKilled }: ClassifiedStep,
  seen: {
    compose: Compose;
    clientExitCode: number | undefined;
    problem: string | null;
    output: StepOutput;
    redactStep: (text: string) => string;
  },
): { line: string; failure?: ApplicationFailure } {
  const step = args.step.name;
  const details = (code: number | null): StepFailureDetails => ({
    exitCode: code,
    logTail: seen.output.tail(),
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
        `${seen.redactStep(seen.output.lastLine()).slice(0, 300) || `exit code ${seen.clientExitCode}`}`;
      return { line: why, failure: failure(why, STEP_FAILURE_TYPES.compose, null) };
    }
    case 'failed': {
      const oom = oomKilled ? ' (killed: out of memory)' : '';
      const message = `step ${step} failed with exit code ${exitCode}${oom}`;
      return { line: message, failure: failure(message, STEP_FAILURE_TYPES.failed, exitCode) };
    }
  }
}

/** An artifact larger than this is left where it is (a line in the log says so). */
export const MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;
const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** True when `dir` is a real folder, not a link to one. */
function isRealDir(dir: string): boolean {
  try {
    return fs.lstatSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Copies what the step wrote to `<workspace>/runner/artifacts/` into the run's own artifacts
 * folder. The step wrote that folder, so nothing in it is followed: a link (or a folder that is a
 * link) is skipped with a line in the log, a file is opened without following links and must be
 * a regular file when open, and the copy is never written through a link either.
 */
export function collectArtifacts(
  workspace: string,
  target: string,
  sinceMs: number,
  note: (line: string) => void = () => undefined,
): string[] {
  const copied: string[] = [];
  const runner = path.join(workspace, 'runner');
  const source = path.join(runner, 'artifacts');
  if (!fs.existsSync(source)) return copied;
  if (!isRealDir(runner) || !isRealDir(source)) {
    note(`runner/artifacts is a link, not a folder of the workspace; no artifact collected`);
    return copied;
  }
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(source, { withFileTypes: true });
  } catch {
    return copied;
  }
  for (const entry of entries) {
    if (entry.isSymbolicLink()) {
      note(`artifact ${JSON.stringify(entry.name)} is a link; not copied`);
      continue;
    }
    if (!entry.isFile()) continue;
    try {
      if (copyArtifact(path.join(source, entry.name), target, entry.name, sinceMs, note)) copied.push(entry.name);
    } catch (err) {
      // An artifact that vanished, changed into a link or cannot be read is not worth failing a step for.
      note(`artifact ${JSON.stringify(entry.name)} not copied (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return copied;
}

function copyArtifact(file: string, target: string, name: string, sinceMs: number, note: (l: string) => void) {
  const input = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const stat = fs.fstatSync(input);
    if (!stat.isFile() || stat.mtimeMs < sinceMs - 1_000) return false;
    if (stat.size > MAX_ARTIFACT_BYTES) {
      note(`artifact ${JSON.stringify(name)} is ${stat.size} bytes, over the ${MAX_ARTIFACT_BYTES} limit; not copied`);
      return false;
    }
    fs.mkdirSync(target, { recursive: true });
    const output = fs.openSync(path.join(target, name), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o644);
    try {
      const buffer = Buffer.alloc(Math.min(1024 * 1024, Math.max(1, stat.size)));
      for (let read; (read = fs.readSync(input, buffer, 0, buffer.length, null)) > 0;)
        fs.writeSync(output, buffer, 0, read);
    } finally {
      fs.closeSync(output);
    }
    return true;
  } finally {
    fs.closeSync(input);
  }
}

/** The step log, opened for appending without following a link (a failure to open it says why, in one line). */
function openStepLog(logPath: string): fs.WriteStream {
  fs.mkdirSync(path.dirname(logPath), { recursive: true });
  let fd: number;
  try {
    fd = fs.openSync(logPath, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `cannot open the step log ${logPath} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      STEP_FAILURE_TYPES.invalidInput,
    );
  }
  return fs.createWriteStream('', { fd });
}
