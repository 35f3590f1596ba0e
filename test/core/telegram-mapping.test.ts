/**
 * The pure Telegram glue: who a group message addresses, how an update becomes an envelope, and how
 * the bot config node's settings are read. No network, no Node-RED.
 */
import assert from 'node:assert/strict';
import type { Message, Update } from 'grammy/types';
import { normalizeApiRoot, normalizeWebhookPath, readBotSettings } from '../../nodes/telegram/bot-settings';
import { redact } from '../../nodes/telegram/connection';
import { addressesBot, isCommandForBot, mentionsBot, repliesToBot, stripLeadingMention } from '../../nodes/telegram/gating';
import { attachmentsOf } from '../../nodes/telegram/media';
import { parseUpdate, RejectTally } from '../../nodes/telegram/update-schema';
import { mapUpdate as mapParsed, type MapOptions } from '../../nodes/telegram/update-to-envelope';

/** Test updates are built loosely; like the in node, they are parsed first (and must be valid). */
const mapUpdate = (u: unknown, o: MapOptions) => {
  const parsed = parseUpdate(u);
  assert.ok(parsed.ok, `test update is malformed: ${parsed.ok ? '' : `${parsed.kind}: ${parsed.problem}`}`);
  return mapParsed(parsed.update, o);
};

const bot = { id: 77, username: 'My_Bot' };
const group = { id: -100, type: 'supergroup', title: 'G' } as const;
const alice = { id: 5, is_bot: false, first_name: 'Alice', last_name: 'A' };

function msg(text: string, over: Partial<Message> = {}): Message {
  const entities: Message['entities'] = [];
  const cmd = /^\/\S+/.exec(text);
  if (cmd) entities.push({ type: 'bot_command', offset: 0, length: cmd[0].length });
  for (const m of text.matchAll(/@\w+/g)) entities.push({ type: 'mention', offset: m.index!, length: m[0].length });
  return { message_id: 1, date: 0, chat: group, from: alice, text, ...(entities.length ? { entities } : {}), ...over } as Message;
}

const opts: MapOptions = { channelId: 'cfg', bot, groups: 'mention', edited: false };

describe('telegram gating', () => {
  it('commands: for us or for nobody in particular, not for another bot', () => {
    assert.equal(isCommandForBot(msg('/help'), bot), true);
    assert.equal(isCommandForBot(msg('/help@my_bot x'), bot), true, 'usernames compare case-insensitively');
    assert.equal(isCommandForBot(msg('/help@other_bot'), bot), false);
    assert.equal(isCommandForBot(msg('see /help'), bot), false, 'only a leading command');
  });

  it('mentions: @username entity or a text_mention of the bot', () => {
    assert.equal(mentionsBot(msg('hey @my_bot'), bot), true);
    assert.equal(mentionsBot(msg('hey @my_bot_fan'), bot), false);
    const tm = msg('hey you', { entities: [{ type: 'text_mention', offset: 4, length: 3, user: { id: 77, is_bot: true, first_name: 'B' } }] });
    assert.equal(mentionsBot(tm, bot), true);
    const caption = { ...msg(''), text: undefined, caption: '@My_Bot look', caption_entities: [{ type: 'mention', offset: 0, length: 7 }] } as Message;
    assert.equal(mentionsBot(caption, bot), true, 'captions count');
  });

  it('replies: to a bot message, but not a forum topic start', () => {
    const mine = { message_id: 9, date: 0, chat: group, from: { id: 77, is_bot: true, first_name: 'B' }, text: 'hi' } as Message;
    assert.equal(repliesToBot(msg('ok', { reply_to_message: mine as never }), bot), true);
    assert.equal(repliesToBot(msg('ok', { reply_to_message: { ...mine, from: alice } as never }), bot), false);
    const topic = { ...mine, forum_topic_created: { name: 't', icon_color: 1 } };
    assert.equal(repliesToBot(msg('ok', { reply_to_message: topic as never, is_topic_message: true, message_thread_id: 9 }), bot), false);
    assert.equal(addressesBot(msg('plain'), bot), false);
  });

  it('strips only a leading mention of this bot', () => {
    assert.equal(stripLeadingMention('@my_bot, what now?', bot), 'what now?');
    assert.equal(stripLeadingMention('@My_Bot', bot), '');
    assert.equal(stripLeadingMention('@my_bot_fan hi', bot), '@my_bot_fan hi');
    assert.equal(stripLeadingMention('hi @my_bot', bot), 'hi @my_bot');
  });
});

describe('telegram update to envelope', () => {
  it('group messages need to address the bot unless groups is always', () => {
    assert.deepEqual(mapUpdate({ update_id: 1, message: msg('hello') }, opts), { ok: false, reason: 'notAddressed' });
    const r = mapUpdate({ update_id: 1, message: msg('hello') }, { ...opts, groups: 'always' });
    assert.ok(r.ok);
    assert.equal(r.chat.mentioned, false);
    assert.deepEqual(mapUpdate({ update_id: 1, message: msg('/x@other_bot') }, { ...opts, groups: 'always' }), { ok: false, reason: 'foreignCommand' });
  });

  it('anonymous group admins are the group, not a bot', () => {
    const anon = msg('@my_bot hi', { from: { id: 1087968824, is_bot: true, first_name: 'Group' }, sender_chat: group as never });
    const r = mapUpdate({ update_id: 3, message: anon }, opts);
    assert.ok(r.ok);
    assert.equal(r.chat.userId, '-100');
    assert.equal(r.chat.userName, 'G');
    assert.equal(r.chat.isBot, false);
  });

  it('names a user by username, else by full name', () => {
    const r = mapUpdate({ update_id: 3, message: msg('/go', { chat: { id: 5, type: 'private', first_name: 'Alice' } }) }, opts);
    assert.ok(r.ok);
    assert.equal(r.chat.userName, 'Alice A');
    assert.equal(r.chat.chatType, 'direct');
    assert.deepEqual(r.chat.command, { name: '/go', args: '' });
  });

  it('channel posts are channel chats; service messages are not messages', () => {
    const post = { message_id: 3, date: 0, chat: { id: -200, type: 'channel', title: 'News' }, sender_chat: { id: -200, type: 'channel', title: 'News' }, text: '/digest' } as Message;
    const r = mapUpdate({ update_id: 4, channel_post: { ...post, entities: [{ type: 'bot_command', offset: 0, length: 7 }] } } as Update, opts);
    assert.ok(r.ok);
    assert.equal(r.chat.chatType, 'channel');
    assert.equal(r.chat.userId, '-200');
    const joined = { ...msg(''), text: undefined, entities: undefined, new_chat_members: [alice] } as unknown as Message;
    assert.deepEqual(mapUpdate({ update_id: 5, message: joined }, { ...opts, groups: 'always' }), { ok: false, reason: 'unsupported' });
  });

  it('attachments: the largest photo, files with names and sizes, venues as locations', () => {
    const m = {
      ...msg(''),
      text: undefined,
      photo: [
        { file_id: 'small', file_unique_id: 's', width: 90, height: 90, file_size: 10 },
        { file_id: 'big', file_unique_id: 'b', width: 900, height: 900, file_size: 1000 },
        { file_id: 'mid', file_unique_id: 'm', width: 300, height: 300, file_size: 100 },
      ],
    } as Message;
    assert.deepEqual(attachmentsOf(m), [{ kind: 'photo', fileId: 'big', mimeType: 'image/jpeg', size: 1000 }]);
    const venue = { ...msg(''), venue: { location: { latitude: 1, longitude: 2 }, title: 'Cafe', address: 'x' }, location: { latitude: 1, longitude: 2 } } as Message;
    assert.deepEqual(attachmentsOf(venue), [{ kind: 'location', url: 'geo:1,2', name: 'Cafe' }]);
    const gif = { ...msg(''), animation: { file_id: 'a', file_unique_id: 'a', width: 1, height: 1, duration: 1, mime_type: 'video/mp4' }, document: { file_id: 'a', file_unique_id: 'a' } } as Message;
    assert.deepEqual(attachmentsOf(gif), [{ kind: 'animation', fileId: 'a', mimeType: 'video/mp4' }], 'an animation is not also a document');
  });
});

describe('telegram update schema', () => {
  const valid = () => ({ update_id: 9, message: msg('/go', { chat: { id: 5, type: 'private', first_name: 'Alice' } }) });

  it('keeps what the mapping reads and leaves out what it does not', () => {
    const u = { ...valid(), my_chat_member: { x: 1 }, message: { ...valid().message, new_field_2030: { deep: [1] }, from: { ...alice, language_code: 'en' } } };
    const parsed = parseUpdate(JSON.parse(JSON.stringify(u)));
    assert.ok(parsed.ok);
    assert.equal(parsed.update.message?.from?.id, 5);
    assert.equal((parsed.update.message as Record<string, unknown>).new_field_2030, undefined, 'unknown fields are accepted, not passed on');
    assert.equal((parsed.update as Record<string, unknown>).my_chat_member, undefined);
  });

  it('names the first bad field, array indexes folded into one kind', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'update'],
      [[valid()], 'update'],
      [{ ...valid(), update_id: '9' }, 'update.update_id'],
      [{ ...valid(), update_id: 2 ** 60 }, 'update.update_id'],
      [{ message: valid().message }, 'update.update_id'],
      [{ update_id: 9, message: { ...valid().message, message_id: { id: 1 } } }, 'update.message.message_id'],
      [{ update_id: 9, message: { ...valid().message, from: { id: '5', is_bot: false } } }, 'update.message.from.id'],
      [{ update_id: 9, message: { ...valid().message, chat: { id: 5, type: 'room' } } }, 'update.message.chat.type'],
      [{ update_id: 9, message: { ...valid().message, photo: [{ file_id: 'a', width: 1, height: 1 }, { width: 2, height: 2 }] } }, 'update.message.photo[].file_id'],
      [{ update_id: 9, message: { ...valid().message, document: { file_id: 7 } } }, 'update.message.document.file_id'],
      [{ update_id: 9, message: { ...valid().message, location: { latitude: 91, longitude: 0 } } }, 'update.message.location.latitude'],
      [{ update_id: 9, callback_query: { id: 'q', from: [alice] } }, 'update.callback_query.from'],
    ];
    for (const [u, kind] of cases) {
      const parsed = parseUpdate(u);
      assert.ok(!parsed.ok, `${JSON.stringify(u)} passed`);
      assert.equal(parsed.kind, kind);
    }
  });

  it('1e999 (Infinity) is no latitude, and a prototype key is only a key', () => {
    const text = JSON.stringify({ update_id: 9, message: { ...valid().message, location: { latitude: 'INF', longitude: 0 } } }).replace('"INF"', '1e999');
    assert.equal((parseUpdate(JSON.parse(text)) as { kind: string }).kind, 'update.message.location.latitude');
    const sneaky = JSON.parse('{"update_id":9,"__proto__":{"message":{"message_id":1}},"message":{"message_id":2,"chat":{"id":3,"type":"private","__proto__":{"id":"x"}},"from":{"__proto__":{"is_bot":true},"id":3,"is_bot":false},"text":"hi"}}');
    const parsed = parseUpdate(sneaky);
    assert.ok(parsed.ok);
    assert.equal(Object.getPrototypeOf(parsed.update), Object.prototype);
    assert.equal(parsed.update.message?.from?.is_bot, false);
    const r = mapParsed(parsed.update, opts);
    assert.ok(r.ok);
    assert.deepEqual([r.chat.userId, r.chat.chatId, r.chat.messageId], ['3', '3', '2']);
  });

  it('the tally says true once per kind and counts every one', () => {
    const t = new RejectTally(2);
    assert.deepEqual(['a', 'a', 'b', 'a', 'c', 'd'].map((k) => t.note(k)), [true, false, true, false, true, false]);
    assert.equal(t.total, 6);
    assert.equal(t.summary(), 'a: 3, other: 2, b: 1', 'kinds past the cap are counted as other');
  });
});

describe('telegram bot settings', () => {
  it('reads defaults, normalizes apiRoot and the webhook path', () => {
    const { settings, problems } = readBotSettings({ id: 'n1' }, { token: '1:abc' });
    assert.deepEqual(problems, []);
    assert.equal(settings.mode, 'polling');
    assert.equal(settings.apiRoot, undefined);
    assert.equal(settings.pollTimeoutSec, 30);
    assert.equal(settings.webhookPath, '/chatgate/telegram/n1');
    assert.equal(settings.throttle, true);
    assert.equal(normalizeApiRoot(' http://localhost:8081/// '), 'http://localhost:8081');
    assert.equal(normalizeApiRoot(''), undefined);
    assert.equal(normalizeWebhookPath('tg/hook/', 'x'), '/tg/hook');
  });

  it('names each problem', () => {
    assert.deepEqual(readBotSettings({ id: 'n' }, {}).problems, ['noToken']);
    assert.deepEqual(readBotSettings({ id: 'n' }, { token: 'https://api.telegram.org/bot1:a' }).problems, ['badToken']);
    assert.deepEqual(readBotSettings({ id: 'n', mode: 'webhook' }, { token: '1:a' }).problems, ['noWebhookUrl']);
    assert.deepEqual(readBotSettings({ id: 'n', mode: 'webhook', webhookUrl: 'ftp://x' }, { token: '1:a' }).problems, ['badWebhookUrl']);
    assert.deepEqual(readBotSettings({ id: 'n', apiRoot: 'localhost:8081' }, { token: '1:a' }).problems, ['badApiRoot']);
    assert.equal(readBotSettings({ id: 'n', pollTimeout: 500 }, { token: '1:a' }).settings.pollTimeoutSec, 50, 'Telegram holds a poll at most 50 s');
  });

  it('redacts the token, also URL-encoded', () => {
    assert.equal(redact('GET http://x/bot1:a-b/getMe failed', '1:a-b'), 'GET http://x/bot<token>/getMe failed');
    assert.equal(redact('http://x/bot1%3Aa-b/x', '1:a-b'), 'http://x/bot<token>/x');
  });
});
