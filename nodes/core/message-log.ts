/**
 * The gateway's message log: a small ring buffer of the last messages in and out, for the
 * editor's sidebar. It holds only what an operator needs to see traffic flow (who, which chat,
 * which thread, the start of the text); never addresses beyond JIDs, tokens or whole messages.
 * Kept in memory only: it is a live view, not an audit trail.
 */
import { randomBytes } from 'node:crypto';

export const LOG_CAPACITY = 200;
/** Longest text kept per entry; the sidebar shows a line, not the conversation. */
export const LOG_TEXT_CHARS = 160;

export interface LogEntry {
  /** Increasing sequence number, so a poller asks only for what is new. */
  seq: number;
  at: number;
  /** 'status': what the platform later reported of a message sent (WhatsApp: sent, delivered, read, failed). */
  direction: 'in' | 'out' | 'status';
  platform: string;
  chatJid?: string;
  userJid?: string;
  userName?: string;
  threadId?: string;
  text: string;
  /** Set on an out entry that could not be routed. */
  unroutable?: boolean;
  /** On a status entry: the state reported (`delivered`, `read`, `failed`). */
  delivery?: string;
}

export type LogInput = Omit<LogEntry, 'seq' | 'at' | 'text'> & { text: unknown };

/** Past this many characters a text is trimmed from a prefix (whitespace runs only shorten it). */
const TRIM_SCAN_CHARS = 4 * LOG_TEXT_CHARS;
/** Whitespace that the collapse would change: a run of two, or any whitespace but a plain space. */
const COLLAPSIBLE = /\s\s|[^\S ]/;

/** Trims a message text to one line of at most `max` characters. */
export function trimText(text: unknown, max = LOG_TEXT_CHARS): string {
  const s = typeof text === 'string' ? text : text && typeof (text as { text?: unknown }).text === 'string' ? (text as { text: string }).text : '';
  // Every message passes here twice (in and out): a long reply is trimmed from its start, and a
  // line with single spaces only (the common case) skips the collapsing replace.
  let line = collapse(s.length > TRIM_SCAN_CHARS ? s.slice(0, TRIM_SCAN_CHARS) : s);
  if (line.length <= max && s.length > TRIM_SCAN_CHARS) line = collapse(s);
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

function collapse(s: string): string {
  return (COLLAPSIBLE.test(s) ? s.replace(/\s+/g, ' ') : s).trim();
}

/**
 * A ring of the last `capacity` entries: adding one (twice per message, in and out) is a store at
 * its slot, whatever the capacity, with nothing moved.
 */
export class MessageLog {
  /**
   * Names this log: a new gateway (a deploy, a restart) starts counting at 1 again, and a poller
   * that asked with an older log's seq would skip the new entries below it; the epoch tells it to
   * start over.
   */
  readonly epoch = randomBytes(6).toString('hex');
  private readonly ring: Array<LogEntry | undefined>;
  private seq = 0;

  constructor(private readonly capacity = LOG_CAPACITY) {
    this.ring = new Array(capacity);
  }

  add(input: LogInput, now = Date.now()): LogEntry {
    // Built field by field, undefined ones left out: entries are listed and serialised as they are.
    const entry: LogEntry = { seq: ++this.seq, at: now, direction: input.direction, platform: input.platform, text: trimText(input.text) };
    if (input.chatJid !== undefined) entry.chatJid = input.chatJid;
    if (input.userJid !== undefined) entry.userJid = input.userJid;
    if (input.userName !== undefined) entry.userName = input.userName;
    if (input.threadId !== undefined) entry.threadId = input.threadId;
    if (input.unroutable !== undefined) entry.unroutable = input.unroutable;
    if (input.delivery !== undefined) entry.delivery = input.delivery;
    this.ring[(this.seq - 1) % this.capacity] = entry;
    return entry;
  }

  /** Entries after `since` (a seq), oldest first, at most `limit` of the newest. */
  list(since = 0, limit = this.capacity): LogEntry[] {
    const kept: LogEntry[] = [];
    for (let s = Math.max(1, this.seq - this.capacity + 1); s <= this.seq; s++) kept.push(this.ring[(s - 1) % this.capacity]!);
    const newer = kept.filter((e) => e.seq > since);
    return newer.slice(Math.max(0, newer.length - limit)).map((e) => ({ ...e }));
  }

  get lastSeq(): number {
    return this.seq;
  }
}
