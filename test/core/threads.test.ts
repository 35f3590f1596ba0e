import { strict as assert } from 'node:assert';
import { ThreadMap, threadKey, PER_MESSAGE_RETENTION_MS } from '../../nodes/core/threads';
import { composeKey, MAX_KEY_LENGTH } from '../../nodes/core/keys';

const chat = (over: Partial<Record<string, string>> = {}) => ({
  platform: 'telegram' as const,
  channelId: 'bot1',
  chatId: 'c1',
  userId: 'u1',
  chatJid: 'tg:c1',
  userJid: 'tg:u1',
  ...over,
});
const DAY = 24 * 3600 * 1000;

describe('core/threads', () => {
  it('per-user: one thread per sender across chats of one bot', () => {
    const m = new ThreadMap();
    const a = m.resolve(chat(), { strategy: 'per-user', sessionMs: DAY, now: 0 });
    const b = m.resolve(chat({ chatId: 'c2' }), { strategy: 'per-user', sessionMs: DAY, now: 1 });
    const c = m.resolve(chat({ userId: 'u2' }), { strategy: 'per-user', sessionMs: DAY, now: 2 });
    assert.equal(a.record.id, b.record.id);
    assert.equal(b.isNew, false);
    assert.equal(b.record.turn, 2);
    assert.notEqual(c.record.id, a.record.id);
    const d = m.resolve(chat({ channelId: 'bot2' }), { strategy: 'per-user', sessionMs: DAY, now: 3 });
    assert.notEqual(d.record.id, a.record.id, 'another bot is another thread');
  });

  it('per-conversation: one thread per chat and per platform thread inside it', () => {
    const m = new ThreadMap();
    const o = { strategy: 'per-conversation' as const, sessionMs: DAY, now: 0 };
    const a = m.resolve(chat(), o);
    const b = m.resolve(chat({ userId: 'u2' }), o);
    const t = m.resolve(chat({ threadId: 'topic7' }), o);
    const t2 = m.resolve(chat({ threadId: 'topic7', userId: 'u3' }), o);
    assert.equal(a.record.id, b.record.id, 'two users in one chat share its thread');
    assert.notEqual(t.record.id, a.record.id);
    assert.equal(t.record.id, t2.record.id);
  });

  it('per-message: a new thread every time; single: one per bot', () => {
    const m = new ThreadMap();
    const p1 = m.resolve(chat(), { strategy: 'per-message', sessionMs: DAY, now: 0 });
    const p2 = m.resolve(chat(), { strategy: 'per-message', sessionMs: DAY, now: 0 });
    assert.notEqual(p1.record.id, p2.record.id);
    assert.ok(p1.isNew && p2.isNew);
    const s1 = m.resolve(chat(), { strategy: 'single', sessionMs: DAY, now: 0 });
    const s2 = m.resolve(chat({ userId: 'x', chatId: 'y' }), { strategy: 'single', sessionMs: DAY, now: 0 });
    assert.equal(s1.record.id, s2.record.id);
  });

  it('idle expiry starts a new thread; 0 means never', () => {
    const m = new ThreadMap();
    const a = m.resolve(chat(), { strategy: 'per-user', sessionMs: 1000, now: 0 });
    const b = m.resolve(chat(), { strategy: 'per-user', sessionMs: 1000, now: 1001 + 0 });
    assert.notEqual(a.record.id, b.record.id);
    assert.equal(b.cause, 'expired');
    assert.equal(b.replaced?.id, a.record.id);
    assert.equal(m.get(a.record.id), undefined);
    const c = m.resolve(chat({ userId: 'n' }), { strategy: 'per-user', sessionMs: 0, now: 0 });
    const d = m.resolve(chat({ userId: 'n' }), { strategy: 'per-user', sessionMs: 0, now: 10 * 365 * DAY });
    assert.equal(c.record.id, d.record.id);
  });

  it('reset starts a new thread with turn 0', () => {
    const m = new ThreadMap();
    const a = m.resolve(chat(), { strategy: 'per-user', sessionMs: DAY, now: 0 });
    const r = m.resolve(chat(), { strategy: 'per-user', sessionMs: DAY, now: 1, reset: true });
    assert.notEqual(r.record.id, a.record.id);
    assert.equal(r.cause, 'reset');
    assert.equal(r.record.turn, 0);
    const next = m.resolve(chat(), { strategy: 'per-user', sessionMs: DAY, now: 2 });
    assert.equal(next.record.id, r.record.id);
    assert.equal(next.record.turn, 1);
  });

  it('sweep drops idle threads and old per-message threads', () => {
    const m = new ThreadMap();
    m.resolve(chat(), { strategy: 'per-user', sessionMs: 1000, now: 0 });
    m.resolve(chat(), { strategy: 'per-message', sessionMs: 0, now: 0 });
    m.resolve(chat({ userId: 'forever' }), { strategy: 'per-user', sessionMs: 0, now: 0 });
    assert.equal(m.sweep(2000).length, 1);
    assert.equal(m.sweep(PER_MESSAGE_RETENTION_MS + 1).length, 1);
    assert.equal(m.size, 1);
  });

  it('hostile keys are harmless: __proto__, constructor, colons, very long ids', () => {
    const m = new ThreadMap();
    const o = { strategy: 'per-user' as const, sessionMs: DAY, now: 0 };
    const p = m.resolve(chat({ userId: '__proto__' }), o);
    const c = m.resolve(chat({ userId: 'constructor' }), o);
    assert.notEqual(p.record.id, c.record.id);
    assert.equal(({} as Record<string, unknown>).turn, undefined, 'Object.prototype untouched');
    // "a:b" in the channel must not collide with channel "a" and user "b:..."
    assert.notEqual(threadKey('per-user', chat({ channelId: 'a:b', userId: 'c' })), threadKey('per-user', chat({ channelId: 'a', userId: 'b:c' })));
    const long = 'x'.repeat(100_000);
    const l = m.resolve(chat({ userId: long }), o);
    assert.ok(l.record.key.length <= MAX_KEY_LENGTH + 7);
    assert.equal(m.resolve(chat({ userId: long }), o).record.id, l.record.id);
    assert.ok(composeKey(['a']).length < 10);
  });

  it('lists most recent first, paged and searchable, and survives snapshot/restore', () => {
    const m = new ThreadMap();
    for (let i = 0; i < 30; i++) m.resolve(chat({ userId: `u${i}`, userJid: `tg:u${i}` }), { strategy: 'per-user', sessionMs: DAY, now: i });
    const page = m.list({ offset: 5, limit: 10 });
    assert.equal(page.total, 30);
    assert.equal(page.items.length, 10);
    assert.equal(page.items[0].userJid, 'tg:u24');
    assert.equal(m.list({ q: 'tg:u29' }).items.length, 1);
    const copy = new ThreadMap();
    copy.restore(JSON.parse(JSON.stringify(m.snapshot())));
    assert.equal(copy.size, 30);
    const again = copy.resolve(chat({ userId: 'u3', userJid: 'tg:u3' }), { strategy: 'per-user', sessionMs: DAY, now: 100 });
    assert.equal(again.isNew, false);
    assert.equal(again.record.turn, 2);
    assert.equal(again.record.userJid, 'tg:u3', 'a user who is not the chat keeps their own JID');
    assert.equal(again.record.chatJid, 'tg:c1');
    assert.equal(again.record.platform, 'telegram');
    const direct = new ThreadMap();
    direct.resolve(chat({ chatId: 'd', chatJid: 'tg:d', userId: 'd', userJid: 'tg:d' }), { strategy: 'per-user', sessionMs: DAY, now: 0 });
    const snapD = direct.snapshot();
    assert.deepEqual(snapD.userJids, [null], 'a direct chat stores its user JID once');
    direct.restore(JSON.parse(JSON.stringify(snapD)));
    assert.equal(direct.list().items[0].userJid, 'tg:d');
    copy.restore('garbage');
    assert.equal(copy.size, 0);
    const snap = m.snapshot();
    snap.turns[0] = 'x' as unknown as number;
    copy.restore(snap);
    assert.equal(copy.size, 29, 'a row with a wrong type is skipped');
    copy.restore({ ...snap, keys: snap.keys.slice(1) });
    assert.equal(copy.size, 0, 'columns of different lengths are not trusted');
  });
});
