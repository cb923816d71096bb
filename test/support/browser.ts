/**
 * A real browser for tests: the machine's own Chromium (Debian's `chromium`), driven headless by
 * playwright-core — no browser is downloaded. Started as a browser server so its pid is known and
 * it is stopped by that pid whatever happens; the profile is a fresh temporary one.
 */
import fs from 'node:fs';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Whether a browser test can run here (Debian: `apt-get install -y chromium`). */
export function chromiumInstalled(): boolean {
  try {
    fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Flags known to work on these machines: no sandbox (root), no GPU, and none of Chromium's
 * background connections, which a closed network refuses many at a time.
 */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  page: Page;
  pid: number | undefined;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<TestBrowser> {
  const server: BrowserServer = await chromium.launchServer({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: FLAGS,
  });
  const pid = server.process().pid;
  let browser: Browser | undefined;
  try {
    browser = await chromium.connect(server.wsEndpoint());
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await context.newPage();
    return {
      page,
      pid,
      async close() {
        await browser?.close().catch(() => undefined);
        await server.close().catch(() => undefined);
        stopByPid(pid);
      },
    };
  } catch (err) {
    await server.close().catch(() => undefined);
    stopByPid(pid);
    throw err;
  }
}

/** The browser is gone after close(); if it is not, it goes now. */
function stopByPid(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 0);
  } catch {
    return;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // It ended in between.
  }
}
