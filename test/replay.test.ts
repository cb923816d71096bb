/**
 * Replays every recorded history in test/histories/ against today's workflow code. A change that
 * would break a run already in flight (a command added, removed or reordered without `patched()`)
 * fails here, before it reaches a worker. Histories are never deleted: those recorded before a
 * change are exactly what proves the change safe. Record new ones with
 * `npx tsx test/support/record-histories.ts <label>`.
 */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { installRuntime, workflowBundle } from '../worker/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');

function historyFiles(folder: string): string[] {
  return fs
    .readdirSync(folder, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? historyFiles(path.join(folder, entry.name))
        : entry.name.endsWith('.json')
          ? [path.join(folder, entry.name)]
          : [],
    );
}

test('every recorded history replays on the current workflow code', async () => {
  installRuntime({ logLevel: 'ERROR' });
  const files = historyFiles(dir);
  assert.ok(files.length >= 8, `expected the replay corpus in ${dir}, found ${files.length} histories`);
  const bundle = await workflowBundle();
  const histories = files.map((file) => {
    const history = JSON.parse(fs.readFileSync(file, 'utf8'));
    // The run's own id (a conversation names its child pipelines after it); older files lack it.
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    return { workflowId: started?.workflowId ?? path.relative(dir, file), history };
  });
  const failures: string[] = [];
  let index = 0;
  // One history at a time, in order: the results line up with the files.
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
    if (result.error) failures.push(`${path.relative(dir, files[index])}: ${result.error.message}`);
    index += 1;
  }
  assert.deepEqual(failures, [], `histories that no longer replay:\n${failures.join('\n')}`);
});

const fixture = (name: string) => path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name);

function pipelineHistories() {
  return historyFiles(dir)
    .filter((f) => path.basename(f).startsWith('pipeline-'))
    .map((file) => ({ workflowId: path.relative(dir, file), history: JSON.parse(fs.readFileSync(file, 'utf8')) }));
}

test('the replay check catches a change that is not guarded, and passes it behind patched()', async () => {
  const unguarded = await bundleWorkflowCode({
    workflowsPath: fixture('pipeline-unguarded-change.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const broken: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: unguarded }, pipelineHistories())) {
    if (result.error) broken.push(result.workflowId);
  }
  assert.ok(broken.length > 0, 'an unguarded change must break the replay of recorded runs');

  const guarded = await bundleWorkflowCode({
    workflowsPath: fixture('pipeline-patched-change.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: guarded }, pipelineHistories())) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  assert.deepEqual(failures, [], 'the same change behind patched() replays every recorded run');
});
