/**
 * The runner image for real, with no registry and no network: Dockerfile.poc is built by the
 * pipeline's own `build` step on the locally imported Node base (test/support/images.ts), then
 * `doctor` and `lint` of THIS repository run in it through the real pipeline workflow — real dev
 * server, real worker, no activity replaced.
 *
 * Offline and isolated from your own setup: a Compose override (through COMPOSE_FILE, which Compose
 * reads when no -f is given) takes the runner and its build off the network; POC_NODE_MODULES
 * binds the host's node_modules in place of the dependency volume (nothing to install);
 * COMPOSE_PROJECT_NAME and POC_RUNNER_IMAGE are unique to this run, and everything they create is
 * removed at the end.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { WorkflowFailedError } from '@temporalio/client';
import { getPipelineStatus, startPipeline } from '../client/index.js';
import { repoRoot } from '../core/config.js';
import { detectCompose, listContainers } from '../docker/index.js';
import { ensureNodeBaseImage, imageExists } from './support/images.js';
import { startTestWorker, tempDir, testServer, type TestServer, type TestWorker } from './support/temporal.js';

const suffix = crypto.randomUUID().slice(0, 8);
const project = `poc-e2e-runner-${suffix}`;
const image = `poc-e2e-runner-${suffix}:latest`;
const root = tempDir('runner-e2e');
const jobsDir = path.join(root, 'jobs');
const volumes: string[] = [];
const containers: string[] = [];
const repoSummary = path.join(repoRoot, 'runner', 'artifacts', 'doctor-summary.json');
const repoSummaryExisted = fs.existsSync(repoSummary);
const composeEnvNames = ['COMPOSE_PROJECT_NAME', 'COMPOSE_FILE', 'POC_RUNNER_IMAGE', 'POC_NODE_MODULES'] as const;
const savedEnv = Object.fromEntries(composeEnvNames.map((name) => [name, process.env[name]]));

let unavailable: string | undefined;
let server: TestServer | undefined;
let worker: TestWorker | undefined;

/** Docker is part of the e2e layer: without it these tests fail, saying why. */
function requireDocker(): void {
  if (unavailable) throw new Error(`the runner e2e tests need a Docker engine: ${unavailable}`);
}

/** Giving a fixture folder to another uid needs root; known before any test runs. */
const testAsRoot = process.getuid?.() === 0 ? test : test.skip;

async function docker(args: string[], timeoutMs = 120_000) {
  return execa('docker', args, { reject: false, all: true, timeout: timeoutMs });
}

/** `docker run` of the built runner image, the container named so `after` can remove it whatever happens. */
async function runInImage(mounts: string[], script: string, env: Record<string, string> = {}) {
  const name = `poc-e2e-runner-${suffix}-${containers.length + 1}`;
  containers.push(name);
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return docker([
    'run',
    '--rm',
    '--name',
    name,
    '--network',
    'none',
    ...mounts.flatMap((m) => ['-v', m]),
    ...envArgs,
    image,
    'bash',
    '-lc',
    script,
  ]);
}

async function ensureRunnerImage(): Promise<void> {
  if (await imageExists(image)) return;
  const compose = await detectCompose();
  const result = await execa(compose.command, [...compose.prefix, 'build', 'runner'], {
    cwd: repoRoot,
    reject: false,
    all: true,
  });
  assert.equal(result.exitCode, 0, result.all);
}

/** A folder owned by `uid`, holding the runner's entrypoint (and `files`), to mount at /workspace. */
function ownedWorkspace(name: string, uid: number, files: Record<string, string> = {}): string {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'runner', 'scripts'), { recursive: true });
  for (const script of ['entrypoint.sh', 'bootstrap.sh']) {
    fs.copyFileSync(path.join(repoRoot, 'runner', 'scripts', script), path.join(dir, 'runner', 'scripts', script));
  }
  for (const [rel, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, rel), content);
  for (const entry of [
    dir,
    ...(fs.readdirSync(dir, { recursive: true }) as string[]).map((rel) => path.join(dir, rel)),
  ])
    fs.chownSync(entry, uid, uid);
  return dir;
}

async function createVolume(): Promise<string> {
  const name = `poc-e2e-runner-${suffix}-vol${volumes.length + 1}`;
  volumes.push(name);
  const result = await docker(['volume', 'create', '--label', 'poc.test=runner-e2e', name]);
  assert.equal(result.exitCode, 0, result.all);
  return name;
}

beforeAll(async () => {
  if ((await docker(['info', '--format', '{{.ServerVersion}}'], 20_000)).exitCode !== 0) {
    unavailable = 'no Docker engine answers here';
    return;
  }
  try {
    await detectCompose();
  } catch (err) {
    unavailable = (err as Error).message;
    return;
  }
  await ensureNodeBaseImage();

  const override = path.join(root, 'offline.override.yml');
  fs.writeFileSync(
    override,
    [
      'services:',
      '  runner:',
      '    network_mode: none',
      // Declared offline, as the runner_offline service is: the doctor then does not require HTTPS.
      '    environment:',
      '      - POC_OFFLINE=1',
      '    build:',
      '      network: none',
      '',
    ].join('\n'),
  );
  // runStep runs Compose with this process's environment and no -f (the repository has no
  // poc.config.json), so these reach every step of the run.
  process.env.COMPOSE_PROJECT_NAME = project;
  process.env.COMPOSE_FILE = ['docker-compose.yml', override].join(path.delimiter);
  process.env.POC_RUNNER_IMAGE = image;
  process.env.POC_NODE_MODULES = path.join(repoRoot, 'node_modules');

  server = await testServer();
  worker = await startTestWorker({ address: server.address, config: { jobsDir, workspace: repoRoot } });
}, 10 * 60_000);

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  if (!unavailable) {
    if (containers.length) await docker(['rm', '-f', ...containers]);
    const compose = await detectCompose();
    // The project's containers, network and declared volumes (Compose creates those on first use).
    await execa(compose.command, [...compose.prefix, 'down', '--volumes', '--remove-orphans'], {
      cwd: repoRoot,
      reject: false,
    });
    if (volumes.length) await docker(['volume', 'rm', '-f', ...volumes]);
    await docker(['image', 'rm', '-f', image]);
  }
  for (const name of composeEnvNames) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  if (!repoSummaryExisted) fs.rmSync(repoSummary, { force: true });
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the runner image, offline', () => {
  test(
    'build, doctor and lint of this repository pass through the real pipeline',
    async () => {
      requireDocker();
      const client = (worker as TestWorker).client;
      const { workflowId } = await startPipeline(
        client,
        { goal: 'runner e2e', steps: ['build', 'doctor', 'lint'], workspace: repoRoot, requestedBy: 'runner-e2e' },
        { taskQueue: (worker as TestWorker).taskQueue },
      );
      const handle = client.workflow.getHandle(workflowId);
      const logs = (step: string) => {
        const file = path.join(jobsDir, workflowId, 'logs', `${step}.log`);
        return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      };
      // A run stuck anywhere fails here with where it is stuck, well before the file's own timeout.
      let deadline: NodeJS.Timeout | undefined;
      const stuck = new Promise<'stuck'>((resolve) => (deadline = setTimeout(() => resolve('stuck'), 12 * 60_000)));
      const failure = await Promise.race([
        handle.result().then(
          () => undefined,
          (err: unknown) => err,
        ),
        stuck,
      ]).finally(() => clearTimeout(deadline));
      if (failure === 'stuck') {
        const now = await getPipelineStatus(client, workflowId);
        await handle.cancel().catch(() => undefined);
        const running = now.steps.find((s) => s.status === 'running')?.name;
        const steps = now.steps.map((s) => `${s.name}=${s.status}`).join(' ');
        assert.fail(
          `the run is still ${now.phase} after 12 min (error: ${now.error ?? 'none'}); steps: ${steps}` +
            (running ? `\n--- ${running}.log ---\n${logs(running).slice(-6_000)}` : ''),
        );
      }
      const status = await getPipelineStatus(client, workflowId);
      // Step by step, so a failure points at the step that broke, with the end of its log.
      const stepDone = (name: string) => {
        const step = status.steps.find((s) => s.name === name);
        if (step?.status === 'done' && step.exitCode === 0) return;
        const why = failure instanceof WorkflowFailedError ? failure.cause?.message : String(failure ?? '');
        assert.fail(
          `step ${name} is ${step?.status} (exit code ${step?.exitCode}); the run: ${why}` +
            `\n--- ${name}.log ---\n${logs(name).slice(-6_000)}`,
        );
      };

      // Built offline on the local base: nothing was missing, so apt never ran.
      stepDone('build');
      assert.ok(await imageExists(image), `${image} was not built`);
      assert.match(logs('build'), /bash, git, curl, ca-certificates and setpriv are present: nothing to install/);

      stepDone('doctor');
      const doctorLog = logs('doctor');
      assert.match(doctorLog, /doctor: checking \/workspace on the container/);
      assert.match(doctorLog, /\[7\/7\]/);
      assert.match(doctorLog, /\[5\/7\] WARN outbound HTTPS — not checked: POC_OFFLINE=1 declares this run offline/);
      const artifact = path.join(jobsDir, workflowId, 'artifacts', 'doctor-summary.json');
      assert.ok(fs.existsSync(artifact), 'the doctor summary is copied to the run folder');
      const summary = JSON.parse(fs.readFileSync(artifact, 'utf8')) as {
        ok: boolean;
        where: string;
        root: string;
        counts: { fail: number };
        checks: { name: string; status: string; detail: string }[];
      };
      assert.equal(summary.where, 'container');
      assert.equal(summary.root, '/workspace');
      assert.equal(summary.ok, true);
      assert.equal(summary.counts.fail, 0);
      assert.deepEqual(
        summary.checks.map((c) => c.status).slice(0, 3),
        ['PASS', 'PASS', 'PASS'],
        JSON.stringify(summary.checks.slice(0, 3)),
      );
      // No network in the container: the optional checks can only WARN, and say where they looked.
      assert.equal(summary.checks[3].status, 'WARN');
      assert.match(summary.checks[3].detail, /host\.docker\.internal:11434/);
      assert.equal(summary.checks[4].status, 'WARN');

      stepDone('lint');
      assert.match(logs('lint'), /lint: npm run lint passed/);
      assert.match(logs('lint'), /lint: eslint and tsc passed/);
      assert.equal(failure, undefined);
      assert.equal(status.phase, 'DONE');
      assert.deepEqual(await listContainers({ workflowId }), [], 'no step container is left');
    },
    15 * 60_000,
  );

  testAsRoot(
    'steps run as the owner of the mounted repository, with runner/.env loaded',
    async () => {
      requireDocker();
      await ensureRunnerImage();
      const uid = 4321;
      const ws = ownedWorkspace('owned', uid, { 'runner/.env': 'FROM_DOTENV=yes\nSET_BY_CALLER=from-file\n' });
      const volume = await createVolume();
      const script =
        'id -u; id -g; echo "$HOME"; echo "$FROM_DOTENV"; echo "$SET_BY_CALLER"; echo "$OLLAMA_HOST"; ' +
        'stat -c %u node_modules; touch runner/made-by-step';
      const result = await runInImage([`${ws}:/workspace`, `${volume}:/workspace/node_modules`], script, {
        SET_BY_CALLER: 'from-caller',
      });
      assert.equal(result.exitCode, 0, result.all);
      const lines = result.stdout.trim().split('\n');
      assert.deepEqual(lines, [
        String(uid),
        String(uid),
        '/home/node',
        'yes',
        'from-caller',
        'http://host.docker.internal:11434',
        String(uid),
      ]);
      assert.match(result.stderr, /giving the dependency volume to uid 4321/);
      assert.equal(
        fs.statSync(path.join(ws, 'runner', 'made-by-step')).uid,
        uid,
        'files written by a step belong to the owner',
      );

      // A node_modules bound from the host is the host's: never re-owned.
      const hostModules = path.join(root, 'host-node_modules');
      fs.mkdirSync(hostModules);
      const bound = await runInImage(
        [`${ws}:/workspace`, `${hostModules}:/workspace/node_modules`],
        'id -u; stat -c %u node_modules',
      );
      assert.equal(bound.exitCode, 0, bound.all);
      assert.deepEqual(bound.stdout.trim().split('\n'), [String(uid), '0']);
      assert.equal(fs.statSync(hostModules).uid, 0);
    },
    5 * 60_000,
  );

  testAsRoot(
    'dependencies live in the volume: a new container does not reinstall them',
    async () => {
      requireDocker();
      await ensureRunnerImage();
      const lock = {
        name: 'fx',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'fx', version: '1.0.0' } },
      };
      const ws = ownedWorkspace('deps', 1000, {
        'package.json': JSON.stringify({ name: 'fx', version: '1.0.0', private: true }),
        'package-lock.json': JSON.stringify(lock),
      });
      const volume = await createVolume();
      const mounts = [`${ws}:/workspace`, `${volume}:/workspace/node_modules`];
      // No dependencies and --offline: npm ci has nothing to fetch, and never tries.
      const first = await runInImage(mounts, 'runner/scripts/bootstrap.sh', { POC_NPM_CI_ARGS: '--offline' });
      assert.equal(first.exitCode, 0, first.all);
      assert.match(first.stdout, /bootstrap: first install into node_modules/);
      assert.match(first.stdout, /bootstrap: done; stamped/);
      const second = await runInImage(mounts, 'runner/scripts/bootstrap.sh', { POC_NPM_CI_ARGS: '--offline' });
      assert.equal(second.exitCode, 0, second.all);
      assert.match(second.stdout, /dependencies are up to date .* nothing to do/);
    },
    5 * 60_000,
  );
});
