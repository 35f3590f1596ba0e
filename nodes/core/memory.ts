/**
 * Per-thread conversation memory: the last turns of each thread, bounded by a turn count and a
 * character budget. Kept in the gateway store (persisted with the rest), cleared when the thread
 * resets or expires. One thread's history is only ever read by its own thread id.
 */
export interface MemoryTurn {
  role: 'user' | 'assistant';
  content: string;
  at: number;
}

export interface MemoryLimits {
  /** Exchanges kept (a user message and its reply are two entries, one turn). */
  maxTurns: number;
  /** Characters kept across the thread's history; oldest entries go first. */
  maxChars: number;
}

export const DEFAULT_MEMORY_LIMITS: MemoryLimits = { maxTurns: 20, maxChars: 24_000 };

export class ConversationMemory {
  private readonly byThread = new Map<string, MemoryTurn[]>();

  get size(): number {
    return this.byThread.size;
  }

  history(threadId: string): MemoryTurn[] {
    return (this.byThread.get(threadId) ?? []).map((t) => ({ ...t }));
  }

  append(threadId: string, turns: MemoryTurn[], limits: MemoryLimits = DEFAULT_MEMORY_LIMITS): void {
    const list = this.byThread.get(threadId) ?? [];
    list.push(...turns.map((t) => ({ role: t.role, content: String(t.content), at: t.at })));
    trim(list, limits);
    this.byThread.set(threadId, list);
  }

  clear(threadId: string): void {
    this.byThread.delete(threadId);
  }

  keys(): IterableIterator<string> {
    return this.byThread.keys();
  }

  has(threadId: string): boolean {
    return this.byThread.has(threadId);
  }

  /** The stored turns as they are (no copy), for a row store to write; undefined when none. */
  raw(threadId: string): readonly MemoryTurn[] | undefined {
    return this.byThread.get(threadId);
  }

  /** Takes turns read back from a row store (while warming up) unless this thread already has some. */
  absorb(threadId: string, value: unknown): void {
    if (this.byThread.has(threadId) || !Array.isArray(value)) return;
    const turns = (value as MemoryTurn[]).filter(
      (t) => t && (t.role === 'user' || t.role === 'assistant') && typeof t.content === 'string',
    );
    if (turns.length) this.byThread.set(threadId, turns);
  }

  snapshot(): Array<[string, MemoryTurn[]]> {
    return Array.from(this.byThread.entries());
  }

  restore(data: unknown): void {
    this.byThread.clear();
    if (!Array.isArray(data)) return;
    for (const item of data as unknown[]) {
      if (Array.isArray(item) && typeof item[0] === 'string') this.absorb(item[0], item[1]);
    }
  }
}

function trim(list: MemoryTurn[], limits: MemoryLimits): void {
  const maxEntries = Math.max(0, limits.maxTurns) * 2;
  if (list.length > maxEntries) list.splice(0, list.length - maxEntries);
  let chars = list.reduce((n, t) => n + t.content.length, 0);
  while (list.length && chars > limits.maxChars) chars -= list.shift()!.content.length;
  // A history never starts with a dangling assistant reply.
  while (list.length && list[0].role === 'assistant') list.shift();
}
