/**
 * The Redis store (a real redis-server on loopback, one Lua call per resolve) beside a plain Map,
 * at 10k, 100k and 1M threads: resolve throughput with 64 messages in flight (a gateway serving
 * many chats at once; every resolve is a network round trip, so this is the price of sharing the
 * state between instances, not a target), the longest event-loop stall while serving 200 msg/s,
 * and the time until a restarted gateway (a new connection) answers its first message.
 * Skipped, with a line saying so, where redis-server is not installed.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DEFAULT_SETTINGS } from '../nodes/core/gateway-state';
import { createRedisClient, RedisState } from '../nodes/core/store/redis-state';
import { startRedisServer } from '../test/helpers/redis-server';
import { median, row, type Row } from './lib';
import { chats, PlainMap } from './thread-fixtures';

const IN_FLIGHT = 64;
const SERVE_MS = 6000;
const SERVE_RATE = 200;

export async function runRedisStore(log: (s: string) => void, sizes: number[]): Promise<Row[]> {
  let server;
  try {
    server = await startRedisServer();
  } catch (err) {
    log(`redis store: skipped (${(err as Error).message})`);
    return [];
  }
  const rows: Row[] = [];
  try {
    for (const n of sizes) {
      const label = `${n.toLocaleString('en-US')} threads, Redis`;
      const prefix = `bench${n}:`;
      const state = new RedisState({ client: createRedisClient(server.url, 'wait'), prefix, settings: DEFAULT_SETTINGS });
      await state.start();
      const cs = chats(n);
      // Fill with IN_FLIGHT resolves at a time.
      const fillStart = performance.now();
      for (let i = 0; i < n; i += IN_FLIGHT) {
        await Promise.all(cs.slice(i, i + IN_FLIGHT).map((c) => state.resolveThread(c, 'per-user', 0, false)));
      }
      log(`redis ${n}: filled in ${Math.round(performance.now() - fillStart)} ms`);
      const p = new PlainMap();
      for (const c of cs) p.resolve(c);

      const lookups = Math.min(20_000, n);
      const subject: number[] = [];
      const baseline: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        for (let i = 0; i < lookups; i += IN_FLIGHT) {
          const batch: Array<Promise<unknown>> = [];
          for (let k = i; k < Math.min(lookups, i + IN_FLIGHT); k++) batch.push(state.resolveThread(cs[(k * 7919) % n], 'per-user', 0, false));
          await Promise.all(batch);
        }
        subject.push(lookups / ((performance.now() - t0) / 1000));
        const t1 = performance.now();
        for (let i = 0; i < 300_000; i++) p.resolve(cs[(i * 7919) % n]);
        baseline.push(300_000 / ((performance.now() - t1) / 1000));
      }
      rows.push(row('thread store', label, `resolve (${IN_FLIGHT} in flight, one Lua call each)`, 'ops/s', median(subject), median(baseline)));

      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const started = performance.now();
      let i = 0;
      const pending: Array<Promise<unknown>> = [];
      await new Promise<void>((done) => {
        const tick = setInterval(() => {
          const due = Math.floor(((performance.now() - started) / 1000) * SERVE_RATE);
          for (; i < due; i++) pending.push(state.resolveThread(cs[(i * 7919) % n], 'per-user', 0, false));
          if (performance.now() - started >= SERVE_MS) {
            clearInterval(tick);
            done();
          }
        }, 1000 / SERVE_RATE);
      });
      await Promise.all(pending);
      h.disable();
      rows.push(row('thread store', `${label}, ${SERVE_RATE} msg/s`, 'longest event-loop stall', 'ms', h.max / 1e6, null, n === 1_000_000 ? '< 50' : undefined));
      await state.close();

      // A restart: a new connection, the allowlists mirrored, then the first message.
      const t2 = performance.now();
      const again = new RedisState({ client: createRedisClient(server.url, 'wait'), prefix, settings: DEFAULT_SETTINGS });
      await again.start();
      const first = await again.resolveThread(cs[n - 1], 'per-user', 0, false);
      if (first.isNew) throw new Error('the first message after the restart did not find its thread');
      rows.push(row('thread store', label, 'restart: first message answered', 'ms', performance.now() - t2, null, n === 1_000_000 ? '< 1,000' : undefined));
      // Everything is in Redis at once: its own memory per thread, for the record.
      const info = await again.client.info('memory');
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
      rows.push(row('thread store', label, 'Redis memory per thread (all instances share it)', 'bytes', used / n, null));
      await again.client.flushall();
      await again.close();
      log(`redis ${n}: done`);
    }
  } finally {
    await server.stop();
  }
  return rows;
}
