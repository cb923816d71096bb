/**
 * A workspace is a Docker Compose project folder with a `runner` service. What each step runs
 * comes from the workspace — its `poc.config.json`, else the defaults below — and never from the
 * text of a request.
 *
 * poc.config.json (every field optional):
 *   { "service": "runner", "composeFiles": ["docker-compose.yml"],
 *     "steps": { "lint": { "run": "npm run lint", "timeoutSeconds": 300 }, "e2e": "npm run e2e",
 *                "build": { "build": true } } }
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { DEFAULT_STEPS, FAILURE_TYPES } from '../core/contract.js';
import { STEP_NAME } from '../core/validate.js';
import { checkoutRun } from './git.js';
import type { PrepareRunArgs, RunPlan, StepPlan } from './types.js';

export const CONFIG_FILE = 'poc.config.json';
const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

export interface WorkspaceConfig {
  service: string;
  composeFiles: string[];
  steps: Map<string, StepPlan>;
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
      if (!['service', 'composeFiles', 'steps', '$schema'].includes(key)) {
        throw new WorkspaceError(`${where}: unknown field "${key}"; the fields are service, composeFiles, steps`);
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
  return { service, composeFiles: composeFiles.length > 0 ? composeFiles : [], steps };
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

/** Folder name for a workflow id (ids may hold any character). */
export function jobFolderName(workflowId: string): string {
  const safe = workflowId.replace(/[^a-zA-Z0-9_.-]/g, '_');
  return /^\.*$/.test(safe) ? `_${safe}` : safe;
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
      if (err instanceof WorkspaceError) throw ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.invalidInput);
      throw err;
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
    const jobDir = path.join(defaults.jobsDir, jobFolderName(args.workflowId));
    fs.mkdirSync(path.join(jobDir, 'logs'), { recursive: true });
    fs.mkdirSync(path.join(jobDir, 'artifacts'), { recursive: true });
    return {
      workspace,
      composeFiles: config.composeFiles,
      service: config.service,
      lockKey: lockKeyFor(workspace, Context.current().info.taskQueue),
      jobDir,
      steps,
      ...(args.repo ? { commit } : {}),
    };
  };
}
