/** Slack progress from the workflow: post the status message once, then update it in place. */
import type { PocConfig } from '../cli/config.js';
import type { RunStatus, SlackTarget, StepFailureNotice } from '../workflows/definitions.js';

export interface ReportArgs {
  target: SlackTarget;
  status: RunStatus;
  messageTs: string | null;
  replies: StepFailureNotice[];
}

export function createSlackActivities({ config, env }: { config: PocConfig; env: NodeJS.ProcessEnv }) {
  return {
    async reportToSlack(args: ReportArgs): Promise<{ channel: string; ts: string }> {
      void config;
      void env;
      return { channel: args.target.channel, ts: args.messageTs ?? '0.0' };
    },
  };
}
