/**
 * The runtime side of a gateway config node as other nodes see it: the shared state once loaded,
 * the store link that keeps it (embedded database, JSON file, context store or Redis), and the
 * sweep timer. Channel and routing nodes reach it with `getGateway(RED, id)` and ask through `ops`.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import type { Allowlists } from '../core/allowlist';
import { GatewayState, type GatewaySettings } from '../core/gateway-state';
import { CallbackSnapshotStore, FileSnapshotStore } from '../core/persistence';
import { redact } from '../core/redact';
import type { HistoryStore } from '../core/store/rows';
import type { StateOps } from '../core/store/state-ops';
import { EmbeddedLink } from './store/embedded-link';
import { OperatorDesk } from './operator-desk';
import { PairingBook } from '../core/pairing';
import { SnapshotLink } from './store/snapshot-link';
import type { LinkContext, MessageBus, StoreHealth, StoreLink } from './store/store-link';

export interface GatewayNode extends Node {
  gateway: GatewayRuntime;
}

/** embedded: SQLite (the default); json: one JSON file; context: a Node-RED context store; redis: shared. */
export type StoreKind = 'embedded' | 'json' | 'context' | 'redis';

export interface StoreChoice {
  kind: StoreKind;
  /** Name of the Node-RED context store when kind is 'context' ('' = the default store). */
  contextStore: string;
  /** Snapshot stores: a change is written within this many ms. */
  flushMs: number;
  /** The embedded database: a change is committed within this many ms. */
  commitMs: number;
  /** Builds the Redis link (kind 'redis'); kept out of here so Redis loads only when chosen. */
  redis?: (ctx: LinkContext) => StoreLink;
}

/**
 * The editor's store choice. Flows from before the embedded database said `file` (then the
 * default) or nothing: they get the embedded database, which imports their JSON file on first start.
 */
export function storeKind(value: unknown): StoreKind {
  return value === 'json' || value === 'context' || value === 'redis' ? value : 'embedded';
}

const SWEEP_INTERVAL_MS = 60 * 1000;

/** Ids of live gateways, for the admin API. */
export const gateways = new Map<string, GatewayRuntime>();

export class GatewayRuntime {
  readonly state: GatewayState;
  readonly ready: Promise<void>;
  readonly link: StoreLink;
  /** Pending pairing codes, in process memory only: a restart forgets them (the sender asks again); approved senders are on the stored allowlist. */
  readonly pairings = new PairingBook();
  /** Takeovers and hand-off requests (in this process's memory only; see docs/operator.md). */
  readonly operator: OperatorDesk;
  private readonly sweepTimer: NodeJS.Timeout;
  /** True once `ready` has settled: the state is loaded (or started empty after a load error). */
  private loaded = false;
  /** What went wrong with the store (set aside, not readable, fallen back), for the operator. */
  storeProblem: string | undefined;

  constructor(
    readonly node: Node,
    readonly name: string,
    settings: GatewaySettings,
    choice: StoreChoice,
    RED: NodeAPI,
  ) {
    this.state = new GatewayState(settings);
    this.operator = new OperatorDesk({ log: (text) => node.log(redact(text)) });
    const ctx: LinkContext = {
      state: this.state,
      t: (key, params = {}) => RED._(key, params),
      problem: (text) => this.problem(text),
      log: (text) => node.log(redact(text)),
      warn: (text) => node.warn(redact(text)),
    };
    this.link = makeLink(node, choice, RED, ctx);
    this.ready = this.link.open().then(
      () => {
        this.loaded = true;
      },
      (err: unknown) => {
        // A link never rejects; if one does, the gateway still serves from memory and says why.
        this.problem(String((err as Error)?.message ?? err));
        this.loaded = true;
      },
    );
    this.sweepTimer = setInterval(() => {
      try {
        this.link.sweep();
      } catch (err) {
        node.warn(redact(String((err as Error)?.message ?? err)));
      }
    }, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref?.();
  }

  /** What the nodes ask of the state: the local state, or the Redis one shared by several instances. */
  get ops(): StateOps {
    return this.link.ops;
  }

  /** The allowlists the filter checks every message against (a live mirror when shared). */
  get allowlists(): Allowlists {
    return this.link.allowlists;
  }

  get history(): HistoryStore {
    return this.link.history;
  }

  /** See StoreLink.exclusive: one holder among the instances sharing the store. */
  exclusive(name: string, onChange: (held: boolean) => void): () => void {
    return this.link.exclusive(name, onChange);
  }

  /** Messages between instances sharing the store; undefined when this instance is alone. */
  get bus(): MessageBus | undefined {
    return this.link.bus;
  }

  get storeDescription(): string {
    return this.link.description;
  }

  health(): StoreHealth {
    return this.link.health();
  }

  threadCount(): number {
    return this.link.threadCount();
  }

  /** Said in the log and on the admin API's gateway list (the sidebar), for as long as the gateway runs. */
  private problem(text: string): void {
    this.storeProblem = redact(text);
    this.node.error(this.storeProblem);
  }

  /**
   * Runs `fn` once the state is loaded: at once when it is, so a message on the hot path waits for
   * no promise. Order is kept: a message that came during the load runs as soon as it ends, ahead
   * of anything Node-RED delivers after that.
   */
  whenReady(fn: () => void, failed: (err: Error) => void): void {
    if (this.loaded) fn();
    // After the load, what `fn` throws (a message a node cannot read) ends that message like a
    // throw on the hot path does, instead of becoming an unhandled rejection (which ends Node-RED).
    else
      this.ready.then(() => {
        try {
          fn();
        } catch (err) {
          failed(err instanceof Error ? err : new Error(String(err)));
        }
      }, failed);
  }

  flush(): Promise<void> {
    return this.link.flush();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.operator.close();
    await this.ready;
    await this.link.close();
  }
}

/** The folder of the gateways' stores: `<userDir>/chatgate`. */
export function stateDir(RED: NodeAPI): string {
  const settings = RED.settings as unknown as { userDir?: string };
  const dir = settings.userDir || process.env.CHATGATE_STATE_DIR || path.join(os.tmpdir(), 'chatgate');
  return path.join(dir, 'chatgate');
}

function makeLink(node: Node, choice: StoreChoice, RED: NodeAPI, ctx: LinkContext): StoreLink {
  // The node id is stable across restarts and redeploys, so the same store is found again.
  const base = path.join(stateDir(RED), `gateway-${node.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  const json = new FileSnapshotStore(`${base}.json`);
  switch (choice.kind) {
    case 'redis':
      if (choice.redis) {
        try {
          return choice.redis(ctx);
        } catch (err) {
          // A URL the client refuses (not a URL, a wrong scheme): said, and the gateway works from memory.
          ctx.problem(ctx.t('gateway.errors.badRedisUrl', { message: redact(String((err as Error)?.message ?? err)) }));
          return memoryOnly(ctx, choice);
        }
      }
      // Chosen without a URL: the gateway works from memory and says why (saving nowhere is not a guess it may make).
      ctx.problem(ctx.t('gateway.errors.noRedisUrl'));
      return memoryOnly(ctx, choice);
    case 'context':
      return new SnapshotLink(ctx, contextStore(node, choice.contextStore), choice.flushMs);
    case 'json':
      return new SnapshotLink(ctx, json, choice.flushMs);
    case 'embedded':
      break;
  }
  return new EmbeddedLink(ctx, { file: `${base}.sqlite`, legacy: json, flushMs: choice.commitMs, fallbackFlushMs: choice.flushMs });
}

/** The state in memory only, saved nowhere: what a gateway runs on when its chosen store cannot be made. */
function memoryOnly(ctx: LinkContext, choice: StoreChoice): StoreLink {
  return new SnapshotLink(ctx, new CallbackSnapshotStore('memory only (not saved)', 'none', async () => undefined, async () => undefined), choice.flushMs, true);
}

function contextStore(node: Node, name: string): CallbackSnapshotStore {
  const key = `chatgate_${node.id.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const store = name || undefined;
  const global = node.context().global;
  return new CallbackSnapshotStore(
    `context ${store ?? 'default'} ${key}`,
    key,
    (k) =>
      new Promise((resolve, reject) =>
        global.get(k, store as string, (err: Error | null | undefined, value: unknown) => (err ? reject(err) : resolve(value))),
      ),
    (k, value) =>
      new Promise<void>((resolve, reject) =>
        global.set(k, value, store as string, (err?: Error | null) => (err ? reject(err) : resolve())),
      ),
  );
}

/** Finds a deployed gateway config node's runtime, or undefined when none is selected or deployed. */
export function getGateway(RED: NodeAPI, id: string | undefined): GatewayRuntime | undefined {
  if (!id) return undefined;
  const node = RED.nodes.getNode(id) as GatewayNode | null;
  return node?.gateway;
}
