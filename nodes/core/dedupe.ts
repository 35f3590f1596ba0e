/**
 * Inbound de-duplication: platforms retry deliveries (Slack up to 3 times, Telegram after a failed
 * webhook), and a retried message must never be answered twice.
 */
import { composeKey } from './keys';

export function dedupeKey(platform: string, channelId: string, messageId: string): string {
  return composeKey([platform, channelId, messageId]);
}

export class DedupeWindow {
  /** key -> first seen (ms). Insertion order is time order, so sweeping stops at the first live entry. */
  private readonly seen = new Map<string, number>();

  constructor(public windowMs: number) {}

  get size(): number {
    return this.seen.size;
  }

  /** Records the key and says whether it was already seen inside the window. */
  checkAndRecord(key: string, now: number): boolean {
    const first = this.seen.get(key);
    if (first !== undefined && now - first <= this.windowMs) return true;
    this.seen.delete(key);
    this.seen.set(key, now);
    return false;
  }

  keys(): IterableIterator<string> {
    return this.seen.keys();
  }

  /** When the key was first seen, or undefined. */
  get(key: string): number | undefined {
    return this.seen.get(key);
  }

  /** Takes a key read back from a row store (while warming up) unless this window already holds it. */
  absorb(key: string, at: number): void {
    if (!this.seen.has(key)) this.seen.set(key, at);
  }

  /** Puts the keys back in time order (after a warm-up added old keys behind new ones), so sweep can stop early. */
  resort(): void {
    const entries = Array.from(this.seen.entries()).sort((a, b) => a[1] - b[1]);
    this.seen.clear();
    for (const [k, at] of entries) this.seen.set(k, at);
  }

  /** Drops keys past the window; `removed` hears each one (a row store deletes it). */
  sweep(now: number, removed?: (key: string) => void): number {
    let count = 0;
    for (const [key, at] of this.seen) {
      if (now - at <= this.windowMs) break;
      this.seen.delete(key);
      removed?.(key);
      count++;
    }
    return count;
  }

  snapshot(): Array<[string, number]> {
    return Array.from(this.seen.entries());
  }

  restore(entries: unknown): void {
    this.seen.clear();
    if (!Array.isArray(entries)) return;
    const valid = (entries as unknown[]).filter(
      (e): e is [string, number] => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number',
    );
    valid.sort((a, b) => a[1] - b[1]);
    for (const [k, at] of valid) this.seen.set(k, at);
  }
}
