/**
 * How a step ended, from the facts the activity gathered: the Compose client's exit code, the
 * engine's record of the container, whether the step was stopped for its timeout or a cancel,
 * and (only when it matters) whether the engine answers. Pure: no I/O, unit tested.
 *
 * Compose's own exit code cannot tell a script's `exit 1` from Compose failing before the script
 * ran; the engine's record can (a container that never ran has none).
 */
import type { ContainerExit } from '../docker/index.js';

export type StepOutcome = 'passed' | 'failed' | 'timeout' | 'cancelled' | 'compose-error' | 'engine-down';

export interface StepFacts {
  kind: 'build' | 'run';
  /** Exit code of the `docker compose` client (undefined or null when it was killed by a signal). */
  clientExitCode: number | null | undefined;
  /** `run` steps: the container's record; null when it never ran. Unused for `build`. */
  container: ContainerExit | null;
  timedOut: boolean;
  cancelled: boolean;
  /** Why the engine does not answer, or null when it does (looked up only when `needsEngineCheck`). */
  engineProblem: string | null;
}

export interface ClassifiedStep {
  outcome: StepOutcome;
  /** The script's exit code (`run`) or the build's (`build`), when there is one. */
  exitCode: number | null;
  oomKilled: boolean;
}

/**
 * Whether the engine's record must be read: exit 0 of a container that ended by itself is
 * unambiguous (and `--rm` removed it); any other end needs the record.
 */
export function needsContainerRecord(
  kind: 'build' | 'run',
  clientExitCode: number | null | undefined,
  stopped: boolean,
) {
  return kind === 'run' && !(clientExitCode === 0 && !stopped);
}

/** Whether a failure might be the engine's rather than the step's (then `docker info` is asked). */
export function needsEngineCheck(facts: Omit<StepFacts, 'engineProblem'>): boolean {
  if (facts.cancelled || facts.timedOut) return false;
  if (facts.kind === 'run') return facts.container === null;
  return facts.clientExitCode !== 0;
}

export function classifyStep(facts: StepFacts): ClassifiedStep {
  const exitCode = facts.kind === 'run' ? (facts.container?.exitCode ?? null) : (facts.clientExitCode ?? null);
  const oomKilled = facts.kind === 'run' && facts.container?.oomKilled === true;
  const neverRan = facts.kind === 'run' && facts.container === null;
  // A container that ran and exited says it all; otherwise the engine may be why.
  const mightBeEngine = facts.kind === 'build' || neverRan;
  const outcome: StepOutcome = facts.cancelled
    ? 'cancelled'
    : facts.timedOut
      ? 'timeout'
      : exitCode === 0
        ? 'passed'
        : mightBeEngine && facts.engineProblem !== null
          ? 'engine-down'
          : neverRan
            ? 'compose-error'
            : 'failed';
  return { outcome, exitCode, oomKilled };
}
