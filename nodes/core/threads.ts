/**
 * The thread map: which conversation thread a message belongs to, by strategy.
 * Pure data structure (no timers, no I/O); the gateway owns one and persists its snapshot.
 */
import { randomBytes } from 'node:crypto';
import { STRATEGIES, type Chat, type Strategy, type ThreadInfo } from './envelope';
import { composeKey } from './keys';

export interface ThreadRecord {
  id: string;
  /** Empty for per-message threads, which nothing else can join. */
  key: string;
  strategy: Strategy;
  createdAt: number;
  lastActiveAt: number;
  /** Inbound messages seen in this thread. */
  turn: number;
  /** Idle time after which the next message starts a new thread; 0 = never. */
  sessionMs: number;
  platform: string;
  chatJid: string;
  userJid: string;
}

/** The persisted form of the thread map: one array per field, index i is thread i. */
export interface ThreadColumns {
  ids: string[];
  keys: string[];
  /** Index into STRATEGIES. */
  strategies: number[];
  createdAt: number[];
  lastActiveAt: number[];
  turns: number[];
  sessionMs: number[];
  /** Index into platformNames: a million repetitions of "telegram" cost 11 MB. */
  platforms: number[];
  platformNames: string[];
  chatJids: string[];
  /** null where the user is the chat (direct chats, the common case). */
  userJids: Array<string | null>;
}

export type ThreadChat = Pick<Chat, 'platform' | 'channelId' | 'chatId' | 'threadId' | 'userId' | 'chatJid' | 'userJid'>;

/** Per-message threads have no key to expire by; they are kept this long for late replies and listing. */
export const PER_MESSAGE_RETENTION_MS = 24 * 60 * 60 * 1000;

export function threadKey(strategy: Strategy, chat: ThreadChat): string {
  switch (strategy) {
    case 'per-user':
      return composeKey(['u', chat.platform, chat.channelId, chat.userId]);
    case 'per-conversation':
      return composeKey(
        chat.threadId
          ? ['c', chat.platform, chat.channelId, chat.chatId, chat.threadId]
          : ['c', chat.platform, chat.channelId, chat.chatId],
      );
    case 'single':
      return composeKey(['s', chat.platform, chat.channelId]);
    case 'per-message':
      return '';
  }
}

/** Random bytes fetched in blocks: one call into the OS per 455 thread ids instead of one each. */
const POOL_SIZE = 4096;
const ID_BYTES = 9;
let pool = Buffer.alloc(0);
let poolOffset = 0;

export function newThreadId(): string {
  if (poolOffset + ID_BYTES > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const id = 'th_' + pool.toString('base64url', poolOffset, poolOffset + ID_BYTES);
  poolOffset += ID_BYTES;
  return id;
}

export interface ResolveOptions {
  strategy: Strategy;
  sessionMs: number;
  now: number;
  /** Start a new thread even if the current one is alive (a reset command). */
  reset?: boolean;
}

export interface Resolution {
  record: ThreadRecord;
  isNew: boolean;
  /** Why a new thread was started: first message, idle expiry, or a reset. */
  cause?: 'first' | 'expired' | 'reset';
  /** The thread this one replaced, if any (its memory should be cleared). */
  replaced?: ThreadRecord;
}

export interface ListQuery {
  offset?: number;
  limit?: number;
  /** Substring match on id, key, chat or user JID. */
  q?: string;
}

/** A thread as one row of a row store: its key (the id for per-message threads) and a compact array. */
export type ThreadRow = [id: string, strategy: number, createdAt: number, lastActiveAt: number, turn: number, sessionMs: number, platform: string, chatJid: string, userJid: string | null];

export function threadRowKey(record: Pick<ThreadRecord, 'id' | 'key'>): string {
  return record.key || record.id;
}

export function encodeThreadRow(r: ThreadRecord): ThreadRow {
  return [r.id, STRATEGIES.indexOf(r.strategy), r.createdAt, r.lastActiveAt, r.turn, r.sessionMs, r.platform, r.chatJid, r.userJid === r.chatJid ? null : r.userJid];
}

/** The record a row holds, or undefined when the row is not one (a damaged or foreign value). */
export function decodeThreadRow(rowKey: string, value: unknown): ThreadRecord | undefined {
  if (!Array.isArray(value) || value.length !== 9) return undefined;
  const [id, s, createdAt, lastActiveAt, turn, sessionMs, platform, chatJid, userJid] = value as unknown[];
  const strategy = typeof s === 'number' ? STRATEGIES[s] : undefined;
  if (typeof id !== 'string' || !strategy || typeof platform !== 'string' || typeof chatJid !== 'string') return undefined;
  if (typeof createdAt !== 'number' || typeof lastActiveAt !== 'number' || typeof turn !== 'number' || typeof sessionMs !== 'number') return undefined;
  if (userJid !== null && typeof userJid !== 'string') return undefined;
  // Keyless (per-message) threads are stored under their id; a thread key never starts with 'th_'.
  const key = rowKey === id ? '' : rowKey;
  return { id, key, strategy, createdAt, lastActiveAt, turn, sessionMs, platform, chatJid, userJid: userJid ?? chatJid };
}

/** What `msg.thread` carries of a resolution. */
export function threadInfo(resolution: Resolution): ThreadInfo {
  const r = resolution.record;
  return { id: r.id, key: r.key, strategy: r.strategy, isNew: resolution.isNew, turn: r.turn };
}

function isIdle(record: ThreadRecord, now: number): boolean {
  return record.sessionMs > 0 && now - record.lastActiveAt > record.sessionMs;
}

export class ThreadMap {
  /** Keyed threads (every strategy but per-message): the one lookup on the hot path. */
  private readonly byKey = new Map<string, ThreadRecord>();
  /** Per-message threads, which have no key, by id. */
  private readonly keyless = new Map<string, ThreadRecord>();
  /**
   * Lookup by id is rare (the admin API ending a thread), so its index is built on first use and
   * kept up to date from then on: a million threads load and live with one Map entry each, not two.
   */
  private idIndex: Map<string, ThreadRecord> | undefined;

  get size(): number {
    return this.byKey.size + this.keyless.size;
  }

  resolve(chat: ThreadChat, opts: ResolveOptions): Resolution {
    return this.resolveAt(chat, opts.strategy, opts.sessionMs, opts.now, opts.reset === true);
  }

  /** resolve() with its options as arguments: the gateway's hot path allocates no options object. */
  resolveAt(chat: ThreadChat, strategy: Strategy, sessionMs: number, now: number, reset: boolean): Resolution {
    const key = threadKey(strategy, chat);
    const current = key ? this.byKey.get(key) : undefined;
    if (current && !reset && !isIdle(current, now)) {
      current.turn += 1;
      current.lastActiveAt = now;
      current.sessionMs = sessionMs;
      return { record: current, isNew: false };
    }
    if (current) this.remove(current);
    const record: ThreadRecord = {
      id: newThreadId(),
      key,
      strategy,
      createdAt: now,
      lastActiveAt: now,
      // The reset command itself does not count as a turn of the new thread.
      turn: reset ? 0 : 1,
      sessionMs,
      platform: chat.platform,
      chatJid: chat.chatJid,
      userJid: chat.userJid,
    };
    this.add(record);
    const cause = reset ? 'reset' : current ? 'expired' : 'first';
    return { record, isNew: true, cause, replaced: current };
  }

  get(id: string): ThreadRecord | undefined {
    return this.index().get(id);
  }

  /** The thread stored under a row key (its key, or its id when it has none). */
  getByRowKey(rowKey: string): ThreadRecord | undefined {
    return this.byKey.get(rowKey) ?? this.keyless.get(rowKey);
  }

  /** The row key of every thread (a row store's import). */
  *rowKeys(): IterableIterator<string> {
    yield* this.byKey.keys();
    yield* this.keyless.keys();
  }

  /** Takes a thread read back from a row store (while warming up) unless its row key is already held. */
  absorb(record: ThreadRecord): void {
    if (!this.getByRowKey(threadRowKey(record))) this.add(record);
  }

  /** Ends a thread; the next message on its key starts a new one. */
  end(id: string): ThreadRecord | undefined {
    const record = this.index().get(id);
    if (record) this.remove(record);
    return record;
  }

  /** Drops threads idle past their session (and old per-message threads); returns what was dropped. */
  sweep(now: number): ThreadRecord[] {
    const dropped: ThreadRecord[] = [];
    for (const record of this.records()) {
      const ttl = record.key ? record.sessionMs : record.sessionMs || PER_MESSAGE_RETENTION_MS;
      if (ttl > 0 && now - record.lastActiveAt > ttl) dropped.push(record);
    }
    for (const record of dropped) this.remove(record);
    return dropped;
  }

  list(query: ListQuery = {}): { total: number; items: ThreadRecord[] } {
    const offset = Math.max(0, Math.floor(query.offset ?? 0));
    const limit = Math.min(500, Math.max(1, Math.floor(query.limit ?? 50)));
    const q = query.q?.toLowerCase();
    // Newest first among equal activity times (the stable sort keeps this order for ties).
    const all = Array.from(this.records()).reverse();
    const matching = q
      ? all.filter((r) => [r.id, r.key, r.chatJid, r.userJid].some((s) => s.toLowerCase().includes(q)))
      : all;
    // Most recently active first. Sorting here (an admin call) keeps resolve, the hot path, to one lookup.
    matching.sort((a, b) => b.lastActiveAt - a.lastActiveAt);
    return { total: matching.length, items: matching.slice(offset, offset + limit) };
  }

  /**
   * Column arrays rather than one object per thread: a million threads serialise and parse several
   * times faster without a million repetitions of the field names.
   */
  snapshot(): ThreadColumns {
    const n = this.size;
    const c: ThreadColumns = {
      ids: new Array(n), keys: new Array(n), strategies: new Array(n), createdAt: new Array(n), lastActiveAt: new Array(n),
      turns: new Array(n), sessionMs: new Array(n), platforms: new Array(n), platformNames: [], chatJids: new Array(n), userJids: new Array(n),
    };
    const platformIndex = new Map<string, number>();
    let i = 0;
    for (const r of this.records()) {
      c.ids[i] = r.id;
      c.keys[i] = r.key;
      c.strategies[i] = STRATEGIES.indexOf(r.strategy);
      c.createdAt[i] = r.createdAt;
      c.lastActiveAt[i] = r.lastActiveAt;
      c.turns[i] = r.turn;
      c.sessionMs[i] = r.sessionMs;
      let p = platformIndex.get(r.platform);
      if (p === undefined) {
        p = c.platformNames.push(r.platform) - 1;
        platformIndex.set(r.platform, p);
      }
      c.platforms[i] = p;
      c.chatJids[i] = r.chatJid;
      c.userJids[i] = r.userJid === r.chatJid ? null : r.userJid;
      i++;
    }
    return c;
  }

  /** Restores a snapshot; rows with a wrong type anywhere are skipped rather than trusted. */
  restore(data: unknown): void {
    this.byKey.clear();
    this.keyless.clear();
    this.idIndex = undefined;
    if (!data || typeof data !== 'object' || Array.isArray(data)) return;
    const c = data as Partial<ThreadColumns>;
    const cols = [c.ids, c.keys, c.strategies, c.createdAt, c.lastActiveAt, c.turns, c.sessionMs, c.platforms, c.chatJids, c.userJids];
    if (!Array.isArray(c.platformNames)) return;
    const platformNames = c.platformNames;
    if (!cols.every(Array.isArray)) return;
    const n = c.ids!.length;
    if (!cols.every((col) => (col as unknown[]).length === n)) return;
    const { ids, keys, strategies, createdAt, lastActiveAt, turns, sessionMs, platforms, chatJids } = c as ThreadColumns;
    const userJids = c.userJids as Array<string | null>;
    // A plain loop with inline checks: this runs a million times on a restart with 1M threads.
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const key = keys[i];
      const strategy = typeof strategies[i] === 'number' ? STRATEGIES[strategies[i]] : undefined;
      const created = createdAt[i];
      const active = lastActiveAt[i];
      const turn = turns[i];
      const session = sessionMs[i];
      const platform = platformNames[platforms[i]];
      const chatJid = chatJids[i];
      const userJid = userJids[i] ?? chatJid;
      if (typeof id !== 'string' || typeof key !== 'string' || typeof strategy !== 'string') continue;
      if (typeof created !== 'number' || typeof active !== 'number' || typeof turn !== 'number' || typeof session !== 'number') continue;
      if (typeof platform !== 'string' || typeof chatJid !== 'string' || typeof userJid !== 'string') continue;
      this.add({ id, key, strategy, createdAt: created, lastActiveAt: active, turn, sessionMs: session, platform, chatJid, userJid });
    }
  }

  private add(record: ThreadRecord): void {
    if (record.key) this.byKey.set(record.key, record);
    else this.keyless.set(record.id, record);
    this.idIndex?.set(record.id, record);
  }

  private remove(record: ThreadRecord): void {
    if (record.key) {
      if (this.byKey.get(record.key) === record) this.byKey.delete(record.key);
    } else this.keyless.delete(record.id);
    this.idIndex?.delete(record.id);
  }

  /** Every thread, keyed ones first, each in the order it was created. */
  private *records(): IterableIterator<ThreadRecord> {
    yield* this.byKey.values();
    yield* this.keyless.values();
  }

  private index(): Map<string, ThreadRecord> {
    if (!this.idIndex) {
      this.idIndex = new Map();
      for (const r of this.records()) this.idIndex.set(r.id, r);
    }
    return this.idIndex;
  }
}
