/**
 * Pairing: an unknown sender gets a one-time code, the operator approves the code, and the sender
 * joins an allowlist. This is the book of pending codes, kept in process memory (a restart forgets
 * them; the sender just asks again, and the approved ones are on the allowlist, which is stored).
 *
 * A stranger must not be able to flood the operator or the chat through it: a sender with a live
 * code gets no new one (and a reminder of it at most once per `reminderMs`), a sender gets at most
 * `perSenderPerDay` codes in any 24 hours, and the book holds at most `maxPending` codes — when it
 * is full after the expired ones are gone, nobody gets a new code until some expire or are decided.
 * A code the book does not hold, or holds expired, is simply not found: nothing tells which.
 */
import { randomInt } from 'node:crypto';
import type { Platform, ReplyTo } from './envelope';

/** No 0/O, 1/I/L: a code read out over the phone or copied from a screenshot survives. */
export const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const CODE_LENGTH = 8;

export const PAIRING_DEFAULTS = {
  ttlMs: 60 * 60 * 1000,
  reminderMs: 10 * 60 * 1000,
  perSenderPerDay: 3,
  maxPending: 1000,
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Senders remembered for the daily limit; past this, those with no code and the oldest request go first. */
const MAX_SENDERS = 10_000;

export interface PairingOptions {
  ttlMs?: number;
  reminderMs?: number;
  perSenderPerDay?: number;
  maxPending?: number;
  now?: () => number;
  /** A whole number in [0, n); crypto.randomInt unless a test fixes it. */
  random?: (n: number) => number;
}

export interface PairingSender {
  /** The JID that joins the list on approval. */
  jid: string;
  platform: Platform;
  /** The allowlist the sender joins. */
  list: string;
  userName?: string;
  /** Where the code was sent, so whoever approves may tell the sender. */
  replyTo?: ReplyTo;
  /** What the sender is told once approved (the filter's setting). */
  welcome?: string;
}

export interface PairingRequest extends PairingSender {
  /** Shown form, `ABCD-EFGH`. */
  code: string;
  requestedAt: number;
  expiresAt: number;
}

/** What a sender's message earns: a new code, a reminder of the live one, or nothing to say. */
export type PairingAnswer = { kind: 'new'; code: string; expiresAt: number } | { kind: 'reminder'; code: string; expiresAt: number } | { kind: 'quiet' };

interface SenderRecord {
  /** When codes were issued in the last 24 hours, oldest first. */
  issued: number[];
  /** The live code's key, if any. */
  code?: string;
  /** When the sender was last told their code (issued or reminded). */
  toldAt: number;
}

/** `abcd-efgh`, `ABCDEFGH`, ` abcd efgh ` → `ABCDEFGH`; anything that is not a code → undefined. */
export function normalizeCode(input: string): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const bare = input.toUpperCase().replace(/[\s-]/g, '');
  if (bare.length !== CODE_LENGTH) return undefined;
  for (const ch of bare) if (!CODE_ALPHABET.includes(ch)) return undefined;
  return bare;
}

export function formatCode(bare: string): string {
  return `${bare.slice(0, 4)}-${bare.slice(4)}`;
}

function senderKey(list: string, jid: string): string {
  return `${list}\n${jid}`;
}

export class PairingBook {
  /** The clock; a test moves it. */
  now: () => number;
  private ttlMs: number;
  private readonly reminderMs: number;
  private perSenderPerDay: number;
  private readonly maxPending: number;
  private readonly random: (n: number) => number;
  /** Pending codes by bare code, in the order issued (a Map keeps insertion order). */
  private readonly pending = new Map<string, PairingRequest>();
  private readonly senders = new Map<string, SenderRecord>();

  constructor(opts: PairingOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? PAIRING_DEFAULTS.ttlMs;
    this.reminderMs = opts.reminderMs ?? PAIRING_DEFAULTS.reminderMs;
    this.perSenderPerDay = opts.perSenderPerDay ?? PAIRING_DEFAULTS.perSenderPerDay;
    this.maxPending = opts.maxPending ?? PAIRING_DEFAULTS.maxPending;
    this.random = opts.random ?? randomInt;
  }

  /**
   * The gateway's settings: how long a code lives and how many codes a sender gets a day.
   * Codes already issued keep their expiry; an undefined value keeps the current one.
   */
  setLimits(limits: { ttlMs?: number; perSenderPerDay?: number }): void {
    if (limits.ttlMs !== undefined && limits.ttlMs > 0) this.ttlMs = limits.ttlMs;
    if (limits.perSenderPerDay !== undefined && limits.perSenderPerDay >= 1) this.perSenderPerDay = Math.floor(limits.perSenderPerDay);
  }

  get limits(): { ttlMs: number; perSenderPerDay: number } {
    return { ttlMs: this.ttlMs, perSenderPerDay: this.perSenderPerDay };
  }

  /** A message from a sender who is not on the list: what, if anything, to tell them. */
  request(sender: PairingSender): PairingAnswer {
    const now = this.now();
    this.sweep(now);
    const key = senderKey(sender.list, sender.jid);
    const rec = this.senders.get(key) ?? { issued: [], toldAt: -Infinity };
    rec.issued = rec.issued.filter((t) => t > now - DAY_MS);
    const live = rec.code ? this.pending.get(rec.code) : undefined;
    if (live) {
      if (now - rec.toldAt < this.reminderMs) return { kind: 'quiet' };
      rec.toldAt = now;
      return { kind: 'reminder', code: live.code, expiresAt: live.expiresAt };
    }
    delete rec.code;
    if (rec.issued.length >= this.perSenderPerDay || this.pending.size >= this.maxPending) {
      this.remember(key, rec);
      return { kind: 'quiet' };
    }
    const bare = this.freshCode();
    const request: PairingRequest = {
      code: formatCode(bare),
      jid: sender.jid,
      platform: sender.platform,
      list: sender.list,
      ...(sender.userName ? { userName: sender.userName } : {}),
      ...(sender.replyTo ? { replyTo: sender.replyTo } : {}),
      ...(sender.welcome ? { welcome: sender.welcome } : {}),
      requestedAt: now,
      expiresAt: now + this.ttlMs,
    };
    this.pending.set(bare, request);
    rec.issued.push(now);
    rec.code = bare;
    rec.toldAt = now;
    this.remember(key, rec);
    return { kind: 'new', code: request.code, expiresAt: request.expiresAt };
  }

  /** The live request a code names (any case, dash optional), or undefined. */
  get(code: string): PairingRequest | undefined {
    const bare = normalizeCode(code);
    if (!bare) return undefined;
    const r = this.pending.get(bare);
    if (!r) return undefined;
    if (r.expiresAt <= this.now()) {
      this.drop(bare);
      return undefined;
    }
    return r;
  }

  /** Takes a live code out of the book and returns its request; the caller adds the sender to the list. */
  approve(code: string): PairingRequest | undefined {
    const r = this.get(code);
    if (r) this.drop(normalizeCode(code)!);
    return r;
  }

  /** Takes a code out of the book without letting anyone in; false when there was no live code. */
  deny(code: string): boolean {
    const r = this.get(code);
    if (r) this.drop(normalizeCode(code)!);
    return !!r;
  }

  /** Live requests, newest first. */
  list(): PairingRequest[] {
    this.sweep(this.now());
    return Array.from(this.pending.values()).reverse();
  }

  get size(): number {
    return this.pending.size;
  }

  /** Forgets expired codes. The daily count stays with the sender: a denied or expired code still counts. */
  sweep(now = this.now()): void {
    // A full scan (at most maxPending): a clock that steps back must not keep an expired code alive.
    for (const [bare, r] of this.pending) if (r.expiresAt <= now) this.drop(bare);
  }

  private drop(bare: string): void {
    const r = this.pending.get(bare);
    if (!r) return;
    this.pending.delete(bare);
    const rec = this.senders.get(senderKey(r.list, r.jid));
    if (rec?.code === bare) delete rec.code;
  }

  private remember(key: string, rec: SenderRecord): void {
    this.senders.delete(key);
    this.senders.set(key, rec);
    if (this.senders.size <= MAX_SENDERS) return;
    // The least recently seen sender without a live code goes (its daily count with it).
    for (const [k, r] of this.senders) {
      if (this.senders.size <= MAX_SENDERS) break;
      if (!r.code) this.senders.delete(k);
    }
  }

  private freshCode(): string {
    // 31^8 codes against at most maxPending live ones: a clash is rare, a hundred in a row is a broken random.
    for (let attempt = 0; attempt < 100; attempt++) {
      let bare = '';
      for (let i = 0; i < CODE_LENGTH; i++) bare += CODE_ALPHABET[this.random(CODE_ALPHABET.length)];
      if (!this.pending.has(bare)) return bare;
    }
    throw new Error('pairing: no free code (the random source repeats itself)');
  }
}
