/**
 * Pairing from the chat gateway sidebar, in headless Chromium: the demo's flow with its allowlist
 * filter in mode `pairing` (a real Node-RED process and the scripted demo model). A stranger on
 * the web chat gets a one-time code and nothing else; the code shows under "Pairing requests";
 * the operator approves it with a label, and the stranger's next message reaches the agent.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { closeEditor, openEditor, type EditorSession } from '../helpers/browser';
import { DEMO_GATEWAY_ID, postJson, problemLines, type Demo } from '../helpers/demo';

const DEMO_FLOW = path.resolve(__dirname, '../../examples/webchat-and-webhook-demo.json');

function pairingFlow(): object[] {
  const flow = JSON.parse(fs.readFileSync(DEMO_FLOW, 'utf8')) as Array<Record<string, unknown>>;
  for (const n of flow) if (n.type === 'chatgate-allowlist-filter') n.mode = 'pairing';
  return flow;
}

describe('the chat gateway sidebar: pairing requests', function () {
  this.timeout(60000);
  let session: EditorSession | undefined;
  let demo: Demo;
  let page: Page;
  let problems: string[] = [];

  before(async () => {
    session = await openEditor('chatgate-pairing-', { width: 1600, height: 1000 }, { flow: pairingFlow() });
    ({ demo, page, problems } = session);
    await page.evaluate(() => (window as any).RED.sidebar.show('chatgate')); // eslint-disable-line @typescript-eslint/no-explicit-any
    await page.locator('.chatgate-sb .chatgate-sb-gateway').selectOption(DEMO_GATEWAY_ID);
  });

  after(() => closeEditor(session));

  afterEach(() => {
    assert.deepEqual(problems.splice(0), [], 'the editor logs no errors');
  });

  it('approves a stranger\'s code with a label, and the stranger is let in', async () => {
    const chat = await session!.browser.newPage({ viewport: { width: 720, height: 900 } });
    chat.on('pageerror', (e) => problems.push(`chat pageerror: ${e.message}`));
    await chat.goto(`${demo.base}/chatgate/webchat`);
    await chat.waitForSelector('#state[data-state="connected"]', { timeout: 10000 });
    const jid = `webchat:${await chat.evaluate(() => localStorage.getItem('chatgate:/chatgate/webchat:userId'))}`;
    const say = async (text: string) => {
      await chat.fill('#input', text);
      await chat.press('#input', 'Enter');
    };

    await say('<img src=x onerror="window.__pwned=1"> let me in');
    const sb = page.locator('.chatgate-sb');
    const request = sb.locator('.chatgate-sb-pairing', { hasText: jid });
    await request.waitFor({ timeout: 10000 });
    const code = await request.locator('.chatgate-sb-pairing-code').innerText();
    assert.ok(code.length >= 4, `a code: ${code}`);
    assert.match(await request.locator('.chatgate-sb-meta').innerText(), /expires /);

    // The stranger got the code, and nothing from the agent.
    const bubble = chat.locator('.msg.bot', { hasText: code });
    await bubble.waitFor({ timeout: 10000 });
    assert.equal(await chat.locator('.msg.bot', { hasText: 'scripted demo model' }).count(), 0, 'the agent never saw the stranger');

    await request.locator('.chatgate-sb-pairing-label').fill('Stranger <b>one</b>');
    // Another stranger's request redraws the list: the label being typed stays.
    await postJson(demo.base, { userId: 'drifter', text: 'anyone there?' });
    const drifter = sb.locator('.chatgate-sb-pairing', { hasText: 'webhook:drifter' });
    await drifter.waitFor({ timeout: 10000 });
    assert.equal(await request.locator('.chatgate-sb-pairing-label').inputValue(), 'Stranger <b>one</b>');
    await drifter.locator('.chatgate-sb-deny').click();
    await drifter.waitFor({ state: 'detached' });
    await request.locator('.chatgate-sb-approve').click();
    await request.waitFor({ state: 'detached' });
    await sb.locator('.chatgate-sb-pairings .chatgate-sb-empty').waitFor();
    const entry = sb.locator(`.chatgate-sb-entry[data-jid="${jid}"]`);
    await entry.waitFor({ timeout: 10000 });
    assert.match(await entry.innerText(), /Stranger <b>one<\/b>/, 'the label as typed, shown as text');
    // The stranger is told they are in, in the chat the code went to.
    await chat.locator('.msg.bot', { hasText: "You're in" }).waitFor({ timeout: 10000 });

    await say('let me in now?');
    await chat.locator('.msg.bot', { hasText: 'You said: "let me in now?"' }).waitFor({ timeout: 15000 });
    assert.equal(await page.locator('.chatgate-sb b, .chatgate-sb img').count(), 0, 'no element made from a stranger\'s text');
    assert.equal(await chat.evaluate(() => (window as any).__pwned), undefined); // eslint-disable-line @typescript-eslint/no-explicit-any
    await chat.close();
    assert.deepEqual(problemLines(demo), []);
  });

  it('denies a code: it leaves the list and the stranger stays out', async () => {
    const chat = await session!.browser.newPage({ viewport: { width: 720, height: 900 } });
    await chat.goto(`${demo.base}/chatgate/webchat`);
    await chat.waitForSelector('#state[data-state="connected"]', { timeout: 10000 });
    const jid = `webchat:${await chat.evaluate(() => localStorage.getItem('chatgate:/chatgate/webchat:userId'))}`;
    await chat.fill('#input', 'knock knock');
    await chat.press('#input', 'Enter');
    const sb = page.locator('.chatgate-sb');
    const request = sb.locator('.chatgate-sb-pairing', { hasText: jid });
    await request.waitFor({ timeout: 10000 });
    await request.locator('.chatgate-sb-deny').click();
    await request.waitFor({ state: 'detached' });
    const list = (await (await fetch(`${demo.base}/chatgate/gateways/${DEMO_GATEWAY_ID}/allowlist`)).json()) as { runtime: Array<{ jid: string }> };
    assert.ok(!list.runtime.some((e) => e.jid === jid), 'not on the allowlist');
    await chat.close();
  });
});
