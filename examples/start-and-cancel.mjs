// Start a pipeline, read its status, cancel it: plain Node, no TypeScript, no build.
//
//   npm install poc-orchestrator
//   TEMPORAL_ADDRESS=127.0.0.1:7233 POC_TASK_QUEUE=poc node start-and-cancel.mjs "nightly check"
//
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and POC_TASK_QUEUE say where (unset: the dev server that
// `npx poc up` starts, namespace "default", queue "poc"); a worker must serve that queue.
import { cancelRun, connect, followRun, getPipelineStatus, startPipeline } from 'poc-orchestrator';

const goal = process.argv[2] ?? 'started from examples/start-and-cancel.mjs';
const client = await connect();
try {
  const { workflowId } = await startPipeline(client, { goal, steps: ['lint'], requestedBy: 'start-and-cancel.mjs' });
  console.log(`started ${workflowId}`);

  // A run is QUEUED until it holds its workspace (one pipeline per workspace at a time).
  let status = await getPipelineStatus(client, workflowId);
  for (const deadline = Date.now() + 60_000; status.phase === 'QUEUED' && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    status = await getPipelineStatus(client, workflowId);
  }
  console.log(`status ${status.phase}: ${status.steps.map((step) => `${step.name} ${step.status}`).join(', ')}`);

  // The workflow stops the step's container, marks the step cancelled and ends.
  await cancelRun(client, workflowId);
  const final = await followRun(client, workflowId, () => {});
  console.log(`ended ${final.phase}: ${final.steps.map((step) => `${step.name} ${step.status}`).join(', ')}`);
} finally {
  await client.connection.close();
}
