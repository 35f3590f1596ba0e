/** The typing keeper: the indicator refreshed while the agent works, stopped by a reply or a deadline. */
import { strict as assert } from 'node:assert';
import { TypingKeeper, ManualClock, systemClock } from '../../nodes/core/delivery';

describe('core/delivery typing keeper', () => {
  it('sends typing now and every interval until stopped', async () => {
    const clock = new ManualClock();
    const sent: Array<[string, number]> = [];
    const keeper = new TypingKeeper({ clock, sendTyping: (chat) => void sent.push([chat, clock.now()]) });
    keeper.start('tg:1');
    assert.deepEqual(sent, [['tg:1', 0]]);
    await clock.advance(12_000);
    assert.deepEqual(sent.map(([, t]) => t), [0, 4000, 8000, 12000]);
    keeper.stop('tg:1');
    await clock.advance(20_000);
    assert.equal(sent.length, 4);
    assert.equal(keeper.isActive('tg:1'), false);
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  it('stops when a reply is sent, and a second start only extends the deadline', async () => {
    const clock = new ManualClock();
    let count = 0;
    const keeper = new TypingKeeper({ clock, intervalMs: 1000 });
    keeper.start('a', () => void count++);
    await clock.advance(500);
    keeper.start('a', () => void count++);
    assert.equal(count, 1, 'no extra indicator for a chat already typing');
    await clock.advance(600);
    assert.equal(count, 2);
    keeper.replied('a');
    await clock.advance(5000);
    assert.equal(count, 2);
  });

  it('gives up after the maximum duration so a lost reply never types forever', async () => {
    const clock = new ManualClock();
    let count = 0;
    const keeper = new TypingKeeper({ clock, intervalMs: 4000, maxMs: 10_000, sendTyping: () => void count++ });
    keeper.start('a');
    await clock.advance(60_000);
    assert.equal(count, 3, 'at 0, 4 s and 8 s');
    assert.equal(keeper.isActive('a'), false);
    assert.equal(clock.pending, 0);
  });

  it('keeps chats apart, survives failing or slow indicators, and close clears everything', async () => {
    const clock = new ManualClock();
    const errors: string[] = [];
    const calls: string[] = [];
    let release: () => void = () => undefined;
    const keeper = new TypingKeeper({ clock, intervalMs: 1000, onError: (_e, chat) => errors.push(chat) });
    keeper.start('bad', () => {
      calls.push('bad');
      return Promise.reject(new Error('403 blocked'));
    });
    keeper.start('slow', () => {
      calls.push('slow');
      return new Promise<void>((r) => (release = r));
    });
    await clock.advance(3000);
    assert.equal(calls.filter((c) => c === 'bad').length, 4);
    assert.equal(calls.filter((c) => c === 'slow').length, 1, 'no new indicator while the last one hangs');
    assert.deepEqual([...new Set(errors)], ['bad']);
    release();
    await clock.advance(1000);
    assert.equal(calls.filter((c) => c === 'slow').length, 2);
    keeper.close();
    assert.equal(keeper.size, 0);
    assert.equal(clock.pending, 0);
  });

  it('needs a sendTyping function, and its real timers do not keep the process alive', () => {
    assert.throws(() => new TypingKeeper().start('y'), /no sendTyping/i);
    const handle = systemClock.setTimeout(() => undefined, 60_000) as NodeJS.Timeout;
    assert.equal(handle.hasRef(), false);
    systemClock.clearTimeout(handle);
    const keeper = new TypingKeeper({ sendTyping: () => undefined });
    keeper.start('x');
    keeper.close();
    assert.equal(keeper.isActive('x'), false);
  });
});
