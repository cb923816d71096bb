/**
 * The argument lists of a pipeline step's Compose call, built from values alone (no I/O), so
 * what reaches `docker compose` can be read and tested as data. Never a shell: the step's own
 * command is one argument of `bash -lc`, and it always comes from the workspace.
 */

export const LABEL_WORKFLOW = 'poc.workflow-id';
export const LABEL_STEP = 'poc.step';
export const LABEL_ATTEMPT = 'poc.attempt';
/** Whose container it is: the sweep removes a container only when its own server and namespace say the run closed. */
export const LABEL_SERVER = 'poc.server';
export const LABEL_NAMESPACE = 'poc.namespace';
export const LABEL_NAMESPACE_ID = 'poc.namespace-id';
export const LABEL_TASK_QUEUE = 'poc.task-queue';

/** The Temporal a step container belongs to (the namespace id tells two servers at one address apart). */
export interface ContainerOwner {
  server: string;
  namespace: string;
  namespaceId: string;
  taskQueue: string;
}

export function ownerLabels(owner: ContainerOwner): [string, string][] {
  return [
    [LABEL_SERVER, owner.server],
    [LABEL_NAMESPACE, owner.namespace],
    [LABEL_NAMESPACE_ID, owner.namespaceId],
    [LABEL_TASK_QUEUE, owner.taskQueue],
  ];
}

/** The build host whose step made the container (several hosts may share an engine). */
export const LABEL_HOST = 'poc.host';

/** What both kinds of step share: the Compose executable's leading words, the project's files and service. */
export interface ComposeTarget {
  /** `['compose']` for `docker compose`, `[]` for `docker-compose`. */
  prefix: string[];
  /** Compose files (relative to the workspace, or the run's copies; empty: Compose's own default lookup). */
  files: string[];
  service: string;
  /** `-p`: the Compose project (absent: Compose's default, the folder's name). */
  project?: string;
  /** `--project-directory`: where relative paths in the files resolve (the workspace, for copies elsewhere). */
  projectDirectory?: string;
  /** `--env-file`: the variables file Compose interpolates with, instead of `<project directory>/.env`. */
  envFile?: string;
}

export interface StepContainerSpec extends ComposeTarget {
  /** The container's fixed name (the activity stops and removes it by this name). */
  name: string;
  /** Labels, in order (`poc.workflow-id`, `poc.step`, …). */
  labels: [string, string][];
  /** Variables set in the container itself (`-e NAME=value`), in order. */
  env: [string, string][];
  /** What `bash -lc` runs inside the container. */
  command: string;
}

export function composeFileArgs(files: string[]): string[] {
  return files.flatMap((file) => ['-f', file]);
}

/** The project options both flavours take before the command: `-p`, `--project-directory`, `--env-file`, `-f`…. */
export function composeProjectArgs(target: ComposeTarget): string[] {
  return [
    ...(target.project ? ['-p', target.project] : []),
    ...(target.projectDirectory ? ['--project-directory', target.projectDirectory] : []),
    ...(target.envFile ? ['--env-file', target.envFile] : []),
    ...composeFileArgs(target.files),
  ];
}

/**
 * `docker compose [-p …] [-f …] build <service>`. The v1 client (`docker-compose`, the classic
 * builder) keeps the intermediate containers of a failed build unless told `--force-rm`; v2 builds
 * with BuildKit, which leaves none and has no such option.
 */
export function composeBuildArgv(target: ComposeTarget): string[] {
  const v1 = target.prefix.length === 0;
  return [...target.prefix, ...composeProjectArgs(target), 'build', ...(v1 ? ['--force-rm'] : []), target.service];
}

/** `docker compose [-p …] [-f …] run --rm -T --name … --label … -e … <service> bash -lc <command>`. */
export function composeRunArgv(spec: StepContainerSpec): string[] {
  return [
    ...spec.prefix,
    ...composeProjectArgs(spec),
    'run',
    '--rm',
    '-T',
    '--name',
    spec.name,
    ...spec.labels.flatMap(([key, value]) => ['--label', `${key}=${value}`]),
    ...spec.env.flatMap(([key, value]) => ['-e', `${key}=${value}`]),
    spec.service,
    'bash',
    '-lc',
    spec.command,
  ];
}
