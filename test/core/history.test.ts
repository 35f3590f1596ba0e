import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { DAY, HISTORY_TEXT_CHARS, MemoryHistory, historyText } from '../../nodes/core/history';
import { DEFAULT_RETENTION, type HistoryEntry, type StoredHistoryEntry } from '../../nodes/core/store/rows';

const entry = (over: Partial<HistoryEntry> = {}): HistoryEntry => ({
  at: 1000,
  direction: 'in',
  platform: 'webhook',
  chatJid: 'webhook:c1',
  text: 'hi',
  ...over,
});

/** Every entry of a chat, newest first, read page by page through `before`. */
async function pageThrough(h: MemoryHistory, chatJid: string, limit: number): Promise<StoredHistoryEntry[]> {
  const all: StoredHistoryEntry[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await h.messages(chatJid, { limit, before });
    assert.ok(page.length <= limit);
    if (!page.length) return all;
    all.push(...page);
    before = page[page.length - 1].seq;
  }
}

describe('chat history (memory)', () => {
  it('keeps each message of a chat with what the operator reads: text, direction, time, user, thread', async () => {
    const h = new MemoryHistory();
    h.append(entry({ at: 1, text: 'question', userJid: 'webhook:u1', userName: 'Ada', threadId: 't1' }));
    h.append(entry({ at: 2, direction: 'out', text: 'answer', threadId: 't1' }));
    h.append(entry({ at: 3, chatJid: 'webhook:c2', text: 'elsewhere' }));
    const msgs = await h.messages('webhook:c1', { limit: 50 });
    assert.deepEqual(msgs, [
      { seq: 2, at: 2, direction: 'out', platform: 'webhook', chatJid: 'webhook:c1', text: 'answer', threadId: 't1' },
      { seq: 1, at: 1, direction: 'in', platform: 'webhook', chatJid: 'webhook:c1', text: 'question', userJid: 'webhook:u1', userName: 'Ada', threadId: 't1' },
    ]);
    assert.equal(h.size, 3);
    assert.deepEqual(await h.messages('webhook:nobody', { limit: 50 }), []);
    msgs[0].text = 'changed by a caller';
    assert.equal((await h.messages('webhook:c1', { limit: 1 }))[0].text, 'answer', 'callers get copies');
  });

  it('keeps the full text up to a sane size, cut with an ellipsis and never inside a surrogate pair', async () => {
    const h = new MemoryHistory();
    const long = 'x'.repeat(HISTORY_TEXT_CHARS * 2);
    h.append(entry({ text: long }));
    const [kept] = await h.messages('webhook:c1', { limit: 1 });
    assert.equal(kept.text.length, HISTORY_TEXT_CHARS);
    assert.ok(kept.text.endsWith('…'));
    assert.equal(historyText('a\n\n  b'), 'a\n\n  b', 'whitespace and lines are kept, unlike the sidebar log');
    for (const pad of [2, 3]) {
      const cut = historyText('x'.repeat(HISTORY_TEXT_CHARS - pad) + '😀'.repeat(10));
      assert.ok(cut.length <= HISTORY_TEXT_CHARS && cut.endsWith('…'));
      assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut), `no lone high surrogate (pad ${pad})`);
    }
    assert.equal(historyText({ text: 'from an object' }), 'from an object');
    assert.equal(historyText(42), '');
  });

  it('keeps nothing when history is off, and forgets what it had when it is switched off', async () => {
    const off = new MemoryHistory({ ...DEFAULT_RETENTION, enabled: false });
    off.append(entry());
    assert.equal(off.size, 0);
    assert.deepEqual(await off.chats({ limit: 50 }), []);
    off.restore({ version: 1, seq: 3, chats: [['webhook:c1', 'webhook', [[3, 1, 'i', 'secret']]]] });
    assert.equal(off.size, 0, 'a restore keeps nothing either');

    const h = new MemoryHistory();
    h.append(entry());
    h.setRetention({ ...DEFAULT_RETENTION, enabled: false });
    assert.equal(h.size, 0);
    assert.deepEqual(h.snapshot().chats, []);
  });

  it('bounds each chat on append, oldest first, and trims at once when the bound shrinks', async () => {
    const h = new MemoryHistory({ enabled: true, days: 0, perChat: 3 });
    for (let i = 1; i <= 5; i++) h.append(entry({ at: i, text: `m${i}` }));
    h.append(entry({ chatJid: 'webhook:c2', text: 'other' }));
    assert.deepEqual((await h.messages('webhook:c1', { limit: 50 })).map((e) => e.text), ['m5', 'm4', 'm3']);
    assert.equal(h.size, 4);
    h.setRetention({ enabled: true, days: 0, perChat: 1 });
    assert.deepEqual((await h.messages('webhook:c1', { limit: 50 })).map((e) => e.text), ['m5']);
    assert.equal(h.size, 2);
    h.setRetention({ enabled: true, days: 0, perChat: 0 });
    for (let i = 0; i < 20; i++) h.append(entry());
    assert.equal((await h.messages('webhook:c1', { limit: 500 })).length, 21, '0 = no count limit');
  });

  it('pages back with before=<seq>, limit clamped to 1..500', async () => {
    const h = new MemoryHistory({ enabled: true, days: 0, perChat: 0 });
    for (let i = 1; i <= 600; i++) h.append(entry({ at: i, text: `m${i}` }));
    const first = await h.messages('webhook:c1', { limit: 2 });
    assert.deepEqual(first.map((e) => e.seq), [600, 599]);
    assert.deepEqual((await h.messages('webhook:c1', { limit: 2, before: 599 })).map((e) => e.seq), [598, 597]);
    assert.deepEqual(await h.messages('webhook:c1', { limit: 2, before: 1 }), []);
    assert.equal((await h.messages('webhook:c1', { limit: 0 })).length, 1);
    assert.equal((await h.messages('webhook:c1', { limit: 10_000 })).length, 500);
    assert.equal((await h.messages('webhook:c1', { limit: Number.NaN })).length, 50);
  });

  it('lists chats by last activity, newest first, paged by time and searched by JID', async () => {
    const h = new MemoryHistory();
    h.append(entry({ at: 10, chatJid: 'tg:1', platform: 'telegram' }));
    h.append(entry({ at: 20, chatJid: 'slack:C0ABC', platform: 'slack' }));
    h.append(entry({ at: 30, chatJid: 'tg:1', platform: 'telegram', direction: 'out' }));
    h.append(entry({ at: 25, chatJid: 'webchat:xyz', platform: 'webchat' }));
    assert.deepEqual(await h.chats({ limit: 50 }), [
      { chatJid: 'tg:1', platform: 'telegram', lastAt: 30, count: 2 },
      { chatJid: 'webchat:xyz', platform: 'webchat', lastAt: 25, count: 1 },
      { chatJid: 'slack:C0ABC', platform: 'slack', lastAt: 20, count: 1 },
    ]);
    assert.deepEqual((await h.chats({ limit: 1, before: 30 })).map((c) => c.chatJid), ['webchat:xyz']);
    assert.deepEqual((await h.chats({ limit: 50, q: 'c0abc' })).map((c) => c.chatJid), ['slack:C0ABC'], 'search ignores case');
    assert.deepEqual(await h.chats({ limit: 50, q: 'nothing' }), []);
  });

  it('sweeps entries past the age limit, and chats left empty; days 0 keeps them', async () => {
    const now = 100 * DAY;
    const h = new MemoryHistory({ enabled: true, days: 30, perChat: 1000 });
    h.append(entry({ at: now - 40 * DAY, text: 'old', chatJid: 'webhook:old' }));
    h.append(entry({ at: now - 31 * DAY, text: 'older' }));
    h.append(entry({ at: now - DAY, text: 'recent' }));
    h.sweep(now);
    assert.deepEqual((await h.chats({ limit: 50 })).map((c) => c.chatJid), ['webhook:c1']);
    assert.deepEqual((await h.messages('webhook:c1', { limit: 50 })).map((e) => e.text), ['recent']);
    assert.equal(h.size, 1);
    const forever = new MemoryHistory({ enabled: true, days: 0, perChat: 0 });
    forever.append(entry({ at: 1 }));
    forever.sweep(now);
    assert.equal(forever.size, 1);
  });

  it('snapshots compactly and restores through JSON; numbering continues after the restore', async () => {
    const h = new MemoryHistory();
    h.append(entry({ at: 5, text: 'q', userJid: 'webhook:u1', userName: 'Ada', threadId: 't1' }));
    h.append(entry({ at: 6, direction: 'out', text: 'a', threadId: 't1' }));
    h.append(entry({ at: 7, text: 'plain' }));
    const snap = JSON.parse(JSON.stringify(h.snapshot()));
    assert.deepEqual(snap, {
      version: 1,
      seq: 3,
      chats: [['webhook:c1', 'webhook', [[1, 5, 'i', 'q', 'webhook:u1', 'Ada', 't1'], [2, 6, 'o', 'a', null, null, 't1'], [3, 7, 'i', 'plain']]]],
    });
    const back = new MemoryHistory();
    back.restore(snap, 10);
    assert.deepEqual(await back.messages('webhook:c1', { limit: 50 }), await h.messages('webhook:c1', { limit: 50 }));
    back.append(entry({ at: 11, text: 'after' }));
    assert.equal((await back.messages('webhook:c1', { limit: 1 }))[0].seq, 4);

    // The newest entries may have aged out; the seq still continues from the last one handed out.
    const gone = new MemoryHistory();
    gone.restore({ version: 1, seq: 90, chats: [] });
    gone.append(entry());
    assert.equal((await gone.messages('webhook:c1', { limit: 1 }))[0].seq, 91);
  });

  it('restores what it can from a damaged snapshot and never throws', async () => {
    const h = new MemoryHistory({ enabled: true, days: 0, perChat: 0 });
    h.restore({
      version: 1,
      seq: 'x',
      chats: [
        ['webhook:c1', 'webhook', [[1, 1, 'i', 'ok'], [2, 2, 'x', 'bad direction'], ['3', 3, 'i', 'bad seq'], [4, 4, 'o'], null, [5, 5, 'o', 'ok too', 7, '', 'T']]],
        ['', 'webhook', [[6, 6, 'i', 'no chat']]],
        ['webhook:c2', 'webhook', 'not rows'],
        ['webhook:c1', 'webhook', [[1, 9, 'i', 'same seq again'], [7, 7, 'i', 'listed twice']]],
        'garbage',
      ],
    }, 100);
    assert.deepEqual((await h.messages('webhook:c1', { limit: 50 })).map((e) => [e.seq, e.text, e.userJid, e.userName, e.threadId]), [
      [7, 'listed twice', undefined, undefined, undefined],
      [5, 'ok too', undefined, undefined, 'T'],
      [1, 'ok', undefined, undefined, undefined],
    ]);
    assert.equal(h.size, 3);
    h.append(entry());
    assert.equal((await h.messages('webhook:c1', { limit: 1 }))[0].seq, 8);

    fc.assert(
      fc.property(fc.anything(), (data) => {
        const r = new MemoryHistory();
        r.restore(data);
        r.restore({ version: 1, seq: 1, chats: [data, [String(data), 'p', [data]]] });
        return r.size >= 0;
      }),
    );
  });

  it('paging back with before through any sequence of appends returns every kept entry once, newest first', async () => {
    const chats = ['webhook:a', 'webhook:b', 'webhook:c'];
    const op = fc.record({ chat: fc.constantFrom(...chats), direction: fc.constantFrom<'in' | 'out'>('in', 'out'), text: fc.string({ maxLength: 8 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 120 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), async (ops, perChat, limit, viaSnapshot) => {
        let h = new MemoryHistory({ enabled: true, days: 0, perChat });
        ops.forEach((o, i) => h.append(entry({ at: i, chatJid: o.chat, direction: o.direction, text: o.text })));
        if (viaSnapshot) {
          const back = new MemoryHistory({ enabled: true, days: 0, perChat });
          back.restore(JSON.parse(JSON.stringify(h.snapshot())));
          h = back;
        }
        let total = 0;
        for (const chat of chats) {
          // What must be kept: the chat's appends (seq = position + 1), its last `perChat` of them.
          const mine = ops.map((o, i) => ({ ...o, seq: i + 1 })).filter((o) => o.chat === chat);
          const kept = perChat > 0 ? mine.slice(-perChat) : mine;
          const paged = await pageThrough(h, chat, limit);
          assert.deepEqual(paged.map((e) => [e.seq, e.direction, e.text]), kept.reverse().map((o) => [o.seq, o.direction, o.text]));
          total += paged.length;
        }
        assert.equal(h.size, total);
      }),
    );
  });
});
