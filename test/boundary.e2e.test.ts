/**
 * The container is the trust boundary, tried as a hostile step would on a real worker process and
 * a real Docker engine: a step that rewrites the compose file and `.env`, plants links among its
 * artifacts and writes a named volume gets nothing of the host, nothing of the worker's
 * environment it was not given by name, and nothing of another workspace with the same folder
 * name; the run's folder lives outside the tree it mounts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { WorkflowFailedError } from '@temporalio/client';
import { getPipelineStatus, startPipeline, type PipelineStatus } from '../client/index.js';
import { composeProjectName } from '../docker/environment.js';
import { BASH_IMAGE, ensureBashImage } from './support/images.js';
import { startTsx, type Child } from './support/processes.js';
import { startTestWorker, tempDir, testServer, type TestServer, type TestWorker } from './support/temporal.js';

const root = tempDir('boundary');
const jobsDir = path.join(root, 'state', 'jobs');
const taskQueue = `boundary-${crypto.randomUUID().slice(0, 8)}`;
const planted = {
  SLACK_BOT_TOKEN: `xoxb-${crypto.randomBytes(12).toString('hex')}`,
  OPENAI_API_KEY: `sk-proj-${crypto.randomBytes(16).toString('hex')}`,
  UNASKED: `unasked-${crypto.randomBytes(6).toString('hex')}`,
};
const hostSecret = path.join(root, 'host-secret.txt');
let server: TestServer;
let clientSide: TestWorker;
let worker: Child;
const projects: string[] = [];

const compose = [
  'services:',
  '  runner:',
  `    image: ${BASH_IMAGE}`,
  '    pull_policy: never',
  '    network_mode: none',
  '    working_dir: /workspace',
  '    volumes:',
  '      - .:/workspace',
  '      - data:/data',
  '      - ${MOUNT:-./empty}:/mnt:ro',
  '    environment:',
  '      - ASKED_TOKEN',
  'volumes:',
  '  data:',
  '',
].join('\n');

const steps = {
  // What a hostile dependency's install script might do.
  attack: [
    'sed -i "s/      - ASKED_TOKEN/&\\n      - SLACK_BOT_TOKEN\\n      - OPENAI_API_KEY/" docker-compose.yml',
    'printf "MOUNT=/etc\\n" > .env',
    `ln -s ${hostSecret} runner/artifacts/stolen.txt`,
    'ln -s /etc runner/artifacts/etc',
    'echo report > runner/artifacts/report.md',
    'echo from-this-workspace > /data/mark',
  ].join(' && '),
  look: 'env | sort > runner/seen-env.txt; ls /mnt > runner/seen-mnt.txt; cat /data/mark > runner/seen-data.txt; true',
};

function workspace(parent: string): string {
  const ws = path.join(root, parent, 'app');
  fs.mkdirSync(path.join(ws, 'runner', 'artifacts'), { recursive: true });
  fs.mkdirSync(path.join(ws, 'empty'));
  fs.writeFileSync(path.join(ws, 'empty', 'nothing-here'), '');
  fs.writeFileSync(path.join(ws, 'docker-compose.yml'), compose);
  fs.writeFileSync(path.join(ws, 'poc.config.json'), JSON.stringify({ steps }));
  projects.push(composeProjectName(fs.realpathSync(ws)));
  return ws;
}

async function run(ws: string, names: string[]): Promise<PipelineStatus> {
  const { workflowId } = await startPipeline(
    clientSide.client,
    { steps: names, workspace: ws, stepTimeoutSeconds: 120 },
    { taskQueue },
  );
  await clientSide.client.workflow
    .getHandle(workflowId)
    .result()
    .catch((err: unknown) => {
      if (!(err instanceof WorkflowFailedError)) throw err;
    });
  return getPipelineStatus(clientSide.client, workflowId);
}

const read = (ws: string, file: string) => fs.readFileSync(path.join(ws, 'runner', file), 'utf8');

beforeAll(async () => {
  await ensureBashImage();
  fs.writeFileSync(hostSecret, 'a file of the host');
  server = await testServer();
  clientSide = await startTestWorker({ address: server.address });
  worker = startTsx('test/support/worker-process.ts', {
    ...planted,
    ASKED_TOKEN: 'asked-by-name',
    // Nothing of the worker's own environment decides the project or the files.
    COMPOSE_PROJECT_NAME: 'hijacked',
    COMPOSE_FILE: 'nowhere.yml',
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: taskQueue,
    POC_JOBS_DIR: jobsDir,
  });
  await worker.waitFor(/^ready$/m);
}, 5 * 60_000);

afterAll(async () => {
  await worker?.kill();
  await clientSide?.stop();
  await server?.stop();
  for (const project of projects) {
    const volumes = await execa('docker', ['volume', 'ls', '-q', '--filter', `name=${project}`], { reject: false });
    const names = String(volumes.stdout).split('\n').filter(Boolean);
    if (names.length) await execa('docker', ['volume', 'rm', '-f', ...names], { reject: false });
    await execa('docker', ['network', 'rm', `${project}_default`], { reject: false });
  }
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a hostile step', () => {
  test(
    'rewriting the compose file and .env changes nothing for the rest of its run; links are not followed',
    async () => {
      const ws = workspace('one');
      const status = await run(ws, ['attack', 'look']);
      assert.equal(status.phase, 'DONE', status.error ?? '');

      // The run's folder: named in the status, outside the workspace, holding the logs.
      assert.ok(status.jobDir && status.jobDir.startsWith(jobsDir), String(status.jobDir));
      assert.ok(!fs.existsSync(path.join(ws, 'runner', 'jobs')));
      for (const step of status.steps) assert.ok(step.logPath?.startsWith(`${status.jobDir}/logs/`));

      const env = read(ws, 'seen-env.txt');
      assert.match(env, /^ASKED_TOKEN=asked-by-name$/m, 'a variable the compose file asks for by name');
      for (const [name, value] of Object.entries(planted)) {
        assert.ok(!env.includes(value), `${name} reached the container`);
      }
      expect(read(ws, 'seen-mnt.txt').trim()).toBe('nothing-here');

      const attackLog = fs.readFileSync(status.steps[0].logPath as string, 'utf8');
      assert.match(attackLog, /=== artifact "stolen\.txt" is a link; not copied/);
      assert.match(attackLog, /=== artifact "etc" is a link; not copied/);
      assert.match(
        attackLog,
        /=== the step changed .*docker-compose\.yml, .*\.env; the rest of this run calls Compose/,
      );
      expect(fs.readdirSync(path.join(status.jobDir as string, 'artifacts'))).toEqual(['report.md']);
      expect(fs.readFileSync(hostSecret, 'utf8')).toBe('a file of the host');
    },
    5 * 60_000,
  );

  test(
    'the next run reads the rewritten file, and still never gets the worker’s own Slack token',
    async () => {
      const ws = path.join(root, 'one', 'app');
      const status = await run(ws, ['look']);
      assert.equal(status.phase, 'DONE', status.error ?? '');
      const env = read(ws, 'seen-env.txt');
      assert.ok(!env.includes(planted.SLACK_BOT_TOKEN), 'the Slack token never passes');
      assert.ok(!env.includes(planted.UNASKED));
      // Asked for by name in the workspace's own file: that is the workspace's to decide.
      assert.match(env, new RegExp(`^OPENAI_API_KEY=${planted.OPENAI_API_KEY}$`, 'm'));
    },
    5 * 60_000,
  );

  test(
    'two workspaces with the same folder name never share a volume',
    async () => {
      const other = workspace('two');
      const status = await run(other, ['look']);
      assert.equal(status.phase, 'DONE', status.error ?? '');
      expect(read(other, 'seen-data.txt')).toBe('');
      expect(read(path.join(root, 'one', 'app'), 'seen-data.txt')).toBe('from-this-workspace\n');
      assert.notEqual(projects[0], projects[1]);
    },
    5 * 60_000,
  );
});
