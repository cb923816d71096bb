/**
 * The newest output line of a run's running step, live, from the step activity's heartbeat
 * details (`describe()` shows them). Heartbeats are not recorded in the run's history, so
 * reading them as often as a terminal wants costs the run nothing, and it works wherever the
 * worker is (the step's log file may be on another machine).
 */
import type { Client } from '@temporalio/client';
import type { StepHeartbeat } from '../core/contract.js';

export interface LiveStepOutput extends StepHeartbeat {
  /** When the step last reported (its heartbeat), or null before the first. */
  at: Date | null;
}

/** The running step's newest line, or undefined when no step is running (or it has not reported yet). */
export async function liveStepOutput(client: Client, workflowId: string): Promise<LiveStepOutput | undefined> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const converter = client.options.loadedDataConverter.payloadConverter;
  for (const activity of description.raw.pendingActivities ?? []) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    let details: Partial<StepHeartbeat>;
    try {
      details = converter.fromPayload(payload);
    } catch {
      continue;
    }
    if (!details || typeof details.step !== 'string' || typeof details.lastLine !== 'string') continue;
    const seconds = activity.lastHeartbeatTime?.seconds;
    return {
      step: details.step,
      attempt: Number(details.attempt ?? 0),
      bytes: Number(details.bytes ?? 0),
      lastLine: details.lastLine,
      at: seconds !== undefined && seconds !== null ? new Date(Number(seconds) * 1000) : null,
    };
  }
  return undefined;
}
