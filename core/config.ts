/**
 * The one reader of the environment. `loadConfig(env)` reads every variable the code uses, with
 * one set of rules — values are trimmed, an empty value counts as unset, every value is checked,
 * and a bad one throws a `ConfigError`: one line naming the variable and the fix. Entry points
 * (the `poc` command, the stack, the worker, the bot, benches, test helpers) call it once and
 * pass the object down; nothing below them reads `process.env`.
 *
 * The names are part of the public contract (README, runner/.env.example) and never change;
 * `CONFIG_VARIABLES` lists them, and README's table is generated from it (`npm run docs:env`).
 * Defaults make the embedded stack work with nothing set.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { DEFAULT_TASK_QUEUE, LLM_BACKENDS, type LlmBackend } from './contract.js';
import { HOST_LABEL, HOST_NAME, SLACK_ID } from './validate.js';

/**
 * The repository (or installed package) this file belongs to: the default workspace and the home of
 * `runner/`. This file is `core/config.ts` in a clone and `dist/core/config.js` when built.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, fs.existsSync(path.join(here, '..', 'package.json')) ? '..' : '../..');

export const EMBEDDED_PORT = 7233;
export const EMBEDDED_UI_PORT = 8233;
export const OLLAMA_DEFAULT_HOST = 'http://127.0.0.1:11434';
export const DEFAULT_SLACK_PORT = 3000;
export const DEFAULT_LLM_IDLE_TIMEOUT_MS = 120_000;
/** The model a conversation uses when none is named, per backend. */
export const DEFAULT_CHAT_MODELS: Record<LlmBackend, string> = {
  ollama: 'llama3.1',
  openai: 'gpt-4o-mini',
  anthropic: 'claude-sonnet-4-5',
};

export const DEFAULT_HOST_TIMEOUT_SECONDS = 30;
/** Pipelines mostly wait on containers, so even a small machine runs a few at once. */
export const MIN_DEFAULT_SLOTS = 4;

/** A setting that cannot be used as given: the message is one line naming the variable and the fix. */
export class ConfigError extends Error {
  constructor(
    /** The variable (or temporal.toml setting) at fault. */
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type ConfigGroup =
  'Temporal' | 'Cluster' | 'Slack' | 'LLM' | 'Worker' | 'Pipelines' | 'Hosts' | 'Retention' | 'Metrics' | 'Paths';

export interface ConfigVariable {
  name: string;
  group: ConfigGroup;
  description: string;
  /** What applies when it is unset, in words. */
  default: string;
}

/** Every variable `loadConfig` reads, in the order README lists them. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  // Temporal
  {
    name: 'TEMPORAL_ADDRESS',
    group: 'Temporal',
    description: '`host:port` of the Temporal frontend every piece dials',
    default: 'unset: the embedded dev server on 127.0.0.1:`POC_EMBEDDED_PORT`',
  },
  {
    name: 'TEMPORAL_NAMESPACE',
    group: 'Temporal',
    description: 'namespace of runs and schedules',
    default: '`default`',
  },
  {
    name: 'TEMPORAL_API_KEY',
    group: 'Temporal',
    description: 'API key sent as `Authorization: Bearer …` (turns TLS on unless `TEMPORAL_TLS=false`)',
    default: 'none',
  },
  {
    name: 'TEMPORAL_TLS',
    group: 'Temporal',
    description: '`true` / `false`: TLS to the frontend',
    default: 'off; on when an API key or any `TEMPORAL_TLS_*` setting is given',
  },
  {
    name: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
    group: 'Temporal',
    description: 'client certificate (PEM) for mTLS; needs `TEMPORAL_TLS_CLIENT_KEY_PATH`',
    default: 'none',
  },
  {
    name: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
    group: 'Temporal',
    description: 'private key (PEM) of the client certificate',
    default: 'none',
  },
  {
    name: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    group: 'Temporal',
    description: 'CA certificate (PEM) the server certificate must chain to',
    default: "Node's public roots",
  },
  {
    name: 'TEMPORAL_TLS_SERVER_NAME',
    group: 'Temporal',
    description: 'name the server certificate must carry, when it differs from the address host',
    default: 'the host of `TEMPORAL_ADDRESS`',
  },
  {
    name: 'TEMPORAL_TLS_CLIENT_CERT_DATA',
    group: 'Temporal',
    description: 'the client certificate itself (PEM text) instead of a path',
    default: 'none',
  },
  {
    name: 'TEMPORAL_TLS_CLIENT_KEY_DATA',
    group: 'Temporal',
    description: 'the client key itself (PEM text) instead of a path',
    default: 'none',
  },
  {
    name: 'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
    group: 'Temporal',
    description: 'the CA certificate itself (PEM text) instead of a path',
    default: 'none',
  },
  {
    name: 'TEMPORAL_PROFILE',
    group: 'Temporal',
    description: 'profile of the Temporal CLI config file to use (variables above override its values)',
    default: '`default` when the file has one',
  },
  {
    name: 'TEMPORAL_CONFIG_FILE',
    group: 'Temporal',
    description: "the Temporal CLI's config file (`temporal config set …` writes it)",
    default: '`$XDG_CONFIG_HOME/temporalio/temporal.toml`',
  },
  {
    name: 'TEMPORAL_CLI_PATH',
    group: 'Temporal',
    description: 'the `temporal` binary that runs the embedded dev server',
    default: '`temporal` on `PATH`, then the cache, then a `go install` build',
  },
  {
    name: 'POC_TASK_QUEUE',
    group: 'Temporal',
    description: 'task queue workers poll and runs start on',
    default: `\`${DEFAULT_TASK_QUEUE}\``,
  },
  {
    name: 'POC_TEMPORAL_UI_URL',
    group: 'Temporal',
    description: 'Web UI base URL, for links in Slack and the CLI',
    default: 'http://127.0.0.1:`POC_EMBEDDED_UI_PORT`',
  },
  {
    name: 'POC_EMBEDDED_PORT',
    group: 'Temporal',
    description: 'gRPC port of the embedded dev server',
    default: String(EMBEDDED_PORT),
  },
  {
    name: 'POC_EMBEDDED_UI_PORT',
    group: 'Temporal',
    description: 'Web UI port of the embedded dev server',
    default: String(EMBEDDED_UI_PORT),
  },
  {
    name: 'POC_DATA_DIR',
    group: 'Temporal',
    description: "folder of the embedded dev server's SQLite file and log",
    default: '`$POC_STATE_DIR/temporal`',
  },
  // Cluster (`poc cluster`)
  {
    name: 'POC_CLUSTER_DIR',
    group: 'Cluster',
    description: 'folder of the cluster `poc cluster up` runs: database, configs, certificates, logs',
    default: '`runner/cluster`',
  },
  {
    name: 'POC_POSTGRES_BIN_DIR',
    group: 'Cluster',
    description: "PostgreSQL's server programs (`initdb`, `pg_ctl`, `postgres`) for `poc cluster`",
    default: 'the newest `/usr/lib/postgresql/<major>/bin`, then `PATH`',
  },
  // Slack
  { name: 'SLACK_BOT_TOKEN', group: 'Slack', description: 'Bot User OAuth Token (`xoxb-…`)', default: 'bot off' },
  {
    name: 'SLACK_APP_TOKEN',
    group: 'Slack',
    description: 'app-level token (`xapp-…`, `connections:write`): Socket Mode',
    default: 'none',
  },
  {
    name: 'SLACK_SIGNING_SECRET',
    group: 'Slack',
    description: 'signing secret: HTTP mode (Events API), when there is no app token',
    default: 'none',
  },
  {
    name: 'POC_SLACK_PORT',
    group: 'Slack',
    description: 'port of the HTTP mode endpoint (`/slack/events`)',
    default: String(DEFAULT_SLACK_PORT),
  },
  {
    name: 'SLACK_API_URL',
    group: 'Slack',
    description: 'Web API base URL (a proxy, a test server)',
    default: "Slack's own",
  },
  {
    name: 'POC_ALLOWED_USERS',
    group: 'Slack',
    description:
      'comma-separated Slack user ids who may use the bot (every command and button); set but empty is an error',
    default: 'everyone',
  },
  {
    name: 'POC_ALLOWED_CHANNELS',
    group: 'Slack',
    description:
      'comma-separated channel ids where the bot answers; a run is readable only where it was started, or by ' +
      'whoever may use its channel; set but empty is an error',
    default: 'every channel',
  },
  // LLM
  { name: 'OPENAI_API_KEY', group: 'LLM', description: 'OpenAI key (never printed)', default: 'none' },
  {
    name: 'OPENAI_BASE_URL',
    group: 'LLM',
    description: 'OpenAI-compatible endpoint, including `/v1`',
    default: 'https://api.openai.com/v1',
  },
  { name: 'OPENAI_ORG_ID', group: 'LLM', description: 'OpenAI organization', default: 'none' },
  { name: 'OPENAI_PROJECT_ID', group: 'LLM', description: 'OpenAI project', default: 'none' },
  {
    name: 'OPENAI_LOG',
    group: 'LLM',
    description: 'any value: let the OpenAI SDK print its own log lines',
    default: 'off',
  },
  { name: 'ANTHROPIC_API_KEY', group: 'LLM', description: 'Anthropic key (never printed)', default: 'none' },
  {
    name: 'ANTHROPIC_BASE_URL',
    group: 'LLM',
    description: 'Anthropic endpoint, without `/v1`',
    default: 'https://api.anthropic.com',
  },
  {
    name: 'ANTHROPIC_LOG',
    group: 'LLM',
    description: 'any value: let the Anthropic SDK print its own log lines',
    default: 'off',
  },
  {
    name: 'OLLAMA_HOST',
    group: 'LLM',
    description: 'Ollama server (`http://host:port` or `host:port`)',
    default: OLLAMA_DEFAULT_HOST,
  },
  {
    name: 'OLLAMA_BASE_URL',
    group: 'LLM',
    description: 'the same, under the name other tools use; `OLLAMA_HOST` wins when both are set',
    default: 'see `OLLAMA_HOST`',
  },
  {
    name: 'POC_OFFLINE',
    group: 'LLM',
    description:
      '`1`: this machine has no outbound HTTPS on purpose; doctors then do not FAIL on it ' +
      '(hosted providers are out of reach)',
    default: 'outbound HTTPS is required',
  },
  {
    name: 'POC_LLM_IDLE_TIMEOUT_MS',
    group: 'LLM',
    description:
      'a prompt attempt that receives no byte for this long (text, keep-alive or any event) is abandoned and retried',
    default: String(DEFAULT_LLM_IDLE_TIMEOUT_MS),
  },
  // Conversations (`poc chat`, `!poc chat`)
  {
    name: 'POC_CHAT_BACKEND',
    group: 'LLM',
    description: 'backend of conversations started without `--backend`: ollama, openai or anthropic',
    default: '`ollama`',
  },
  {
    name: 'POC_CHAT_MODEL',
    group: 'LLM',
    description: 'model of conversations started without `--model`',
    default: Object.entries(DEFAULT_CHAT_MODELS)
      .map(([backend, model]) => `\`${model}\` (${backend})`)
      .join(', '),
  },
  {
    name: 'POC_LLM_PRICES',
    group: 'LLM',
    description:
      'USD per million input/output tokens for cost estimates, e.g. `gpt-4o=2.5/10,my-model=0.1/0.4`; ' +
      'adds to and overrides the built-in table',
    default: 'the built-in table (README, "Conversations")',
  },
  // Worker tuning
  { name: 'POC_MAX_ACTIVITIES', group: 'Worker', description: 'activity slots per worker', default: '500' },
  {
    name: 'POC_MAX_WORKFLOW_TASKS',
    group: 'Worker',
    description: 'workflow task slots per worker (at least 2)',
    default: '100',
  },
  {
    name: 'POC_MAX_CACHED_WORKFLOWS',
    group: 'Worker',
    description:
      "workflows kept in the sticky cache; by default the SDK's share of the worker's heap limit " +
      "(about 110 under the `poc` command's 384 MiB, about 2,300 with a 4 GiB heap)",
    default: 'from the heap limit',
  },
  {
    name: 'POC_WORKFLOW_TASK_POLLS',
    group: 'Worker',
    description: 'concurrent workflow task polls (2 up to the slots)',
    default: '10',
  },
  {
    name: 'POC_ACTIVITY_TASK_POLLS',
    group: 'Worker',
    description: 'concurrent activity task polls (up to the slots)',
    default: '10',
  },
  {
    name: 'POC_NON_STICKY_POLL_RATIO',
    group: 'Worker',
    description: 'share of workflow polls on the normal (non-sticky) queue, above 0 and at most 1',
    default: '0.2',
  },
  // Pipelines
  {
    name: 'POC_WORKSPACE',
    group: 'Pipelines',
    description: "Compose project a pipeline runs in (the CLI sends this shell's value with `poc run`)",
    default: 'this repository',
  },
  {
    name: 'POC_COMPOSE',
    group: 'Pipelines',
    description: '`docker compose` or `docker-compose`: force one Compose flavour',
    default: 'the first that works',
  },
  {
    name: 'POC_JOBS_DIR',
    group: 'Pipelines',
    description:
      'where step logs and artifacts of each run go (`<dir>/<workflow id>/`); never inside a workspace, ' +
      'where a step could rewrite them',
    default: '`$POC_STATE_DIR/jobs`',
  },
  // The fleet of build hosts
  {
    name: 'POC_HOST_NAME',
    group: 'Hosts',
    description: "this worker's name as a build host (letters, digits, `.`, `_`, `-`)",
    default: "the machine's host name",
  },
  {
    name: 'POC_HOST_LABELS',
    group: 'Hosts',
    description:
      'comma-separated labels of this host (`gpu,arm64`): `poc run --on gpu` runs only on hosts that have them',
    default: 'none',
  },
  {
    name: 'POC_HOST_SLOTS',
    group: 'Hosts',
    description: 'pipelines this host runs at once; 0: not a build host (the worker runs workflows only)',
    default: `the number of CPUs, at least ${MIN_DEFAULT_SLOTS}`,
  },
  {
    name: 'POC_HOST_TIMEOUT_SECONDS',
    group: 'Hosts',
    description:
      'a host not heard from for this long (or whose Docker engine does not answer) is lost and its runs move to ' +
      'another host; hosts heartbeat every fifth of it',
    default: String(DEFAULT_HOST_TIMEOUT_SECONDS),
  },
  {
    name: 'POC_REPOS_DIR',
    group: 'Hosts',
    description:
      'where a host keeps its clone cache (`cache/`) and the checkouts of runs from git (`runs/`); ' +
      'outside any workspace, as run folders are',
    default: '`$POC_STATE_DIR/repos`',
  },
  // Retention, metrics
  {
    name: 'POC_RETENTION_DAYS',
    group: 'Retention',
    description: 'run folders of closed runs older than this are pruned hourly; 0 keeps everything',
    default: '14',
  },
  {
    name: 'POC_METRICS_PORT',
    group: 'Metrics',
    description: "port of the worker's Prometheus endpoint (`/metrics`)",
    default: 'no endpoint',
  },
  {
    name: 'POC_METRICS_HOST',
    group: 'Metrics',
    description: 'address the Prometheus endpoint listens on (`0.0.0.0` or `::` for every interface)',
    default: '`127.0.0.1` (this machine only)',
  },
  // Paths
  {
    name: 'POC_CACHE_DIR',
    group: 'Paths',
    description: 'per-user cache (the Temporal CLI build)',
    default: '`$XDG_CACHE_HOME/poc-orchestrator`',
  },
  { name: 'XDG_CACHE_HOME', group: 'Paths', description: 'base of the cache folder', default: '`~/.cache`' },
  {
    name: 'POC_STATE_DIR',
    group: 'Paths',
    description: "per-user state, outside any tree a step mounts: run folders (`jobs/`), the embedded server's data",
    default: '`$XDG_STATE_HOME/poc-orchestrator`',
  },
  { name: 'XDG_STATE_HOME', group: 'Paths', description: 'base of the state folder', default: '`~/.local/state`' },
  {
    name: 'XDG_CONFIG_HOME',
    group: 'Paths',
    description: "base of the Temporal CLI's config file",
    default: '`~/.config`',
  },
  {
    name: 'NO_COLOR',
    group: 'Paths',
    description: 'any value: no colours in the terminal',
    default: 'colours on a terminal',
  },
];

/** The operating system's own variables, read where the OS conventions need them (not settings of ours). */
const SYSTEM_VARIABLES = ['PATH', 'HOME', 'APPDATA', 'LOCALAPPDATA'] as const;

const KNOWN = new Set<string>([...CONFIG_VARIABLES.map((v) => v.name), ...SYSTEM_VARIABLES]);

/** Where a TLS file comes from: a path, or the PEM text itself; `setting` names it in messages. */
export type TlsSource = ({ path: string } | { data: string }) & { setting: string };

export interface TemporalTls {
  clientCert?: TlsSource;
  clientKey?: TlsSource;
  serverCaCert?: TlsSource;
  serverName?: string;
}

/** How to reach Temporal beyond address and namespace (the flat `temporalAddress` / `namespace`). */
export interface TemporalSettings {
  /** The setting that gave the address / namespace / API key: a variable or a temporal.toml profile key. */
  addressSetting: string;
  namespaceSetting: string;
  apiKey: string | undefined;
  apiKeySetting: string;
  /** False: plain gRPC. Otherwise TLS, with these files (none: Node's public roots, no client certificate). */
  tls: TemporalTls | false;
  /** The setting that turned TLS on, for messages. */
  tlsSetting: string | undefined;
  /** gRPC headers from the profile's `grpc_meta`. */
  metadata: Record<string, string> | undefined;
  /** The temporal.toml profile in use, when a file was read. */
  profile: string | undefined;
  /** The temporal.toml read (it exists), else undefined. */
  configFile: string | undefined;
  /** TEMPORAL_CLI_PATH. */
  cliPath: string | undefined;
}

export interface SlackSettings {
  botToken: string | undefined;
  appToken: string | undefined;
  signingSecret: string | undefined;
  port: number;
  /** Web API base URL with a trailing slash (as the WebClient wants it), or undefined for Slack's own. */
  apiUrl: string | undefined;
  allowedUsers: string[] | undefined;
  allowedChannels: string[] | undefined;
}

export interface LlmSettings {
  openai: {
    apiKey: string | undefined;
    baseUrl: string | undefined;
    orgId: string | undefined;
    projectId: string | undefined;
    sdkLog: boolean;
  };
  anthropic: { apiKey: string | undefined; baseUrl: string | undefined; sdkLog: boolean };
  /** `setting`: the variable the host came from (OLLAMA_HOST, else OLLAMA_BASE_URL), undefined for the default. */
  ollama: { host: string; setting?: 'OLLAMA_HOST' | 'OLLAMA_BASE_URL' };
  idleTimeoutMs: number;
  /** POC_LLM_PRICES: USD per million tokens by model name, over the built-in table. */
  prices: Record<string, { input: number; output: number }>;
}

/** What a conversation uses when it is started without naming a backend or model. */
export interface ChatSettings {
  backend: LlmBackend;
  model: string;
}

export interface WorkerTuning {
  maxActivities: number;
  maxWorkflowTasks: number;
  /** Undefined: the SDK's default, from the heap limit. */
  maxCachedWorkflows: number | undefined;
  workflowTaskPolls: number;
  activityTaskPolls: number;
  nonStickyPollRatio: number;
}

export type ComposeChoice = 'docker compose' | 'docker-compose';

/** This worker as a build host of the fleet. */
export interface HostSettings {
  name: string;
  labels: string[];
  /** Pipelines at once; 0 = not a build host. */
  slots: number;
  timeoutSeconds: number;
  /** Clone cache and checkouts of runs from git. */
  reposDir: string;
}

export interface ClusterSettings {
  /** POC_CLUSTER_DIR (resolved), default `<repo>/runner/cluster`. */
  dir: string;
  /** POC_POSTGRES_BIN_DIR (resolved), else undefined: looked for where Debian puts it, then PATH. */
  postgresBinDir: string | undefined;
}

export interface PocConfig {
  /** `host:port` of the Temporal frontend; undefined means "the embedded dev server". */
  temporalAddress: string | undefined;
  namespace: string;
  taskQueue: string;
  /** Default compose project a pipeline runs in. */
  workspace: string;
  /** POC_WORKSPACE as set here (resolved), which `poc run` sends along; undefined = the worker's default. */
  workspaceFromEnv: string | undefined;
  /** Where step logs and artifacts of each run are written (`<jobsDir>/<workflow id>/…`). */
  jobsDir: string;
  /** Web UI base URL, for links in Slack and the CLI. */
  uiUrl: string;
  metricsPort: number | undefined;
  /** Address the metrics endpoint binds (POC_METRICS_HOST; loopback unless said otherwise). */
  metricsHost: string;
  /** Run folders of closed runs older than this many days are pruned (0 = never). */
  retentionDays: number;
  /** The embedded dev server `poc up` / `poc server` start when TEMPORAL_ADDRESS is unset. */
  embedded: { port: number; uiPort: number; dataDir: string };
  /** Connection settings (TLS, API key, profile) and the CLI path. */
  temporal: TemporalSettings;
  slack: SlackSettings;
  llm: LlmSettings;
  chat: ChatSettings;
  worker: WorkerTuning;
  /** POC_COMPOSE: a forced Compose flavour, else undefined (the first that works). */
  compose: ComposeChoice | undefined;
  /** POC_HOST_*: this worker as a build host. */
  host: HostSettings;
  /** `poc cluster`: where the cluster lives and which PostgreSQL runs it. */
  cluster: ClusterSettings;
  /** Per-user cache (the Temporal CLI build lives here). */
  cacheDir: string;
  /** Per-user state, outside any workspace: the default home of `jobsDir` and the embedded server's data. */
  stateDir: string;
  /** PATH, where `temporal` and `go` are looked for. */
  searchPath: string;
  /** False when NO_COLOR is set. */
  color: boolean;
  /** POC_OFFLINE: no outbound HTTPS on purpose (the doctor does not require it). */
  offline: boolean;
  /** The `.env` files read into the environment before this config was loaded (`loadHostConfig`); names only. */
  envFiles: string[];
}

/** Reads one variable by the common rules: trimmed, empty = unset; only known names. */
function reader(env: NodeJS.ProcessEnv) {
  const read = (name: string): string | undefined => {
    if (!KNOWN.has(name)) throw new Error(`core/config.ts reads ${name}, which CONFIG_VARIABLES does not list`);
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const int = (name: string, fallback: number, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new ConfigError(
        name,
        `${name}=${raw} is not a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}; ` +
          `set one or unset it (default ${fallback})`,
      );
    }
    return value;
  };
  const port = (name: string): number | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!/^\d{1,5}$/.test(raw) || value > 65535) {
      throw new ConfigError(
        name,
        `${name}=${raw} is not a port number; set it to an integer from 0 to 65535 or unset it`,
      );
    }
    return value;
  };
  const url = (name: string, hint: string): string | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new ConfigError(name, `${name}=${raw} is not an http(s) URL; set it like ${hint} or unset it`);
    }
    return raw;
  };
  const bool = (name: string): boolean | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    throw new ConfigError(name, `${name}=${raw} is not true or false; set ${name}=true or ${name}=false, or unset it`);
  };
  const list = (name: string): string[] | undefined => {
    const items = (read(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    return items.length ? items : undefined;
  };
  const dir = (name: string, fallback: string): string => path.resolve(read(name) ?? fallback);
  /**
   * An allow-list of Slack ids. Unlike other settings, set-but-empty is an error: a list that
   * names nobody must never mean "everyone".
   */
  const idList = (name: string, pattern: RegExp, example: string): string[] | undefined => {
    if (!KNOWN.has(name)) throw new Error(`core/config.ts reads ${name}, which CONFIG_VARIABLES does not list`);
    if (env[name] === undefined) return undefined;
    const items = list(name);
    if (!items) {
      throw new ConfigError(
        name,
        `${name} is set but lists nobody; list ids like ${example} or unset it (unset: no limit)`,
      );
    }
    const bad = items.find((item) => !pattern.test(item));
    if (bad !== undefined) {
      throw new ConfigError(
        name,
        `${name}: ${JSON.stringify(bad.slice(0, 40))} is not a Slack id; list ids like ${example} (names do not work)`,
      );
    }
    return items;
  };
  return { read, int, port, url, bool, list, dir, idList };
}

type Reader = ReturnType<typeof reader>;

/** Reads and checks every setting; throws a ConfigError (one line) for the first bad one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): PocConfig {
  const r = reader(env);
  const embeddedPort = r.port('POC_EMBEDDED_PORT') ?? EMBEDDED_PORT;
  const embeddedUiPort = r.port('POC_EMBEDDED_UI_PORT') ?? EMBEDDED_UI_PORT;
  const temporal = temporalSettings(r);
  const workspaceFromEnv = r.read('POC_WORKSPACE');
  const stateDir = stateDirOf(r);
  return {
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    taskQueue: r.read('POC_TASK_QUEUE') ?? DEFAULT_TASK_QUEUE,
    workspace: path.resolve(workspaceFromEnv ?? repoRoot),
    workspaceFromEnv: workspaceFromEnv && path.resolve(workspaceFromEnv),
    jobsDir: r.dir('POC_JOBS_DIR', path.join(stateDir, 'jobs')),
    uiUrl: (
      r.url('POC_TEMPORAL_UI_URL', 'http://temporal-ui.internal:8080') ?? `http://127.0.0.1:${embeddedUiPort}`
    ).replace(/\/+$/, ''),
    metricsPort: r.port('POC_METRICS_PORT'),
    metricsHost: metricsHost(r),
    retentionDays: retentionDays(r),
    embedded: {
      port: embeddedPort,
      uiPort: embeddedUiPort,
      dataDir: r.dir('POC_DATA_DIR', path.join(stateDir, 'temporal')),
    },
    temporal: temporal.settings,
    slack: slackSettings(r),
    llm: llmSettings(r),
    chat: chatSettings(r),
    worker: workerTuning(r),
    compose: composeChoice(r),
    host: hostSettings(r, stateDir),
    cluster: {
      dir: r.dir('POC_CLUSTER_DIR', path.join(repoRoot, 'runner', 'cluster')),
      postgresBinDir: r.read('POC_POSTGRES_BIN_DIR') && r.dir('POC_POSTGRES_BIN_DIR', ''),
    },
    cacheDir: cacheDirOf(r),
    stateDir,
    searchPath: r.read('PATH') ?? '',
    color: r.read('NO_COLOR') === undefined,
    offline: r.bool('POC_OFFLINE') ?? false,
    envFiles: [],
  };
}

function metricsHost(r: Reader): string {
  const raw = r.read('POC_METRICS_HOST');
  if (raw === undefined) return '127.0.0.1';
  const host = raw.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(host) === 0) {
    throw new ConfigError(
      'POC_METRICS_HOST',
      `POC_METRICS_HOST=${raw} is not an IP address; set it like 127.0.0.1, 0.0.0.0 or ::, or unset it`,
    );
  }
  return host;
}

/** The files the `poc` command reads into its environment, in this order, relative to where it is started. */
export const ENV_FILES = ['.env', 'runner/.env'] as const;

/**
 * Reads `.env` and `runner/.env` of `dir` (those that exist) into `process.env` with Node's own
 * `process.loadEnvFile`, which never replaces a variable that is already set: the real
 * environment wins, then `.env`, then `runner/.env`. Returns the paths read (never values).
 */
export function loadEnvFiles(dir: string = process.cwd()): string[] {
  const read: string[] = [];
  for (const name of ENV_FILES) {
    const file = path.resolve(dir, name);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) continue;
    try {
      process.loadEnvFile(file);
    } catch (err) {
      throw new ConfigError(name, `${file} cannot be read (${(err as Error).message}); fix or remove it`);
    }
    read.push(file);
  }
  return read;
}

/**
 * What the host processes (the `poc` command: up, worker, bot, llm --direct, …)
 * load: the `.env` files, then the config.
 */
export function loadHostConfig(dir: string = process.cwd()): PocConfig {
  const envFiles = loadEnvFiles(dir);
  return { ...loadConfig(process.env), envFiles };
}

function retentionDays(r: Reader): number {
  const raw = r.read('POC_RETENTION_DAYS');
  if (raw === undefined) return 14;
  const days = Number(raw);
  if (!Number.isFinite(days) || days < 0)
    throw new ConfigError(
      'POC_RETENTION_DAYS',
      `POC_RETENTION_DAYS=${raw} is not a number of days; set it to 0 (keep forever) or more`,
    );
  return days;
}

function slackSettings(r: Reader): SlackSettings {
  const apiUrl = r.url('SLACK_API_URL', 'https://slack.com/api/');
  return {
    botToken: r.read('SLACK_BOT_TOKEN'),
    appToken: r.read('SLACK_APP_TOKEN'),
    signingSecret: r.read('SLACK_SIGNING_SECRET'),
    port: r.port('POC_SLACK_PORT') ?? DEFAULT_SLACK_PORT,
    apiUrl: apiUrl && (apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`),
    allowedUsers: r.idList('POC_ALLOWED_USERS', SLACK_ID.user, 'U0123ABCD,U0456EFGH'),
    allowedChannels: r.idList('POC_ALLOWED_CHANNELS', SLACK_ID.channel, 'C0123ABCD'),
  };
}

/** True when the bot has what it needs to start (a bot token, and an app token or a signing secret). */
export function slackConfigured(slack: SlackSettings): boolean {
  return Boolean(slack.botToken && (slack.appToken || slack.signingSecret));
}

function llmSettings(r: Reader): LlmSettings {
  // OLLAMA_BASE_URL is what several other tools call it; OLLAMA_HOST is Ollama's own name and wins.
  const setting = r.read('OLLAMA_HOST') !== undefined ? 'OLLAMA_HOST' : 'OLLAMA_BASE_URL';
  const ollama = r.read(setting);
  // Ollama takes `host:port` as well as a URL; only a value with a scheme other than http(s) is wrong.
  if (ollama && (/\s/.test(ollama) || (/^[a-z][a-z0-9+.-]*:\/\//i.test(ollama) && !/^https?:\/\//i.test(ollama)))) {
    throw new ConfigError(
      setting,
      `${setting}=${ollama} is not an Ollama address; set it like ${OLLAMA_DEFAULT_HOST} or unset it`,
    );
  }
  return {
    openai: {
      apiKey: r.read('OPENAI_API_KEY'),
      baseUrl: r.url('OPENAI_BASE_URL', 'https://api.openai.com/v1'),
      orgId: r.read('OPENAI_ORG_ID'),
      projectId: r.read('OPENAI_PROJECT_ID'),
      sdkLog: r.read('OPENAI_LOG') !== undefined,
    },
    anthropic: {
      apiKey: r.read('ANTHROPIC_API_KEY'),
      baseUrl: r.url('ANTHROPIC_BASE_URL', 'https://api.anthropic.com'),
      sdkLog: r.read('ANTHROPIC_LOG') !== undefined,
    },
    ollama: ollama ? { host: ollama, setting } : { host: OLLAMA_DEFAULT_HOST },
    idleTimeoutMs: r.int('POC_LLM_IDLE_TIMEOUT_MS', DEFAULT_LLM_IDLE_TIMEOUT_MS),
    prices: llmPrices(r),
  };
}

function chatSettings(r: Reader): ChatSettings {
  const raw = r.read('POC_CHAT_BACKEND');
  if (raw !== undefined && !(LLM_BACKENDS as readonly string[]).includes(raw)) {
    throw new ConfigError(
      'POC_CHAT_BACKEND',
      `POC_CHAT_BACKEND=${raw} is not a backend; set it to one of ${LLM_BACKENDS.join(', ')} or unset it`,
    );
  }
  const backend = (raw as LlmBackend | undefined) ?? 'ollama';
  return { backend, model: r.read('POC_CHAT_MODEL') ?? DEFAULT_CHAT_MODELS[backend] };
}

/**
 * The backend and model of a new conversation: what was asked for, else the settings
 * (POC_CHAT_BACKEND, POC_CHAT_MODEL), and a backend named without a model gets its own default.
 */
export function chatModelFor(chat: ChatSettings, backend?: LlmBackend, model?: string): ChatSettings {
  const chosen = backend ?? chat.backend;
  return { backend: chosen, model: model ?? (chosen === chat.backend ? chat.model : DEFAULT_CHAT_MODELS[chosen]) };
}

/** `model=input/output,…` in USD per million tokens. */
function llmPrices(r: Reader): Record<string, { input: number; output: number }> {
  const raw = r.read('POC_LLM_PRICES');
  const prices: Record<string, { input: number; output: number }> = {};
  for (const entry of (raw ?? '').split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const match = /^([A-Za-z0-9][A-Za-z0-9._:/@+-]*)=(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match) {
      throw new ConfigError(
        'POC_LLM_PRICES',
        `POC_LLM_PRICES: "${entry.slice(0, 60)}" is not model=input/output (USD per million tokens); ` +
          'write it like gpt-4o=2.5/10 or unset the variable',
      );
    }
    prices[match[1]] = { input: Number(match[2]), output: Number(match[3]) };
  }
  return prices;
}

function workerTuning(r: Reader): WorkerTuning {
  const ratioRaw = r.read('POC_NON_STICKY_POLL_RATIO');
  const ratio = ratioRaw === undefined ? 0.2 : Number(ratioRaw);
  if (!(ratio > 0 && ratio <= 1)) {
    throw new ConfigError(
      'POC_NON_STICKY_POLL_RATIO',
      `POC_NON_STICKY_POLL_RATIO=${ratioRaw} is not a share above 0 and at most 1; set it like 0.2 or unset it`,
    );
  }
  return {
    maxActivities: r.int('POC_MAX_ACTIVITIES', 500),
    maxWorkflowTasks: r.int('POC_MAX_WORKFLOW_TASKS', 100, { min: 2 }),
    // Unset, the SDK sizes the cache to the heap: a fixed count could outgrow a small heap.
    maxCachedWorkflows:
      r.read('POC_MAX_CACHED_WORKFLOWS') === undefined ? undefined : r.int('POC_MAX_CACHED_WORKFLOWS', 0, { min: 0 }),
    workflowTaskPolls: r.int('POC_WORKFLOW_TASK_POLLS', 10),
    activityTaskPolls: r.int('POC_ACTIVITY_TASK_POLLS', 10),
    nonStickyPollRatio: ratio,
  };
}

function composeChoice(r: Reader): ComposeChoice | undefined {
  const raw = r.read('POC_COMPOSE');
  if (raw === undefined) return undefined;
  const normalized = raw.replace(/\s+/g, ' ');
  if (normalized === 'docker compose' || normalized === 'docker-compose') return normalized;
  throw new ConfigError(
    'POC_COMPOSE',
    `POC_COMPOSE=${raw} is not understood; set it to "docker compose" or "docker-compose", or unset it`,
  );
}

/** The machine's host name as a host name of ours (other characters become `-`). */
export function defaultHostName(): string {
  const cleaned = os
    .hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return cleaned || 'localhost';
}

function hostSettings(r: Reader, stateDir: string): HostSettings {
  const name = r.read('POC_HOST_NAME') ?? defaultHostName();
  if (!HOST_NAME.test(name)) {
    throw new ConfigError(
      'POC_HOST_NAME',
      `POC_HOST_NAME=${name} is not a host name (letters, digits, ".", "_" and "-", at most 63, ` +
        "starting with a letter or digit); set another, or unset it for the machine's name",
    );
  }
  const labels = r.list('POC_HOST_LABELS') ?? [];
  const bad = labels.find((label) => !HOST_LABEL.test(label));
  if (bad !== undefined) {
    throw new ConfigError(
      'POC_HOST_LABELS',
      `POC_HOST_LABELS=${r.read('POC_HOST_LABELS')}: "${bad.slice(0, 40)}" is not a label ` +
        '(letters, digits, ".", "_", ":" and "-"); set comma-separated labels like gpu,arm64',
    );
  }
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    name,
    labels: [...new Set(labels)],
    slots: r.int('POC_HOST_SLOTS', Math.max(MIN_DEFAULT_SLOTS, cpus), { min: 0, max: 1_000 }),
    timeoutSeconds: r.int('POC_HOST_TIMEOUT_SECONDS', DEFAULT_HOST_TIMEOUT_SECONDS, { min: 5, max: 3_600 }),
    reposDir: r.dir('POC_REPOS_DIR', path.join(stateDir, 'repos')),
  };
}

function cacheDirOf(r: Reader): string {
  const explicit = r.read('POC_CACHE_DIR');
  if (explicit) return path.resolve(explicit);
  const base =
    r.read('XDG_CACHE_HOME') ??
    (process.platform === 'darwin'
      ? path.join(os.homedir(), 'Library', 'Caches')
      : process.platform === 'win32'
        ? (r.read('LOCALAPPDATA') ?? path.join(os.homedir(), 'AppData', 'Local'))
        : path.join(os.homedir(), '.cache'));
  return path.join(base, 'poc-orchestrator');
}

/** POC_STATE_DIR, else `$XDG_STATE_HOME/poc-orchestrator` (XDG's home of state that outlives a run). */
function stateDirOf(r: Reader): string {
  const explicit = r.read('POC_STATE_DIR');
  if (explicit) return path.resolve(explicit);
  const xdg = r.read('XDG_STATE_HOME');
  const base =
    xdg && path.isAbsolute(xdg)
      ? xdg
      : process.platform === 'darwin'
        ? path.join(os.homedir(), 'Library', 'Application Support')
        : process.platform === 'win32'
          ? (r.read('LOCALAPPDATA') ?? path.join(os.homedir(), 'AppData', 'Local'))
          : path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'poc-orchestrator');
}

// ---------------------------------------------------------------------------------------------
// Temporal connection settings: Temporal's own variables and the CLI's temporal.toml profiles,
// read through @temporalio/envconfig (the variables win over the profile, as in the CLI).

const TLS_VARIABLES = {
  clientCert: ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_CERT_DATA', 'client_cert'],
  clientKey: ['TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_CLIENT_KEY_DATA', 'client_key'],
  serverCaCert: ['TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_DATA', 'server_ca_cert'],
} as const;

/** The Temporal CLI's config file: TEMPORAL_CONFIG_FILE, else `<config dir>/temporalio/temporal.toml`. */
function temporalConfigFile(r: Reader): { file: string | undefined; explicit: boolean } {
  const explicit = r.read('TEMPORAL_CONFIG_FILE');
  if (explicit) return { file: path.resolve(explicit), explicit: true };
  let base: string | undefined;
  if (process.platform === 'win32') base = r.read('APPDATA');
  else if (process.platform === 'darwin') {
    const home = r.read('HOME');
    base = home && path.join(home, 'Library', 'Application Support');
  } else {
    const xdg = r.read('XDG_CONFIG_HOME');
    const home = r.read('HOME');
    base = xdg && path.isAbsolute(xdg) ? xdg : home && path.join(home, '.config');
  }
  return { file: base && path.join(base, 'temporalio', 'temporal.toml'), explicit: false };
}

function temporalSettings(r: Reader): {
  address: string | undefined;
  namespace: string;
  settings: TemporalSettings;
} {
  const { file, explicit } = temporalConfigFile(r);
  const fileExists = file !== undefined && fs.existsSync(file);
  if (explicit && !fileExists) {
    throw new ConfigError(
      'TEMPORAL_CONFIG_FILE',
      `TEMPORAL_CONFIG_FILE=${file} does not exist; fix the path or unset it`,
    );
  }
  const profileName = r.read('TEMPORAL_PROFILE');
  if (profileName && !fileExists) {
    throw new ConfigError(
      'TEMPORAL_PROFILE',
      `TEMPORAL_PROFILE=${profileName} but there is no Temporal config file (${file ?? 'no home folder'}); ` +
        `create the profile with \`temporal config set --profile ${profileName} --prop address --value host:port\` ` +
        'or unset TEMPORAL_PROFILE',
    );
  }
  const tlsFlag = r.bool('TEMPORAL_TLS');
  // What envconfig layers over the profile: our variables, read by our rules.
  const overrides: Record<string, string> = {};
  for (const name of [
    'TEMPORAL_ADDRESS',
    'TEMPORAL_NAMESPACE',
    'TEMPORAL_API_KEY',
    'TEMPORAL_TLS_SERVER_NAME',
    ...Object.values(TLS_VARIABLES).flatMap(([pathVar, dataVar]) => [pathVar, dataVar]),
  ]) {
    const value = r.read(name);
    if (value !== undefined) overrides[name] = value;
  }
  if (tlsFlag !== undefined) overrides.TEMPORAL_TLS = String(tlsFlag);

  const profileLabel = profileName ?? 'default';
  const inFile = (key: string) => `${key} of profile "${profileLabel}" in ${file}`;
  const load = (disableEnv: boolean): ClientConfigProfile => {
    try {
      return loadClientConfigProfile({
        ...(fileExists ? { configSource: { path: file as string } } : { disableFile: true }),
        profile: profileName,
        disableEnv,
        overrideEnvVars: overrides,
      });
    } catch (err) {
      const message = String((err as Error).message ?? err).split('\n')[0];
      // A file without any [profile.…] table (an empty temporal.toml): the variables alone.
      if (err instanceof TypeError && !profileName) return disableEnv ? {} : disableFileProfile(overrides);
      if (/Profile '.*' not found/.test(message) || err instanceof TypeError) {
        throw new ConfigError(
          'TEMPORAL_PROFILE',
          `TEMPORAL_PROFILE=${profileName}: ${file} has no such profile; add it with ` +
            `\`temporal config set --profile ${profileName} …\` or set TEMPORAL_PROFILE to one it has`,
        );
      }
      if (/Cannot specify both/.test(message)) {
        throw new ConfigError('TEMPORAL_CONFIG_FILE', `${file}: ${message}; keep one of the two`);
      }
      throw new ConfigError(
        'TEMPORAL_CONFIG_FILE',
        `${file} cannot be read as a Temporal config file (${message}); fix it or point TEMPORAL_CONFIG_FILE elsewhere`,
      );
    }
  };
  const profile = fileExists ? load(false) : disableFileProfile(overrides);
  const fromFile = fileExists ? load(true) : {};
  const origin = (variable: string, key: string, inProfile: boolean) =>
    overrides[variable] !== undefined || !inProfile ? variable : inFile(key);

  const address = profile.address?.trim() || undefined;
  const addressSetting = origin('TEMPORAL_ADDRESS', 'address', fromFile.address !== undefined);
  if (address !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
    throw new ConfigError(
      addressSetting,
      `${addressSetting}=${address} is not host:port; set it like temporal.example.com:7233 ` +
        '(unset, poc uses its embedded dev server)',
    );
  }
  const namespace = profile.namespace?.trim() || 'default';
  const apiKey = profile.apiKey?.trim() || undefined;
  const apiKeySetting = origin('TEMPORAL_API_KEY', 'api_key', fromFile.apiKey !== undefined);

  let tls: TemporalTls | false = false;
  let tlsSetting: string | undefined;
  if (profile.tls && profile.tls.disabled !== true) {
    const source = (which: keyof typeof TLS_VARIABLES, data: ConfigDataSource | undefined): TlsSource | undefined => {
      if (!data) return undefined;
      const [pathVar, dataVar, key] = TLS_VARIABLES[which];
      if ('path' in data) {
        return { path: path.resolve(data.path), setting: origin(pathVar, `tls.${key}_path`, true) };
      }
      const text = typeof data.data === 'string' ? data.data : Buffer.from(data.data).toString('utf8');
      return { data: text, setting: origin(dataVar, `tls.${key}_data`, true) };
    };
    tls = {
      clientCert: source('clientCert', profile.tls.clientCert),
      clientKey: source('clientKey', profile.tls.clientKey),
      serverCaCert: source('serverCaCert', profile.tls.serverCACert),
      serverName: profile.tls.serverName?.trim() || undefined,
    };
    tlsSetting =
      tlsFlag === true
        ? 'TEMPORAL_TLS'
        : (Object.keys(overrides).find((name) => name.startsWith('TEMPORAL_TLS_')) ?? inFile('tls'));
  } else if (!profile.tls && apiKey !== undefined) {
    // As Temporal's own tools do: an API key means TLS unless TLS is turned off explicitly.
    tls = {};
    tlsSetting = apiKeySetting;
  }
  if (tls) {
    const { clientCert, clientKey } = tls;
    if (clientCert && !clientKey) {
      throw new ConfigError(
        'TEMPORAL_TLS_CLIENT_KEY_PATH',
        `${clientCert.setting} is set but no client key is: ` +
          "set TEMPORAL_TLS_CLIENT_KEY_PATH to the certificate's private key",
      );
    }
    if (clientKey && !clientCert) {
      throw new ConfigError(
        'TEMPORAL_TLS_CLIENT_CERT_PATH',
        `${clientKey.setting} is set but no client certificate is: set TEMPORAL_TLS_CLIENT_CERT_PATH as well`,
      );
    }
  }
  if (address === undefined && (tls || apiKey !== undefined)) {
    throw new ConfigError(
      'TEMPORAL_ADDRESS',
      `${tls ? tlsSetting : apiKeySetting} is set but TEMPORAL_ADDRESS is not: set TEMPORAL_ADDRESS to the server ` +
        'these settings are for (the embedded dev server takes neither TLS nor an API key)',
    );
  }
  return {
    address,
    namespace,
    settings: {
      addressSetting,
      namespaceSetting: origin('TEMPORAL_NAMESPACE', 'namespace', fromFile.namespace !== undefined),
      apiKey,
      apiKeySetting,
      tls,
      tlsSetting,
      metadata: profile.grpcMeta,
      profile: fileExists ? profileLabel : undefined,
      configFile: fileExists ? file : undefined,
      cliPath: r.read('TEMPORAL_CLI_PATH'),
    },
  };
}

/** The variables alone, through envconfig, when there is no config file. */
function disableFileProfile(overrides: Record<string, string>): ClientConfigProfile {
  return loadClientConfigProfile({ disableFile: true, overrideEnvVars: overrides });
}

/** Address clients dial: the configured server, else the embedded one `poc up` starts. */
export function clientAddress(config: PocConfig): string {
  return config.temporalAddress ?? `127.0.0.1:${config.embedded.port}`;
}

export function runUrl(config: PocConfig, workflowId: string): string {
  const namespace = encodeURIComponent(config.namespace);
  return `${config.uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * The secret values the config holds, by variable name, for the redactor (a config built or
 * changed in code may hold tokens the process environment does not).
 */
export function secretValues(config: PocConfig): Record<string, string> {
  const entries: [string, string | undefined][] = [
    ['TEMPORAL_API_KEY', config.temporal.apiKey],
    ['SLACK_BOT_TOKEN', config.slack.botToken],
    ['SLACK_APP_TOKEN', config.slack.appToken],
    ['SLACK_SIGNING_SECRET', config.slack.signingSecret],
    ['OPENAI_API_KEY', config.llm.openai.apiKey],
    ['ANTHROPIC_API_KEY', config.llm.anthropic.apiKey],
  ];
  const clientKey = config.temporal.tls ? config.temporal.tls.clientKey : undefined;
  if (clientKey && 'data' in clientKey) entries.push(['TEMPORAL_TLS_CLIENT_KEY_DATA', clientKey.data]);
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** README's table of variables (between its `env:begin` / `env:end` markers), from CONFIG_VARIABLES. */
export function configVariablesMarkdown(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const lines = ['| variable | what it does | when unset |', '| --- | --- | --- |'];
  let group: ConfigGroup | undefined;
  for (const variable of CONFIG_VARIABLES) {
    if (variable.group !== group) {
      group = variable.group;
      lines.push(`| **${group}** | | |`);
    }
    lines.push(`| \`${variable.name}\` | ${cell(variable.description)} | ${cell(variable.default)} |`);
  }
  return lines.join('\n');
}

export const CONFIG_TABLE_BEGIN =
  '<!-- env:begin: generated from CONFIG_VARIABLES (core/config.ts) by `npm run docs:env` -->';
export const CONFIG_TABLE_END = '<!-- env:end -->';
