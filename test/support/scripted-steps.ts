/**
 * A stand-in for the `runStep` activity (activities only: the server and workflows stay real),
 * for tests of pipeline logic that should not need Docker. The step's command says what to do:
 *   "ok" · "exit N" · "fail-once N" (exit N on the first attempt, then pass) · "block" (until
 *   cancelled) · "hold" (until the test calls `release`, or cancelled) · "docker-down-once" (engine
 *   unreachable on the first attempt).
 * While it runs, a step heartbeats as the real one does (`StepHeartbeat`: its newest line is
 * `<step> attempt <n> is working`). Every start is announced on `events`, so tests wait for
 * events, not for time.
 */
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { RunStepArgs, StepResult } from '../../activities/types.js';
import type { StepHeartbeat } from '../../core/contract.js';

export interface StepEvent {
  workflowId: string;
  step: string;
  attempt: number;
}

export function scriptedSteps() {
  const events = new EventEmitter();
  events.setMaxListeners(100);
  const executions: StepEvent[] = [];
  const seen = new Map<string, number>();
  const released = new Set<string>();
  const releases = new EventEmitter();
  releases.setMaxListeners(100);

  async function runStep(args: RunStepArgs): Promise<StepResult> {
    const ctx = Context.current();
    const event = { workflowId: args.workflowId, step: args.step.name, attempt: args.attempt };
    executions.push(event);
    const key = `${args.workflowId}/${args.step.name}`;
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    fs.mkdirSync(path.dirname(args.logPath), { recursive: true });
    fs.appendFileSync(args.logPath, `${args.step.name} attempt ${args.attempt}\n`);
    events.emit('started', event);
    const line = `${args.step.name} attempt ${args.attempt} is working`;
    const working: StepHeartbeat = { step: args.step.name, attempt: args.attempt, bytes: line.length, lastLine: line };
    const [verb, arg] = args.step.command.split(' ');
    const fail = (code: number) =>
      ApplicationFailure.create({
        message: `step ${args.step.name} failed with exit code ${code}`,
        type: 'StepFailed',
        nonRetryable: true,
        details: [{ exitCode: code, logTail: `boom ${code}`, logPath: args.logPath, timedOut: false }],
      });
    switch (verb) {
      case 'exit':
        if (Number(arg) !== 0) throw fail(Number(arg));
        break;
      case 'fail-once':
        if (count === 1) throw fail(Number(arg));
        break;
      case 'docker-down-once':
        if (count === 1)
          throw ApplicationFailure.create({
            message: 'Docker engine unreachable (test)',
            type: 'DockerUnavailable',
            nonRetryable: true,
          });
        break;
      case 'block': {
        const beat = setInterval(() => ctx.heartbeat(working), 200);
        try {
          if (!ctx.cancellationSignal.aborted) await once(ctx.cancellationSignal, 'abort');
        } finally {
          clearInterval(beat);
        }
        events.emit('cancelled', event);
        throw ctx.cancellationSignal.reason;
      }
      case 'hold': {
        const beat = setInterval(() => ctx.heartbeat(working), 200);
        try {
          if (!released.has(key)) {
            const abort = ctx.cancellationSignal.aborted ? Promise.resolve() : once(ctx.cancellationSignal, 'abort');
            await Promise.race([once(releases, key), abort]);
          }
        } finally {
          clearInterval(beat);
        }
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        break;
      }
      default:
        break;
    }
    events.emit('finished', event);
    return { exitCode: 0, durationMs: 1, logTail: `${args.step.name} ok` };
  }

  /** Resolves when `step` of `workflowId` starts (or has started already); fails after `timeoutMs`. */
  async function started(workflowId: string, step: string, timeoutMs = 60_000): Promise<void> {
    if (executions.some((e) => e.workflowId === workflowId && e.step === step)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        events.off('started', on);
        reject(new Error(`step ${step} of ${workflowId} did not start within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const on = (e: StepEvent) => {
        if (e.workflowId === workflowId && e.step === step) {
          clearTimeout(timer);
          events.off('started', on);
          resolve();
        }
      };
      events.on('started', on);
    });
  }

  /** Lets a "hold" step of `workflowId` finish (now, or as soon as it starts). */
  function release(workflowId: string, step: string): void {
    const key = `${workflowId}/${step}`;
    released.add(key);
    releases.emit(key);
  }

  return { runStep, events, executions, started, release };
}

/** A compose project folder whose steps are the scripted commands above. */
export function scriptedWorkspace(dir: string, steps: Record<string, string>): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), 'services:\n  runner:\n    image: scripted\n');
  fs.writeFileSync(path.join(dir, 'poc.config.json'), JSON.stringify({ steps }, null, 2));
  return dir;
}
