/**
 * Writes what changed to a row store: the keys that changed since the last write (their values
 * read at write time, so ten changes of one thread are one row) and the history entries appended,
 * in one transaction every `delayMs` (100 ms: a hard kill loses at most that much). A write holds
 * at most `maxRows` rows, so a huge backlog (an import, a sweep of a million threads) is written
 * in slices on later ticks and never stalls the event loop for long.
 */
import { guard } from '../guard';
import type { RowBackend } from './row-backend';
import { TABLES, type HistoryEntry, type RowChange, type Table } from './rows';

export interface RowSource {
  /** The current value of a row; undefined when it was deleted. */
  row(table: Table, key: string): unknown | undefined;
}

export class RowPersister {
  /**
   * Keys changed since the last write, per table, in the order they changed. An array push is all
   * a message pays (a Set would hash every key on the hot path); repeats fold at write time.
   */
  private dirty: Record<Table, string[]> = emptyKeys();
  private history: HistoryEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private held = false;
  /** How long the last write took (ms), for the benchmark and the admin API. */
  lastWriteMs = 0;
  lastError: Error | undefined;
  /** Rows and entries written since start. */
  written = 0;

  constructor(
    private readonly backend: Pick<RowBackend, 'write'>,
    private readonly source: RowSource,
    private readonly delayMs = 100,
    private readonly onError: (err: Error) => void = () => {},
    private readonly maxRows = 5000,
  ) {}

  get pending(): number {
    let n = this.history.length;
    for (const t of TABLES) n += this.dirty[t].length;
    return n;
  }

  mark(table: Table, key: string): void {
    this.dirty[table].push(key);
    if (this.timer === undefined) this.schedule(this.delayMs);
  }

  addHistory(entry: HistoryEntry): void {
    this.history.push(entry);
    this.schedule(this.delayMs);
  }

  /** Never writes again (a store that must not be written over). */
  hold(): void {
    this.held = true;
    this.cancel();
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed || this.held) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      guard(() => this.writeSlice())();
    }, ms);
    this.timer.unref?.();
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Writes one slice; schedules the next at once when more is waiting. Returns false on a failed write. */
  private writeSlice(): boolean {
    if (this.held || this.pending === 0) return true;
    const changes: RowChange[] = [];
    const rest = emptyKeys();
    for (const table of TABLES) {
      const keys = this.dirty[table];
      if (!keys.length) continue;
      const seen = new Set<string>();
      let i = 0;
      for (; i < keys.length && changes.length < this.maxRows; i++) {
        const key = keys[i];
        if (seen.has(key)) continue;
        seen.add(key);
        const value = this.source.row(table, key);
        changes.push(value === undefined ? { table, key } : { table, key, value });
      }
      // What did not fit waits for the next slice (a repeat of a key written now is written again: harmless).
      if (i < keys.length) rest[table] = keys.slice(i);
    }
    const room = Math.max(0, this.maxRows - changes.length);
    const entries = this.history.length <= room ? this.history : this.history.slice(0, room);
    const started = performance.now();
    try {
      this.backend.write(changes, entries);
    } catch (err) {
      // Nothing of the slice was kept (one transaction): it stays dirty and is tried again later.
      this.lastError = err as Error;
      guard(this.onError)(err as Error);
      this.schedule(Math.max(1000, this.delayMs));
      return false;
    }
    this.lastWriteMs = performance.now() - started;
    this.lastError = undefined;
    this.written += changes.length + entries.length;
    this.dirty = rest;
    this.history = entries === this.history ? [] : this.history.slice(entries.length);
    // A backlog goes on in slices, each on its own tick, so messages are served in between.
    if (this.pending > 0) {
      this.cancel();
      this.timer = setTimeout(() => {
        this.timer = undefined;
        guard(() => this.writeSlice())();
      }, 0);
      this.timer.unref?.();
    }
    return true;
  }

  /** Resolves once nothing waits to be written (polled: an import's end, not a hot path). */
  async drained(): Promise<void> {
    while (this.pending > 0 && !this.closed && !this.held) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /** Writes everything waiting now (close, a read of the history that must see every entry). */
  flush(): void {
    this.cancel();
    while (this.pending > 0 && !this.held) {
      if (!this.writeSlice()) return;
    }
    this.cancel();
  }

  close(): void {
    this.flush();
    this.closed = true;
    this.cancel();
  }
}

function emptyKeys(): Record<Table, string[]> {
  return { threads: [], listeners: [], dedupe: [], allowlists: [], memory: [], turns: [] };
}
