/**
 * The chat gateway sidebar's chat history in headless Chromium, with the demo running (a real
 * Node-RED process): a message shows in the message log, its chat JID opens the chat's history,
 * newest first with "older" paging back, and a stranger's markup in it is shown as text, never run.
 */
import { strict as assert } from 'node:assert';
import type { Page } from 'playwright-core';
import { closeEditor, openEditor, type EditorSession } from '../helpers/browser';
import { DEMO_GATEWAY_ID, postJson, type Demo } from '../helpers/demo';

const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script> hello history';

describe('the chat gateway sidebar: chat history', function () {
  this.timeout(90000);
  let session: EditorSession | undefined;
  let demo: Demo;
  let page: Page;
  let problems: string[] = [];

  before(async () => {
    session = await openEditor('chatgate-history-', { width: 1600, height: 900 });
    ({ demo, page, problems } = session);
  });

  after(() => closeEditor(session));

  afterEach(() => {
    assert.deepEqual(problems.splice(0), [], 'the editor logs no errors');
  });

  it('opens a chat from the message log: its messages newest first, markup shown as text, older pages on demand', async () => {
    // 26 turns are 52 messages: one more page than the panel's 50.
    for (let i = 1; i <= 25; i++) assert.equal((await postJson(demo!.base, { userId: 'eve', chatId: 'c-eve', text: `turn ${i}` })).status, 200);
    const last = await postJson(demo!.base, { userId: 'eve', chatId: 'c-eve', text: HOSTILE, userName: '<b>Eve</b>' });
    assert.equal(last.status, 200);

    await page.evaluate(() => (window as any).RED.sidebar.show('chatgate')); // eslint-disable-line @typescript-eslint/no-explicit-any
    const sb = page.locator('.chatgate-sb');
    await sb.locator('.chatgate-sb-gateway').selectOption(DEMO_GATEWAY_ID);
    const line = sb.locator('.chatgate-sb-logline.chatgate-sb-in', { hasText: 'hello history' });
    await line.waitFor({ timeout: 10000 });
    assert.match(await line.innerText(), /<script>/, 'the log shows the markup as text');

    await line.locator('.chatgate-sb-chat[data-jid="webhook:c-eve"]').click();
    const panel = sb.locator('.chatgate-sb-history');
    await panel.waitFor();
    assert.equal(await panel.locator('.chatgate-sb-history-chat').innerText(), 'webhook:c-eve');
    const lines = panel.locator('.chatgate-sb-histline');
    await lines.nth(49).waitFor();
    assert.equal(await lines.count(), 50, 'one page');

    // Newest first: the reply to the hostile message, then the message itself, exactly as written.
    assert.ok((await lines.nth(0).getAttribute('class'))!.includes('chatgate-sb-out'));
    const hostile = lines.nth(1);
    assert.ok((await hostile.getAttribute('class'))!.includes('chatgate-sb-in'));
    assert.equal(await hostile.locator('.chatgate-sb-text').innerText(), HOSTILE);
    assert.match(await hostile.locator('.chatgate-sb-meta').innerText(), /<b>Eve<\/b> · webhook:eve · /, 'user name and JID as text, with the thread');
    assert.equal(await panel.locator('img, script, b').count(), 0, 'no element made from chat text');
    assert.equal(await page.evaluate(() => (window as any).__pwned), undefined); // eslint-disable-line @typescript-eslint/no-explicit-any

    const older = panel.locator('.chatgate-sb-history-older');
    assert.ok(await older.isVisible(), 'older is offered');
    await older.click();
    await lines.nth(51).waitFor();
    assert.equal(await lines.count(), 52);
    assert.equal(await lines.nth(51).locator('.chatgate-sb-text').innerText(), 'turn 1', 'the oldest message last');
    await older.waitFor({ state: 'hidden' });
    const seqs = await lines.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first, each once');
    assert.equal(new Set(seqs).size, 52);

    // A new message in the chat shows on top at the next poll.
    await postJson(demo!.base, { userId: 'eve', chatId: 'c-eve', text: 'one more' });
    await panel.locator('.chatgate-sb-histline.chatgate-sb-out', { hasText: 'You said: "one more"' }).waitFor({ timeout: 10000 });
    assert.equal(await lines.nth(1).locator('.chatgate-sb-text').innerText(), 'one more');

    await panel.locator('.chatgate-sb-history-close').click();
    await panel.waitFor({ state: 'hidden' });
  });

  it('starts the message log over when the gateway restarts: no entry of the new log is taken as seen', async () => {
    const sb = page.locator('.chatgate-sb');
    await sb.locator('.chatgate-sb-logline.chatgate-sb-in', { hasText: 'one more' }).waitFor({ timeout: 10000 });
    const logOf = async () => (await (await fetch(`${demo!.base}/chatgate/gateways/${DEMO_GATEWAY_ID}/log`)).json()) as { epoch: string; lastSeq: number };
    const before = await logOf();
    assert.ok(before.lastSeq >= 50, `the log has counted past 50 (${before.lastSeq})`);
    // The sidebar stops polling while another tab is shown; the flows restart meanwhile and the
    // new gateway's log counts past where the sidebar had got to.
    await page.evaluate(() => (window as any).RED.sidebar.show('info')); // eslint-disable-line @typescript-eslint/no-explicit-any
    const flows = await (await fetch(`${demo!.base}/flows`)).json();
    const reload = await fetch(`${demo!.base}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'reload' }, body: JSON.stringify(flows) });
    assert.equal(reload.status, 204);
    for (let i = 0; i < 100 && (await logOf().catch(() => before)).epoch === before.epoch; i++) await new Promise((r) => setTimeout(r, 100));
    const after = await logOf();
    assert.notEqual(after.epoch, before.epoch, 'a restarted gateway names a new log');
    // 34 chats at once, then one more: 70 entries, past the 50 the sidebar keeps.
    const posts = await Promise.all(Array.from({ length: 34 }, (_, i) => postJson(demo!.base, { userId: `fay${i + 1}`, chatId: `c-fay${i + 1}`, text: `after restart ${i + 1}` })));
    assert.deepEqual(posts.map((p) => p.status), posts.map(() => 200));
    assert.equal((await postJson(demo!.base, { userId: 'fay35', chatId: 'c-fay35', text: 'after restart 35' })).status, 200);
    assert.ok((await logOf()).lastSeq > before.lastSeq);

    await page.evaluate(() => (window as any).RED.sidebar.show('chatgate')); // eslint-disable-line @typescript-eslint/no-explicit-any
    await sb.locator('.chatgate-sb-logline.chatgate-sb-out', { hasText: 'You said: "after restart 35"' }).waitFor({ timeout: 10000 });
    // The last 50 of the new log's 70 entries, not only those counted past where it had got to.
    assert.equal(await sb.locator('.chatgate-sb-logline').count(), 50);
    assert.equal(await sb.locator('.chatgate-sb-logline', { hasText: 'one more' }).count(), 0, 'nothing of the old log is left');
  });
});
