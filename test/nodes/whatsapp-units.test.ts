/**
 * The pure WhatsApp glue, without Node-RED or the network: settings, what a Graph error means (of
 * any shape), the status book, the address, buttons, media and templates, and the mapping's
 * choice of user id.
 */
import assert from 'node:assert/strict';
import { readAddress, recipientOf } from '../../nodes/whatsapp/address';
import { parseInbound } from '../../nodes/whatsapp/event-schema';
import { mapMessage } from '../../nodes/whatsapp/event-to-envelope';
import { interactiveOf, readChoices } from '../../nodes/whatsapp/interactive';
import { readOutMedia } from '../../nodes/whatsapp/media-out';
import { classify, describeSendError, graphError, GraphError, UncertainError, WindowClosedError } from '../../nodes/whatsapp/send-errors';
import { DEFAULT_GRAPH_VERSION, normalizeVersion, readAccountSettings } from '../../nodes/whatsapp/settings';
import { StatusBook } from '../../nodes/whatsapp/status-book';
import { readTemplate, templateBody, templateParam } from '../../nodes/whatsapp/template';

const CREDS = { token: 'EAAGtesttokenvalue0123456789', appSecret: 'secret', verifyToken: 'verify' };

describe('whatsapp units', () => {
  describe('settings', () => {
    it('reads a good account, with the default version and Graph root', () => {
      const { settings, problems } = readAccountSettings({ id: 'n1', phoneNumberId: '106540352242922' }, CREDS);
      assert.deepEqual(problems, []);
      assert.equal(settings.version, DEFAULT_GRAPH_VERSION);
      assert.equal(settings.graphBase, `https://graph.facebook.com/${DEFAULT_GRAPH_VERSION}`);
      assert.equal(settings.path, '/chatgate/whatsapp/n1');
      assert.equal(settings.pairWaitMs, 6000);
    });

    it('names each problem', () => {
      const { problems } = readAccountSettings({ id: 'n1', phoneNumberId: '+1 555 000', version: 'latest', apiRoot: 'ftp://x', path: '/a b' }, { token: 'has spaces in it, not a token' });
      assert.deepEqual(problems.sort(), ['badApiRoot', 'badPath', 'badPhoneNumberId', 'badToken', 'badVersion', 'noAppSecret', 'noVerifyToken'].sort());
      assert.deepEqual(readAccountSettings({ id: 'n1' }, {}).problems.sort(), ['noAppSecret', 'noPhoneNumberId', 'noToken', 'noVerifyToken'].sort());
    });

    it('takes a pasted version URL, a version without v, and bounds the timings', () => {
      assert.equal(normalizeVersion('24'), 'v24.0');
      assert.equal(normalizeVersion('v26.0'), 'v26.0');
      const { settings } = readAccountSettings({ id: 'n', phoneNumberId: '123456', apiRoot: 'http://127.0.0.1:9/v25.0/', pairWait: 99999, pace: -4 }, CREDS);
      assert.equal(settings.graphBase, `http://127.0.0.1:9/${DEFAULT_GRAPH_VERSION}`);
      assert.equal(settings.apiOrigin, 'http://127.0.0.1:9');
      assert.equal(settings.pairWaitMs, 600_000);
      assert.equal(settings.paceMs, 0);
    });
  });

  describe('what a Graph error means', () => {
    const meta = (code: number, extra: Record<string, unknown> = {}) => JSON.stringify({ error: { message: `(#${code}) title`, type: 'OAuthException', code, error_data: { messaging_product: 'whatsapp', details: 'the details' }, fbtrace_id: 'A1', ...extra } });

    it('by Meta code, not by HTTP status', () => {
      assert.equal(classify(graphError(401, meta(190))).kind, 'auth');
      assert.equal(classify(graphError(400, meta(131047))).kind, 'window');
      assert.equal(classify(graphError(400, meta(131056))).kind, 'pairRate');
      assert.equal(classify(graphError(400, meta(130429))).kind, 'throughput');
      assert.equal(classify(graphError(500, meta(131000))).kind, 'transient');
      assert.equal(classify(graphError(400, meta(100, { is_transient: true }))).kind, 'transient');
      assert.equal(classify(graphError(400, meta(131009))).kind, 'refused');
    });

    it('bodies of any other shape: a proxy 5xx is unknown (may have been sent), a 4xx refused, a 401 auth', () => {
      for (const body of ['', '<html>502</html>', 'null', '[]', '{"error":"flat"}', '{"error":{"code":"190"}}', '{"message":"x"}', '{"err']) {
        const e = graphError(502, body);
        assert.equal(e.code, undefined, body);
        assert.equal(classify(e).kind, 'unknown', body);
        assert.equal(classify(graphError(400, body)).kind, 'refused', body);
        assert.equal(classify(graphError(401, body)).kind, 'auth', body);
        assert.ok(!/undefined|\[object/.test(e.message), e.message);
      }
    });

    it('network failures: refused before sending is notSent, a timeout or reset unknown', () => {
      const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      const reset = Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET' } });
      assert.equal(classify(refused).kind, 'notSent');
      assert.equal(classify(reset).kind, 'unknown');
      assert.equal(classify(Object.assign(new Error('t'), { name: 'TimeoutError' })).kind, 'unknown');
      assert.equal(classify(null).kind, 'unknown');
      assert.equal(classify('a string').kind, 'unknown');
    });

    it('describes each as one sentence without a token', () => {
      const token = 'EAAGsecretTOKENvalue1234567890abcdefghijklmnop';
      const t = (k: string, p?: Record<string, string | number>) => `${k} ${JSON.stringify(p ?? {})}`;
      assert.match(describeSendError(new WindowClosedError('x'), t).message, /whatsapp-out.errors.window/);
      assert.match(describeSendError(new UncertainError('the message send', 'timeout'), t).message, /uncertain/);
      assert.match(describeSendError(graphError(400, meta(131009)), t).message, /refused.*131009/);
      // A server that echoes the token in its error: the sentence never shows it, registered or not.
      const echo = describeSendError(new GraphError(400, 100, `bad token ${token}`, undefined, false), t).message;
      assert.ok(echo.includes('bad token') && !echo.includes(token), echo);
      assert.ok(describeSendError({ get message(): string { throw new Error('boom'); } }, t).message.length > 0);
    });
  });

  describe('the status book', () => {
    it('keeps the furthest state; failed is final; others are not ours', () => {
      const b = new StatusBook(3);
      b.sent('w1', 'u1', 'out');
      assert.equal(b.note('w1', 'delivered')?.record.state, 'delivered');
      assert.equal(b.note('w1', 'sent'), undefined, 'a late sent does not go back');
      assert.equal(b.note('w1', 'read')?.record.state, 'read');
      assert.equal(b.note('w1', 'failed', '(131026) undeliverable')?.record.error, '(131026) undeliverable');
      assert.equal(b.note('w1', 'read'), undefined);
      assert.equal(b.note('other', 'read'), undefined);
    });

    it('a report that comes before the send\'s answer is applied when the send is noted', () => {
      const b = new StatusBook();
      assert.equal(b.note('w9', 'delivered'), undefined);
      assert.equal(b.sent('w9', 'u1', 'out')?.record.state, 'delivered');
      assert.equal(b.sent('w10', 'u1', 'out'), undefined);
    });

    it('is bounded, oldest first', () => {
      const b = new StatusBook(2);
      b.sent('a', 'u', 'o');
      b.sent('b', 'u', 'o');
      b.sent('c', 'u', 'o');
      assert.equal(b.size, 2);
      assert.equal(b.get('a'), undefined);
      assert.ok(b.get('c'));
    });
  });

  describe('the out side', () => {
    const replyTo = (over: Record<string, unknown>) => ({ platform: 'whatsapp' as const, channelId: 'wa', chatId: 'US.1000000000000001', userId: 'US.1000000000000001', ...over });

    it('addresses by phone number when known, else by business-scoped id; quotes only wamids', () => {
      const byPhone = readAddress(replyTo({ waId: '15551230001', messageId: 'wamid.ABCD1234' }));
      assert.ok(byPhone.ok);
      assert.deepEqual(recipientOf(byPhone.value), { to: '15551230001' });
      assert.equal(byPhone.value.messageId, 'wamid.ABCD1234');
      const byId = readAddress(replyTo({ messageId: 'admin-send-1' }));
      assert.ok(byId.ok);
      assert.deepEqual(recipientOf(byId.value), { recipient: 'US.1000000000000001' });
      assert.equal(byId.value.messageId, undefined);
      assert.equal(readAddress(replyTo({ chatId: 'nobody' })).ok, false);
      assert.equal(readAddress(replyTo({ platform: 'telegram' })).ok, false);
    });

    it('buttons: three short ones are reply buttons, more a list, link buttons apart, limits named', () => {
      const three = readChoices([{ text: 'A', data: 'a' }, { text: 'B', data: 'b' }, { text: 'C', data: 'c' }, { text: 'Web', url: 'https://x.example' }]);
      assert.ok(three.ok && three.value);
      assert.equal(three.value.links.length, 1);
      assert.equal(interactiveOf('body', three.value.replies, 'Options').type, 'button');
      const long = readChoices([{ text: 'A title of 22 letters!', data: 'a' }]);
      assert.ok(long.ok && long.value);
      assert.equal(interactiveOf('body', long.value.replies, 'Options').type, 'list', 'a title over 20 needs a list row');
      const eleven = readChoices(Array.from({ length: 11 }, (_, i) => ({ text: `${i}`, data: `${i}` })));
      assert.equal(eleven.ok, false);
      const twice = readChoices([{ text: 'A', data: 'x' }, { text: 'B', data: 'x' }]);
      assert.equal(twice.ok, false);
      const tooLong = readChoices([{ text: 'x'.repeat(25), data: 'a' }]);
      assert.equal(tooLong.ok, false);
    });

    it('media: URLs must be https, images JPEG or PNG, one file per message', () => {
      assert.equal(readOutMedia({ image: 'http://insecure.example/a.png' }).ok, false);
      const link = readOutMedia({ document: 'https://x.example/r.pdf' });
      assert.ok(link.ok && link.value?.link);
      assert.equal(readOutMedia({ image: Buffer.from('GIF89a') }).ok, false);
      const png = readOutMedia({ photo: Buffer.from('89504e470d0a', 'hex') });
      assert.ok(png.ok && png.value?.mimeType === 'image/png');
      assert.equal(readOutMedia({ image: Buffer.from('89504e47', 'hex'), document: 'https://x.example/a.pdf' }).ok, false);
      const json = readOutMedia({ document: { type: 'Buffer', data: [1, 2, 3] }, filename: 'a.csv' });
      assert.ok(json.ok && json.value?.mimeType === 'text/csv');
    });

    it('templates: a flat parameter, the body Meta expects, msg.template checked', () => {
      assert.equal(templateParam('a\n\nb\tc     d'), 'a b c d');
      assert.equal([...templateParam('é'.repeat(2000))].length, 900);
      assert.deepEqual(templateBody({ name: 'n', language: 'en', params: ['x'] }), { name: 'n', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'x' }] }] });
      assert.deepEqual(templateBody({ name: 'n', language: 'en_US', params: [] }), { name: 'n', language: { code: 'en_US' } });
      assert.equal(readTemplate({ name: 'Bad Name' }).ok, false);
      assert.equal(readTemplate({ name: 'ok', language: 'english' }).ok, false);
      const ok = readTemplate({ name: 'order_update', params: ['1', 2] });
      assert.ok(ok.ok && ok.value?.params.length === 2);
    });
  });

  describe('the mapping', () => {
    const parse = (message: Record<string, unknown>, contact?: Record<string, unknown>) => {
      const p = parseInbound({ message, ...(contact ? { contact } : {}), phoneNumberId: '1' });
      assert.ok(p.ok, p.ok ? '' : `${p.kind}: ${p.problem}`);
      return p.value;
    };

    it('keys users by the business-scoped id, else the phone number', () => {
      const withBoth = mapMessage(parse({ id: 'wamid.1', from: '155', from_user_id: 'US.9', type: 'text', text: { body: 'x' } }, { wa_id: '155', user_id: 'US.9', profile: { name: 'A' } }), { channelId: 'wa', reactions: false });
      assert.ok(withBoth.ok);
      assert.equal(withBoth.chat.userId, 'US.9');
      const phoneOnly = mapMessage(parse({ id: 'wamid.2', from: '15551230001', type: 'text', text: { body: 'x' } }), { channelId: 'wa', reactions: false });
      assert.ok(phoneOnly.ok);
      assert.equal(phoneOnly.chat.userJid, 'wa:15551230001');
      assert.equal(phoneOnly.chat.replyTo.waId, '15551230001');
    });

    it('refuses a message without a sender or without the object its type names', () => {
      assert.equal(parseInbound({ message: { id: 'wamid.3', type: 'text', text: { body: 'x' } }, phoneNumberId: '1' }).ok, false);
      assert.equal(parseInbound({ message: { id: 'wamid.4', from: '1', type: 'image' }, phoneNumberId: '1' }).ok, false);
      const unknownType = parseInbound({ message: { id: 'wamid.5', from: '1', type: 'order', order: {} }, phoneNumberId: '1' });
      assert.ok(unknownType.ok);
      assert.deepEqual(mapMessage(unknownType.value, { channelId: 'wa', reactions: false }), { ok: false, reason: 'unsupported' });
    });
  });
});
