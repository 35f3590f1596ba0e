/**
 * A store that keeps the state row by row and answers synchronously (the embedded database): the
 * gateway reads rows it has not loaded yet on a miss, warms its working set up in small chunks, and
 * writes what changed in one transaction every ~100 ms. Implemented by sqlite-backend.ts.
 */
import type { ChatsQuery, ChatSummary, HistoryEntry, MessagesQuery, RowChange, StoredHistoryEntry, Table } from './rows';

export interface RowBackend {
  /** For logs and the admin API: `sqlite /path/to/gateway-x.sqlite`. Never holds a secret. */
  readonly description: string;
  /** One row, or undefined. */
  get(table: Table, key: string): unknown | undefined;
  /** Rows with a key greater than `afterKey` ('' = from the start), in key order, at most `limit`. */
  scan(table: Table, afterKey: string, limit: number): Array<[string, unknown]>;
  count(table: Table): number;
  /** Every change and every history entry in one transaction: all of them are kept, or none. */
  write(changes: readonly RowChange[], history: readonly HistoryEntry[]): void;
  /** A value of the store's own (import done, schema version); undefined when never set. */
  getMeta(name: string): string | undefined;
  setMeta(name: string, value: string): void;
  historyChats(query: ChatsQuery): ChatSummary[];
  historyMessages(chatJid: string, query: MessagesQuery): StoredHistoryEntry[];
  /** Deletes entries older than `olderThan` (ms; 0 = none) and beyond `perChat` per chat (0 = none); returns how many. */
  trimHistory(olderThan: number, perChat: number): number;
  close(): void;
}
