/**
 * The pure Discord glue, without Node-RED or the network: settings, the Ed25519 check, the
 * interaction book, command comparison, the mapping's helpers, the out side's address and buttons,
 * what a failure means, and the redaction of tokens and token-bearing paths.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { DiscordAPIError, HTTPError } from 'discord.js';
import { redact } from '../../nodes/core/redact';
import { readAddress } from '../../nodes/discord/address';
import { commandBody, sameCommand } from '../../nodes/discord/commands';
import { readComponents } from '../../nodes/discord/components';
import { parseInbound } from '../../nodes/discord/event-schema';
import { mapInbound, optionsText, stripLeadingMention, unsignedUrl } from '../../nodes/discord/event-to-envelope';
import { InteractionBook, KEEP_MS, TOKEN_LIFETIME_MS } from '../../nodes/discord/interaction-book';
import { importPublicKey, verifyInteraction } from '../../nodes/discord/interactions';
import { classify, describeSendError, scrubPaths, UncertainError } from '../../nodes/discord/send-errors';
import { normalizeApiRoot, readBotSettings, readCommands } from '../../nodes/discord/settings';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB';
const BOT = '123456789012345678';
const USER = '223456789012345678';
const CHANNEL = '323456789012345678';

describe('discord units', () => {
  describe('settings', () => {
    it('reads a good config, with the API base and the intents', () => {
      const { settings, problems } = readBotSettings({ id: 'n1', apiRoot: 'http://127.0.0.1:9/api/', messageContent: true }, { token: `Bot ${TOKEN}` });
      assert.deepEqual(problems, []);
      assert.equal(settings.api, 'http://127.0.0.1:9/api');
      assert.equal(settings.fileOrigin, 'http://127.0.0.1:9');
      assert.equal(settings.intents & (1 << 15), 1 << 15);
      assert.equal(settings.path, '/chatgate/discord/n1');
      assert.deepEqual(settings.commands, [{ name: 'ask', description: 'Ask the agent', text: true }]);
      assert.equal(normalizeApiRoot(''), undefined);
      assert.equal(normalizeApiRoot('https://discord.com/api/v10'), 'https://discord.com');
    });

    it('names every problem', () => {
      const { problems } = readBotSettings({ id: 'n', receive: 'http', applicationId: '12', apiRoot: 'ftp://x', path: '/a b', commandScope: 'guilds', guildIds: 'x' }, { token: 'not a token', publicKey: 'zz' });
      assert.deepEqual(problems.sort(), ['badApiRoot', 'badApplicationId', 'badGuildIds', 'badPath', 'badPublicKey', 'badToken'].sort());
      assert.deepEqual(readBotSettings({ id: 'n', receive: 'both' }, {}).problems, ['noToken', 'noPublicKey']);
    });

    it('commands: names as Discord allows them, no name twice, empty rows skipped', () => {
      assert.deepEqual(readCommands([{ name: '/Ask', description: 'x' }]), undefined, 'upper case is refused');
      assert.deepEqual(readCommands([{ name: 'ask', description: 'a' }, { name: 'ask', description: 'b' }]), undefined);
      assert.deepEqual(readCommands([{ name: '', description: '' }, { name: '/ask', description: 'Ask', text: false }]), [{ name: 'ask', description: 'Ask', text: false }]);
      assert.deepEqual(readCommands('[{"name":"résumé","description":"d"}]'), [{ name: 'résumé', description: 'd', text: true }]);
      assert.deepEqual(readCommands([]), []);
    });
  });

  describe('the Ed25519 check', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const hex = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
    const key = importPublicKey(hex);
    const now = 1_800_000_000_000;
    const ts = String(now / 1000);
    const body = Buffer.from('{"type":1}');
    const sig = sign(null, Buffer.concat([Buffer.from(ts), body]), privateKey).toString('hex');

    it('verifies a good signature over timestamp + raw body', () => {
      assert.equal(verifyInteraction(key, { signature: sig, timestamp: ts, body }, now), true);
    });

    it('refuses other bytes, another timestamp, a stale or future one, and garbage', () => {
      assert.equal(verifyInteraction(key, { signature: sig, timestamp: ts, body: Buffer.from('{"type": 1}') }, now), false);
      assert.equal(verifyInteraction(key, { signature: sig, timestamp: String(now / 1000 + 1), body }, now), false);
      assert.equal(verifyInteraction(key, { signature: sig, timestamp: ts, body }, now + 301_000), false);
      assert.equal(verifyInteraction(key, { signature: sig, timestamp: ts, body }, now - 301_000), false);
      assert.equal(verifyInteraction(key, { signature: undefined, timestamp: ts, body }, now), false);
      assert.equal(verifyInteraction(key, { signature: 'zz', timestamp: ts, body }, now), false);
      assert.equal(verifyInteraction(key, { signature: sig, timestamp: 'soon', body }, now), false);
      assert.throws(() => importPublicKey('abc'));
    });
  });

  describe('the interaction book', () => {
    it('acknowledges once (a replay does not acknowledge again), and lets a token go before its 15 minutes end', async () => {
      let t = 0;
      const sent: unknown[] = [];
      const book = new InteractionBook(async (_r, body) => sent.push(body), () => undefined, () => t);
      book.add({ id: '1', applicationId: BOT, token: 'tok', kind: 'command' });
      book.acknowledge('1', { ephemeral: true });
      book.add({ id: '1', applicationId: BOT, token: 'tok', kind: 'command' });
      book.acknowledge('1');
      assert.deepEqual(sent, [{ type: 5, data: { flags: 64 } }]);
      assert.equal(book.live('1')?.ephemeral, true);
      t = TOKEN_LIFETIME_MS - 10_000;
      assert.equal(book.live('1'), undefined, 'too close to the end for a whole answer');
      book.add({ id: '2', applicationId: BOT, token: 't2', kind: 'component' });
      book.acknowledge('2');
      assert.deepEqual(sent[1], { type: 6 });
      assert.ok(book.find('1'), 'still remembered after its token');
      t = KEEP_MS + TOKEN_LIFETIME_MS;
      book.add({ id: '3', applicationId: BOT, token: 't3', kind: 'command' });
      assert.equal(book.size, 1, 'old ones are swept');
    });

    it('an HTTP interaction is answered on its request, once', () => {
      const answers: unknown[] = [];
      const book = new InteractionBook(async () => assert.fail('no REST callback for HTTP'), () => undefined);
      book.add({ id: '9', applicationId: BOT, token: 'tok', kind: 'command', respond: (b) => answers.push(b) });
      book.settle('9');
      book.acknowledge('9', { ephemeral: true });
      assert.deepEqual(answers, [{ type: 5 }]);
    });
  });

  describe('commands', () => {
    it('compares what Discord has with what we want, ignoring what Discord adds', () => {
      const want = commandBody({ name: 'ask', description: 'Ask', text: true });
      assert.equal(sameCommand({ id: '1', version: '2', name: 'ask', description: 'Ask', options: [{ type: 3, name: 'text', description: 'What to say', required: true, extra: 1 }] }, want), true);
      assert.equal(sameCommand({ name: 'ask', description: 'Other', options: want.options }, want), false);
      assert.equal(sameCommand({ name: 'ask', description: 'Ask' }, want), false);
      assert.equal(sameCommand({ name: 'reset', description: 'R' }, commandBody({ name: 'reset', description: 'R', text: false })), true);
    });
  });

  describe('the mapping', () => {
    it('strips a leading mention, reads options as text, keeps CDN URLs without their signature', () => {
      assert.equal(stripLeadingMention(`<@${BOT}> hi there`, BOT), 'hi there');
      assert.equal(stripLeadingMention(`<@!${BOT}>, hi`, BOT), 'hi');
      assert.equal(stripLeadingMention(`hi <@${BOT}>`, BOT), `hi <@${BOT}>`);
      assert.equal(optionsText([{ name: 'text', type: 3, value: 'why' }]), 'why');
      assert.equal(optionsText([{ name: 'config', type: 1, options: [{ name: 'level', type: 4, value: 3 }] }]), 'config 3');
      assert.equal(unsignedUrl('https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&is=2&hm=abc'), 'https://cdn.discordapp.com/attachments/1/2/a.png');
      assert.equal(unsignedUrl('javascript:alert(1)'), undefined);
    });

    it('a command in a thread answers in the thread; the token is not in the envelope', () => {
      const raw = {
        source: 'http',
        type: 'INTERACTION_CREATE',
        data: { id: '423456789012345678', application_id: BOT, type: 2, token: 'secret-token', guild_id: '523456789012345678', channel: { id: CHANNEL, type: 11, parent_id: '623456789012345678' }, member: { user: { id: USER, username: 'a' } }, data: { name: 'ask', options: [{ name: 'text', type: 3, value: 'q' }] } },
      };
      const p = parseInbound(raw);
      assert.ok(p.ok);
      const m = mapInbound(p.value, { channelId: 'bot', botId: BOT, guild: 'mention', channels: new Set() });
      assert.ok(m.ok);
      assert.equal(m.chat.chatId, '623456789012345678');
      assert.equal(m.chat.threadId, CHANNEL);
      assert.equal(m.chat.replyTo.interactionId, '423456789012345678');
      assert.equal(m.discord.source, 'http');
      assert.ok(!JSON.stringify(m).includes('secret-token'));
    });

    it('a select menu or an autocomplete is ignored, not malformed; an id that is no snowflake is malformed', () => {
      assert.deepEqual(parseInbound({ type: 'INTERACTION_CREATE', data: { type: 3, data: { component_type: 3 } } }), { ok: true, value: { kind: 'ignored' } });
      assert.deepEqual(parseInbound({ type: 'INTERACTION_CREATE', data: { type: 4 } }), { ok: true, value: { kind: 'ignored' } });
      const bad = parseInbound({ type: 'MESSAGE_CREATE', data: { id: '1', channel_id: CHANNEL, author: { id: USER } } });
      assert.equal(bad.ok, false);
    });
  });

  describe('the out side', () => {
    it('an address: the thread when there is one; an interaction id is never quoted', () => {
      const a = readAddress({ platform: 'discord', channelId: 'b', chatId: CHANNEL, threadId: USER, messageId: BOT, userId: USER, interactionId: BOT });
      assert.ok(a.ok);
      assert.equal(a.value.channel, USER);
      assert.equal(a.value.messageId, undefined);
      assert.equal(a.value.interactionId, BOT);
      assert.equal(readAddress({ platform: 'discord', channelId: 'b', chatId: '../x', userId: USER }).ok, false, 'no path segments from outside');
    });

    it('buttons: a flat list is one per row; more than 5 per row is refused', () => {
      const r = readComponents([{ text: 'A', data: 'a' }, { text: 'B', url: 'https://x.y' }]);
      assert.ok(r.ok && r.value);
      assert.equal(r.value.length, 2);
      assert.equal(readComponents([Array.from({ length: 6 }, (_, i) => ({ text: `${i}`, data: `${i}` }))]).ok, false);
      assert.equal(readComponents([{ text: 'x'.repeat(81), data: 'a' }]).ok, false);
      assert.equal(readComponents([{ text: 'x', data: 'a'.repeat(101) }]).ok, false);
    });
  });

  describe('failures', () => {
    it('classifies what @discordjs/rest throws', () => {
      const api = (status: number, code: number) => new DiscordAPIError({ code, message: 'm' }, code, status, 'POST', 'http://x/api/v10/channels/1/messages', { body: {} });
      assert.equal(classify(api(401, 0)).kind, 'auth');
      assert.equal(classify(api(403, 50013)).kind, 'forbidden');
      assert.equal(classify(api(404, 10008)).kind, 'notFound');
      assert.equal(classify(api(400, 50035)).kind, 'refused');
      assert.equal(classify(new HTTPError(502, 'Bad Gateway', 'POST', 'u', { body: {} })).kind, 'unknown');
      assert.equal(classify(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })).kind, 'notSent');
      assert.equal(classify(Object.assign(new Error('aborted'), { name: 'AbortError' })).kind, 'unknown');
      assert.equal(classify(new Error('Expected token to be set for this request, but none was present')).kind, 'auth');
      assert.equal(classify(null).kind, 'unknown');
    });

    it('describes them without tokens, whatever they carry; never throws', () => {
      const url = `http://x/api/v10/webhooks/${BOT}/aW50ZXJhY3Rpb246MTIzOnNlY3JldHNlY3JldHNlY3JldA/messages/@original`;
      const e = describeSendError(new UncertainError('the follow-up', `socket hang up at ${url}`));
      assert.ok(!e.message.includes('aW50ZXJhY3Rpb24'), e.message);
      const hostile = { get message() { throw new Error('no'); } };
      assert.ok(describeSendError(hostile).message.length > 0);
      assert.equal(scrubPaths(`/interactions/${BOT}/abcdefghijklmnop/callback`), `/interactions/${BOT}/***/callback`);
    });

    it('the one redactor knows Discord bot tokens and token-bearing paths by shape', () => {
      assert.ok(!redact(`token ${TOKEN} leaked`).includes(TOKEN));
      assert.ok(!redact(`Authorization: Bot ${TOKEN}`).includes(TOKEN));
      assert.equal(redact(`POST /webhooks/${BOT}/${'t'.repeat(40)}`), `POST /webhooks/${BOT}/***`);
      assert.equal(redact('a.b.c and version 1.2.3 stay'), 'a.b.c and version 1.2.3 stay');
    });
  });
});
