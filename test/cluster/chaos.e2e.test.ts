/**
 * A small version of bench/cluster-chaos.ts on the cluster of `npm run test:cluster`: history,
 * matching, the frontend and PostgreSQL are SIGKILLed in turn with a pipeline mid-step and prompts
 * mid-answer; the supervisor restarts each, every run ends DONE, no finished step runs again, no
 * prompt is sent to the provider twice, no container is left, and the history replays.
 */
import { expect, test } from '@jest/globals';
import { chaosHeld, renderClusterChaos, runClusterChaos, CHAOS_ROLES } from '../../bench/cluster-chaos.js';

const clusterDir = process.env.POC_TEST_CLUSTER_DIR;
if (!clusterDir) throw new Error('test/cluster/ runs against the cluster `npm run test:cluster` brings up');

test('every run survives the loss of history, matching, the frontend and PostgreSQL', async () => {
  const rows = await runClusterChaos({ dir: clusterDir, pipelinesPerKill: 1, promptsPerKill: 2 });
  const table = renderClusterChaos(rows);
  expect(rows.map((r) => r.killed)).toEqual([...CHAOS_ROLES]);
  for (const row of rows) {
    expect({ killed: row.killed, note: row.note }).toEqual({
      killed: row.killed,
      note: expect.stringMatching(/contiguous true, replays true/),
    });
  }
  if (!chaosHeld(rows)) throw new Error(`a run was lost, repeated or left a container:\n${table}`);
});
