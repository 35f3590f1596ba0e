/** The edge every in node shares: a payload of the wrong shape named by its first bad field, each kind logged once. */
import { strict as assert } from 'node:assert';
import { z } from 'zod';
import { kindOf, parseEdge, RejectTally } from '../../nodes/core/kit/edge';

const Event = z.object({
  id: z.number().int(),
  message: z.object({ text: z.string(), photos: z.array(z.object({ file_id: z.string() })).optional() }),
});

describe('core/kit edge', () => {
  it('passes a payload of the right shape through as parsed', () => {
    const r = parseEdge(Event, { id: 1, message: { text: 'hi' }, extra: 'dropped' }, 'event');
    assert.deepEqual(r, { ok: true, value: { id: 1, message: { text: 'hi' } } });
  });

  it('names the first bad field, every array index folded into one kind, and never the value', () => {
    const r = parseEdge(Event, { id: 1, message: { text: 'hi', photos: [{ file_id: 'a' }, { file_id: 987654321 }] } }, 'event');
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.kind, 'event.message.photos[].file_id');
    assert.ok(!r.problem.includes('987654321'), r.problem);
    const missing = parseEdge(Event, { message: { text: 'x' } }, 'event');
    assert.equal(!missing.ok && missing.kind, 'event.id');
    const notObject = parseEdge(Event, 'junk', 'event');
    assert.equal(!notObject.ok && notObject.kind, 'event');
    assert.equal(kindOf('update', ['message', 'photo', 0, 'file_id']), 'update.message.photo[].file_id');
    assert.equal(kindOf('update', [0, 1]), 'update[][]');
  });

  it('the tally is true once per kind, counts every one and sums them up most frequent first', () => {
    const tally = new RejectTally();
    assert.equal(tally.note('event.id'), true);
    assert.equal(tally.note('event.id'), false);
    assert.equal(tally.note('event.message'), true);
    assert.equal(tally.note('event.id'), false);
    assert.equal(tally.total, 4);
    assert.equal(tally.summary(), 'event.id: 3, event.message: 1');
  });

  it('caps the kinds it keeps: the rest are counted as other', () => {
    const tally = new RejectTally(2);
    assert.equal(tally.note('a'), true);
    assert.equal(tally.note('b'), true);
    assert.equal(tally.note('c'), true, 'the first of the others is logged');
    assert.equal(tally.note('d'), false, 'later ones are not');
    assert.equal(tally.note('a'), false);
    assert.equal(tally.total, 5);
    assert.equal(tally.summary(), 'a: 2, other: 2, b: 1');
  });
});
