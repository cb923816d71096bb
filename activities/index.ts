/**
 * Every activity the worker registers, built around the few things they share (the Temporal
 * client for signals, the settings). Workflows import this file as a type only.
 */
import type { Client } from '@temporalio/client';
import type { PocConfig } from '../core/config.js';
import { createChatActivities } from './chat.js';
import { createHostActivities } from './hosts.js';
import { createLlmActivities } from './llm.js';
import { createLockActivities } from './lock.js';
import { createRetentionActivities } from './retention.js';
import { createSlackActivities } from './slack.js';
import { containerOwner } from './owner.js';
import { createRunStep } from './steps.js';
import { createPrepareRun } from './workspace.js';

export interface ActivityDeps {
  client: Client;
  /** Every setting the activities use (`loadConfig` at the worker's entry point). */
  config: PocConfig;
}

export function createActivities({ client, config }: ActivityDeps) {
  return {
    prepareRun: createPrepareRun({
      workspace: config.workspace,
      jobsDir: config.jobsDir,
      reposDir: config.host.reposDir,
    }),
    runStep: createRunStep({
      compose: config.compose,
      owner: containerOwner(client, config),
      client,
      host: config.host.slots > 0 ? config.host.name : undefined,
    }),
    ...createLockActivities(client),
    ...createHostActivities(client),
    ...createRetentionActivities({ client, jobsDir: config.jobsDir }),
    ...createLlmActivities({ client, llm: config.llm, jobsDir: config.jobsDir }),
    ...createSlackActivities({ config }),
    ...createChatActivities({ client, config }),
  };
}

/** Every activity, as workflows see them (`proxyActivities<Activities>`; import it as a type only). */
export type Activities = ReturnType<typeof createActivities>;
