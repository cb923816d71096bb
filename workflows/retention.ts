/**
 * `pruneJobs`: deletes run folders (`$POC_JOBS_DIR/<id>/`) of closed runs older than the retention age.
 * Started every hour by the `poc-retention` schedule the worker creates (POC_RETENTION_DAYS).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { pruneJobDirs } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

export interface PruneJobsInput {
  olderThanDays: number;
}

export async function pruneJobsWorkflow(input: PruneJobsInput): Promise<{ removed: string[]; kept: number }> {
  const days = Number.isFinite(input?.olderThanDays) && input.olderThanDays >= 0 ? input.olderThanDays : 14;
  return pruneJobDirs({ olderThanMs: days * 86_400_000 });
}
