import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { CODE_ALPHABET, formatCode, normalizeCode, PAIRING_DEFAULTS, PairingBook, type PairingSender } from '../../nodes/core/pairing';

const MIN = 60 * 1000;
const HOUR = 60 * MIN;

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

const alice: PairingSender = { jid: 'tg:1', platform: 'telegram', list: 'default', userName: 'Alice' };
const sender = (n: number, list = 'default'): PairingSender => ({ jid: `webchat:s${n}`, platform: 'webchat', list });

describe('pairing book', () => {
  it('gives an unknown sender a code of 8 unambiguous characters, shown as XXXX-XXXX, expiring after an hour', () => {
    const c = clock();
    const book = new PairingBook({ now: c.now });
    const a = book.request(alice);
    assert.equal(a.kind, 'new');
    if (a.kind !== 'new') return;
    assert.match(a.code, new RegExp(`^[${CODE_ALPHABET}]{4}-[${CODE_ALPHABET}]{4}$`));
    assert.equal(a.expiresAt, c.t + PAIRING_DEFAULTS.ttlMs);
    assert.deepEqual(
      book.list().map((r) => ({ code: r.code, jid: r.jid, list: r.list, userName: r.userName })),
      [{ code: a.code, jid: 'tg:1', list: 'default', userName: 'Alice' }],
    );
    for (const ch of '01OIL') assert.ok(!CODE_ALPHABET.includes(ch), `${ch} is not in the alphabet`);
  });

  it('finds a code in any case, with or without the dash or spaces, and nothing that is not a code', () => {
    const book = new PairingBook();
    const a = book.request(alice);
    assert.equal(a.kind, 'new');
    if (a.kind !== 'new') return;
    const bare = a.code.replace('-', '');
    for (const form of [a.code, a.code.toLowerCase(), bare, bare.toLowerCase(), ` ${a.code.slice(0, 4)} ${a.code.slice(5)} `]) {
      assert.equal(book.get(form)?.jid, 'tg:1', form);
    }
    for (const junk of ['', 'ABCD', `${bare}X`, 'ABCD-EFG0', '__proto__', 'constructor', 'x'.repeat(10_000)]) assert.equal(book.get(junk), undefined, junk);
  });

  it('approve and deny take the code out of the book; a second try finds nothing', () => {
    const book = new PairingBook();
    const a = book.request(alice);
    const b = book.request(sender(2));
    assert.ok(a.kind === 'new' && b.kind === 'new');
    assert.equal(book.approve(a.code.toLowerCase())?.jid, 'tg:1');
    assert.equal(book.approve(a.code), undefined);
    assert.equal(book.deny(b.code), true);
    assert.equal(book.deny(b.code), false);
    assert.deepEqual(book.list(), []);
  });

  it('an expired code is not found, exactly like a wrong one, and the sender may ask again', () => {
    const c = clock();
    const book = new PairingBook({ now: c.now });
    const a = book.request(alice);
    assert.equal(a.kind, 'new');
    if (a.kind !== 'new') return;
    c.t += HOUR - 1;
    assert.ok(book.get(a.code));
    c.t += 1;
    assert.equal(book.get(a.code), undefined);
    assert.equal(book.approve(a.code), undefined);
    assert.equal(book.deny(a.code), false);
    assert.deepEqual(book.list(), []);
    const again = book.request(alice);
    assert.equal(again.kind, 'new');
    assert.ok(again.kind === 'new' && again.code !== a.code);
  });

  it('a sender with a live code gets no new code, and a reminder of it at most once per ten minutes', () => {
    const c = clock();
    const book = new PairingBook({ now: c.now });
    const a = book.request(alice);
    assert.equal(a.kind, 'new');
    c.t += 1000;
    assert.deepEqual(book.request(alice), { kind: 'quiet' });
    c.t += 10 * MIN;
    const r = book.request(alice);
    assert.equal(r.kind, 'reminder');
    assert.ok(r.kind === 'reminder' && a.kind === 'new' && r.code === a.code);
    c.t += 5 * MIN;
    assert.deepEqual(book.request(alice), { kind: 'quiet' });
    assert.equal(book.size, 1);
  });

  it('at most three codes per sender in any 24 hours, denied or expired ones counted', () => {
    const c = clock();
    const book = new PairingBook({ now: c.now });
    for (let i = 0; i < 3; i++) {
      const a = book.request(alice);
      assert.equal(a.kind, 'new', `code ${i + 1}`);
      if (i === 0 && a.kind === 'new') book.deny(a.code);
      else c.t += HOUR; // the code expires
    }
    c.t += HOUR;
    assert.deepEqual(book.request(alice), { kind: 'quiet' });
    // Another list is another pairing: its own count.
    assert.equal(book.request({ ...alice, list: 'vip' }).kind, 'new');
    // 24 hours after the first code, one more.
    c.t = 1_000_000 + 24 * HOUR + 1;
    assert.equal(book.request(alice).kind, 'new');
  });

  it("the gateway's limits: a code's lifetime and the codes a day, changed for codes issued after", () => {
    const c = clock();
    const book = new PairingBook({ now: c.now });
    const first = book.request(alice);
    assert.ok(first.kind === 'new');
    book.setLimits({ ttlMs: 5 * MIN, perSenderPerDay: 1 });
    assert.deepEqual(book.limits, { ttlMs: 5 * MIN, perSenderPerDay: 1 });
    assert.equal(first.expiresAt, c.t + HOUR, 'an issued code keeps its expiry');
    const bob = book.request(sender(2));
    assert.ok(bob.kind === 'new');
    assert.equal(bob.expiresAt, c.t + 5 * MIN);
    book.deny(bob.code);
    assert.deepEqual(book.request(sender(2)), { kind: 'quiet' }, 'one code a day');
    book.setLimits({ ttlMs: 0, perSenderPerDay: 0.5 });
    assert.deepEqual(book.limits, { ttlMs: 5 * MIN, perSenderPerDay: 1 }, 'nonsense keeps the limits');
  });

  it('holds at most maxPending codes: full, nobody gets a new one until some expire', () => {
    const c = clock();
    const book = new PairingBook({ now: c.now, maxPending: 5 });
    for (let i = 0; i < 5; i++) assert.equal(book.request(sender(i)).kind, 'new');
    assert.deepEqual(book.request(sender(99)), { kind: 'quiet' });
    assert.equal(book.size, 5);
    c.t += HOUR;
    assert.equal(book.request(sender(99)).kind, 'new');
    assert.equal(book.size, 1);
  });

  it('lists pending codes newest first, without expired ones', () => {
    const c = clock();
    const book = new PairingBook({ now: c.now });
    book.request(sender(1));
    c.t += 30 * MIN;
    book.request(sender(2));
    c.t += 10;
    book.request(sender(3));
    assert.deepEqual(book.list().map((r) => r.jid), ['webchat:s3', 'webchat:s2', 'webchat:s1']);
    c.t += 30 * MIN;
    assert.deepEqual(book.list().map((r) => r.jid), ['webchat:s3', 'webchat:s2']);
  });

  it('retries a clash and gives up on a random source that only repeats', () => {
    let calls = 0;
    // The first two codes are equal (all 'A'), then 'B's.
    const book = new PairingBook({ random: () => (calls++ < 16 ? 0 : 1) });
    const a = book.request(sender(1));
    const b = book.request(sender(2));
    assert.ok(a.kind === 'new' && b.kind === 'new');
    assert.equal(a.code, 'AAAA-AAAA');
    assert.equal(b.code, 'BBBB-BBBB');
    const stuck = new PairingBook({ random: () => 0 });
    stuck.request(sender(1));
    assert.throws(() => stuck.request(sender(2)), /no free code/);
  });

  it('normalizeCode and formatCode round-trip every code', () => {
    const code = fc.array(fc.constantFrom(...CODE_ALPHABET), { minLength: 8, maxLength: 8 }).map((a) => a.join(''));
    fc.assert(
      fc.property(code, fc.boolean(), fc.boolean(), (bare, lower, dash) => {
        let shown = dash ? formatCode(bare) : bare;
        if (lower) shown = shown.toLowerCase();
        assert.equal(normalizeCode(shown), bare);
      }),
    );
    fc.assert(fc.property(fc.string({ maxLength: 20 }), (s) => {
      const n = normalizeCode(s);
      if (n !== undefined) assert.match(n, new RegExp(`^[${CODE_ALPHABET}]{8}$`));
    }));
  });

  it('property: whatever strangers send, codes stay bounded per sender, per book, and unique', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('msg' as const), who: fc.integer({ min: 0, max: 6 }), dt: fc.integer({ min: 0, max: 3 * HOUR }) }),
      fc.record({ op: fc.constant('approve' as const), pick: fc.nat(), dt: fc.integer({ min: 0, max: MIN }) }),
      fc.record({ op: fc.constant('deny' as const), pick: fc.nat(), dt: fc.integer({ min: 0, max: MIN }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const c = clock();
        const book = new PairingBook({ now: c.now, maxPending: 4 });
        const issued = new Map<number, number[]>();
        const lastTold = new Map<number, number>();
        const seen = new Set<string>();
        for (const s of steps) {
          c.t += s.dt;
          if (s.op === 'msg') {
            const a = book.request(sender(s.who));
            if (a.kind === 'new') {
              assert.ok(!seen.has(a.code), 'a code is never issued twice');
              seen.add(a.code);
              const times = (issued.get(s.who) ?? []).filter((t) => t > c.t - 24 * HOUR);
              assert.ok(times.length < 3, 'at most three codes a day');
              issued.set(s.who, [...times, c.t]);
            }
            if (a.kind !== 'quiet') {
              const last = lastTold.get(s.who);
              if (last !== undefined && a.kind === 'reminder') assert.ok(c.t - last >= 10 * MIN, 'reminders ten minutes apart');
              lastTold.set(s.who, c.t);
            }
          } else {
            const live = book.list();
            if (!live.length) continue;
            const r = live[s.pick % live.length];
            if (s.op === 'approve') assert.equal(book.approve(r.code)?.jid, r.jid);
            else assert.equal(book.deny(r.code), true);
          }
          assert.ok(book.size <= 4, 'the cap holds');
          const jids = book.list().map((r) => r.jid);
          assert.equal(new Set(jids).size, jids.length, 'one live code per sender');
          for (const r of book.list()) assert.ok(r.expiresAt > c.t);
        }
      }),
    );
  });
});
