/**
 * Reply listeners: each inbound message leaves its reply address under its thread id for a while,
 * so a reply that only knows `msg.thread.id` (an agent answering later, a human operator) still
 * finds the chat it belongs to.
 */
import type { ReplyTo } from './envelope';

interface Listener {
  address: ReplyTo;
  expiresAt: number;
}

export type ListenerLookup =
  | { ok: true; address: ReplyTo; expiresAt: number }
  | { ok: false; reason: 'expired' | 'unknown' };

export class ReplyListeners {
  private readonly byThread = new Map<string, Listener>();

  /** Expired listeners are remembered this much longer, only to tell "expired" from "unknown". */
  constructor(public ttlMs: number) {}

  get size(): number {
    return this.byThread.size;
  }

  register(threadId: string, address: ReplyTo, now: number, ttlMs = this.ttlMs): void {
    this.byThread.delete(threadId);
    this.byThread.set(threadId, { address, expiresAt: now + ttlMs });
  }

  lookup(threadId: string, now: number): ListenerLookup {
    const l = this.byThread.get(threadId);
    if (!l) return { ok: false, reason: 'unknown' };
    if (now > l.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, address: l.address, expiresAt: l.expiresAt };
  }

  /** Most recent live address of a chat, for sending to a chat JID with no thread at hand. */
  findByChat(platform: string, chatId: string, now: number): ReplyTo | undefined {
    let found: ReplyTo | undefined;
    for (const l of this.byThread.values()) {
      if (l.expiresAt >= now && l.address.platform === platform && l.address.chatId === chatId) found = l.address;
    }
    return found;
  }

  remove(threadId: string): void {
    this.byThread.delete(threadId);
  }

  sweep(now: number): number {
    let removed = 0;
    for (const [id, l] of this.byThread) {
      if (now - l.expiresAt > this.ttlMs) {
        this.byThread.delete(id);
        removed++;
      }
    }
    return removed;
  }

  snapshot(): Array<[string, Listener]> {
    return Array.from(this.byThread.entries());
  }

  restore(entries: unknown): void {
    this.byThread.clear();
    if (!Array.isArray(entries)) return;
    for (const e of entries as unknown[]) {
      if (!Array.isArray(e) || typeof e[0] !== 'string') continue;
      const l = e[1] as Listener | undefined;
      if (!l || typeof l.expiresAt !== 'number' || !l.address || typeof l.address.chatId !== 'string') continue;
      this.byThread.set(e[0], { address: l.address, expiresAt: l.expiresAt });
    }
  }
}
