/**
 * The workflow bundle is built by a child process and kept on disk by the digest of its inputs:
 * the worker never holds webpack's memory, workers share one build, and a change to the workflow
 * code (or the shared core it imports) is a new bundle, never a stale one.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { bundleDigest, workflowsPath } from '../worker/bundle.js';
import { tempDir as makeTempDir } from './support/temporal.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const made: string[] = [];
const tempDir = (prefix: string) => {
  const dir = makeTempDir(prefix);
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** Loads the bundle in a fresh process (the module keeps one per process), as a worker does. */
async function loadInProcess(cacheDir: string) {
  const script = [
    "import { workflowBundle } from './worker/bundle.ts';",
    'const lines = [];',
    `const bundle = await workflowBundle(${JSON.stringify(cacheDir)}, (line) => lines.push(line));`,
    'console.log(JSON.stringify({ size: bundle.code.length, lines }));',
  ].join('\n');
  const result = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { size: number; lines: string[] };
}

describe('workflow bundle cache', () => {
  test('built once into <cache>/workflow-bundles/<digest>.js, then loaded as it is', async () => {
    const cacheDir = tempDir('bundle-cache');
    const file = path.join(cacheDir, 'workflow-bundles', `${bundleDigest()}.js`);
    const first = await loadInProcess(cacheDir);
    expect(first.lines).toEqual([]);
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toHaveLength(first.size);
    expect(first.size).toBeGreaterThan(100_000);
    const builtAt = fs.statSync(file).mtimeMs;
    const second = await loadInProcess(cacheDir);
    expect(second.size).toBe(first.size);
    expect(fs.statSync(file).mtimeMs).toBe(builtAt);
    expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
  }, 120_000);

  test('the digest follows the workflow code and the core it imports, not other folders', () => {
    const copy = tempDir('bundle-inputs');
    for (const folder of ['workflows', 'core', 'cli']) {
      fs.cpSync(path.join(root, folder), path.join(copy, folder), { recursive: true });
    }
    const entry = path.join(copy, 'workflows', path.basename(workflowsPath));
    const before = bundleDigest(entry);
    expect(bundleDigest(entry)).toBe(before);
    fs.appendFileSync(path.join(copy, 'cli', 'main.ts'), '\n// not bundled\n');
    expect(bundleDigest(entry)).toBe(before);
    fs.appendFileSync(path.join(copy, 'workflows', 'pipeline.ts'), '\n// a change\n');
    const afterWorkflow = bundleDigest(entry);
    expect(afterWorkflow).not.toBe(before);
    fs.appendFileSync(path.join(copy, 'core', 'contract.ts'), '\n// a change\n');
    expect(bundleDigest(entry)).not.toBe(afterWorkflow);
  });

  test('a cache folder that cannot be written: one line, and the bundle is built in the process', async () => {
    const blocked = path.join(tempDir('bundle-blocked'), 'not-a-folder');
    fs.writeFileSync(blocked, 'a file where the cache folder would be');
    const loaded = await loadInProcess(blocked);
    expect(loaded.size).toBeGreaterThan(100_000);
    expect(loaded.lines).toHaveLength(1);
    expect(loaded.lines[0]).toMatch(/^workflow bundle cache not used \(.+\); bundling in this process$/);
  }, 120_000);
});
