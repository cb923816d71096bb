/**
 * One command grammar for every surface: the `poc` CLI, `!poc …` messages, `/poc …` and
 * mentions in Slack. Text is split into words (quotes group, nothing is ever evaluated) and
 * checked against the command table; every mistake gets a one-line error with the right form.
 */
import {
  DEFAULT_STEPS,
  LLM_BACKENDS,
  PHASES,
  type DecisionAction,
  type LlmBackend,
  type Phase,
} from '../core/contract.js';
import {
  ANTHROPIC_NO_TEMPERATURE,
  HOST_LABEL,
  InputError,
  STEP_NAME,
  validateRef,
  validateRepo,
} from '../core/validate.js';

export type Surface = 'cli' | 'slack';

/** User text inside an error message: quoted, cut, control characters escaped (one line, always). */
export function shown(text: string, max = 40): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** An option as typed: plain when it looks like one, quoted otherwise. */
function shownOption(text: string): string {
  return /^-{1,2}[\w-]{1,40}$/.test(text) ? text : shown(text, 40);
}

export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(usage ? `${message}; usage: ${usage}` : message);
    this.name = 'UsageError';
  }
}

export type DecisionVerb = 'retry' | 'skip' | 'abort' | 'approve' | 'approve-all' | 'deny';

/** The `decide` action each decision verb sends, for every surface. */
export const DECISION_ACTIONS: Record<DecisionVerb, DecisionAction> = {
  retry: 'retry',
  skip: 'skip',
  abort: 'abort',
  approve: 'approve',
  'approve-all': 'approveAll',
  deny: 'deny',
};

/** `poc cluster up|status|down`: the local production-shaped Temporal (cluster/). */
export const CLUSTER_ACTIONS = ['up', 'status', 'down'] as const;
export type ClusterAction = (typeof CLUSTER_ACTIONS)[number];

export type Command =
  | {
      name: 'run';
      goal?: string;
      steps?: string[];
      ask: boolean;
      approve?: string[] | 'all';
      follow: boolean;
      workspace?: string;
      id?: string;
      json: boolean;
      /** Host labels the run needs (`--on gpu,arm64`). */
      labels?: string[];
      repo?: string;
      ref?: string;
      queueTimeoutSeconds?: number;
    }
  | {
      name: 'llm';
      backend: LlmBackend;
      model: string;
      prompt: string;
      system?: string;
      maxTokens?: number;
      temperature?: number;
      direct: boolean;
      json: boolean;
    }
  | { name: 'models'; backend: LlmBackend; json: boolean }
  | {
      name: 'chat';
      prompt?: string;
      backend?: LlmBackend;
      model?: string;
      system?: string;
      /** Join this conversation instead of starting one (CLI). */
      id?: string;
      workspace?: string;
      /** Leave the conversation open when the CLI session ends. */
      keep: boolean;
      json: boolean;
    }
  | { name: 'end'; id?: string; json: boolean }
  | { name: 'status'; id?: string; json: boolean }
  | { name: 'list'; limit: number; kind?: 'pipeline' | 'llm' | 'chat'; phase?: Phase; json: boolean }
  | { name: 'logs'; id: string; step?: string; follow: boolean; lines: number; json: boolean }
  | { name: 'cancel'; id?: string; json: boolean }
  | { name: DecisionVerb; id: string; json: boolean }
  | {
      name: 'schedule';
      action: 'create';
      schedule: string;
      cron: string;
      steps?: string[];
      goal?: string;
      overlap: 'skip' | 'buffer';
      json: boolean;
    }
  | { name: 'schedule'; action: 'list'; json: boolean }
  | {
      name: 'schedule';
      action: 'pause' | 'unpause' | 'delete' | 'trigger' | 'describe';
      schedule: string;
      json: boolean;
    }
  | { name: 'cluster'; action: ClusterAction; wipe: boolean; env: boolean; json: boolean }
  | { name: 'help'; topic?: string }
  | { name: 'up' | 'server' | 'worker' | 'bot' | 'doctor' | 'hosts'; json: boolean }
  | { name: 'version' };

type FlagType = 'string' | 'boolean' | 'int' | 'number' | 'list';
interface FlagSpec {
  type: FlagType;
  short?: string;
  /** Only on these surfaces (e.g. `--follow` makes no sense in Slack). */
  surfaces?: Surface[];
}
interface CommandSpec {
  usage: string;
  summary: string;
  flags: Record<string, FlagSpec>;
  /** How many positional words: none, an optional one, exactly one, one or two, or all the rest as text. */
  positional: 'none' | 'optional' | 'one' | 'one-optional-second' | 'rest';
  surfaces?: Surface[];
}

const json: FlagSpec = { type: 'boolean', surfaces: ['cli'] };

export const COMMANDS: Record<string, CommandSpec> = {
  run: {
    usage: 'run [goal] [--steps a,b] [--ask] [--approve a,b|all] [--on label,…] [--repo URL [--ref REF]]',
    summary: 'start a pipeline (steps default to build,bootstrap,doctor,lint,test)',
    flags: {
      steps: { type: 'list', short: 's' },
      ask: { type: 'boolean' },
      approve: { type: 'list' },
      on: { type: 'list' },
      repo: { type: 'string' },
      ref: { type: 'string' },
      'queue-timeout': { type: 'int' },
      follow: { type: 'boolean', short: 'f', surfaces: ['cli'] },
      workspace: { type: 'string', surfaces: ['cli'] },
      id: { type: 'string', surfaces: ['cli'] },
      json,
    },
    positional: 'rest',
  },
  llm: {
    usage: 'llm --backend ollama|openai|anthropic --model M [--system S] [--max-tokens N] [--temperature T] <prompt>',
    summary: 'send a prompt to an LLM and get the answer with its token usage',
    flags: {
      backend: { type: 'string', short: 'b' },
      model: { type: 'string', short: 'm' },
      prompt: { type: 'string', short: 'p' },
      system: { type: 'string' },
      'max-tokens': { type: 'int' },
      temperature: { type: 'number' },
      direct: { type: 'boolean', surfaces: ['cli'] },
      json,
    },
    positional: 'rest',
  },
  chat: {
    usage: 'chat [--backend ollama|openai|anthropic] [--model M] [--system S] [prompt]',
    summary: 'talk with an LLM that remembers the thread and may run steps you approve',
    flags: {
      backend: { type: 'string', short: 'b' },
      model: { type: 'string', short: 'm' },
      system: { type: 'string' },
      id: { type: 'string', surfaces: ['cli'] },
      workspace: { type: 'string', surfaces: ['cli'] },
      keep: { type: 'boolean', surfaces: ['cli'] },
      json,
    },
    positional: 'rest',
  },
  end: {
    usage: 'end [id]',
    summary: "end a conversation (in Slack: this thread's)",
    flags: { json },
    positional: 'optional',
  },
  models: {
    usage: 'models --backend ollama|openai|anthropic',
    summary: 'list the models a backend offers',
    flags: { backend: { type: 'string', short: 'b' }, json },
    positional: 'none',
    surfaces: ['cli'],
  },
  status: {
    usage: 'status [id]',
    summary: 'show a run (default: the newest)',
    flags: { json },
    positional: 'optional',
  },
  list: {
    usage: 'list [--limit N] [--kind pipeline|llm|chat] [--phase PHASE]',
    summary: 'the newest runs with phase and goal',
    flags: { limit: { type: 'int', short: 'n' }, kind: { type: 'string' }, phase: { type: 'string' }, json },
    positional: 'none',
  },
  logs: {
    usage: 'logs <id> [step] [--lines N]',
    summary: 'the end of a step log (default: the failed or last step)',
    flags: { follow: { type: 'boolean', short: 'f', surfaces: ['cli'] }, lines: { type: 'int', short: 'n' }, json },
    positional: 'one-optional-second',
  },
  cancel: {
    usage: 'cancel [id]',
    summary: 'cancel a queued or running run (default: the newest)',
    flags: { json },
    positional: 'optional',
  },
  retry: {
    usage: 'retry <id>',
    summary: 'run the failed step again (run started with --ask)',
    flags: { json },
    positional: 'one',
  },
  skip: { usage: 'skip <id>', summary: 'skip the failed step and go on', flags: { json }, positional: 'one' },
  abort: { usage: 'abort <id>', summary: 'give up on a run awaiting a decision', flags: { json }, positional: 'one' },
  approve: { usage: 'approve <id>', summary: 'let a gated step run', flags: { json }, positional: 'one' },
  'approve-all': {
    usage: 'approve-all <id>',
    summary: 'let every remaining gated step run',
    flags: { json },
    positional: 'one',
  },
  deny: { usage: 'deny <id>', summary: 'refuse a gated step (the run ends)', flags: { json }, positional: 'one' },
  schedule: {
    usage:
      'schedule create <name> --cron "0 3 * * *" [--steps a,b] [--goal G] [--overlap skip|buffer] | ' +
      'list | pause|unpause|delete|trigger|describe <name>',
    summary: 'pipelines on a timetable (Temporal Schedules)',
    flags: {
      cron: { type: 'string' },
      steps: { type: 'list', short: 's' },
      goal: { type: 'string' },
      overlap: { type: 'string' },
      json,
    },
    positional: 'rest',
  },
  hosts: {
    usage: 'hosts',
    summary: 'the build hosts: labels, slots in use, runs, last heartbeat',
    flags: { json },
    positional: 'none',
  },
  help: { usage: 'help [command]', summary: 'this list', flags: {}, positional: 'optional' },
  up: {
    usage: 'up',
    summary: 'dev server + worker + Slack bot (when its tokens are set), in one command',
    flags: { json },
    positional: 'none',
    surfaces: ['cli'],
  },
  server: {
    usage: 'server',
    summary: 'only the embedded Temporal dev server',
    flags: { json },
    positional: 'none',
    surfaces: ['cli'],
  },
  worker: {
    usage: 'worker',
    summary: 'only a worker (TEMPORAL_ADDRESS says where the server is)',
    flags: { json },
    positional: 'none',
    surfaces: ['cli'],
  },
  bot: { usage: 'bot', summary: 'only the Slack bot', flags: { json }, positional: 'none', surfaces: ['cli'] },
  doctor: {
    usage: 'doctor',
    summary: 'check Temporal CLI, server, Docker engine and Compose',
    flags: { json },
    positional: 'none',
    surfaces: ['cli'],
  },
  version: { usage: 'version', summary: 'print the version', flags: {}, positional: 'none', surfaces: ['cli'] },
  cluster: {
    usage: 'cluster up|status|down [--env] [--wipe] [--json]',
    summary:
      'a production-shaped Temporal here: PostgreSQL, frontend/history/matching/worker, mTLS, Web UI ' +
      '(--env prints only the exports, --wipe with down deletes its data)',
    flags: { env: { type: 'boolean' }, wipe: { type: 'boolean' }, json },
    positional: 'optional',
    surfaces: ['cli'],
  },
};

/** Slack sends typographic quotes when people type ordinary ones. */
const QUOTES: Record<string, string> = { '\u201c': '"', '\u201d': '"', '\u2018': "'", '\u2019': "'" };

/**
 * What ends an error that has no usage of its own: the usage of the command the text starts with,
 * when it names one, else where the command list is (`poc help`, or `!poc help` in Slack).
 */
export function usageHint(firstWord: string | undefined, surface: Surface): string {
  const prefix = surface === 'slack' ? '!poc' : 'poc';
  const name = firstWord?.toLowerCase() ?? '';
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (spec && (!spec.surfaces || spec.surfaces.includes(surface))) return `usage: ${prefix} ${spec.usage}`;
  return `\`${prefix} help\` lists the commands`;
}

/**
 * Splits text into words: "double" and 'single' quotes group, backslash escapes in double quotes
 * and bare words. A quote left open is a UsageError that ends with the usage of the command.
 */
export function tokenize(text: string, surface: Surface = 'slack'): string[] {
  const src = text.replace(/[\u201c\u201d\u2018\u2019]/g, (q) => QUOTES[q]);
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'") {
      const end = findClosing(src, i + 1, c);
      if (end < 0) {
        const what = `unclosed ${c === '"' ? 'double' : 'single'} quote; close it or escape it with \\`;
        throw new UsageError(`${what}; ${usageHint(words[0] ?? (inWord ? word : undefined), surface)}`);
      }
      const inner = src.slice(i + 1, end);
      word += c === '"' ? inner.replace(/\\(["\\])/g, '$1') : inner;
      inWord = true;
      i = end;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '\\' && i + 1 < src.length && !/\s/.test(src[i + 1])) {
      word += src[i + 1];
      inWord = true;
      i++;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function findClosing(src: string, from: number, quote: string): number {
  for (let i = from; i < src.length; i++) {
    if (quote === '"' && src[i] === '\\') i++;
    else if (src[i] === quote) return i;
  }
  return -1;
}

const MAX_WORDS = 200;

/** Parses the words after `poc` (CLI argv, or the tokenized text of a Slack message). */
export function parseCommand(argv: string[], surface: Surface): Command {
  if (argv.length > MAX_WORDS)
    throw new UsageError(
      `too many words (${argv.length}); keep a command under ${MAX_WORDS}; ${usageHint(argv[0], surface)}`,
    );
  const [rawName, ...rest] = argv;
  if (rawName === undefined || rawName === '' || rawName === '--help' || rawName === '-h') return { name: 'help' };
  // `version` is the CLI's only (Slack has no use for the bot's package version).
  const name = (rawName === '--version' || rawName === '-v') && surface === 'cli' ? 'version' : rawName.toLowerCase();
  const spec = COMMANDS[name];
  if (!spec || (spec.surfaces && !spec.surfaces.includes(surface))) {
    throw new UsageError(
      `unknown command ${shown(rawName, 40)}; ${surface === 'slack' ? '`!poc help`' : '`poc help`'} lists the commands`,
    );
  }
  const usage = surface === 'slack' ? `!poc ${spec.usage}` : `poc ${spec.usage}`;
  // Help where an option may stand: after `--` every word is text (a prompt may say "-h").
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (options.includes('--help') || options.includes('-h')) return { name: 'help', topic: name };
  const { flags, positionals } = parseFlags(rest, spec, surface, usage);
  return build(name, flags, positionals, usage, surface);
}

type FlagValues = Record<string, string | boolean | number | string[]>;

function parseFlags(words: string[], spec: CommandSpec, surface: Surface, usage: string) {
  const flags: FlagValues = {};
  const positionals: string[] = [];
  const available = Object.entries(spec.flags).filter(([, f]) => !f.surfaces || f.surfaces.includes(surface));
  let onlyPositionals = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (onlyPositionals || !word.startsWith('-') || word === '-' || /^-\d/.test(word)) {
      positionals.push(word);
      continue;
    }
    if (word === '--') {
      onlyPositionals = true;
      continue;
    }
    let key: string;
    let inline: string | undefined;
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      key = eq >= 0 ? word.slice(2, eq) : word.slice(2);
      inline = eq >= 0 ? word.slice(eq + 1) : undefined;
    } else {
      const short = word.slice(1);
      const found = available.find(([, f]) => f.short === short);
      if (!found) throw new UsageError(`unknown option ${shownOption(word)}`, usage);
      key = found[0];
    }
    const flag = available.find(([n]) => n === key)?.[1];
    if (!flag) throw new UsageError(`unknown option ${shownOption('--' + key)}`, usage);
    if (flag.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${key} takes no value`, usage);
      flags[key] = true;
      continue;
    }
    const value = inline ?? words[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--')))
      throw new UsageError(`--${key} needs a value`, usage);
    if (flags[key] !== undefined) throw new UsageError(`--${key} is given twice`, usage);
    flags[key] = convert(key, flag.type, value, usage);
  }
  return { flags, positionals };
}

function convert(key: string, type: FlagType, value: string, usage: string): string | number | string[] {
  if (type === 'int') {
    if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${key} needs a whole number, got ${shown(value, 20)}`, usage);
    return Number(value);
  }
  if (type === 'number') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n))
      throw new UsageError(`--${key} needs a number, got ${shown(value, 20)}`, usage);
    return n;
  }
  if (type === 'list')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return value;
}

function stepList(flag: string, steps: string[] | undefined, usage: string): string[] | undefined {
  if (steps === undefined) return undefined;
  if (steps.length === 0) throw new UsageError(`--${flag} needs at least one step name`, usage);
  for (const step of steps) {
    if (!STEP_NAME.test(step)) {
      throw new UsageError(`${shown(step, 40)} is not a step name (e.g. ${DEFAULT_STEPS.join(', ')})`, usage);
    }
  }
  return steps;
}

function backendOf(value: unknown, usage: string): LlmBackend {
  if (value === undefined) throw new UsageError('--backend is required', usage);
  if (!(LLM_BACKENDS as readonly unknown[]).includes(value)) {
    throw new UsageError(`--backend must be one of ${LLM_BACKENDS.join(', ')}, got ${shown(String(value), 30)}`, usage);
  }
  return value as LlmBackend;
}

function build(name: string, f: FlagValues, pos: string[], usage: string, surface: Surface): Command {
  const isJson = f.json === true;
  const expect = (count: number) => {
    if (pos.length > count) throw new UsageError(`unexpected ${shown(pos[count], 40)}`, usage);
  };
  const needId = () => {
    if (!pos[0]) throw new UsageError('a run id is needed', usage);
    return pos[0];
  };
  switch (name) {
    case 'run': {
      const approve = f.approve as string[] | undefined;
      return {
        name,
        goal: pos.length ? pos.join(' ') : undefined,
        steps: stepList('steps', f.steps as string[] | undefined, usage),
        ask: f.ask === true,
        approve: approve && approve.length === 1 && approve[0] === 'all' ? 'all' : stepList('approve', approve, usage),
        follow: f.follow === true,
        workspace: f.workspace as string | undefined,
        id: f.id as string | undefined,
        json: isJson,
        ...fleetFlags(f, usage),
      };
    }
    case 'llm': {
      const backend = backendOf(f.backend, usage);
      if (!f.model) throw new UsageError('--model is required', usage);
      if (f.prompt !== undefined && pos.length > 0)
        throw new UsageError('give the prompt either with --prompt or as text, not both', usage);
      const prompt = (f.prompt as string | undefined) ?? pos.join(' ');
      if (!prompt.trim()) throw new UsageError('a prompt is needed', usage);
      if (backend === 'anthropic' && f.temperature !== undefined)
        throw new UsageError(`--temperature: ${ANTHROPIC_NO_TEMPERATURE}`, usage);
      return {
        name,
        backend,
        model: f.model as string,
        prompt,
        system: f.system as string | undefined,
        maxTokens: f['max-tokens'] as number | undefined,
        temperature: f.temperature as number | undefined,
        direct: f.direct === true,
        json: isJson,
      };
    }
    case 'models':
      expect(0);
      return { name, backend: backendOf(f.backend, usage), json: isJson };
    case 'chat': {
      const prompt = pos.join(' ');
      if (surface === 'slack' && !prompt.trim()) throw new UsageError('say what to talk about', usage);
      if (f.id !== undefined && (f.backend !== undefined || f.model !== undefined || f.workspace !== undefined))
        throw new UsageError('--id joins a conversation as it is; --backend, --model and --workspace start one', usage);
      return {
        name,
        ...(prompt.trim() ? { prompt } : {}),
        ...(f.backend !== undefined ? { backend: backendOf(f.backend, usage) } : {}),
        ...(f.model !== undefined ? { model: f.model as string } : {}),
        ...(f.system !== undefined ? { system: f.system as string } : {}),
        ...(f.id !== undefined ? { id: f.id as string } : {}),
        ...(f.workspace !== undefined ? { workspace: f.workspace as string } : {}),
        keep: f.keep === true,
        json: isJson,
      };
    }
    case 'end':
      expect(1);
      return { name, id: pos[0], json: isJson };
    case 'status':
    case 'cancel':
      expect(1);
      return { name, id: pos[0], json: isJson };
    case 'list': {
      expect(0);
      const limit = (f.limit as number | undefined) ?? 10;
      if (limit < 1 || limit > 1000) throw new UsageError('--limit must be from 1 to 1000', usage);
      const kind = f.kind as string | undefined;
      if (kind !== undefined && kind !== 'pipeline' && kind !== 'llm' && kind !== 'chat')
        throw new UsageError('--kind must be pipeline, llm or chat', usage);
      const phase = (f.phase as string | undefined)?.toUpperCase();
      if (phase !== undefined && !(PHASES as readonly string[]).includes(phase))
        throw new UsageError(`--phase must be one of ${PHASES.join(', ')}`, usage);
      return {
        name,
        limit,
        kind: kind as 'pipeline' | 'llm' | 'chat' | undefined,
        phase: phase as Phase | undefined,
        json: isJson,
      };
    }
    case 'logs': {
      expect(2);
      const id = needId();
      const step = pos[1];
      if (step !== undefined && !STEP_NAME.test(step))
        throw new UsageError(`${shown(step, 40)} is not a step name`, usage);
      const lines = (f.lines as number | undefined) ?? (surface === 'slack' ? 30 : 50);
      if (lines < 1 || lines > 10_000) throw new UsageError('--lines must be from 1 to 10000', usage);
      return { name, id, step, follow: f.follow === true, lines, json: isJson };
    }
    case 'retry':
    case 'skip':
    case 'abort':
    case 'approve':
    case 'approve-all':
    case 'deny':
      expect(1);
      return { name, id: needId(), json: isJson };
    case 'schedule':
      return buildSchedule(f, pos, usage);
    case 'cluster':
      expect(1);
      return buildCluster(f, pos[0], usage);
    case 'help':
      expect(1);
      return { name, topic: pos[0]?.toLowerCase() };
    case 'version':
      expect(0);
      return { name };
    default:
      expect(0);
      return { name: name as 'up' | 'server' | 'worker' | 'bot' | 'doctor' | 'hosts', json: isJson };
  }
}

/** `--on`, `--repo`, `--ref`, `--queue-timeout` of `run`, checked as the workflow will check them. */
function fleetFlags(f: FlagValues, usage: string) {
  const labels = f.on as string[] | undefined;
  const bad = labels?.find((label) => !HOST_LABEL.test(label));
  if (labels !== undefined && labels.length === 0) throw new UsageError('--on needs a host label', usage);
  if (bad !== undefined) throw new UsageError(`${shown(bad, 40)} is not a host label (e.g. gpu, arm64)`, usage);
  const repo = f.repo as string | undefined;
  const ref = f.ref as string | undefined;
  if (ref !== undefined && repo === undefined) throw new UsageError('--ref needs --repo', usage);
  if (repo !== undefined && f.workspace !== undefined)
    throw new UsageError('give either --workspace or --repo, not both', usage);
  try {
    if (repo !== undefined) validateRepo(repo, '--repo');
    if (ref !== undefined) validateRef(ref, '--ref');
  } catch (err) {
    if (err instanceof InputError) throw new UsageError(err.message, usage);
    throw err;
  }
  const queueTimeoutSeconds = f['queue-timeout'] as number | undefined;
  if (queueTimeoutSeconds !== undefined && queueTimeoutSeconds < 1)
    throw new UsageError('--queue-timeout must be a number of seconds, at least 1', usage);
  return {
    ...(labels ? { labels } : {}),
    ...(repo !== undefined ? { repo } : {}),
    ...(ref !== undefined ? { ref } : {}),
    ...(queueTimeoutSeconds !== undefined ? { queueTimeoutSeconds } : {}),
  };
}

function buildCluster(f: FlagValues, action: string | undefined, usage: string): Command {
  if (!action) throw new UsageError(`say what to do with the cluster: ${CLUSTER_ACTIONS.join(', ')}`, usage);
  if (!(CLUSTER_ACTIONS as readonly string[]).includes(action))
    throw new UsageError(`unknown cluster action ${shown(action, 40)}; use ${CLUSTER_ACTIONS.join(', ')}`, usage);
  const wipe = f.wipe === true;
  const env = f.env === true;
  const json = f.json === true;
  if (wipe && action !== 'down') throw new UsageError('--wipe goes with `cluster down`', usage);
  if (env && action === 'down') throw new UsageError('--env goes with `cluster up` or `cluster status`', usage);
  if (env && json) throw new UsageError('give --env or --json, not both', usage);
  return { name: 'cluster', action: action as ClusterAction, wipe, env, json };
}

const SCHEDULE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function buildSchedule(f: FlagValues, pos: string[], usage: string): Command {
  const [action, name, ...extra] = pos;
  const isJson = f.json === true;
  if (!action) throw new UsageError('say what to do with schedules', usage);
  if (action === 'list') {
    if (name) throw new UsageError(`unexpected ${shown(name, 40)}`, usage);
    return { name: 'schedule', action, json: isJson };
  }
  if (!['create', 'pause', 'unpause', 'delete', 'trigger', 'describe'].includes(action)) {
    throw new UsageError(`unknown schedule action ${shown(action, 40)}`, usage);
  }
  if (!name) throw new UsageError(`schedule ${action} needs a schedule name`, usage);
  if (!SCHEDULE_NAME.test(name))
    throw new UsageError(`${shown(name, 40)} is not a schedule name (lower-case letters, digits, - and _)`, usage);
  if (extra.length) throw new UsageError(`unexpected ${shown(extra[0], 40)}`, usage);
  if (action !== 'create') return { name: 'schedule', action: action as 'pause', schedule: name, json: isJson };
  const cron = f.cron as string | undefined;
  if (!cron?.trim()) throw new UsageError('--cron is required, e.g. --cron "0 3 * * *"', usage);
  if (!/^[\d*/,\-A-Za-z?#LW@ ]{1,100}$/.test(cron) || cron.trim().split(/\s+/).length > 7) {
    throw new UsageError(`--cron ${shown(cron, 40)} is not a cron expression like "0 3 * * *"`, usage);
  }
  const tooOften = subMinuteCron(cron);
  if (tooOften)
    throw new UsageError(`--cron ${shown(cron, 40)} ${tooOften}; the shortest interval is one minute`, usage);
  const overlap = (f.overlap as string | undefined) ?? 'skip';
  if (overlap !== 'skip' && overlap !== 'buffer') throw new UsageError('--overlap must be skip or buffer', usage);
  return {
    name: 'schedule',
    action,
    schedule: name,
    cron: cron.trim(),
    steps: stepList('steps', f.steps as string[] | undefined, usage),
    goal: f.goal as string | undefined,
    overlap,
    json: isJson,
  };
}

/**
 * Why a schedule's cron would fire more often than once a minute, or undefined when it does not:
 * a 7-field expression whose seconds field is not one second, or `@every` under 60 s.
 */
export function subMinuteCron(cron: string): string | undefined {
  const every = /^@every\s+(\d+)([smhd])(?:\/\S+)?$/.exec(cron.trim());
  if (every) {
    const seconds = Number(every[1]) * { s: 1, m: 60, h: 3_600, d: 86_400 }[every[2] as 's' | 'm' | 'h' | 'd'];
    return seconds < 60 ? `fires every ${seconds} s` : undefined;
  }
  const fields = cron.trim().split(/\s+/);
  if (fields.length === 7 && !/^\d{1,2}$/.test(fields[0]))
    return `fires more than once a minute (seconds "${fields[0]}")`;
  return undefined;
}

/** The command list, or one command's usage. */
export function helpText(surface: Surface, topic?: string): string {
  const prefix = surface === 'slack' ? '!poc' : 'poc';
  const visible = Object.entries(COMMANDS).filter(([, spec]) => !spec.surfaces || spec.surfaces.includes(surface));
  if (topic) {
    const spec = COMMANDS[topic];
    if (!spec || (spec.surfaces && !spec.surfaces.includes(surface)))
      throw new UsageError(`no command ${shown(topic, 40)}; \`${prefix} help\` lists them`);
    return `${prefix} ${spec.usage}\n  ${spec.summary}`;
  }
  const width = Math.max(...visible.map(([name]) => name.length));
  return visible.map(([name, spec]) => `${prefix} ${name.padEnd(width)}  ${spec.summary}`).join('\n');
}
