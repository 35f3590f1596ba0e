/** The stream throttle: partial replies with the whole text so far, at most once per interval. */
import { strict as assert } from 'node:assert';
import { StreamThrottle, type StreamPart } from '../../nodes/core/agent/stream-throttle';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('core/agent stream throttle', () => {
  it('emits the whole text so far at most once per interval, then a final; seq from 0', async () => {
    const parts: StreamPart[] = [];
    const t = new StreamThrottle({ id: 's1', intervalMs: 60, emit: (p) => parts.push(p) });
    t.push('Hel');
    t.push('lo');
    t.push(', ');
    assert.deepEqual(parts, [{ id: 's1', seq: 0, done: false, text: 'Hel' }], 'the first part goes at once, the rest waits');
    await sleep(90);
    assert.deepEqual(parts[1], { id: 's1', seq: 1, done: false, text: 'Hello, ' });
    t.push('world');
    t.finish();
    assert.deepEqual(parts[2], { id: 's1', seq: 2, done: true, text: 'Hello, world' });
    t.push('late');
    assert.equal(t.finish(), undefined);
    await sleep(90);
    assert.equal(parts.length, 3, 'nothing after the final part');
  });

  it('sends no partial when nothing changed, and the final carries the provider text', async () => {
    const parts: StreamPart[] = [];
    const t = new StreamThrottle({ id: 's', intervalMs: 20, emit: (p) => parts.push(p) });
    t.finish('whole');
    assert.deepEqual(parts, [{ id: 's', seq: 0, done: true, text: 'whole' }]);
  });

  it('cancel stops the timer and anything after', async () => {
    const parts: StreamPart[] = [];
    const t = new StreamThrottle({ id: 's', intervalMs: 30, emit: (p) => parts.push(p) });
    t.push('a');
    t.push('b');
    t.cancel();
    await sleep(50);
    t.push('c');
    assert.deepEqual(parts.map((p) => p.text), ['a']);
  });
});
