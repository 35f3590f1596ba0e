/**
 * Threads that asked for a person: flagged by the agent (a marker in its reply) or by a flow
 * (`msg.handoff`), and cleared when an operator takes the thread over, dismisses the flag, or the
 * thread stays quiet past the idle time. While flagged, the agent is held back from the thread.
 */
import type { TakeoverChat } from './takeover-book';

export type HandoffSource = 'agent' | 'flow';

export interface HandoffRequest {
  reason?: string;
  source: HandoffSource;
}

export interface Handoff extends TakeoverChat {
  threadId: string;
  reason?: string;
  source: HandoffSource;
  at: number;
  /** The last message of the thread since the flag; the idle time counts from here. */
  lastActivity: number;
}

/** Longest reason kept (it shows in the sidebar and travels in msg.handoff). */
export const MAX_REASON_CHARS = 500;

export class HandoffBook {
  private readonly flags = new Map<string, Handoff>();

  constructor(public idleMs: number) {}

  /** Flags the thread; a thread flagged again keeps its first time and takes the new reason. */
  flag(threadId: string, request: HandoffRequest, chat: TakeoverChat, now: number): Handoff {
    const reason = request.reason?.trim().slice(0, MAX_REASON_CHARS) || undefined;
    const before = this.get(threadId, now);
    const flag: Handoff = {
      threadId,
      ...chat,
      ...(reason ? { reason } : before?.reason ? { reason: before.reason } : {}),
      source: request.source,
      at: before?.at ?? now,
      lastActivity: now,
    };
    this.flags.set(threadId, flag);
    return { ...flag };
  }

  get(threadId: string, now: number): Handoff | undefined {
    const f = this.flags.get(threadId);
    return f && f.lastActivity + this.idleMs > now ? { ...f } : undefined;
  }

  clear(threadId: string): boolean {
    return this.flags.delete(threadId);
  }

  touch(threadId: string, now: number): void {
    const f = this.flags.get(threadId);
    if (f && f.lastActivity + this.idleMs > now) f.lastActivity = now;
  }

  /** Removes and returns the flags left unanswered past the idle time. */
  expire(now: number): Handoff[] {
    const gone: Handoff[] = [];
    for (const [id, f] of this.flags) {
      if (f.lastActivity + this.idleMs <= now) {
        this.flags.delete(id);
        gone.push(f);
      }
    }
    return gone;
  }

  /** Live flags, oldest first. */
  list(now: number): Handoff[] {
    return [...this.flags.values()].filter((f) => f.lastActivity + this.idleMs > now).map((f) => ({ ...f }));
  }
}
