/** Retention of run folders: a folder goes when its run has closed and it is older than the cut-off. */
import fs from 'node:fs';
import path from 'node:path';
import { Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { isExecutionOpen } from '../core/contract.js';

export function createRetentionActivities({ client, jobsDir }: { client: Client; jobsDir: string }) {
  return {
    async pruneJobDirs({ olderThanMs }: { olderThanMs: number }): Promise<{ removed: string[]; kept: number }> {
      const cutoff = Date.now() - olderThanMs;
      const removed: string[] = [];
      let kept = 0;
      let names: string[];
      try {
        names = fs.readdirSync(jobsDir);
      } catch {
        return { removed, kept };
      }
      for (const name of names) {
        Context.current().heartbeat(name);
        const dir = path.join(jobsDir, name);
        let stat: fs.Stats;
        try {
          stat = fs.statSync(dir);
        } catch {
          continue;
        }
        if (!stat.isDirectory() || stat.mtimeMs > cutoff || (await runIsOpen(client, name))) {
          kept += 1;
          continue;
        }
        fs.rmSync(dir, { recursive: true, force: true });
        removed.push(name);
      }
      if (removed.length) log.info('pruned run folders', { count: removed.length, jobsDir });
      return { removed, kept };
    },
  };
}

/** The folder name is the workflow id (made path-safe); a run we cannot find counts as closed. */
async function runIsOpen(client: Client, folder: string): Promise<boolean> {
  try {
    const description = await client.workflow.getHandle(folder).describe();
    return isExecutionOpen(description);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
