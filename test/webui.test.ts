/**
 * The Temporal Web UI reads as the pipeline, checked in a real browser: a dev server with its UI
 * (the one `poc up` starts, on ports from the OS), a real worker (steps scripted, no Docker), a run
 * started with `poc run`, and Debian's Chromium opening the exact link the CLI printed — the link
 * Slack's "Open in Temporal" button carries too (both come from `runUrl`). The page must show the
 * run's summary, its live status and the step names; a screenshot is saved under test-results/.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { loadConfig, runUrl } from '../core/config.js';
import { findTemporalCli, startDevServer, type DevServer } from '../worker/devserver.js';
import { installRuntime } from '../worker/index.js';
import type { Page } from 'playwright-core';
import { chromiumInstalled, openBrowser, type TestBrowser } from './support/browser.js';
import { scriptedSteps, scriptedWorkspace } from './support/scripted-steps.js';
import { eventually, freePort, startTestWorker, tempDir, type TestWorker } from './support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = path.join(root, 'test-results');
const dir = tempDir('webui');
const steps = scriptedSteps();
let server: DevServer;
let worker: TestWorker;
let browser: TestBrowser | undefined;
let env: NodeJS.ProcessEnv;

const maybe = chromiumInstalled() ? describe : describe.skip;

/** The text of the page and of every frame in it. */
async function textOfAllFrames(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((frame) =>
      frame
        .locator('body')
        .innerText({ timeout: 5_000 })
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}

beforeAll(async () => {
  if (!chromiumInstalled()) return;
  installRuntime({ logLevel: 'ERROR' });
  const cli = findTemporalCli();
  assert.ok(cli, 'no Temporal CLI');
  server = await startDevServer({
    cliPath: cli.path,
    port: await freePort(),
    uiPort: await freePort(),
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'server.log'),
  });
  worker = await startTestWorker({
    address: server.address,
    overrides: { runStep: steps.runStep },
    config: { jobsDir: path.join(dir, 'jobs') },
  });
  const ws = scriptedWorkspace(path.join(dir, 'ws'), { build: 'ok', bootstrap: 'ok', lint: 'hold' });
  const uiPort = new URL(server.uiUrl as string).port;
  env = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    POC_TASK_QUEUE: worker.taskQueue,
    POC_WORKSPACE: ws,
    // The embedded server's UI port: the CLI's links point there, as after `poc up`.
    POC_EMBEDDED_UI_PORT: uiPort,
    POC_TEMPORAL_UI_URL: '',
    NO_COLOR: '1',
  };
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

maybe('the Web UI in a real browser', () => {
  test('the run page shows the summary, the live status and every step by name', async () => {
    const started = await execa(
      process.execPath,
      [path.join(root, 'cli', 'poc.js'), 'run', 'browser check', '--steps', 'build,bootstrap,lint'],
      { env, reject: false, timeout: 60_000 },
    );
    assert.equal(started.exitCode, 0, started.stderr);
    const printed = /started (pipeline-\w+)\s+(http\S+)/.exec(started.stderr);
    assert.ok(printed, started.stderr);
    const [, workflowId, link] = printed;
    assert.equal(link, runUrl(loadConfig(env), workflowId), 'the CLI and Slack print the same link');
    await steps.started(workflowId, 'lint');

    browser = await openBrowser();
    const { page } = browser;
    await page.goto(link, { waitUntil: 'domcontentloaded' });
    fs.mkdirSync(artifacts, { recursive: true });
    try {
      // The UI is a single-page app that fetches as it goes: wait for text, never for time.
      // The timeline names each step by its activity summary (`runStep • lint`).
      for (const step of ['build', 'bootstrap', 'lint']) {
        await page
          .getByText(new RegExp(`runStep • ${step}$`))
          .first()
          .waitFor({ timeout: 60_000 });
      }
      // Summary, details and current details: Temporal markdown, which the UI renders in frames.
      await page.getByText('User Metadata').first().click();
      const shown = await eventually(
        'the user metadata on the page',
        async () => {
          const text = await textOfAllFrames(page);
          return text.includes('RUNNING · step 3 of 3: lint') ? text : undefined;
        },
        60_000,
      );
      assert.ok(shown.includes('pipeline: browser check'), shown);
      assert.ok(shown.includes('source: poc CLI on'), shown);
      assert.ok(shown.includes('steps: build → bootstrap → lint'), shown);
    } finally {
      // The picture of the page as it was, passed or failed, with its text beside it.
      await page.screenshot({ path: path.join(artifacts, 'webui-run.png'), fullPage: true });
      fs.writeFileSync(path.join(artifacts, 'webui-run.txt'), await textOfAllFrames(page));
    }

    steps.release(workflowId, 'lint');
    await worker.client.workflow.getHandle(workflowId).result();
  }, 170_000);
});
