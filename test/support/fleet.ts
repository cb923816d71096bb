/**
 * Helpers for fleet tests: build hosts as in-process workers on one task queue (scripted steps),
 * and local git repositories served as `file://` bare repositories (no network).
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { HostSettings } from '../../core/config.js';
import type { PocActivities } from '../../worker/index.js';
import { startTestWorker, type TestWorker } from './temporal.js';

export interface TestHost extends TestWorker {
  name: string;
}

/** A build host named `name` on `taskQueue`, as `poc worker` with POC_HOST_* would be. */
export async function startTestHost({
  address,
  taskQueue,
  name,
  root,
  labels = [],
  slots = 1,
  timeoutSeconds = 5,
  overrides,
  env,
}: {
  address: string;
  taskQueue: string;
  name: string;
  /** The host's own folders (jobs, repos) go under it. */
  root: string;
  labels?: string[];
  slots?: number;
  timeoutSeconds?: number;
  overrides?: Partial<PocActivities>;
  /** Settings read from the environment (Slack, LLM) for this host's activities. */
  env?: NodeJS.ProcessEnv;
}): Promise<TestHost> {
  const host: HostSettings = { name, labels, slots, timeoutSeconds, reposDir: path.join(root, name, 'repos') };
  const worker = await startTestWorker({
    address,
    taskQueue,
    env,
    config: { host, jobsDir: path.join(root, name, 'jobs') },
    overrides,
  });
  return { ...worker, name };
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'poc test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'poc test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
};

export interface TestRepo {
  /** `file:///…/name.git`, a bare repository. */
  url: string;
  /** Commits `files` on `branch` (created from the current head when new); returns the commit SHA. */
  commit(files: Record<string, string>, branch?: string): Promise<string>;
}

/** A bare repository at `<dir>/<name>.git` with one commit of `files` on `main`. */
export async function gitRepo(dir: string, name: string, files: Record<string, string>): Promise<TestRepo> {
  const bare = path.join(dir, `${name}.git`);
  const work = path.join(dir, `${name}-work`);
  const git = (args: string[], cwd = work) => execa('git', args, { cwd, env: GIT_ENV });
  fs.mkdirSync(work, { recursive: true });
  await git(['init', '--quiet', '--initial-branch', 'main']);
  const commit = async (content: Record<string, string>, branch = 'main') => {
    const branches = String((await git(['branch', '--list', branch])).stdout).trim();
    const current = String((await git(['branch', '--show-current'])).stdout).trim();
    if (current !== branch) await git(['checkout', '--quiet', ...(branches ? [] : ['-b']), branch]);
    for (const [file, text] of Object.entries(content)) {
      fs.mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
      fs.writeFileSync(path.join(work, file), text);
    }
    await git(['add', '--all']);
    await git(['commit', '--quiet', '--allow-empty', '-m', `commit on ${branch}`]);
    if (fs.existsSync(bare)) await git(['push', '--quiet', '--force', bare, `${branch}:${branch}`]);
    return String((await git(['rev-parse', 'HEAD'])).stdout).trim();
  };
  await commit(files);
  await git(['clone', '--quiet', '--bare', work, bare], dir);
  return { url: `file://${bare}`, commit };
}

/** A Compose project whose steps are scripted commands (test/support/scripted-steps.ts), as repository files. */
export function scriptedFiles(steps: Record<string, string>): Record<string, string> {
  return {
    'docker-compose.yml': 'services:\n  runner:\n    image: scripted\n',
    'poc.config.json': JSON.stringify({ steps }, null, 2),
  };
}
