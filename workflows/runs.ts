/** What both run kinds do alike: announce themselves to visibility and keep their phase current. */
import { ApplicationFailure, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { PocKind, PocPhase, PocRequestedBy, type Phase, type RunStatus } from './definitions.js';

/**
 * Search attributes and memo, set by the workflow itself so runs started from the `temporal` CLI
 * or the Web UI are as findable as those started by our client.
 */
export function publishRun(kind: 'pipeline' | 'llm', status: RunStatus, memo: Record<string, string>): void {
  const updates = [
    { key: PocKind, value: kind },
    { key: PocPhase, value: status.phase },
  ];
  upsertSearchAttributes(
    status.requestedBy ? [...updates, { key: PocRequestedBy, value: status.requestedBy }] : updates,
  );
  const current = workflowInfo().memo ?? {};
  const missing = Object.fromEntries(Object.entries(memo).filter(([key]) => current[key] === undefined));
  if (Object.keys(missing).length > 0) upsertMemo(missing);
}

export function setPhase(status: RunStatus, phase: Phase): void {
  if (status.phase === phase) return;
  status.phase = phase;
  upsertSearchAttributes([{ key: PocPhase, value: phase }]);
}

/** The ApplicationFailure behind an activity or child failure, if that is what it is. */
export function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) return e;
  }
  return undefined;
}
