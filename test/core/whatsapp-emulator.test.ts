/**
 * The WhatsApp Cloud API emulator itself, driven by plain fetch, node:crypto and small local HTTP
 * servers standing in for the app's webhook: if it drifts from Meta's wire protocol, every
 * WhatsApp node test built on it would prove the wrong thing.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startWhatsAppServer, type Json, type WhatsAppServer, type WhatsAppServerOptions } from '../emulators/whatsapp-server';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface FetchResult {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function graph(wa: WhatsAppServer, method: string, path: string, body?: unknown, opts: { auth?: string | false; form?: FormData; version?: string } = {}): Promise<FetchResult> {
  const headers: Record<string, string> = {};
  if (opts.auth !== false) headers.authorization = `Bearer ${opts.auth ?? wa.token}`;
  let payload: string | FormData | undefined;
  if (opts.form) payload = opts.form;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${wa.baseUrl}/${opts.version ?? 'v21.0'}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const send = (wa: WhatsAppServer, body: Json, opts: { auth?: string | false } = {}): Promise<FetchResult> => graph(wa, 'POST', `/${wa.phoneNumberId}/messages`, { messaging_product: 'whatsapp', recipient_type: 'individual', ...body }, opts);
const text = (to: string, body: string, extra: Json = {}): Json => ({ to, type: 'text', text: { body }, ...extra });

interface Captured {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  at: number;
}
type Behaviour = (req: Captured, n: number) => { status?: number; delayMs?: number; body?: string };

/** A webhook endpoint: records every request and answers as `behaviour` says (200 at once by default). */
async function receiver(behaviour: Behaviour = () => ({})) {
  const requests: Captured[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const c: Captured = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks), at: Date.now() };
      requests.push(c);
      const out = behaviour(c, requests.length);
      const answer = (): void => {
        if (res.destroyed) return;
        res.writeHead(out.status ?? 200, { 'content-type': 'text/plain' });
        res.end(out.body ?? 'EVENT_RECEIVED');
      };
      if (out.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          answer();
        }, out.delayMs);
        timers.add(t);
      } else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  return {
    url,
    requests,
    bodies: () => requests.filter((r) => r.method === 'POST').map((r) => JSON.parse(r.raw.toString('utf8'))),
    async next(n: number, ms = 3000): Promise<Captured[]> {
      const started = Date.now();
      while (requests.length < n) {
        if (Date.now() - started > ms) throw new Error(`receiver: ${requests.length} of ${n} requests within ${ms} ms`);
        await sleep(10);
      }
      return requests;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
type Receiver = Awaited<ReturnType<typeof receiver>>;

const hmacOk = (secret: string, raw: Buffer, header: unknown): boolean => {
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
  const got = Buffer.from(String(header ?? ''));
  return got.length === want.length && timingSafeEqual(got, want);
};

const statusOf = (body: any): Json => body.entry[0].changes[0].value.statuses[0];

describe('whatsapp emulator', function () {
  let wa: WhatsAppServer;
  const extra: Array<{ close(): Promise<void> }> = [];
  const start = async (o: WhatsAppServerOptions): Promise<WhatsAppServer> => {
    const s = await startWhatsAppServer(o);
    extra.push(s);
    return s;
  };
  const listen = async (b?: Behaviour): Promise<Receiver> => {
    const r = await receiver(b);
    extra.push(r);
    return r;
  };

  beforeEach(async () => {
    wa = await startWhatsAppServer();
  });
  afterEach(async () => {
    for (const x of extra.splice(0).reverse()) await x.close();
    await wa.close();
  });

  describe('the Graph API', () => {
    it('answers 190 (401, OAuthException) without the right bearer token, 100 on an unknown path, and records every call', async () => {
      assert.match(wa.token, /^EAAG[A-Za-z0-9_-]{100}$/);
      assert.match(wa.appSecret, /^[0-9a-f]{32}$/);
      assert.deepEqual([wa.phoneNumberId, wa.displayPhoneNumber, wa.wabaId], ['106540352242922', '15550001234', '102290129340398']);
      const { alice } = wa.fixtures;
      wa.openWindow(alice);
      for (const auth of [false, 'EAAGwrong'] as const) {
        const r = await send(wa, text(alice.waId!, 'hi'), { auth });
        assert.equal(r.status, 401, String(auth));
        assert.deepEqual(Object.keys(r.json.error), ['message', 'type', 'code', 'fbtrace_id']);
        assert.deepEqual([r.json.error.message, r.json.error.type, r.json.error.code], ['Invalid OAuth access token - Cannot parse access token', 'OAuthException', 190]);
        assert.match(r.json.error.fbtrace_id, /^A[\w-]{10,}$/);
        assert.match(String(r.headers.get('www-authenticate')), /invalid_token/);
      }
      assert.deepEqual(wa.phone(alice), [], 'nothing sent without the token');

      const unknown = await graph(wa, 'POST', `/${wa.phoneNumberId}/nope`, {});
      assert.equal(unknown.status, 400);
      assert.deepEqual([unknown.json.error.code, unknown.json.error.type, unknown.json.error.error_subcode], [100, 'GraphMethodException', 33]);
      assert.match(unknown.json.error.message, /^Unsupported post request\. Object with ID '106540352242922'/);
      const otherPhone = await graph(wa, 'POST', '/999999999999999/messages', { messaging_product: 'whatsapp', ...text(alice.waId!, 'x') });
      assert.equal(otherPhone.json.error.code, 100, 'a phone number id that is not ours is an unknown object');

      const ok = await send(wa, text(alice.waId!, 'hi'));
      assert.equal(ok.status, 200);
      const v26 = await graph(wa, 'POST', `/${wa.phoneNumberId}/messages`, { messaging_product: 'whatsapp', ...text(alice.waId!, 'again') }, { version: 'v26.0' });
      assert.equal(v26.status, 200);
      assert.deepEqual(
        wa.sent.map((c) => [c.method, c.op, c.status, c.errorCode, c.authorized, c.version]),
        [
          ['POST', 'send', 401, 190, false, 'v21.0'],
          ['POST', 'send', 401, 190, false, 'v21.0'],
          ['POST', 'unknown', 400, 100, true, 'v21.0'],
          ['POST', 'unknown', 400, 100, true, 'v21.0'],
          ['POST', 'send', 200, undefined, true, 'v21.0'],
          ['POST', 'send', 200, undefined, true, 'v26.0'],
        ],
      );
      assert.equal((await wa.waitFor((c) => c.version === 'v26.0')).messageId, v26.json.messages[0].id);
      await assert.rejects(wa.waitFor((c) => c.status === 999, 50), /no matching Graph call within 50 ms; calls: POST send:401\(#190\)/);
    });

    it('refuses free-form messages outside the 24-hour window (131047) but lets templates through', async () => {
      const { alice, bob } = wa.fixtures;
      const closed = await send(wa, text(alice.waId!, 'hello?'));
      assert.equal(closed.status, 400);
      assert.deepEqual(closed.json.error, {
        message: '(#131047) Re-engagement message',
        type: 'OAuthException',
        code: 131047,
        error_data: { messaging_product: 'whatsapp', details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' },
        fbtrace_id: closed.json.error.fbtrace_id,
      });

      const tpl = await send(wa, { to: alice.waId, type: 'template', template: { name: 'reopen_chat', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Alice' }] }] } });
      assert.equal(tpl.status, 200);
      assert.equal(tpl.json.messages[0].message_status, 'accepted');
      const shown = wa.phone(alice);
      assert.deepEqual([shown.length, shown[0].type, shown[0].template, shown[0].text], [1, 'template', { name: 'reopen_chat', language: 'en', params: ['Alice'] }, 'Hi Alice, we have an answer for you. Reply to this message to continue the conversation.']);

      const lang = await send(wa, { to: alice.waId, type: 'template', template: { name: 'reopen_chat', language: { code: 'de' } } });
      assert.deepEqual([lang.status, lang.json.error.code, lang.json.error.message], [400, 132001, '(#132001) Template name does not exist in the translation']);
      assert.match(lang.json.error.error_data.details, /reopen_chat.*de/);
      const params = await send(wa, { to: alice.waId, type: 'template', template: { name: 'reopen_chat', language: { code: 'en' } } });
      assert.equal(params.json.error.code, 132000);

      // A user message delivered to the webhook opens the window; closeWindow makes it 25 h old.
      const hook = await listen();
      const d = await wa.userSends(hook.url, alice, wa.make.text(alice, 'hi'));
      assert.equal(d.answered, true);
      assert.equal((await send(wa, text(alice.waId!, 'welcome back'))).status, 200);
      wa.closeWindow(alice);
      assert.equal((await send(wa, text(alice.waId!, 'still there?'))).json.error.code, 131047);
      // A message with an old timestamp does not reopen it.
      await wa.userSends(hook.url, bob, wa.make.text(bob, 'old', { timestamp: Math.floor(Date.now() / 1000) - 25 * 3600 }));
      assert.equal((await send(wa, text(bob.waId!, 'x'))).json.error.code, 131047);
      // A number nobody added never wrote: only templates reach it.
      assert.equal((await send(wa, text('+1 (555) 999-0000', 'x'))).json.error.code, 131047);
      assert.equal((await send(wa, { to: '15559990000', type: 'template', template: { name: 'reopen_chat', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'you' }] }] } })).status, 200);
    });

    it('enforces the pair rate to one user (131056) and throughput (130429); refused messages are not shown', async () => {
      const paced = await start({ pairRateMs: 300, throughputPerSecond: 3 });
      const { alice, bob, hidden } = paced.fixtures;
      for (const u of [alice, bob, hidden]) paced.openWindow(u);
      assert.equal((await send(paced, text(alice.waId!, 'part 1'))).status, 200);
      const tooSoon = await send(paced, text(alice.waId!, 'part 2'));
      assert.equal(tooSoon.status, 400);
      assert.deepEqual([tooSoon.json.error.code, tooSoon.json.error.message], [131056, '(#131056) (Business Account, Consumer Account) pair rate limit hit']);
      assert.equal(tooSoon.json.error.error_data.messaging_product, 'whatsapp');
      assert.equal((await send(paced, text(bob.waId!, 'to bob'))).status, 200, 'another user is another pair');
      assert.equal((await send(paced, { recipient: hidden.userId, type: 'text', text: { body: 'to hidden' } })).status, 200);
      const burst = await send(paced, text(alice.waId!, 'fourth in a second'));
      assert.deepEqual([burst.status, burst.json.error.code, burst.json.error.message], [400, 130429, '(#130429) Rate limit hit']);
      assert.deepEqual(paced.phone(alice).map((i) => i.text), ['part 1']);
      await sleep(1000);
      assert.equal((await send(paced, text(alice.waId!, 'part 2'))).status, 200, 'paced parts go through');
      assert.deepEqual(paced.phone(alice).map((i) => i.text), ['part 1', 'part 2']);
    });

    it('checks send bodies with error 100 naming the field, 131051 for an unknown type', async () => {
      const { alice } = wa.fixtures;
      wa.openWindow(alice);
      const to = alice.waId!;
      const details = async (body: Json): Promise<[number, number, string]> => {
        const r = await send(wa, body);
        return [r.status, r.json.error?.code, r.json.error?.error_data?.details];
      };
      const long = await details(text(to, 'x'.repeat(4097)));
      assert.deepEqual(long.slice(0, 2), [400, 100]);
      assert.match(long[2], /text\.body/);
      assert.equal((await send(wa, text(to, 'x'.repeat(4096)))).status, 200, '4096 characters is the limit, inclusive');
      assert.match((await details({ to, type: 'text', text: {} }))[2], /text\.body/);
      assert.match((await details({ type: 'text', text: { body: 'x' } }))[2], /\bto\b/);
      assert.match((await details({ to: 'not-a-number', type: 'text', text: { body: 'x' } }))[2], /\bto\b/);
      const noProduct = await graph(wa, 'POST', `/${wa.phoneNumberId}/messages`, text(to, 'x'));
      assert.deepEqual([noProduct.json.error.code, noProduct.json.error.message], [100, '(#100) The parameter messaging_product is required.']);

      const button = (id: string, title = id): Json => ({ type: 'reply', reply: { id, title } });
      const interactive = (buttons: Json[]): Json => ({ to, type: 'interactive', interactive: { type: 'button', body: { text: 'Pick one' }, action: { buttons } } });
      const four = await details(interactive(['a', 'b', 'c', 'd'].map((x) => button(x))));
      assert.deepEqual(four.slice(0, 2), [400, 100]);
      assert.match(four[2], /interactive\.action\.buttons/);
      assert.match((await details(interactive([button('a', 'x'.repeat(21))])))[2], /interactive\.action\.buttons\[0\]\.reply\.title/);
      assert.match((await details(interactive([button('a'), button('a', 'other')])))[2], /reply\.id.*unique/);
      const ok = await send(wa, { ...interactive([button('yes', 'Yes'), button('no', 'No')]), interactive: { type: 'button', header: { type: 'text', text: 'Question' }, body: { text: 'Pick one' }, footer: { text: 'chatgate' }, action: { buttons: [button('yes', 'Yes'), button('no', 'No')] } } });
      assert.equal(ok.status, 200);

      const rows = (n: number): Json[] => Array.from({ length: n }, (_, i) => ({ id: `r${i}`, title: `Row ${i}`, description: 'd' }));
      const list = (sections: Json[], buttonText = 'Choose'): Json => ({ to, type: 'interactive', interactive: { type: 'list', body: { text: 'Options' }, action: { button: buttonText, sections } } });
      assert.match((await details(list([{ title: 'A', rows: rows(6) }, { title: 'B', rows: rows(5).map((r, i) => ({ ...r, id: `b${i}` })) }])))[2], /at most 10 rows/);
      assert.match((await details(list([{ rows: rows(1) }], 'x'.repeat(21))))[2], /interactive\.action\.button\b/);
      assert.match((await details(list([{ rows: [{ id: 'r', title: 't', description: 'd'.repeat(73) }] }])))[2], /rows\[0\]\.description/);
      assert.equal((await send(wa, list([{ title: 'A', rows: rows(10) }]))).status, 200);

      const unknownType = await send(wa, { to, type: 'hologram', hologram: {} });
      assert.deepEqual([unknownType.status, unknownType.json.error.code], [400, 131051]);
      assert.match((await details({ to, type: 'image', image: { link: 'https://example.com/a.png', id: '123' } }))[2], /\bimage\b/);
      assert.match((await details({ to, type: 'audio', audio: { link: 'https://example.com/a.mp3', caption: 'no' } }))[2], /audio\.caption/);
      assert.match((await details({ to, type: 'image', image: { link: 'https://example.com/a.png', caption: 'c'.repeat(1025) } }))[2], /image\.caption/);
      assert.match((await details({ to, type: 'reaction', reaction: { message_id: 'wamid.unknown', emoji: '👍' } }))[2], /reaction\.message_id/);

      const shown = wa.phone(alice);
      assert.deepEqual(
        shown.map((i) => [i.type, i.interactiveType, i.buttons?.map((b) => b.id), i.list?.rows.length]),
        [
          ['text', undefined, undefined, undefined],
          ['interactive', 'button', ['yes', 'no'], undefined],
          ['interactive', 'list', undefined, 10],
        ],
      );
      assert.deepEqual([shown[1].header, shown[1].footer, shown[1].text, shown[2].list?.button], ['Question', 'chatgate', 'Pick one', 'Choose']);
    });

    it('shows a sent text on the phone with its quote; addresses users by wa_id or BSUID (`to` wins)', async () => {
      const { alice, bob, hidden } = wa.fixtures;
      const hook = await listen();
      const question = wa.make.text(alice, 'What is the weather?');
      await wa.userSends(hook.url, alice, question);
      await wa.userSends(hook.url, hidden, wa.make.text(hidden, 'hi from a username'));
      wa.openWindow(bob);

      const r = await send(wa, text(alice.waId!, 'Sunny.', { context: { message_id: question.id } }));
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.json), ['messaging_product', 'contacts', 'messages']);
      assert.deepEqual(r.json.contacts, [{ input: '15551230001', wa_id: '15551230001', user_id: 'US.1000000000000001' }]);
      assert.match(r.json.messages[0].id, /^wamid\.[A-Za-z0-9+/=]{20,}$/);
      const [item] = await wa.waitForPhone(alice, (items) => items.length === 1);
      assert.deepEqual([item.id, item.type, item.text, item.contextId, item.status, item.addressedBy], [r.json.messages[0].id, 'text', 'Sunny.', question.id, 'delivered', 'to']);

      const toHidden = await send(wa, { recipient: hidden.userId, type: 'text', text: { body: 'hello you' } });
      assert.deepEqual(toHidden.json.contacts, [{ input: 'US.1000000000000003', user_id: 'US.1000000000000003' }], 'no wa_id for a withheld number');
      assert.deepEqual(wa.phone(hidden).map((i) => [i.text, i.addressedBy]), [['hello you', 'recipient']]);
      await send(wa, { recipient: alice.userId, type: 'text', text: { body: 'by bsuid' } });
      await send(wa, { to: bob.waId, recipient: alice.userId, type: 'text', text: { body: 'to wins' } });
      assert.deepEqual(wa.phone(alice).map((i) => i.text), ['Sunny.', 'by bsuid']);
      assert.deepEqual(wa.phone(bob).map((i) => i.text), ['to wins']);
      assert.equal((await send(wa, { recipient: 'US.999', type: 'text', text: { body: 'x' } })).json.error.code, 100);
      await assert.rejects(wa.waitForPhone(bob, (items) => items.length > 5, 50), /Bob's phone did not match within 50 ms; it shows: text "to wins"/);

      // A reaction to the user's message is shown too.
      assert.equal((await send(wa, { to: alice.waId, type: 'reaction', reaction: { message_id: question.id, emoji: '👍' } })).status, 200);
      assert.deepEqual(wa.phone(alice).at(-1)?.reaction, { messageId: question.id, emoji: '👍' });
    });

    it('records read receipts with the typing indicator; an unknown message id is error 100', async () => {
      const { alice } = wa.fixtures;
      const m = wa.make.text(alice, 'hello');
      const r = await send(wa, { status: 'read', message_id: m.id, typing_indicator: { type: 'text' } });
      assert.deepEqual([r.status, r.json], [200, { success: true }]);
      await send(wa, { status: 'read', message_id: m.id });
      assert.deepEqual(
        wa.readReceipts.map((x) => [x.messageId, x.typing, x.user?.userId]),
        [
          [m.id, true, alice.userId],
          [m.id, false, alice.userId],
        ],
      );
      assert.ok(Math.abs(wa.readReceipts[0].at - Date.now()) < 2000);
      const bad = await send(wa, { status: 'read', message_id: 'wamid.nope' });
      assert.deepEqual([bad.status, bad.json.error.code], [400, 100]);
      assert.match(bad.json.error.error_data.details, /message_id/);
      assert.equal((await send(wa, { status: 'read', message_id: m.id, typing_indicator: { type: 'audio' } })).json.error.code, 100);
      assert.deepEqual(wa.sent.map((c) => c.op), ['read', 'read', 'read', 'read']);
      assert.deepEqual(wa.phone(alice), [], 'read receipts show nothing and need no window');
    });
  });

  describe('media', () => {
    it('uploads multipart media, answers GET /{media-id} with a URL that needs the token, serves the bytes', async () => {
      const bytes = Buffer.from('%PDF-1.4 fake pdf bytes');
      const form = new FormData();
      form.append('messaging_product', 'whatsapp');
      form.append('type', 'application/pdf');
      form.append('file', new Blob([bytes], { type: 'application/pdf' }), 'report.pdf');
      const up = await graph(wa, 'POST', `/${wa.phoneNumberId}/media`, undefined, { form });
      assert.equal(up.status, 200);
      assert.match(up.json.id, /^\d{12,}$/);
      assert.deepEqual(Object.keys(up.json), ['id']);
      assert.deepEqual(wa.uploads.map((u) => [u.id, u.mimeType, u.filename, u.bytes.toString()]), [[up.json.id, 'application/pdf', 'report.pdf', bytes.toString()]]);

      const info = await graph(wa, 'GET', `/${up.json.id}`);
      assert.equal(info.status, 200);
      assert.deepEqual(Object.keys(info.json), ['messaging_product', 'url', 'mime_type', 'sha256', 'file_size', 'id']);
      assert.deepEqual([info.json.mime_type, info.json.sha256, info.json.file_size, info.json.id], ['application/pdf', createHash('sha256').update(bytes).digest('hex'), bytes.length, up.json.id]);
      assert.ok(String(info.json.url).startsWith(`${wa.baseUrl}/lookaside/${up.json.id}?ext=`), info.json.url);
      assert.match(info.json.url, /[?&]hash=/);

      const authed = await fetch(info.json.url, { headers: { authorization: `Bearer ${wa.token}` } });
      assert.deepEqual([authed.status, authed.headers.get('content-type')], [200, 'application/pdf']);
      assert.equal(Buffer.from(await authed.arrayBuffer()).toString(), bytes.toString());
      const anon = await fetch(info.json.url);
      assert.equal(anon.status, 401);
      await anon.arrayBuffer();
      const tampered = await fetch(String(info.json.url).replace(/hash=[^&]+/, 'hash=x'), { headers: { authorization: `Bearer ${wa.token}` } });
      assert.equal(tampered.status, 404);
      await tampered.arrayBuffer();
      assert.deepEqual(wa.downloads.map((d) => [d.mediaId, d.authorized, d.served]), [
        [up.json.id, true, true],
        [up.json.id, false, false],
        [up.json.id, true, false],
      ]);

      // Sent by id, the phone shows the uploaded bytes.
      const { alice } = wa.fixtures;
      wa.openWindow(alice);
      assert.equal((await send(wa, { to: alice.waId, type: 'document', document: { id: up.json.id, caption: 'Your report', filename: 'report.pdf' } })).status, 200);
      const doc = wa.phone(alice)[0];
      assert.deepEqual([doc.type, doc.text, doc.media?.filename, doc.media?.mimeType, doc.media?.bytes?.toString()], ['document', 'Your report', 'report.pdf', 'application/pdf', bytes.toString()]);
      assert.equal((await send(wa, { to: alice.waId, type: 'image', image: { id: '1234567890' } })).json.error.code, 100, 'an unknown media id');

      const missing = await graph(wa, 'GET', '/987654321012345');
      assert.deepEqual([missing.status, missing.json.error.code], [400, 100]);
      assert.equal((await graph(wa, 'DELETE', `/${up.json.id}`)).json.success, true);
      assert.equal((await graph(wa, 'GET', `/${up.json.id}`)).json.error.code, 100);
    });

    it('refuses an upload over maxMediaBytes or without its fields (100); stores what users send the same way', async () => {
      const small = await start({ maxMediaBytes: 1000 });
      const upload = (fields: Record<string, string>, size: number) => {
        const form = new FormData();
        for (const [k, v] of Object.entries(fields)) form.append(k, v);
        if (size >= 0) form.append('file', new Blob([Buffer.alloc(size, 1)], { type: 'image/png' }), 'a.png');
        return graph(small, 'POST', `/${small.phoneNumberId}/media`, undefined, { form });
      };
      const big = await upload({ messaging_product: 'whatsapp', type: 'image/png' }, 1001);
      assert.deepEqual([big.status, big.json.error.code], [400, 100]);
      assert.match(big.json.error.error_data.details, /\bfile\b/);
      assert.equal((await upload({ messaging_product: 'whatsapp', type: 'image/png' }, 1000)).status, 200);
      assert.match((await upload({ type: 'image/png' }, 10)).json.error.message, /messaging_product/);
      assert.match((await upload({ messaging_product: 'whatsapp', type: 'image/png' }, -1)).json.error.message, /\bfile\b/);
      assert.match((await upload({ messaging_product: 'whatsapp' }, 10)).json.error.message, /\btype\b/);
      assert.equal(small.uploads.length, 1);

      const { alice, hidden } = wa.fixtures;
      const voice = wa.make.media(alice, 'voice', { bytes: Buffer.from('OggS...') });
      assert.deepEqual([voice.type, voice.from, voice.from_user_id], ['audio', alice.waId, alice.userId]);
      const audio = voice.audio as Json;
      assert.deepEqual([audio.mime_type, audio.voice, audio.sha256], ['audio/ogg; codecs=opus', true, createHash('sha256').update('OggS...').digest('base64')]);
      const info = await graph(wa, 'GET', `/${audio.id}`);
      const got = await fetch(info.json.url, { headers: { authorization: `Bearer ${wa.token}` } });
      assert.equal(Buffer.from(await got.arrayBuffer()).toString(), 'OggS...');
      const doc = wa.make.media(hidden, 'document', { caption: 'see this', filename: 'x.pdf' });
      assert.equal(doc.from, undefined, 'no from for a withheld number');
      assert.deepEqual([(doc.document as Json).filename, (doc.document as Json).caption, (doc.document as Json).mime_type], ['x.pdf', 'see this', 'application/pdf']);
    });
  });

  describe('webhooks', () => {
    it('signs what it delivers with the app secret (X-Hub-Signature-256), or not, or wrongly, as told', async () => {
      const hook = await listen();
      const { alice } = wa.fixtures;
      const payload = wa.notification({ messages: [wa.make.text(alice, 'hi')] });
      const d = await wa.deliver(hook.url, payload);
      assert.deepEqual([d.answered, d.attempts.map((a) => a.status)], [true, [200]]);
      const [req] = hook.requests;
      assert.deepEqual([req.method, req.url, req.headers['content-type']], ['POST', '/webhook', 'application/json']);
      assert.ok(hmacOk(wa.appSecret, req.raw, req.headers['x-hub-signature-256']), 'HMAC-SHA256 of the raw body with the app secret');
      assert.equal(req.headers['x-hub-signature-256'], wa.sign(req.raw));
      assert.equal(req.raw.toString(), d.body);

      await wa.deliver(hook.url, payload, { signature: 'none' });
      await wa.deliver(hook.url, payload, { signature: 'wrong' });
      await wa.deliver(hook.url, '{"object":"whatsapp_business_account","entry":[]}', { signature: 'sha256=00', contentType: 'application/json; charset=utf-8' });
      const [, none, wrong, custom] = hook.requests;
      assert.equal(none.headers['x-hub-signature-256'], undefined);
      assert.match(String(wrong.headers['x-hub-signature-256']), /^sha256=[0-9a-f]{64}$/);
      assert.ok(!hmacOk(wa.appSecret, wrong.raw, wrong.headers['x-hub-signature-256']));
      assert.deepEqual([custom.headers['x-hub-signature-256'], custom.headers['content-type'], custom.raw.toString()], ['sha256=00', 'application/json; charset=utf-8', '{"object":"whatsapp_business_account","entry":[]}']);
      assert.equal(wa.sign('abc', 'k'), `sha256=${createHmac('sha256', 'k').update('abc').digest('hex')}`);
      assert.equal(wa.webhookDeliveries.length, 4);
    });

    it('builds notifications as Meta sends them: metadata, contacts (BSUID, username), messages, statuses, errors', async () => {
      const { alice, hidden } = wa.fixtures;
      const hook = await listen();
      const m = wa.make.text(hidden, 'hello');
      await wa.userSends(hook.url, hidden, m);
      const body = hook.bodies()[0];
      assert.equal(body.object, 'whatsapp_business_account');
      assert.equal(body.entry[0].id, wa.wabaId);
      assert.equal(body.entry[0].changes[0].field, 'messages');
      const value = body.entry[0].changes[0].value;
      assert.deepEqual(value.metadata, { display_phone_number: '15550001234', phone_number_id: '106540352242922' });
      assert.deepEqual(value.contacts, [{ profile: { name: 'Hidden', username: 'hidden_user' }, user_id: 'US.1000000000000003' }]);
      assert.deepEqual(Object.keys(value.messages[0]), ['from_user_id', 'id', 'timestamp', 'type', 'text']);
      assert.match(value.messages[0].timestamp, /^\d{10}$/);

      const n = wa.notification({ messages: [wa.make.text(alice, 'a'), wa.make.location(alice, { latitude: 52.5, longitude: 13.4, name: 'Berlin' })] });
      const v = (n.entry as any)[0].changes[0].value;
      assert.deepEqual(v.contacts, [{ profile: { name: 'Alice' }, wa_id: '15551230001', user_id: 'US.1000000000000001' }], 'one contact per sender');
      assert.deepEqual(v.messages[1].location, { latitude: 52.5, longitude: 13.4, name: 'Berlin' });
      const onlyStatuses = (wa.notification({ statuses: [{ id: 'x', status: 'sent' }] }).entry as any)[0].changes[0].value;
      assert.deepEqual(Object.keys(onlyStatuses), ['messaging_product', 'metadata', 'statuses']);
      assert.ok((wa.notification({ errors: [{ code: 131000 }] }).entry as any)[0].changes[0].value.errors);

      // Replies to buttons and lists quote the business message that had them.
      wa.openWindow(alice);
      const b = await send(wa, { to: alice.waId, type: 'interactive', interactive: { type: 'button', body: { text: 'Yes?' }, action: { buttons: [{ type: 'reply', reply: { id: 'y', title: 'Yes' } }] } } });
      const press = wa.make.buttonReply(alice, { id: 'y', title: 'Yes' });
      assert.deepEqual([press.type, press.context, press.interactive], ['interactive', { from: '15550001234', id: b.json.messages[0].id }, { type: 'button_reply', button_reply: { id: 'y', title: 'Yes' } }]);
      assert.throws(() => wa.make.listReply(alice, { id: 'r', title: 'R' }), /no list message/);
      const reply = wa.make.text(alice, 'quoting myself', { contextId: String(m.id) });
      assert.equal((reply.context as Json).id, m.id);
      assert.deepEqual((wa.make.reaction(alice, b.json.messages[0].id, '❤️').reaction as Json), { message_id: b.json.messages[0].id, emoji: '❤️' });
      assert.equal(((wa.make.unsupported(alice).errors as Json[])[0] as Json).code, 131051);
      assert.equal((wa.make.contacts(alice, [{ name: { formatted_name: 'Carol' }, phones: [{ phone: '+1 555 0100', type: 'CELL' }] }]).contacts as Json[]).length, 1);
    });

    it('retries a notification answered late or with a 500, and stops once it is answered 200', async () => {
      const quick = await start({ webhookTimeoutMs: 200, webhookRetryDelaysMs: [50, 50, 50] });
      const flaky = await listen((_req, n) => (n === 1 ? { status: 500 } : n === 2 ? { delayMs: 400 } : {}));
      const d = await quick.deliver(flaky.url, quick.notification({ messages: [quick.make.text(quick.fixtures.alice, 'hi')] }));
      assert.deepEqual(d.attempts.map((a) => a.status), [500, 'timeout', 200]);
      assert.equal(d.answered, true);
      assert.ok(d.attempts[1].ms >= 190, `the timeout attempt took ${d.attempts[1].ms} ms`);
      await sleep(150);
      assert.equal(flaky.requests.length, 3, 'no attempt after the 200');
      assert.ok(flaky.requests.every((r) => r.raw.toString() === d.body && hmacOk(quick.appSecret, r.raw, r.headers['x-hub-signature-256'])), 'every retry is the same signed body');

      const down = await listen(() => ({ status: 503 }));
      const gaveUp = await quick.deliver(down.url, '{}');
      assert.deepEqual([gaveUp.answered, gaveUp.attempts.map((a) => a.status), gaveUp.done], [false, [503, 503, 503, 503], true]);
      const once = await quick.deliver(down.url, '{}', { retry: false });
      assert.deepEqual(once.attempts.map((a) => a.status), [503]);
      const nobody = await quick.deliver('http://127.0.0.1:1/webhook', '{}', { retry: false });
      assert.deepEqual([nobody.attempts[0].status, nobody.answered], ['error', false]);
      const accepted = await listen(() => ({ status: 202 }));
      assert.equal((await quick.deliver(accepted.url, '{}', { retry: false })).answered, false, 'only a 200 counts');
    });

    it('sends the verification GET; the challenge comes back only for the right token', async () => {
      const hook = await listen((req) => {
        const q = new URL(req.url, 'http://x').searchParams;
        const ok = q.get('hub.mode') === 'subscribe' && q.get('hub.verify_token') === wa.verifyToken;
        return ok ? { status: 200, body: String(q.get('hub.challenge')) } : { status: 403, body: 'Forbidden' };
      });
      const good = await wa.verify(hook.url);
      assert.deepEqual([good.status, good.body], [200, good.challenge]);
      assert.match(good.challenge, /^\d{10}$/);
      assert.deepEqual(await wa.verify(hook.url, { token: 'wrong', challenge: 'abc' }), { status: 403, body: 'Forbidden', challenge: 'abc' });
      assert.equal((await wa.verify(hook.url, { mode: 'unsubscribe' })).status, 403);
      assert.equal(hook.requests[0].method, 'GET');
      await assert.rejects(wa.verify('http://127.0.0.1:1/'), /ECONNREFUSED/);
    });

    it('posts signed sent and delivered statuses after answering, read after readAll, failed after failMessage', async () => {
      const hook = await listen();
      const st = await start({ webhookUrl: hook.url });
      const { alice, hidden } = st.fixtures;
      st.openWindow(alice);
      const r = await send(st, text(alice.waId!, 'hello'));
      const wamid = r.json.messages[0].id;
      await hook.next(2);
      for (const req of hook.requests) assert.ok(hmacOk(st.appSecret, req.raw, req.headers['x-hub-signature-256']));
      const [sent, delivered] = hook.bodies().map(statusOf);
      assert.deepEqual([sent.id, sent.status, sent.recipient_id, sent.recipient_user_id], [wamid, 'sent', alice.waId, alice.userId]);
      assert.deepEqual([delivered.id, delivered.status], [wamid, 'delivered']);
      assert.match(String(sent.timestamp), /^\d{10}$/);
      assert.deepEqual((sent.pricing as Json).category, 'service');
      assert.ok(sent.conversation);
      assert.equal(st.phone(alice)[0].status, 'delivered');

      st.readAll(alice);
      await hook.next(3);
      assert.deepEqual([statusOf(hook.bodies()[2]).status, statusOf(hook.bodies()[2]).id], ['read', wamid]);
      assert.equal(st.phone(alice)[0].status, 'read');
      st.readAll(alice);
      await sleep(50);
      assert.equal(hook.requests.length, 3, 'read once');

      st.failMessage(wamid, 131026);
      await hook.next(4);
      const failed = statusOf(hook.bodies()[3]);
      assert.equal(failed.status, 'failed');
      assert.deepEqual((failed.errors as Json[]).map((e) => [e.code, e.title, typeof (e.error_data as Json).details]), [[131026, 'Message undeliverable', 'string']]);
      assert.throws(() => st.failMessage('wamid.nope', 131026), /not a message the business sent/);
      assert.deepEqual(st.statuses(wamid).map((s) => s.status), ['sent', 'delivered', 'read', 'failed']);
      assert.ok(st.webhookDeliveries.every((d) => d.kind === 'status' && d.answered));

      // A username user's statuses carry the BSUID as recipient_id.
      st.openWindow(hidden);
      await send(st, { recipient: hidden.userId, type: 'text', text: { body: 'hi' } });
      await hook.next(6);
      assert.deepEqual([statusOf(hook.bodies()[4]).recipient_id, statusOf(hook.bodies()[4]).recipient_user_id], [hidden.userId, hidden.userId]);

      // autoRead, a webhook set later, and statuses switched off.
      const auto = await start({ autoRead: true });
      auto.setWebhook(hook.url);
      auto.openWindow(auto.fixtures.bob);
      await send(auto, text(auto.fixtures.bob.waId!, 'x'));
      await hook.next(9);
      assert.deepEqual(hook.bodies().slice(6).map((b) => statusOf(b).status), ['sent', 'delivered', 'read']);
      const quiet = await start({ webhookUrl: hook.url, statuses: false });
      quiet.openWindow(quiet.fixtures.bob);
      await send(quiet, text(quiet.fixtures.bob.waId!, 'x'));
      await sleep(50);
      assert.equal(hook.requests.length, 9);
    });

    it('does not hold the API answer for a slow webhook, and retries statuses it did not get', async () => {
      const hook = await listen((_r, n) => (n === 1 ? { status: 500 } : { delayMs: 20 }));
      const st = await start({ webhookUrl: hook.url, webhookRetryDelaysMs: [30] });
      st.openWindow(st.fixtures.alice);
      const t0 = Date.now();
      const r = await send(st, text(st.fixtures.alice.waId!, 'x'));
      assert.equal(r.status, 200);
      assert.ok(Date.now() - t0 < 100);
      const d = await st.waitForDelivery((x) => x.done && x.answered && statusOf(JSON.parse(x.body)).status === 'sent');
      assert.deepEqual(d.attempts.map((a) => a.status), [500, 200]);
      await hook.next(3);
      assert.deepEqual(hook.bodies().map((b) => statusOf(b).status), ['sent', 'delivered', 'sent'], 'delivered waits for the first attempt of sent only: the retry comes after it, out of order as with Meta');
      await assert.rejects(st.waitForDelivery(() => false, 30), /no matching webhook delivery within 30 ms/);
    });
  });

  describe('injected failures', () => {
    it('drop: the message is accepted and shown but the answer is lost; refuse: nothing is shown', async () => {
      const { alice } = wa.fixtures;
      wa.openWindow(alice);
      wa.inject.drop();
      await assert.rejects(send(wa, text(alice.waId!, 'lost answer')), (err: Error) => err instanceof TypeError && /fetch failed/.test(err.message));
      assert.deepEqual(wa.phone(alice).map((i) => i.text), ['lost answer'], 'shown although the client saw a socket error');
      assert.deepEqual([wa.sent[0].outcome, wa.sent[0].status, wa.sent[0].messageId], ['dropped', 200, wa.phone(alice)[0].id]);

      wa.inject.refuse();
      await assert.rejects(send(wa, text(alice.waId!, 'never accepted')));
      assert.equal(wa.phone(alice).length, 1);
      assert.deepEqual([wa.sent[1].outcome, wa.sent[1].status], ['refused', 0]);
      assert.equal((await send(wa, text(alice.waId!, 'fine again'))).status, 200, 'one time each by default');
    });

    it('error, html, slow and revokeToken answer what Meta (or a proxy) would; clear() ends them', async () => {
      const { alice } = wa.fixtures;
      const m = wa.make.text(alice, 'hi');
      wa.openWindow(alice);

      wa.inject.error(131000);
      const transient = await send(wa, text(alice.waId!, 'x'));
      assert.deepEqual([transient.status, transient.json.error.code, transient.json.error.is_transient, transient.json.error.message], [500, 131000, true, '(#131000) Something went wrong']);
      wa.inject.error(2);
      assert.deepEqual([(await send(wa, text(alice.waId!, 'x'))).status], [503]);
      wa.inject.error(190);
      const expired = await send(wa, text(alice.waId!, 'x'));
      assert.deepEqual([expired.status, expired.json.error.code], [401, 190]);
      wa.inject.error(131056, { times: 2 });
      assert.equal((await send(wa, text(alice.waId!, 'x'))).json.error.code, 131056);
      assert.equal((await send(wa, text(alice.waId!, 'x'))).json.error.code, 131056);

      // Injections aim at sends by default: a read receipt passes by; `on: 'read'` hits it.
      wa.inject.error(131000);
      assert.equal((await send(wa, { status: 'read', message_id: m.id })).status, 200);
      assert.equal((await send(wa, text(alice.waId!, 'x'))).status, 500);
      wa.inject.error(100, { on: 'read', details: 'nope' });
      assert.deepEqual((await send(wa, { status: 'read', message_id: m.id })).json.error.error_data.details, 'nope');
      assert.deepEqual(wa.phone(alice), []);

      wa.inject.html();
      const html = await send(wa, text(alice.waId!, 'x'));
      assert.deepEqual([html.status, html.json, html.headers.get('content-type')], [502, undefined, 'text/html; charset=utf-8']);
      assert.match(html.text, /<html/);

      wa.inject.slow(150);
      const t0 = Date.now();
      assert.equal((await send(wa, text(alice.waId!, 'slow'))).status, 200);
      assert.ok(Date.now() - t0 >= 140);

      wa.inject.revokeToken();
      const revoked = await send(wa, text(alice.waId!, 'x'));
      assert.deepEqual([revoked.status, revoked.json.error.code, revoked.json.error.error_subcode], [401, 190, 460]);
      const info = wa.make.media(alice, 'image');
      assert.equal((await graph(wa, 'GET', `/${(info.image as Json).id}`)).status, 401);
      assert.equal(wa.sent.at(-1)?.authorized, false);
      wa.inject.error(131000, { times: 5 });
      wa.inject.clear();
      assert.equal((await send(wa, text(alice.waId!, 'back'))).status, 200);
      assert.deepEqual(wa.phone(alice).map((i) => i.text), ['slow', 'back']);
      assert.deepEqual(
        wa.sent.filter((c) => c.op === 'send').map((c) => c.outcome),
        ['error', 'error', 'error', 'error', 'error', 'error', 'html', 'ok', 'error', 'ok'],
      );
    });

    it('close() ends sockets, retries and waits', async () => {
      const hang = await listen(() => ({ delayMs: 5000 }));
      const st = await startWhatsAppServer({ webhookTimeoutMs: 3000 });
      const pending = st.deliver(hang.url, '{}');
      await hang.next(1);
      const t0 = Date.now();
      await st.close();
      const d = await pending;
      assert.ok(Date.now() - t0 < 500);
      assert.deepEqual([d.done, d.answered, d.attempts.map((a) => a.status)], [true, false, ['error']]);
    });
  });
});
