/**
 * A lock file per folder: one `clusterUp` per cluster folder, one `go install` per cache folder.
 * The file holds the holder's pid; a lock whose holder died is taken over.
 */
import fs from 'node:fs';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding `lockFile`; waits (up to `maxWaitMs`) while another live process holds it. */
export async function withFileLock<T>(
  lockFile: string,
  maxWaitMs: number,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(fs.readFileSync(lockFile, 'utf8').trim());
    } catch {
      continue; // released between our two looks
    }
    if (!Number.isInteger(holder) || holder <= 0 || !pidAlive(holder)) {
      fs.rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${what}: another process (pid ${holder}) still holds ${lockFile}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}
