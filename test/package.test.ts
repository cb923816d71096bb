/**
 * The package as somebody else gets it: `npm pack` (its prepack builds dist/), the tarball
 * installed into an empty folder, then used as README says — examples/start-and-cancel.mjs on
 * plain node (no tsx, no TypeScript) and examples/typed-client.ts type-checked against the shipped
 * .d.ts. The pipeline runs on the real dev server and a worker in this process (from the sources)
 * whose `runStep` holds the step, so the run is RUNNING when the example reads and cancels it. No
 * Docker.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getPipelineStatus } from '../client/index.js';
import { packAndInstall, runIn } from './support/package.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import { startTestWorker, tempDir, testServer, type TestServer, type TestWorker } from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const dir = tempDir('package');
const consumer = path.join(dir, 'consumer');
const installed = path.join(consumer, 'node_modules', 'poc-orchestrator');
const steps = scriptedSteps();
let server: TestServer;
let worker: TestWorker;
let packedFiles: string[] = [];

beforeAll(async () => {
  const serving = (async () => {
    server = await testServer();
    worker = await startTestWorker({
      address: server.address,
      overrides: { runStep: steps.runStep },
      config: { workspace: scriptedWorkspace(path.join(dir, 'ws'), { lint: 'hold' }), jobsDir: path.join(dir, 'jobs') },
    });
  })();
  const packing = (async () => {
    const pkg = await packAndInstall(dir);
    packedFiles = pkg.packedFiles;
    for (const file of ['start-and-cancel.mjs', 'typed-client.ts', 'tsconfig.json'])
      fs.copyFileSync(path.join(root, 'examples', file), path.join(consumer, file));
  })();
  const settled = await Promise.allSettled([serving, packing]);
  for (const result of settled) if (result.status === 'rejected') throw result.reason;
}, 600_000);

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the packed tarball', () => {
  test('ships the built JavaScript with its .d.ts, the bin and the examples; no sources, tests or benches', () => {
    for (const file of [
      'package.json',
      'README.md',
      'cli/poc.js',
      'dist/client/index.js',
      'dist/client/index.d.ts',
      'dist/cli/main.js',
      'dist/worker/index.js',
      'dist/workflows/index.js',
      'examples/start-and-cancel.mjs',
      'examples/typed-client.ts',
    ])
      expect(packedFiles).toContain(file);
    const unwanted = packedFiles.filter(
      (f) =>
        (f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'examples/typed-client.ts') ||
        /^(test|bench|runner\/scripts|runner\/jobs)\//.test(f),
    );
    expect(unwanted).toEqual([]);
  });

  test('installs without tsx: nothing of the package needs it at run time', () => {
    expect(fs.existsSync(path.join(installed, 'dist', 'client', 'index.js'))).toBe(true);
    expect(fs.existsSync(path.join(consumer, 'node_modules', 'tsx'))).toBe(false);
  });

  test('examples/start-and-cancel.mjs on plain node starts a pipeline, reads it RUNNING and cancels it', async () => {
    const result = await runIn(process.execPath, ['start-and-cancel.mjs', 'from the packed tarball'], consumer, {
      TEMPORAL_ADDRESS: server.address,
      POC_TASK_QUEUE: worker.taskQueue,
    });
    expect({ exitCode: result.exitCode, output: result.all }).toEqual({ exitCode: 0, output: expect.any(String) });
    const workflowId = /^started (pipeline-[0-9a-z]+)$/m.exec(result.stdout)?.[1];
    expect(workflowId).toBeDefined();
    expect(result.stdout).toMatch(/^status RUNNING: lint (pending|running)$/m);
    expect(result.stdout).toMatch(/^ended CANCELLED: lint (pending|cancelled)$/m);

    // The same run, seen from this side: cancelled on the server, started by the example.
    const status = await getPipelineStatus(worker.client, workflowId!);
    expect(status.phase).toBe('CANCELLED');
    expect(status.goal).toBe('from the packed tarball');
    expect(status.requestedBy).toBe('start-and-cancel.mjs');
    const description = await worker.client.workflow.getHandle(workflowId!).describe();
    expect(description.status.name).toBe('CANCELLED');
    expect(description.taskQueue).toBe(worker.taskQueue);
  }, 120_000);

  test('examples/typed-client.ts type-checks against the shipped .d.ts', async () => {
    const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
    const result = await runIn(tsc, ['-p', 'tsconfig.json', '--listFiles'], consumer);
    expect({ exitCode: result.exitCode, output: result.all }).toEqual({ exitCode: 0, output: expect.any(String) });
    // The types came from the tarball's dist/, not from this repository's sources.
    expect(result.stdout).toContain(path.join(installed, 'dist', 'client', 'index.d.ts'));
    expect(result.stdout).not.toContain(path.join(root, 'client', 'index.ts'));
  }, 120_000);

  test('the installed poc bin answers version and help on plain node', async () => {
    const bin = path.join(installed, 'cli', 'poc.js');
    const shown = await runIn(process.execPath, [bin, 'version'], consumer);
    expect({ exitCode: shown.exitCode, stdout: shown.stdout.trim() }).toEqual({ exitCode: 0, stdout: version });
    const help = await runIn(path.join(consumer, 'node_modules', '.bin', 'poc'), ['help'], consumer);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^poc run /m);
  }, 60_000);

  test('the installed worker bundles the workflows from dist/ (webpack reads the .js files)', async () => {
    const script = [
      // Not an export of the package (only the client is): the worker's module by its path.
      "import { workflowBundle, workflowsPath } from './node_modules/poc-orchestrator/dist/worker/index.js';",
      'const bundle = await workflowBundle();',
      'console.log(JSON.stringify({ workflowsPath, size: bundle.code.length }));',
    ].join('\n');
    fs.writeFileSync(path.join(consumer, 'bundle.mjs'), script);
    const result = await runIn(process.execPath, ['bundle.mjs'], consumer);
    expect({ exitCode: result.exitCode, output: result.all }).toEqual({ exitCode: 0, output: expect.any(String) });
    const { workflowsPath, size } = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      workflowsPath: string;
      size: number;
    };
    expect(workflowsPath).toBe(path.join(installed, 'dist', 'workflows', 'index.js'));
    expect(size).toBeGreaterThan(10_000);
  }, 120_000);
});
