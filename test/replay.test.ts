/**
 * Replays every recorded history in test/histories/ against today's workflow code. A change that
 * would break a run already in flight (a command added, removed or reordered without `patched()`)
 * fails here, before it reaches a worker. Histories are never deleted: those recorded before a
 * change are exactly what proves the change safe. Record new ones with
 * `npx tsx test/support/record-histories.ts <label>`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { installRuntime, workflowBundle } from '../worker/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');

function historyFiles(folder: string): string[] {
  return fs
    .readdirSync(folder, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? historyFiles(path.join(folder, entry.name)) : entry.name.endsWith('.json') ? [path.join(folder, entry.name)] : []));
}

test('every recorded history replays on the current workflow code', async () => {
  installRuntime({ logLevel: 'ERROR' });
  const files = historyFiles(dir);
  assert.ok(files.length >= 8, `expected the replay corpus in ${dir}, found ${files.length} histories`);
  const bundle = await workflowBundle();
  const histories = files.map((file) => ({ workflowId: path.relative(dir, file), history: JSON.parse(fs.readFileSync(file, 'utf8')) }));
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  assert.deepEqual(failures, [], `histories that no longer replay:\n${failures.join('\n')}`);
});

test('the replay check catches a non-deterministic change', async () => {
  // Replaying a pipeline history as if it were an llmPrompt run must fail: proof the check bites.
  const file = historyFiles(dir).find((f) => path.basename(f).startsWith('pipeline-done'));
  assert.ok(file, 'a pipeline-done history is part of the corpus');
  const history = JSON.parse(fs.readFileSync(file, 'utf8'));
  const started = history.events[0].workflowExecutionStartedEventAttributes;
  started.workflowType.name = 'llmPrompt';
  const bundle = await workflowBundle();
  await assert.rejects(() => Worker.runReplayHistory({ workflowBundle: bundle }, history, 'tampered'));
});
