/**
 * What the workflows' Slack updates share (the run's status message, workflows/reporter.ts; a
 * conversation's thread, workflows/chat-reporter.ts): how their activities retry, and which
 * failures stop a run's Slack updates for good.
 */
import type { ActivityOptions } from '@temporalio/workflow';
import { SLACK_FAILURE_TYPES } from '../core/contract.js';

/** Retried for about two minutes; Slack not configured, or refusing the token or channel, at once gives up. */
export const SLACK_UPDATE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 8,
    nonRetryableErrorTypes: [SLACK_FAILURE_TYPES.notConfigured, SLACK_FAILURE_TYPES.rejected],
  },
};

/** A failure no later update would escape: the run's updates stop (the run itself goes on). */
export function isPermanentSlackFailure(err: unknown): boolean {
  const cause = (err as { cause?: { type?: string } }).cause;
  return cause?.type === SLACK_FAILURE_TYPES.notConfigured || cause?.type === SLACK_FAILURE_TYPES.rejected;
}
