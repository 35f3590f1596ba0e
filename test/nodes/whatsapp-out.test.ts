/**
 * The whatsapp out node in the real runtime against the Cloud API emulator, asserting what each
 * user's phone shows: long Markdown replies as several well-formed parts in order, paced through
 * 131056 answers with none lost and none doubled, buttons and lists, images and documents, the
 * read receipt and typing indicator, quotes, streamed replies sent once when done, the 24-hour
 * window named (and the template sent when one is set), Meta's later statuses in the gateway's
 * log, failures for Catch nodes, and no credential in any log.
 */
import assert from 'node:assert/strict';
import { startWhatsAppServer, type WhatsAppServer, type WhatsAppUser } from '../emulators/whatsapp-server';
import { enforcePermissionsByHeader, getNode, helper, setRedPatch, sleep, unload } from '../helpers/red';
import { until } from '../helpers/telegram';
import { accountNode, credentials, delivered, everythingSaid, failure, gateway, loadFlow, PATH, useEmulator, useHttpServer, VERIFY_TOKEN, whatsappChat, type FlowNode } from '../helpers/whatsapp';

describe('whatsapp out', function () {
  this.timeout(30000);
  let wa: WhatsAppServer;
  useHttpServer();
  useEmulator(() => wa, (s) => (wa = s), { pairRateMs: 0 });

  const url = () => `${helper.url()}${PATH}`;

  async function start(outOver: Record<string, unknown> = {}, accountOver: Record<string, unknown> = {}): Promise<void> {
    const flow: FlowNode[] = [
      gateway,
      accountNode(wa, accountOver),
      { id: 'in', type: 'chatgate-whatsapp-in', account: 'wa', gateway: 'gw', wires: [['h']] },
      { id: 'h', type: 'helper' },
      { id: 'out', type: 'chatgate-whatsapp-out', account: 'wa', gateway: 'gw', typing: 'typing', ...outOver },
    ];
    await loadFlow(flow, credentials(wa));
    await until(() => getNode('wa')?.connection?.status.key === 'connected', 5000, 'the account connected');
    wa.setWebhook(url());
  }

  /** The user writes first (the window opens), and the reply's envelope is that message's. */
  async function userWrote(user: WhatsAppUser, text = 'question'): Promise<Record<string, unknown>> {
    const message = wa.make.text(user, text);
    const d = await wa.userSends(url(), user, message);
    assert.equal(d.attempts[0].status, 200);
    return whatsappChat({ userId: user.userId, ...(user.waId ? { waId: user.waId } : {}), messageId: String(message.id) });
  }

  function send(msg: Record<string, unknown>): void {
    getNode('out').receive(msg);
  }

  const LONG = [
    '# Report',
    '',
    ...Array.from({ length: 30 }, (_, i) => `Paragraph ${i + 1} with **bold**, _italic_ and \`code\`: ${'words and more words '.repeat(9)}`),
    '',
    '```js',
    ...Array.from({ length: 60 }, (_, i) => `const line${i} = ${i}; // a code line that is long enough to matter`),
    '```',
    '',
    '| a | b |',
    '| - | - |',
    '| 1 | 2 |',
    '',
    'The end, see [the docs](https://example.com/docs).',
  ].join('\n');

  it('a long Markdown reply arrives as several well-formed parts in order, code fences balanced', async () => {
    await start();
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    const done = delivered('out');
    send({ payload: LONG, chat });
    await done;
    const items = wa.phone(alice);
    assert.ok(items.length >= 3, `${items.length} parts`);
    for (const it of items) {
      assert.equal(it.type, 'text');
      assert.ok(it.text!.length <= 4096, `part of ${it.text!.length}`);
      assert.equal((it.text!.match(/```/g) ?? []).length % 2, 0, 'every part opens and closes its code block');
    }
    const all = items.map((i) => i.text).join('\n');
    assert.ok(all.startsWith('*Report*'), 'the heading as a bold line');
    assert.ok(all.includes('*bold*') && all.includes('_italic_'));
    assert.ok(all.includes('the docs (https://example.com/docs)'), 'a link as label (url)');
    const order = Array.from({ length: 30 }, (_, i) => all.indexOf(`Paragraph ${i + 1} `));
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'paragraphs in order');
    assert.ok(!order.includes(-1));
    for (let i = 0; i < 60; i++) assert.ok(all.includes(`const line${i} = ${i};`), `code line ${i}`);
    assert.ok(everythingSaid('out').some((s) => s.includes(`sent to wa:${alice.userId} (${items.length} msg)`)));
  });

  it('parts are paced through 131056 (pair rate) answers: all shown in order, none lost, none doubled', async () => {
    await wa.close();
    wa = await startWhatsAppServer({ pairRateMs: 250 });
    await start({}, { pairWait: 0.1 });
    const { bob } = wa.fixtures;
    const chat = await userWrote(bob);
    const done = delivered('out', 2, 25000);
    send({ payload: LONG, chat });
    send({ payload: 'and a second reply', chat });
    await done;
    const items = wa.phone(bob);
    const refused = wa.sent.filter((c) => c.errorCode === 131056).length;
    assert.ok(refused >= 1, 'the emulator refused some parts for the pair rate');
    assert.equal(items[items.length - 1].text, 'and a second reply', 'the second reply after every part of the first');
    const texts = items.map((i) => i.text!);
    assert.equal(new Set(texts).size, texts.length, 'no part twice');
    for (let i = 1; i < items.length; i++) assert.ok(items[i].at - items[i - 1].at >= 240, 'paced to the pair rate');
    assert.ok(texts.slice(0, -1).join('\n').includes('The end'), 'the last part of the first reply arrived');
  });

  it('buttons become reply buttons (up to 3) or a list; link buttons are written under the text; a press comes back', async () => {
    await start();
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    let done = delivered('out');
    send({ payload: 'Shall I?', chat, buttons: [{ text: 'Yes', data: 'yes' }, { text: 'No', data: 'no' }, { text: 'Docs', url: 'https://example.com' }] });
    await done;
    let last = wa.phone(alice).at(-1)!;
    assert.equal(last.type, 'interactive');
    assert.equal(last.interactiveType, 'button');
    assert.ok(last.text!.startsWith('Shall I?'));
    assert.ok(last.text!.includes('Docs: https://example.com'));
    assert.deepEqual(last.buttons, [{ id: 'yes', title: 'Yes' }, { id: 'no', title: 'No' }]);

    done = delivered('out');
    send({ payload: 'Pick one', chat, buttons: Array.from({ length: 5 }, (_, i) => ({ text: `Option ${i + 1}`, data: `o${i + 1}` })) });
    await done;
    last = wa.phone(alice).at(-1)!;
    assert.equal(last.interactiveType, 'list');
    assert.equal(last.list!.rows.length, 5);
    assert.equal(last.list!.button, 'Options');

    const err = failure('out');
    send({ payload: 'too many', chat, buttons: Array.from({ length: 11 }, (_, i) => ({ text: `B${i}`, data: `b${i}` })) });
    assert.match(await err, /at most 10/);

    const pressed = new Promise<Record<string, unknown>>((r) => getNode('h').once('input', r));
    await wa.userSends(url(), alice, wa.make.buttonReply(alice, { id: 'yes', title: 'Yes' }, wa.phone(alice)[0].id));
    assert.equal((await pressed).payload, 'yes');
  });

  it('typing marks the user\'s message read and shows the indicator; a quoted reply names the message', async () => {
    await start({ quote: true });
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    const messageId = (chat.replyTo as { messageId: string }).messageId;
    send({ event: 'typing', payload: '', chat });
    await until(() => wa.readReceipts.some((r) => r.messageId === messageId && r.typing), 3000, 'the read receipt with typing');
    const done = delivered('out');
    send({ payload: 'answer', chat });
    await done;
    const items = wa.phone(alice);
    assert.equal(items.length, 1);
    assert.equal(items[0].contextId, messageId, 'the reply quotes the question');
  });

  it('a streamed reply is sent once, whole, when it is done (WhatsApp cannot edit)', async () => {
    await start();
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    for (let seq = 0; seq < 4; seq++) send({ payload: 'partial '.repeat(seq + 1), chat, stream: { id: 's1', seq, done: false } });
    const done = delivered('out');
    send({ payload: 'the whole streamed answer', chat, stream: { id: 's1', seq: 4, done: true } });
    await done;
    await sleep(200);
    assert.deepEqual(wa.phone(alice).map((i) => i.text), ['the whole streamed answer']);
  });

  it('images and documents: a Buffer is uploaded first, a link sent as it is; the text becomes the caption', async () => {
    await start();
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
    let done = delivered('out');
    send({ payload: 'the chart', chat, image: png });
    await done;
    const img = wa.phone(alice).at(-1)!;
    assert.equal(img.type, 'image');
    assert.equal(img.media!.caption, 'the chart');
    assert.equal(wa.uploads.length, 1);
    assert.deepEqual(wa.uploads[0].bytes, png);
    assert.equal(img.media!.id, wa.uploads[0].id);
    done = delivered('out');
    send({ payload: 'the report', chat, document: 'https://example.com/report.pdf', filename: 'report.pdf' });
    await done;
    const doc = wa.phone(alice).at(-1)!;
    assert.equal(doc.type, 'document');
    assert.equal(doc.media!.link, 'https://example.com/report.pdf');
    assert.equal(doc.media!.filename, 'report.pdf');
    const bad = failure('out');
    send({ payload: 'x', chat, image: Buffer.from('GIF89a...') });
    assert.match(await bad, /JPEG or PNG/);
  });

  it('outside the 24-hour window the reply fails naming the window; with a template set, the template goes instead', async () => {
    await start();
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    wa.closeWindow(alice);
    const err = failure('out');
    send({ payload: 'too late?', chat });
    const message = await err;
    assert.match(message, /24-hour/);
    assert.match(message, /131047/);
    assert.equal(wa.phone(alice).length, 0);

    await unload();
    await start({ template: 'reopen_chat', templateLanguage: 'en', templateText: true });
    wa.closeWindow(alice);
    const done = delivered('out');
    send({ payload: 'Your **order** shipped.\n\nTracking: 123', chat });
    await done;
    const items = wa.phone(alice);
    assert.equal(items.length, 1);
    assert.equal(items[0].type, 'template');
    assert.equal(items[0].template!.name, 'reopen_chat');
    assert.deepEqual(items[0].template!.params, ['Your order shipped. Tracking: 123'], 'the reply as one flat parameter');
    assert.ok(everythingSaid('out').some((s) => s.includes('outside the 24-hour window') && s.includes('reopen_chat')));
  });

  it("Meta's statuses reach the gateway's log; a failed one shows in the status", async () => {
    await start();
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    const done = delivered('out');
    send({ payload: 'tracked', chat });
    await done;
    const id = wa.phone(alice)[0].id;
    const log = () => getNode('gw').gateway.state.log.list() as Array<{ direction: string; delivery?: string; chatJid?: string; text: string }>;
    await until(() => log().some((e) => e.direction === 'status' && e.delivery === 'delivered'), 5000, 'delivered in the log');
    wa.readAll(alice);
    await until(() => log().some((e) => e.direction === 'status' && e.delivery === 'read'), 5000, 'read in the log');
    await until(() => everythingSaid('out').some((s) => s.includes(`read by wa:${alice.userId}`)), 3000, 'read in the status');
    assert.ok(log().every((e) => e.direction !== 'status' || e.chatJid === `wa:${alice.userId}`));
    assert.equal(getNode('wa').connection.statuses.get(id).state, 'read');

    const second = delivered('out');
    send({ payload: 'will fail later', chat });
    await second;
    const failedId = wa.phone(alice).at(-1)!.id;
    wa.failMessage(failedId, 131026);
    await until(() => log().some((e) => e.delivery === 'failed'), 5000, 'failed in the log');
    assert.ok(log().find((e) => e.delivery === 'failed')!.text.includes('131026'));
    assert.ok(everythingSaid('out').some((s) => s.includes('Meta could not deliver') && s.includes('131026')));
  });

  it('Meta errors reach the Catch node as clean sentences; transient ones are retried, a lost answer is never repeated', async () => {
    await start();
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    wa.inject.error(131000, { times: 1 });
    let done = delivered('out');
    send({ payload: 'after a transient error', chat });
    await done;
    assert.deepEqual(wa.phone(alice).map((i) => i.text), ['after a transient error']);

    wa.inject.drop(1);
    let err = failure('out');
    send({ payload: 'answer lost', chat });
    assert.match(await err, /not repeated/);
    await sleep(300);
    assert.equal(wa.phone(alice).filter((i) => i.text === 'answer lost').length, 1, 'shown once, not twice');

    wa.inject.html(1);
    err = failure('out');
    send({ payload: 'through a broken proxy', chat });
    assert.match(await err, /not repeated/);

    wa.inject.error(131009, { times: 1, details: 'Parameter value is not valid' });
    err = failure('out');
    send({ payload: 'refused', chat });
    assert.match(await err, /131009/);

    done = delivered('out');
    send({ payload: 'and the next one goes', chat });
    await done;
    const said = everythingSaid('out');
    for (const secret of [wa.token, wa.appSecret, VERIFY_TOKEN]) assert.ok(!said.some((s) => s.includes(secret)), 'no credential in a log line or status');
  });

  it('a revoked token fails the reply and says so everywhere, without the token', async () => {
    await start();
    const { alice } = wa.fixtures;
    const chat = await userWrote(alice);
    wa.inject.revokeToken();
    const err = failure('out');
    send({ payload: 'no', chat });
    assert.match(await err, /190/);
    await until(() => getNode('wa').connection.status.key === 'unauthorized', 3000, 'the account says so');
    assert.ok(!everythingSaid('out').some((s) => s.includes(wa.token)));
  });

  it('a reply for another platform, or without an address, is refused with the field named', async () => {
    await start();
    let err = failure('out');
    send({ payload: 'x', chat: { ...whatsappChat({ userId: 'US.1' }), replyTo: { platform: 'telegram', channelId: 'wa', chatId: '1', userId: '1' } } });
    assert.match(await err, /not whatsapp/);
    err = failure('out');
    send({ payload: 'x', chat: whatsappChat({ userId: 'not a user id!' }) });
    assert.match(await err, /chatId/);
  });

  it("the gateway's admin send API delivers through the out node, by phone number or business-scoped id", async () => {
    setRedPatch(enforcePermissionsByHeader);
    try {
      await start();
      const { alice, hidden } = wa.fixtures;
      await userWrote(alice);
      await userWrote(hidden);
      await helper.request().post('/chatgate/gateways/gw/send').set('x-test-permissions', 'write').send({ chatJid: `wa:${alice.waId}`, text: 'from the **operator**' }).expect(200);
      await helper.request().post('/chatgate/gateways/gw/send').set('x-test-permissions', 'write').send({ chatJid: `wa:${hidden.userId}`, text: 'and to you' }).expect(200);
      const a = await wa.waitForPhone(alice, (items) => items.length === 1, 3000);
      assert.equal(a[0].text, 'from the *operator*', 'rendered for WhatsApp');
      const h = await wa.waitForPhone(hidden, (items) => items.length === 1, 3000);
      assert.equal(h[0].addressedBy, 'recipient');
      wa.closeWindow(alice);
      const late = await helper.request().post('/chatgate/gateways/gw/send').set('x-test-permissions', 'write').send({ chatJid: `wa:${alice.waId}`, text: 'a day later' });
      assert.ok(late.status >= 400, 'outside the window the admin send fails');
      assert.match(JSON.stringify(late.body), /24-hour/);
      const answers = [late, await helper.request().get('/chatgate/gateways/gw/channels').set('x-test-permissions', 'read'), await helper.request().get('/chatgate/gateways/gw/log').set('x-test-permissions', 'read')];
      for (const r of answers) for (const secret of [wa.token, wa.appSecret, VERIFY_TOKEN]) assert.ok(!JSON.stringify(r.body).includes(secret), 'no credential in an admin API answer');
    } finally {
      setRedPatch(undefined);
    }
  });
});
