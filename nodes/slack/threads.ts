/**
 * The threads the bot takes part in, per app: a thread it was mentioned in, or one it replied in.
 * The slack in node passes on replies in these threads without a mention, the way a person in a
 * thread is answered without being named each time. Kept in memory, most recent last, bounded; a
 * restart forgets them (a mention brings a thread back), which errs on the side of answering less.
 */

export const MAX_THREADS = 10_000;

export class ThreadMemory {
  private readonly threads = new Map<string, true>();

  constructor(private readonly max = MAX_THREADS) {}

  note(channel: string, threadTs: string): void {
    const key = `${channel}/${threadTs}`;
    this.threads.delete(key);
    this.threads.set(key, true);
    if (this.threads.size > this.max) this.threads.delete(this.threads.keys().next().value as string);
  }

  has(channel: string, threadTs: string): boolean {
    return this.threads.has(`${channel}/${threadTs}`);
  }

  get size(): number {
    return this.threads.size;
  }
}
