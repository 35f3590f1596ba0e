/**
 * Where the gateway's state lives between restarts: a snapshot written atomically to a file in the
 * Node-RED user directory (default), or kept in a named Node-RED context store.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { guard } from './guard';

export interface SnapshotStore {
  readonly description: string;
  /** The stored snapshot, undefined when there is none; DamagedStoreError when it cannot be parsed. */
  load(): Promise<unknown | undefined>;
  save(snapshot: unknown): Promise<void>;
  /** Moves what is stored out of the way under a new name, so the next save cannot overwrite it; says where. */
  setAside(label: string): Promise<string>;
  /** Copies what is stored under a new name (before a migrated snapshot replaces it); says where. */
  keepCopy(label: string): Promise<string>;
}

/** The store holds something, but not a readable snapshot (truncated, not JSON). */
export class DamagedStoreError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'DamagedStoreError';
  }
}

/** A file-name-safe time: 2026-12-01T17-05-00-123Z. */
function stamp(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

export class FileSnapshotStore implements SnapshotStore {
  private seq = 0;
  constructor(public readonly file: string) {}

  get description(): string {
    return `file ${this.file}`;
  }

  async load(): Promise<unknown | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new DamagedStoreError(`${this.file} is not JSON (${text.length} bytes): ${(err as Error).message}`);
    }
  }

  /** `gateway-x.json` -> `gateway-x.damaged-2026-12-01T17-05-00-123Z.json`, renamed (atomic, same directory). */
  async setAside(label: string): Promise<string> {
    const aside = this.sibling(`${label}-${stamp()}`);
    await fs.rename(this.file, aside);
    return aside;
  }

  async keepCopy(label: string): Promise<string> {
    const copy = this.sibling(label);
    await fs.copyFile(this.file, copy);
    return copy;
  }

  private sibling(label: string): string {
    const ext = path.extname(this.file);
    return `${this.file.slice(0, this.file.length - ext.length)}.${label}${ext}`;
  }

  /** Write to a temporary file, fsync, then rename: a crash leaves the old or the new file, never half of one. */
  async save(snapshot: unknown): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${++this.seq}.tmp`;
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(snapshot));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, this.file);
  }
}

/** Adapter over any async get/set pair by key (a Node-RED context store). */
export class CallbackSnapshotStore implements SnapshotStore {
  constructor(
    public readonly description: string,
    private readonly key: string,
    private readonly get: (key: string) => Promise<unknown | undefined>,
    private readonly set: (key: string, value: unknown) => Promise<void>,
  ) {}
  load(): Promise<unknown | undefined> {
    return this.get(this.key);
  }
  save(snapshot: unknown): Promise<void> {
    return this.set(this.key, snapshot);
  }
  /** The value is copied under `<key>_<label>_<time>`; the next save replaces the original key. */
  async setAside(label: string): Promise<string> {
    return this.keepCopy(`${label}_${stamp()}`);
  }
  async keepCopy(label: string): Promise<string> {
    const key = `${this.key}_${label.replace(/[^A-Za-z0-9_]/g, '_')}`;
    await this.set(key, await this.get(this.key));
    return key;
  }
}

/**
 * Coalesces changes into at most one write per `delayMs` (longer for a store that is slow to save),
 * never two writes at once, and a final flush on close. With the default delay a hard kill loses
 * at most the last half second of a store of ordinary size.
 */
export class Persister {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private closed = false;
  private held = false;
  /** How long the last snapshot took to build and write (ms). */
  lastSaveMs = 0;
  lastError: Error | undefined;

  constructor(
    private readonly store: Pick<SnapshotStore, 'save'> & Partial<SnapshotStore>,
    private readonly snapshot: () => unknown,
    private readonly delayMs = 500,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** Never writes again (a store that could not be read must not be overwritten). */
  hold(): void {
    this.held = true;
  }

  markDirty(): void {
    this.dirty = true;
    if (this.timer || this.closed || this.held) return;
    // A huge store (a million threads) takes seconds to serialise, and serialising blocks the event
    // loop: wait at least nine times as long as the last save took, so saving never takes more than
    // a tenth of the time. Small stores keep the half-second bound.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, Math.max(this.delayMs, this.lastSaveMs * 9));
    this.timer.unref?.();
  }

  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.writing = this.writing.then(async () => {
      if (!this.dirty || this.held) return;
      this.dirty = false;
      try {
        const started = Date.now();
        await this.store.save(this.snapshot());
        this.lastSaveMs = Date.now() - started;
        this.lastError = undefined;
      } catch (err) {
        this.dirty = true;
        this.lastError = err as Error;
        // The handler runs on a timer's promise that nobody awaits: it must not throw.
        guard(this.onError)(err as Error);
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
