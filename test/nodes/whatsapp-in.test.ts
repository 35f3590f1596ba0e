/**
 * The whatsapp account and in nodes in the real runtime against the Cloud API emulator: Meta's
 * verification handshake, signed notifications (401 and nothing in the flow without a valid
 * signature), answered 200 at once and handled after, redeliveries answered once, every message
 * type mapped, media downloaded through the media endpoint with the token, users keyed by the
 * business-scoped id where the phone number is withheld, the token refused, and the route removed
 * on close.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { WhatsAppServer } from '../emulators/whatsapp-server';
import { collect, getNode, helper, nextMessage, sleep, unload } from '../helpers/red';
import { until } from '../helpers/telegram';
import { accountNode, credentials, everythingSaid, gateway, loadFlow, PATH, useEmulator, useHttpServer, VERIFY_TOKEN, type FlowNode } from '../helpers/whatsapp';

describe('whatsapp account and in', function () {
  this.timeout(20000);
  let wa: WhatsAppServer;
  useHttpServer();
  useEmulator(() => wa, (s) => (wa = s));

  const url = () => `${helper.url()}${PATH}`;
  const connected = () => getNode('wa')?.connection?.status.key === 'connected';

  async function start(opts: { inOver?: Record<string, unknown>; outOnly?: boolean; accountOver?: Record<string, unknown>; echo?: boolean } = {}): Promise<void> {
    const flow: FlowNode[] = [gateway, accountNode(wa, opts.accountOver)];
    if (!opts.outOnly) flow.push({ id: 'in', type: 'chatgate-whatsapp-in', account: 'wa', gateway: 'gw', wires: [opts.echo ? ['h', 'out'] : ['h']], ...opts.inOver });
    flow.push({ id: 'h', type: 'helper' });
    if (opts.echo || opts.outOnly) flow.push({ id: 'out', type: 'chatgate-whatsapp-out', account: 'wa', gateway: 'gw', typing: 'off' });
    await loadFlow(flow, credentials(wa));
    await until(connected, 5000, 'the account connected');
  }

  it('answers the verification handshake only for the right verify token', async () => {
    await start();
    const ok = await wa.verify(url(), { token: VERIFY_TOKEN, challenge: '1158201444' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, '1158201444');
    assert.equal((await wa.verify(url(), { token: 'not-the-token', challenge: '1158201444' })).status, 403);
    assert.equal((await wa.verify(url(), { mode: 'unsubscribe', token: VERIFY_TOKEN, challenge: '1' })).status, 403);
    const reflected = await request(helper.url()).get(PATH).query({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '<script>alert(1)</script>' });
    assert.equal(reflected.status, 403, 'a challenge that is not a plain token is not echoed');
  });

  it('a signed text reaches the flow, answered 200 at once, and the echo lands in the user\'s chat', async () => {
    await start({ echo: true });
    const { alice } = wa.fixtures;
    const got = nextMessage('h', 5000);
    const started = Date.now();
    const d = await wa.userSends(url(), alice, wa.make.text(alice, 'hello number'));
    assert.equal(d.attempts[0].status, 200);
    assert.ok(Date.now() - started < 1000);
    const msg = await got;
    assert.equal(msg.payload, 'hello number');
    assert.equal(msg.chat.platform, 'whatsapp');
    assert.equal(msg.chat.chatType, 'direct');
    assert.equal(msg.chat.userJid, `wa:${alice.userId}`, 'keyed by the business-scoped id');
    assert.equal(msg.chat.chatJid, `wa:${alice.userId}`);
    assert.equal(msg.chat.userName, 'Alice');
    assert.equal(msg.whatsapp.waId, alice.waId);
    assert.equal(msg.chat.replyTo.waId, alice.waId);
    const shown = await wa.waitForPhone(alice, (items) => items.length >= 1, 5000);
    assert.equal(shown[0].text, 'hello number');
    assert.equal(shown[0].addressedBy, 'to', 'a user with a phone number is addressed by it');
    assert.ok(everythingSaid('wa').some((s) => s.includes(`webhook at ${PATH}`)), 'the status names the webhook path');
  });

  it('an unsigned or wrongly signed POST gets 401 and nothing reaches the flow', async () => {
    await start();
    const { alice } = wa.fixtures;
    const seen = collect('h');
    const none = await wa.userSends(url(), alice, wa.make.text(alice, 'unsigned'), { signature: 'none', retry: false });
    assert.equal(none.attempts[0].status, 401);
    const wrong = await wa.userSends(url(), alice, wa.make.text(alice, 'forged'), { signature: 'wrong', retry: false });
    assert.equal(wrong.attempts[0].status, 401);
    const garbage = await wa.userSends(url(), alice, wa.make.text(alice, 'garbage'), { signature: 'sha256=zz', retry: false });
    assert.equal(garbage.attempts[0].status, 401);
    const notJson = await wa.deliver(url(), '{"object":', { retry: false });
    assert.equal(notJson.attempts[0].status, 400, 'signed but not JSON');
    const control = await wa.userSends(url(), alice, wa.make.text(alice, 'the real one'));
    assert.equal(control.attempts[0].status, 200);
    await until(() => seen.length === 1, 3000, 'the one good message');
    await sleep(200);
    assert.deepEqual(seen.map((m) => m.payload), ['the real one']);
    assert.ok(getNode('wa').connection.counts.unsigned >= 3);
  });

  it('a redelivered notification (Meta retries) is answered once', async () => {
    await start({ echo: true });
    const { bob } = wa.fixtures;
    const seen = collect('h');
    const body = wa.notification({ messages: [wa.make.text(bob, 'only once')], users: [bob] });
    for (let i = 0; i < 3; i++) assert.equal((await wa.deliver(url(), body)).attempts[0].status, 200);
    await until(() => seen.length >= 1, 3000, 'the message');
    await wa.waitForPhone(bob, (items) => items.length >= 1, 5000);
    await sleep(300);
    assert.equal(seen.length, 1);
    assert.equal(wa.phone(bob).length, 1, 'one answer on the phone');
  });

  it('media, voice, documents, stickers, locations and contacts arrive as attachments, without URLs; downloads go through the media endpoint with the token', async () => {
    await start({ inOver: { download: true, maxDownload: 1 } });
    const { alice } = wa.fixtures;
    const seen = collect('h');
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex');
    const image = wa.make.media(alice, 'image', { bytes: png, mimeType: 'image/png', caption: 'look at this' });
    await wa.userSends(url(), alice, image);
    await until(() => seen.length === 1, 5000, 'the image');
    const img = seen[0];
    assert.equal(img.payload, 'look at this');
    assert.equal(img.chat.attachments.length, 1);
    assert.equal(img.chat.attachments[0].kind, 'image');
    assert.equal(img.chat.attachments[0].fileId, (image.image as { id: string }).id);
    assert.equal(img.chat.attachments[0].url, undefined, 'no media URL in the envelope');
    assert.equal(img.files.length, 1);
    assert.deepEqual(img.files[0].data, png);
    assert.equal(img.files[0].mimeType, 'image/png');
    assert.ok(wa.downloads.some((d) => d.authorized && d.served), 'downloaded with the token');
    assert.ok(!JSON.stringify(img).includes(wa.token), 'no token in the message');
    assert.ok(!JSON.stringify(img).includes('lookaside'), 'no media URL in the message');

    await wa.userSends(url(), alice, wa.make.media(alice, 'voice', { bytes: Buffer.from('OggS-voice'), mimeType: 'audio/ogg; codecs=opus' }));
    await wa.userSends(url(), alice, wa.make.media(alice, 'document', { bytes: Buffer.alloc(2 * 1024 * 1024, 1), mimeType: 'application/pdf', filename: 'big.pdf' }));
    await wa.userSends(url(), alice, wa.make.media(alice, 'sticker', { bytes: Buffer.from('RIFFwebp'), mimeType: 'image/webp' }));
    await wa.userSends(url(), alice, wa.make.location(alice, { latitude: 52.52, longitude: 13.405, name: 'Berlin', address: 'Mitte' }));
    await wa.userSends(url(), alice, wa.make.contacts(alice, [{ name: { formatted_name: 'Carol' }, phones: [{ phone: '+1 555 0100', wa_id: '15550100', type: 'CELL' }] }]));
    await until(() => seen.length === 6, 5000, 'all six');
    const [, voice, doc, sticker, loc, contacts] = seen;
    assert.equal(voice.chat.attachments[0].kind, 'voice');
    assert.equal(voice.files[0].data.toString(), 'OggS-voice');
    assert.equal(doc.chat.attachments[0].kind, 'document');
    assert.equal(doc.chat.attachments[0].name, 'big.pdf');
    assert.deepEqual(doc.files, [], 'over the 1 MB limit: listed, not downloaded');
    assert.ok(everythingSaid('in').some((s) => s.includes('big.pdf') && s.includes('1 MB')), 'the limit is said');
    assert.equal(sticker.chat.attachments[0].kind, 'sticker');
    assert.equal(loc.chat.attachments[0].kind, 'location');
    assert.deepEqual(loc.whatsapp.location, { latitude: 52.52, longitude: 13.405, name: 'Berlin', address: 'Mitte' });
    assert.equal(contacts.chat.attachments[0].kind, 'contact');
    assert.equal(contacts.chat.attachments[0].name, 'Carol');
    assert.deepEqual(contacts.whatsapp.contacts, [{ name: 'Carol', phones: ['+1 555 0100'] }]);
  });

  it('replies, button and list choices carry the quoted id and the choice; reactions only when asked', async () => {
    await start();
    const { alice } = wa.fixtures;
    const seen = collect('h');
    await wa.userSends(url(), alice, wa.make.text(alice, 'about that', { contextId: 'wamid.QUOTED123' }));
    await wa.userSends(url(), alice, wa.make.buttonReply(alice, { id: 'yes', title: 'Yes please' }, 'wamid.BUTTONS1'));
    await wa.userSends(url(), alice, wa.make.listReply(alice, { id: 'opt-2', title: 'Second', description: 'the second one' }, 'wamid.LIST1'));
    await wa.userSends(url(), alice, wa.make.reaction(alice, 'wamid.SOMETHING', '👍'));
    await wa.userSends(url(), alice, wa.make.unsupported(alice));
    await wa.userSends(url(), alice, wa.make.text(alice, 'after them'));
    await until(() => seen.length === 4, 5000, 'four messages');
    await sleep(200);
    assert.deepEqual(seen.map((m) => m.payload), ['about that', 'yes', 'opt-2', 'after them']);
    assert.equal(seen[0].whatsapp.context.id, 'wamid.QUOTED123');
    assert.deepEqual(seen[1].whatsapp.choice, { kind: 'button', id: 'yes', title: 'Yes please' });
    assert.equal(seen[1].whatsapp.context.id, 'wamid.BUTTONS1');
    assert.deepEqual(seen[2].whatsapp.choice, { kind: 'list', id: 'opt-2', title: 'Second', description: 'the second one' });

    await unload();
    await start({ inOver: { reactions: true } });
    const again = collect('h');
    await wa.userSends(url(), alice, wa.make.reaction(alice, 'wamid.SOMETHING', '🎉'));
    await until(() => again.length === 1, 5000, 'the reaction');
    assert.equal(again[0].payload, '🎉');
    assert.deepEqual(again[0].whatsapp.reaction, { messageId: 'wamid.SOMETHING', emoji: '🎉' });
  });

  it('a user who withholds the phone number is keyed by the business-scoped id and answered by it', async () => {
    await start({ echo: true });
    const { hidden } = wa.fixtures;
    const got = nextMessage('h', 5000);
    await wa.userSends(url(), hidden, wa.make.text(hidden, 'no number here'));
    const msg = await got;
    assert.equal(msg.chat.userJid, `wa:${hidden.userId}`);
    assert.equal(msg.whatsapp.waId, undefined);
    assert.equal(msg.whatsapp.username, 'hidden_user');
    const shown = await wa.waitForPhone(hidden, (items) => items.length >= 1, 5000);
    assert.equal(shown[0].text, 'no number here');
    assert.equal(shown[0].addressedBy, 'recipient');
  });

  it('messages while no in node listens are answered 503 (Meta sends them again); statuses are taken', async () => {
    await start({ outOnly: true });
    const { alice } = wa.fixtures;
    const d = await wa.userSends(url(), alice, wa.make.text(alice, 'nobody listens'), { retry: false });
    assert.equal(d.attempts[0].status, 503);
    const statuses = await wa.deliver(url(), wa.notification({ statuses: [{ id: 'wamid.X', status: 'delivered', timestamp: '1', recipient_id: alice.waId }] }), { retry: false });
    assert.equal(statuses.attempts[0].status, 200);
  });

  it('a malformed message is logged once per kind and left out; the next one is served', async () => {
    await start();
    const { alice } = wa.fixtures;
    const seen = collect('h');
    const broken = wa.make.text(alice, 'x');
    delete broken.id;
    await wa.userSends(url(), alice, broken);
    const alsoBroken = wa.make.text(alice, 'y');
    delete alsoBroken.id;
    await wa.userSends(url(), alice, alsoBroken);
    const noObject = { ...wa.make.text(alice, 'z') };
    delete noObject.text;
    await wa.userSends(url(), alice, noObject);
    await wa.userSends(url(), alice, wa.make.text(alice, 'valid'));
    await until(() => seen.length === 1, 3000, 'the valid message');
    await sleep(200);
    assert.deepEqual(seen.map((m) => m.payload), ['valid']);
    const warned = everythingSaid('in').filter((s) => s.includes('was not understood'));
    assert.equal(warned.filter((s) => s.includes('update.message.id')).length, 1, 'one line for the kind');
    assert.equal(warned.filter((s) => s.includes('update.message.type')).length, 1);
  });

  it('a token Meta refuses (190) says so in every status, and is never in the log', async () => {
    wa.inject.revokeToken();
    await loadFlow([gateway, accountNode(wa), { id: 'in', type: 'chatgate-whatsapp-in', account: 'wa', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }], credentials(wa));
    await until(() => getNode('wa')?.connection?.status.key === 'unauthorized', 5000, 'the token refused');
    await sleep(200);
    const said = everythingSaid('in');
    assert.ok(said.some((s) => s.includes('Meta refused the access token (190)')), said.join('\n'));
    for (const secret of [wa.token, wa.appSecret, VERIFY_TOKEN]) assert.ok(!said.some((s) => s.includes(secret)), 'no credential in a log line or status');
    const calls = wa.sent.filter((c) => c.op === 'phoneNumber').length;
    await sleep(500);
    assert.equal(wa.sent.filter((c) => c.op === 'phoneNumber').length, calls, 'a refused token is not retried');
  });

  it('the webhook is removed on close', async () => {
    await start();
    await unload();
    const { alice } = wa.fixtures;
    const d = await wa.userSends(url(), alice, wa.make.text(alice, 'too late'), { retry: false });
    assert.equal(d.attempts[0].status, 404);
    assert.equal((await wa.verify(url(), { token: VERIFY_TOKEN })).status, 404);
  });
});
