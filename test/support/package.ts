/**
 * The package as somebody else gets it: `npm pack` (its prepack builds dist/), the tarball
 * installed into an empty folder. Used by test/package.test.ts and by the benches that measure the
 * worker as it ships (`node_modules/.bin/poc worker` on plain node).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The environment of a child: no loader the test runner may have put in NODE_OPTIONS, and none of
 * the npm_* variables `npm test` sets (npm_config_local_prefix would point npm at this repository).
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || key === 'INIT_CWD' || (/^npm_/i.test(key) && key !== 'npm_config_cache')) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export async function runIn(file: string, args: string[], cwd: string, extra: Record<string, string> = {}) {
  return execa(file, args, { cwd, env: childEnv(extra), extendEnv: false, reject: false, all: true, timeout: 240_000 });
}

export interface InstalledPackage {
  /** The folder it is installed in (a package.json of its own, `node_modules/poc-orchestrator`). */
  consumer: string;
  installed: string;
  /** `node_modules/.bin/poc`, as npm links it. */
  bin: string;
  /** What `npm pack` put in the tarball. */
  packedFiles: string[];
}

/** Packs this repository and installs the tarball into `<dir>/consumer`. */
export async function packAndInstall(dir: string): Promise<InstalledPackage> {
  const out = path.join(dir, 'pack');
  fs.mkdirSync(out, { recursive: true });
  const pack = await runIn('npm', ['pack', '--pack-destination', out, '--json'], root);
  if (pack.exitCode !== 0) throw new Error(`npm pack failed:\n${pack.all}`);
  const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
  const consumer = path.join(dir, 'consumer');
  fs.mkdirSync(consumer);
  fs.writeFileSync(
    path.join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2),
  );
  const tarball = path.join(out, path.basename(info.filename));
  const install = await runIn('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], consumer);
  if (install.exitCode !== 0) throw new Error(`npm install of the tarball failed:\n${install.all}`);
  return {
    consumer,
    installed: path.join(consumer, 'node_modules', 'poc-orchestrator'),
    bin: path.join(consumer, 'node_modules', '.bin', 'poc'),
    packedFiles: info.files.map((f) => f.path),
  };
}
