/**
 * The bounds that protect the process (docs/limits.md), each at its edge, without Node-RED: what
 * is kept in memory has a ceiling, and what does not fit is refused with a reason or reported,
 * never dropped silently. The node-level edges are in test/nodes/limits.test.ts.
 */
import { strict as assert } from 'node:assert';
import { TurnScheduler } from '../../nodes/core/agent/turn-scheduler';
import { ChatQueue, ChatQueueFullError, DEFAULT_MAX_CHATS } from '../../nodes/core/delivery/chat-queue';
import { MEMORY_HISTORY_MAX_ENTRIES, MemoryHistory } from '../../nodes/core/history';
import { WebchatHub } from '../../nodes/webchat/hub';
import { MAX_ASKING_THREADS, MAX_ASKS_PER_THREAD, PendingAsks } from '../../nodes/agent-call/pending-asks';

const tick = () => new Promise((r) => setImmediate(r));

describe('limits that protect the process', () => {
  describe('the delivery engine\'s chat queue', () => {
    it(`refuses a send to one chat more than ${DEFAULT_MAX_CHATS} busy ones, and takes it once one is free`, async () => {
      const q = new ChatQueue();
      const hold: Array<() => void> = [];
      const busy = Array.from({ length: DEFAULT_MAX_CHATS }, (_, i) => q.run(`chat${i}`, () => new Promise<void>((r) => hold.push(r))));
      assert.equal(q.size, DEFAULT_MAX_CHATS);
      await assert.rejects(q.run('one-too-many', async () => 'sent'), (err: Error) => err instanceof ChatQueueFullError && /too many chats at once/.test(err.message) && err.message.includes('one-too-many'));
      // A chat already busy still queues (its own bound is the per-chat one).
      const more = q.run('chat0', async () => 'after');
      hold[0]();
      await busy[0];
      assert.equal(await more, 'after');
      await tick();
      assert.equal(await q.run('now-there-is-room', async () => 'sent'), 'sent');
      q.close();
      for (const r of hold) r();
      await Promise.allSettled(busy);
    });
  });

  describe('chat history held in memory', () => {
    it(`keeps at most ${MEMORY_HISTORY_MAX_ENTRIES} entries with no age and no count limit, trimming the least recently active chats first`, () => {
      const h = new MemoryHistory({ enabled: true, days: 0, perChat: 0 });
      const over = 500;
      // A chat that writes first and then again at the end stays whole; the quiet old ones go.
      h.append({ at: 1, direction: 'in', platform: 'webhook', chatJid: 'webhook:busy', text: 'first' });
      for (let i = 0; i < MEMORY_HISTORY_MAX_ENTRIES + over; i++) h.append({ at: 2 + i, direction: 'in', platform: 'webhook', chatJid: `webhook:c${i % 1000}`, text: `m${i}` });
      h.append({ at: 1e9, direction: 'out', platform: 'webhook', chatJid: 'webhook:busy', text: 'last' });
      assert.equal(h.size, MEMORY_HISTORY_MAX_ENTRIES);
      return h.messages('webhook:busy', { limit: 10 }).then((busy) => {
        assert.deepEqual(busy.map((e) => e.text), ['last'], 'its old entry went with the oldest ones; its new one stays');
      });
    });

    it('a snapshot bigger than the ceiling is trimmed on restore, oldest activity first', async () => {
      const big = new MemoryHistory({ enabled: true, days: 0, perChat: 0 }, 10_000);
      for (let i = 0; i < 10_000; i++) big.append({ at: i, direction: 'in', platform: 'webhook', chatJid: `webhook:c${i % 10}`, text: `m${i}` });
      const small = new MemoryHistory({ enabled: true, days: 0, perChat: 0 }, 1000);
      small.restore(big.snapshot(), 10_000);
      assert.equal(small.size, 1000);
      const newest = await small.messages('webhook:c9', { limit: 1 });
      assert.equal(newest[0].text, 'm9999');
    });
  });

  describe('replies waiting for an offline web chat visitor', () => {
    it('says when the oldest waiting reply gives way to a newer one (never silently)', () => {
      const hub = new WebchatHub('in', { maxQueued: 3, queueMs: 60_000, maxQueuedUsers: 10 });
      const evicted: Array<[string, number]> = [];
      hub.onEvicted = (user, count) => evicted.push([user, count]);
      for (let i = 1; i <= 5; i++) assert.equal(hub.deliver('alice', { type: 'reply', id: `r${i}`, text: `reply ${i}` }, 0), 'queued');
      assert.deepEqual(evicted, [['alice', 1], ['alice', 1]]);
      assert.equal(hub.queued('alice'), 3);
    });
  });

  describe('questions an async HTTP agent has not answered', () => {
    it(`keeps at most ${MAX_ASKS_PER_THREAD} per thread and ${MAX_ASKING_THREADS} threads, the oldest going first`, () => {
      const p = new PendingAsks();
      for (let i = 0; i < MAX_ASKS_PER_THREAD + 5; i++) p.add('t0', `q${i}`);
      assert.equal(p.take('t0'), 'q5', 'the five oldest questions of the thread went');
      for (let i = 1; i <= MAX_ASKING_THREADS; i++) p.add(`t${i}`, 'q');
      assert.equal(p.size, MAX_ASKING_THREADS);
      assert.equal(p.has('t0'), false, 'the thread asked longest ago made room');
      assert.equal(p.has(`t${MAX_ASKING_THREADS}`), true);
      assert.equal(p.take(`t${MAX_ASKING_THREADS}`), 'q');
      assert.equal(p.has(`t${MAX_ASKING_THREADS}`), false);
    });
  });

  describe('agent turns across chats (lanes)', () => {
    it('a chat with many threads waiting cannot hold back another chat: the lane with fewer turns running goes first', async () => {
      const started: string[] = [];
      const releases: Array<() => void> = [];
      const s = new TurnScheduler<string>(
        (turn) =>
          new Promise<void>((r) => {
            started.push(turn.items[0]);
            releases.push(r);
          }),
        { concurrency: 2, maxTotalQueue: 10_000 },
      );
      for (let i = 0; i < 500; i++) s.submit(`flood-${i}`, `f${i}`, 'flood');
      s.submit('calm-thread', 'calm', 'calm');
      await tick();
      assert.deepEqual(started, ['f0', 'f1']);
      releases.shift()!();
      await tick();
      assert.deepEqual(started, ['f0', 'f1', 'calm'], 'the next free slot went to the quiet chat');
      releases.shift()!();
      await tick();
      assert.equal(started[3], 'f2', 'then the flood goes on, oldest first');
      s.close();
      for (const r of releases) r();
      await s.settled();
    });

    it('without lanes (each thread its own), a freed slot still takes the oldest waiting message', async () => {
      const started: string[] = [];
      const releases: Array<() => void> = [];
      const s = new TurnScheduler<string>((turn) => new Promise<void>((r) => (started.push(turn.items[0]), releases.push(r))), { concurrency: 1 });
      for (const [t, m] of [['A', 'a1'], ['A', 'a2'], ['B', 'b1'], ['C', 'c1']]) s.submit(t, m);
      for (let i = 0; i < 4; i++) {
        await tick();
        releases.shift()?.();
      }
      await s.settled();
      assert.deepEqual(started, ['a1', 'a2', 'b1', 'c1']);
    });
  });
});
