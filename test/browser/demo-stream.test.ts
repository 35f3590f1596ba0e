/**
 * The whole real path in a browser: the demo (a real Node-RED process with the scripted demo
 * model) streams its reply through the agent call, and the web chat page grows ONE bubble in place.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { freePort, problemLines, startDemo, stopDemo, type Demo } from '../helpers/demo';

const SCREENSHOT = path.resolve(__dirname, '../../docs/images/demo-stream.png');

describe('the demo in Chromium: a streamed reply grows in one bubble', function () {
  this.timeout(60000);
  let demo: Demo | undefined;
  let browser: Browser | undefined;

  before(async () => {
    demo = await startDemo(fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-demo-browser-')), await freePort());
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    if (demo) await stopDemo(demo);
  });

  it('shows partial text growing in place, then the whole reply; memory counts the turns', async () => {
    const page = await browser!.newPage({ viewport: { width: 720, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${demo!.base}/chatgate/webchat`);
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 10000 });

    await page.fill('#input', 'hello there');
    await page.press('#input', 'Enter');

    // Watch the bot bubbles while the reply streams in.
    const seen: Array<{ bubbles: number; text: string; streaming: boolean }> = [];
    const deadline = Date.now() + 20000;
    for (;;) {
      const snap = await page.evaluate(() => {
        const bots = Array.from(document.querySelectorAll('.msg.bot'));
        const last = bots[bots.length - 1];
        return { bubbles: bots.length, text: last?.textContent ?? '', streaming: !!last?.classList.contains('streaming') };
      });
      seen.push(snap);
      if (snap.bubbles && !snap.streaming && snap.text.includes('/reset')) break;
      if (Date.now() > deadline) throw new Error(`no whole reply; saw ${JSON.stringify(seen.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 40));
    }
    const final = seen[seen.length - 1].text;
    assert.match(final, /turn 1/);
    assert.match(final, /You said: "hello there"/);
    assert.ok(seen.every((s) => s.bubbles <= 1), 'one bubble for the whole streamed reply');
    const partials = seen.filter((s) => s.bubbles === 1 && s.streaming && s.text.length > 0 && s.text.length < final.length);
    assert.ok(partials.length >= 1, 'a partial reply was shown before the whole one');
    // A partial may end inside **bold** (shown as typed until it closes), so compare without the markers.
    const plain = (t: string) => t.replace(/[*`]/g, '').replace(/\s+/g, ' ').trim();
    for (const p of partials) {
      const head = plain(p.text).split(' ').slice(0, -1).join(' ');
      assert.ok(plain(final).startsWith(head), `partial "${p.text.slice(0, 60)}" is the start of the reply`);
    }
    assert.ok(await page.$('.msg.bot strong'), 'Markdown rendered');

    await page.fill('#input', 'and again');
    await page.press('#input', 'Enter');
    await page.waitForFunction(() => {
      const bots = document.querySelectorAll('.msg.bot');
      const last = bots[bots.length - 1];
      return bots.length === 2 && !last.classList.contains('streaming') && /turn 2/.test(last.textContent ?? '');
    }, undefined, { timeout: 20000 });

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(problemLines(demo!), []);
  });
});
