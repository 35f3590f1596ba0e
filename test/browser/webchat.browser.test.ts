/**
 * The web chat page in a real (headless) Chromium against the real Node-RED runtime: what a
 * visitor types reaches the flow, and what the flow answers shows up, safely rendered.
 * CI installs Debian's chromium; without it this test fails and says so instead of skipping.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { captured, helper, load, nextMessage, sleep, unload, useUserDir } from '../helpers/red';

// The hub registry of the loaded nodes, to see when the server has noticed a page went away.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findHub } = require('../../dist/nodes/webchat/hub') as typeof import('../../nodes/webchat/hub');

const SCREENSHOT = path.resolve(__dirname, '../../docs/images/webchat.png');

const FLOW = [
  { id: 'g1', type: 'chatgate-gateway', name: 'gw' },
  { id: 'in', type: 'chatgate-webchat-in', gateway: 'g1', path: '/chat', title: 'Support bot', wires: [['h']] },
  { id: 'h', type: 'helper' },
  { id: 'out', type: 'chatgate-webchat-out', gateway: 'g1' },
];

describe('webchat page in Chromium', function () {
  this.timeout(30000);
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  /** Script errors and console errors (a Content-Security-Policy violation shows up as one). */
  const problems: string[] = [];
  const watched = async (p: Page) => {
    p.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    return p;
  };

  afterEach(function () {
    assert.deepEqual(problems.splice(0), [], 'the page logs no errors');
  });

  before(async function () {
    useUserDir();
    await helper.startServer();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
    await load(['gateway', 'webchatIn', 'webchatOut'], FLOW);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 900, height: 720 }, colorScheme: 'light' });
    page = await watched(await context.newPage());
    await page.goto(`${helper.url()}/chat`);
    await page.waitForSelector('#state[data-state="connected"]');
  });

  after(async function () {
    await browser?.close();
    await unload();
    await helper.stopServer();
  });

  /** Types a message as a visitor would and returns the message the flow received. */
  async function say(text: string) {
    const received = nextMessage('h');
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
    return received;
  }

  const reply = (msg: object, payload: string, extra: object = {}) => helper.getNode('out').receive({ ...msg, payload, ...extra });

  it('sends what the visitor types and shows the flow reply in a bubble', async function () {
    assert.equal(await page.title(), 'Support bot');
    const msg = await say('Hello! What can you do?');
    assert.equal(msg.payload, 'Hello! What can you do?');
    assert.equal(msg.chat.platform, 'webchat');
    assert.equal(msg.chat.channelId, 'in');
    assert.equal(msg.chat.chatType, 'direct');
    const userId = await page.evaluate(() => localStorage.getItem('chatgate:/chat:userId'));
    assert.equal(msg.chat.userId, userId);
    await page.waitForSelector('.msg.me:not(.pending)'); // acknowledged
    assert.equal(await page.inputValue('#input'), '', 'the input is cleared');

    reply(msg, 'I can answer questions about **your orders**:\n\n- track a parcel\n- change an address\n\n```\norder status 4711\n```\nMore at [our help page](https://example.com/help).');
    const bubble = page.locator('.msg.bot').last();
    await bubble.locator('strong').waitFor();
    assert.equal(await bubble.locator('strong').textContent(), 'your orders');
    assert.equal(await bubble.locator('li').count(), 2);
    assert.equal(await bubble.locator('pre code').textContent(), 'order status 4711');
    const link = bubble.locator('a');
    assert.equal(await link.getAttribute('href'), 'https://example.com/help');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await link.getAttribute('target'), '_blank');
  });

  it('streams parts of one reply into one bubble that ends with the final text', async function () {
    const msg = await say('Tell me about shipping.');
    reply(msg, '', { event: 'typing' });
    await page.waitForSelector('#typing:not([hidden])');
    const parts = ['Shipping takes', 'Shipping takes *two to three* working', 'Shipping takes *two to three* working days.'];
    parts.forEach((text, seq) => reply(msg, text, { stream: { id: 'stream-1', seq, done: seq === parts.length - 1 } }));
    const bubbles = page.locator('.msg.bot[data-id="stream-1"]');
    await page.waitForSelector('.msg.bot[data-id="stream-1"]:not(.streaming)');
    assert.equal(await bubbles.count(), 1);
    assert.equal(await bubbles.textContent(), 'Shipping takes two to three working days.');
    assert.equal(await bubbles.locator('em').textContent(), 'two to three');
    assert.ok(await page.locator('#typing').isHidden(), 'the typing indicator goes with the reply');
    await page.screenshot({ path: SCREENSHOT });
  });

  it('shows HTML and script links in a reply as text', async function () {
    const msg = await say('Show me something odd.');
    reply(
      msg,
      'Look: <img src=x onerror="window.__xss=1"> and [x](javascript:alert(1)) and [y](javascript:void) but **bold**\n\n```html\n<script>window.__xss=2</script>\n```',
    );
    const bubble = page.locator('.msg.bot').last();
    await bubble.locator('pre').waitFor();
    assert.equal(await page.locator('.log img').count(), 0, 'no img element');
    assert.equal(await page.locator('.log script').count(), 0, 'no script element');
    assert.equal(await page.locator('.log a[href^="javascript:" i]').count(), 0, 'no javascript: link');
    assert.equal(await bubble.locator('a').count(), 0);
    const text = (await bubble.textContent()) ?? '';
    assert.ok(text.includes('<img src=x onerror="window.__xss=1">'), text);
    assert.ok(text.includes('[x](javascript:alert(1))'), text);
    assert.equal(await bubble.locator('strong').textContent(), 'bold');
    assert.equal(await bubble.locator('pre code').textContent(), '<script>window.__xss=2</script>');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
  });

  it('reconnects after the flow is redeployed and resends what was typed meanwhile', async function () {
    await unload();
    await page.waitForSelector('#state:not([data-state="connected"])');
    await page.fill('#input', 'Typed while the server was away.');
    await page.press('#input', 'Enter');
    await page.waitForSelector('.msg.me.pending');
    const received = new Promise<{ payload: string }>((resolve) => {
      // The new flow's helper node exists only once it is loaded.
      void load(['gateway', 'webchatIn', 'webchatOut'], FLOW).then(() => nextMessage('h', 10000).then(resolve));
    });
    assert.equal((await received).payload, 'Typed while the server was away.');
    await page.waitForSelector('#state[data-state="connected"]');
    await page.waitForSelector('.msg.me.pending', { state: 'detached' });
  });

  it('keeps the user id and the conversation across a reload, and delivers a reply sent meanwhile', async function () {
    const before = await page.evaluate(() => localStorage.getItem('chatgate:/chat:userId'));
    assert.match(before ?? '', /^[0-9a-f-]{36}$/);
    const msg = await say('I will reload now.');
    const bubblesBefore = await page.locator('.msg').count();
    await page.close();
    while (findHub('in')?.isOnline(before!)) await sleep(20);
    reply(msg, 'This reply arrived while the page was closed.');
    page = await watched(await context.newPage());
    await page.goto(`${helper.url()}/chat`);
    await page.waitForSelector('#state[data-state="connected"]');
    assert.equal(await page.evaluate(() => localStorage.getItem('chatgate:/chat:userId')), before);
    await page.locator('.msg.bot', { hasText: 'This reply arrived while the page was closed.' }).waitFor();
    assert.equal(await page.locator('.msg').count(), bubblesBefore + 1, 'history kept, the waiting reply added once');
    const again = await say('Still me?');
    assert.equal(again.chat.userId, before);
  });
});
