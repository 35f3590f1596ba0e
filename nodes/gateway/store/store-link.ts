/**
 * How a gateway keeps its state: one link per kind of store (the embedded database, the JSON
 * file or a context store as one snapshot, Redis shared by several instances). The runtime opens
 * one at start, flushes it, and closes it; what the nodes ask goes through `ops`.
 */
import type { Allowlists } from '../../core/allowlist';
import type { GatewayState } from '../../core/gateway-state';
import type { HistoryStore } from '../../core/store/rows';
import type { StateOps } from '../../core/store/state-ops';

export type StoreHealth = 'ready' | 'warming' | 'connecting' | 'down' | 'not saving';

export interface StoreLink {
  /** What the operator sees: `sqlite /path/gateway-x.sqlite`, `file ...`, `redis 127.0.0.1:6379`. Never a secret. */
  readonly description: string;
  readonly ops: StateOps;
  readonly allowlists: Allowlists;
  readonly history: HistoryStore;
  /** Loads what is stored; never rejects (problems are said through `problem`). */
  open(): Promise<void>;
  health(): StoreHealth;
  /** Threads known, without a round trip (a shared store's is refreshed in the background). */
  threadCount(): number;
  /** The sweep timer's work: idle threads, old keys, the history's retention. */
  sweep(): void;
  /**
   * Calls `onChange(true)` while this instance holds the named lease, `onChange(false)` when it
   * loses it (one poller per bot token, one gateway session per Discord bot). A store of one
   * instance holds every lease at once. Returns the release.
   */
  exclusive(name: string, onChange: (held: boolean) => void): () => void;
  /** Messages between the instances sharing the store (a reply for a socket another instance holds); undefined for one instance. */
  readonly bus?: MessageBus;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface MessageBus {
  publish(topic: string, message: unknown): Promise<number>;
  /** Every message published on the topic, this instance's own included; returns the unsubscribe. */
  subscribe(topic: string, handler: (message: unknown) => void): () => void;
  /** Resolves once a message published from now on reaches this instance's subscription (a shared bus confirms it). */
  subscribed?(topic: string): Promise<void>;
}

/** What the stores of one instance share: the local state answers everything, and every lease is held. */
export abstract class LocalLink {
  constructor(protected readonly ctx: LinkContext) {}

  get ops(): StateOps {
    return this.ctx.state;
  }
  get allowlists(): Allowlists {
    return this.ctx.state.allowlists;
  }
  get history(): HistoryStore {
    return this.ctx.state.history;
  }

  threadCount(): number {
    return this.ctx.state.threads.size;
  }

  sweep(): void {
    this.ctx.state.sweep();
  }

  /** Alone, this instance holds every lease: at once, for as long as it runs. */
  exclusive(_name: string, onChange: (held: boolean) => void): () => void {
    onChange(true);
    return () => undefined;
  }
}

/** What a link needs from its gateway: the state, the translator, and where to say a problem. */
export interface LinkContext {
  state: GatewayState;
  t: (key: string, params?: Record<string, string>) => string;
  /** Said in the log and on the admin API for as long as the gateway runs. */
  problem: (text: string) => void;
  log: (text: string) => void;
  warn: (text: string) => void;
}
