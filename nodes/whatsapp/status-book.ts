/**
 * What became of each message the account sent: Meta reports `sent`, `delivered`, `read` or
 * `failed` (with its error) in later notifications, in any order and sometimes twice. The book
 * keeps the furthest state per message (a late `delivered` never takes back a `read`; `failed` is
 * final), for the messages this process sent, bounded: the oldest entries go first.
 */
export type DeliveryState = 'accepted' | 'sent' | 'delivered' | 'read' | 'failed';

const RANK: Record<DeliveryState, number> = { accepted: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

export interface SentRecord {
  /** The chat (the user's id) it went to. */
  chatKey: string;
  /** The out node that sent it. */
  sender: string;
  state: DeliveryState;
  at: number;
  /** Meta's error for a failed message: `(131047) Re-engagement message: details`. */
  error?: string;
}

export interface StateChange {
  messageId: string;
  record: SentRecord;
}

export const STATUS_BOOK_CAPACITY = 10_000;

export class StatusBook {
  private readonly entries = new Map<string, SentRecord>();
  /** Reports that came before the send's own answer was read (Meta is quick): kept briefly, few. */
  private readonly early = new Map<string, { state: DeliveryState; error?: string }>();

  constructor(private readonly capacity = STATUS_BOOK_CAPACITY) {}

  get size(): number {
    return this.entries.size;
  }

  /** A message Meta accepted (its id from the send's answer); the change when a report was already waiting for it. */
  sent(messageId: string, chatKey: string, sender: string, now = Date.now()): StateChange | undefined {
    if (this.entries.has(messageId)) return undefined;
    this.entries.set(messageId, { chatKey, sender, state: 'accepted', at: now });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    const waiting = this.early.get(messageId);
    if (!waiting) return undefined;
    this.early.delete(messageId);
    return this.note(messageId, waiting.state, waiting.error, now);
  }

  get(messageId: string): SentRecord | undefined {
    const r = this.entries.get(messageId);
    return r && { ...r };
  }

  /** A status notification: the change it makes, or undefined (not ours, or not further than what we know). */
  note(messageId: string, state: DeliveryState, error?: string, now = Date.now()): StateChange | undefined {
    const r = this.entries.get(messageId);
    if (!r) {
      this.keepEarly(messageId, state, error);
      return undefined;
    }
    if (RANK[state] <= RANK[r.state]) return undefined;
    r.state = state;
    r.at = now;
    if (error) r.error = error;
    return { messageId, record: { ...r } };
  }

  private keepEarly(messageId: string, state: DeliveryState, error: string | undefined): void {
    const had = this.early.get(messageId);
    if (had && RANK[had.state] >= RANK[state]) return;
    this.early.set(messageId, { state, ...(error ? { error } : {}) });
    // Most reports for unknown ids are another system's messages on the same number: only a few are kept.
    if (this.early.size > EARLY_CAPACITY) this.early.delete(this.early.keys().next().value as string);
  }
}

const EARLY_CAPACITY = 200;
