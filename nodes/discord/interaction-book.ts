/**
 * The interactions a bot is answering, by id, in memory: each one's token (a credential for 15
 * minutes that edits the deferred answer and sends follow-ups; it never goes into a message, a
 * status or a log), how it was acknowledged, and whether its original answer has been used. The
 * in node acknowledges an interaction once it knows the flow will see it; the out node looks the
 * interaction up by the id the envelope carries.
 *
 * An interaction is acknowledged at most once: a gateway replay after a RESUME brings the same id
 * again (discord.js emits it a second time), and a second callback would be an invalid request
 * (they count towards Discord's ban of an IP).
 */
import { CallbackType, EPHEMERAL, type Respond } from './interactions';

/** Discord: an interaction token is valid for 15 minutes. */
export const TOKEN_LIFETIME_MS = 15 * 60 * 1000;
/** A reply started this close to the end would not finish in time: it goes to the channel instead. */
export const TOKEN_MARGIN_MS = 30 * 1000;
/** How long an interaction is remembered: past its token, so a late answer to an ephemeral one is refused rather than posted for all to see. */
export const KEEP_MS = 60 * 60 * 1000;
/** A bound on the book; only a flood reaches it. */
const MAX_RECORDS = 20000;

export type InteractionKind = 'command' | 'component' | 'other';

export interface InteractionRecord {
  id: string;
  applicationId: string;
  token: string;
  kind: InteractionKind;
  receivedAt: number;
  /** The callback type sent: 5 (deferred message: the answer edits the original), 6 (deferred update: answers are follow-ups). */
  acked?: number;
  ephemeral: boolean;
  /** The deferred original has been edited into the first message of an answer. */
  originalUsed: boolean;
  /** HTTP interactions: answers the request (the callback is the response). */
  respond?: Respond;
}

export interface AckOptions {
  ephemeral?: boolean;
}

/** Sends an interaction callback over REST (gateway interactions). */
export type SendCallback = (record: InteractionRecord, body: unknown) => Promise<unknown>;

export class InteractionBook {
  private readonly records = new Map<string, InteractionRecord>();

  constructor(
    private readonly sendCallback: SendCallback,
    private readonly onError: (error: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Notes an interaction as it arrives; one already known (a replay) is kept as it was. */
  add(record: Omit<InteractionRecord, 'receivedAt' | 'ephemeral' | 'originalUsed'>): InteractionRecord {
    this.sweep();
    const known = this.records.get(record.id);
    if (known) return known;
    const r: InteractionRecord = { ...record, receivedAt: this.now(), ephemeral: false, originalUsed: false };
    this.records.set(r.id, r);
    if (this.records.size > MAX_RECORDS) this.records.delete(this.records.keys().next().value as string);
    return r;
  }

  /** The interaction, while it is remembered (its token may have expired: see `isLive`). */
  find(id: string | undefined): InteractionRecord | undefined {
    return id ? this.records.get(id) : undefined;
  }

  /** Whether the interaction's token is still good for a whole answer. */
  isLive(r: InteractionRecord): boolean {
    return this.now() - r.receivedAt <= TOKEN_LIFETIME_MS - TOKEN_MARGIN_MS;
  }

  /** The interaction while its token is still good for a whole answer; undefined after. */
  live(id: string | undefined): InteractionRecord | undefined {
    const r = this.find(id);
    return r && this.isLive(r) ? r : undefined;
  }

  /** Acknowledges at once: a command is deferred (ephemeral when asked), a button press is a deferred update. No-op when already done. */
  acknowledge(id: string, opts: AckOptions = {}): void {
    const r = this.records.get(id);
    if (!r || r.acked !== undefined) return;
    const type = r.kind === 'component' ? CallbackType.DeferredUpdateMessage : CallbackType.DeferredChannelMessage;
    r.acked = type;
    r.ephemeral = type === CallbackType.DeferredChannelMessage && opts.ephemeral === true;
    const body = r.ephemeral ? { type, data: { flags: EPHEMERAL } } : { type };
    if (r.respond) {
      const respond = r.respond;
      r.respond = undefined;
      try {
        respond(body);
      } catch (err) {
        this.onError(err);
      }
      return;
    }
    this.sendCallback(r, body).catch((err: unknown) => this.onError(err));
  }

  /** An HTTP interaction nobody acknowledged (no in node took it): deferred all the same, so Discord does not show a failure. */
  settle(id: string): void {
    const r = this.records.get(id);
    if (r?.respond) this.acknowledge(id);
  }

  get size(): number {
    return this.records.size;
  }

  clear(): void {
    this.records.clear();
  }

  private sweep(): void {
    const cutoff = this.now() - KEEP_MS;
    // Insertion order is arrival order: the oldest are first.
    for (const [id, r] of this.records) {
      if (r.receivedAt >= cutoff) break;
      this.records.delete(id);
    }
  }
}
