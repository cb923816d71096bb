/** Names the Docker adapter (docker/index.ts) gives step containers: valid for Docker whatever the workflow id. */
import { describe, expect, test } from '@jest/globals';
import { LABEL_ATTEMPT, LABEL_STEP, LABEL_WORKFLOW, containerName } from '../../docker/index.js';

describe('containerName', () => {
  test.each<[string, string, number, number, string]>([
    ['pipeline-ab12cd34', 'lint', 1, 1, 'poc-pipeline-ab12cd34-lint-1.1'],
    [
      'pipeline-sched-nightly-2026-01-01T03:00:00Z',
      'test',
      2,
      3,
      'poc-pipeline-sched-nightly-2026-01-01T03_00_00Z-test-2.3',
    ],
    ['a b/c:d<e>$(x)', 'build', 1, 2, 'poc-a_b_c_d_e___x_-build-1.2'],
    ['ünïcode', 'doctor', 1, 1, 'poc-_n_code-doctor-1.1'],
  ])('%j, step %s, attempt %i.%i → %s', (workflowId, step, attempt, activityAttempt, name) => {
    expect(containerName(workflowId, step, attempt, activityAttempt)).toBe(name);
  });

  test('a long id is cut to 120 characters; the name stays within what Docker allows', () => {
    const name = containerName('x'.repeat(500), 'step', 10, 10);
    expect(name).toBe(`poc-${'x'.repeat(120)}-step-10.10`);
    expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
  });

  test('the labels a step container carries', () => {
    expect([LABEL_WORKFLOW, LABEL_STEP, LABEL_ATTEMPT]).toEqual(['poc.workflow-id', 'poc.step', 'poc.attempt']);
  });
});
