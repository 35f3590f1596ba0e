/**
 * The operator's books apart from Node-RED: one holder per thread, touch and idle expiry on an
 * injected clock, hand-off flags with their reasons, and the hand-off marker cut from whole and
 * streamed replies.
 */
import { strict as assert } from 'node:assert';
import { TakeoverBook } from '../../nodes/core/operator/takeover-book';
import { HandoffBook } from '../../nodes/core/operator/handoff-book';
import { HandoffMarker } from '../../nodes/core/operator/handoff-marker';
import { OperatorDesk } from '../../nodes/gateway/operator-desk';
import { pairingLimitsFromDef, takeoverIdleFromDef, type GatewayDef } from '../../nodes/gateway/gateway-settings';
import { readSettings } from '../../nodes/agent-call/settings';

const chat = { chatJid: 'webchat:v1', platform: 'webchat' };
const MIN = 60_000;

describe('operator: takeover book', () => {
  it('lets one operator hold a thread; another gets who holds it; taking again only touches', () => {
    const book = new TakeoverBook(30 * MIN);
    const first = book.take('th1', 'alice', chat, 1000);
    assert.ok(first.ok && !first.already);
    assert.deepEqual(first.ok && first.takeover, { threadId: 'th1', ...chat, operator: 'alice', since: 1000, lastActivity: 1000, expiresAt: 1000 + 30 * MIN });
    assert.deepEqual(book.take('th1', 'bob', chat, 2000), { ok: false, operator: 'alice' });
    const again = book.take('th1', 'alice', chat, 3000);
    assert.ok(again.ok && again.already && again.takeover.since === 1000 && again.takeover.lastActivity === 3000);
    assert.ok(book.take('th2', 'bob', chat, 3000).ok, 'another thread is free');
    assert.deepEqual(book.list(3000).map((t) => [t.threadId, t.operator]), [['th1', 'alice'], ['th2', 'bob']]);
    assert.equal(book.handBack('th1'), true);
    assert.equal(book.handBack('th1'), false);
    assert.ok(book.take('th1', 'bob', chat, 4000).ok, 'free again after the hand-back');
  });

  it('ends a takeover idle past its time; every touch starts the idle time again', () => {
    const book = new TakeoverBook(10 * MIN);
    book.take('th1', 'alice', chat, 0);
    book.touch('th1', 9 * MIN);
    assert.deepEqual(book.expire(18 * MIN), [], 'touched at 9 min: lives until 19 min');
    assert.ok(book.get('th1', 18 * MIN));
    assert.equal(book.get('th1', 19 * MIN), undefined, 'an expired takeover is not held');
    assert.equal(book.touch('th1', 19 * MIN), undefined, 'and a touch does not revive it');
    assert.deepEqual(book.expire(19 * MIN).map((t) => t.threadId), ['th1']);
    assert.equal(book.size, 0);
    assert.ok(book.take('th1', 'bob', chat, 20 * MIN).ok);
  });
});

describe('operator: hand-off book', () => {
  it('flags with a reason and a source, keeps the first time, clears, expires unanswered', () => {
    const book = new HandoffBook(10 * MIN);
    const f = book.flag('th1', { source: 'agent', reason: '  wants a refund ' }, chat, 100);
    assert.deepEqual(f, { threadId: 'th1', ...chat, reason: 'wants a refund', source: 'agent', at: 100, lastActivity: 100 });
    const again = book.flag('th1', { source: 'flow' }, chat, 200);
    assert.equal(again.at, 100);
    assert.equal(again.reason, 'wants a refund', 'a flag without a reason keeps the earlier one');
    assert.equal(again.source, 'flow');
    assert.equal(book.flag('th2', { source: 'flow', reason: 'x'.repeat(900) }, chat, 200).reason?.length, 500);
    assert.equal(book.clear('th2'), true);
    assert.equal(book.clear('th2'), false);
    book.touch('th1', 5 * MIN);
    assert.ok(book.get('th1', 14 * MIN));
    assert.deepEqual(book.expire(15 * MIN).map((x) => x.threadId), ['th1']);
    assert.deepEqual(book.list(15 * MIN), []);
  });
});

describe('operator: hand-off marker', () => {
  it('cuts the marker (with or without a reason) from a whole reply', () => {
    const m = new HandoffMarker();
    assert.deepEqual(m.strip('Sure. [[handoff]]'), { text: 'Sure.', found: true });
    assert.deepEqual(m.strip('[[HANDOFF: billing question]]'), { text: '', found: true, reason: 'billing question' });
    assert.deepEqual(m.strip('a [[handoff]] b\n\n\n\n[[handoff: x]]'), { text: 'a  b', found: true, reason: 'x' });
    assert.deepEqual(m.strip('no marker [[here]]'), { text: 'no marker [[here]]', found: false });
    const custom = new HandoffMarker('<<human>>');
    assert.deepEqual(custom.strip('ok <<human>>'), { text: 'ok', found: true });
  });

  it('never lets a marker reach a stream, and lets a tail through once it cannot be one', () => {
    const m = new HandoffMarker();
    const pieces = ['Let me ', 'get a person. [', '[hand', 'off: ', 'billing', ']]', ' Bye [', 'x] [[h'];
    let raw = '';
    const seen: string[] = [];
    for (const p of pieces) {
      raw += p;
      seen.push(m.visible(raw));
    }
    for (const v of seen) assert.ok(!/\[\[h/i.test(v), `no marker start in ${JSON.stringify(v)}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].startsWith(seen[i - 1]), 'what the user saw only grows');
    assert.equal(seen[seen.length - 1], 'Let me get a person.  Bye [x] ');
    assert.equal(m.visible('price [[other]]'), 'price [[other]]', 'another [[...]] is text');
  });
});

describe('operator: desk', () => {
  it('logs takeovers, hand-backs and expiries, clears a flag on takeover, says why the agent is held back', () => {
    let now = 0;
    const lines: string[] = [];
    const changes: string[] = [];
    const desk = new OperatorDesk({ log: (t) => lines.push(t), idleMs: 10 * MIN, now: () => now, sweepMs: 60_000 });
    desk.on('change', (c: { kind: string }) => changes.push(c.kind));
    try {
      desk.flag('th1', { source: 'agent', reason: 'refund' }, chat);
      assert.deepEqual(desk.heldBack('th1'), { state: 'handoff', since: 0 });
      now = 1000;
      assert.ok(desk.take('th1', 'alice', chat).ok);
      assert.equal(desk.handoff('th1'), undefined, 'taking over answers the flag');
      assert.deepEqual(desk.heldBack('th1'), { state: 'takeover', operator: 'alice', since: 1000 });
      assert.deepEqual(desk.handBack('th1', 'bob'), { heldBy: 'alice' });
      assert.equal(desk.handBack('th1', 'alice'), 'ok');
      assert.equal(desk.handBack('th1', 'alice'), 'none');
      assert.equal(desk.heldBack('th1'), undefined);
      desk.take('th2', 'bob', chat);
      now += 10 * MIN;
      desk.sweep();
      assert.deepEqual(desk.list().takeovers, []);
      assert.deepEqual(changes, ['handoff', 'takeover', 'handback', 'takeover', 'expired']);
      assert.match(lines.join('\n'), /takeover of thread th1 \(webchat:v1\) by alice/);
      assert.match(lines.join('\n'), /thread th1 handed back to the agent by alice/);
      assert.match(lines.join('\n'), /takeover of thread th2 by bob expired after 10 min idle/);
    } finally {
      desk.close();
    }
  });
});

describe('operator: settings', () => {
  it('the gateway idle time: minutes, 30 by default, for empty, zero or junk too', () => {
    const def = (takeoverIdle: unknown) => ({ id: 'g', type: 'chatgate-gateway', name: '', z: '', takeoverIdle }) as unknown as GatewayDef;
    assert.equal(takeoverIdleFromDef(def(undefined)), 30 * MIN);
    assert.equal(takeoverIdleFromDef(def('')), 30 * MIN);
    assert.equal(takeoverIdleFromDef(def('0')), 30 * MIN);
    assert.equal(takeoverIdleFromDef(def('-3')), 30 * MIN);
    assert.equal(takeoverIdleFromDef(def('abc')), 30 * MIN);
    assert.equal(takeoverIdleFromDef(def('5')), 5 * MIN);
    assert.equal(takeoverIdleFromDef(def(0.5)), 30_000);
    // The pairing limits beside it: 60 minutes and 3 a day unless set; at most a day and 20.
    const pairing = (pairingMinutes: unknown, pairingPerDay: unknown) => pairingLimitsFromDef({ pairingMinutes, pairingPerDay } as unknown as GatewayDef);
    assert.deepEqual(pairing(undefined, undefined), { ttlMs: 60 * MIN, perSenderPerDay: 3 });
    assert.deepEqual(pairing('', 'x'), { ttlMs: 60 * MIN, perSenderPerDay: 3 });
    assert.deepEqual(pairing('10', '1'), { ttlMs: 10 * MIN, perSenderPerDay: 1 });
    assert.deepEqual(pairing(99999, 500), { ttlMs: 24 * 60 * MIN, perSenderPerDay: 20 });
    assert.deepEqual(pairing('0', '0'), { ttlMs: 60 * MIN, perSenderPerDay: 3 });
  });

  it('the agent call hand-off marker and text: defaults for old flows and empty fields', () => {
    const { settings } = readSettings({ id: 'a', model: 'm' });
    assert.equal(settings.handoffMarker, '[[handoff]]');
    assert.equal(settings.handoffText, 'A person will answer you here shortly.');
    const set = readSettings({ id: 'a', model: 'm', handoffMarker: ' <<human>> ', handoffText: 'Wait here.' }).settings;
    assert.deepEqual([set.handoffMarker, set.handoffText], ['<<human>>', 'Wait here.']);
  });
});
