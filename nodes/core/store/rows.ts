/**
 * The gateway's state as records: every thread, reply listener, de-duplication key, allowlist and
 * thread memory is one row (a key in a table), written when it changes and only then. The
 * in-memory structures (ThreadMap, ReplyListeners, ...) stay the working set; a row store keeps
 * them across restarts. Plain data, no I/O: the backends (sqlite-backend.ts, redis) live beside it.
 */

/** The tables of the state. Values are plain JSON (no undefined, no functions). */
export const TABLES = ['threads', 'listeners', 'dedupe', 'allowlists', 'memory', 'turns'] as const;
export type Table = (typeof TABLES)[number];

/** A row to write: `value` undefined deletes the key. */
export interface RowChange {
  table: Table;
  key: string;
  value?: unknown;
}

/** One message in or out of a chat, as its history keeps it. */
export interface HistoryEntry {
  at: number;
  direction: 'in' | 'out';
  platform: string;
  chatJid: string;
  userJid?: string;
  userName?: string;
  threadId?: string;
  text: string;
}

/** A kept entry: `seq` increases over the whole store, so `before=<seq>` pages back through a chat. */
export interface StoredHistoryEntry extends HistoryEntry {
  seq: number;
}

/** A chat as the history lists it: newest activity first. */
export interface ChatSummary {
  chatJid: string;
  platform: string;
  /** Time of the chat's last kept message (ms). */
  lastAt: number;
  /** Messages kept for the chat. */
  count: number;
}

/** How much history is kept. `enabled: false` keeps no text at all (operators who must not). */
export interface HistoryRetention {
  enabled: boolean;
  /** Entries older than this many days go; 0 = no age limit. */
  days: number;
  /** At most this many entries per chat (oldest go first); 0 = no count limit. */
  perChat: number;
}

export const DEFAULT_RETENTION: HistoryRetention = { enabled: true, days: 30, perChat: 1000 };

export interface ChatsQuery {
  limit: number;
  /** Only chats whose last message is older than this time (ms): the next page. */
  before?: number;
  /** Substring of the chat JID. */
  q?: string;
}

export interface MessagesQuery {
  limit: number;
  /** Only entries with a smaller seq: the next page back. */
  before?: number;
}

/**
 * Where a chat's history is kept and read back. Appending never waits (the hot path); reading is
 * for the admin API. Every backend — memory (JSON/context stores), SQLite, Redis — implements it.
 */
export interface HistoryStore {
  append(entry: HistoryEntry): void;
  /** Newest first. */
  chats(query: ChatsQuery): Promise<ChatSummary[]>;
  /** Newest first, at most `limit`. */
  messages(chatJid: string, query: MessagesQuery): Promise<StoredHistoryEntry[]>;
  /** Applies the retention (age and count); called by the gateway's sweep. */
  sweep(now: number): void;
}
