/** Names the Docker adapter (docker/index.ts) gives step containers: valid for Docker whatever the workflow id. */
import { describe, expect, test } from '@jest/globals';
import { LABEL_ATTEMPT, LABEL_STEP, LABEL_WORKFLOW, containerName } from '../../docker/index.js';

describe('containerName', () => {
  test.each<[string, string, number, number, string]>([
    ['pipeline-ab12cd34', 'lint', 1, 1, 'poc-pipeline-ab12cd34.lint.1.1'],
    [
      'pipeline-sched-nightly-2026-01-01T03:00:00Z',
      'test',
      2,
      3,
      'poc-pipeline-sched-nightly-2026-01-01T03_3a00_3a00Z.test.2.3',
    ],
    ['a b/c:d<e>$(x)', 'build', 1, 2, 'poc-a_20b_2fc_3ad_3ce_3e_24_28x_29.build.1.2'],
    ['ünïcode', 'doctor', 1, 1, 'poc-_fcn_efcode.doctor.1.1'],
  ])('%j, step %s, attempt %i.%i → %s', (workflowId, step, attempt, activityAttempt, name) => {
    expect(containerName(workflowId, step, attempt, activityAttempt)).toBe(name);
    expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
  });

  test('one to one for (run, step, attempt): ids and step names with dashes never meet', () => {
    const names = [
      containerName('a-b', 'lint', 1, 1),
      containerName('a', 'b-lint', 1, 1),
      containerName('a/b', 'lint', 1, 1),
      containerName('a_b', 'lint', 1, 1),
      containerName('a', 'lint', 11, 1),
      containerName('a', 'lint', 1, 11),
    ];
    expect(new Set(names).size).toBe(names.length);
  });

  test('the labels a step container carries', () => {
    expect([LABEL_WORKFLOW, LABEL_STEP, LABEL_ATTEMPT]).toEqual(['poc.workflow-id', 'poc.step', 'poc.attempt']);
  });
});
