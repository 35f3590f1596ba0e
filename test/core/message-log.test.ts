import { strict as assert } from 'node:assert';
import { LOG_TEXT_CHARS, MessageLog, trimText } from '../../nodes/core/message-log';

describe('message log (the sidebar ring buffer)', () => {
  it('keeps the last entries only, numbered, and hands out what is newer than a seq', () => {
    const log = new MessageLog(3);
    for (let i = 1; i <= 5; i++) log.add({ direction: 'in', platform: 'webhook', chatJid: 'webhook:c', text: `m${i}` }, i);
    assert.deepEqual(log.list().map((e) => [e.seq, e.text]), [[3, 'm3'], [4, 'm4'], [5, 'm5']]);
    assert.deepEqual(log.list(4).map((e) => e.text), ['m5']);
    assert.deepEqual(log.list(0, 1).map((e) => e.text), ['m5']);
    assert.equal(log.lastSeq, 5);
    // A new log (a redeployed gateway) counts from 1 again under another name.
    assert.notEqual(new MessageLog(3).epoch, log.epoch);
    assert.match(log.epoch, /^[0-9a-f]{12}$/);
  });

  it('trims text to one line and keeps no more than the fields it was given', () => {
    assert.equal(trimText('a\n\n  b'), 'a b');
    assert.equal(trimText({ text: 'obj' }), 'obj');
    assert.equal(trimText(42), '');
    const long = trimText('x'.repeat(1000));
    assert.equal(long.length, LOG_TEXT_CHARS);
    assert.ok(long.endsWith('…'));
    const e = new MessageLog().add({ direction: 'out', platform: 'webchat', text: 'hi', threadId: undefined });
    assert.deepEqual(Object.keys(e).sort(), ['at', 'direction', 'platform', 'seq', 'text']);
  });
});
