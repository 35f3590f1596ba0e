/**
 * The gateway's shared state, with no Node-RED in it: threads, reply listeners, de-duplication,
 * allowlists and channels, plus the snapshot that persistence writes and reads.
 */
import type { Chat, ReplyTo, Strategy } from './envelope';
import { Allowlists, type AllowEntry } from './allowlist';
import { ChannelRegistry } from './channels';
import { DedupeWindow, dedupeKey } from './dedupe';
import { MemoryHistory, historyText } from './history';
import { MessageLog, type LogEntry, type LogInput } from './message-log';
import { SNAPSHOT_VERSION, upgradeSnapshot } from './snapshot-migrations';
import { ConversationMemory, type MemoryLimits, type MemoryTurn } from './memory';
import { listenerAddress, ReplyListeners, type ListenerLookup } from './reply-listeners';
import { DEFAULT_RETENTION, type HistoryRetention, type HistoryStore, type Table } from './store/rows';
import type { Maybe, StateOps } from './store/state-ops';
import { TurnsInFlight, type TurnInFlight } from './turns-in-flight';
import { ThreadMap, decodeThreadRow, encodeThreadRow, threadKey, threadRowKey, type ListQuery, type Resolution, type ThreadChat, type ThreadRecord } from './threads';

export const MINUTE = 60 * 1000;

export interface GatewaySettings {
  defaultStrategy: Strategy;
  /** Idle time that ends a thread; 0 = never. */
  sessionMs: number;
  listenerTtlMs: number;
  dedupeWindowMs: number;
  resetCommands: string[];
  /** What each chat's history keeps. */
  retention: HistoryRetention;
}

export const DEFAULT_SETTINGS: GatewaySettings = {
  defaultStrategy: 'per-conversation',
  sessionMs: 24 * 60 * MINUTE,
  listenerTtlMs: 30 * MINUTE,
  dedupeWindowMs: 20 * MINUTE,
  resetCommands: ['/new', '/reset'],
  retention: DEFAULT_RETENTION,
};

/** Reads rows the working set does not hold yet (a row store while its warm-up runs). */
export interface RowReader {
  get(table: Table, key: string): unknown | undefined;
}

export { SNAPSHOT_VERSION };

/** What a restore found: nothing, the current version, an older one migrated, or a store to set aside. */
export type RestoreOutcome =
  | { kind: 'empty' }
  | { kind: 'loaded' }
  | { kind: 'migrated'; from: number }
  | { kind: 'refused'; reason: 'newer' | 'notASnapshot'; version?: unknown };

export interface Snapshot {
  version: number;
  savedAt: number;
  threads: unknown;
  listeners: unknown;
  dedupe: unknown;
  allowlists: unknown;
  memory?: unknown;
  history?: unknown;
  /** Agent turns accepted and not finished (turns-in-flight.ts). */
  turns?: unknown;
}

export class GatewayState implements StateOps {
  readonly threads = new ThreadMap();
  readonly listeners: ReplyListeners;
  readonly dedupe: DedupeWindow;
  readonly allowlists = new Allowlists();
  readonly channels = new ChannelRegistry();
  readonly memory = new ConversationMemory();
  readonly turns = new TurnsInFlight();
  /** The last messages in and out, for the editor sidebar; memory only, never persisted. */
  readonly log = new MessageLog();
  /** Every message in and out per chat (the admin API's history): in memory (and in the snapshot) unless a row store or Redis keeps it. */
  history: HistoryStore;
  /** Hears every change that should be persisted: the table and the key of the row that changed. */
  onChange: (table: Table, key: string) => void = () => {};
  /**
   * While a row store warms the working set up, rows not loaded yet are read from it on a miss.
   * Keys changed in memory meanwhile (`touched`) are the truth: neither the miss nor the warm-up
   * may bring their stored (older) rows back.
   */
  private reader: RowReader | undefined;
  private touched = new Set<string>();
  private warmed: Promise<void> = Promise.resolve();

  constructor(readonly settings: GatewaySettings = DEFAULT_SETTINGS) {
    this.listeners = new ReplyListeners(settings.listenerTtlMs);
    this.dedupe = new DedupeWindow(settings.dedupeWindowMs);
    this.history = new MemoryHistory(settings.retention);
  }

  private changed(table: Table, key: string): void {
    if (this.reader) this.touched.add(table + '\u0000' + key);
    this.onChange(table, key);
  }

  /** Loads a row on a miss while warming up; true when it was read (whether or not it existed). */
  private miss(table: Table, key: string): void {
    const reader = this.reader;
    if (!reader || this.touched.has(table + '\u0000' + key)) return;
    const value = reader.get(table, key);
    if (value !== undefined) this.absorbRow(table, key, value);
    // Read once: from now on this key's truth is in memory.
    this.touched.add(table + '\u0000' + key);
  }

  /**
   * Starts serving from a row store before its rows are all loaded: misses read the store, and
   * `done` (the warm-up's end) makes the working set whole again.
   */
  beginWarmUp(reader: RowReader, done: Promise<unknown>): void {
    this.reader = reader;
    this.warmed = done.then(
      () => this.endWarmUp(),
      () => this.endWarmUp(),
    );
  }

  /** Resolves when every stored row is in memory (at once when there is no warm-up). */
  whenWarm(): Promise<void> {
    return this.warmed;
  }

  get warming(): boolean {
    return this.reader !== undefined;
  }

  private endWarmUp(): void {
    this.reader = undefined;
    this.touched = new Set();
    this.dedupe.resort();
  }

  /** Takes a stored row into the working set, unless memory already holds (or changed) its key. */
  absorbRow(table: Table, key: string, value: unknown): void {
    if (this.touched.has(table + '\u0000' + key)) return;
    switch (table) {
      case 'threads': {
        const record = decodeThreadRow(key, value);
        if (record) this.threads.absorb(record);
        return;
      }
      case 'listeners':
        return this.listeners.absorb(key, value);
      case 'dedupe':
        if (typeof value === 'number') this.dedupe.absorb(key, value);
        return;
      case 'allowlists':
        if (!this.allowlists.has(key) && Array.isArray(value)) this.allowlists.restore([[key, value], ...this.allowlists.snapshot()]);
        return;
      case 'memory':
        return this.memory.absorb(key, value);
      case 'turns':
        return this.turns.absorb(key, value);
    }
  }

  /** The current value of one row (undefined: deleted), read when a row store writes what changed. */
  row(table: Table, key: string): unknown | undefined {
    switch (table) {
      case 'threads': {
        const r = this.threads.getByRowKey(key);
        return r ? encodeThreadRow(r) : undefined;
      }
      case 'listeners':
        return this.listeners.get(key);
      case 'dedupe':
        return this.dedupe.get(key);
      case 'allowlists':
        return this.allowlists.has(key) ? this.allowlists.entries(key) : undefined;
      case 'memory':
        return this.memory.raw(key);
      case 'turns':
        return this.turns.get(key);
    }
  }

  /** Every key of a table (to write a whole state into a row store). */
  rowKeys(table: Table): Iterable<string> {
    switch (table) {
      case 'threads':
        return this.threads.rowKeys();
      case 'listeners':
        return this.listeners.keys();
      case 'dedupe':
        return this.dedupe.keys();
      case 'allowlists':
        return this.allowlists.names();
      case 'memory':
        return this.memory.keys();
      case 'turns':
        return this.turns.keys();
    }
  }

  /** True when this message was already seen inside the window (a platform's retried delivery). */
  isDuplicate(platform: string, channelId: string, messageId: string, now = Date.now()): boolean {
    const key = dedupeKey(platform, channelId, messageId);
    if (this.reader) this.miss('dedupe', key);
    const dup = this.dedupe.checkAndRecord(key, now);
    if (!dup) this.changed('dedupe', key);
    return dup;
  }

  resolveThread(chat: ThreadChat, strategy: Strategy, sessionMs: number, reset: boolean, now = Date.now()): Resolution {
    if (this.reader) {
      const key = threadKey(strategy, chat);
      if (key) this.miss('threads', key);
    }
    const resolution = this.threads.resolveAt(chat, strategy, sessionMs, now, reset);
    const record = resolution.record;
    if (resolution.replaced) {
      this.forget(resolution.replaced.id);
      if (resolution.replaced.key !== record.key) this.changed('threads', threadRowKey(resolution.replaced));
    }
    this.changed('threads', record.key || record.id);
    return resolution;
  }

  registerListener(threadId: string, address: ReplyTo, now = Date.now()): void {
    // A copy: the address often is the message's own msg.chat.replyTo, which the flow may change later.
    this.listeners.register(threadId, listenerAddress(address), now);
    this.changed('listeners', threadId);
  }

  lookupListener(threadId: string, now = Date.now()): ListenerLookup {
    if (this.reader) this.miss('listeners', threadId);
    return this.listeners.lookup(threadId, now);
  }

  findListenerByChat(platform: string, chatId: string, now = Date.now()): Maybe<ReplyTo | undefined> {
    if (this.reader) return this.warmed.then(() => this.listeners.findByChat(platform, chatId, now));
    return this.listeners.findByChat(platform, chatId, now);
  }

  getThread(id: string): Maybe<ThreadRecord | undefined> {
    if (this.reader) return this.warmed.then(() => this.threads.get(id));
    return this.threads.get(id);
  }

  listThreads(query: ListQuery): Maybe<{ total: number; items: ThreadRecord[] }> {
    if (this.reader) return this.warmed.then(() => this.threads.list(query));
    return this.threads.list(query);
  }

  threadCount(): number {
    return this.threads.size;
  }

  memoryHistory(threadId: string): MemoryTurn[] {
    if (this.reader) this.miss('memory', threadId);
    return this.memory.history(threadId);
  }

  appendMemory(threadId: string, turns: MemoryTurn[], limits?: MemoryLimits): void {
    if (this.reader) this.miss('memory', threadId);
    this.memory.append(threadId, turns, limits);
    this.changed('memory', threadId);
  }

  beginTurn(key: string, turn: TurnInFlight): void {
    this.turns.begin(key, turn);
    this.changed('turns', key);
  }

  endTurn(key: string): void {
    this.claimTurn(key);
  }

  claimTurn(key: string): boolean {
    if (this.reader) this.miss('turns', key);
    const ended = this.turns.end(key);
    if (ended) this.changed('turns', key);
    return ended;
  }

  /** Waits for the warm-up: a turn a crash cut may be any stored row. */
  turnsWithPrefix(prefix: string): Promise<Array<[string, TurnInFlight]>> {
    return this.whenWarm().then(() => this.turns.withPrefix(prefix));
  }

  allowEntries(list: string): AllowEntry[] {
    return this.allowlists.entries(list);
  }

  addAllowEntry(list: string, entry: AllowEntry): void {
    this.allowlists.add(list, entry);
    this.changed('allowlists', list);
  }

  removeAllowEntry(list: string, jid: string): boolean {
    const removed = this.allowlists.remove(list, jid);
    if (removed) this.changed('allowlists', list);
    return removed;
  }

  replaceAllowEntries(list: string, entries: AllowEntry[]): void {
    this.allowlists.replace(list, entries);
    this.changed('allowlists', list);
  }

  /** One message in or out: the sidebar's log, and (in and out with a chat) the chat's history. */
  logMessage(input: LogInput, now = Date.now()): LogEntry {
    if ((input.direction === 'in' || input.direction === 'out') && input.chatJid) {
      this.history.append({
        at: now,
        direction: input.direction,
        platform: input.platform,
        chatJid: input.chatJid,
        ...(input.userJid !== undefined ? { userJid: input.userJid } : {}),
        ...(input.userName !== undefined ? { userName: input.userName } : {}),
        ...(input.threadId !== undefined ? { threadId: input.threadId } : {}),
        text: historyText(input.text),
      });
    }
    return this.log.add(input, now);
  }

  isResetCommand(chat: Pick<Chat, 'command'>, text: string, commands = this.settings.resetCommands): boolean {
    const name = chat.command?.name ?? (text.trim().startsWith('/') ? text.trim().split(/\s+/)[0] : undefined);
    if (!name) return false;
    const bare = name.replace(/^\//, '').split('@')[0].toLowerCase();
    return commands.some((c) => c.replace(/^\//, '').toLowerCase() === bare);
  }

  endThread(id: string): Maybe<boolean> {
    if (this.reader) return this.warmed.then(() => this.endThread(id));
    const ended = this.threads.end(id);
    if (ended) {
      this.forget(id);
      this.changed('threads', threadRowKey(ended));
    }
    return !!ended;
  }

  sweep(now = Date.now()): void {
    // Sweeping a half-loaded working set would miss the rows not loaded yet: it waits for the warm-up.
    if (this.reader) return;
    const dropped = this.threads.sweep(now);
    // An expired thread's memory goes with it; its listener lives out its own TTL for late replies.
    for (const t of dropped) {
      this.forget(t.id);
      this.changed('threads', threadRowKey(t));
    }
    this.dedupe.sweep(now, (key) => this.changed('dedupe', key));
    this.listeners.sweep(now, (id) => this.changed('listeners', id));
    this.history.sweep(now);
  }

  /**
   * A thread that was reset or ended loses its memory. Its reply listener lives out its TTL: a late
   * reply to the old thread still belongs to that chat.
   */
  private forget(threadId: string): void {
    if (!this.memory.has(threadId)) return;
    this.memory.clear(threadId);
    this.changed('memory', threadId);
  }

  snapshot(now = Date.now()): Snapshot {
    return {
      version: SNAPSHOT_VERSION,
      savedAt: now,
      threads: this.threads.snapshot(),
      listeners: this.listeners.snapshot(),
      dedupe: this.dedupe.snapshot(),
      allowlists: this.allowlists.snapshot(),
      memory: this.memory.snapshot(),
      turns: this.turns.snapshot(),
      ...(this.history instanceof MemoryHistory ? { history: this.history.snapshot() } : {}),
    };
  }

  /**
   * Restores what a snapshot holds, migrated from an older version first (snapshot-migrations.ts);
   * anything malformed inside is skipped rather than trusted. A snapshot of a newer version, or
   * something that is not one, is refused and nothing is restored: the caller sets it aside.
   */
  restore(data: unknown): RestoreOutcome {
    if (data === undefined || data === null) return { kind: 'empty' };
    const up = upgradeSnapshot(data);
    if (!up.ok) return { kind: 'refused', reason: up.reason, ...(up.version !== undefined ? { version: up.version } : {}) };
    const s = up.snapshot as Partial<Snapshot>;
    this.threads.restore(s.threads);
    this.listeners.restore(s.listeners);
    this.dedupe.restore(s.dedupe);
    this.allowlists.restore(s.allowlists);
    this.memory.restore(s.memory);
    this.turns.restore(s.turns);
    if (this.history instanceof MemoryHistory) this.history.restore(s.history);
    return up.from === SNAPSHOT_VERSION ? { kind: 'loaded' } : { kind: 'migrated', from: up.from };
  }
}
