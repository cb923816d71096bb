/**
 * The ceiling workflow of the throughput benches (bench/servers.ts): nothing but one activity that
 * does nothing, so what it costs is the server's (and the SDK's) own minimum for a workflow run.
 */
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function noopWorkflow(): Promise<void> {
  await noop();
}
