/** Per-chat ordering: sends to one chat in order, chats in parallel; plus the retry_after helpers. */
import { strict as assert } from 'node:assert';
import {
  ChatQueue,
  ChatQueueClosedError,
  ChatQueueFullError,
  retryAfterMs,
  isNotModified,
  isEntityError,
} from '../../nodes/core/delivery';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('core/delivery chat queue', () => {
  it('keeps each chat in order under concurrency while chats run in parallel', async () => {
    const queue = new ChatQueue();
    const delivered = new Map<string, number[]>();
    let running = 0;
    let maxRunning = 0;
    const perChatRunning = new Map<string, number>();
    const jobs: Promise<number>[] = [];
    for (let i = 0; i < 200; i++) {
      const chat = `c${i % 20}`;
      jobs.push(
        queue.run(chat, async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          perChatRunning.set(chat, (perChatRunning.get(chat) ?? 0) + 1);
          assert.equal(perChatRunning.get(chat), 1, 'one send at a time per chat');
          await sleep((i * 7) % 5); // uneven durations would reorder a naive implementation
          delivered.set(chat, [...(delivered.get(chat) ?? []), i]);
          perChatRunning.set(chat, 0);
          running--;
          return i;
        }),
      );
    }
    assert.deepEqual(await Promise.all(jobs), Array.from({ length: 200 }, (_, i) => i));
    for (const [chat, order] of delivered) assert.deepEqual(order, [...order].sort((a, b) => a - b), chat);
    assert.equal([...delivered.values()].flat().length, 200);
    assert.ok(maxRunning > 1, 'different chats ran in parallel');
    assert.equal(queue.size, 0, 'idle chats are forgotten');
  });

  it('a failed task rejects alone and does not block the chain', async () => {
    const queue = new ChatQueue();
    const order: string[] = [];
    const a = queue.run('x', async () => {
      order.push('a');
      throw new Error('boom');
    });
    const b = queue.run('x', () => {
      throw new Error('sync boom');
    });
    const c = queue.run('x', async () => {
      order.push('c');
      return 'ok';
    });
    await assert.rejects(a, /boom/);
    await assert.rejects(b, /sync boom/);
    assert.equal(await c, 'ok');
    assert.deepEqual(order, ['a', 'c']);
  });

  it('bounds what may wait per chat with a clear error', async () => {
    const queue = new ChatQueue({ maxPending: 2 });
    let release: () => void = () => undefined;
    const first = queue.run('x', () => new Promise<void>((r) => (release = r)));
    const waiting = [queue.run('x', async () => 1), queue.run('x', async () => 2)];
    await assert.rejects(queue.run('x', async () => 3), (e: unknown) => e instanceof ChatQueueFullError && /2 sends already waiting for chat x/.test(e.message));
    assert.equal(await queue.run('y', async () => 'other chat'), 'other chat');
    assert.equal(queue.pending('x'), 3);
    release();
    await first;
    assert.deepEqual(await Promise.all(waiting), [1, 2]);

    const strict = new ChatQueue({ maxPending: 0 });
    const busy = strict.run('x', () => new Promise<void>((r) => setTimeout(r, 5)));
    await assert.rejects(strict.run('x', async () => 1), ChatQueueFullError);
    await busy;
    assert.equal(await strict.run('x', async () => 'idle lane runs at once'), 'idle lane runs at once');
  });

  it('close rejects what waits, lets the running task finish, and refuses new work', async () => {
    const queue = new ChatQueue();
    let release: () => void = () => undefined;
    const running = queue.run('x', () => new Promise<string>((r) => (release = () => r('done'))));
    const waiting = queue.run('x', async () => 'never');
    await sleep(1);
    queue.close();
    await assert.rejects(waiting, ChatQueueClosedError);
    await assert.rejects(queue.run('z', async () => 1), ChatQueueClosedError);
    release();
    assert.equal(await running, 'done');
  });
});

describe('core/delivery platform error helpers', () => {
  it('retryAfterMs reads Telegram parameters.retry_after (seconds) as ms', () => {
    assert.equal(retryAfterMs({ error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } }), 7000);
    assert.equal(retryAfterMs({ description: 'Too Many Requests: retry after 3' }), 3000);
    assert.equal(retryAfterMs(new Error('Call to sendMessage failed! (429: Too Many Requests: retry after 12)')), 12000);
    assert.equal(retryAfterMs({ error_code: 400, description: 'Bad Request' }), undefined);
    assert.equal(retryAfterMs(undefined), undefined);
    assert.equal(retryAfterMs('retry after 5'), undefined);
  });

  it('recognises "message is not modified" and entity errors', () => {
    assert.ok(isNotModified({ description: 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same' }));
    assert.ok(!isNotModified(new Error('Bad Request: message to edit not found')));
    assert.ok(isEntityError({ description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0" }));
    assert.ok(!isEntityError({ description: 'Bad Request: message is too long' }));
  });
});
