/**
 * Workspaces from git, on a build host: a bare clone per repository in `<reposDir>/cache/` (fetched
 * again for each run), and for each run a worktree of its own at the commit the ref names, in
 * `<reposDir>/runs/<run>/<repo>-<hash>/` (so Compose calls the project after the repository, and
 * its images and volumes are reused from run to run). The repository URL and the ref come from a
 * request: git runs through execa with argument arrays, `--` before them, only the transports
 * validateRepo allows (GIT_ALLOW_PROTOCOL) and never a prompt for credentials.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ApplicationFailure } from '@temporalio/activity';
import { FAILURE_TYPES } from '../core/contract.js';
import { redact } from '../core/redact.js';

/** Beside a run's checkout: which run it belongs to (the host's sweep reads it). */
export const RUN_MARKER = '.poc-run';
const GIT_TIMEOUT_MS = 10 * 60_000;
const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_ALLOW_PROTOCOL: 'https:http:ssh:git:file',
  GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
};
/** git's own words for a repository or ref that is not there or not ours to read: no retry helps. */
const PERMANENT = new RegExp(
  [
    'not found',
    'does not appear to be a git repository',
    'does not exist',
    'Authentication failed',
    'could not read Username',
    'Permission denied',
    'not a valid',
  ].join('|'),
  'i',
);

export interface CheckoutArgs {
  repo: string;
  ref?: string;
  /** Check out exactly this commit (a run that moved keeps the commit it started with). */
  commit?: string;
  workflowId: string;
  /** Folder name of the run (jobFolderName of its workflow id). */
  runFolder: string;
  reposDir: string;
  /** Called every few seconds while git works (activity heartbeats). */
  heartbeat?: () => void;
}

export interface Checkout {
  workspace: string;
  commit: string;
}

export function cachePath(reposDir: string, repo: string): string {
  return path.join(reposDir, 'cache', `${crypto.createHash('sha256').update(repo).digest('hex').slice(0, 16)}.git`);
}

/** `<name>-<hash>`: a Compose project name that is the repository's, and unique per URL. */
export function checkoutName(repo: string): string {
  const base =
    repo
      .replace(/\/+$/, '')
      .replace(/\.git$/, '')
      .split(/[/:]/)
      .pop()
      ?.toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 40) || 'repo';
  return `${base}-${crypto.createHash('sha256').update(repo).digest('hex').slice(0, 8)}`;
}

async function git(args: string[], heartbeat: (() => void) | undefined, cwd?: string): Promise<string> {
  const beat = heartbeat ? setInterval(heartbeat, 5_000) : undefined;
  try {
    const result = await execa('git', args, {
      cwd,
      reject: false,
      timeout: GIT_TIMEOUT_MS,
      stdin: 'ignore',
      env: GIT_ENV,
    });
    if (result.exitCode !== 0) {
      const why =
        String(result.stderr || result.stdout || result.message)
          .trim()
          .split('\n')
          .filter(Boolean)
          .pop() ?? `exit code ${result.exitCode}`;
      throw new GitError(redact(why).slice(0, 300));
    }
    return String(result.stdout).trim();
  } finally {
    if (beat) clearInterval(beat);
  }
}

export class GitError extends Error {}

/** One fetch or clone at a time per cache folder in this process (one worker per host). */
const cacheLocks = new Map<string, Promise<unknown>>();
function withCacheLock<T>(cache: string, fn: () => Promise<T>): Promise<T> {
  const previous = cacheLocks.get(cache) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  const settled = next.catch(() => undefined);
  cacheLocks.set(cache, settled);
  void settled.then(() => {
    if (cacheLocks.get(cache) === settled) cacheLocks.delete(cache);
  });
  return next;
}

async function hasCommit(cache: string, commit: string): Promise<boolean> {
  const result = await execa('git', ['-C', cache, 'cat-file', '-e', '--end-of-options', `${commit}^{commit}`], {
    reject: false,
    env: GIT_ENV,
  });
  return result.exitCode === 0;
}

/** The cache is there and current (cloned, or fetched unless the commit wanted is already in it). */
async function refreshCache(args: CheckoutArgs, cache: string): Promise<void> {
  if (!fs.existsSync(path.join(cache, 'HEAD'))) {
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    const partial = `${cache}.partial-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    try {
      await git(['clone', '--bare', '--quiet', '--', args.repo, partial], args.heartbeat);
      fs.renameSync(partial, cache);
    } finally {
      fs.rmSync(partial, { recursive: true, force: true });
    }
    return;
  }
  if (args.commit && (await hasCommit(cache, args.commit))) return;
  await git(
    [
      '-C',
      cache,
      'fetch',
      '--quiet',
      '--prune',
      '--force',
      '--',
      args.repo,
      '+refs/heads/*:refs/heads/*',
      '+refs/tags/*:refs/tags/*',
    ],
    args.heartbeat,
  );
}

/**
 * Clones or fetches `repo` into the host's cache and checks `commit` (else `ref`, else the default
 * branch) out into a worktree of the run's own. A repository or ref that cannot be had fails
 * with InvalidInput naming it; anything else (a network hiccup) is an ordinary error, retried.
 */
export async function checkoutRun(args: CheckoutArgs): Promise<Checkout> {
  const cache = cachePath(args.reposDir, args.repo);
  const wanted = args.commit ?? args.ref ?? 'HEAD';
  try {
    return await withCacheLock(cache, async () => {
      await refreshCache(args, cache);
      const commit = await git(
        ['-C', cache, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${wanted}^{commit}`],
        undefined,
      ).catch(() => {
        throw ApplicationFailure.nonRetryable(
          `ref ${JSON.stringify(wanted)} is not a branch, tag or commit of ${args.repo}`,
          FAILURE_TYPES.invalidInput,
        );
      });
      const runDir = path.join(args.reposDir, 'runs', args.runFolder);
      const workspace = path.join(runDir, checkoutName(args.repo));
      if (fs.existsSync(runDir)) {
        // An earlier attempt's checkout: gone, and forgotten by the cache (the sweep prunes the others).
        fs.rmSync(runDir, { recursive: true, force: true });
        await git(['-C', cache, 'worktree', 'prune'], undefined);
      }
      fs.mkdirSync(runDir, { recursive: true });
      fs.writeFileSync(path.join(runDir, RUN_MARKER), `${args.workflowId}\n`);
      await git(
        ['-C', cache, 'worktree', 'add', '--detach', '--force', '--quiet', '--', workspace, commit],
        args.heartbeat,
      );
      return { workspace, commit };
    });
  } catch (err) {
    if (err instanceof GitError && PERMANENT.test(err.message)) {
      throw ApplicationFailure.nonRetryable(
        `cannot check out ${args.repo}${args.ref ? ` at ${args.ref}` : ''}: ${err.message}`,
        FAILURE_TYPES.invalidInput,
      );
    }
    if (err instanceof GitError) throw new Error(`git failed for ${args.repo}: ${err.message}`);
    throw err;
  }
}

/** Removes a run's checkout folder (the host's sweep, once the run is no longer its own). */
export async function removeCheckout(reposDir: string, runFolder: string): Promise<void> {
  fs.rmSync(path.join(reposDir, 'runs', runFolder), { recursive: true, force: true });
  const caches = path.join(reposDir, 'cache');
  if (!fs.existsSync(caches)) return;
  for (const name of fs.readdirSync(caches)) {
    if (!name.endsWith('.git')) continue;
    await execa('git', ['-C', path.join(caches, name), 'worktree', 'prune'], { reject: false, env: GIT_ENV });
  }
}

/** The checkouts on this host: run folder → the workflow id it belongs to. */
export function listCheckouts(reposDir: string): { runFolder: string; workflowId: string }[] {
  const runs = path.join(reposDir, 'runs');
  if (!fs.existsSync(runs)) return [];
  return fs.readdirSync(runs).flatMap((runFolder) => {
    try {
      const workflowId = fs.readFileSync(path.join(runs, runFolder, RUN_MARKER), 'utf8').trim();
      return workflowId ? [{ runFolder, workflowId }] : [];
    } catch {
      return [];
    }
  });
}
