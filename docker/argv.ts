/**
 * The argument lists of a pipeline step's Compose call, built from values alone (no I/O), so
 * what reaches `docker compose` can be read and tested as data. Never a shell: the step's own
 * command is one argument of `bash -lc`, and it always comes from the workspace.
 */

export const LABEL_WORKFLOW = 'poc.workflow-id';
export const LABEL_STEP = 'poc.step';
export const LABEL_ATTEMPT = 'poc.attempt';
/** The build host whose step made the container (several hosts may share an engine). */
export const LABEL_HOST = 'poc.host';

/** What both kinds of step share: the Compose executable's leading words, the project's files and service. */
export interface ComposeTarget {
  /** `['compose']` for `docker compose`, `[]` for `docker-compose`. */
  prefix: string[];
  /** Compose files relative to the workspace (empty: Compose's own default lookup). */
  files: string[];
  service: string;
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

/** `docker compose [-f …] build <service>`. */
export function composeBuildArgv(target: ComposeTarget): string[] {
  return [...target.prefix, ...composeFileArgs(target.files), 'build', target.service];
}

/** `docker compose [-f …] run --rm -T --name … --label … -e … <service> bash -lc <command>`. */
export function composeRunArgv(spec: StepContainerSpec): string[] {
  return [
    ...spec.prefix,
    ...composeFileArgs(spec.files),
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
