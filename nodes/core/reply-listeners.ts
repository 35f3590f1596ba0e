/**
 * Reply listeners: each inbound message leaves its reply address under its thread id for a while,
 * so a reply that only knows `msg.thread.id` (an agent answering later, a human operator) still
 * finds the chat it belongs to.
 */
import { MAX_ID_LENGTH, type ReplyTo } from './envelope';

export interface Listener {
  address: ReplyTo;
  expiresAt: number;
}

/**
 * The reply address as a listener keeps it: the address fields, and of the rest only short strings
 * (the platforms' own fields, such as Slack's teamId, are ids). `msg.chat.replyTo` comes from the
 * flow and may carry anything; a cycle, a BigInt or megabytes of text would go into the store with
 * the listener, and a value JSON cannot write fails every later write of the store.
 */
export function listenerAddress(address: ReplyTo): ReplyTo {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(address)) if (typeof v === 'string' && v.length <= MAX_ID_LENGTH) kept[k] = v;
  // Read, not copied: the schema reads inherited fields too (an address that is a class instance).
  const { platform, channelId, chatId, userId, threadId, messageId } = address;
  return { ...kept, platform, channelId, chatId, userId, ...(threadId !== undefined ? { threadId } : {}), ...(messageId !== undefined ? { messageId } : {}) };
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

  /** The stored listener (expired or not), for a row store to write. */
  get(threadId: string): Listener | undefined {
    return this.byThread.get(threadId);
  }

  keys(): IterableIterator<string> {
    return this.byThread.keys();
  }

  has(threadId: string): boolean {
    return this.byThread.has(threadId);
  }

  /** Takes a listener read back from a row store (while warming up) unless one is already held. */
  absorb(threadId: string, value: unknown): void {
    if (this.byThread.has(threadId)) return;
    const l = value as Listener | undefined;
    if (!l || typeof l.expiresAt !== 'number' || !l.address || typeof l.address.chatId !== 'string') return;
    this.byThread.set(threadId, { address: l.address, expiresAt: l.expiresAt });
  }

  /** Drops listeners long expired; `removed` hears each one (a row store deletes it). */
  sweep(now: number, removed?: (threadId: string) => void): number {
    let count = 0;
    for (const [id, l] of this.byThread) {
      if (now - l.expiresAt > this.ttlMs) {
        this.byThread.delete(id);
        removed?.(id);
        count++;
      }
    }
    return count;
  }

  snapshot(): Array<[string, Listener]> {
    return Array.from(this.byThread.entries());
  }

  restore(entries: unknown): void {
    this.byThread.clear();
    if (!Array.isArray(entries)) return;
    for (const e of entries as unknown[]) {
      if (Array.isArray(e) && typeof e[0] === 'string') this.absorb(e[0], e[1]);
    }
  }
}
