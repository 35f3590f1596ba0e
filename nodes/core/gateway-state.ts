/**
 * The gateway's shared state, with no Node-RED in it: threads, reply listeners, de-duplication,
 * allowlists and channels, plus the snapshot that persistence writes and reads.
 */
import type { Chat, Platform, ReplyTo, Strategy } from './envelope';
import { Allowlists } from './allowlist';
import { ChannelRegistry } from './channels';
import { DedupeWindow, dedupeKey } from './dedupe';
import { MessageLog } from './message-log';
import { SNAPSHOT_VERSION, upgradeSnapshot } from './snapshot-migrations';
import { ConversationMemory } from './memory';
import { ReplyListeners, type ListenerLookup } from './reply-listeners';
import { ThreadMap, type Resolution, type ThreadChat } from './threads';

export const MINUTE = 60 * 1000;

export interface GatewaySettings {
  defaultStrategy: Strategy;
  /** Idle time that ends a thread; 0 = never. */
  sessionMs: number;
  listenerTtlMs: number;
  dedupeWindowMs: number;
  resetCommands: string[];
}

export const DEFAULT_SETTINGS: GatewaySettings = {
  defaultStrategy: 'per-conversation',
  sessionMs: 24 * 60 * MINUTE,
  listenerTtlMs: 30 * MINUTE,
  dedupeWindowMs: 20 * MINUTE,
  resetCommands: ['/new', '/reset'],
};

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
}

export class GatewayState {
  readonly threads = new ThreadMap();
  readonly listeners: ReplyListeners;
  readonly dedupe: DedupeWindow;
  readonly allowlists = new Allowlists();
  readonly channels = new ChannelRegistry();
  readonly memory = new ConversationMemory();
  /** The last messages in and out, for the editor sidebar; memory only, never persisted. */
  readonly log = new MessageLog();
  /** Called after every change that should be persisted. */
  onChange: () => void = () => {};

  constructor(readonly settings: GatewaySettings = DEFAULT_SETTINGS) {
    this.listeners = new ReplyListeners(settings.listenerTtlMs);
    this.dedupe = new DedupeWindow(settings.dedupeWindowMs);
  }

  /** True when this message was already seen inside the window (a platform's retried delivery). */
  isDuplicate(platform: Platform, channelId: string, messageId: string, now = Date.now()): boolean {
    const dup = this.dedupe.checkAndRecord(dedupeKey(platform, channelId, messageId), now);
    if (!dup) this.onChange();
    return dup;
  }

  resolveThread(chat: ThreadChat, strategy: Strategy, sessionMs: number, reset: boolean, now = Date.now()): Resolution {
    const resolution = this.threads.resolve(chat, { strategy, sessionMs, now, reset });
    if (resolution.replaced) this.forget(resolution.replaced.id);
    this.onChange();
    return resolution;
  }

  registerListener(threadId: string, address: ReplyTo, now = Date.now()): void {
    // A copy: the address often is the message's own msg.chat.replyTo, which the flow may change later.
    this.listeners.register(threadId, { ...address }, now);
    this.onChange();
  }

  lookupListener(threadId: string, now = Date.now()): ListenerLookup {
    return this.listeners.lookup(threadId, now);
  }

  isResetCommand(chat: Pick<Chat, 'command'>, text: string, commands = this.settings.resetCommands): boolean {
    const name = chat.command?.name ?? (text.trim().startsWith('/') ? text.trim().split(/\s+/)[0] : undefined);
    if (!name) return false;
    const bare = name.replace(/^\//, '').split('@')[0].toLowerCase();
    return commands.some((c) => c.replace(/^\//, '').toLowerCase() === bare);
  }

  endThread(id: string): boolean {
    const ended = this.threads.end(id);
    if (ended) {
      this.forget(id);
      this.onChange();
    }
    return !!ended;
  }

  sweep(now = Date.now()): void {
    const dropped = this.threads.sweep(now);
    // An expired thread's memory goes with it; its listener lives out its own TTL for late replies.
    for (const t of dropped) this.memory.clear(t.id);
    const removed = this.dedupe.sweep(now) + this.listeners.sweep(now);
    if (dropped.length + removed > 0) this.onChange();
  }

  /**
   * A thread that was reset or ended loses its memory. Its reply listener lives out its TTL: a late
   * reply to the old thread still belongs to that chat.
   */
  private forget(threadId: string): void {
    this.memory.clear(threadId);
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
    return up.from === SNAPSHOT_VERSION ? { kind: 'loaded' } : { kind: 'migrated', from: up.from };
  }
}
