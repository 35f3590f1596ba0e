/**
 * The Node-RED editor in headless Chromium, as an operator meets it with the demo running
 * (test/helpers/demo.ts: a real Node-RED process and the scripted model): it loads with no console
 * errors; every chatgate node is in the palette and its edit dialog and help open; an example
 * imports through Import > Examples and deploys; the chat gateway sidebar shows the demo's
 * channels, threads, allowlist and messages. Screenshots go to docs/images/.
 * Telegram's nodes are covered by the Telegram tests.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { closeEditor, openEditor, type EditorSession } from '../helpers/browser';
import { DEMO_GATEWAY_ID, postJson, problemLines, type Demo } from '../helpers/demo';

const ROOT = path.resolve(__dirname, '../..');
const IMAGES = path.join(ROOT, 'docs/images');
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** Every chatgate node type the palette must show: the listed node sets' types, less config nodes. */
function paletteTypes(): string[] {
  const types: string[] = [];
  for (const file of Object.values(PKG['node-red'].nodes as Record<string, string>)) {
    if (!file.startsWith('dist/')) continue;
    const html = fs.readFileSync(path.join(ROOT, file.replace(/\.js$/, '.html')), 'utf8');
    for (const m of html.matchAll(/registerType\(\s*'([^']+)'\s*,\s*\{\s*category:\s*'([^']+)'/g)) {
      if (m[2] !== 'config') types.push(m[1]);
    }
  }
  return types.concat('chatgate-agent-pipeline');
}


describe('the Node-RED editor in Chromium', function () {
  this.timeout(90000);
  let session: EditorSession | undefined;
  let demo: Demo;
  let page: Page;
  let problems: string[] = [];

  before(async () => {
    session = await openEditor('chatgate-editor-', { width: 1920, height: 900 });
    ({ demo, page, problems } = session);
    await page.waitForFunction(() => (window as any).RED?.nodes?.filterNodes({ type: 'chatgate-agent-call' }).length > 0); // eslint-disable-line @typescript-eslint/no-explicit-any
  });

  after(() => closeEditor(session));

  afterEach(() => {
    assert.deepEqual(problems.splice(0), [], 'the editor logs no errors');
  });

  it('loads with every chatgate node in the palette, under "chat gateway"', async () => {
    for (const type of paletteTypes()) {
      const el = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
      assert.equal(await el.count(), 1, `${type} is in the palette`);
      const category = await el.evaluate((n) => n.closest('.red-ui-palette-category')?.id ?? '');
      assert.match(category, /chat.gateway/, `${type} is in the chat gateway category (${category})`);
    }
    await page.evaluate(() => (window as any).RED.view.focus?.()); // eslint-disable-line @typescript-eslint/no-explicit-any
    fs.mkdirSync(IMAGES, { recursive: true });
    await page.screenshot({ path: path.join(IMAGES, 'editor.png') });
  });

  it('imports an example through Import > Examples and deploys it; it answers', async () => {
    await importExample('webhook-sync');
    await importExample('agent-pipeline');
    await deploy();
    const sync = await postJson(demo!.base, { userId: 'u9', text: 'from the editor' }, '/chatgate/example/sync');
    assert.equal(sync.status, 200, JSON.stringify(sync.body));
    assert.match(sync.body.text, /You said: "from the editor"/);
    const flows = (await (await fetch(`${demo!.base}/flows`)).json()) as Array<{ type: string; gateway?: string }>;
    const pipeline = flows.find((n) => n.type === 'chatgate-agent-pipeline');
    assert.ok(pipeline, 'the pipeline node was deployed');
    assert.ok(flows.some((n) => n.type === 'chatgate-gateway' && (n as { id?: string }).id === pipeline!.gateway), 'with its gateway');
  });

  it('opens the edit dialog and the help of every chatgate node', async () => {
    for (const type of paletteTypes().concat('chatgate-gateway')) {
      const opened = await page.evaluate((t) => {
        const RED = (window as any).RED; // eslint-disable-line @typescript-eslint/no-explicit-any
        if (t === 'chatgate-gateway') {
          let gw: string | undefined;
          RED.nodes.eachConfig((c: { type: string; id: string }) => {
            if (!gw && c.type === t) gw = c.id;
          });
          RED.editor.editConfig('', t, gw);
          return !!gw;
        }
        // A node no deployed flow uses (Telegram needs a token to deploy) is dropped onto the canvas.
        if (!RED.nodes.filterNodes({ type: t })[0]) RED.view.importNodes([{ id: RED.nodes.id(), type: t, x: 200, y: 400, z: RED.workspaces.active() }]);
        const n = RED.nodes.filterNodes({ type: t })[0];
        if (!n) return false;
        RED.workspaces.show(n.z);
        RED.editor.edit(n);
        return true;
      }, type);
      assert.ok(opened, `a ${type} node is in the flows`);
      const tray = page.locator('.red-ui-tray').last();
      await tray.locator('.red-ui-tray-body .form-row, .red-ui-tray-body .red-ui-editableList, .red-ui-tray-body input').first().waitFor({ timeout: 5000 });
      // No label is left showing a bare i18n key.
      const labels = await tray.locator('label, .form-tips, h4').allInnerTexts();
      for (const l of labels) assert.doesNotMatch(l, /^[\w-]+\.[\w.-]+$/, `${type}: "${l}" is translated`);
      await closeTrays();

      // The help's first paragraph is the palette tooltip, so it must be there and say something.
      const first = await page.evaluate((t) => {
        const RED = (window as any).RED; // eslint-disable-line @typescript-eslint/no-explicit-any
        RED.sidebar.help.show(t);
        const html = RED.nodes.getNodeHelp(t) ?? '';
        const div = document.createElement('div');
        div.innerHTML = t === 'chatgate-agent-pipeline' ? RED.utils.renderMarkdown(html) : html;
        return div.querySelector('p')?.textContent?.trim() ?? '';
      }, type);
      assert.ok(first.length > 40, `${type}'s help starts with a paragraph: "${first}"`);
      const help = page.locator('.red-ui-help', { hasText: first.slice(0, 40) }).first();
      await help.waitFor({ timeout: 5000 });
      const text = await help.innerText();
      for (const heading of ['Inputs', 'Outputs', 'Details', 'References']) assert.ok(text.includes(heading), `${type}'s help has ${heading}`);
    }
  });

  it('the chat gateway sidebar shows the demo\'s channels, threads, allowlist and messages, and changes them', async () => {
    const a = await postJson(demo!.base, { userId: 'ada', chatId: 'c-ada', text: 'hello sidebar' });
    assert.equal(a.status, 200);
    await postJson(demo!.base, { userId: 'bob', chatId: 'c-bob', text: 'and me' });
    await page.evaluate(() => (window as any).RED.sidebar.show('chatgate')); // eslint-disable-line @typescript-eslint/no-explicit-any
    const sb = page.locator('.chatgate-sb');
    await sb.locator('.chatgate-sb-gateway').selectOption(DEMO_GATEWAY_ID);
    await sb.locator('.chatgate-sb-channel[data-state="connected"]').nth(3).waitFor({ timeout: 10000 });
    const channels = await sb.locator('.chatgate-sb-channel .chatgate-sb-name').allInnerTexts();
    for (const name of ['web chat', 'POST /chatgate/demo', 'webhook reply']) assert.ok(channels.includes(name), `${name} in ${channels}`);
    // Where the state lives, and that it is reachable: the demo runs on the embedded database.
    assert.match(await sb.locator('.chatgate-sb-store').innerText(), /^store: sqlite .*gateway-c9a7000000000002\.sqlite \(ready/);
    await sb.locator(`.chatgate-sb-thread[data-id="${a.body.thread.id}"]`).waitFor();
    assert.ok((await sb.locator('.chatgate-sb-thread').count()) >= 2);
    await sb.locator('.chatgate-sb-logline.chatgate-sb-in', { hasText: 'hello sidebar' }).waitFor();
    await sb.locator('.chatgate-sb-logline.chatgate-sb-out', { hasText: 'You said: "hello sidebar"' }).waitFor();

    await sb.locator('.chatgate-sb-add-jid').fill('webhook:carol');
    await sb.locator('.chatgate-sb-add-label').fill('Carol');
    await sb.locator('.chatgate-sb-add button[type="submit"]').click();
    await sb.locator('.chatgate-sb-entry[data-jid="webhook:carol"]', { hasText: 'Carol' }).waitFor();
    const list = await (await fetch(`${demo!.base}/chatgate/gateways/${DEMO_GATEWAY_ID}/allowlist`)).json();
    assert.deepEqual(list.runtime, [{ jid: 'webhook:carol', label: 'Carol' }]);

    await sb.locator('.chatgate-sb-search').fill('c-bob');
    await page.waitForFunction(() => document.querySelectorAll('.chatgate-sb-thread').length === 1);
    assert.match(await sb.locator('.chatgate-sb-thread').innerText(), /webhook:c-bob/);
    await sb.locator('.chatgate-sb-search').fill('');
    await sb.locator(`.chatgate-sb-thread[data-id="${a.body.thread.id}"]`).waitFor();

    fs.mkdirSync(IMAGES, { recursive: true });
    await page.evaluate(() => (window as any).RED.workspaces.show('c9a7000000000001')); // eslint-disable-line @typescript-eslint/no-explicit-any
    await page.screenshot({ path: path.join(IMAGES, 'editor.png') });
    await page.locator('#red-ui-sidebar').screenshot({ path: path.join(IMAGES, 'sidebar.png') });

    await sb.locator('.chatgate-sb-entry[data-jid="webhook:carol"] .chatgate-sb-remove').click();
    await sb.locator('.chatgate-sb-entry[data-jid="webhook:carol"]').waitFor({ state: 'detached' });
    await sb.locator(`.chatgate-sb-thread[data-id="${a.body.thread.id}"] .chatgate-sb-end`).click();
    await sb.locator(`.chatgate-sb-thread[data-id="${a.body.thread.id}"]`).waitFor({ state: 'detached' });
    const again = await postJson(demo!.base, { userId: 'ada', chatId: 'c-ada', text: 'still there?' });
    assert.notEqual(again.body.thread.id, a.body.thread.id, 'the ended thread is gone; a new one starts');
    assert.deepEqual(problemLines(demo!), []);
  });

  /**
   * Cancels the open edit trays. On a loaded machine a click can land while a tray still slides
   * in (its buttons not yet wired), so the cancel is clicked again until no tray is left.
   */
  async function closeTrays() {
    const deadline = Date.now() + 30000;
    while ((await page.locator('.red-ui-tray').count()) > 0) {
      assert.ok(Date.now() < deadline, `an edit tray did not close: ${await page.locator('.red-ui-tray-header').allInnerTexts()}`);
      await page.locator('#node-dialog-cancel, #node-config-dialog-cancel').first().click({ timeout: 5000 }).catch(() => undefined);
      await page.waitForFunction(() => document.querySelectorAll('.red-ui-tray').length === 0, undefined, { timeout: 3000 }).catch(() => undefined);
    }
  }

  async function importExample(name: string) {
    await page.click('#red-ui-header-button-sidemenu');
    await page.click('#menu-item-import');
    await page.click('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples a');
    const examples = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    const label = (text: string | RegExp) => examples.locator('.red-ui-treeList-label', { has: page.locator('.red-ui-treeList-label-text', { hasText: text }) }).first();
    await label('@chatgate/node-red').click();
    await label(new RegExp(`^${name}$`)).click();
    await page.click('#red-ui-clipboard-dialog-ok');
    await page.locator('#red-ui-clipboard-dialog').waitFor({ state: 'hidden' });
    // An example with its own tab opens as a new flow; placement needs no click on the canvas.
    const tab = name === 'webhook-sync' ? 'chatgate: webhook (sync)' : 'chatgate: agent pipeline';
    await page.locator('#red-ui-workspace-tabs .red-ui-tab-label', { hasText: tab }).first().waitFor();
  }

  async function deploy() {
    await page.click('#red-ui-header-button-deploy');
    // A confirmation (e.g. about unused config nodes) is answered as an operator would.
    const confirm = page.locator('#red-ui-header-button-deploy-confirm, .red-ui-notification button.primary');
    await Promise.race([
      page.waitForSelector('.red-ui-notification:has-text("Successfully deployed")', { timeout: 10000 }),
      confirm.first().waitFor({ timeout: 10000 }).then(async () => {
        await confirm.first().click();
        await page.waitForSelector('.red-ui-notification:has-text("Successfully deployed")', { timeout: 10000 });
      }),
    ]);
  }
});
