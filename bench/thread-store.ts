/**
 * Thread store: resolve-or-create throughput and memory per thread at 10k, 100k and 1M threads,
 * the time to persist and load 1M threads, and — serving 200 messages a second for a few seconds
 * while the store persists as it does in Node-RED — the longest event-loop stall
 * (perf_hooks.monitorEventLoopDelay) and the longest a change waits before it is on disk (what a
 * kill -9 loses at most). Baseline: a plain Map doing the same lookups (the same composed key, a
 * stored id), in the same process, alternating runs; for the stall, the same loop with no store.
 * Then the same figures for the embedded database (state-embedded.ts) and Redis (state-redis.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GatewayState, DEFAULT_SETTINGS } from '../nodes/core/gateway-state';
import { FileSnapshotStore, Persister } from '../nodes/core/persistence';
import type { ThreadChat } from '../nodes/core/threads';
import { chats, PlainMap, serveAtRate } from './thread-fixtures';
import { runEmbeddedStore } from './state-embedded';
import { runRedisStore } from './state-redis';
import { heapUsed, median, row, timeMs, timeMsAsync, type Row } from './lib';

const SIZES = [10_000, 100_000, 1_000_000];
/** How long each serving run lasts, and its rate. */
const SERVE_MS = 6000;
const SERVE_RATE = 200;

interface Served {
  /** Longest event-loop delay seen (ms). */
  stallMs: number;
  /** Longest time from a change to the end of the save that holds it (ms), or NaN without a store. */
  lossMs: number;
}

/**
 * Resolves SERVE_RATE messages a second for SERVE_MS on a full map; with `dir`, the state is
 * persisted the way the gateway does it (a Persister over the JSON file store, flushed on change).
 */
async function serve(resolve: (i: number) => void, state: GatewayState | undefined, dir: string | undefined): Promise<Served> {
  const saves: Array<{ start: number; end: number }> = [];
  let persister: Persister | undefined;
  if (state && dir) {
    const store = new FileSnapshotStore(path.join(dir, 'serving.json'));
    persister = new Persister(
      {
        save: async (snap: unknown) => {
          const start = performance.now();
          await store.save(snap);
          saves.push({ start, end: performance.now() });
        },
      },
      () => state.snapshot(),
    );
  }
  const changes: number[] = [];
  const stallMs = await serveAtRate((k) => {
    resolve(k);
    if (persister) {
      changes.push(performance.now());
      persister.markDirty();
    }
  }, SERVE_RATE, SERVE_MS);
  if (persister) await persister.close();
  // A change is on disk once a save that STARTED after it has ended.
  let lossMs = 0;
  for (const t of changes) {
    const held = saves.find((sv) => sv.start >= t);
    if (held) lossMs = Math.max(lossMs, held.end - t);
  }
  return { stallMs, lossMs: persister ? lossMs : NaN };
}
const LOOKUPS = 300_000;
const RUNS = 3;


function fillState(cs: ThreadChat[]): GatewayState {
  const s = new GatewayState(DEFAULT_SETTINGS);
  const now = Date.now();
  for (const c of cs) s.threads.resolve(c, { strategy: 'per-user', sessionMs: 0, now });
  return s;
}

function fillPlain(cs: ThreadChat[]): PlainMap {
  const p = new PlainMap();
  for (const c of cs) p.resolve(c);
  return p;
}

export async function runThreadStore(log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of SIZES) {
    const cs = chats(n);
    // Memory per thread: heap after filling, less the heap with only the input chats alive.
    const base = heapUsed();
    let state: GatewayState | undefined = fillState(cs);
    const stateBytes = (heapUsed() - base) / n;
    state = undefined;
    const base2 = heapUsed();
    let plain: PlainMap | undefined = fillPlain(cs);
    const plainBytes = (heapUsed() - base2) / n;
    plain = undefined;
    void state;
    void plain;
    rows.push(row('thread store', `${n.toLocaleString('en-US')} threads`, 'memory per thread', 'bytes', stateBytes, plainBytes, n === 1_000_000 ? '< 300' : undefined));

    // Throughput of resolve on a full map (existing threads: the common case), alternating runs.
    const s = fillState(cs);
    const p = fillPlain(cs);
    const now = Date.now();
    const subject: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const a = timeMs(() => {
        for (let i = 0; i < LOOKUPS; i++) s.threads.resolve(cs[(i * 7919) % n], { strategy: 'per-user', sessionMs: 0, now });
      });
      subject.push(LOOKUPS / (a.ms / 1000));
      const b = timeMs(() => {
        for (let i = 0; i < LOOKUPS; i++) p.resolve(cs[(i * 7919) % n]);
      });
      baseline.push(LOOKUPS / (b.ms / 1000));
    }
    rows.push(row('thread store', `${n.toLocaleString('en-US')} threads`, 'resolve', 'ops/s', median(subject), median(baseline), n === 1_000_000 ? '>= 500,000' : undefined));

    // Serving while persisting (the JSON file store, as the gateway runs it) beside the same loop without a store.
    const serveDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-bench-serve-'));
    heapUsed(); // a collection first, so neither run pays for the other's garbage
    const persisted = await serve((k) => s.threads.resolve(cs[(k * 7919) % n], { strategy: 'per-user', sessionMs: 0, now: Date.now() }), s, serveDir);
    heapUsed();
    const bare = await serve((k) => p.resolve(cs[(k * 7919) % n]), undefined, undefined);
    fs.rmSync(serveDir, { recursive: true, force: true });
    const label = `${n.toLocaleString('en-US')} threads, ${SERVE_RATE} msg/s, JSON file store`;
    rows.push(row('thread store', label, 'longest event-loop stall', 'ms', persisted.stallMs, bare.stallMs, n === 1_000_000 ? '< 50' : undefined));
    rows.push(row('thread store', label, 'longest a change waits for the disk (kill -9 loses)', 'ms', persisted.lossMs, null, n === 1_000_000 ? '< 1,000' : undefined));
    log(`thread store ${n}: done`);

    if (n === 1_000_000) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-bench-'));
      const file = path.join(dir, 'gateway.json');
      const store = new FileSnapshotStore(file);
      const save = await timeMsAsync(() => store.save(s.snapshot()));
      const plainFile = path.join(dir, 'plain.json');
      const plainSave = await timeMsAsync(async () => fs.promises.writeFile(plainFile, JSON.stringify(Array.from(p.m.entries()))));
      const load = await timeMsAsync(async () => {
        const restored = new GatewayState(DEFAULT_SETTINGS);
        restored.restore(await store.load());
        return restored.threads.size;
      });
      const plainLoad = await timeMsAsync(async () => new Map<string, string>(JSON.parse(await fs.promises.readFile(plainFile, 'utf8'))).size);
      if (load.value !== n) throw new Error(`loaded ${load.value} threads, expected ${n}`);
      const mb = fs.statSync(file).size / 1e6;
      rows.push(row('thread store', `1,000,000 threads (${mb.toFixed(0)} MB file)`, 'persist', 'ms', save.ms, plainSave.ms));
      rows.push(row('thread store', '1,000,000 threads', 'load on restart', 'ms', load.ms, plainLoad.ms, '< 3,000'));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  // The other backends at the same sizes, each beside its own plain-Map run.
  rows.push(...(await runEmbeddedStore(log, SIZES)));
  rows.push(...(await runRedisStore(log, SIZES)));
  return rows;
}
