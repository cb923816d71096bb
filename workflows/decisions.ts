/**
 * Human decisions inside a run: a question (a failed step with onFailure=ask, an approval gate)
 * waits for one answer, sent with the `decide` update, or counts as the safe answer when its
 * deadline passes. The validator rejects, with the reason, an answer the run does not await, one
 * that does not answer the question, and a stale button of an earlier question.
 *
 * tctl and other tools that only send signals use the `decide` signal: same payload, same rules.
 * A signal cannot be rejected, so a refused one is kept in `lastRefusedDecision` (with the
 * reason, for `status` to show) and logged; the question stays open.
 */
import { ApplicationFailure, condition, log, setHandler } from '@temporalio/workflow';
import {
  FAILURE_TYPES,
  decideSignal,
  decideUpdate,
  type Decision,
  type DecisionAction,
  type DecisionRecord,
  type PendingDecision,
  type Phase,
  type RefusedDecision,
} from '../core/contract.js';

/** What a run that asks questions keeps in its status. */
export interface DecidingRun {
  id: string;
  phase: Phase;
  pendingDecision: PendingDecision | null;
  decisions: DecisionRecord[];
  /** Where a refused `decide` signal is recorded (the status of runs that take the signal). */
  lastRefusedDecision?: RefusedDecision | null;
}

const ALREADY_DECIDED = 'a decision was already made for this question';

export interface Question {
  kind: PendingDecision['kind'];
  step: string;
  /** Distinguishes repeated questions about the same step (its attempt). */
  attempt: number;
  options: readonly DecisionAction[];
  timeoutSeconds: number;
}

export interface DecisionGate {
  /** Asks, waits for the answer (or the deadline: abort after a failure, deny at a gate), records it. */
  ask(question: Question): Promise<Decision>;
}

function now(): string {
  return new Date().toISOString();
}

/**
 * Registers the `decide` handlers (the update, and the signal tctl sends) for `run` and returns
 * the gate that asks questions. `onRefused()` after a refused signal has been recorded.
 * `onAwaiting(true)` when a question opens, `onAwaiting(false)` once it is answered: the caller
 * moves the phase (AWAITING_DECISION and back) and reports.
 */
export function decisionGate(
  run: DecidingRun,
  onAwaiting: (awaiting: boolean) => void,
  onRefused: () => void = () => undefined,
): DecisionGate {
  let answer: Decision | undefined;

  setHandler(
    decideUpdate,
    (d) => {
      if (answer !== undefined) {
        throw ApplicationFailure.nonRetryable(ALREADY_DECIDED, FAILURE_TYPES.decisionTaken);
      }
      answer = d;
      return { action: d.action, step: run.pendingDecision?.step ?? '' };
    },
    { validator: (d) => validateDecision(run, d) },
  );

  setHandler(decideSignal, (d) => {
    try {
      validateDecision(run, d);
      if (answer !== undefined) throw new Error(ALREADY_DECIDED);
    } catch (err) {
      const refused = refusal(d, (err as Error).message);
      run.lastRefusedDecision = refused;
      log.warn('decide signal refused', { ...refused });
      onRefused();
      return;
    }
    // What a tool sent by hand: only the fields of a Decision, as their types say.
    answer = { action: d.action, ...(typeof d.by === 'string' ? { by: d.by.slice(0, 200) } : {}) };
  });

  return {
    async ask({ kind, step, attempt, options, timeoutSeconds }) {
      const pending: PendingDecision = {
        id: `${kind}-${step}-${attempt}-${run.decisions.length}`,
        kind,
        step,
        options: [...options],
        deadline: new Date(Date.now() + timeoutSeconds * 1000).toISOString(),
      };
      run.pendingDecision = pending;
      onAwaiting(true);
      const answered = await condition(() => answer !== undefined, timeoutSeconds * 1000);
      const d: Decision =
        answered && answer ? answer : { action: kind === 'failure' ? 'abort' : 'deny', by: 'timeout' };
      run.decisions.push({ id: pending.id, step, action: d.action, by: d.by ?? null, at: now() });
      run.pendingDecision = null;
      answer = undefined;
      onAwaiting(false);
      return d;
    },
  };
}

/** Throws (rejecting the update, with the reason) unless `d` answers the question `run` awaits now. */
export function validateDecision(run: DecidingRun, d: Decision): void {
  const pending = run.pendingDecision;
  if (!pending || run.phase !== 'AWAITING_DECISION') {
    throw new Error(`${run.id} is ${run.phase}, not awaiting a decision; nothing to decide`);
  }
  if (!d || typeof d !== 'object' || typeof d.action !== 'string') {
    throw new Error(`decide needs { "action": ${pending.options.map((o) => `"${o}"`).join(' | ')} }`);
  }
  if (!pending.options.includes(d.action)) {
    throw new Error(
      `"${String(d.action).slice(0, 40)}" does not answer this question; choose ${pending.options.join(', ')}`,
    );
  }
  if (d.decisionId !== undefined && d.decisionId !== pending.id) {
    throw new Error('that button belongs to an earlier question, which is already settled');
  }
}

/** What is kept of a refused signal: the action and sender as sent (cut), the reason, the time. */
function refusal(d: unknown, reason: string): RefusedDecision {
  const sent = d && typeof d === 'object' ? (d as Record<string, unknown>) : {};
  const text = (value: unknown, max: number) => (typeof value === 'string' ? value.slice(0, max) : null);
  return { action: text(sent.action, 40), by: text(sent.by, 200), reason, at: now() };
}
