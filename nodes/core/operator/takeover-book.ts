/**
 * Who holds which thread: an operator takes a thread over from the agent, every message in or
 * out touches the takeover, and one left idle past the idle time ends by itself. One holder per
 * thread; the clock is passed in, so the book is tested without timers.
 */
export interface TakeoverChat {
  chatJid: string;
  platform: string;
}

export interface Takeover extends TakeoverChat {
  threadId: string;
  operator: string;
  since: number;
  lastActivity: number;
  expiresAt: number;
}

export type TakeResult = { ok: true; takeover: Takeover; already: boolean } | { ok: false; operator: string };

export const DEFAULT_TAKEOVER_IDLE_MS = 30 * 60 * 1000;

export class TakeoverBook {
  private readonly held = new Map<string, Takeover>();

  constructor(public idleMs = DEFAULT_TAKEOVER_IDLE_MS) {}

  /** Takes the thread for `operator`; taking one's own thread again only touches it. */
  take(threadId: string, operator: string, chat: TakeoverChat, now: number): TakeResult {
    const current = this.get(threadId, now);
    if (current && current.operator !== operator) return { ok: false, operator: current.operator };
    if (current) return { ok: true, takeover: this.touch(threadId, now)!, already: true };
    const takeover: Takeover = { threadId, ...chat, operator, since: now, lastActivity: now, expiresAt: now + this.idleMs };
    this.held.set(threadId, takeover);
    return { ok: true, takeover: { ...takeover }, already: false };
  }

  /** The live takeover of a thread (an expired one is not: `expire` reports those). */
  get(threadId: string, now: number): Takeover | undefined {
    const t = this.held.get(threadId);
    return t && t.expiresAt > now ? { ...t } : undefined;
  }

  /** Ends the takeover; false when there was none. */
  handBack(threadId: string): boolean {
    return this.held.delete(threadId);
  }

  /** A message in or out of the thread: its idle time starts again. */
  touch(threadId: string, now: number): Takeover | undefined {
    const t = this.held.get(threadId);
    if (!t || t.expiresAt <= now) return undefined;
    t.lastActivity = now;
    t.expiresAt = now + this.idleMs;
    return { ...t };
  }

  /** Removes and returns the takeovers idle past their time. */
  expire(now: number): Takeover[] {
    const gone: Takeover[] = [];
    for (const [id, t] of this.held) {
      if (t.expiresAt <= now) {
        this.held.delete(id);
        gone.push(t);
      }
    }
    return gone;
  }

  /** Live takeovers, oldest first. */
  list(now: number): Takeover[] {
    return [...this.held.values()].filter((t) => t.expiresAt > now).map((t) => ({ ...t }));
  }

  get size(): number {
    return this.held.size;
  }
}
