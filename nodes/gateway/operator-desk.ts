/**
 * The operator's desk of one gateway: the takeovers and the hand-off flags, a change event for the
 * sidebar and the admin API, the sweep that ends idle takeovers and flags, and a log line for
 * every takeover, hand-back and expiry. Kept in this process's memory only: a restart (or another
 * instance sharing a Redis store) sees every thread back with the agent.
 */
import { EventEmitter } from 'node:events';
import { HandoffBook, type Handoff, type HandoffRequest } from '../core/operator/handoff-book';
import { DEFAULT_TAKEOVER_IDLE_MS, TakeoverBook, type TakeoverChat, type Takeover, type TakeResult } from '../core/operator/takeover-book';

export type { Handoff, Takeover, TakeoverChat };

/** Why the agent does not answer a thread just now: what `msg.operator` carries on the "human" output. */
export interface HeldBack {
  state: 'takeover' | 'handoff';
  operator?: string;
  since: number;
}

export type DeskChange =
  | { kind: 'takeover' | 'handback' | 'expired'; threadId: string; operator: string }
  | { kind: 'handoff' | 'dismissed' | 'handoff-expired'; threadId: string };

export interface DeskOptions {
  log: (text: string) => void;
  idleMs?: number;
  now?: () => number;
  /** How often idle takeovers are looked for; default a quarter of the idle time, 1 s to 30 s. */
  sweepMs?: number;
}

export class OperatorDesk extends EventEmitter {
  private readonly takeovers: TakeoverBook;
  private readonly handoffs: HandoffBook;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: DeskOptions) {
    super();
    const idle = options.idleMs ?? DEFAULT_TAKEOVER_IDLE_MS;
    this.takeovers = new TakeoverBook(idle);
    this.handoffs = new HandoffBook(idle);
    this.now = options.now ?? Date.now;
    this.arm();
  }

  get idleMs(): number {
    return this.takeovers.idleMs;
  }

  /** The gateway's idle time (its `takeoverIdle` setting); 0 or less keeps the default. */
  setIdleMs(ms: number): void {
    const idle = ms > 0 ? ms : DEFAULT_TAKEOVER_IDLE_MS;
    this.takeovers.idleMs = idle;
    this.handoffs.idleMs = idle;
    this.arm();
  }

  take(threadId: string, operator: string, chat: TakeoverChat): TakeResult {
    this.sweep();
    const result = this.takeovers.take(threadId, operator, chat, this.now());
    if (!result.ok || result.already) return result;
    // Taking the thread answers its hand-off request.
    this.handoffs.clear(threadId);
    this.options.log(`takeover of thread ${threadId} (${chat.chatJid}) by ${operator}`);
    this.changed({ kind: 'takeover', threadId, operator });
    return result;
  }

  /** Hands the thread back to the agent: 'ok', 'none' (not taken over) or the holder's name. */
  handBack(threadId: string, operator: string): 'ok' | 'none' | { heldBy: string } {
    const held = this.takeover(threadId);
    if (!held) return 'none';
    if (held.operator !== operator) return { heldBy: held.operator };
    this.takeovers.handBack(threadId);
    this.options.log(`thread ${threadId} handed back to the agent by ${operator}`);
    this.changed({ kind: 'handback', threadId, operator });
    return 'ok';
  }

  takeover(threadId: string): Takeover | undefined {
    this.sweep();
    return this.takeovers.get(threadId, this.now());
  }

  flag(threadId: string, request: HandoffRequest, chat: TakeoverChat): Handoff {
    const flag = this.handoffs.flag(threadId, request, chat, this.now());
    this.options.log(`hand-off requested for thread ${threadId} (${chat.chatJid}) by the ${request.source}${flag.reason ? `: ${flag.reason}` : ''}`);
    this.changed({ kind: 'handoff', threadId });
    return flag;
  }

  handoff(threadId: string): Handoff | undefined {
    this.sweep();
    return this.handoffs.get(threadId, this.now());
  }

  dismiss(threadId: string): boolean {
    if (!this.handoff(threadId) || !this.handoffs.clear(threadId)) return false;
    this.options.log(`hand-off request of thread ${threadId} dismissed`);
    this.changed({ kind: 'dismissed', threadId });
    return true;
  }

  /** Whether the agent is held back from the thread, and why; undefined when it answers. */
  heldBack(threadId: string): HeldBack | undefined {
    const t = this.takeover(threadId);
    if (t) return { state: 'takeover', operator: t.operator, since: t.since };
    const f = this.handoffs.get(threadId, this.now());
    return f ? { state: 'handoff', since: f.at } : undefined;
  }

  /** A message in or out of the thread: its idle time starts again. */
  touch(threadId: string): void {
    const now = this.now();
    this.takeovers.touch(threadId, now);
    this.handoffs.touch(threadId, now);
  }

  list(): { idleMinutes: number; takeovers: Takeover[]; handoffs: Array<Omit<Handoff, 'lastActivity'>> } {
    this.sweep();
    const now = this.now();
    return {
      idleMinutes: this.idleMs / 60_000,
      takeovers: this.takeovers.list(now),
      handoffs: this.handoffs.list(now).map(({ lastActivity: _l, ...f }) => f),
    };
  }

  /** Ends what was idle past its time, with a log line and a change event for each. */
  sweep(): void {
    const now = this.now();
    for (const t of this.takeovers.expire(now)) {
      this.options.log(`takeover of thread ${t.threadId} by ${t.operator} expired after ${Math.round(this.idleMs / 60_000)} min idle; the agent answers again`);
      this.changed({ kind: 'expired', threadId: t.threadId, operator: t.operator });
    }
    for (const f of this.handoffs.expire(now)) {
      this.options.log(`hand-off request of thread ${f.threadId} expired after ${Math.round(this.idleMs / 60_000)} min unanswered; the agent answers again`);
      this.changed({ kind: 'handoff-expired', threadId: f.threadId });
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.removeAllListeners();
  }

  private arm(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    const every = this.options.sweepMs ?? Math.min(30_000, Math.max(1000, Math.round(this.idleMs / 4)));
    this.timer = setInterval(() => this.sweep(), every);
    this.timer.unref?.();
  }

  private changed(change: DeskChange): void {
    this.emit('change', change);
  }
}
