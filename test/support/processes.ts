/** Child processes for tests (with tsx, or any command): awaited on a line they print, always killed at the end. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface Child {
  process: ChildProcess;
  output: () => string;
  /** Resolves when the process printed a line matching `pattern` (rejects if it exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal`; SIGKILL after 15 s if it has not ended by then. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startTsx(script: string, env: NodeJS.ProcessEnv, args: string[] = []): Child {
  return startProcess(process.execPath, ['--import', 'tsx', path.join(root, script), ...args], env, { name: script });
}

/** `command` with `args`, from `cwd` (the repository by default), with `env` over this process's environment. */
export function startProcess(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  { cwd = root, name = path.basename(command) }: { cwd?: string; name?: string } = {},
): Child {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  // 'close' comes after the last output is read; a grandchild still holding the pipes must not
  // keep a test waiting, so 'exit' plus at most two seconds.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      void Promise.race([closed, new Promise((r) => setTimeout(r, 2_000))]).then(() => {
        for (const listener of listeners) listener();
        resolve();
      });
    }),
  );
  return {
    process: child,
    output: () => text,
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`timed out waiting for ${pattern} from ${name}; output:\n${text.slice(-2000)}`)),
          timeoutMs,
        );
        const check = () => {
          if (pattern.test(text)) done();
          else if (child.exitCode !== null || child.signalCode !== null)
            done(
              new Error(
                `${name} exited (${child.exitCode ?? child.signalCode}) before ${pattern}; ` +
                  `output:\n${text.slice(-2000)}`,
              ),
            );
        };
        const done = (err?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
