/**
 * The open streams of one out node: for each stream id, the view that shows it (the kit's
 * StreamEditor, or a platform's own native stream), the address it goes to, the last part's
 * sequence number (a part overtaken by a later one is skipped) and when it was last seen (a stream
 * left without its final part is forgotten after an idle time, so a lost `done` never keeps a view
 * alive forever). Platform-neutral: every out node uses it.
 */

export const DEFAULT_STREAM_IDLE_MS = 10 * 60 * 1000;

/** What the book needs of a view: to be stopped for good. */
export interface Closable {
  close(): void;
}

export interface OpenStream<A, V extends Closable> {
  view: V;
  address: A;
  lastSeq: number;
  lastSeen: number;
}

export class StreamBook<A, V extends Closable> {
  private readonly streams = new Map<string, OpenStream<A, V>>();

  constructor(
    private readonly idleMs = DEFAULT_STREAM_IDLE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  get(id: string): OpenStream<A, V> | undefined {
    return this.streams.get(id);
  }

  /**
   * The stream a partial belongs to, opened with `open` when new; undefined when the part is stale
   * (its seq is not after the last one shown).
   */
  partial(id: string, seq: number, address: A, open: () => V): OpenStream<A, V> | undefined {
    const known = this.streams.get(id);
    if (known && seq <= known.lastSeq) return undefined;
    const s = known ?? { view: open(), address, lastSeq: -1, lastSeen: this.now() };
    if (!known) this.streams.set(id, s);
    s.lastSeq = seq;
    s.lastSeen = this.now();
    return s;
  }

  /** Removes and returns the stream its final part closes. */
  take(id: string): OpenStream<A, V> | undefined {
    const s = this.streams.get(id);
    this.streams.delete(id);
    return s;
  }

  /** Every open stream, by id (for a redeploy to hand them over). */
  open(): Array<[string, OpenStream<A, V>]> {
    return [...this.streams];
  }

  forgetIdle(): void {
    const cutoff = this.now() - this.idleMs;
    for (const [id, s] of this.streams) {
      if (s.lastSeen < cutoff) {
        s.view.close();
        this.streams.delete(id);
      }
    }
  }

  close(): void {
    for (const s of this.streams.values()) s.view.close();
    this.streams.clear();
  }
}
