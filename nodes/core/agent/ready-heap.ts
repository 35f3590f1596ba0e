/**
 * Threads ready to start a turn, oldest waiting message first: a binary min-heap on the sequence
 * number of each thread's first waiting message. The scheduler used to scan every thread for the
 * oldest on each start, which cost time in proportion to the threads held (14 µs a message at a
 * thousand users); a heap costs log n. Entries can go stale (the thread started or was closed
 * meanwhile); the scheduler checks each one it takes. The same heap, ordered otherwise, keeps the
 * scheduler's lanes (chats).
 */
export interface ReadyEntry {
  threadId: string;
  seq: number;
}

/** A binary min-heap: `before(a, b)` says a comes out first. */
export class Heap<E> {
  private readonly items: E[] = [];

  constructor(private readonly before: (a: E, b: E) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** The entry pop() would return, left in place. */
  peek(): E | undefined {
    return this.items[0];
  }

  push(entry: E): void {
    const a = this.items;
    a.push(entry);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i], a[parent])) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }

  pop(): E | undefined {
    const a = this.items;
    if (!a.length) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l], a[m])) m = l;
        if (r < a.length && this.before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

export class ReadyHeap extends Heap<ReadyEntry> {
  constructor() {
    super((a, b) => a.seq < b.seq);
  }
}
