// The typed client from TypeScript: the types ship with the package (dist/**/*.d.ts).
// tsconfig.json beside this file is all a project needs ("type": "module" in its package.json;
// module and moduleResolution NodeNext).
//
//   TEMPORAL_ADDRESS=127.0.0.1:7233 npx tsx typed-client.ts
import {
  connect,
  decide,
  getPipelineStatus,
  listRuns,
  startPipeline,
  type Decision,
  type Phase,
  type PipelineInput,
  type PipelineStatus,
  type RunSummary,
} from 'poc-orchestrator';

const input: PipelineInput = { goal: 'nightly', steps: ['lint', 'test'], onFailure: 'ask', stepTimeoutSeconds: 300 };

// The contract is checked at compile time: a misspelt field or an unknown decision does not compile.
// @ts-expect-error `stesp` is not a field of PipelineInput
export const misspelt: PipelineInput = { stesp: ['lint'] };
// @ts-expect-error `rerun` is not a decision
export const unknownDecision: Decision = { action: 'rerun' };

export async function nightly(): Promise<Phase> {
  const client = await connect();
  try {
    const { workflowId } = await startPipeline(client, input);
    const status: PipelineStatus = await getPipelineStatus(client, workflowId);
    for (const step of status.steps) console.log(`${step.name}: ${step.status}`);
    if (status.phase === 'AWAITING_DECISION') await decide(client, workflowId, { action: 'retry', by: 'nightly.ts' });
    const failed: RunSummary[] = await listRuns(client, { kind: 'pipeline', phase: 'FAILED', limit: 5 });
    for (const run of failed) console.log(`${run.workflowId} ${run.title} ${run.startTime.toISOString()}`);
    return status.phase;
  } finally {
    await client.connection.close();
  }
}

console.log(`nightly: ${await nightly()}`);
