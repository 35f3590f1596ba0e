/**
 * The turn scheduler with fake async work: order per thread, parallel threads up to the limit,
 * followup / collect / interrupt, overflow, close.
 */
import { strict as assert } from 'node:assert';
import { TurnAborted, TurnScheduler, type SchedulerOptions, type Turn } from '../../nodes/core/agent/turn-scheduler';

/** A fake agent: each turn waits until the test releases it (or its signal aborts). */
function fakeWork(options: Partial<SchedulerOptions> = {}) {
  const log: string[] = [];
  const turns: Array<Turn<string>> = [];
  const releases = new Map<string, () => void>();
  let active = 0;
  let maxActive = 0;
  const scheduler = new TurnScheduler<string>(async (turn) => {
    turns.push(turn);
    const label = turn.items.join('+');
    log.push(`start ${label}`);
    active++;
    maxActive = Math.max(maxActive, active);
    try {
      await new Promise<void>((resolve, reject) => {
        releases.set(label, resolve);
        turn.signal.addEventListener('abort', () => reject(turn.signal.reason as Error), { once: true });
      });
      log.push(`end ${label}`);
    } catch (err) {
      log.push(`abort ${label} (${(err as TurnAborted).why})`);
    } finally {
      active--;
    }
  }, options);
  const release = async (label: string) => {
    const r = releases.get(label);
    assert.ok(r, `turn ${label} is running`);
    releases.delete(label);
    r();
    await tick();
  };
  return { scheduler, log, turns, release, maxActive: () => maxActive };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('core/agent turn scheduler', () => {
  it('runs one turn at a time per thread, in arrival order (followup)', async () => {
    const w = fakeWork();
    for (const m of ['a1', 'a2', 'a3']) assert.equal(w.scheduler.submit('A', m).accepted, true);
    assert.deepEqual(w.scheduler.stats, { active: 1, queued: 2 });
    await w.release('a1');
    await w.release('a2');
    await w.release('a3');
    assert.deepEqual(w.log, ['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);
    assert.deepEqual(w.scheduler.stats, { active: 0, queued: 0 });
  });

  it('runs threads in parallel up to the limit; waiting threads start in arrival order', async () => {
    const w = fakeWork({ concurrency: 2 });
    for (const [t, m] of [['A', 'a1'], ['B', 'b1'], ['C', 'c1'], ['D', 'd1'], ['A', 'a2']]) w.scheduler.submit(t, m);
    assert.deepEqual(w.log, ['start a1', 'start b1']);
    assert.deepEqual(w.scheduler.stats, { active: 2, queued: 3 });
    await w.release('a1'); // A has a2 waiting, but C and D arrived before it
    assert.deepEqual(w.log.slice(-1), ['start c1']);
    await w.release('b1');
    assert.deepEqual(w.log.slice(-1), ['start d1']);
    await w.release('c1');
    assert.deepEqual(w.log.slice(-1), ['start a2']);
    await w.release('d1');
    await w.release('a2');
    assert.equal(w.maxActive(), 2);
  });

  it('collect: messages that wait are merged into the next turn', async () => {
    const w = fakeWork({ mode: 'collect' });
    for (const m of ['a1', 'a2', 'a3', 'a4']) w.scheduler.submit('A', m);
    assert.deepEqual(w.scheduler.stats, { active: 1, queued: 3 });
    await w.release('a1');
    assert.deepEqual(w.turns[1].items, ['a2', 'a3', 'a4']);
    await w.release('a2+a3+a4');
    assert.deepEqual(w.log, ['start a1', 'end a1', 'start a2+a3+a4', 'end a2+a3+a4']);
  });

  it('interrupt: a new message aborts the running turn, then runs', async () => {
    const w = fakeWork({ mode: 'interrupt' });
    w.scheduler.submit('A', 'a1');
    w.scheduler.submit('B', 'b1');
    w.scheduler.submit('A', 'a2');
    await tick();
    assert.deepEqual(w.log, ['start a1', 'start b1', 'abort a1 (interrupt)', 'start a2']);
    assert.ok(w.turns[0].signal.aborted);
    assert.ok(!w.turns[1].signal.aborted, 'another thread is untouched');
    await w.release('a2');
    await w.release('b1');
  });

  it('refuses what does not fit, per thread and overall, and says why', async () => {
    const w = fakeWork({ maxQueue: 2, maxTotalQueue: 3 });
    w.scheduler.submit('A', 'a1');
    assert.deepEqual(w.scheduler.submit('A', 'a2'), { accepted: true, started: false, queued: 1 });
    w.scheduler.submit('A', 'a3');
    assert.deepEqual(w.scheduler.submit('A', 'a4'), { accepted: false, reason: 'thread-queue-full' });
    w.scheduler.submit('B', 'b1');
    w.scheduler.submit('B', 'b2');
    assert.deepEqual(w.scheduler.submit('C', 'c1'), { accepted: false, reason: 'queue-full' }, 'three wait overall (B, then c1 would be the fourth)');
    assert.deepEqual(w.scheduler.stats, { active: 2, queued: 3 });
  });

  it('the first message of an idle thread starts at once', () => {
    const w = fakeWork();
    assert.deepEqual(w.scheduler.submit('A', 'a1'), { accepted: true, started: true, queued: 0 });
  });

  it('close aborts running turns, hands back what never ran, and refuses more', async () => {
    const w = fakeWork({ concurrency: 1 });
    w.scheduler.submit('A', 'a1');
    w.scheduler.submit('A', 'a2');
    w.scheduler.submit('B', 'b1');
    const dropped = w.scheduler.close();
    assert.deepEqual(dropped.sort(), ['a2', 'b1']);
    await w.scheduler.settled();
    assert.deepEqual(w.log, ['start a1', 'abort a1 (closed)']);
    assert.deepEqual(w.scheduler.submit('A', 'a3'), { accepted: false, reason: 'closed' });
    assert.deepEqual(w.scheduler.stats, { active: 0, queued: 0 });
  });

  it('a turn that throws does not stall its thread', async () => {
    const seen: string[] = [];
    const s = new TurnScheduler<string>(async (turn) => {
      seen.push(turn.items[0]);
      throw new Error('boom');
    });
    s.submit('A', 'a1');
    s.submit('A', 'a2');
    await s.settled();
    assert.deepEqual(seen, ['a1', 'a2']);
  });

  it('reports its counts as they change', async () => {
    const counts: string[] = [];
    const s = new TurnScheduler<string>(() => new Promise((r) => setTimeout(r, 5)), {}, (st) => counts.push(`${st.active}/${st.queued}`));
    s.submit('A', 'a1');
    s.submit('A', 'a2');
    await s.settled();
    assert.deepEqual(counts, ['1/0', '1/1', '1/0', '0/0']);
  });
  it('a freed slot goes to the oldest waiting message across threads, also one queued behind a running turn', async () => {
    const w = fakeWork({ concurrency: 1 });
    w.scheduler.submit('A', 'a1');
    w.scheduler.submit('A', 'a2'); // waits behind a1, in its own thread
    w.scheduler.submit('B', 'b1'); // newer than a2
    w.scheduler.submit('C', 'c1');
    await tick();
    await w.release('a1');
    await w.release('a2');
    await w.release('b1');
    await w.release('c1');
    assert.deepEqual(w.log.filter((l) => l.startsWith('start')), ['start a1', 'start a2', 'start b1', 'start c1']);
  });

  it('with a thousand threads waiting, each freed slot still takes the oldest', async () => {
    const w = fakeWork({ concurrency: 1, maxTotalQueue: 5000 });
    const order: string[] = [];
    for (let i = 0; i < 1000; i++) {
      w.scheduler.submit(`t${i % 500}`, `m${i}`);
      order.push(`m${i}`);
    }
    await tick();
    for (const label of order) await w.release(label);
    assert.deepEqual(w.log.filter((l) => l.startsWith('start')).map((l) => l.slice(6)), order);
  });
});
