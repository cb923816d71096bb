/**
 * Finding programs and building them from Go modules: the Temporal CLI (worker/devserver.ts) and
 * the cluster's server programs (cluster/binaries.ts) are built the same way, once, into a cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` in the folders of `searchPath` (PATH's format). */
export function onPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

export type GoInstallResult = { ok: true } | { ok: false; tail: string };

/**
 * `go install packages` into `gobin`, emptied first: the caller renames what was built to its
 * final name, so a build killed half-way never leaves a file that looks finished. Progress lines
 * every 15 s and every 25th module download, so nobody stares at a silent terminal for minutes.
 */
export async function goInstall(
  log: (line: string) => void,
  { label, packages, gobin, searchPath }: { label: string; packages: string[]; gobin: string; searchPath: string },
): Promise<GoInstallResult> {
  const go = onPath('go', searchPath);
  if (!go) return { ok: false, tail: 'Go is not installed (no `go` on PATH)' };
  fs.rmSync(gobin, { recursive: true, force: true });
  fs.mkdirSync(gobin, { recursive: true });
  log(`building ${label} with go install (takes a few minutes, once; cached in ${path.dirname(gobin)})`);
  const started = Date.now();
  const ticker = setInterval(
    () => log(`  … still building ${label} (${Math.round((Date.now() - started) / 1000)} s)`),
    15_000,
  );
  try {
    const child = execa(go, ['install', ...packages], {
      env: { GOBIN: gobin, CGO_ENABLED: '0' },
      all: true,
      reject: false,
      buffer: { all: true },
    });
    let downloads = 0;
    child.all?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.startsWith('go: downloading')) continue;
        downloads += 1;
        if (downloads % 25 === 1) log(`  go: downloading modules (${downloads} so far)`);
      }
    });
    const result = await child;
    if (result.exitCode === 0) {
      log(`built ${label} in ${Math.round((Date.now() - started) / 1000)} s`);
      return { ok: true };
    }
    const tail = String(result.all ?? result.message ?? '')
      .trim()
      .split('\n')
      .slice(-4)
      .join(' | ');
    return { ok: false, tail };
  } finally {
    clearInterval(ticker);
  }
}
