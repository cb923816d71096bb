/**
 * Docker and Docker Compose, through execa with argument arrays (never a shell).
 *
 * Both Compose flavours are supported: the v2+ CLI plugin or standalone binary (`docker compose`,
 * versions 2.x and 5.x onwards) and the Python v1 (`docker-compose` 1.29). The flavour is told
 * by the major version, never by the string "2.".
 */
import { execa } from 'execa';
import type { ComposeChoice } from '../core/config.js';
import { idName } from '../core/validate.js';
import { LABEL_HOST, LABEL_NAMESPACE_ID, LABEL_STEP, LABEL_WORKFLOW } from './argv.js';

export * from './argv.js';
export * from './environment.js';

export interface Compose {
  flavour: 'v1' | 'v2';
  /** Executable and leading arguments: `docker compose` or `docker-compose`. */
  command: string;
  prefix: string[];
  version: string;
}

export class ComposeMissingError extends Error {}

const composePromises = new Map<ComposeChoice | 'any', Promise<Compose>>();

/** The Compose this machine has (cached once found); `forced` (the config's POC_COMPOSE) picks one. */
export function detectCompose(forced?: ComposeChoice): Promise<Compose> {
  const key = forced ?? 'any';
  let found = composePromises.get(key);
  if (!found) {
    found = probeCompose(forced).catch((err) => {
      composePromises.delete(key); // Installed later? Look again next time.
      throw err;
    });
    composePromises.set(key, found);
  }
  return found;
}

async function probeCompose(forced: ComposeChoice | undefined): Promise<Compose> {
  const candidates: [string, string[]][] =
    forced === 'docker-compose'
      ? [['docker-compose', []]]
      : forced === 'docker compose'
        ? [['docker', ['compose']]]
        : [
            ['docker', ['compose']],
            ['docker-compose', []],
          ];
  for (const [command, prefix] of candidates) {
    const result = await execa(command, [...prefix, 'version', '--short'], { reject: false, timeout: 20_000 });
    if (result.exitCode !== 0) continue;
    const version = String(result.stdout).trim().replace(/^v/, '');
    // Only the Python v1 prints 1.x; a plugin or a source build ("dev") is v2 or later.
    return { flavour: /^1\./.test(version) ? 'v1' : 'v2', command, prefix, version: version || 'unknown' };
  }
  if (forced)
    throw new ComposeMissingError(
      `POC_COMPOSE=${forced}, but \`${forced} version\` does not work here; install it or unset POC_COMPOSE`,
    );
  throw new ComposeMissingError(
    'neither `docker compose` nor `docker-compose` works here; ' +
      'install Docker Compose (the v2+ plugin or docker-compose 1.29)',
  );
}

/** Null when the engine answers; otherwise the reason it does not. */
export async function engineProblem(): Promise<string | null> {
  const result = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 20_000 });
  if (result.exitCode === 0 && String(result.stdout).trim()) return null;
  const why = String(result.stderr || result.stdout || result.message || '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .slice(-1)[0];
  return `Docker engine unreachable${why ? ` (${why.slice(0, 200)})` : ''}`;
}

export async function engineVersion(): Promise<string | null> {
  const result = await execa('docker', ['version', '--format', '{{.Server.Version}}'], {
    reject: false,
    timeout: 20_000,
  });
  return result.exitCode === 0 ? String(result.stdout).trim() : null;
}

export interface ContainerExit {
  exitCode: number;
  oomKilled: boolean;
}

/**
 * How a container ended, from the engine's events since `sinceSeconds` (they outlive a container
 * removed by `--rm`), else from the container itself; null when it never ran.
 */
export async function containerExit(name: string, sinceSeconds: number): Promise<ContainerExit | null> {
  const events = await execa(
    'docker',
    [
      'events',
      '--since',
      sinceSeconds.toFixed(3),
      '--until',
      (Date.now() / 1000 + 1).toFixed(3),
      '--filter',
      `container=${name}`,
      '--filter',
      'event=die',
      '--filter',
      'event=oom',
      '--format',
      '{{.Action}} {{index .Actor.Attributes "exitCode"}}',
    ],
    { reject: false, timeout: 30_000 },
  );
  const lines = events.exitCode === 0 ? String(events.stdout).trim().split('\n').filter(Boolean) : [];
  const died = lines.filter((l) => l.startsWith('die ')).pop();
  if (died) return { exitCode: Number(died.split(' ')[1]), oomKilled: lines.some((l) => l.startsWith('oom')) };
  const inspected = await execa(
    'docker',
    ['inspect', '--format', '{{.State.ExitCode}}|{{.State.Status}}|{{.State.OOMKilled}}', name],
    { reject: false, timeout: 30_000 },
  );
  if (inspected.exitCode !== 0) return null;
  const [code, status, oom] = String(inspected.stdout).trim().split('|');
  return status === 'created' ? null : { exitCode: Number(code), oomKilled: oom === 'true' };
}

/** `docker stop -t N` then `docker rm -f`: the container is gone when this resolves. */
export async function stopAndRemove(name: string, graceSeconds = 5): Promise<void> {
  await execa('docker', ['stop', '-t', String(graceSeconds), name], {
    reject: false,
    timeout: (graceSeconds + 30) * 1000,
  });
  await removeContainers([name]);
}

export async function removeContainers(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await execa('docker', ['rm', '-f', ...names], { reject: false, timeout: 60_000 });
}

export interface LabelledContainer {
  id: string;
  name: string;
  workflowId: string;
  step: string;
  state: string;
  /** The namespace id of the Temporal that ran it ('' for containers made before the label existed). */
  namespaceId: string;
  /** Its LABEL_HOST, empty when it has none (containers made before the fleet). */
  host: string;
}

/** Our containers (all, or one run's, or one step of one run). */
export async function listContainers(
  filter: { workflowId?: string; step?: string } = {},
): Promise<LabelledContainer[]> {
  const args = [
    'ps',
    '-a',
    '--no-trunc',
    '--filter',
    filter.workflowId ? `label=${LABEL_WORKFLOW}=${filter.workflowId}` : `label=${LABEL_WORKFLOW}`,
  ];
  if (filter.step) args.push('--filter', `label=${LABEL_STEP}=${filter.step}`);
  const label = (name: string) => `{{.Label "${name}"}}`;
  const columns = ['{{.ID}}', '{{.Names}}', label(LABEL_WORKFLOW), label(LABEL_STEP), '{{.State}}'];
  args.push('--format', [...columns, label(LABEL_NAMESPACE_ID), label(LABEL_HOST)].join('\t'));
  const result = await execa('docker', args, { reject: false, timeout: 30_000 });
  if (result.exitCode !== 0) throw new Error(`docker ps failed: ${String(result.stderr).trim().slice(0, 300)}`);
  return String(result.stdout)
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, name, workflowId, step, state, namespaceId = '', host = ''] = line.split('\t');
      return { id, name, workflowId, step, state, namespaceId, host };
    });
}

/**
 * A step container's fixed name, `poc-<id name>.<step>.<attempt>.<activity attempt>`: Docker allows
 * `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, workflow ids anything, so the id is written as its `idName` (one to
 * one), and step names and attempts hold no `.` — two steps of two runs never share a name.
 */
export function containerName(workflowId: string, step: string, attempt: number, activityAttempt: number): string {
  return `poc-${idName(workflowId)}.${step}.${attempt}.${activityAttempt}`;
}
