/**
 * A workspace is a Docker Compose project folder with a `runner` service. What each step runs
 * comes from the workspace — its `poc.config.json`, else the defaults below — and never from the
 * text of a request.
 *
 * poc.config.json (every field optional):
 *   { "service": "runner", "composeFiles": ["docker-compose.yml"], "env": ["NPM_TOKEN"],
 *     "steps": { "lint": { "run": "npm run lint", "timeoutSeconds": 300 }, "e2e": "npm run e2e",
 *                "build": { "build": true } },
 *     "chat": { "tools": ["run_steps", "read_log", "list_runs"], "steps": ["lint", "test"] } }
 * `chat` says which tools a conversation in this workspace may call (none without it) and which
 * steps `run_steps` may run (default: every step the workspace defines).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { CHAT_TOOLS, CHAT_TOOL_NAMES, DEFAULT_STEPS, FAILURE_TYPES, type ChatToolName } from '../core/contract.js';
import { MAX_ID_NAME_LENGTH, STEP_NAME, idName } from '../core/validate.js';
import { createRedactor } from '../core/redact.js';
import { fixComposeSetup } from './compose-setup.js';
import { checkoutRun } from './git.js';
import type { PrepareRunArgs, RunPlan, StepPlan } from './types.js';

export const CONFIG_FILE = 'poc.config.json';
const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

export interface WorkspaceConfig {
  service: string;
  /** As poc.config.json names them; empty: Compose's own default lookup (`composeFilesOf` resolves it). */
  composeFiles: string[];
  /** Variables of the worker's environment that Compose may pass on (poc.config.json `env`). */
  env: string[];
  steps: Map<string, StepPlan>;
  /** What conversations may do here (`chat` in poc.config.json). */
  chat: ChatPolicy;
}

export interface ChatPolicy {
  tools: ChatToolName[];
  /** Steps `run_steps` may run. */
  steps: string[];
}

export class WorkspaceError extends Error {}
/** The workspace folder is not there (on a fleet, another host may have it). */
export class WorkspaceMissingError extends WorkspaceError {}

function defaultStep(name: string): StepPlan {
  if (name === 'build') return { name, kind: 'build', command: 'compose build', timeoutSeconds: null };
  return { name, kind: 'run', command: `runner/scripts/${name}.sh`, timeoutSeconds: null };
}

/** Reads and checks a workspace's step definitions. Throws WorkspaceError with a fix in the message. */
export function loadWorkspaceConfig(workspace: string): WorkspaceConfig {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(workspace);
  } catch {
    throw new WorkspaceMissingError(
      `workspace ${workspace} does not exist; set POC_WORKSPACE or the run's workspace to a compose project folder`,
    );
  }
  if (!stat.isDirectory()) throw new WorkspaceError(`workspace ${workspace} is not a folder`);

  const steps = new Map<string, StepPlan>(DEFAULT_STEPS.map((name) => [name, defaultStep(name)]));
  let service = 'runner';
  let composeFiles: string[] = [];
  let chatSection: unknown;
  let env: string[] = [];
  const configPath = path.join(workspace, CONFIG_FILE);
  if (fs.existsSync(configPath)) {
    const where = `${configPath}`;
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new WorkspaceError(`${where} is not valid JSON (${(err as Error).message}); fix the file`);
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new WorkspaceError(`${where} must hold a JSON object`);
    const config = raw as Record<string, unknown>;
    for (const key of Object.keys(config)) {
      if (!['service', 'composeFiles', 'env', 'steps', 'chat', '$schema'].includes(key)) {
        throw new WorkspaceError(
          `${where}: unknown field "${key}"; the fields are service, composeFiles, env, steps, chat`,
        );
      }
    }
    if (config.service !== undefined) {
      if (typeof config.service !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(config.service)) {
        throw new WorkspaceError(`${where}: service must be a compose service name`);
      }
      service = config.service;
    }
    if (config.composeFiles !== undefined) {
      if (
        !Array.isArray(config.composeFiles) ||
        config.composeFiles.some((f) => typeof f !== 'string' || path.isAbsolute(f) || f.split(/[\\/]/).includes('..'))
      ) {
        throw new WorkspaceError(`${where}: composeFiles must be a list of file names inside the workspace`);
      }
      composeFiles = config.composeFiles as string[];
    }
    if (config.env !== undefined) {
      if (
        !Array.isArray(config.env) ||
        config.env.some((name) => typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      ) {
        throw new WorkspaceError(
          `${where}: env must be a list of variable names (e.g. ["NPM_TOKEN"]) that Compose may pass on`,
        );
      }
      env = config.env as string[];
    }
    if (config.steps !== undefined) {
      if (!config.steps || typeof config.steps !== 'object' || Array.isArray(config.steps)) {
        throw new WorkspaceError(`${where}: steps must be an object of step name → { "run": "command" }`);
      }
      for (const [name, def] of Object.entries(config.steps as Record<string, unknown>)) {
        if (!STEP_NAME.test(name))
          throw new WorkspaceError(`${where}: "${name}" is not a step name (lower-case letters, digits, - and _)`);
        steps.set(name, parseStep(where, name, def));
      }
    }
    chatSection = config.chat;
  }
  const files =
    composeFiles.length > 0
      ? composeFiles
      : COMPOSE_FILES.filter((f) => fs.existsSync(path.join(workspace, f))).slice(0, 1);
  if (files.length === 0) {
    throw new WorkspaceError(
      `workspace ${workspace} has no compose file (${COMPOSE_FILES.join(', ')}); ` +
        `it must be a Docker Compose project with a "${service}" service`,
    );
  }
  for (const file of files) {
    if (!fs.existsSync(path.join(workspace, file)))
      throw new WorkspaceError(`workspace ${workspace}: compose file ${file} is missing`);
  }
  return {
    service,
    composeFiles: composeFiles.length > 0 ? composeFiles : [],
    env,
    steps,
    chat: parseChatPolicy(configPath, chatSection, [...steps.keys()]),
  };
}

function parseChatPolicy(where: string, raw: unknown, defined: string[]): ChatPolicy {
  if (raw === undefined) return { tools: [], steps: [] };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new WorkspaceError(`${where}: chat must be an object like { "tools": ["read_log"] }`);
  const obj = raw as Record<string, unknown>;
  const unknown = Object.keys(obj).find((key) => key !== 'tools' && key !== 'steps');
  if (unknown)
    throw new WorkspaceError(`${where}: chat has an unknown field "${unknown}"; the fields are tools, steps`);
  const tools = obj.tools ?? [];
  if (!Array.isArray(tools) || tools.some((t) => !(CHAT_TOOL_NAMES as readonly unknown[]).includes(t))) {
    throw new WorkspaceError(`${where}: chat.tools must list tools from ${CHAT_TOOL_NAMES.join(', ')}`);
  }
  const steps = obj.steps ?? defined;
  if (!Array.isArray(steps) || steps.some((s) => typeof s !== 'string' || !defined.includes(s))) {
    throw new WorkspaceError(`${where}: chat.steps must list steps this workspace defines (${defined.join(', ')})`);
  }
  const allowed = [...new Set(tools as ChatToolName[])];
  return { tools: allowed, steps: allowed.includes(CHAT_TOOLS.runSteps) ? (steps as string[]) : [] };
}

/**
 * The compose files Compose would read in `workspace`: the configured ones, else the first of its
 * default names with its override file (`compose.override.yaml`, `docker-compose.override.yml`).
 */
export function composeFilesOf(workspace: string, configured: string[]): string[] {
  if (configured.length > 0) return configured;
  const main = COMPOSE_FILES.find((f) => fs.existsSync(path.join(workspace, f)));
  if (!main) return [];
  const stem = main.startsWith('docker-') ? 'docker-compose' : 'compose';
  const override = [`${stem}.override.yaml`, `${stem}.override.yml`].find((f) =>
    fs.existsSync(path.join(workspace, f)),
  );
  return override ? [main, override] : [main];
}

function parseStep(where: string, name: string, def: unknown): StepPlan {
  if (typeof def === 'string')
    return { name, kind: 'run', command: checkCommand(where, name, def), timeoutSeconds: null };
  if (!def || typeof def !== 'object' || Array.isArray(def)) {
    throw new WorkspaceError(
      `${where}: steps.${name} must be a command string or { "run": "command" } or { "build": true }`,
    );
  }
  const obj = def as Record<string, unknown>;
  let timeoutSeconds: number | null = null;
  if (obj.timeoutSeconds !== undefined) {
    if (typeof obj.timeoutSeconds !== 'number' || !Number.isInteger(obj.timeoutSeconds) || obj.timeoutSeconds < 1) {
      throw new WorkspaceError(`${where}: steps.${name}.timeoutSeconds must be a whole number of seconds`);
    }
    timeoutSeconds = obj.timeoutSeconds;
  }
  if (obj.build === true) return { name, kind: 'build', command: 'compose build', timeoutSeconds };
  if (typeof obj.run !== 'string')
    throw new WorkspaceError(`${where}: steps.${name}.run must be the command to run in the container`);
  return { name, kind: 'run', command: checkCommand(where, name, obj.run), timeoutSeconds };
}

function checkCommand(where: string, name: string, command: string): string {
  if (!command.trim()) throw new WorkspaceError(`${where}: steps.${name} has an empty command`);
  return command;
}

/** Folder name for a workflow id (ids may hold any character; two ids never share a folder). */
export function jobFolderName(workflowId: string): string {
  return idName(workflowId);
}

/**
 * The workspace lock's key: the workspace's real path within one task queue. The lock workflow
 * runs on the task queue of the run that starts it, and a path only names the same folder for
 * the workers of one queue — so two fleets on one server never share, or wait on, a lock that
 * the other's workers would have to serve.
 */
export function lockKeyFor(workspace: string, taskQueue: string): string {
  let real = workspace;
  try {
    real = fs.realpathSync(workspace);
  } catch {
    // Keep the given path: prepareRun already checked it exists.
  }
  return crypto.createHash('sha256').update(`${taskQueue}\0${real}`).digest('hex').slice(0, 16);
}

/** The real path of `target`, or of its nearest existing parent joined with the rest (it may not exist yet). */
function realPathOf(target: string): string {
  const absolute = path.resolve(target);
  try {
    return fs.realpathSync(absolute);
  } catch {
    const parent = path.dirname(absolute);
    return parent === absolute ? absolute : path.join(realPathOf(parent), path.basename(absolute));
  }
}

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * The secret-named values of the workspace's `.env` and `runner/.env` (what a step's scripts load),
 * for the step's redactor; a file that is a link, too large or unreadable is not read.
 */
export function workspaceSecrets(workspace: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const file of [path.join(workspace, '.env'), path.join(workspace, 'runner', '.env')]) {
    try {
      const stat = fs.lstatSync(file);
      if (!stat.isFile() || stat.size > 1024 * 1024) continue;
      Object.assign(values, parseEnv(fs.readFileSync(file, 'utf8')));
    } catch {
      // No such file: nothing to hide.
    }
  }
  return values;
}

export function createPrepareRun(defaults: { workspace: string; jobsDir: string; reposDir?: string }) {
  return async function prepareRun(args: PrepareRunArgs): Promise<RunPlan> {
    let workspace = path.resolve(args.workspace ?? defaults.workspace);
    let commit: string | null = null;
    if (args.repo) {
      const checkout = await checkoutRun({
        repo: args.repo,
        ref: args.ref,
        commit: args.commit,
        workflowId: args.workflowId,
        runFolder: jobFolderName(args.workflowId),
        reposDir: defaults.reposDir ?? path.join(defaults.jobsDir, '..', 'repos'),
        heartbeat: () => Context.current().heartbeat(),
      });
      workspace = checkout.workspace;
      commit = checkout.commit;
    }
    let config: WorkspaceConfig;
    try {
      config = loadWorkspaceConfig(workspace);
    } catch (err) {
      if (err instanceof WorkspaceMissingError && args.onFleet) {
        throw ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.workspaceMissing);
      }
      if (!(err instanceof WorkspaceError)) throw err;
      // A broken poc.config.json is quoted in the message: what it holds must not reach history.
      const redact = createRedactor({ ...process.env, ...workspaceSecrets(workspace) });
      throw ApplicationFailure.nonRetryable(redact(err.message), FAILURE_TYPES.invalidInput);
    }
    const steps = args.steps.map((name) => {
      const step = config.steps.get(name);
      if (!step) {
        throw ApplicationFailure.nonRetryable(
          `step "${name}" is not defined in workspace ${workspace} ` +
            `(it defines ${[...config.steps.keys()].join(', ')}); ` +
            `define it under "steps" in ${CONFIG_FILE}`,
          FAILURE_TYPES.invalidInput,
        );
      }
      if (
        step.kind === 'run' &&
        step.command === `runner/scripts/${name}.sh` &&
        !fs.existsSync(path.join(workspace, step.command))
      ) {
        throw ApplicationFailure.nonRetryable(
          `step "${name}" runs ${step.command}, which workspace ${workspace} does not have; ` +
            `add the script or define the step in ${CONFIG_FILE}`,
          FAILURE_TYPES.invalidInput,
        );
      }
      return step;
    });
    const folder = jobFolderName(args.workflowId);
    if (folder.length > MAX_ID_NAME_LENGTH) {
      throw ApplicationFailure.nonRetryable(
        `workflow id is too long for a run folder (${folder.length} characters as a file name, ` +
          `the limit is ${MAX_ID_NAME_LENGTH}); start the run with a shorter id`,
        FAILURE_TYPES.invalidInput,
      );
    }
    const jobsDir = realPathOf(defaults.jobsDir);
    const realWorkspace = realPathOf(workspace);
    if (isInside(jobsDir, realWorkspace)) {
      throw ApplicationFailure.nonRetryable(
        `the run folders (${defaults.jobsDir}, POC_JOBS_DIR) are inside workspace ${workspace}, where a step ` +
          'could rewrite its own logs; set POC_JOBS_DIR outside it (unset: the state folder)',
        FAILURE_TYPES.invalidInput,
      );
    }
    const jobDir = path.join(defaults.jobsDir, folder);
    fs.mkdirSync(path.join(jobDir, 'logs'), { recursive: true });
    fs.mkdirSync(path.join(jobDir, 'artifacts'), { recursive: true });
    const compose = fixComposeSetup({
      workspace,
      files: composeFilesOf(workspace, config.composeFiles),
      env: config.env,
      alsoWatch: [CONFIG_FILE],
      jobDir,
    });
    return {
      workspace,
      composeFiles: config.composeFiles,
      service: config.service,
      lockKey: lockKeyFor(workspace, Context.current().info.taskQueue),
      jobDir,
      steps,
      compose,
      ...(args.repo ? { commit } : {}),
    };
  };
}
