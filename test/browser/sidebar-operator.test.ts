/**
 * The operator in the loop, in headless Chromium with the demo running (a real Node-RED process
 * and the scripted demo model): from the chat gateway sidebar an operator takes a web chat thread
 * over, answers it in Markdown that reaches the visitor's page rendered, and hands it back; the
 * agent's next answer counts the turns it held back. A visitor asking for a person flags the
 * thread in the sidebar and fires the agent call's "human" output (the demo's "for a person"
 * debug node, seen in the editor's debug sidebar). A stranger's markup stays text.
 */
import { strict as assert } from 'node:assert';
import type { Page } from 'playwright-core';
import { closeEditor, openEditor, type EditorSession } from '../helpers/browser';
import { DEMO_GATEWAY_ID, postJson, problemLines, type Demo } from '../helpers/demo';

const API = `/chatgate/gateways/${DEMO_GATEWAY_ID}`;

describe('the chat gateway sidebar: the operator in the loop', function () {
  this.timeout(90000);
  let session: EditorSession | undefined;
  let demo: Demo;
  let page: Page;
  let problems: string[] = [];

  before(async () => {
    session = await openEditor('chatgate-operator-', { width: 1600, height: 1000 });
    ({ demo, page, problems } = session);
    await page.evaluate(() => (window as any).RED.sidebar.show('chatgate')); // eslint-disable-line @typescript-eslint/no-explicit-any
    await page.locator('.chatgate-sb .chatgate-sb-gateway').selectOption(DEMO_GATEWAY_ID);
  });

  after(() => closeEditor(session));

  afterEach(() => {
    assert.deepEqual(problems.splice(0), [], 'the editor logs no errors');
  });

  /** A web chat visitor: their own page on the demo's chat, and their chat JID. */
  async function visitor(): Promise<{ chat: Page; jid: string; say: (text: string) => Promise<void> }> {
    const chat = await session!.browser.newPage({ viewport: { width: 720, height: 900 } });
    chat.on('pageerror', (e) => problems.push(`chat pageerror: ${e.message}`));
    await chat.goto(`${demo.base}/chatgate/webchat`);
    await chat.waitForSelector('#state[data-state="connected"]', { timeout: 10000 });
    const userId = await chat.evaluate(() => localStorage.getItem('chatgate:/chatgate/webchat:userId'));
    const say = async (text: string) => {
      const mine = await chat.locator('.msg.me').count();
      await chat.fill('#input', text);
      await chat.press('#input', 'Enter');
      await chat.locator('.msg.me').nth(mine).waitFor();
    };
    return { chat, jid: `webchat:${userId}`, say };
  }

  /** The last bot bubble once it has finished streaming and holds `text`. */
  async function botSays(chat: Page, text: RegExp) {
    await chat.waitForFunction(
      (src) => {
        const bots = document.querySelectorAll('.msg.bot:not(.streaming)');
        const last = bots[bots.length - 1];
        return !!last && new RegExp(src).test(last.textContent ?? '');
      },
      text.source,
      { timeout: 15000 },
    );
    return chat.locator('.msg.bot').last();
  }

  async function threadOf(jid: string): Promise<string> {
    const page = (await (await fetch(`${demo.base}${API}/threads?q=${encodeURIComponent(jid)}`)).json()) as { items: Array<{ id: string; chatJid: string }> };
    const t = page.items.find((x) => x.chatJid === jid);
    assert.ok(t, `a thread for ${jid}`);
    return t.id;
  }

  it('takes a web chat thread over, answers it in Markdown the visitor sees rendered, and hands it back', async () => {
    const v = await visitor();
    await v.say('hello there');
    await botSays(v.chat, /turn 1/);
    const threadId = await threadOf(v.jid);

    const sb = page.locator('.chatgate-sb');
    const row = sb.locator(`.chatgate-sb-thread[data-id="${threadId}"]`);
    await row.waitFor({ timeout: 10000 });
    await row.locator('.chatgate-sb-thread-id').click();
    const panel = sb.locator('.chatgate-sb-history');
    await panel.waitFor();
    assert.equal(await panel.locator('.chatgate-sb-history-chat').innerText(), v.jid);
    const op = panel.locator('.chatgate-sb-op');
    await op.locator('.chatgate-sb-takeover').click();
    await panel.locator('.chatgate-sb-op[data-held="me"]').waitFor();
    assert.match(await op.locator('.chatgate-sb-op-status').innerText(), /You hold this thread/);
    await row.locator('.chatgate-sb-badge-takeover', { hasText: 'taken over by admin' }).waitFor({ timeout: 10000 });

    // Held back from the agent: the visitor's message reaches the operator's panel, and no bot answer comes.
    const bots = await v.chat.locator('.msg.bot').count();
    await v.say('<b>is anyone</b> there?');
    const held = panel.locator('.chatgate-sb-histline.chatgate-sb-in', { hasText: '<b>is anyone</b> there?' });
    await held.waitFor({ timeout: 10000 });
    assert.equal(await panel.locator('.chatgate-sb-histline b').count(), 0, 'the stranger\'s markup is text');

    // Enter sends; Shift+Enter is a new line in the reply.
    const box = op.locator('.chatgate-sb-reply-text');
    await box.fill('Yes, a person: **bold** and `code`');
    await box.press('Shift+Enter');
    await box.type('second line');
    assert.equal(await box.inputValue(), 'Yes, a person: **bold** and `code`\nsecond line');
    await box.press('Enter');
    const answer = await botSays(v.chat, /second line/);
    assert.equal(await answer.locator('strong').textContent(), 'bold');
    assert.equal(await answer.locator('code').textContent(), 'code');
    assert.equal(await v.chat.locator('.msg.bot').count(), bots + 1, 'only the operator answered');
    assert.equal(await box.inputValue(), '', 'the reply box is cleared once sent');
    await panel.locator('.chatgate-sb-histline.chatgate-sb-out', { hasText: 'second line' }).waitFor({ timeout: 10000 });

    await op.locator('.chatgate-sb-handback').click();
    await panel.locator('.chatgate-sb-op[data-held="agent"]').waitFor();
    assert.ok(await op.locator('.chatgate-sb-takeover').isVisible(), 'the thread can be taken over again');
    assert.ok(!(await op.locator('.chatgate-sb-reply').isVisible()), 'no reply box once handed back');

    // The agent answers again, with the human turns in its memory: the visitor's message it did not
    // see makes this its third user turn...
    await v.say('thanks, bot');
    const back = await botSays(v.chat, /You said: "thanks, bot"/);
    assert.match((await back.textContent()) ?? '', /turn 3/);
    // ...and the operator's reply as the answer before it (the demo model quotes the last one it was sent).
    assert.match((await back.textContent()) ?? '', /The last answer in my memory begins: "Yes, a person: bold and code"/);
    await v.chat.close();
  });

  it('pages through the threads one page at a time and searches on the server once typing stops', async () => {
    // 55 more chats: the list holds more than one page of 50.
    const posts = Array.from({ length: 55 }, (_, i) => () => postJson(demo.base, { userId: `pager-${i}`, chatId: `pager-${i}`, text: 'page me' }));
    for (let i = 0; i < posts.length; i += 11) await Promise.all(posts.slice(i, i + 11).map((p) => p()));
    const total = ((await (await fetch(`${demo.base}${API}/threads?limit=1`)).json()) as { total: number }).total;
    assert.ok(total > 55);

    const sb = page.locator('.chatgate-sb');
    const range = sb.locator('.chatgate-sb-range');
    await range.filter({ hasText: `1–50 of ${total}` }).waitFor({ timeout: 10000 });
    assert.equal(await sb.locator('.chatgate-sb-thread').count(), 50, 'one page rendered');
    assert.ok(await sb.locator('.chatgate-sb-prev').isDisabled());
    await sb.locator('.chatgate-sb-next').click();
    await range.filter({ hasText: `51–${total} of ${total}` }).waitFor();
    assert.equal(await sb.locator('.chatgate-sb-thread').count(), total - 50);
    assert.ok(await sb.locator('.chatgate-sb-next').isDisabled());

    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => {
      const q = new URL(r.url()).searchParams.get('q');
      if (r.url().includes('/threads?') && q !== null) asked.push(q);
    };
    page.on('request', onRequest);
    await sb.locator('.chatgate-sb-search').pressSequentially('pager-7', { delay: 20 });
    await page.waitForFunction(() => document.querySelectorAll('.chatgate-sb-thread').length === 1);
    assert.match(await sb.locator('.chatgate-sb-thread').innerText(), /webhook:pager-7/);
    assert.ok(await sb.locator('.chatgate-sb-pager').isHidden(), 'one page: no pager');
    assert.ok(asked.length >= 1 && asked.every((q) => q === 'pager-7'), `the server is asked once typing stops, from the first page: ${asked}`);
    page.off('request', onRequest);
    await sb.locator('.chatgate-sb-search').fill('');
    await range.filter({ hasText: `1–50 of ${total}` }).waitFor();
  });

  it('shows 409 with the holder when another operator has the thread, in the panel', async () => {
    const v = await visitor();
    await v.say('second visitor');
    await botSays(v.chat, /turn 1/);
    const threadId = await threadOf(v.jid);
    const sb = page.locator('.chatgate-sb');
    const row = sb.locator(`.chatgate-sb-thread[data-id="${threadId}"]`);
    await row.waitFor({ timeout: 10000 });
    await row.locator('.chatgate-sb-thread-id').click();
    const op = sb.locator('.chatgate-sb-history .chatgate-sb-op');
    await op.locator('.chatgate-sb-takeover').waitFor();
    // Someone else takes it first; without adminAuth every caller is "admin", so the route is asked as
    // the sidebar would be and the desk's answer is faked only for this one request.
    await page.route(`**${API}/threads/*/takeover`, (r) => r.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ error: 'taken', operator: 'grace' }) }), { times: 1 });
    await op.locator('.chatgate-sb-takeover').click();
    await op.locator('.chatgate-sb-op-error', { hasText: 'Taken over by grace' }).waitFor();
    await page.unroute(`**${API}/threads/*/takeover`);
    // The browser logs the refused request itself; that one line is expected.
    const refused = problems.findIndex((p) => /status of 409/.test(p));
    assert.ok(refused >= 0);
    problems.splice(refused, 1);
    assert.ok(await op.locator('.chatgate-sb-takeover').isVisible(), 'still offered: the agent keeps the thread');
    await v.chat.close();
  });

  it('flags a visitor who asks for a person: a count and a badge in the sidebar, the "human" output fired, dismissed', async () => {
    const v = await visitor();
    await v.say('hi');
    await botSays(v.chat, /turn 1/);
    await v.say('I want a human');
    const told = await botSays(v.chat, /asking a person/);
    assert.doesNotMatch((await told.textContent()) ?? '', /\[\[handoff/, 'the marker is cut from what the visitor sees');
    const threadId = await threadOf(v.jid);

    const sb = page.locator('.chatgate-sb');
    await sb.locator('.chatgate-sb-flagged-count', { hasText: '1 want a person' }).waitFor({ timeout: 10000 });
    const flag = sb.locator(`.chatgate-sb-flag[data-id="${threadId}"]`);
    assert.match(await flag.innerText(), /the user asked for a person/);
    const row = sb.locator(`.chatgate-sb-thread.chatgate-sb-thread-flagged[data-id="${threadId}"]`);
    await row.locator('.chatgate-sb-badge-handoff', { hasText: 'wants a person: the user asked for a person' }).waitFor();

    // The flow's page-someone branch: the agent call's "human" output reaches the debug node.
    await page.evaluate(() => (window as any).RED.sidebar.show('debug')); // eslint-disable-line @typescript-eslint/no-explicit-any
    const debug = page.locator('.red-ui-debug-msg', { has: page.locator('.red-ui-debug-msg-name', { hasText: 'for a person' }), hasText: 'I want a human' });
    await debug.first().waitFor({ timeout: 10000 });
    await page.evaluate(() => (window as any).RED.sidebar.show('chatgate')); // eslint-disable-line @typescript-eslint/no-explicit-any

    await flag.locator('.chatgate-sb-flag-chat').click();
    const op = sb.locator('.chatgate-sb-history .chatgate-sb-op');
    await op.locator('.chatgate-sb-op-handoff', { hasText: 'the user asked for a person' }).waitFor();
    await op.locator('.chatgate-sb-dismiss').click();
    await op.locator('.chatgate-sb-op-handoff').waitFor({ state: 'hidden' });
    await sb.locator('.chatgate-sb-flagged-count').waitFor({ state: 'hidden' });
    await v.chat.close();
    assert.deepEqual(problemLines(demo), []);
  });

  it('shows a user without the gateway\'s write permission no button that changes something', async () => {
    await page.evaluate(() => {
      const RED = (window as any).RED; // eslint-disable-line @typescript-eslint/no-explicit-any
      RED.user.__hasPermission = RED.user.hasPermission;
      RED.user.hasPermission = (p: string) => p !== 'chatgate-gateway.write';
    });
    try {
      const sb = page.locator('.chatgate-sb');
      await sb.locator('.chatgate-sb-refresh').click();
      await sb.locator('.chatgate-sb-add').waitFor({ state: 'hidden' });
      const row = sb.locator('.chatgate-sb-thread').first();
      await row.waitFor();
      await page.waitForFunction(() => document.querySelectorAll('.chatgate-sb-end').length === 0);
      await row.locator('.chatgate-sb-thread-id').click();
      const op = sb.locator('.chatgate-sb-history .chatgate-sb-op');
      await op.locator('.chatgate-sb-op-status').waitFor();
      for (const cls of ['takeover', 'handback', 'reply', 'dismiss']) assert.ok(await op.locator(`.chatgate-sb-${cls}`).isHidden(), `no ${cls} for a reader`);
    } finally {
      await page.evaluate(() => {
        const RED = (window as any).RED; // eslint-disable-line @typescript-eslint/no-explicit-any
        RED.user.hasPermission = RED.user.__hasPermission;
      });
    }
  });
});
