/**
 * Input checks shared by the workflows (authoritative: anything can start a workflow) and the
 * client API (early, friendlier errors). Pure functions; every message names the field and
 * says what is expected.
 */
import {
  CHAT_TOOLS,
  DEFAULT_STEPS,
  LLM_BACKENDS,
  PHASES,
  type ChatInput,
  type ChatToolName,
  type LlmBackend,
  type LlmInput,
  type Phase,
  type PipelineInput,
  type SayRequest,
  type SlackTarget,
} from './contract.js';

export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
    /** How the field is named in the message (quoted when it is the caller's own text). */
    shownField = field,
  ) {
    super(`${shownField}: ${message}`);
    this.name = 'InputError';
  }
}

export const STEP_NAME = /^[a-z][a-z0-9_-]{0,39}$/;
/** A build host's name (POC_HOST_NAME) and labels (POC_HOST_LABELS, `--on`). */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const HOST_LABEL = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/;
export const LIMITS = {
  goal: 2_000,
  prompt: 200_000,
  system: 50_000,
  model: 200,
  requestedBy: 200,
  workspace: 1_024,
  steps: 30,
  stepTimeoutSeconds: 86_400,
  decisionTimeoutSeconds: 7 * 86_400,
  maxTokens: 1_000_000,
  repo: 1_000,
  labels: 20,
  queueTimeoutSeconds: 30 * 86_400,
} as const;

const PIPELINE_FIELDS = [
  'goal',
  'steps',
  'workspace',
  'requestedBy',
  'onFailure',
  'approve',
  'stepTimeoutSeconds',
  'decisionTimeoutSeconds',
  'slack',
  'repo',
  'ref',
  'labels',
  'queueTimeoutSeconds',
];
const LLM_FIELDS = ['backend', 'model', 'prompt', 'system', 'maxTokens', 'temperature', 'requestedBy', 'slack'];

/** User text in a message: quoted, cut, control characters escaped, so an error stays one line. */
function quoted(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** What a value is: `null`, `undefined`, `an array`, `an object`, `a string`, … */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
}

/** A value in a message, one line: strings quoted and cut inside the quotes, NaN and Infinity by name. */
function shown(value: unknown): string {
  if (typeof value === 'string') return quoted(value);
  if (typeof value === 'number') return String(value);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined; // a bigint, a cycle
  }
  if (json === undefined) return describe(value);
  return json.length > 60 ? `${json.slice(0, 60)}…` : json;
}

function asObject(raw: unknown, what: string, allowEmpty: boolean): Record<string, unknown> {
  if (raw === undefined || raw === null) {
    if (allowEmpty) return {};
    throw new InputError('input', `${what} needs a JSON object, got ${describe(raw)}`);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputError('input', `${what} needs a JSON object, got ${describe(raw)}`);
  }
  return raw as Record<string, unknown>;
}

/** `prefix` is the path of a nested object (`slack.`), so the field is named in full. */
function rejectUnknown(obj: Record<string, unknown>, known: string[], prefix = ''): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new InputError(
        prefix + key,
        `unknown field; the known fields are ${known.join(', ')}`,
        /^[\w.]{1,40}$/.test(key) ? prefix + key : quoted(prefix + key, prefix.length + 40),
      );
    }
  }
}

/** `path` names the field in errors when `obj` is nested (`slack.channel`). */
function optionalString(obj: Record<string, unknown>, field: string, max: number, path = field): string | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InputError(path, `must be a string, got ${describe(value)}`);
  if (value.length > max) throw new InputError(path, `is ${value.length} characters long; the limit is ${max}`);
  if (value.includes('\u0000')) throw new InputError(path, 'contains a NUL character');
  return value;
}

function requiredString(obj: Record<string, unknown>, field: string, max: number, path = field): string {
  const value = optionalString(obj, field, max, path);
  if (value === undefined || value.trim() === '') throw new InputError(path, 'is required and must not be empty');
  return value;
}

function optionalInteger(obj: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(field, `must be a whole number from ${min} to ${max}, got ${shown(value)}`);
  }
  return value;
}

export function validateStepNames(value: unknown, field = 'steps'): string[] {
  if (!Array.isArray(value)) throw new InputError(field, `must be an array of step names, got ${describe(value)}`);
  if (value.length === 0) throw new InputError(field, 'must name at least one step');
  if (value.length > LIMITS.steps)
    throw new InputError(field, `names ${value.length} steps; the limit is ${LIMITS.steps}`);
  const seen = new Set<string>();
  for (const name of value) {
    if (typeof name !== 'string' || !STEP_NAME.test(name)) {
      const shown = typeof name === 'string' ? quoted(name) : describe(name);
      throw new InputError(
        field,
        `${shown} is not a step name (lower-case letters, digits, - and _, starting with a letter)`,
      );
    }
    if (seen.has(name)) throw new InputError(field, `"${name}" is listed twice`);
    seen.add(name);
  }
  return value as string[];
}

/** Slack's ids, as they may reach a query or a workflow input (the one place these patterns live). */
export const SLACK_ID = {
  /** A conversation: channel C…, private G…, direct message D…. */
  channel: /^[A-Z0-9]{1,40}$/,
  /** A message timestamp, `1700000000.000100`. */
  ts: /^\d{1,12}\.\d{1,9}$/,
  /** A person: U… or W… (Enterprise Grid). */
  user: /^[UW][A-Z0-9]{1,40}$/,
  /** A workspace: T…; an Enterprise Grid organization: E…. */
  team: /^[TE][A-Z0-9]{1,40}$/,
} as const;
const CHANNEL_ID = SLACK_ID.channel;
const SLACK_TS = SLACK_ID.ts;

function validateSlack(raw: unknown): SlackTarget | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputError('slack', `must be a JSON object, got ${describe(raw)}`);
  }
  const obj = raw as Record<string, unknown>;
  rejectUnknown(obj, ['channel', 'threadTs', 'messageTs'], 'slack.');
  const channel = requiredString(obj, 'channel', 40, 'slack.channel');
  if (!CHANNEL_ID.test(channel))
    throw new InputError('slack.channel', `${quoted(channel)} is not a Slack channel id like C0123ABCD`);
  const target: SlackTarget = { channel };
  for (const key of ['threadTs', 'messageTs'] as const) {
    const ts = optionalString(obj, key, 30, `slack.${key}`);
    if (ts === undefined) continue;
    if (!SLACK_TS.test(ts))
      throw new InputError(`slack.${key}`, `${quoted(ts)} is not a Slack timestamp like 1700000000.000100`);
    target[key] = ts;
  }
  return target;
}

/** Transports git may use for `repo` (never `ext::` and the like, which run commands). */
const REPO_URL = /^(https?|ssh|git|file):\/\/[^\s]+$/;
/** `user@host:path`, git's scp-like form for SSH. */
const REPO_SCP = /^[A-Za-z0-9._-]{1,64}@[A-Za-z0-9.-]{1,253}:[A-Za-z0-9._~/+-]+$/;
/** What git check-ref-format allows, narrowed: never an option (`-x`), `..`, `@{`, `:` or glob characters. */
const GIT_REF = /^(?!.*\.\.)(?!.*\/\/)(?!.*\.lock$)(?!.*[/.]$)[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}$/;

/** Checks a repository URL given by anyone: a transport git knows, no credentials, nothing like an option. */
export function validateRepo(repo: string, field = 'repo'): string {
  if (/[\p{Cc}\s]/u.test(repo)) throw new InputError(field, 'must not contain spaces or control characters');
  if (repo.startsWith('-') || repo.includes('::') || !(REPO_URL.test(repo) || REPO_SCP.test(repo))) {
    throw new InputError(
      field,
      `${quoted(repo, 80)} is not a repository URL; use https://, ssh://, git://, file:// or user@host:path`,
    );
  }
  if (/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(repo)) {
    throw new InputError(
      field,
      'must not carry a password or token (it would be stored with the run); ' +
        'give the hosts a git credential helper or an SSH key instead',
    );
  }
  return repo;
}

export function validateRef(ref: string, field = 'ref'): string {
  if (!GIT_REF.test(ref)) {
    throw new InputError(
      field,
      `${quoted(ref, 60)} is not a branch, tag or commit (letters, digits, ".", "_", "/", "+", "-"; ` +
        'not starting with "-")',
    );
  }
  return ref;
}

export function validateLabels(value: unknown, field = 'labels'): string[] {
  if (!Array.isArray(value)) throw new InputError(field, `must be an array of host labels, got ${describe(value)}`);
  if (value.length > LIMITS.labels)
    throw new InputError(field, `names ${value.length} labels; the limit is ${LIMITS.labels}`);
  for (const label of value) {
    if (typeof label !== 'string' || !HOST_LABEL.test(label)) {
      const shown = typeof label === 'string' ? quoted(label) : describe(label);
      throw new InputError(field, `${shown} is not a host label (letters, digits, ".", "_", ":" and "-")`);
    }
  }
  return [...new Set(value as string[])];
}

/** The pipeline input with defaults applied; throws InputError naming the bad field. */
export type ValidPipelineInput = Required<
  Omit<
    PipelineInput,
    'slack' | 'workspace' | 'requestedBy' | 'stepTimeoutSeconds' | 'repo' | 'ref' | 'queueTimeoutSeconds'
  >
> &
  Pick<
    PipelineInput,
    'slack' | 'workspace' | 'requestedBy' | 'stepTimeoutSeconds' | 'repo' | 'ref' | 'queueTimeoutSeconds'
  >;

export function validatePipelineInput(raw: unknown): ValidPipelineInput {
  const obj = asObject(raw, 'a pipeline', true);
  rejectUnknown(obj, PIPELINE_FIELDS);
  const goal = optionalString(obj, 'goal', LIMITS.goal)?.trim() || 'Run default pipeline';
  const steps = obj.steps === undefined || obj.steps === null ? [...DEFAULT_STEPS] : validateStepNames(obj.steps);
  const workspace = optionalString(obj, 'workspace', LIMITS.workspace);
  if (workspace !== undefined && !workspace.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(workspace)) {
    throw new InputError('workspace', `${quoted(workspace, 80)} must be an absolute path to a compose project folder`);
  }
  const requestedBy = optionalString(obj, 'requestedBy', LIMITS.requestedBy);
  const onFailure = obj.onFailure ?? 'fail';
  if (onFailure !== 'fail' && onFailure !== 'ask') {
    throw new InputError('onFailure', `must be "fail" or "ask", got ${shown(onFailure)}`);
  }
  let approve: string[] | 'all' = [];
  if (obj.approve === 'all') approve = 'all';
  else if (obj.approve !== undefined && obj.approve !== null) {
    approve = validateStepNames(obj.approve, 'approve');
    const unknown = approve.find((name) => !steps.includes(name));
    if (unknown)
      throw new InputError('approve', `"${unknown}" is not one of the steps of this run (${steps.join(', ')})`);
  }
  const stepTimeoutSeconds = optionalInteger(obj, 'stepTimeoutSeconds', 1, LIMITS.stepTimeoutSeconds);
  const decisionTimeoutSeconds =
    optionalInteger(obj, 'decisionTimeoutSeconds', 1, LIMITS.decisionTimeoutSeconds) ?? 600;
  const repoText = optionalString(obj, 'repo', LIMITS.repo);
  const repo = repoText === undefined ? undefined : validateRepo(repoText);
  const refText = optionalString(obj, 'ref', 200);
  const ref = refText === undefined ? undefined : validateRef(refText);
  if (ref !== undefined && repo === undefined) throw new InputError('ref', 'needs a repo to be a ref of');
  if (repo !== undefined && workspace !== undefined) {
    throw new InputError('repo', 'give either a workspace path or a repo, not both');
  }
  const labels = obj.labels === undefined || obj.labels === null ? [] : validateLabels(obj.labels);
  const queueTimeoutSeconds = optionalInteger(obj, 'queueTimeoutSeconds', 1, LIMITS.queueTimeoutSeconds);
  return {
    goal,
    steps,
    workspace,
    requestedBy,
    onFailure,
    approve,
    stepTimeoutSeconds,
    decisionTimeoutSeconds,
    slack: validateSlack(obj.slack),
    repo,
    ref,
    labels,
    queueTimeoutSeconds,
  };
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;

/**
 * Why a temperature for Anthropic is refused rather than dropped: the Messages API version the SDK
 * sends (2026-10-21) answers any `temperature` with a 400, default values included.
 */
export const ANTHROPIC_NO_TEMPERATURE =
  'the anthropic backend cannot take a temperature (its Messages API, version 2026-10-21, refuses one); ' +
  'leave it out, or use openai or ollama for a set temperature';

/** Backend, model and the sampling settings an LLM request shares with a conversation. */
function modelSettings(obj: Record<string, unknown>) {
  const backend = obj.backend;
  if (typeof backend !== 'string' || !(LLM_BACKENDS as readonly string[]).includes(backend)) {
    throw new InputError('backend', `must be one of ${LLM_BACKENDS.join(', ')}, got ${shown(backend ?? null)}`);
  }
  const model = requiredString(obj, 'model', LIMITS.model);
  if (!MODEL_NAME.test(model))
    throw new InputError('model', `${quoted(model)} is not a model name like llama3.1 or gpt-4o-mini`);
  const system = optionalString(obj, 'system', LIMITS.system);
  const maxTokens = optionalInteger(obj, 'maxTokens', 1, LIMITS.maxTokens);
  const temperature = obj.temperature;
  if (
    temperature !== undefined &&
    temperature !== null &&
    (typeof temperature !== 'number' || !(temperature >= 0 && temperature <= 2))
  ) {
    throw new InputError('temperature', `must be a number from 0 to 2, got ${shown(temperature)}`);
  }
  if (backend === 'anthropic' && typeof temperature === 'number') {
    throw new InputError('temperature', ANTHROPIC_NO_TEMPERATURE);
  }
  const requestedBy = optionalString(obj, 'requestedBy', LIMITS.requestedBy);
  const settings: Pick<LlmInput, 'backend' | 'model' | 'system' | 'maxTokens' | 'temperature' | 'requestedBy'> = {
    backend: backend as LlmBackend,
    model,
  };
  if (system !== undefined) settings.system = system;
  if (maxTokens !== undefined) settings.maxTokens = maxTokens;
  if (typeof temperature === 'number') settings.temperature = temperature;
  if (requestedBy !== undefined) settings.requestedBy = requestedBy;
  return settings;
}

export function validateLlmInput(raw: unknown): LlmInput {
  const obj = asObject(raw, 'an LLM prompt', false);
  rejectUnknown(obj, LLM_FIELDS);
  const settings = modelSettings(obj);
  const prompt = requiredString(obj, 'prompt', LIMITS.prompt);
  const { backend, model, ...rest } = settings;
  const input: LlmInput = { backend, model, prompt, ...rest };
  const slack = validateSlack(obj.slack);
  if (slack) input.slack = slack;
  return input;
}

// Conversations

export const CHAT_LIMITS = {
  /** One thing said (a Slack message is at most 40,000 characters; this keeps a turn readable). */
  text: 20_000,
  idleTimeoutSeconds: 30 * 86_400,
  decisionTimeoutSeconds: 7 * 86_400,
  maxHistoryEvents: { min: 50, max: 40_000 },
  contextChars: { min: 2_000, max: 1_000_000 },
  /** Steps one `run_steps` call may name. */
  toolSteps: 10,
  logLines: 200,
  listRuns: 20,
} as const;

export const CHAT_DEFAULTS = {
  idleTimeoutSeconds: 86_400,
  decisionTimeoutSeconds: 600,
  maxHistoryEvents: 2_000,
  contextChars: 60_000,
} as const;

const CHAT_FIELDS = [
  'backend',
  'model',
  'prompt',
  'system',
  'maxTokens',
  'temperature',
  'requestedBy',
  'workspace',
  'idleTimeoutSeconds',
  'decisionTimeoutSeconds',
  'maxHistoryEvents',
  'contextChars',
  'slack',
  'carried',
];

export type ValidChatInput = ChatInput &
  Required<Pick<ChatInput, 'idleTimeoutSeconds' | 'decisionTimeoutSeconds' | 'maxHistoryEvents' | 'contextChars'>>;

function absoluteWorkspace(obj: Record<string, unknown>): string | undefined {
  const workspace = optionalString(obj, 'workspace', LIMITS.workspace);
  if (workspace !== undefined && !workspace.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(workspace)) {
    throw new InputError('workspace', `${quoted(workspace, 80)} must be an absolute path to a compose project folder`);
  }
  return workspace;
}

/** A conversation's input with defaults applied; throws InputError naming the bad field. */
export function validateChatInput(raw: unknown): ValidChatInput {
  const obj = asObject(raw, 'a conversation', false);
  rejectUnknown(obj, CHAT_FIELDS);
  const settings = modelSettings(obj);
  const prompt = optionalString(obj, 'prompt', CHAT_LIMITS.text);
  const input: ValidChatInput = {
    ...settings,
    idleTimeoutSeconds:
      optionalInteger(obj, 'idleTimeoutSeconds', 1, CHAT_LIMITS.idleTimeoutSeconds) ?? CHAT_DEFAULTS.idleTimeoutSeconds,
    decisionTimeoutSeconds:
      optionalInteger(obj, 'decisionTimeoutSeconds', 1, CHAT_LIMITS.decisionTimeoutSeconds) ??
      CHAT_DEFAULTS.decisionTimeoutSeconds,
    maxHistoryEvents:
      optionalInteger(obj, 'maxHistoryEvents', CHAT_LIMITS.maxHistoryEvents.min, CHAT_LIMITS.maxHistoryEvents.max) ??
      CHAT_DEFAULTS.maxHistoryEvents,
    contextChars:
      optionalInteger(obj, 'contextChars', CHAT_LIMITS.contextChars.min, CHAT_LIMITS.contextChars.max) ??
      CHAT_DEFAULTS.contextChars,
  };
  if (prompt !== undefined && prompt.trim() !== '') input.prompt = prompt;
  const workspace = absoluteWorkspace(obj);
  if (workspace !== undefined) input.workspace = workspace;
  const slack = validateSlack(obj.slack);
  if (slack) input.slack = slack;
  // Written by the workflow itself (continue-as-new); only its presence and shape are checked here.
  if (obj.carried !== undefined && obj.carried !== null) {
    const carried = asObject(obj.carried, 'carried', false);
    if (!carried.status || typeof carried.status !== 'object' || !Array.isArray(carried.seenUpdates)) {
      throw new InputError('carried', 'is written by the workflow when it continues as new; leave it out');
    }
    input.carried = carried as unknown as ChatInput['carried'];
  }
  return input;
}

/** What `say` accepts: some text, and who said it. */
export function validateSay(raw: unknown): Required<SayRequest> {
  const obj = asObject(raw, 'say', false);
  rejectUnknown(obj, ['text', 'by']);
  const text = requiredString(obj, 'text', CHAT_LIMITS.text);
  const by = optionalString(obj, 'by', LIMITS.requestedBy) ?? 'someone';
  return { text, by };
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/**
 * The arguments a model gave a tool, checked like any user input: the tool must be one the
 * workspace allows, `run_steps` may only name its allowed steps. The message goes back to the
 * model, so it says what to send instead.
 */
export function validateToolInput(
  name: string,
  raw: unknown,
  allowed: { tools: readonly ChatToolName[]; steps: readonly string[] },
): Record<string, unknown> {
  if (!(allowed.tools as readonly string[]).includes(name)) {
    const offered = allowed.tools.length ? allowed.tools.join(', ') : 'none';
    throw new InputError('tool', `${quoted(name, 40)} is not a tool of this conversation (tools: ${offered})`);
  }
  const obj = asObject(raw ?? {}, name, true);
  switch (name as ChatToolName) {
    case CHAT_TOOLS.runSteps: {
      rejectUnknown(obj, ['steps', 'goal']);
      const steps = validateStepNames(obj.steps, 'steps');
      if (steps.length > CHAT_LIMITS.toolSteps)
        throw new InputError('steps', `names ${steps.length} steps; at most ${CHAT_LIMITS.toolSteps} per call`);
      const refused = steps.find((step) => !allowed.steps.includes(step));
      if (refused !== undefined)
        throw new InputError('steps', `"${refused}" may not be run from here (allowed: ${allowed.steps.join(', ')})`);
      const goal = optionalString(obj, 'goal', 200);
      return goal ? { steps, goal } : { steps };
    }
    case CHAT_TOOLS.readLog: {
      rejectUnknown(obj, ['run', 'step', 'lines']);
      const run = optionalString(obj, 'run', 200);
      if (run !== undefined && !RUN_ID.test(run)) throw new InputError('run', `${quoted(run)} is not a run id`);
      const step = optionalString(obj, 'step', 40);
      if (step !== undefined && !STEP_NAME.test(step)) throw new InputError('step', `${quoted(step)} is not a step`);
      const lines = optionalInteger(obj, 'lines', 1, CHAT_LIMITS.logLines);
      return { ...(run ? { run } : {}), ...(step ? { step } : {}), ...(lines ? { lines } : {}) };
    }
    case CHAT_TOOLS.listRuns: {
      rejectUnknown(obj, ['limit', 'phase']);
      const limit = optionalInteger(obj, 'limit', 1, CHAT_LIMITS.listRuns);
      const phase = obj.phase;
      if (phase !== undefined && phase !== null && !(PHASES as readonly unknown[]).includes(phase))
        throw new InputError('phase', `must be one of ${PHASES.join(', ')}`);
      return { ...(limit ? { limit } : {}), ...(phase ? { phase: phase as Phase } : {}) };
    }
  }
  throw new InputError('tool', `${quoted(name, 40)} is not a tool`);
}

/** The longest `idName` a run may have: its folder and container names stay well under 255 bytes. */
export const MAX_ID_NAME_LENGTH = 200;

/**
 * A workflow id as a file or container name, one to one (two ids never share a name): letters,
 * digits and `-` stay, `.` too except first, `_` becomes `__`, any other character `_xx` (its code
 * in hex) or `_uxxxxxx`. `idFromName` reads it back.
 */
export function idName(id: string): string {
  let name = '';
  for (const char of id) {
    if (/[A-Za-z0-9-]/.test(char) || (char === '.' && name !== '')) name += char;
    else if (char === '_') name += '__';
    else {
      const code = char.codePointAt(0) ?? 0;
      name += code < 0x100 ? `_${code.toString(16).padStart(2, '0')}` : `_u${code.toString(16).padStart(6, '0')}`;
    }
  }
  return name;
}

/** The workflow id an `idName` stands for, or undefined when `name` is not one. */
export function idFromName(name: string): string | undefined {
  const match = /^(?:[A-Za-z0-9-]|(?<!^)\.|__|_[0-9a-f]{2}|_u[0-9a-f]{6})*$/.test(name);
  if (!match || name === '') return undefined;
  const id = name.replace(/__|_u([0-9a-f]{6})|_([0-9a-f]{2})/g, (whole, wide?: string, narrow?: string) =>
    whole === '__' ? '_' : String.fromCodePoint(parseInt(wide ?? narrow ?? '0', 16)),
  );
  return idName(id) === name ? id : undefined;
}
