/**
 * The embedded store (SQLite, node-sqlite3-wasm) beside a plain Map, at 10k, 100k and 1M threads,
 * with the pieces the gateway runs (GatewayState + RowPersister + the SQLite backend + warm-up):
 * resolve throughput with change tracking on (what every message pays), the longest event-loop
 * stall while serving 200 msg/s with commits every 100 ms (beside the same loop with no store),
 * the longest a change waits for its commit (what a kill -9 loses at most), and the time until a
 * reopened gateway answers its first message and until its working set is whole again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { GatewayState, DEFAULT_SETTINGS } from '../nodes/core/gateway-state';
import { RowPersister } from '../nodes/core/store/row-persister';
import type { RowBackend } from '../nodes/core/store/row-backend';
import { openSqliteBackend } from '../nodes/core/store/sqlite-backend';
import { warmUp } from '../nodes/core/store/warm-up';
import { chats, PlainMap, serveAtRate } from './thread-fixtures';
import { heapUsed, median, row, timeMs, type Row } from './lib';

const SERVE_MS = 6000;
const SERVE_RATE = 200;
const LOOKUPS = 300_000;
const RUNS = 3;


/** The gateway's embedded store without Node-RED: the state, its persister, the database. */
function attach(file: string, commits?: Array<{ start: number; end: number }>) {
  const backend = openSqliteBackend(file);
  const state = new GatewayState(DEFAULT_SETTINGS);
  const timed: RowBackend = Object.create(backend) as RowBackend;
  timed.write = (changes, history) => {
    const start = performance.now();
    backend.write(changes, history);
    commits?.push({ start, end: performance.now() });
  };
  const persister = new RowPersister(timed, state, 100);
  state.onChange = (table, key) => persister.mark(table, key);
  return { backend, state, persister };
}

async function serve(resolve: (i: number) => void, track: boolean): Promise<{ stallMs: number; changes: number[] }> {
  const changes: number[] = [];
  const stallMs = await serveAtRate((i) => {
    resolve(i);
    if (track) changes.push(performance.now());
  }, SERVE_RATE, SERVE_MS);
  return { stallMs, changes };
}

export async function runEmbeddedStore(log: (s: string) => void, sizes: number[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of sizes) {
    const label = `${n.toLocaleString('en-US')} threads, embedded (SQLite)`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-bench-sqlite-'));
    const file = path.join(dir, 'gateway.sqlite');
    const cs = chats(n);
    const commits: Array<{ start: number; end: number }> = [];
    let { backend, state, persister } = attach(file, commits);
    const now = Date.now();
    for (const c of cs) state.resolveThread(c, 'per-user', 0, false, now);
    const fill = timeMs(() => persister.flush());
    log(`embedded ${n}: ${n} rows written in ${Math.round(fill.ms)} ms`);
    const p = new PlainMap();
    for (const c of cs) p.resolve(c);

    // What every message pays: the resolve with its change tracked for the next commit.
    const subject: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const a = timeMs(() => {
        for (let i = 0; i < LOOKUPS; i++) state.resolveThread(cs[(i * 7919) % n], 'per-user', 0, false, now);
      });
      subject.push(LOOKUPS / (a.ms / 1000));
      persister.flush();
      const b = timeMs(() => {
        for (let i = 0; i < LOOKUPS; i++) p.resolve(cs[(i * 7919) % n]);
      });
      baseline.push(LOOKUPS / (b.ms / 1000));
    }
    rows.push(row('thread store', label, 'resolve (changes tracked for the commit)', 'ops/s', median(subject), median(baseline), n === 1_000_000 ? '>= 0.8x' : undefined));

    // Serving with commits every 100 ms, beside the same loop with no store.
    commits.length = 0;
    heapUsed();
    const served = await serve((k) => state.resolveThread(cs[(k * 7919) % n], 'per-user', 0, false, Date.now()), true);
    persister.flush();
    heapUsed();
    const bare = await serve((k) => p.resolve(cs[(k * 7919) % n]), false);
    let lossMs = 0;
    for (const t of served.changes) {
      const held = commits.find((c) => c.start >= t);
      if (held) lossMs = Math.max(lossMs, held.end - t);
    }
    const serveLabel = `${label}, ${SERVE_RATE} msg/s`;
    rows.push(row('thread store', serveLabel, 'longest event-loop stall', 'ms', served.stallMs, bare.stallMs, n === 1_000_000 ? '< 50' : undefined));
    rows.push(row('thread store', serveLabel, 'longest a change waits for its commit (kill -9 loses)', 'ms', lossMs, null, n === 1_000_000 ? '<= 1,000' : undefined));

    // A restart: open, allowlists, then the first message answered while the rest warms up behind.
    persister.close();
    backend.close();
    const t0 = performance.now();
    ({ backend, state, persister } = attach(file));
    for (const [key, value] of backend.scan('allowlists', '', 100_000)) state.absorbRow('allowlists', key, value);
    const warmed = warmUp(backend, state, { skip: ['allowlists'] });
    state.beginWarmUp(backend, warmed);
    const first = state.resolveThread(cs[n - 1], 'per-user', 0, false, Date.now());
    const firstMs = performance.now() - t0;
    if (first.isNew) throw new Error('the first message after the restart did not find its thread');
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const loaded = await warmed;
    await state.whenWarm();
    h.disable();
    const wholeMs = performance.now() - t0;
    if (state.threads.size !== n) throw new Error(`warmed up ${state.threads.size} of ${n} threads (${loaded} rows)`);
    rows.push(row('thread store', label, 'restart: first message answered', 'ms', firstMs, null, n === 1_000_000 ? '< 1,000' : undefined));
    rows.push(row('thread store', label, 'restart: working set whole again', 'ms', wholeMs, null));
    rows.push(row('thread store', label, 'restart: longest stall while warming up', 'ms', h.max / 1e6, bare.stallMs, n === 1_000_000 ? '< 50' : undefined));
    persister.close();
    backend.close();
    rows.push(row('thread store', label, 'database file', 'MB', fs.statSync(file).size / 1e6, null));
    fs.rmSync(dir, { recursive: true, force: true });
    log(`embedded ${n}: done`);
  }
  return rows;
}
