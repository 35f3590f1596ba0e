import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { DEFAULT_SETTINGS, GatewayState, type GatewaySettings } from '../../nodes/core/gateway-state';
import { DAY, MemoryHistory } from '../../nodes/core/history';
import { ConversationMemory, type MemoryLimits, type MemoryTurn } from '../../nodes/core/memory';
import type { Strategy, ReplyTo } from '../../nodes/core/envelope';
import { PER_MESSAGE_RETENTION_MS, type Resolution, type ThreadChat, type ThreadRecord } from '../../nodes/core/threads';
import { RedisLease } from '../../nodes/core/store/redis-lease';
import { createRedisClient, redactRedisUrl, RedisHistory, RedisState, safeRedisError, type OutagePolicy, type RedisHealth } from '../../nodes/core/store/redis-state';
import type { HistoryEntry, HistoryRetention } from '../../nodes/core/store/rows';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

const chat = (over: Partial<ThreadChat> = {}): ThreadChat => ({
  platform: 'telegram',
  channelId: 'bot1',
  chatId: 'c1',
  userId: 'u1',
  chatJid: 'tg:c1',
  userJid: 'tg:u1',
  ...over,
});
const addr = (over: Partial<ReplyTo> = {}): ReplyTo => ({ platform: 'webchat', channelId: 'in1', chatId: 'c1', userId: 'u1', ...over });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `check` until it passes or `ms` is over (then its last failure is the test's). */
async function eventually<T>(check: () => T | Promise<T>, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(20);
    }
  }
}

/** Thread ids are random: each is named by the order it first appeared in, so two runs compare. */
function namer(): (r: Resolution | ThreadRecord | undefined) => unknown {
  const names = new Map<string, string>();
  const name = (id: string) => {
    if (!names.has(id)) names.set(id, `thread${names.size}`);
    return names.get(id);
  };
  const rec = (t: ThreadRecord) => ({ ...t, id: name(t.id) });
  return (r) => {
    if (!r) return r;
    if ('record' in r) return { ...r, record: rec(r.record), ...('replaced' in r ? { replaced: r.replaced && rec(r.replaced) } : {}) };
    return rec(r);
  };
}

let server: RedisServer;
let raw: Redis;
let prefixes = 0;
const opened: Array<{ close(): Promise<void> }> = [];
const nextPrefix = () => `chatgate:t${++prefixes}:`;

interface MakeOptions {
  policy?: OutagePolicy;
  settings?: Partial<GatewaySettings>;
  retention?: HistoryRetention;
  marginMs?: number;
  url?: string;
  onError?: (err: Error) => void;
}

function makeState(prefix: string, o: MakeOptions = {}): RedisState {
  const client = createRedisClient(o.url ?? server.url, o.policy ?? 'wait');
  const state = new RedisState({
    client,
    prefix,
    settings: { ...DEFAULT_SETTINGS, ...o.settings },
    retention: o.retention ?? { enabled: true, days: 0, perChat: 0 },
    expiryMarginMs: o.marginMs,
    onError: o.onError,
  });
  opened.push(state);
  return state;
}

describe('core/store/redis-state (a real redis-server)', function () {
  this.timeout(20_000);

  before(async () => {
    server = await startRedisServer();
    raw = createRedisClient(server.url, 'wait');
  });
  after(async () => {
    await raw?.quit().catch(() => {});
    await server?.stop();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  describe('turns in flight', () => {
    it('keeps what another instance would see apart, and forgets an ended turn', async () => {
      const a = makeState('cg:turns:');
      const b = makeState('cg:turns:');
      const t = { threadId: 't1', chatJid: 'tg:1', replyTo: { platform: 'telegram' as const, channelId: 'bot', chatId: '1', userId: '1' }, text: 'hi', at: 1 };
      await a.beginTurn('i1/n1/m1', t);
      await a.beginTurn('i1/n1/m2', { ...t, threadId: 't2', at: 2 });
      await b.beginTurn('i2/n1/m3', { ...t, threadId: 't3', at: 3 });
      await a.endTurn('i1/n1/m2');
      await raw.hset('cg:turns:turns', 'i1/n1/bad', 'not json');
      assert.deepEqual((await b.turnsWithPrefix('i1/n1/')).map(([k, v]) => [k, v.threadId]), [['i1/n1/m1', 't1']]);
      assert.deepEqual((await a.turnsWithPrefix('i2/n1/')).map(([, v]) => v.threadId), ['t3']);
    });

    it('a turn is claimed by one instance only; heartbeats live their TTL unless renewed', async () => {
      const a = makeState('cg:claim:');
      const b = makeState('cg:claim:');
      const t = { threadId: 't1', chatJid: 'tg:1', replyTo: { platform: 'telegram' as const, channelId: 'bot', chatId: '1', userId: '1' }, text: 'hi', at: 1 };
      await a.beginTurn('i1/n1/m1', t);
      assert.deepEqual(await Promise.all([a.claimTurn('i1/n1/m1'), b.claimTurn('i1/n1/m1')]).then((r) => r.sort()), [false, true]);
      assert.deepEqual(await b.turnsWithPrefix(''), []);
      await a.markAlive('i1', 300);
      assert.deepEqual(await b.instancesAlive(['i1', 'i2']), [true, false]);
      await new Promise((r) => setTimeout(r, 450));
      assert.deepEqual(await b.instancesAlive(['i1']), [false], 'not renewed: gone');
      assert.deepEqual(await b.instancesAlive([]), []);
    });
  });

  describe('threads', () => {
    const STRATEGIES: Strategy[] = ['per-user', 'per-conversation', 'single', 'per-message'];
    for (const strategy of STRATEGIES) {
      it(`${strategy}: the same resolutions as GatewayState (continue, other chats, idle expiry, reset, never-idle)`, async () => {
        const local = new GatewayState();
        const redis = makeState(nextPrefix());
        const steps: Array<[ThreadChat, number, boolean, number]> = [
          [chat(), 1000, false, 1000],
          [chat(), 1000, false, 1500],
          [chat({ userId: 'u2', userJid: 'tg:u2' }), 1000, false, 1600],
          [chat({ chatId: 'c2', chatJid: 'tg:c2' }), 1000, false, 1700],
          [chat({ threadId: 'topic7' }), 1000, false, 1800],
          // idle past the session: a new thread replaces the old one
          [chat(), 1000, false, 2501],
          [chat(), 1000, false, 2600],
          [chat(), 1000, true, 2700],
          [chat(), 1000, false, 2800],
          // a session of 0 never goes idle
          [chat({ chatId: 'c9', chatJid: 'tg:c9', userId: 'u9' }), 0, false, 3000],
          [chat({ chatId: 'c9', chatJid: 'tg:c9', userId: 'u9' }), 0, false, 9e12],
        ];
        const nameLocal = namer();
        const nameRedis = namer();
        for (const [c, sessionMs, reset, now] of steps) {
          // Normalised at once: the local record is live and changes with the next step.
          const want = nameLocal(local.resolveThread(c, strategy, sessionMs, reset, now));
          const got = nameRedis(await redis.resolveThread(c, strategy, sessionMs, reset, now));
          assert.deepEqual(got, want, `step at ${now}`);
        }
        assert.equal(await redis.threadCount(), local.threadCount());
        const listed = await redis.listThreads({ limit: 500 });
        const localList = local.threads.list({ limit: 500 });
        assert.equal(listed.total, localList.total);
        assert.deepEqual(listed.items.map(nameRedis), localList.items.map(nameLocal));
      });
    }

    it('a replaced thread loses its memory, and the replacement says which thread it replaced', async () => {
      const s = makeState(nextPrefix());
      const first = await s.resolveThread(chat(), 'per-conversation', 1000, false, 0);
      await s.appendMemory(first.record.id, [{ role: 'user', content: 'hello', at: 0 }]);
      assert.equal((await s.memoryHistory(first.record.id)).length, 1);
      const reset = await s.resolveThread(chat(), 'per-conversation', 1000, true, 10);
      assert.equal(reset.cause, 'reset');
      assert.equal(reset.record.turn, 0);
      assert.equal(reset.replaced?.id, first.record.id);
      assert.deepEqual(await s.memoryHistory(first.record.id), []);
      assert.equal(await s.getThread(first.record.id), undefined);
      assert.equal((await s.getThread(reset.record.id))?.key, reset.record.key);
    });

    it('lists most recently active first with offset, limit and a search; ends a thread by id', async () => {
      const s = makeState(nextPrefix());
      const local = new GatewayState();
      const ids: string[] = [];
      for (let i = 1; i <= 6; i++) {
        const c = chat({ chatId: `c${i}`, chatJid: `tg:chat${i}`, userId: `u${i}`, userJid: `tg:user${i}` });
        ids.push((await s.resolveThread(c, 'per-conversation', DAY, false, i * 100)).record.id);
        local.resolveThread(c, 'per-conversation', DAY, false, i * 100);
      }
      // The first chat speaks again: it is now the most recent.
      await s.resolveThread(chat({ chatId: 'c1', chatJid: 'tg:chat1', userId: 'u1', userJid: 'tg:user1' }), 'per-conversation', DAY, false, 1000);
      const page1 = await s.listThreads({ limit: 2 });
      assert.equal(page1.total, 6);
      assert.deepEqual(page1.items.map((t) => t.id), [ids[0], ids[5]]);
      const page2 = await s.listThreads({ offset: 2, limit: 2 });
      assert.deepEqual(page2.items.map((t) => t.id), [ids[4], ids[3]]);
      const found = await s.listThreads({ q: 'TG:CHAT3' });
      assert.deepEqual(found.items.map((t) => t.chatJid), ['tg:chat3']);
      assert.equal(found.total, 1);
      const byUser = await s.listThreads({ q: 'user5' });
      assert.deepEqual(byUser.items.map((t) => t.id), [ids[4]]);
      assert.equal((await s.listThreads({ q: ids[2].slice(3) })).items[0]?.id, ids[2]);
      assert.equal((await s.listThreads({ q: 'nobody' })).total, 0);

      assert.equal(await s.endThread(ids[2]), true);
      assert.equal(await s.endThread(ids[2]), false);
      assert.equal(await s.getThread(ids[2]), undefined);
      assert.equal(await s.threadCount(), 5);
      const again = await s.resolveThread(chat({ chatId: 'c3', chatJid: 'tg:chat3', userId: 'u3', userJid: 'tg:user3' }), 'per-conversation', DAY, false, 2000);
      assert.equal(again.isNew, true);
      assert.equal(again.cause, 'first');
      assert.notEqual(again.record.id, ids[2]);
    });

    it('keys expire in Redis after the idle time plus the margin; per-message threads after their retention', async () => {
      const prefix = nextPrefix();
      const s = makeState(prefix, { marginMs: 100 });
      const t = await s.resolveThread(chat(), 'per-user', 200, false);
      const pttl = await raw.pttl(`${prefix}th:r:${t.record.id}`);
      assert.ok(pttl > 200 && pttl <= 300, `record ttl ${pttl}`);
      const pointer = await raw.pttl(`${prefix}th:k:${t.record.key}`);
      assert.ok(pointer > 200 && pointer <= 300, `pointer ttl ${pointer}`);
      await s.appendMemory(t.record.id, [{ role: 'user', content: 'x', at: 1 }]);
      const memTtl = await raw.pttl(`${prefix}mem:${t.record.id}`);
      assert.ok(memTtl > 150 && memTtl <= 300, `memory goes with its thread (${memTtl})`);

      const keep = await s.resolveThread(chat({ chatId: 'forever', chatJid: 'tg:forever' }), 'per-conversation', 0, false);
      assert.equal(await raw.pttl(`${prefix}th:r:${keep.record.id}`), -1, 'a session of 0 never expires');
      const once = await s.resolveThread(chat(), 'per-message', 0, false);
      const onceTtl = await raw.pttl(`${prefix}th:r:${once.record.id}`);
      assert.ok(onceTtl > PER_MESSAGE_RETENTION_MS && onceTtl <= PER_MESSAGE_RETENTION_MS + 100, `per-message ttl ${onceTtl}`);
      assert.equal(await s.threadCount(), 3);

      await sleep(350);
      s.sweep();
      await eventually(async () => assert.equal(await raw.zcard(`${prefix}th:active`), 2), 1000);
      assert.equal(await s.getThread(t.record.id), undefined);
      assert.deepEqual(await s.memoryHistory(t.record.id), []);
      assert.equal(await s.threadCount(), 2, 'the index forgets what Redis expired');
      assert.deepEqual((await s.listThreads({})).items.map((r) => r.id).sort(), [keep.record.id, once.record.id].sort());
      const next = await s.resolveThread(chat(), 'per-user', 200, false);
      assert.equal(next.cause, 'first');
    });

    it('two instances racing for the same new chat 50 times get one thread', async () => {
      const prefix = nextPrefix();
      const a = makeState(prefix);
      const b = makeState(prefix);
      const c = chat({ chatId: 'race', chatJid: 'tg:race' });
      const all = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).resolveThread(c, 'per-conversation', DAY, false, 1000 + i)));
      assert.equal(new Set(all.map((r) => r.record.id)).size, 1);
      assert.equal(all.filter((r) => r.isNew).length, 1);
      assert.deepEqual(all.map((r) => r.record.turn).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.equal((await b.getThread(all[0].record.id))?.turn, 50);
      assert.equal(await a.threadCount(), 1);
    });
  });

  describe('de-duplication and reply listeners', () => {
    it('a delivery seen by two instances at once is answered once; the window ends it', async () => {
      const prefix = nextPrefix();
      const a = makeState(prefix, { settings: { dedupeWindowMs: 300 } });
      const b = makeState(prefix, { settings: { dedupeWindowMs: 300 } });
      const both = await Promise.all([a.isDuplicate('slack', 'T1', 'm1'), b.isDuplicate('slack', 'T1', 'm1')]);
      assert.deepEqual([...both].sort(), [false, true]);
      assert.equal(await a.isDuplicate('slack', 'T1', 'm1'), true);
      assert.equal(await b.isDuplicate('slack', 'T1', 'm2'), false);
      assert.equal(await a.isDuplicate('slack', 'T2', 'm1'), false, 'another channel is another message');
      await sleep(400);
      assert.equal(await b.isDuplicate('slack', 'T1', 'm1'), false);
    });

    it('a listener registered on one instance is found by the other, with "expired" and "unknown" as locally', async () => {
      const prefix = nextPrefix();
      const settings = { listenerTtlMs: 1000 };
      const a = makeState(prefix, { settings });
      const b = makeState(prefix, { settings });
      const local = new GatewayState({ ...DEFAULT_SETTINGS, ...settings });
      const ops: Array<[string, ReplyTo, number]> = [
        ['th1', addr(), 0],
        ['th2', addr({ userId: 'u2', messageId: 'm7' }), 100],
        ['th3', addr({ chatId: 'c3' }), 200],
      ];
      for (const [id, address, now] of ops) {
        await a.registerListener(id, address, now);
        local.registerListener(id, address, now);
      }
      for (const [id, now] of [['th1', 500], ['th1', 1000], ['th1', 1001], ['th2', 1100], ['th2', 1101], ['nope', 0]] as const) {
        assert.deepEqual(await b.lookupListener(id, now), local.lookupListener(id, now), `${id} at ${now}`);
      }
      for (const [platform, chatId, now] of [['webchat', 'c1', 500], ['webchat', 'c1', 1050], ['webchat', 'c1', 1101], ['webchat', 'c3', 1200], ['webchat', 'c3', 1201], ['telegram', 'c1', 500]] as const) {
        assert.deepEqual(await b.findListenerByChat(platform, chatId, now), await local.findListenerByChat(platform, chatId, now), `${platform}:${chatId} at ${now}`);
      }
      assert.equal((await b.findListenerByChat('webchat', 'c1', 500))?.userId, 'u2', 'the latest address of the chat');
      const pttl = await raw.pttl(`${prefix}ls:t:th1`);
      assert.ok(pttl > 1000 && pttl <= 2000, `kept a further ttl (${pttl})`);
    });
  });

  describe('memory', () => {
    it('appended on one instance, read on the other, trimmed exactly as ConversationMemory trims', async () => {
      const prefix = nextPrefix();
      const a = makeState(prefix);
      const b = makeState(prefix);
      let thread = 0;
      const turn = fc.record({
        role: fc.constantFrom<'user' | 'assistant'>('user', 'assistant'),
        content: fc.string({ unit: 'binary', maxLength: 12 }),
        at: fc.integer({ min: 0, max: 1e13 }),
      });
      const limits = fc.record({ maxTurns: fc.integer({ min: 0, max: 4 }), maxChars: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(Infinity)) });
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.array(turn, { maxLength: 4 }), limits), { minLength: 1, maxLength: 6 }), async (appends) => {
          const id = `th_mem${++thread}`;
          const local = new ConversationMemory();
          for (const [turns, lim] of appends as Array<[MemoryTurn[], MemoryLimits]>) {
            local.append(id, turns, lim);
            await (thread % 2 ? a : b).appendMemory(id, turns, lim);
          }
          assert.deepEqual(await b.memoryHistory(id), local.history(id));
          assert.deepEqual(await a.memoryHistory(id), local.history(id));
        }),
        { numRuns: 60 },
      );
    });

    it('the default limits: 20 exchanges, never starting with a reply; history returns copies', async () => {
      const s = makeState(nextPrefix());
      const turns: MemoryTurn[] = [];
      for (let i = 0; i < 25; i++) turns.push({ role: 'user', content: `q${i}`, at: i }, { role: 'assistant', content: `a${i}`, at: i });
      await s.appendMemory('th_x', [{ role: 'assistant', content: 'dangling', at: 0 }]);
      assert.deepEqual(await s.memoryHistory('th_x'), [], 'a history never starts with a reply');
      await s.appendMemory('th_x', turns);
      const h = await s.memoryHistory('th_x');
      assert.equal(h.length, 40);
      assert.deepEqual(h[0], { role: 'user', content: 'q5', at: 5 });
      h[0].content = 'changed';
      assert.equal((await s.memoryHistory('th_x'))[0].content, 'q5');
    });
  });

  describe('allowlists', () => {
    it('an entry added on one instance appears in the other\'s local mirror; removals and replacements too', async () => {
      const prefix = nextPrefix();
      const a = makeState(prefix);
      const b = makeState(prefix);
      await Promise.all([a.start(), b.start()]);
      await a.addAllowEntry('ops', { jid: 'tg:1', label: 'Alice' });
      assert.deepEqual(a.allowlists.entries('ops'), [{ jid: 'tg:1', label: 'Alice' }], 'seen at once where it was added');
      await eventually(() => assert.deepEqual(b.allowlists.entries('ops'), [{ jid: 'tg:1', label: 'Alice' }]));
      assert.equal(b.allowlists.source('ops').get('tg:1')?.label, 'Alice');
      await b.addAllowEntry('ops', { jid: 'tg:*', label: '' });
      await eventually(() => assert.deepEqual([...a.allowlists.source('ops').wildcards()], [{ jid: 'tg:*' }]));
      assert.deepEqual(await a.allowEntries('ops'), [{ jid: 'tg:*' }, { jid: 'tg:1', label: 'Alice' }]);

      assert.equal(await b.removeAllowEntry('ops', 'tg:1'), true);
      assert.equal(await b.removeAllowEntry('ops', 'tg:1'), false);
      await eventually(() => assert.equal(a.allowlists.source('ops').get('tg:1'), undefined));

      await a.replaceAllowEntries('ops', [{ jid: 'slack:U1', label: 'Bob' }, { jid: 'discord:9' }]);
      await eventually(() => assert.deepEqual(b.allowlists.entries('ops').sort((x, y) => x.jid.localeCompare(y.jid)), [{ jid: 'discord:9' }, { jid: 'slack:U1', label: 'Bob' }]));
      assert.deepEqual(await b.allowEntries('ops'), [{ jid: 'discord:9' }, { jid: 'slack:U1', label: 'Bob' }]);

      // An instance started later loads every list.
      const c = makeState(prefix);
      await c.start();
      assert.deepEqual(c.allowlists.entries('ops'), [{ jid: 'discord:9' }, { jid: 'slack:U1', label: 'Bob' }]);
      assert.deepEqual(c.allowlists.names(), ['ops']);
    });

    it('edits racing from two instances leave both mirrors as Redis is', async () => {
      const prefix = nextPrefix();
      const a = makeState(prefix);
      const b = makeState(prefix);
      await Promise.all([a.start(), b.start()]);
      const jids = ['tg:1', 'tg:2', 'tg:3'];
      const work: Array<Promise<unknown>> = [];
      for (let i = 0; i < 60; i++) {
        const s = i % 2 ? a : b;
        const jid = jids[i % 3];
        if (i % 7 === 0) work.push(s.replaceAllowEntries('l', [{ jid: jids[(i + 1) % 3], label: `r${i}` }]));
        else if (i % 3 === 1) work.push(s.removeAllowEntry('l', jid));
        else work.push(s.addAllowEntry('l', { jid, label: `v${i}` }));
      }
      await Promise.all(work);
      const truth = await a.allowEntries('l');
      const sorted = (s: RedisState) => s.allowlists.entries('l').sort((x, y) => x.jid.localeCompare(y.jid));
      await eventually(() => {
        assert.deepEqual(sorted(a), truth);
        assert.deepEqual(sorted(b), truth);
      });
    });
  });

  describe('history', () => {
    const entry = (over: Partial<HistoryEntry> = {}): HistoryEntry => ({ at: 1000, direction: 'in', platform: 'webhook', chatJid: 'webhook:c1', text: 'hi', ...over });

    it('pages and lists exactly as MemoryHistory does', async () => {
      const retention = { enabled: true, days: 0, perChat: 4 };
      const s = makeState(nextPrefix(), { retention });
      const local = new MemoryHistory(retention);
      const entries: HistoryEntry[] = [];
      for (let i = 0; i < 7; i++) entries.push(entry({ at: 100 + i, text: `m${i}`, userJid: 'webhook:u1', ...(i % 2 ? { direction: 'out', threadId: 't1' } : {}) }));
      entries.push(entry({ at: 50, chatJid: 'webhook:c2', platform: 'webhook', text: 'other', userName: 'Ada' }));
      entries.push(entry({ at: 106, chatJid: 'webhook:c0', text: 'tie with c1' }));
      entries.push(entry({ at: 30, chatJid: 'tg:99', platform: 'telegram', text: 'x'.repeat(20_000) }));
      entries.push(entry({ at: 31, chatJid: '', text: 'no chat: not kept' }));
      for (const e of entries) {
        s.history.append(e);
        local.append(e);
      }
      await s.history.drain();
      for (const query of [{ limit: 50 }, { limit: 2 }, { limit: 1 }, { limit: 2, before: 106 }, { limit: 50, q: 'C' }, { limit: 50, q: 'tg:' }, { limit: 0 }, { limit: 9999 }]) {
        assert.deepEqual(await s.history.chats(query), await local.chats(query), `chats ${JSON.stringify(query)}`);
      }
      for (const query of [{ limit: 50 }, { limit: 2 }, { limit: 2, before: 6 }, { limit: 3, before: 5 }, { limit: 50, before: 1 }]) {
        assert.deepEqual(await s.history.messages('webhook:c1', query), await local.messages('webhook:c1', query), `messages ${JSON.stringify(query)}`);
      }
      const [long] = await s.history.messages('tg:99', { limit: 1 });
      assert.equal(long.text.length, 16_000, 'text cut as the other stores cut it');
      assert.deepEqual(await s.history.messages('webhook:nobody', { limit: 10 }), []);
    });

    it('the age limit on sweep (and on append), a smaller count on a retention change, nothing kept when off', async () => {
      const prefix = nextPrefix();
      const now = Date.now();
      const s = makeState(prefix, { retention: { enabled: true, days: 1, perChat: 0 } });
      const local = new MemoryHistory({ enabled: true, days: 1, perChat: 0 });
      for (let i = 0; i < 5; i++) {
        const e = entry({ at: now - 2 * DAY + i * 12 * 3600 * 1000, text: `m${i}` });
        s.history.append(e);
        local.append(e);
      }
      const fresh = entry({ at: now, chatJid: 'webhook:fresh' });
      s.history.append(fresh);
      local.append(fresh);
      const old = entry({ at: now - 3 * DAY, chatJid: 'webhook:old' });
      s.history.append(old);
      await s.history.drain();
      assert.deepEqual(await s.history.messages('webhook:old', { limit: 5 }), [], 'an entry older than the limit is not kept');
      s.history.sweep(now + DAY / 2);
      local.sweep(now + DAY / 2);
      await s.history.drain();
      assert.deepEqual(await s.history.chats({ limit: 50 }), await local.chats({ limit: 50 }));
      assert.deepEqual(await s.history.messages('webhook:c1', { limit: 50 }), await local.messages('webhook:c1', { limit: 50 }));
      assert.deepEqual((await s.history.messages('webhook:c1', { limit: 50 })).map((e) => e.text), ['m4', 'm3']);

      s.history.setRetention({ enabled: true, days: 0, perChat: 1 });
      await s.history.drain();
      assert.deepEqual((await s.history.messages('webhook:c1', { limit: 50 })).map((e) => e.text), ['m4']);

      s.history.setRetention({ enabled: false, days: 0, perChat: 0 });
      await s.history.drain();
      s.history.append(entry({ at: now, text: 'while off' }));
      await s.history.drain();
      assert.deepEqual(await s.history.chats({ limit: 50 }), []);
      assert.deepEqual(await raw.keys(`${prefix}h:c:*`), []);

      const off = new RedisHistory(raw, nextPrefix(), { enabled: false, days: 0, perChat: 0 });
      off.append(entry());
      await off.drain();
      assert.deepEqual(await off.chats({ limit: 5 }), []);
    });
  });

  describe('leases', () => {
    const opts = { ttlMs: 600, renewMs: 150 };

    it('one holds, the other waits; when the holder\'s connection dies the other takes over within ttl + renew', async () => {
      const name = `${nextPrefix()}lease:poller`;
      const ca = createRedisClient(server.url, 'wait');
      const cb = createRedisClient(server.url, 'wait');
      const seenA: boolean[] = [];
      const seenB: boolean[] = [];
      const a = new RedisLease(ca, name, { ...opts, onChange: (h) => seenA.push(h) });
      const b = new RedisLease(cb, name, { ...opts, onChange: (h) => seenB.push(h) });
      try {
        a.start();
        await eventually(() => assert.equal(a.held, true));
        b.start();
        await sleep(700);
        assert.equal(b.held, false, 'a live holder keeps it past its ttl');
        assert.equal(await raw.get(name), a.token);
        const died = Date.now();
        ca.disconnect();
        await eventually(() => assert.equal(a.held, false), 400);
        await eventually(() => assert.equal(b.held, true), opts.ttlMs + opts.renewMs + 300);
        const tookOver = Date.now() - died;
        assert.ok(tookOver <= opts.ttlMs + opts.renewMs + 300, `took over after ${tookOver} ms`);
        assert.deepEqual(seenA, [true, false]);
        assert.deepEqual(seenB, [true]);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
        cb.disconnect();
      }
    });

    it('stop releases at once; a holder that finds someone else\'s token gives up at once', async () => {
      const prefix = nextPrefix();
      const s1 = makeState(prefix);
      const s2 = makeState(prefix);
      const changes: boolean[] = [];
      const a = s1.lease('timer', { ...opts, ttlMs: 5000, renewMs: 150 });
      const b = s2.lease('timer', { ttlMs: 5000, renewMs: 150, onChange: (h) => changes.push(h) });
      a.start();
      await eventually(() => assert.equal(a.held, true));
      b.start();
      await sleep(200);
      assert.equal(b.held, false);
      const stopped = Date.now();
      await a.stop();
      assert.equal(a.held, false);
      await eventually(() => assert.equal(b.held, true), 600);
      assert.ok(Date.now() - stopped < 600, 'not a whole ttl later');
      // Someone else's token under the name (an operator, a clock jump): B lets go on its next renewal.
      await raw.set(`${prefix}lease:timer`, 'another-holder', 'PX', 5000);
      await eventually(() => assert.equal(b.held, false), 400);
      await sleep(300);
      assert.equal(b.held, false, 'and does not take it back while the other holds it');
      assert.deepEqual(changes, [true, false]);
      await s2.close();
      assert.equal(await raw.get(`${prefix}lease:timer`), 'another-holder', 'close releases only its own lease');
    });
  });

  describe('bus', () => {
    it('a message published on one instance reaches the subscribers on the other; bad payloads and throwing handlers are contained', async () => {
      const prefix = nextPrefix();
      const errors: Error[] = [];
      const a = makeState(prefix);
      const b = makeState(prefix, { onError: (e) => errors.push(e) });
      const got: unknown[] = [];
      const alsoGot: unknown[] = [];
      const off = b.subscribe('deliver', (m) => got.push(m));
      b.subscribe('deliver', () => {
        throw new Error('handler bug');
      });
      b.subscribe('deliver', (m) => alsoGot.push(m));
      await eventually(async () => assert.deepEqual(await raw.pubsub('NUMSUB', `${prefix}bus:deliver`), [`${prefix}bus:deliver`, 1]));
      await raw.publish(`${prefix}bus:deliver`, 'not json {');
      await raw.publish(`${prefix}bus:deliver`, '');
      assert.equal(await a.publish('deliver', { to: 'tg:1', text: 'hello' }), 1);
      await eventually(() => assert.deepEqual(got, [{ to: 'tg:1', text: 'hello' }]));
      assert.deepEqual(alsoGot, got, 'one handler throwing does not stop the others');
      assert.match(errors[0]?.message ?? '', /handler bug/);
      assert.equal(await a.publish('elsewhere', 1), 0);
      off();
      await a.publish('deliver', 'second');
      await eventually(() => assert.deepEqual(alsoGot, [{ to: 'tg:1', text: 'hello' }, 'second']));
      assert.equal(got.length, 1, 'unsubscribed');
    });
  });

  describe('foreign values', () => {
    it('a foreign value in any key, or a malformed change on the channel, never throws', async () => {
      const junk = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('{"n":3,"role":"assistant"', '{"address":{}}', '{"seq":1,"at":"x"}', 'null', '[]', '{"v":1e999}'));
      const kinds = fc.constantFrom('string', 'hash', 'list', 'set', 'zset');
      let run = 0;
      await fc.assert(
        fc.asyncProperty(junk, kinds, kinds, async (value, kind1, kind2) => {
          const prefix = `chatgate:foreign${++run}:`;
          const s = makeState(prefix);
          const put = async (key: string, kind: string) => {
            await raw.del(key);
            if (kind === 'string') await raw.set(key, value);
            else if (kind === 'hash') await raw.hset(key, 'f', value, 'id', value);
            else if (kind === 'list') await raw.rpush(key, value);
            else if (kind === 'set') await raw.sadd(key, value);
            else await raw.zadd(key, 1, value);
          };
          const c = chat();
          const key = 'c|telegram|bot1|c1';
          await put(`${prefix}th:k:${key}`, kind1);
          await put(`${prefix}th:r:${value}`, kind2);
          await put(`${prefix}th:active`, kind2 === 'zset' ? 'string' : kind2);
          await put(`${prefix}ls:t:th1`, kind1);
          await put(`${prefix}mem:th1`, kind2);
          await put(`${prefix}al:l:ops`, kind1);
          await put(`${prefix}al:names`, kind2);
          await put(`${prefix}h:c:webhook:c1`, kind1);
          await raw.publish(`${prefix}allowlists`, value);
          await s.start();
          assert.deepEqual(s.allowlists.entries('ops'), []);
          assert.equal(await s.lookupListener('th1').then((l) => l.ok), false);
          assert.equal((await s.findListenerByChat('webchat', 'c1')) ?? 'none', 'none');
          const memory = await s.memoryHistory('th1');
          assert.ok(memory.every((t) => typeof t.content === 'string'));
          await s.appendMemory('th1', [{ role: 'user', content: 'after', at: 1 }]);
          assert.deepEqual((await s.memoryHistory('th1')).at(-1), { role: 'user', content: 'after', at: 1 });
          assert.deepEqual(await s.allowEntries('ops'), []);
          await s.addAllowEntry('ops', { jid: 'tg:1' });
          assert.deepEqual(await s.allowEntries('ops'), [{ jid: 'tg:1' }]);
          assert.deepEqual(await s.history.messages('webhook:c1', { limit: 5 }), []);
          s.history.append({ at: 1, direction: 'in', platform: 'webhook', chatJid: 'webhook:c1', text: 'ok' });
          await s.history.drain();
          assert.deepEqual((await s.history.messages('webhook:c1', { limit: 5 })).map((e) => e.text), ['ok']);
          const r = await s.resolveThread(c, 'per-conversation', DAY, false, 5);
          assert.equal(r.record.key, key);
          assert.equal(await s.getThread(value), undefined);
          assert.ok((await s.listThreads({ q: 'tg' })).items.some((t) => t.id === r.record.id));
          assert.equal(typeof (await s.threadCount()), 'number');
          assert.deepEqual(s.allowlists.entries('ops'), [{ jid: 'tg:1' }]);
          await s.close();
          opened.splice(opened.indexOf(s), 1);
        }),
        { numRuns: 25 },
      );
    });
  });

  describe('errors', () => {
    it('never show the password of the Redis URL', async () => {
      assert.equal(redactRedisUrl('redis://alice:s3cret@h:6379/0'), 'redis://alice:***@h:6379/0');
      assert.equal(redactRedisUrl('failed: rediss://:s3cret@h:6380'), 'failed: rediss://:***@h:6380');
      assert.equal(redactRedisUrl('redis://h:6379'), 'redis://h:6379');
      const client = createRedisClient(`redis://alice:hunter2-long@127.0.0.1:${server.port}`, 'fail');
      try {
        assert.equal(client.options.password, 'hunter2-long');
        const e = safeRedisError(new Error('AUTH hunter2-long refused for redis://alice:hunter2-long@127.0.0.1'), client);
        assert.equal(e.message, 'AUTH *** refused for redis://alice:***@127.0.0.1');
        const s = new RedisState({ client, prefix: nextPrefix(), settings: DEFAULT_SETTINGS });
        opened.push(s);
        // No such user on this server: commands fail (AUTH refused, or not connected), secret-free.
        const err = await s.isDuplicate('slack', 'T', 'm').then(
          () => undefined,
          (e: Error) => e,
        );
        assert.ok(err instanceof Error);
        assert.doesNotMatch(err.message, /hunter2/);
        await eventually(() => assert.match(s.lastError ?? '', /WRONGPASS|NOAUTH|AUTH|closed/i));
        assert.doesNotMatch(s.lastError ?? '', /hunter2/);
      } finally {
        client.disconnect();
      }
    });
  });
});

describe('core/store/redis-state when Redis goes away (a real redis-server, killed and restarted)', function () {
  this.timeout(30_000);
  let srv: RedisServer;

  before(async () => {
    srv = await startRedisServer();
  });
  after(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await srv?.stop();
  });

  it('`fail` rejects while the server is down, `wait` resolves after the restart with nothing lost; status goes down and back', async () => {
    const prefix = nextPrefix();
    const failing = makeState(prefix, { policy: 'fail', url: srv.url });
    const waiting = makeState(prefix, { policy: 'wait', url: srv.url });
    await Promise.all([failing.start(), waiting.start()]);
    const statuses: RedisHealth[] = [];
    waiting.onStatus((s) => statuses.push(s));
    assert.equal(waiting.status(), 'ready');
    assert.equal(failing.status(), 'ready');
    const before = await waiting.resolveThread(chat(), 'per-conversation', DAY, false, 1000);
    await failing.addAllowEntry('ops', { jid: 'tg:7' });
    await failing.appendMemory(before.record.id, [{ role: 'user', content: 'kept', at: 1 }]);

    await srv.kill();
    await eventually(() => assert.equal(failing.status(), 'down'));
    await eventually(() => assert.equal(waiting.status(), 'down'));
    const t0 = Date.now();
    await assert.rejects(failing.isDuplicate('slack', 'T', 'during-outage'), /Redis is not connected|Connection is closed/);
    await assert.rejects(failing.resolveThread(chat(), 'per-conversation', DAY, false, 2000));
    assert.ok(Date.now() - t0 < 1000, 'rejected at once');

    let settled = false;
    const during = waiting.resolveThread(chat(), 'per-conversation', DAY, false, 2000).finally(() => {
      settled = true;
    });
    const dup = waiting.isDuplicate('slack', 'T', 'during-outage');
    await sleep(300);
    assert.equal(settled, false, 'waits while Redis is away');

    await srv.restart();
    const after = await during;
    assert.equal(after.record.id, before.record.id, 'the thread survived (append-only file)');
    assert.equal(after.record.turn, 2);
    assert.equal(await dup, false);
    await eventually(() => assert.equal(waiting.status(), 'ready'), 8000);
    await eventually(() => assert.equal(failing.status(), 'ready'), 8000);
    assert.deepEqual(statuses.filter((s, i) => s !== statuses[i - 1]), ['down', 'ready']);
    assert.deepEqual(await waiting.memoryHistory(before.record.id), [{ role: 'user', content: 'kept', at: 1 }]);
    assert.deepEqual(await failing.allowEntries('ops'), [{ jid: 'tg:7' }]);
    assert.equal(await failing.isDuplicate('slack', 'T', 'during-outage'), true, 'the wait-policy write landed');
    // The mirror catches up with a change made while its subscription was away.
    await waiting.addAllowEntry('ops', { jid: 'tg:8' });
    await eventually(() => assert.deepEqual(failing.allowlists.entries('ops').map((e) => e.jid).sort(), ['tg:7', 'tg:8']));
  });
});
