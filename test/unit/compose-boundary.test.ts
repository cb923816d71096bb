/**
 * The container boundary as data: what a step's Compose call is given (docker/environment.ts), the
 * project it runs in, and what is copied out of the workspace afterwards (collectArtifacts).
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { composeEnvironment, composeProjectName, composeVariables } from '../../docker/environment.js';
import { composeBuildArgv, composeRunArgv } from '../../docker/argv.js';
import { collectArtifacts } from '../../activities/steps.js';
import { createPrepareRun, loadWorkspaceConfig, WorkspaceError } from '../../activities/workspace.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { RunPlan } from '../../activities/types.js';
import { loadConfig } from '../../core/config.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'poc-unit-boundary-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('the variables a compose file asks for', () => {
  test('interpolation (braced, defaulted, nested, bare) and $$ escapes', () => {
    const text = [
      'services:',
      '  runner:',
      '    image: ${IMAGE:-x}:${TAG?tag needed}',
      '    command: echo $$NOT_A_VARIABLE $PLAIN',
      '    volumes: ["${OUTER:-${INNER}}:/data"]',
      '    # ${COMMENTED} is interpolated by Compose too, so it counts',
    ].join('\n');
    expect(composeVariables(text)).toEqual(['COMMENTED', 'IMAGE', 'INNER', 'OUTER', 'PLAIN', 'TAG']);
  });

  test('names passed through by an environment list, map or flow list; values set in the file are not', () => {
    const text = [
      'x-base: &base',
      '  environment:',
      '    - FROM_ANCHOR',
      '    - "QUOTED"',
      '    - SET=value',
      'services:',
      '  a:',
      '    <<: *base',
      '    environment:',
      '    - SAME_INDENT',
      '    image: x',
      '  b:',
      '    environment:',
      '      MAPPED:',
      '      NULLED: null',
      '      GIVEN: "1"',
      '  c:',
      '    environment: [FLOW, FLOW_SET=1]',
      '    labels:',
      '      - NOT_ENVIRONMENT',
    ].join('\n');
    expect(composeVariables(text)).toEqual(['FLOW', 'FROM_ANCHOR', 'MAPPED', 'NULLED', 'QUOTED', 'SAME_INDENT']);
  });

  test('this repository’s compose file asks for its image variables and the provider settings, by name', () => {
    const text = fs.readFileSync(path.join(process.cwd(), 'docker-compose.yml'), 'utf8');
    const names = composeVariables(text);
    for (const name of ['POC_RUNNER_IMAGE', 'POC_NODE_MODULES', 'OPENAI_API_KEY', 'ANTHROPIC_BASE_URL']) {
      expect(names).toContain(name);
    }
    expect(names).not.toContain('SLACK_BOT_TOKEN');
  });
});

describe('the environment of a Compose call', () => {
  const worker = {
    PATH: '/usr/bin',
    HOME: '/home/w',
    DOCKER_HOST: 'unix:///run/d.sock',
    LC_ALL: 'C.UTF-8',
    BUILDX_BUILDER: 'default',
    COMPOSE_PARALLEL_LIMIT: '4',
    COMPOSE_PROJECT_NAME: 'theirs',
    COMPOSE_FILE: 'other.yml',
    SLACK_BOT_TOKEN: 'xoxb-secret',
    TEMPORAL_API_KEY: 'key',
    OPENAI_API_KEY: 'sk-asked',
    ANTHROPIC_API_KEY: 'sk-ant-not-asked',
    NPM_TOKEN: 'npm',
    UNRELATED: 'x',
  };

  test('what Compose needs and what the workspace names, nothing else', () => {
    expect(composeEnvironment(worker, ['OPENAI_API_KEY', 'NPM_TOKEN', 'MISSING'])).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/w',
      DOCKER_HOST: 'unix:///run/d.sock',
      LC_ALL: 'C.UTF-8',
      BUILDX_BUILDER: 'default',
      COMPOSE_PARALLEL_LIMIT: '4',
      OPENAI_API_KEY: 'sk-asked',
      NPM_TOKEN: 'npm',
      COMPOSE_PROGRESS: 'plain',
      BUILDKIT_PROGRESS: 'plain',
    });
  });

  test('the worker’s own Slack and Temporal credentials never, even when a compose file names them', () => {
    const env = composeEnvironment(worker, ['SLACK_BOT_TOKEN', 'TEMPORAL_API_KEY', 'COMPOSE_PROJECT_NAME']);
    expect(env.SLACK_BOT_TOKEN).toBeUndefined();
    expect(env.TEMPORAL_API_KEY).toBeUndefined();
    expect(env.COMPOSE_PROJECT_NAME).toBe('theirs'); // asked for by name: the workspace's choice, -p wins anyway
  });
});

describe('the Compose project of a workspace', () => {
  test('the folder name and a digest of the full path: two folders named alike never share', () => {
    const a = composeProjectName('/home/ann/src/app');
    const b = composeProjectName('/home/bob/src/app');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^poc-app-[0-9a-f]{10}$/);
    expect(composeProjectName('/home/ann/src/app')).toBe(a);
    expect(composeProjectName('/x/My Project.v2')).toMatch(/^poc-my-project-v2-[0-9a-f]{10}$/);
    expect(composeProjectName('/x/__')).toMatch(/^poc-workspace-[0-9a-f]{10}$/);
  });

  test('the project, the project directory and the env file come before the command, in both flavours', () => {
    const target = {
      prefix: [],
      files: ['/state/jobs/r/compose/1-docker-compose.yml'],
      service: 'runner',
      project: 'poc-app-0123456789',
      projectDirectory: '/src/app',
      envFile: '/state/jobs/r/compose/env',
    };
    expect(composeBuildArgv(target)).toEqual([
      '-p',
      'poc-app-0123456789',
      '--project-directory',
      '/src/app',
      '--env-file',
      '/state/jobs/r/compose/env',
      '-f',
      '/state/jobs/r/compose/1-docker-compose.yml',
      'build',
      '--force-rm',
      'runner',
    ]);
    const run = composeRunArgv({ ...target, name: 'n', labels: [], env: [], command: 'true' });
    expect(run.slice(0, 9)).toEqual(composeBuildArgv(target).slice(0, 8).concat('run'));
  });

  test('a failed v1 build leaves no intermediate container (--force-rm); v2 builds with BuildKit', () => {
    const target = { prefix: [], files: [], service: 'runner' };
    expect(composeBuildArgv(target)).toEqual(['build', '--force-rm', 'runner']);
    expect(composeBuildArgv({ ...target, prefix: ['compose'] })).toEqual(['compose', 'build', 'runner']);
  });
});

describe('poc.config.json env', () => {
  const ws = (config: unknown) => {
    const dir = fs.mkdtempSync(path.join(root, 'ws-'));
    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  runner:\n    image: x\n');
    fs.writeFileSync(path.join(dir, 'poc.config.json'), JSON.stringify(config));
    return dir;
  };
  test('a list of variable names Compose may pass on', () => {
    expect(loadWorkspaceConfig(ws({ env: ['NPM_TOKEN', 'GH_TOKEN'] })).env).toEqual(['NPM_TOKEN', 'GH_TOKEN']);
    expect(loadWorkspaceConfig(ws({})).env).toEqual([]);
    for (const env of ['NPM_TOKEN', ['NPM TOKEN'], ['A=1'], [1]]) {
      assert.throws(
        () => loadWorkspaceConfig(ws({ env })),
        (err: Error) => {
          return err instanceof WorkspaceError && /env must be a list of variable names/.test(err.message);
        },
      );
    }
  });
});

describe('collectArtifacts follows no link', () => {
  const since = Date.now() - 500;
  const secret = path.join(root, 'host-secret.txt');
  fs.writeFileSync(secret, 'host secret');

  function workspace(name: string): { ws: string; artifacts: string; target: string; notes: string[] } {
    const ws = path.join(root, name);
    const artifacts = path.join(ws, 'runner', 'artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    return { ws, artifacts, target: path.join(root, `${name}-job`, 'artifacts'), notes: [] };
  }

  test('a link in the artifacts is skipped with a line; a regular file is copied', () => {
    const { ws, artifacts, target, notes } = workspace('links');
    fs.writeFileSync(path.join(artifacts, 'report.md'), 'ok');
    fs.symlinkSync(secret, path.join(artifacts, 'stolen.txt'));
    fs.symlinkSync('/etc', path.join(artifacts, 'etc'));
    expect(collectArtifacts(ws, target, since, (line) => notes.push(line))).toEqual(['report.md']);
    expect(fs.readdirSync(target)).toEqual(['report.md']);
    expect(notes.sort()).toEqual([
      'artifact "etc" is a link; not copied',
      'artifact "stolen.txt" is a link; not copied',
    ]);
  });

  test('runner/artifacts itself a link: nothing is read through it', () => {
    const { ws, target, notes } = workspace('dirlink');
    fs.rmSync(path.join(ws, 'runner', 'artifacts'), { recursive: true });
    const elsewhere = path.join(root, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, 'secret.txt'), 'x');
    fs.symlinkSync(elsewhere, path.join(ws, 'runner', 'artifacts'));
    expect(collectArtifacts(ws, target, since, (line) => notes.push(line))).toEqual([]);
    expect(fs.existsSync(target)).toBe(false);
    expect(notes).toEqual(['runner/artifacts is a link, not a folder of the workspace; no artifact collected']);
  });

  test('a link waiting at the destination is not written through', () => {
    const { ws, artifacts, target, notes } = workspace('dest');
    fs.writeFileSync(path.join(artifacts, 'report.md'), 'overwrite attempt');
    fs.mkdirSync(target, { recursive: true });
    fs.symlinkSync(secret, path.join(target, 'report.md'));
    expect(collectArtifacts(ws, target, since, (line) => notes.push(line))).toEqual([]);
    expect(fs.readFileSync(secret, 'utf8')).toBe('host secret');
    expect(notes).toEqual(['artifact "report.md" not copied (ELOOP)']);
  });

  test('a named pipe never blocks the copy', () => {
    const { ws, artifacts, target } = workspace('fifo');
    execFileSync('mkfifo', [path.join(artifacts, 'pipe')]);
    fs.writeFileSync(path.join(artifacts, 'after.txt'), 'x');
    expect(collectArtifacts(ws, target, since)).toEqual(['after.txt']);
  });
});

describe('the state folder', () => {
  test('run folders and the embedded server’s data live in the user’s state folder, outside any workspace', () => {
    const config = loadConfig({ HOME: '/home/u', XDG_STATE_HOME: '/home/u/.state' });
    expect(config.stateDir).toBe('/home/u/.state/poc-orchestrator');
    expect(config.jobsDir).toBe('/home/u/.state/poc-orchestrator/jobs');
    expect(config.embedded.dataDir).toBe('/home/u/.state/poc-orchestrator/temporal');
    const explicit = loadConfig({ POC_STATE_DIR: '/srv/poc', POC_JOBS_DIR: '/var/poc-jobs' });
    expect([explicit.stateDir, explicit.jobsDir, explicit.embedded.dataDir]).toEqual([
      '/srv/poc',
      '/var/poc-jobs',
      '/srv/poc/temporal',
    ]);
    expect(loadConfig({}).jobsDir).toBe(path.join(os.homedir(), '.local', 'state', 'poc-orchestrator', 'jobs'));
  });
});

describe('prepareRun', () => {
  const prepare = async (workspace: string, jobsDir: string): Promise<RunPlan> =>
    new MockActivityEnvironment({ taskQueue: 'q' }).run(createPrepareRun({ workspace, jobsDir }), {
      workflowId: 'pipeline-x',
      steps: ['lint'],
    });
  const ws = () => {
    const dir = fs.mkdtempSync(path.join(root, 'prep-'));
    fs.writeFileSync(path.join(dir, 'docker-compose.yml'), 'services:\n  runner:\n    image: x\n');
    fs.writeFileSync(path.join(dir, '.env'), 'A=1\n');
    fs.writeFileSync(path.join(dir, 'poc.config.json'), JSON.stringify({ steps: { lint: 'true' } }));
    return dir;
  };

  test('refuses run folders inside the workspace, where a step could rewrite its own logs', async () => {
    const dir = ws();
    await expect(prepare(dir, path.join(dir, 'runner', 'jobs'))).rejects.toThrow(
      /the run folders .* are inside workspace .*, where a step could rewrite its own logs; set POC_JOBS_DIR outside/,
    );
  });

  test('fixes the Compose setup in the run folder: copies, the project, the variables asked for', async () => {
    const dir = ws();
    const plan = await prepare(dir, path.join(root, 'prep-jobs'));
    expect(plan.jobDir).toBe(path.join(root, 'prep-jobs', 'pipeline-x'));
    const setup = plan.compose;
    assert.ok(setup);
    expect(setup.files).toEqual([path.join(plan.jobDir, 'compose', '1-docker-compose.yml')]);
    expect(fs.readFileSync(setup.envFile, 'utf8')).toBe('A=1\n');
    expect(setup.projectDirectory).toBe(dir);
    expect(setup.project).toBe(composeProjectName(fs.realpathSync(dir)));
    expect(setup.sources.map((s) => path.basename(s.path))).toEqual(['docker-compose.yml', '.env', 'poc.config.json']);
  });
});
