/**
 * Headless Chromium for the browser tests: Debian's chromium (CI installs it; CHROMIUM_PATH
 * overrides), with the flags that keep it off this sandbox's closed network. A missing browser
 * fails the test with a clear message instead of skipping it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort, startDemo, stopDemo, type Demo } from './demo';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Network errors the sandbox's closed network causes (the editor asks external hosts for nothing we need). */
export const NETWORK_NOISE = /ERR_NAME_NOT_RESOLVED|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|ERR_ADDRESS_UNREACHABLE|ERR_NETWORK_ACCESS_DENIED/;

export interface EditorSession {
  demo: Demo;
  browser: Browser;
  page: Page;
  /** Page errors, console errors and failed requests to Node-RED itself, as they come. */
  problems: string[];
}

export interface EditorOptions {
  /** The flow to start with instead of the demo's (the demo's model still runs beside it). */
  flow?: object[];
}

/**
 * The demo (a real Node-RED process) in a temporary user directory, and the editor open on it in
 * Chromium, loaded up to the chatgate palette. Everything the editor logs as an error is collected.
 */
export async function openEditor(dirPrefix: string, viewport: { width: number; height: number }, options: EditorOptions = {}): Promise<EditorSession> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), dirPrefix));
  // The demo copies its own flow only into a directory that has none.
  if (options.flow) fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(options.flow, null, 2));
  const demo = await startDemo(dir, await freePort());
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !NETWORK_NOISE.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => {
    const failure = r.failure()?.errorText ?? '';
    if (!NETWORK_NOISE.test(failure) && new URL(r.url()).host === new URL(demo.base).host) problems.push(`request failed: ${r.url()} ${failure}`);
  });
  await page.goto(`${demo.base}/`);
  await page.waitForSelector('.red-ui-palette-node[data-palette-type="chatgate-agent-call"]', { timeout: 30000 });
  return { demo, browser, page, problems };
}

export async function closeEditor(session: EditorSession | undefined): Promise<void> {
  await session?.browser.close();
  if (session) await stopDemo(session.demo);
}
