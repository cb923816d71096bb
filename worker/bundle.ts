/**
 * The workflow bundle. webpack takes seconds and, in the process that runs it, leaves about
 * 130 MiB of memory behind — so a worker does not bundle in its own process: a child process
 * bundles once and keeps the result on disk under a digest of everything that goes into it (the
 * workflow code, the shared core it may import, the Temporal packages' versions). Every worker and
 * test on the machine then loads the same file, and a change to any of those inputs is a new file,
 * never a stale bundle. When the child cannot run, the worker bundles in its own process as before.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { DefaultLogger, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** `workflows/index.ts` in a clone (run through tsx), `dist/workflows/index.js` when built; webpack bundles either. */
const workflowsSource = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
export const workflowsPath = fs.existsSync(workflowsSource)
  ? workflowsSource
  : fileURLToPath(new URL('../workflows/index.js', import.meta.url));

/** The script the child runs: `bundle-child.ts` in a clone, its built `.js` when installed. */
const childScript = (() => {
  const source = fileURLToPath(new URL('./bundle-child.ts', import.meta.url));
  return fs.existsSync(source) ? source : fileURLToPath(new URL('./bundle-child.js', import.meta.url));
})();

const PACKAGES = ['@temporalio/workflow', '@temporalio/common', '@temporalio/worker'];

/**
 * What the bundle is made of, as one digest: every source file of the workflows folder and of
 * `core/` (the only other code the workflows may import: the determinism fence), the bundling
 * script with its options, and the versions
 * of the Temporal packages that the bundle embeds or that build it.
 */
export function bundleDigest(entry: string = workflowsPath): string {
  const hash = crypto.createHash('sha256');
  const root = path.dirname(path.dirname(entry));
  for (const folder of [path.dirname(entry), path.join(root, 'core')]) {
    const files = fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => /\.(ts|js|mjs)$/.test(f)) : [];
    for (const file of files.filter((f) => !f.endsWith('.d.ts')).sort()) {
      hash.update(`${path.relative(root, path.join(folder, file))}\0`);
      hash.update(fs.readFileSync(path.join(folder, file)));
      hash.update('\0');
    }
  }
  // How it is bundled (the options in bundle-child) is an input too.
  hash.update(fs.readFileSync(childScript));
  const require = createRequire(import.meta.url);
  for (const name of PACKAGES) {
    const manifest = JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
      version: string;
    };
    hash.update(`${name}@${manifest.version}\0`);
  }
  return hash.digest('hex').slice(0, 32);
}

/** Bundles `entry` into `file` in a child process (written whole, then renamed into place). */
async function bundleInChild(entry: string, file: string): Promise<void> {
  const args = childScript.endsWith('.ts') ? ['--import', 'tsx', childScript, entry, file] : [childScript, entry, file];
  // From the package's folder, so `--import tsx` resolves to its own tsx.
  await execa(process.execPath, args, { cwd: path.dirname(path.dirname(childScript)), timeout: 300_000 });
}

async function loadOrBuild(cacheDir: string | undefined, log: (msg: string) => void) {
  if (cacheDir) {
    const file = path.join(cacheDir, 'workflow-bundles', `${bundleDigest()}.js`);
    try {
      if (!fs.existsSync(file)) await bundleInChild(workflowsPath, file);
      const code = fs.readFileSync(file, 'utf8');
      return { code, sourceMap: '' };
    } catch (err) {
      log(`workflow bundle cache not used (${(err as Error).message.split('\n')[0]}); bundling in this process`);
    }
  }
  return bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
}

let bundlePromise: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * The workflow bundle, loaded once per process: from `<cacheDir>/workflow-bundles/<digest>.js`,
 * bundled there first by a child process when missing; without a cache folder, bundled here.
 */
export function workflowBundle(
  cacheDir?: string,
  log: (msg: string) => void = () => undefined,
): Promise<WorkflowBundleWithSourceMap> {
  bundlePromise ??= loadOrBuild(cacheDir, log).catch((err: unknown) => {
    bundlePromise = undefined;
    throw err;
  });
  return bundlePromise;
}
