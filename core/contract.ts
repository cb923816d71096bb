/**
 * The names and shapes the outside world depends on (see README, "Contract"): workflow inputs,
 * the `status` query, the `decide` update, search attributes. Imported by workflows, the client
 * API, the bot and the worker alike; deterministic and free of side effects.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const WORKFLOW_TYPES = {
  pipeline: 'pipeline',
  llm: 'llmPrompt',
  workspaceLock: 'workspaceLock',
  retention: 'pruneJobs',
  conversation: 'conversation',
  hostRegistry: 'hostRegistry',
} as const;
/** Run ids: `pipeline-<id>` / `llm-<id>` / `chat-<id>` (public: people type them, scripts parse them). */
export const ID_PREFIX = { pipeline: 'pipeline-', llm: 'llm-', chat: 'chat-' } as const;
/**
 * Ids of what the stack keeps on the server for itself: one `workspaceLock` workflow per workspace
 * (`poc-lock-<key>`), the retention schedule (`poc-retention`, `poc-retention-<queue>` on other task
 * queues) and the schedules `poc schedule create <name>` makes (`poc-<name>`, starting
 * `pipeline-sched-<name>-<time>`).
 */
export const INTERNAL_ID = {
  workspaceLockPrefix: 'poc-lock-',
  retentionSchedule: 'poc-retention',
  schedulePrefix: 'poc-',
  scheduledRunPrefix: `${ID_PREFIX.pipeline}sched-`,
  /** The fleet's `hostRegistry` workflow: `poc-hosts`, `poc-hosts-<queue>` on other task queues. */
  hostRegistry: 'poc-hosts',
} as const;
/** The task queue when POC_TASK_QUEUE is unset; its retention schedule keeps the plain id. */
export const DEFAULT_TASK_QUEUE = 'poc';

export const PocKind = defineSearchAttributeKey('PocKind', SearchAttributeType.KEYWORD);
export const PocPhase = defineSearchAttributeKey('PocPhase', SearchAttributeType.KEYWORD);
export const PocRequestedBy = defineSearchAttributeKey('PocRequestedBy', SearchAttributeType.KEYWORD);
/** `<channel>/<threadTs>` of the Slack thread a run reports to: the bot finds a thread's run with it. */
export const PocSlackThread = defineSearchAttributeKey('PocSlackThread', SearchAttributeType.KEYWORD);
/** The build host a pipeline runs on (`temporal workflow list --query 'PocHost="b1"'`). */
export const PocHost = defineSearchAttributeKey('PocHost', SearchAttributeType.KEYWORD);
/** Every custom search attribute, as the worker registers them and `poc doctor` checks them. */
export const SEARCH_ATTRIBUTE_KEYS = [PocKind, PocPhase, PocRequestedBy, PocSlackThread, PocHost] as const;

export const PHASES = ['QUEUED', 'RUNNING', 'AWAITING_DECISION', 'DONE', 'FAILED', 'CANCELLED'] as const;
export type Phase = (typeof PHASES)[number];
export const FINAL_PHASES: readonly Phase[] = ['DONE', 'FAILED', 'CANCELLED'];

// One helper per fact, for every room (workflows included: these are pure).
/** True when a run in `phase` has ended (DONE, FAILED, CANCELLED); any other string is not final. */
export function isFinalPhase(phase: string): boolean {
  return (FINAL_PHASES as readonly string[]).includes(phase);
}
/** True while a workflow execution is open (`describe()` or a listed execution: status RUNNING). */
export function isExecutionOpen(execution: { status: { name: string } }): boolean {
  return execution.status.name === 'RUNNING';
}

export const STEP_STATUSES = ['pending', 'running', 'done', 'failed', 'skipped', 'cancelled'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/**
 * Every `ApplicationFailure` type that crosses the workflow/activity boundary or reaches a caller
 * (`temporal workflow show`, the client's errors). Workflows and activities import these; never
 * type one by hand.
 */
export const FAILURE_TYPES = {
  /** Bad input to a workflow or an activity: fails at once, never retried. */
  invalidInput: 'InvalidInput',
  /** The step's command exited non-zero: the user's code, never retried by itself. */
  stepFailed: 'StepFailed',
  stepTimeout: 'StepTimeout',
  /** Docker engine unreachable: retried by the workflow with backoff, shown in `status.error`. */
  dockerUnavailable: 'DockerUnavailable',
  /** Compose failed before the step's command ran (bad file, image missing, …): retried likewise. */
  composeError: 'ComposeError',
  /** A pipeline that ended FAILED (its details carry the final status). */
  pipelineFailed: 'PipelineFailed',
  /** A second answer to a question that was already answered. */
  decisionTaken: 'DecisionTaken',
  /** The run's workspace path does not exist on the host it was given (it tries another host). */
  workspaceMissing: 'WorkspaceMissing',
  /** A pipeline that found no host to run on before its queueTimeoutSeconds. */
  noEligibleHost: 'NoEligibleHost',
  /** A provider error no retry can change (4xx, missing key). */
  llmFatal: 'LlmFatal',
  /** Rate limit, 5xx, lost connection: retried with backoff. */
  llmRetryable: 'LlmRetryable',
  /** The provider sent nothing for POC_LLM_IDLE_TIMEOUT_MS: the attempt is abandoned and retried. */
  llmTimeout: 'LlmTimeout',
  /** An `llmPrompt` that failed for another reason. */
  llmFailed: 'LlmFailed',
  /** A conversation that failed for a reason of its own (bad input is `InvalidInput`). */
  chatFailed: 'ChatFailed',
  /** SLACK_BOT_TOKEN missing on the worker. */
  slackNotConfigured: 'SlackNotConfigured',
  /** Slack refused the call for good (token, channel, message). */
  slackRejected: 'SlackRejected',
  /** Slack unreachable or rate limiting: retried. */
  slackUnavailable: 'SlackUnavailable',
} as const;
export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];

/** Failure types of the `runStep` activity, as the workflow tells them apart. */
export const STEP_FAILURE_TYPES = {
  failed: FAILURE_TYPES.stepFailed,
  timedOut: FAILURE_TYPES.stepTimeout,
  dockerUnavailable: FAILURE_TYPES.dockerUnavailable,
  compose: FAILURE_TYPES.composeError,
  invalidInput: FAILURE_TYPES.invalidInput,
} as const;

/** Failure types of the `completePrompt` activity. */
export const LLM_FAILURE_TYPES = {
  retryable: FAILURE_TYPES.llmRetryable,
  fatal: FAILURE_TYPES.llmFatal,
  timeout: FAILURE_TYPES.llmTimeout,
} as const;

/** Failure types of the `reportToSlack` activity. */
export const SLACK_FAILURE_TYPES = {
  notConfigured: FAILURE_TYPES.slackNotConfigured,
  rejected: FAILURE_TYPES.slackRejected,
  unavailable: FAILURE_TYPES.slackUnavailable,
} as const;

export const DEFAULT_STEPS = ['build', 'bootstrap', 'doctor', 'lint', 'test'] as const;

/** Where a run reports progress in Slack: the thread of the command that started it. */
export interface SlackTarget {
  channel: string;
  threadTs?: string;
  /** Set by the bot when it already posted the status message (slash commands). */
  messageTs?: string;
}

/** `PocSlackThread` of a run reporting to `target` (`<channel>/<thread ts>`): how the bot finds a thread's run. */
export function slackThreadKey(target: SlackTarget): string | undefined {
  const ts = target.threadTs ?? target.messageTs;
  return ts ? `${target.channel}/${ts}` : undefined;
}

export interface PipelineInput {
  goal?: string;
  steps?: string[];
  workspace?: string;
  requestedBy?: string;
  onFailure?: 'fail' | 'ask';
  /** Steps that wait for an approval before they start (`"all"` = every step). */
  approve?: string[] | 'all';
  stepTimeoutSeconds?: number;
  /** How long a failure or an approval waits for a decision before it counts as abort/deny. */
  decisionTimeoutSeconds?: number;
  slack?: SlackTarget;
  /** A git repository to check out on the host instead of a workspace path (`https://…`, `ssh://…`, `file://…`). */
  repo?: string;
  /** Branch, tag or commit of `repo` (default: the repository's default branch). */
  ref?: string;
  /** Labels the host must have (POC_HOST_LABELS), e.g. `["gpu"]`. */
  labels?: string[];
  /** How long the run may wait for an eligible host before it ends FAILED (default: as long as it takes). */
  queueTimeoutSeconds?: number;
}

export interface StepState {
  name: string;
  status: StepStatus;
  exitCode: number | null;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  logPath: string | null;
  durationMs: number | null;
  /** Last lines of the step's log (redacted), kept for failed steps and for readers without the file. */
  logTail: string | null;
  command: string | null;
  /** The build host that ran this step (as the activity reports it), null before it ran. */
  host?: string | null;
  /**
   * The newest line of a running step's output (redacted, one line), sent by the step while it runs
   * when the run reports to Slack; null otherwise (clients read it live with `liveStepOutput`).
   */
  lastLine?: string | null;
}

export type DecisionAction = 'retry' | 'skip' | 'abort' | 'approve' | 'approveAll' | 'deny';
export const FAILURE_ACTIONS: readonly DecisionAction[] = ['retry', 'skip', 'abort'];
export const APPROVAL_ACTIONS: readonly DecisionAction[] = ['approve', 'approveAll', 'deny'];

export interface Decision {
  action: DecisionAction;
  /** Who decided (Slack user id, `cli:<user>`); shown in Slack and recorded in history. */
  by?: string;
  /** Id of the question being answered; a stale answer (older button) is rejected. */
  decisionId?: string;
}

export interface PendingDecision {
  id: string;
  kind: 'failure' | 'approval';
  step: string;
  options: DecisionAction[];
  deadline: string;
  /** Conversations: the tool call that waits for approval (`step` then names what it would run). */
  tool?: string;
}

export interface DecisionRecord {
  id: string;
  step: string;
  action: DecisionAction;
  by: string | null;
  at: string;
}

/**
 * A `decide` signal the run could not take (tctl and `temporal workflow signal` cannot be refused
 * the way an update is): kept in `status.lastRefusedDecision` with the reason, and logged.
 */
export interface RefusedDecision {
  /** The action as sent (cut to 40 characters), or null when the payload had none. */
  action: string | null;
  by: string | null;
  reason: string;
  at: string;
}

export interface PipelineStatus {
  id: string;
  kind: 'pipeline';
  phase: Phase;
  goal: string;
  requestedBy: string | null;
  queuePosition: number | null;
  steps: StepState[];
  error: string | null;
  workspace: string | null;
  /** The run's folder on the worker (`logs/`, `artifacts/`), outside the tree a step mounts; null until prepared. */
  jobDir?: string | null;
  onFailure: 'fail' | 'ask';
  pendingDecision: PendingDecision | null;
  decisions: DecisionRecord[];
  startedAt: string;
  finishedAt: string | null;
  /** Slack message that mirrors this run, once posted. */
  slackMessage: { channel: string; ts: string } | null;
  /** The build host running it; null while it waits for one. */
  host?: string | null;
  /** Every time the run had to leave a host and start again on another. */
  hostMoves?: HostMove[];
  /** Why a QUEUED run waits (no host with its labels, every eligible host busy, …). */
  queueReason?: string | null;
  /** The repository, ref and checked-out commit of a run from git (null for a workspace path). */
  repo?: string | null;
  ref?: string | null;
  commit?: string | null;
  /** The last `decide` signal that was refused, with the reason; null when none was. */
  lastRefusedDecision?: RefusedDecision | null;
}

export type LlmBackend = 'ollama' | 'openai' | 'anthropic';
export const LLM_BACKENDS: readonly LlmBackend[] = ['ollama', 'openai', 'anthropic'];

export interface LlmInput {
  backend: LlmBackend;
  model: string;
  prompt: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  requestedBy?: string;
  slack?: SlackTarget;
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * The longest answer a result carries (in history, twice: the activity's and the workflow's
 * result). A longer one is cut there with a marker, and written whole to a file (`fullText`).
 */
export const LLM_TEXT_LIMIT = 100_000;

export interface LlmResult {
  /** The answer, cut at LLM_TEXT_LIMIT characters with a marker saying where the rest is. */
  text: string;
  /** Set when the answer was cut: its length and the file on the worker that holds it whole. */
  fullText?: { chars: number; path: string };
  backend: LlmBackend;
  model: string;
  usage: LlmUsage;
  finishReason: string;
  latencyMs: number;
  attempts: number;
}

export interface LlmStatus {
  id: string;
  kind: 'llm';
  phase: Phase;
  backend: LlmBackend;
  model: string;
  prompt: string;
  requestedBy: string | null;
  attempt: number;
  /** Text streamed so far by the current attempt (the CLI prints it as it grows). */
  partialText: string;
  result: LlmResult | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
  slackMessage: { channel: string; ts: string } | null;
}

export type RunStatus = PipelineStatus | LlmStatus | ChatStatus;

/** A thread reply under the status message when a step fails: what failed and the end of its log. */
export interface StepFailureNotice {
  step: string;
  attempt: number;
  why: string;
  logTail: string;
  logPath: string;
}

export interface DecideResult {
  action: DecisionAction;
  step: string;
  /** The question this answered (its `pendingDecision.id`) and its kind: which gate a reply settled. */
  decisionId?: string;
  kind?: PendingDecision['kind'];
}

export const statusQuery = defineQuery<RunStatus>('status');
export const decideUpdate = defineUpdate<DecideResult, [Decision]>('decide');
/**
 * The same decision as a signal, for tctl and older tools that cannot send updates: same payload,
 * same rules; a refused one is recorded in `status.lastRefusedDecision` instead of rejected.
 */
export const decideSignal = defineSignal<[Decision]>('decide');
/** Streamed text from the LLM activity to its workflow: `attempt` restarts the text. */
export const llmChunkSignal = defineSignal<[{ attempt: number; text: string }]>('llmChunk');

// The workspace lock (one pipeline per workspace; the rest wait in order).
export interface LockRequest {
  workflowId: string;
  /** When the run started: the queue is kept in start order, whatever order requests arrive in. */
  startedAt?: string;
}
export const acquireLockSignal = defineSignal<[LockRequest]>('acquire');
export const releaseLockSignal = defineSignal<[LockRequest]>('release');
export const lockGrantedSignal = defineSignal<[{ lockId: string }]>('lockGranted');
/** Runs ahead of the receiver (the running one included). */
export const queuePositionSignal = defineSignal<[{ ahead: number }]>('queuePosition');
export interface LockState {
  workspace: string;
  holder: string | null;
  queue: LockRequest[];
}
export const lockStateQuery = defineQuery<LockState>('lockState');

// Conversations: `conversation`, id `chat-<id>`, PocKind "chat". One LLM thread per workflow that
// remembers what was said, may call the tools its workspace allows (those that change anything
// only after an approval) and answers each model request exactly once.

/** The tools a model may call, as the model sees them; `poc.config.json` says which a workspace allows. */
export const CHAT_TOOLS = {
  /** Runs pipeline steps as a child `pipeline` workflow; waits for an approval first. */
  runSteps: 'run_steps',
  /** The end of a step's log of a pipeline run (read-only). */
  readLog: 'read_log',
  /** The newest pipeline runs (read-only). */
  listRuns: 'list_runs',
} as const;
export type ChatToolName = (typeof CHAT_TOOLS)[keyof typeof CHAT_TOOLS];
export const CHAT_TOOL_NAMES: readonly ChatToolName[] = Object.values(CHAT_TOOLS);
/** Tools that change something: each call waits for Approve / Approve all / Deny. */
export const CHANGING_CHAT_TOOLS: readonly ChatToolName[] = [CHAT_TOOLS.runSteps];

export interface ChatInput {
  backend: LlmBackend;
  model: string;
  /** The first user turn; without it the conversation waits for `say`. */
  prompt?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  /** Who started it (Slack user id, `cli:<user>`); the first turn is theirs. */
  requestedBy?: string;
  /** Compose project whose `poc.config.json` allows tools and whose steps `run_steps` runs. */
  workspace?: string;
  /** The conversation ends after this long without a turn (default 86400, one day). */
  idleTimeoutSeconds?: number;
  /** An unanswered tool approval counts as Deny after this long (default 600). */
  decisionTimeoutSeconds?: number;
  /** Continue-as-new at the first quiet moment after this many history events (default 2000). */
  maxHistoryEvents?: number;
  /** Characters of transcript the model sees and the workflow keeps (default 60000); older turns fold into a digest. */
  contextChars?: number;
  slack?: SlackTarget;
  /** Set by the workflow itself when it continues as new: what the conversation so far carries over. */
  carried?: ChatCarried;
}

/** Tokens and the estimated cost (USD, from the price table; null when the model has no known price). */
export interface ChatUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

export interface ChatTotals extends ChatUsage {
  /** Model requests answered (each one billed once). */
  requests: number;
  /** Requests of models without a known price: `costUsd` leaves them out. */
  unpriced: number;
}

export interface ChatToolCall {
  /** The provider's id of the call (tool results refer to it). */
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export type ChatToolOutcome = 'done' | 'failed' | 'denied' | 'invalid';

export interface ChatTurn {
  /** 1, 2, 3… over the whole conversation (continue-as-new keeps counting). */
  n: number;
  role: 'user' | 'assistant' | 'tool';
  text: string;
  /** Assistant turns: the tokens and estimated cost of their model request; null for the others. */
  usage: ChatUsage | null;
  /** User turns: who said it; tool turns: who approved the call (`auto` for read-only tools). */
  by: string | null;
  at: string;
  /** Assistant turns: the tools the model asked for. */
  toolCalls?: ChatToolCall[];
  /** Tool turns: the call they answer, the tool, what became of it and the run it started. */
  toolCallId?: string;
  tool?: string;
  outcome?: ChatToolOutcome;
  runId?: string;
  /** Assistant turns still streaming (`text` is the partial answer) or of a request that failed. */
  streaming?: boolean;
  attempt?: number;
  error?: string;
}

export type ChatWaitingFor = 'user' | 'model' | 'tool' | 'decision';

export interface ChatStatus {
  id: string;
  kind: 'chat';
  /** RUNNING while open (AWAITING_DECISION while a tool waits for approval), DONE once ended. */
  phase: Phase;
  /** What the open conversation waits for; null once it has ended. */
  waitingFor: ChatWaitingFor | null;
  backend: LlmBackend;
  model: string;
  requestedBy: string | null;
  workspace: string | null;
  /** Tools the workspace allows (none: a plain conversation). */
  tools: ChatToolName[];
  /** The turns kept (the newest, within `contextChars`); older ones are in `summary`. */
  turns: ChatTurn[];
  /** How many earlier turns were folded into `summary`. */
  earlierTurns: number;
  summary: string | null;
  /** The last user turn the model has answered (clients wait for it to reach their turn). */
  answeredUpTo: number;
  usage: ChatTotals;
  pendingDecision: PendingDecision | null;
  decisions: DecisionRecord[];
  /** How many times the workflow continued as new (its history starts afresh each time). */
  generation: number;
  error: string | null;
  endedBy: string | null;
  startedAt: string;
  lastTurnAt: string;
  /** When the conversation ends if nobody says anything (idle timeout). */
  idleDeadline: string | null;
  finishedAt: string | null;
  slackMessage: { channel: string; ts: string } | null;
}

/** What a conversation carries into its next run when it continues as new. */
export interface ChatCarried {
  status: ChatStatus;
  /** Update ids already applied, with their turn (a Slack redelivery after continue-as-new adds nothing). */
  seenUpdates: { id: string; turn: number }[];
  /** Who chose "Approve all" (later calls that change things run without asking), else null. */
  approveAllBy: string | null;
  /** `run_steps` calls run so far (names the next child pipeline), and the newest one's run id. */
  toolRuns: number;
  lastRunId: string | null;
  /** Slack message of each assistant turn still shown with buttons (the newest). */
  messages: Record<string, string>;
  /** Resolved workspace settings (read once, at the start). */
  plan: { workspace: string | null; tools: ChatToolName[]; steps: string[] };
}

export interface SayRequest {
  text: string;
  /** Slack user id or `cli:<user>`. */
  by?: string;
}

export interface SayResult {
  /** The turn number of what was said. */
  turn: number;
  /** True when this update id was applied before (a redelivery): nothing was added. */
  duplicate: boolean;
}

export interface EndRequest {
  by?: string;
}

// What a conversation shows in Slack: the workflow builds these, the `reportChat` activity renders them.

export type ChatToolState = 'awaiting' | 'running' | 'done' | 'failed' | 'denied' | 'invalid';

export interface ChatToolView {
  name: string;
  /** What it does, in a few words (`test, lint`, `pipeline-x test`). */
  what: string;
  state: ChatToolState;
  /** Who approved or denied it (`timeout` when nobody answered). */
  by: string | null;
  runId: string | null;
  /** The first line of its result. */
  result: string | null;
}

/** One answer of the model as its Slack message shows it (a workflow → activity shape: keep it small). */
export interface ChatMessageView {
  /** The assistant turn's number. */
  key: number;
  conversationId: string;
  backend: LlmBackend;
  model: string;
  text: string;
  streaming: boolean;
  attempt: number;
  error: string | null;
  tools: ChatToolView[];
  usage: ChatUsage | null;
  totals: ChatTotals;
  /** The approval this turn's tool call waits for (buttons). */
  pending: PendingDecision | null;
  /** The newest answer carries the End button. */
  latest: boolean;
  /** Said by someone outside the thread (the CLI): quoted above the answer. */
  question: { by: string; text: string } | null;
}

export interface ChatEndView {
  conversationId: string;
  by: string | null;
  reason: 'user' | 'idle' | 'cancelled' | 'failed';
  turns: number;
  totals: ChatTotals;
  error?: string | null;
}

/** A thread reply, a CLI line: appended as a user turn; the model answers it in order. */
export const sayUpdate = defineUpdate<SayResult, [SayRequest]>('say');
/** The same for tctl and `temporal workflow signal` (no result, no update id). */
export const saySignal = defineSignal<[SayRequest]>('say');
/** Ends the conversation (what runs is stopped); its final status is the workflow's result. */
export const endUpdate = defineUpdate<ChatStatus, [EndRequest]>('end');
export const endSignal = defineSignal<[EndRequest]>('end');
/** Streamed answer text from the model activity: `turn` and `attempt` restart the text. */
export const chatChunkSignal = defineSignal<[{ turn: number; attempt: number; text: string }]>('chatChunk');

// The fleet of build hosts: every `poc worker` is a host with its own task queue; one
// `hostRegistry` workflow per task queue hears the hosts' heartbeats and gives each pipeline a
// host with a free slot (README, "A fleet of build hosts"; the design in CLAUDE.md).

/** A host's own task queue: only its worker polls it, so every step scheduled there runs on that host. */
export function hostTaskQueue(taskQueue: string, host: string): string {
  return `${taskQueue}@${host}`;
}

/** The registry of the hosts serving `taskQueue` (one per task queue, like the workspace locks). */
export function hostRegistryId(taskQueue: string): string {
  return taskQueue === DEFAULT_TASK_QUEUE ? INTERNAL_ID.hostRegistry : `${INTERNAL_ID.hostRegistry}-${taskQueue}`;
}

/** What a host tells the registry every few seconds (POC_HOST_TIMEOUT_SECONDS / 5). */
export interface HostHeartbeat {
  name: string;
  queue: string;
  labels: string[];
  slots: number;
  /** The host counts as lost when it has not been heard (or its engine has not answered) for this long. */
  timeoutSeconds: number;
  /** New with every worker process: what the registry learnt about the host's folders is forgotten then. */
  session: string;
  /** Null while the host's Docker engine answers, else why it does not. */
  problem: string | null;
  /** The worker is shutting down: no new runs for it; its runs stay, unless it is not back within its timeout. */
  draining?: boolean;
}

/** A pipeline asks for a host (signal-with-start of the registry; repeating it is harmless). */
export interface HostClaim {
  workflowId: string;
  /** Claims are served in start order, whatever order they arrive in. */
  startedAt: string;
  labels: string[];
  /** The workspace path (null: the host's default); two runs never share one on a host. */
  workspace: string | null;
  /** A checkout of its own (a run from git): no workspace to share, any host can take it. */
  ownCheckout: boolean;
}

export interface HostRelease {
  workflowId: string;
  /** The grant being given back; a release of an older grant is ignored. */
  grantId?: number;
  /** The host does not have the run's workspace: remember that, and find the run another host. */
  workspaceMissing?: boolean;
}

export interface HostGrant {
  grantId: number;
  host: string;
  queue: string;
}

export interface HostQueueNotice {
  /** Runs that will get an eligible host before this one. */
  ahead: number;
  reason: string;
  /** No host that is up can ever take the run as things are (its workspace is on none of them). */
  unsatisfiable: boolean;
  /** The last grant the run held before this wait (null: none yet): tells a notice from an older wait apart. */
  sinceGrant?: number | null;
}

export interface HostLostNotice {
  grantId: number;
  host: string;
  reason: string;
}

/** `status.hostMoves[]`: the run left `from` and started again on `to`. */
export interface HostMove {
  from: string;
  to: string;
  at: string;
  reason: string;
}

/** A row of `poc hosts --json`. */
export interface HostInfo {
  name: string;
  labels: string[];
  slots: number;
  /** Runs holding a slot on the host. */
  running: string[];
  lastSeen: string;
  /** `draining`: shutting down, takes no new runs. */
  state: 'up' | 'draining' | 'lost';
  queue: string;
  /** Why the host is not healthy (its Docker engine does not answer), or why it was lost. */
  problem: string | null;
}

export interface FleetView {
  hosts: HostInfo[];
  waiting: { workflowId: string; ahead: number; reason: string }[];
}

export const hostHeartbeatSignal = defineSignal<[HostHeartbeat]>('hostHeartbeat');
export const claimHostSignal = defineSignal<[HostClaim]>('claimHost');
export const releaseHostSignal = defineSignal<[HostRelease]>('releaseHost');
export const hostGrantedSignal = defineSignal<[HostGrant]>('hostGranted');
export const hostQueueSignal = defineSignal<[HostQueueNotice]>('hostQueue');
export const hostLostSignal = defineSignal<[HostLostNotice]>('hostLost');
/** The registry's view of the fleet (`poc hosts`). */
export const fleetQuery = defineQuery<FleetView>('hosts');
// Live output of a running step (see CLAUDE.md, "Live step output").
/** What the `runStep` activity heartbeats while its step runs; `describe()` shows it as the activity's details. */
export interface StepHeartbeat {
  step: string;
  /** The workflow's attempt at the step. */
  attempt: number;
  /** Bytes of output so far. */
  bytes: number;
  /** The newest complete line of output, redacted and cut to 200 characters ('' before the first). */
  lastLine: string;
}
/** The newest line of a running step, sent to its workflow at most every few seconds (runs that report to Slack). */
export const stepOutputSignal = defineSignal<[{ step: string; attempt: number; line: string }]>('stepOutput');
