/** Shapes exchanged between workflows and activities (recorded in history: keep them small). */

export interface StepPlan {
  name: string;
  /** `build` runs `compose build <service>`; `run` runs the command in a one-off container. */
  kind: 'build' | 'run';
  /** For `run`: what `bash -lc` gets inside the container. For `build`: a description. */
  command: string;
  timeoutSeconds: number | null;
}

/**
 * How every step of a run calls Compose, fixed when the run starts: what a step writes into the
 * workspace (a compose file, a `.env`) changes nothing for the rest of its run.
 */
export interface ComposeSetup {
  /** Copies of the workspace's compose files, in the run's folder (outside what a step mounts). */
  files: string[];
  /** The workspace: relative paths in the files resolve from here. */
  projectDirectory: string;
  /** The run's copy of the workspace's `.env` (an empty file when it has none). */
  envFile: string;
  /** Compose project: the workspace's folder name and a digest of its full path. */
  project: string;
  /** Variables the workspace asks for by name (in its compose files, poc.config.json `env`). */
  variables: string[];
  /** The workspace files the setup was read from, with their digests (a step that changes one is told). */
  sources: { path: string; sha256: string | null }[];
}

export interface RunPlan {
  workspace: string;
  /** Compose files relative to the workspace (empty: compose's own default lookup). */
  composeFiles: string[];
  service: string;
  /** Stable key of the workspace: one lock, hence one pipeline at a time, per key. */
  lockKey: string;
  jobDir: string;
  steps: StepPlan[];
  /** Absent in plans recorded before it existed: their steps read the workspace as it is. */
  compose?: ComposeSetup;
  /** A run from git: the commit checked out (its workspace is a checkout of its own, shared with no run). */
  commit?: string | null;
}

export interface PrepareRunArgs {
  workflowId: string;
  workspace?: string;
  steps: string[];
  /** On a fleet, where the run can go to another host: a workspace path missing here is WorkspaceMissing. */
  onFleet?: boolean;
  /** A run from git (see activities/git.ts); `commit` pins what a moved run checked out first. */
  repo?: string;
  ref?: string;
  commit?: string;
}

export interface RunStepArgs {
  workflowId: string;
  workspace: string;
  composeFiles: string[];
  service: string;
  step: StepPlan;
  /** The workflow's attempt at this step (retries after a decision or an infrastructure error). */
  attempt: number;
  logPath: string;
  /** The run's folder: the step's new files in `<workspace>/runner/artifacts` are copied to its artifacts/. */
  jobDir: string;
  timeoutSeconds: number;
  /** The run's Compose setup (absent for runs whose plan was recorded before it existed). */
  compose?: ComposeSetup;
  /**
   * Set for runs that report to Slack: send the newest output line to the workflow (the
   * `stepOutput` signal) at most this often, when it changed. Without it the line is only in the
   * heartbeat details, which cost no history.
   */
  liveOutputSeconds?: number;
}

export interface StepResult {
  exitCode: number;
  durationMs: number;
  logTail: string;
  /** The build host that ran it (POC_HOST_NAME of its worker). */
  host?: string;
}

/** Details of a `StepFailed` / `StepTimeout` failure. */
export interface StepFailureDetails {
  exitCode: number | null;
  logTail: string;
  logPath: string;
  timedOut: boolean;
}

export { STEP_FAILURE_TYPES } from '../core/contract.js';

export interface LockRequestArgs {
  lockId: string;
  workspace: string;
  workflowId: string;
  startedAt?: string;
}
