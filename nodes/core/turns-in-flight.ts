/**
 * Agent turns accepted and not yet finished, kept in the gateway's store so that a crash cannot
 * lose one silently. An agent call writes a turn when it takes a message and deletes it when the
 * turn ends (answered, fallback, error output); a redeploy hands its turns to the next deploy's
 * node (they stay). What is still there when the same node of the same instance starts again was
 * cut by a crash (kill -9, a power cut): the agent call tells the chat and a Catch node, once.
 *
 * Keys are `<instance>/<node id>/<message id>`: several instances sharing a Redis store each see
 * only their own turns (another instance's live turns are not crashed ones). No NUL in them: the
 * SQLite binding cuts a text at one.
 */
import type { ReplyTo } from './envelope';

export interface TurnInFlight {
  /** The thread the turn belongs to. */
  threadId: string;
  /** The chat's JID, for the operator's error. */
  chatJid: string;
  /** Where the reply goes: the address fields of the message's replyTo (reply-listeners.ts). */
  replyTo: ReplyTo;
  /** The start of the user's text (for the notice that quotes it), at most QUOTE_CHARS. */
  text: string;
  /** When the turn was accepted (ms). */
  at: number;
  /** The process that took it (a random id per process): a turn of this very process is not a crash's. */
  proc?: string;
}

/** How much of the user's text a turn keeps: enough to quote, never a whole message. */
export const QUOTE_CHARS = 80;

export function turnKey(instance: string, nodeId: string, messageId: string): string {
  return `${instance}/${nodeId}/${messageId}`;
}

export function turnPrefix(instance: string, nodeId: string): string {
  return `${instance}/${nodeId}/`;
}

/** The instance and node of a key (undefined for a key of another shape). */
export function turnOwner(key: string): { instance: string; nodeId: string } | undefined {
  const a = key.indexOf('/');
  const b = a < 0 ? -1 : key.indexOf('/', a + 1);
  if (a <= 0 || b <= a + 1) return undefined;
  return { instance: key.slice(0, a), nodeId: key.slice(a + 1, b) };
}

/** A stored value read back as a turn, or undefined when it is not one (a foreign or damaged row). */
export function turnFrom(value: unknown): TurnInFlight | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const r = v.replyTo as Record<string, unknown> | undefined;
  if (typeof v.threadId !== 'string' || typeof v.chatJid !== 'string' || typeof v.text !== 'string' || typeof v.at !== 'number') return undefined;
  if (!r || typeof r !== 'object' || typeof r.platform !== 'string' || typeof r.channelId !== 'string' || typeof r.chatId !== 'string') return undefined;
  return { threadId: v.threadId, chatJid: v.chatJid, replyTo: r as unknown as ReplyTo, text: v.text.slice(0, QUOTE_CHARS), at: v.at, ...(typeof v.proc === 'string' ? { proc: v.proc } : {}) };
}

export class TurnsInFlight {
  private readonly byKey = new Map<string, TurnInFlight>();

  get size(): number {
    return this.byKey.size;
  }

  begin(key: string, turn: TurnInFlight): void {
    this.byKey.set(key, turn);
  }

  /** True when the turn was there. */
  end(key: string): boolean {
    return this.byKey.delete(key);
  }

  get(key: string): TurnInFlight | undefined {
    return this.byKey.get(key);
  }

  /** The turns whose keys start with `prefix` (one node of one instance), oldest first. */
  withPrefix(prefix: string): Array<[string, TurnInFlight]> {
    const found: Array<[string, TurnInFlight]> = [];
    for (const [k, t] of this.byKey) if (k.startsWith(prefix)) found.push([k, t]);
    return found.sort((a, b) => a[1].at - b[1].at);
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }

  /** Takes a row read back from a store, unless this key is held already. */
  absorb(key: string, value: unknown): void {
    if (this.byKey.has(key)) return;
    const t = turnFrom(value);
    if (t) this.byKey.set(key, t);
  }

  snapshot(): Array<[string, TurnInFlight]> {
    return Array.from(this.byKey.entries());
  }

  restore(data: unknown): void {
    this.byKey.clear();
    if (!Array.isArray(data)) return;
    for (const item of data as unknown[]) {
      if (Array.isArray(item) && typeof item[0] === 'string') this.absorb(item[0], item[1]);
    }
  }
}
