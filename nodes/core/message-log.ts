/**
 * The gateway's message log: a small ring buffer of the last messages in and out, for the
 * editor's sidebar. It holds only what an operator needs to see traffic flow (who, which chat,
 * which thread, the start of the text); never addresses beyond JIDs, tokens or whole messages.
 * Kept in memory only: it is a live view, not an audit trail.
 */
export const LOG_CAPACITY = 200;
/** Longest text kept per entry; the sidebar shows a line, not the conversation. */
export const LOG_TEXT_CHARS = 160;

export interface LogEntry {
  /** Increasing sequence number, so a poller asks only for what is new. */
  seq: number;
  at: number;
  direction: 'in' | 'out';
  platform: string;
  chatJid?: string;
  userJid?: string;
  userName?: string;
  threadId?: string;
  text: string;
  /** Set on an out entry that could not be routed. */
  unroutable?: boolean;
}

export type LogInput = Omit<LogEntry, 'seq' | 'at' | 'text'> & { text: unknown };

/** Trims a message text to one line of at most `max` characters. */
export function trimText(text: unknown, max = LOG_TEXT_CHARS): string {
  const s = typeof text === 'string' ? text : text && typeof (text as { text?: unknown }).text === 'string' ? (text as { text: string }).text : '';
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

export class MessageLog {
  private readonly entries: LogEntry[] = [];
  private seq = 0;

  constructor(private readonly capacity = LOG_CAPACITY) {}

  add(input: LogInput, now = Date.now()): LogEntry {
    const entry: LogEntry = { ...dropUndefined(input), seq: ++this.seq, at: now, text: trimText(input.text) };
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    return entry;
  }

  /** Entries after `since` (a seq), oldest first, at most `limit` of the newest. */
  list(since = 0, limit = this.capacity): LogEntry[] {
    const newer = this.entries.filter((e) => e.seq > since);
    return newer.slice(Math.max(0, newer.length - limit)).map((e) => ({ ...e }));
  }

  get lastSeq(): number {
    return this.seq;
  }
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'text')) as T;
}
