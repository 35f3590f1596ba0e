/**
 * Chat history in a row store (the embedded database): appended entries ride the next write of
 * the row persister (never a disk wait on the hot path); reads write what is waiting first, so a
 * read sees every message up to now.
 */
import { DAY, historyText } from '../history';
import type { RowBackend } from './row-backend';
import type { RowPersister } from './row-persister';
import { DEFAULT_RETENTION, type ChatsQuery, type ChatSummary, type HistoryEntry, type HistoryRetention, type HistoryStore, type MessagesQuery, type StoredHistoryEntry } from './rows';


export class RowHistory implements HistoryStore {
  constructor(
    private readonly backend: RowBackend,
    private readonly persister: RowPersister,
    public retention: HistoryRetention = DEFAULT_RETENTION,
  ) {}

  append(entry: HistoryEntry): void {
    if (!this.retention.enabled) return;
    const text = historyText(entry.text);
    this.persister.addHistory(text === entry.text ? entry : { ...entry, text });
  }

  async chats(query: ChatsQuery): Promise<ChatSummary[]> {
    this.persister.flush();
    return this.backend.historyChats(query);
  }

  async messages(chatJid: string, query: MessagesQuery): Promise<StoredHistoryEntry[]> {
    this.persister.flush();
    return this.backend.historyMessages(chatJid, query);
  }

  sweep(now: number): void {
    // Entries still waiting for their commit are trimmed too.
    this.persister.flush();
    const r = this.retention;
    // History turned off: what was kept before goes too (an operator who must not keep text).
    const olderThan = !r.enabled ? now + 1 : r.days > 0 ? now - r.days * DAY : 0;
    const perChat = r.enabled ? r.perChat : 0;
    if (olderThan === 0 && perChat === 0) return;
    this.backend.trimHistory(olderThan, perChat);
  }
}
