/** What both run kinds do alike: announce themselves to visibility and keep their phase current. */
import {
  ApplicationFailure,
  log,
  metricMeter,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  PocKind,
  PocPhase,
  PocRequestedBy,
  PocSlackThread,
  type Phase,
  type RunStatus,
  isFinalPhase,
  slackThreadKey,
  type SlackTarget,
} from '../core/contract.js';

/**
 * Search attributes and memo, set by the workflow itself so runs started from the `temporal` CLI
 * or the Web UI are as findable as those started by our client.
 */
export function publishRun(
  kind: 'pipeline' | 'llm',
  status: RunStatus,
  memo: Record<string, string>,
  slack?: SlackTarget,
): void {
  const info = workflowInfo();
  const thread = slack && slackThreadKey(slack);
  const wanted = [
    { key: PocKind, value: kind },
    { key: PocPhase, value: status.phase },
    ...(status.requestedBy ? [{ key: PocRequestedBy, value: status.requestedBy }] : []),
    // How the bot finds the run of a Slack thread (`<channel>/<thread ts>`), with no state of its own.
    ...(thread ? [{ key: PocSlackThread, value: thread }] : []),
  ];
  // Our client sets them at start already; only a bare start (temporal CLI, Web UI) needs the upsert.
  const stale = wanted.filter(({ key, value }) => info.typedSearchAttributes.get(key) !== value);
  if (stale.length > 0) upsertSearchAttributes(stale);
  // Replay-aware: the SDK drops metrics recorded while a history is replayed.
  metricMeter.createCounter('poc_runs_started', 'runs', 'runs started, by kind').add(1, { kind });
  const current = info.memo ?? {};
  const missing = Object.fromEntries(Object.entries(memo).filter(([key]) => current[key] === undefined));
  if (Object.keys(missing).length > 0) upsertMemo(missing);
}

export function setPhase(status: RunStatus, phase: Phase): void {
  if (status.phase === phase) return;
  status.phase = phase;
  upsertSearchAttributes([{ key: PocPhase, value: phase }]);
  log.info('phase', { phase, ...(status.error ? { error: status.error } : {}) });
  if (isFinalPhase(phase)) {
    metricMeter
      .createCounter('poc_runs_finished', 'runs', 'runs finished, by kind and phase')
      .add(1, { kind: status.kind, phase });
  }
}

/** The ApplicationFailure behind an activity or child failure, if that is what it is. */
export function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) return e;
  }
  return undefined;
}
