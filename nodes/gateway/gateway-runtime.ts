/**
 * The runtime side of a gateway config node as other nodes see it: the shared state once loaded,
 * plus the Node-RED specifics (persistence, sweep timer). Channel and routing nodes reach it with
 * `getGateway(RED, id)`.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import { GatewayState, type GatewaySettings } from '../core/gateway-state';
import { CallbackSnapshotStore, FileSnapshotStore, Persister, type SnapshotStore } from '../core/persistence';
import { safeError } from '../core/redact';

export interface GatewayNode extends Node {
  gateway: GatewayRuntime;
}

export interface StoreChoice {
  kind: 'file' | 'context';
  /** Name of the Node-RED context store when kind is 'context' ('' = the default store). */
  contextStore: string;
  /** Persistence delay: a change is written within this many ms. */
  flushMs: number;
}

const SWEEP_INTERVAL_MS = 60 * 1000;

/** Ids of live gateways, for the admin API. */
export const gateways = new Map<string, GatewayRuntime>();

export class GatewayRuntime {
  readonly state: GatewayState;
  readonly ready: Promise<void>;
  readonly store: SnapshotStore;
  private readonly persister: Persister;
  private readonly sweepTimer: NodeJS.Timeout;
  /** True once `ready` has settled: the state is loaded (or started empty after a load error). */
  private loaded = false;
  loadError: Error | undefined;

  constructor(
    readonly node: Node,
    readonly name: string,
    settings: GatewaySettings,
    choice: StoreChoice,
    RED: NodeAPI,
  ) {
    this.state = new GatewayState(settings);
    this.store = makeStore(node, choice, RED);
    this.persister = new Persister(this.store, () => this.state.snapshot(), choice.flushMs, (err) =>
      node.error(RED._('gateway.errors.saveFailed', { message: safeError(err).message })),
    );
    this.ready = this.store.load().then(
      (data) => {
        this.state.restore(data);
        this.state.onChange = () => this.persister.markDirty();
        this.loaded = true;
      },
      (err: unknown) => {
        // A corrupt or unreadable store must not stop the gateway; it starts empty and says why.
        this.loadError = safeError(err);
        node.error(RED._('gateway.errors.loadFailed', { message: this.loadError.message }));
        this.state.onChange = () => this.persister.markDirty();
        this.loaded = true;
      },
    );
    this.sweepTimer = setInterval(() => this.state.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref?.();
  }

  /**
   * Runs `fn` once the state is loaded: at once when it is, so a message on the hot path waits for
   * no promise. Order is kept: a message that came during the load runs as soon as it ends, ahead
   * of anything Node-RED delivers after that.
   */
  whenReady(fn: () => void, failed: (err: Error) => void): void {
    if (this.loaded) fn();
    else this.ready.then(fn, failed);
  }

  flush(): Promise<void> {
    return this.persister.flush();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.ready;
    await this.persister.close();
  }
}

function makeStore(node: Node, choice: StoreChoice, RED: NodeAPI): SnapshotStore {
  if (choice.kind === 'context') {
    const key = `chatgate_${node.id.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const store = choice.contextStore || undefined;
    const global = node.context().global;
    return new CallbackSnapshotStore(
      `context ${store ?? 'default'} ${key}`,
      () =>
        new Promise((resolve, reject) =>
          global.get(key, store as string, (err: Error | null | undefined, value: unknown) => (err ? reject(err) : resolve(value))),
        ),
      (value) =>
        new Promise((resolve, reject) =>
          global.set(key, value, store as string, (err?: Error | null) => (err ? reject(err) : resolve())),
        ),
    );
  }
  const settings = RED.settings as unknown as { userDir?: string };
  const dir = settings.userDir || process.env.CHATGATE_STATE_DIR || path.join(os.tmpdir(), 'chatgate');
  // The node id is stable across restarts and redeploys, so the same file is found again.
  return new FileSnapshotStore(path.join(dir, 'chatgate', `gateway-${node.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`));
}

/** Finds a deployed gateway config node's runtime, or undefined when none is selected or deployed. */
export function getGateway(RED: NodeAPI, id: string | undefined): GatewayRuntime | undefined {
  if (!id) return undefined;
  const node = RED.nodes.getNode(id) as GatewayNode | null;
  return node?.gateway;
}
