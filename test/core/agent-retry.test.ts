/** Retry policy: backoff with jitter, Retry-After, capped, and never once a partial reply is out. */
import { strict as assert } from 'node:assert';
import { backoffDelay, withRetry, DEFAULT_RETRY_POLICY } from '../../nodes/core/agent/retry';
import { AgentError } from '../../nodes/core/agent/types';

describe('core/agent retry', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, baseMs: 100, maxMs: 1000 };

  it('backs off exponentially with jitter, and takes Retry-After as given', () => {
    assert.equal(backoffDelay(1, policy, undefined, () => 0), 50);
    assert.equal(backoffDelay(1, policy, undefined, () => 1), 100);
    assert.equal(backoffDelay(3, policy, undefined, () => 1), 400);
    assert.equal(backoffDelay(10, policy, undefined, () => 1), 1000, 'capped');
    const limited = new AgentError('429', 'rate-limit', { status: 429, retryAfterMs: 700 });
    assert.equal(backoffDelay(1, policy, limited, () => 0), 700);
    const tooLong = new AgentError('429', 'rate-limit', { status: 429, retryAfterMs: 5000 });
    assert.equal(backoffDelay(1, policy, tooLong), undefined, 'a wait beyond the cap is not worth it');
  });

  it('retries retryable errors up to the limit, then rethrows', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls++;
        throw new AgentError('503', 'server', { status: 503 });
      }, { retries: 2, baseMs: 1 }),
      /503/,
    );
    assert.equal(calls, 3);
  });

  it('succeeds after a 429, waiting its Retry-After', async () => {
    let calls = 0;
    const waits: number[] = [];
    const started = Date.now();
    const value = await withRetry(
      async () => {
        if (calls++ === 0) throw new AgentError('429', 'rate-limit', { status: 429, retryAfterMs: 40 });
        return 'ok';
      },
      { onRetry: (_e, _n, ms) => waits.push(ms) },
    );
    assert.equal(value, 'ok');
    assert.deepEqual(waits, [40]);
    assert.ok(Date.now() - started >= 35);
  });

  it('never retries a client or malformed error, or once a partial reply is out', async () => {
    for (const kind of ['client', 'malformed', 'aborted'] as const) {
      let calls = 0;
      await assert.rejects(withRetry(async () => {
        calls++;
        throw new AgentError(kind, kind);
      }, { baseMs: 1 }));
      assert.equal(calls, 1, kind);
    }
    let calls = 0;
    await assert.rejects(withRetry(async () => {
      calls++;
      throw new AgentError('reset', 'connection');
    }, { baseMs: 1, canRetry: () => false }));
    assert.equal(calls, 1);
  });

  it('stops waiting when the signal aborts', async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(withRetry(async () => {
      throw new AgentError('down', 'connection');
    }, { baseMs: 5000, maxMs: 5000, signal: ac.signal }), /down/);
    assert.ok(Date.now() - started < 1000);
  });
});
