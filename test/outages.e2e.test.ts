/**
 * Long outages and slow engines, on a real Docker engine: the orphan sweep removes only the
 * containers it can prove are done with (its own server and namespace, a run that is closed or
 * gone), at start and periodically; and a finished step whose cleanup is slow (a `docker rm` and
 * `docker events` that take longer than the heartbeat timeout) is not run a second time.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { WorkflowFailedError } from '@temporalio/client';
import { getPipelineStatus, startPipeline } from '../client/index.js';
import { clientAddress } from '../core/config.js';
import { LABEL_NAMESPACE_ID, LABEL_STEP, LABEL_WORKFLOW, ownerLabels, type ContainerOwner } from '../docker/index.js';
import { startOrphanSweeps, sweepOrphanContainers } from '../worker/sweep.js';
import { BASH_IMAGE, ensureBashImage, fixtureWorkspace } from './support/images.js';
import { startTsx, type Child } from './support/processes.js';
import {
  eventually,
  startTestWorker,
  tempDir,
  testServer,
  type TestServer,
  type TestWorker,
} from './support/temporal.js';

const root = tempDir('outages');
let server: TestServer;
let side: TestWorker;
let owner: ContainerOwner;
const made: string[] = [];
const children: Child[] = [];

/** A sleeping container labelled as a step of `workflowId`, with these owner labels. */
async function leftover(workflowId: string, labels: [string, string][]): Promise<string> {
  const { stdout } = await execa('docker', [
    'run',
    '-d',
    '--network',
    'none',
    '--label',
    `${LABEL_WORKFLOW}=${workflowId}`,
    '--label',
    `${LABEL_STEP}=lint`,
    ...labels.flatMap(([key, value]) => ['--label', `${key}=${value}`]),
    BASH_IMAGE,
    'sleep',
    '300',
  ]);
  made.push(stdout.trim());
  return stdout.trim();
}

async function exists(id: string): Promise<boolean> {
  const { stdout } = await execa('docker', ['ps', '-a', '-q', '--no-trunc', '--filter', `id=${id}`]);
  return stdout.trim() !== '';
}

beforeAll(async () => {
  await ensureBashImage();
  server = await testServer();
  side = await startTestWorker({ address: server.address });
  const described = await side.client.workflowService.describeNamespace({ namespace: side.config.namespace });
  owner = {
    server: clientAddress({ ...side.config, temporalAddress: server.address }),
    namespace: side.config.namespace,
    namespaceId: described.namespaceInfo?.id as string,
    taskQueue: side.taskQueue,
  };
}, 5 * 60_000);

afterAll(async () => {
  for (const child of children) await child.kill();
  if (made.length) await execa('docker', ['rm', '-f', ...made], { reject: false });
  await side?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the orphan sweep', () => {
  test('removes only what it can prove is done with: its own namespace, a closed or missing run', async () => {
    // A run that is still open (no worker polls its queue, so it stays RUNNING).
    const open = await side.client.workflow.start('nobodyRunsThis', {
      workflowId: `pipeline-open-${crypto.randomUUID().slice(0, 8)}`,
      taskQueue: `nobody-${crypto.randomUUID().slice(0, 8)}`,
    });
    const closed = await startPipeline(
      side.client,
      { steps: ['lint'], workspace: '/nonexistent' },
      {
        taskQueue: side.taskQueue,
      },
    );
    await side.client.workflow
      .getHandle(closed.workflowId)
      .result()
      .catch((err: unknown) => assert.ok(err instanceof WorkflowFailedError));
    const ours = ownerLabels(owner);
    const otherServer = ownerLabels({ ...owner, namespaceId: crypto.randomUUID() });
    const containers = {
      closedRun: await leftover(closed.workflowId, ours),
      goneRun: await leftover('pipeline-never-existed-here', ours),
      openRun: await leftover(open.workflowId, ours),
      anotherServer: await leftover('pipeline-never-existed-here', otherServer),
      unlabelled: await leftover('pipeline-never-existed-here', []),
    };
    await sweepOrphanContainers(side.client, owner);
    const left = Object.fromEntries(
      await Promise.all(Object.entries(containers).map(async ([what, id]) => [what, await exists(id)])),
    );
    assert.deepEqual(left, {
      closedRun: false,
      goneRun: false,
      openRun: true,
      anotherServer: true,
      unlabelled: true,
    });
    await open.terminate('test over');
  }, 120_000);

  test('runs periodically, not only at start', async () => {
    const sweeps = startOrphanSweeps(side.client, async () => owner, { everyMs: 500 });
    try {
      await sweeps.first;
      const later = await leftover('pipeline-gone-later', ownerLabels(owner));
      await eventually('the next sweep to remove it', async () => ((await exists(later)) ? undefined : true), 30_000);
    } finally {
      await sweeps.stop();
    }
  }, 60_000);

  test('a container labelled by this worker carries its server, namespace (and its id) and task queue', async () => {
    const ws = fixtureWorkspace(path.join(root, 'labels'), { lint: 'sleep 30' });
    const { workflowId } = await startPipeline(
      side.client,
      { steps: ['lint'], workspace: ws },
      {
        taskQueue: side.taskQueue,
      },
    );
    const labels = await eventually('the step container', async () => {
      const { stdout } = await execa('docker', [
        'ps',
        '--filter',
        `label=${LABEL_WORKFLOW}=${workflowId}`,
        '--format',
        '{{json .Labels}}',
      ]);
      return stdout.trim() || undefined;
    });
    for (const [key, value] of ownerLabels(owner)) assert.ok(labels.includes(`${key}=${value}`), `${key} in ${labels}`);
    assert.ok(labels.includes(`${LABEL_NAMESPACE_ID}=${owner.namespaceId}`));
    await side.client.workflow.getHandle(workflowId).cancel();
    await side.client.workflow
      .getHandle(workflowId)
      .result()
      .catch(() => undefined);
  }, 120_000);
});

test('a slow cleanup keeps heartbeating: a finished step is never run again', async () => {
  // `docker rm` and `docker events` that take longer than the step's 20 s heartbeat timeout.
  const bin = path.join(root, 'slow-docker');
  fs.mkdirSync(bin);
  const docker = (await execa('sh', ['-c', 'command -v docker'])).stdout.trim();
  fs.writeFileSync(
    path.join(bin, 'docker'),
    `#!/bin/sh\ncase "$1" in rm|events) sleep 25 ;; esac\nexec ${docker} "$@"\n`,
    { mode: 0o755 },
  );
  const taskQueue = `slow-rm-${crypto.randomUUID().slice(0, 8)}`;
  const child = startTsx('test/support/worker-process.ts', {
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: taskQueue,
    POC_JOBS_DIR: path.join(root, 'jobs'),
  });
  children.push(child);
  await child.waitFor(/^ready$/m, 180_000);
  const ws = fixtureWorkspace(path.join(root, 'slow'), { broken: 'echo broken; exit 3' });
  const { workflowId } = await startPipeline(side.client, { steps: ['broken'], workspace: ws }, { taskQueue });
  await side.client.workflow
    .getHandle(workflowId)
    .result()
    .catch((err: unknown) => assert.ok(err instanceof WorkflowFailedError));
  const status = await getPipelineStatus(side.client, workflowId);
  assert.equal(status.steps[0].status, 'failed');
  assert.equal(status.steps[0].exitCode, 3, 'the engine’s record was read, slowly');
  const history = await side.client.workflow.getHandle(workflowId).fetchHistory();
  const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
  const timedOut = (history.events ?? []).filter((e) => e.activityTaskTimedOutEventAttributes);
  assert.deepEqual(timedOut, [], 'no heartbeat timed out');
  // prepareRun and lock activities are local or elsewhere; the step itself started once.
  assert.equal(started.filter((e) => e.activityTaskStartedEventAttributes?.attempt !== 1).length, 0);
  const log = fs.readFileSync(status.steps[0].logPath as string, 'utf8');
  assert.equal(log.match(/=== .* step broken · attempt 1/g)?.length, 1, 'the step ran once');
}, 240_000);
