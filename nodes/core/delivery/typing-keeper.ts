/**
 * Keeps a chat's "typing…" indicator on while the agent works. Telegram shows it for about 5 s per
 * sendChatAction, so it is refreshed every 4 s; it stops when told, when a reply for the chat is
 * sent (the platform hides the indicator then anyway, and a refresh would bring it back under the
 * reply), or after a maximum duration, so a lost reply never leaves a chat "typing" forever.
 */
import { systemClock, type Clock, type TimerHandle } from './clock';
import { guard } from '../guard';

export const DEFAULT_TYPING_INTERVAL_MS = 4000;
export const DEFAULT_TYPING_MAX_MS = 2 * 60 * 1000;

export type SendTyping = () => Promise<unknown> | void;

export interface TypingKeeperOptions {
  /** Used when `start` gets no function of its own. */
  sendTyping?: (chatKey: string) => Promise<unknown> | void;
  intervalMs?: number;
  maxMs?: number;
  /** A failed indicator is cosmetic: reported here, never thrown. */
  onError?: (error: unknown, chatKey: string) => void;
  clock?: Clock;
}

interface Typing {
  send: SendTyping;
  timer: TimerHandle | undefined;
  until: number;
  inFlight: boolean;
}

export class TypingKeeper {
  private readonly chats = new Map<string, Typing>();
  private readonly intervalMs: number;
  private readonly maxMs: number;
  private readonly clock: Clock;
  /** The caller's handler, made unable to throw: it runs inside a rejection handler. */
  private readonly onError: (error: unknown, chatKey: string) => void;

  constructor(private readonly opts: TypingKeeperOptions = {}) {
    this.onError = guard(opts.onError);
    this.intervalMs = Math.max(1, opts.intervalMs ?? DEFAULT_TYPING_INTERVAL_MS);
    this.maxMs = Math.max(0, opts.maxMs ?? DEFAULT_TYPING_MAX_MS);
    this.clock = opts.clock ?? systemClock;
  }

  /** Shows the indicator now and keeps it on; a second start for an active chat only extends it. */
  start(chatKey: string, sendTyping?: SendTyping): void {
    const send = sendTyping ?? (this.opts.sendTyping ? () => this.opts.sendTyping?.(chatKey) : undefined);
    if (!send) throw new Error('TypingKeeper.start: no sendTyping function for this chat');
    const until = this.clock.now() + this.maxMs;
    const active = this.chats.get(chatKey);
    if (active) {
      active.send = send;
      active.until = until;
      return;
    }
    const typing: Typing = { send, timer: undefined, until, inFlight: false };
    this.chats.set(chatKey, typing);
    this.tick(chatKey, typing);
  }

  stop(chatKey: string): void {
    const typing = this.chats.get(chatKey);
    if (!typing) return;
    if (typing.timer !== undefined) this.clock.clearTimeout(typing.timer);
    this.chats.delete(chatKey);
  }

  /** Call when a reply for the chat has been sent. */
  replied(chatKey: string): void {
    this.stop(chatKey);
  }

  isActive(chatKey: string): boolean {
    return this.chats.has(chatKey);
  }

  get size(): number {
    return this.chats.size;
  }

  close(): void {
    for (const chatKey of [...this.chats.keys()]) this.stop(chatKey);
  }

  private tick(chatKey: string, typing: Typing): void {
    if (this.chats.get(chatKey) !== typing) return;
    const now = this.clock.now();
    if (now >= typing.until && typing.timer !== undefined) {
      this.stop(chatKey);
      return;
    }
    // A slow sendChatAction is not stacked with another one.
    if (!typing.inFlight) this.send(chatKey, typing);
    const next = Math.min(this.intervalMs, Math.max(0, typing.until - now));
    typing.timer = this.clock.setTimeout(() => this.tick(chatKey, typing), next);
  }

  private send(chatKey: string, typing: Typing): void {
    typing.inFlight = true;
    let result: Promise<unknown> | void;
    try {
      result = typing.send();
    } catch (error) {
      typing.inFlight = false;
      this.onError(error, chatKey);
      return;
    }
    Promise.resolve(result).then(
      () => {
        typing.inFlight = false;
      },
      (error: unknown) => {
        typing.inFlight = false;
        this.onError(error, chatKey);
      },
    );
  }
}
