import { strict as assert } from 'node:assert';
import { throttleStatus } from '../../nodes/common/status-throttle';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('common/status-throttle', () => {
  it('shows the first update at once, coalesces a burst, and always lands the latest', async () => {
    const shown: number[] = [];
    const s = throttleStatus(50);
    for (let i = 1; i <= 100; i++) s.set(() => shown.push(i));
    assert.deepEqual(shown, [1]);
    await sleep(80);
    assert.deepEqual(shown, [1, 100], 'the burst ends on its last status');
    s.close();
  });
  it('shows errors at once and drops a pending update that would hide them', async () => {
    const shown: string[] = [];
    const s = throttleStatus(50);
    s.set(() => shown.push('ok 1'));
    s.set(() => shown.push('ok 2'));
    s.now(() => shown.push('error'));
    await sleep(80);
    assert.deepEqual(shown, ['ok 1', 'error']);
    s.set(() => shown.push('shown at once: the interval has passed'));
    s.set(() => shown.push('pending'));
    s.close();
    await sleep(80);
    assert.deepEqual(shown, ['ok 1', 'error', 'shown at once: the interval has passed'], 'a pending update is dropped on close');
  });
});
