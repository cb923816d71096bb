/**
 * The workflow types the worker registers, under their contract names (`temporal workflow start
 * --type pipeline`). Deterministic code only: no I/O, no clocks but Temporal's, no randomness.
 */
export { pipelineWorkflow as pipeline } from './pipeline.js';
export { llmPromptWorkflow as llmPrompt } from './llm.js';
export { workspaceLockWorkflow as workspaceLock } from './lock.js';
export { pruneJobsWorkflow as pruneJobs } from './retention.js';
export { conversationWorkflow as conversation } from './conversation.js';
export { hostRegistryWorkflow as hostRegistry } from './host-registry.js';
