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
  platforms: string[];
  chatJids: string[];
  userJids: string[];
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

export function newThreadId(): string {
  return 'th_' + randomBytes(9).toString('base64url');
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

function isIdle(record: ThreadRecord, now: number): boolean {
  return record.sessionMs > 0 && now - record.lastActiveAt > record.sessionMs;
}

export class ThreadMap {
  private readonly byKey = new Map<string, ThreadRecord>();
  private readonly byId = new Map<string, ThreadRecord>();

  get size(): number {
    return this.byId.size;
  }

  resolve(chat: ThreadChat, opts: ResolveOptions): Resolution {
    const key = threadKey(opts.strategy, chat);
    const current = key ? this.byKey.get(key) : undefined;
    if (current && !opts.reset && !isIdle(current, opts.now)) {
      current.turn += 1;
      current.lastActiveAt = opts.now;
      current.sessionMs = opts.sessionMs;
      return { record: current, isNew: false };
    }
    if (current) this.remove(current);
    const record: ThreadRecord = {
      id: newThreadId(),
      key,
      strategy: opts.strategy,
      createdAt: opts.now,
      lastActiveAt: opts.now,
      // The reset command itself does not count as a turn of the new thread.
      turn: opts.reset ? 0 : 1,
      sessionMs: opts.sessionMs,
      platform: chat.platform,
      chatJid: chat.chatJid,
      userJid: chat.userJid,
    };
    this.add(record);
    const cause = opts.reset ? 'reset' : current ? 'expired' : 'first';
    return { record, isNew: true, cause, replaced: current };
  }

  get(id: string): ThreadRecord | undefined {
    return this.byId.get(id);
  }

  /** Ends a thread; the next message on its key starts a new one. */
  end(id: string): ThreadRecord | undefined {
    const record = this.byId.get(id);
    if (record) this.remove(record);
    return record;
  }

  /** Drops threads idle past their session (and old per-message threads); returns what was dropped. */
  sweep(now: number): ThreadRecord[] {
    const dropped: ThreadRecord[] = [];
    for (const record of this.byId.values()) {
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
    const all = Array.from(this.byId.values()).reverse();
    const matching = q
      ? all.filter((r) => [r.id, r.key, r.chatJid, r.userJid].some((s) => s.toLowerCase().includes(q)))
      : all;
    // Most recently active first. Sorting here (an admin call) keeps resolve, the hot path, to one lookup.
    matching.sort((a, b) => b.lastActiveAt - a.lastActiveAt);
    return { total: matching.length, items: matching.slice(offset, offset + limit) };
  }

  toInfo(resolution: Resolution): ThreadInfo {
    const r = resolution.record;
    return { id: r.id, key: r.key, strategy: r.strategy, isNew: resolution.isNew, turn: r.turn };
  }

  /**
   * Column arrays rather than one object per thread: a million threads serialise and parse several
   * times faster without a million repetitions of the field names.
   */
  snapshot(): ThreadColumns {
    const n = this.byId.size;
    const c: ThreadColumns = {
      ids: new Array(n), keys: new Array(n), strategies: new Array(n), createdAt: new Array(n), lastActiveAt: new Array(n),
      turns: new Array(n), sessionMs: new Array(n), platforms: new Array(n), chatJids: new Array(n), userJids: new Array(n),
    };
    let i = 0;
    for (const r of this.byId.values()) {
      c.ids[i] = r.id;
      c.keys[i] = r.key;
      c.strategies[i] = STRATEGIES.indexOf(r.strategy);
      c.createdAt[i] = r.createdAt;
      c.lastActiveAt[i] = r.lastActiveAt;
      c.turns[i] = r.turn;
      c.sessionMs[i] = r.sessionMs;
      c.platforms[i] = r.platform;
      c.chatJids[i] = r.chatJid;
      c.userJids[i] = r.userJid;
      i++;
    }
    return c;
  }

  /** Restores a snapshot; rows with a wrong type anywhere are skipped rather than trusted. */
  restore(data: unknown): void {
    this.byKey.clear();
    this.byId.clear();
    if (!data || typeof data !== 'object' || Array.isArray(data)) return;
    const c = data as Partial<ThreadColumns>;
    const cols = [c.ids, c.keys, c.strategies, c.createdAt, c.lastActiveAt, c.turns, c.sessionMs, c.platforms, c.chatJids, c.userJids];
    if (!cols.every(Array.isArray)) return;
    const n = c.ids!.length;
    if (!cols.every((col) => (col as unknown[]).length === n)) return;
    for (let i = 0; i < n; i++) {
      const id = c.ids![i];
      const key = c.keys![i];
      const strategy = STRATEGIES[c.strategies![i]];
      const nums = [c.createdAt![i], c.lastActiveAt![i], c.turns![i], c.sessionMs![i]];
      const strs = [c.platforms![i], c.chatJids![i], c.userJids![i]];
      if (typeof id !== 'string' || typeof key !== 'string' || !strategy) continue;
      if (!nums.every((x) => typeof x === 'number') || !strs.every((x) => typeof x === 'string')) continue;
      this.add({
        id, key, strategy,
        createdAt: nums[0], lastActiveAt: nums[1], turn: nums[2], sessionMs: nums[3],
        platform: strs[0], chatJid: strs[1], userJid: strs[2],
      });
    }
  }

  private add(record: ThreadRecord): void {
    this.byId.set(record.id, record);
    if (record.key) this.byKey.set(record.key, record);
  }

  private remove(record: ThreadRecord): void {
    this.byId.delete(record.id);
    if (record.key && this.byKey.get(record.key) === record) this.byKey.delete(record.key);
  }
}
