/**
 * The newest output line of a running step, in the run's status while the step runs, for the
 * Slack status message (which the workflow renders from its status). The step sends it with the
 * `stepOutput` signal, coalesced by the activity (runs that report to Slack only); a line of an
 * earlier attempt, or of a step that is no longer running, is dropped.
 */
import { setHandler } from '@temporalio/workflow';
import { stepOutputSignal, type StepState } from '../core/contract.js';

const LINE_LIMIT = 200;

export function followStepOutput(run: { steps: StepState[] }, changed: () => void): void {
  setHandler(stepOutputSignal, ({ step, attempt, line }) => {
    const target = run.steps.find((s) => s.name === step);
    if (!target || target.status !== 'running' || target.attempt !== attempt || typeof line !== 'string') return;
    const cut = line.replace(/\s+/g, ' ').trim().slice(0, LINE_LIMIT);
    if (cut === target.lastLine) return;
    target.lastLine = cut;
    changed();
  });
}
