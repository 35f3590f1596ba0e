/**
 * What an async HTTP agent was asked and has not answered yet, by thread: the user's texts, so the
 * exchange goes into memory when the callback comes. Bounded both ways — per thread and in
 * threads — because an agent that never calls back must not grow memory without end: past either
 * bound the oldest question goes (its answer, if it ever comes, is still delivered; only the
 * question is missing from memory).
 */
export const MAX_ASKS_PER_THREAD = 50;
export const MAX_ASKING_THREADS = 10_000;

export class PendingAsks {
  private readonly byThread = new Map<string, string[]>();

  constructor(
    private readonly perThread = MAX_ASKS_PER_THREAD,
    private readonly threads = MAX_ASKING_THREADS,
  ) {}

  /** Threads with a question waiting. */
  get size(): number {
    return this.byThread.size;
  }

  add(threadId: string, text: string): void {
    let list = this.byThread.get(threadId);
    if (!list) {
      // The thread asked longest ago (Map order is insertion order) makes room.
      if (this.byThread.size >= this.threads) this.byThread.delete(this.byThread.keys().next().value as string);
      this.byThread.set(threadId, (list = []));
    }
    list.push(text);
    if (list.length > this.perThread) list.shift();
  }

  has(threadId: string): boolean {
    return this.byThread.has(threadId);
  }

  /** The oldest question of the thread still waiting for its answer, taken out. */
  take(threadId: string): string | undefined {
    const list = this.byThread.get(threadId);
    const asked = list?.shift();
    if (list && !list.length) this.byThread.delete(threadId);
    return asked;
  }

  clear(): void {
    this.byThread.clear();
  }
}
