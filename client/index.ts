/**
 * The typed client API: what the `poc` CLI, the Slack bot and anyone's own code use to start,
 * watch and steer runs. Everything goes through Temporal; nothing here keeps state.
 *
 *   import { connect, startPipeline, getRunStatus } from 'poc-orchestrator';
 *   const client = await connect();
 *   const { workflowId } = await startPipeline(client, { goal: 'nightly', steps: ['lint', 'test'] });
 */
import crypto from 'node:crypto';
import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { loadConfig, type PocConfig } from '../core/config.js';
import { connectTemporal } from '../core/temporal.js';
import {
  DEFAULT_TASK_QUEUE,
  ID_PREFIX,
  PocKind,
  PocPhase,
  PocRequestedBy,
  PocSlackThread,
  WORKFLOW_TYPES,
  decideUpdate,
  endUpdate,
  fleetQuery,
  hostRegistryId,
  isExecutionOpen,
  isFinalPhase,
  sayUpdate,
  slackThreadKey,
  statusQuery,
  type ChatInput,
  type ChatStatus,
  type DecideResult,
  type Decision,
  type FleetView,
  type HostInfo,
  type LlmInput,
  type LlmResult,
  type LlmStatus,
  type Phase,
  type PipelineInput,
  type PipelineStatus,
  type RunStatus,
  type SayRequest,
  type SayResult,
  type SlackTarget,
} from '../core/contract.js';
import { InputError, validateChatInput, validateLlmInput, validatePipelineInput } from '../core/validate.js';
import type { conversationWorkflow } from '../workflows/conversation.js';
import { chatMetadata, llmMetadata, pipelineMetadata, type RunMetadata } from './metadata.js';
import type { llmPromptWorkflow } from '../workflows/llm.js';
import type { pipelineWorkflow } from '../workflows/pipeline.js';

export * from '../core/contract.js';
export { InputError } from '../core/validate.js';
export { ConfigError, loadConfig, type PocConfig } from '../core/config.js';
export { TemporalConnectionError, connectionOptions, describeConnectionError } from '../core/temporal.js';
export { chatMetadata, llmMetadata, pipelineMetadata, type RunMetadata } from './metadata.js';
export { liveStepOutput, type LiveStepOutput } from './live.js';

/** A run id that does not exist (neither `pipeline-<id>`, `llm-<id>` nor `chat-<id>`). */
export class RunNotFoundError extends Error {
  constructor(readonly id: string) {
    super(
      `no run ${JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id)}; ` + '`poc list` shows the recent ones',
    );
    this.name = 'RunNotFoundError';
  }
}

/**
 * A client for the configured Temporal (`loadConfig()`: TEMPORAL_ADDRESS, TLS, API key, profile;
 * the embedded dev server when no address is set). Fails with a TemporalConnectionError whose
 * message is one line naming the setting at fault and the fix (a wrong CA, a missing client
 * certificate, a rejected API key, a namespace that does not exist, nothing listening).
 */
export async function connect(config: PocConfig = loadConfig()): Promise<Client> {
  const connection = await connectTemporal(config);
  const client = new Client({ connection, namespace: config.namespace });
  clientConfigs.set(client, config);
  return client;
}

/** The settings a client was connected with: runs it starts go to that config's task queue by default. */
const clientConfigs = new WeakMap<Client, PocConfig>();

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** Short, readable, unique enough for humans to type: 8 characters of Crockford base32. */
export function newRunId(): string {
  const bytes = crypto.randomBytes(8);
  return Array.from(bytes, (b) => ID_ALPHABET[b % 32]).join('');
}

/** The run id of a Slack message: the same message (redelivered or retried) always maps to the same run. */
export function slackRunId(team: string, channel: string, ts: string): string {
  const digest = crypto.createHash('sha256').update(`${team}:${channel}:${ts}`).digest();
  return 's' + Array.from(digest.subarray(0, 9), (b) => ID_ALPHABET[b % 32]).join('');
}

export interface StartOptions {
  /** Short id (`pipeline-<id>`); a fresh one when absent. */
  id?: string;
  taskQueue?: string;
  /** Start-or-return: a second start with the same id returns the first run (Slack redeliveries). */
  idempotent?: boolean;
  /** Extra memo (e.g. the Slack channel, so the bot can find a channel's runs). */
  memo?: Record<string, string>;
  /**
   * Where the run was asked for, for the Web UI's details (Temporal markdown, one line): the CLI
   * says `poc CLI on <host>`, the bot links the Slack thread, schedules name themselves. Default:
   * the Slack thread of `input.slack`, else `the poc client API`.
   */
  source?: string;
}

export interface Started {
  workflowId: string;
  runId: string;
  /** False when `idempotent` found the run already there. */
  started: boolean;
}

/** The workflows a client starts, by their contract name (typed by their function). */
type StartableWorkflow = typeof pipelineWorkflow | typeof llmPromptWorkflow | typeof conversationWorkflow;
type StartableType = typeof WORKFLOW_TYPES.pipeline | typeof WORKFLOW_TYPES.llm | typeof WORKFLOW_TYPES.conversation;

async function start<W extends StartableWorkflow>(
  client: Client,
  type: StartableType,
  workflowId: string,
  input: Parameters<W>[0],
  opts: StartOptions,
  extras: {
    kind: RunKind;
    requestedBy?: string;
    memo: Record<string, string>;
    slack?: SlackTarget;
    metadata: RunMetadata;
  },
): Promise<Started> {
  const slackThread = extras.slack ? slackThreadKey(extras.slack) : undefined;
  const searchAttributes = [
    { key: PocKind, value: extras.kind },
    { key: PocPhase, value: extras.kind === 'pipeline' ? 'QUEUED' : 'RUNNING' },
    ...(extras.requestedBy ? [{ key: PocRequestedBy, value: extras.requestedBy }] : []),
    ...(slackThread ? [{ key: PocSlackThread, value: slackThread }] : []),
  ];
  if (opts.idempotent) {
    // Already there (a redelivery)? Then it is the answer. The conflict policy covers a race.
    const existing = await client.workflow
      .getHandle(workflowId)
      .describe()
      .catch((err) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
    if (existing) return { workflowId, runId: existing.runId, started: false };
  }
  try {
    const handle = await client.workflow.start<StartableWorkflow>(type, {
      workflowId,
      taskQueue: opts.taskQueue ?? clientConfigs.get(client)?.taskQueue ?? DEFAULT_TASK_QUEUE,
      args: [input],
      memo: { ...extras.memo, ...opts.memo },
      typedSearchAttributes: searchAttributes,
      // What the Web UI shows on the run's page and in its list (Temporal user metadata).
      staticSummary: extras.metadata.summary,
      staticDetails: extras.metadata.details,
      workflowIdConflictPolicy: opts.idempotent ? 'USE_EXISTING' : 'FAIL',
      // A finished run keeps its id: a redelivered Slack message must not start it again.
      workflowIdReusePolicy: opts.idempotent ? 'REJECT_DUPLICATE' : 'ALLOW_DUPLICATE',
    });
    return { workflowId, runId: handle.firstExecutionRunId, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError && opts.idempotent) {
      const description = await client.workflow.getHandle(workflowId).describe();
      return { workflowId, runId: description.runId, started: false };
    }
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(`a run with id ${workflowId} already exists; pick another id`);
    throw err;
  }
}

export async function startPipeline(
  client: Client,
  input: PipelineInput = {},
  opts: StartOptions = {},
): Promise<Started> {
  const valid = validatePipelineInput(input);
  const workflowId = `${ID_PREFIX.pipeline}${opts.id ?? newRunId()}`;
  return start<typeof pipelineWorkflow>(client, WORKFLOW_TYPES.pipeline, workflowId, input, opts, {
    kind: 'pipeline',
    requestedBy: valid.requestedBy,
    memo: { goal: valid.goal, ...(valid.slack ? { slackChannel: valid.slack.channel } : {}) },
    slack: valid.slack,
    metadata: pipelineMetadata(valid, opts.source),
  });
}

export async function startLlm(client: Client, input: LlmInput, opts: StartOptions = {}): Promise<Started> {
  const valid = validateLlmInput(input);
  const workflowId = `${ID_PREFIX.llm}${opts.id ?? newRunId()}`;
  return start<typeof llmPromptWorkflow>(client, WORKFLOW_TYPES.llm, workflowId, input, opts, {
    kind: 'llm',
    requestedBy: valid.requestedBy,
    memo: { prompt: valid.prompt.slice(0, 200), ...(valid.slack ? { slackChannel: valid.slack.channel } : {}) },
    slack: valid.slack,
    metadata: llmMetadata(valid, opts.source),
  });
}

/**
 * Starts a conversation (`chat-<id>`): the model answers `input.prompt` (when given) and then
 * everything said with `say`, until `endChat`, a cancel or the idle timeout.
 */
export async function startChat(client: Client, input: ChatInput, opts: StartOptions = {}): Promise<Started> {
  const valid = validateChatInput(input);
  if (valid.carried)
    throw new InputError('carried', 'is written by the workflow when it continues as new; leave it out');
  const workflowId = `${ID_PREFIX.chat}${opts.id ?? newRunId()}`;
  return start<typeof conversationWorkflow>(client, WORKFLOW_TYPES.conversation, workflowId, input, opts, {
    kind: 'chat',
    requestedBy: valid.requestedBy,
    memo: { prompt: (valid.prompt ?? '').slice(0, 200), ...(valid.slack ? { slackChannel: valid.slack.channel } : {}) },
    slack: valid.slack,
    metadata: chatMetadata(valid, opts.source),
  });
}

/** A conversation's id, or a clear error when `id` names another kind of run. */
async function chatWorkflowId(client: Client, id: string): Promise<string> {
  const workflowId = await resolveRunId(client, id);
  if (!workflowId.startsWith(ID_PREFIX.chat)) throw new Error(`${workflowId} is not a conversation (chat-…)`);
  return workflowId;
}

/** The reason an update was refused, or that the conversation has ended. */
async function updateError(client: Client, workflowId: string, err: unknown): Promise<Error> {
  const description = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  if (description && description.status.name !== 'RUNNING')
    return new Error(`${workflowId} has ended (${description.status.name.toLowerCase()}); start a new conversation`);
  const cause = (err as { cause?: Error }).cause;
  return new Error(cause?.message ?? (err as Error).message);
}

/**
 * Adds a user turn. `updateId` makes it idempotent: the same id (a Slack event delivered twice)
 * adds one turn, even across continue-as-new.
 */
export async function say(
  client: Client,
  id: string,
  request: SayRequest,
  opts: { updateId?: string } = {},
): Promise<SayResult & { workflowId: string }> {
  const workflowId = await chatWorkflowId(client, id);
  try {
    const result = await client.workflow
      .getHandle(workflowId)
      .executeUpdate(sayUpdate, { args: [request], ...(opts.updateId ? { updateId: opts.updateId } : {}) });
    return { ...result, workflowId };
  } catch (err) {
    throw await updateError(client, workflowId, err);
  }
}

/** Ends a conversation; resolves with its final status. */
export async function endChat(client: Client, id: string, by?: string): Promise<ChatStatus> {
  const workflowId = await chatWorkflowId(client, id);
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate(endUpdate, { args: [by ? { by } : {}] });
  } catch (err) {
    throw await updateError(client, workflowId, err);
  }
}

export async function getChatStatus(client: Client, id: string): Promise<ChatStatus> {
  const status = await getRunStatus(client, await chatWorkflowId(client, id));
  if (status.kind !== 'chat') throw new Error(`${status.id} is not a conversation`);
  return status;
}

/** True once the model has answered `turn` and is done with it, waits for an approval, or the conversation ended. */
export function answered(status: ChatStatus, turn: number): boolean {
  if (isFinalPhase(status.phase)) return true;
  if (status.waitingFor === 'decision') return true;
  return status.answeredUpTo >= turn && status.waitingFor === 'user';
}

/** Accepts `pipeline-ab12cd34`, `llm-…`, `chat-…` or the bare `ab12cd34`. */
export async function resolveRunId(client: Client, id: string): Promise<string> {
  const trimmed = id.trim();
  if (!trimmed || trimmed.length > 300) throw new RunNotFoundError(trimmed.slice(0, 60));
  const candidates = Object.values(ID_PREFIX).some((p) => trimmed.startsWith(p))
    ? [trimmed]
    : [`${ID_PREFIX.pipeline}${trimmed}`, `${ID_PREFIX.llm}${trimmed}`, `${ID_PREFIX.chat}${trimmed}`, trimmed];
  for (const workflowId of candidates) {
    try {
      await client.workflow.getHandle(workflowId).describe();
      return workflowId;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  throw new RunNotFoundError(trimmed);
}

export async function getRunStatus(client: Client, id: string): Promise<RunStatus> {
  const workflowId = await resolveRunId(client, id);
  return client.workflow.getHandle(workflowId).query(statusQuery);
}

export async function getPipelineStatus(client: Client, id: string): Promise<PipelineStatus> {
  const status = await getRunStatus(client, id);
  if (status.kind !== 'pipeline') throw new Error(`${status.id} is an LLM run, not a pipeline`);
  return status;
}

export async function getLlmStatus(client: Client, id: string): Promise<LlmStatus> {
  const status = await getRunStatus(client, id);
  if (status.kind !== 'llm') throw new Error(`${status.id} is a pipeline, not an LLM run`);
  return status;
}

/** Requests cancellation; the workflow stops its container and reports. Returns the workflow id. */
export async function cancelRun(client: Client, id: string): Promise<string> {
  const workflowId = await resolveRunId(client, id);
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  if (!isExecutionOpen(description))
    throw new Error(`${workflowId} has already ended (${description.status.name.toLowerCase()}); nothing to cancel`);
  await handle.cancel();
  return workflowId;
}

export interface DecideOptions {
  /**
   * Temporal's update id. The server answers an id it has seen with the first answer's result, so
   * a request sent again (a redelivered Slack event, a retried call) never answers a later
   * question. Derive it from the request's source (`decisionUpdateId`); a fresh one when absent.
   */
  updateId?: string;
}

/** An update id derived from where a decision came from: the same source always gives the same id. */
export function decisionUpdateId(source: string, ...parts: string[]): string {
  const digest = crypto.createHash('sha256').update(parts.join('\0')).digest('hex');
  return `${source}-${digest.slice(0, 32)}`;
}

/** Sends the `decide` update; a decision the run does not await is rejected with the reason. */
export async function decide(
  client: Client,
  id: string,
  decision: Decision,
  { updateId = `decide-${crypto.randomUUID()}` }: DecideOptions = {},
): Promise<DecideResult> {
  const workflowId = await resolveRunId(client, id);
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await handle.executeUpdate(decideUpdate, { args: [decision], updateId });
  } catch (err) {
    const description = await handle.describe().catch(() => undefined);
    if (description && !isExecutionOpen(description)) {
      throw new Error(`${workflowId} has already ended (${description.status.name.toLowerCase()}); nothing to decide`);
    }
    const cause = (err as { cause?: Error }).cause;
    throw new Error(cause?.message ?? (err as Error).message);
  }
}

/** What a run is: its `PocKind`. */
export type RunKind = 'pipeline' | 'llm' | 'chat';

export interface RunSummary {
  workflowId: string;
  kind: RunKind;
  phase: Phase | string;
  title: string;
  requestedBy: string | null;
  startTime: Date;
  closeTime: Date | null;
  slackChannel: string | null;
}

export interface ListOptions {
  kind?: RunKind;
  phase?: Phase;
  limit?: number;
  /** Extra visibility query, ANDed (e.g. `PocRequestedBy="U123"`). */
  query?: string;
}

/** Newest first, from Temporal's visibility (search attributes and memo). */
export async function listRuns(client: Client, opts: ListOptions = {}): Promise<RunSummary[]> {
  const clauses = [opts.kind ? `${PocKind.name} = "${opts.kind}"` : `${PocKind.name} IN ("pipeline", "llm", "chat")`];
  if (opts.phase) clauses.push(`${PocPhase.name} = "${opts.phase}"`);
  if (opts.query) clauses.push(`(${opts.query})`);
  const limit = Math.max(1, Math.min(opts.limit ?? 10, 1_000));
  const runs: RunSummary[] = [];
  for await (const execution of client.workflow.list({
    query: clauses.join(' AND '),
    pageSize: Math.min(limit, 100),
  })) {
    const attrs = execution.typedSearchAttributes;
    const kind = (attrs.get(PocKind) ??
      (execution.type === WORKFLOW_TYPES.llm
        ? 'llm'
        : execution.type === WORKFLOW_TYPES.conversation
          ? 'chat'
          : 'pipeline')) as RunKind;
    const memo = (execution.memo ?? {}) as Record<string, unknown>;
    let phase: string = attrs.get(PocPhase) ?? execution.status.name;
    // A run terminated from outside never got to set its phase.
    if (!isExecutionOpen(execution) && !isFinalPhase(phase))
      phase = execution.status.name === 'COMPLETED' ? 'DONE' : execution.status.name;
    runs.push({
      workflowId: execution.workflowId,
      kind,
      phase,
      title: String(memo.goal ?? memo.prompt ?? ''),
      requestedBy: attrs.get(PocRequestedBy) ?? null,
      startTime: execution.startTime,
      closeTime: execution.closeTime ?? null,
      slackChannel: typeof memo.slackChannel === 'string' ? memo.slackChannel : null,
    });
    if (runs.length >= limit) break;
  }
  return runs;
}

/** Calls `onStatus` at every change until the run ends (or `until` says so); resolves with the last status. */
export async function followRun(
  client: Client,
  id: string,
  onStatus: (status: RunStatus) => void,
  {
    intervalMs = 300,
    signal,
    until,
  }: { intervalMs?: number; signal?: AbortSignal; until?: (status: RunStatus) => boolean } = {},
): Promise<RunStatus> {
  const workflowId = await resolveRunId(client, id);
  const handle = client.workflow.getHandle(workflowId);
  let last = '';
  for (;;) {
    const status = await handle.query(statusQuery);
    const json = JSON.stringify(status);
    if (json !== last) {
      last = json;
      onStatus(status);
    }
    if (isFinalPhase(status.phase)) {
      // The workflow may still be flushing its last Slack update; the status is final.
      return status;
    }
    if (until?.(status)) return status;
    if (signal?.aborted) return status;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits for an LLM run's answer (throws with the failure's message when it failed). */
export async function waitForLlmResult(client: Client, id: string): Promise<LlmResult> {
  const workflowId = await resolveRunId(client, id);
  try {
    return await client.workflow.getHandle(workflowId).result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new Error(err.cause?.message ?? err.message);
    throw err;
  }
}

/** No host has registered on the task queue (its registry does not exist). */
export class NoHostsError extends Error {
  constructor(readonly taskQueue: string) {
    super(`no build host has registered on task queue "${taskQueue}" yet; start one with \`poc worker\``);
    this.name = 'NoHostsError';
  }
}

/**
 * The fleet of `taskQueue` (default: the client's): every host with its labels, slots, runs and
 * last heartbeat, and the runs waiting for one, in order, with the reason.
 */
export async function getFleet(client: Client, opts: { taskQueue?: string } = {}): Promise<FleetView> {
  const taskQueue = opts.taskQueue ?? clientConfigs.get(client)?.taskQueue ?? DEFAULT_TASK_QUEUE;
  const handle = client.workflow.getHandle(hostRegistryId(taskQueue));
  try {
    return await handle.query(fleetQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NoHostsError(taskQueue);
    throw err;
  }
}

/** `poc hosts --json`: `[{ name, labels, slots, running, lastSeen, state, queue, problem }]`, up first. */
export async function listHosts(client: Client, opts: { taskQueue?: string } = {}): Promise<HostInfo[]> {
  return (await getFleet(client, opts)).hosts;
}
