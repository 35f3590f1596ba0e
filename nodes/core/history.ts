/**
 * Chat history in memory: every message in and out of each chat, as the operator reads it back
 * through the admin API. The JSON and context stores keep it through `snapshot()`/`restore()`
 * with the rest of the gateway state; SQLite and Redis have their own HistoryStore. Pure data, no
 * timers and no I/O: the gateway's sweep applies the age limit.
 */
import {
  DEFAULT_RETENTION,
  type ChatSummary,
  type ChatsQuery,
  type HistoryEntry,
  type HistoryRetention,
  type HistoryStore,
  type MessagesQuery,
  type StoredHistoryEntry,
} from './store/rows';

export const DAY = 24 * 60 * 60 * 1000;
/** Longest text kept per entry: a whole reply, but not a pasted file or a runaway stream. */
export const HISTORY_TEXT_CHARS = 16_000;
export const HISTORY_PAGE_DEFAULT = 50;
export const HISTORY_PAGE_MAX = 500;
/**
 * Entries kept in memory over every chat (the JSON file and context stores, and a gateway running
 * from memory), whatever the retention says: with no age and no count limit (0 and 0) history
 * would otherwise grow without end. Past it, the least recently active chat's oldest entries go.
 */
export const MEMORY_HISTORY_MAX_ENTRIES = 100_000;

/** The persisted form: one row per entry, `[seq, at, 'i'|'o', text, userJid, userName, threadId]`, trailing absent fields left off. */
type Row = [number, number, 'i' | 'o', string, (string | null)?, (string | null)?, (string | null)?];

export interface HistorySnapshot {
  version: 1;
  /** The last seq handed out, so numbering continues after a restore even when the newest entries went. */
  seq: number;
  chats: Array<[chatJid: string, platform: string, rows: Row[]]>;
}

interface Chat {
  platform: string;
  /** Oldest first; seq increasing. */
  entries: StoredHistoryEntry[];
}

/** A page size as the API and the backends take it: 1..500, anything unusable is the default. */
export function clampLimit(limit: unknown): number {
  const n = Number(limit);
  if (!Number.isFinite(n)) return HISTORY_PAGE_DEFAULT;
  return Math.min(HISTORY_PAGE_MAX, Math.max(1, Math.floor(n)));
}

/** The text a message carries (a string, or an object with a `text`), cut to the kept length. */
export function historyText(text: unknown, max = HISTORY_TEXT_CHARS): string {
  const s = typeof text === 'string' ? text : text && typeof (text as { text?: unknown }).text === 'string' ? (text as { text: string }).text : '';
  if (s.length <= max) return s;
  let end = max - 1;
  // Never half a surrogate pair: the cut would leave a character no JSON reader takes back whole.
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return s.slice(0, end) + '…';
}

export class MemoryHistory implements HistoryStore {
  private readonly byChat = new Map<string, Chat>();
  private seq = 0;
  private total = 0;

  constructor(
    private retention: HistoryRetention = DEFAULT_RETENTION,
    private readonly maxEntries = MEMORY_HISTORY_MAX_ENTRIES,
  ) {}

  /** Entries kept, over every chat. */
  get size(): number {
    return this.total;
  }

  get chatCount(): number {
    return this.byChat.size;
  }

  get enabled(): boolean {
    return this.retention.enabled;
  }

  /** A new retention applies at once to what is kept: off forgets every text, a smaller count trims. */
  setRetention(retention: HistoryRetention): void {
    this.retention = { ...retention };
    if (!retention.enabled) this.clear();
    else if (retention.perChat > 0) for (const [jid, chat] of this.byChat) this.bound(jid, chat);
  }

  append(entry: HistoryEntry): void {
    if (!this.retention.enabled || !isText(entry.chatJid)) return;
    let chat = this.byChat.get(entry.chatJid);
    if (!chat) chat = { platform: entry.platform, entries: [] };
    // Map order is activity order: the chat written to last is last, the ceiling trims the first.
    else this.byChat.delete(entry.chatJid);
    this.byChat.set(entry.chatJid, chat);
    // Built field by field, absent or empty ones left out: entries are listed and serialised as they are.
    const kept: StoredHistoryEntry = {
      seq: ++this.seq,
      at: entry.at,
      direction: entry.direction === 'out' ? 'out' : 'in',
      platform: entry.platform,
      chatJid: entry.chatJid,
      text: historyText(entry.text),
    };
    if (isText(entry.userJid)) kept.userJid = entry.userJid;
    if (isText(entry.userName)) kept.userName = entry.userName;
    if (isText(entry.threadId)) kept.threadId = entry.threadId;
    chat.entries.push(kept);
    this.total++;
    this.bound(entry.chatJid, chat);
    this.ceiling();
  }

  /** Drops the least recently active chats' oldest entries while more than `maxEntries` are kept. */
  private ceiling(): void {
    while (this.total > this.maxEntries) {
      const [jid, chat] = this.byChat.entries().next().value as [string, Chat];
      const over = Math.min(chat.entries.length, this.total - this.maxEntries);
      chat.entries.splice(0, over);
      this.total -= over;
      if (!chat.entries.length) this.byChat.delete(jid);
    }
  }

  async chats(query: ChatsQuery): Promise<ChatSummary[]> {
    const limit = clampLimit(query.limit);
    const q = query.q ? query.q.toLowerCase() : '';
    const found: ChatSummary[] = [];
    for (const [chatJid, chat] of this.byChat) {
      const last = chat.entries[chat.entries.length - 1];
      if (!last) continue;
      if (query.before !== undefined && !(last.at < query.before)) continue;
      if (q && !chatJid.toLowerCase().includes(q)) continue;
      found.push({ chatJid, platform: chat.platform, lastAt: last.at, count: chat.entries.length });
    }
    // Sorting here (an admin call) keeps append, the hot path, to a push.
    found.sort((a, b) => b.lastAt - a.lastAt || (a.chatJid < b.chatJid ? -1 : a.chatJid > b.chatJid ? 1 : 0));
    return found.slice(0, limit);
  }

  async messages(chatJid: string, query: MessagesQuery): Promise<StoredHistoryEntry[]> {
    const entries = this.byChat.get(chatJid)?.entries;
    if (!entries) return [];
    const limit = clampLimit(query.limit);
    const end = query.before === undefined ? entries.length : firstAtOrAfter(entries, query.before);
    const page = entries.slice(Math.max(0, end - limit), end).reverse();
    return page.map((e) => ({ ...e }));
  }

  /** Drops entries past the age limit (and past the count, after a retention change), and chats left empty. */
  sweep(now: number): void {
    if (!this.retention.enabled) return this.clear();
    const cutoff = this.retention.days > 0 ? now - this.retention.days * DAY : -Infinity;
    for (const [jid, chat] of this.byChat) {
      let old = 0;
      // Oldest first: the expired ones are a prefix (a clock set back only keeps a few a little longer).
      while (old < chat.entries.length && chat.entries[old].at < cutoff) old++;
      if (old) {
        chat.entries.splice(0, old);
        this.total -= old;
      }
      this.bound(jid, chat);
    }
  }

  clear(): void {
    this.byChat.clear();
    this.total = 0;
  }

  snapshot(): HistorySnapshot {
    const chats: HistorySnapshot['chats'] = [];
    for (const [jid, chat] of this.byChat) {
      chats.push([jid, chat.platform, chat.entries.map(toRow)]);
    }
    return { version: 1, seq: this.seq, chats };
  }

  /**
   * Restores what a snapshot holds; never throws. Rows that are not well formed are skipped, and the
   * current retention applies to what is left (off keeps nothing). Numbering continues after the
   * highest seq seen, so a page cursor handed out before the restart still means the same place.
   */
  restore(data: unknown, now = Date.now()): void {
    this.clear();
    const snap = data && typeof data === 'object' ? (data as Partial<HistorySnapshot>) : undefined;
    if (snap && Number.isSafeInteger(snap.seq) && (snap.seq as number) > this.seq) this.seq = snap.seq as number;
    if (!snap || !Array.isArray(snap.chats)) return;
    for (const item of snap.chats as unknown[]) {
      if (!Array.isArray(item) || !isText(item[0]) || typeof item[1] !== 'string' || !Array.isArray(item[2])) continue;
      const [chatJid, platform, rows] = item as [string, string, unknown[]];
      // The same chat listed twice (a hand-edited or merged file) is merged.
      const chat = this.byChat.get(chatJid) ?? { platform, entries: [] };
      for (const row of rows) {
        const e = fromRow(row, chatJid, chat.platform);
        if (e) chat.entries.push(e);
      }
      if (chat.entries.length) this.byChat.set(chatJid, chat);
    }
    for (const chat of this.byChat.values()) {
      chat.entries.sort((a, b) => a.seq - b.seq);
      // A seq twice would page ambiguously: the first one stays.
      chat.entries = chat.entries.filter((e, i, all) => i === 0 || e.seq !== all[i - 1].seq);
      this.total += chat.entries.length;
      const last = chat.entries[chat.entries.length - 1].seq;
      if (last > this.seq) this.seq = last;
    }
    this.sweep(now);
    // Activity order, which the ceiling trims from; then the ceiling (a file from a bigger install).
    const byActivity = [...this.byChat].sort((x, y) => x[1].entries[x[1].entries.length - 1].seq - y[1].entries[y[1].entries.length - 1].seq);
    this.byChat.clear();
    for (const [jid, chat] of byActivity) this.byChat.set(jid, chat);
    this.ceiling();
  }

  /** Every kept entry in the order it came (an import into another store), without its seq. */
  allEntries(): HistoryEntry[] {
    const all: StoredHistoryEntry[] = [];
    for (const chat of this.byChat.values()) all.push(...chat.entries);
    all.sort((x, y) => x.seq - y.seq);
    return all.map(({ seq: _seq, ...entry }) => entry);
  }

  /** Applies the per-chat count; drops the chat when nothing is left. */
  private bound(jid: string, chat: Chat): void {
    const max = this.retention.perChat;
    if (max > 0 && chat.entries.length > max) {
      const over = chat.entries.length - max;
      chat.entries.splice(0, over);
      this.total -= over;
    }
    if (!chat.entries.length) this.byChat.delete(jid);
  }
}

/** Index of the first entry with seq >= `seq` (entries in seq order). */
function firstAtOrAfter(entries: StoredHistoryEntry[], seq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function toRow(e: StoredHistoryEntry): Row {
  const row: Row = [e.seq, e.at, e.direction === 'out' ? 'o' : 'i', e.text, e.userJid ?? null, e.userName ?? null, e.threadId ?? null];
  while (row.length > 4 && row[row.length - 1] === null) row.pop();
  return row;
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function fromRow(row: unknown, chatJid: string, platform: string): StoredHistoryEntry | undefined {
  if (!Array.isArray(row) || row.length < 4) return undefined;
  const [seq, at, d, text, userJid, userName, threadId] = row as unknown[];
  if (!Number.isSafeInteger(seq) || (seq as number) <= 0 || typeof at !== 'number' || !Number.isFinite(at)) return undefined;
  if ((d !== 'i' && d !== 'o') || typeof text !== 'string') return undefined;
  const e: StoredHistoryEntry = { seq: seq as number, at, direction: d === 'o' ? 'out' : 'in', platform, chatJid, text: historyText(text) };
  if (isText(userJid)) e.userJid = userJid;
  if (isText(userName)) e.userName = userName;
  if (isText(threadId)) e.threadId = threadId;
  return e;
}
