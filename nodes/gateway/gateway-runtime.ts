/**
 * The runtime side of a gateway config node as other nodes see it: the shared state once loaded,
 * plus the Node-RED specifics (persistence, sweep timer). Channel and routing nodes reach it with
 * `getGateway(RED, id)`.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import { GatewayState, SNAPSHOT_VERSION, type GatewaySettings, type RestoreOutcome } from '../core/gateway-state';
import { CallbackSnapshotStore, DamagedStoreError, FileSnapshotStore, Persister, type SnapshotStore } from '../core/persistence';
import { redact, safeError } from '../core/redact';

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
  /** What went wrong with the store at load (set aside, not readable), for the operator. */
  storeProblem: string | undefined;

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
    const t = (key: string, params: Record<string, string>) => RED._(key, params);
    this.ready = this.load(t).then(() => {
      this.state.onChange = () => this.persister.markDirty();
      this.loaded = true;
    });
    this.sweepTimer = setInterval(() => this.state.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref?.();
  }

  /**
   * Loads the state; never rejects. Nothing stored is ever lost: an older version is migrated (a
   * copy of the old store kept beside it), a store that is damaged or of a newer chatgate is set
   * aside under a new name and the gateway starts empty, and a store that cannot be read at all
   * (permissions, I/O) is never written over — the gateway runs without saving and says so.
   */
  private async load(t: (key: string, params: Record<string, string>) => string): Promise<void> {
    const where = this.store.description;
    let data: unknown;
    try {
      data = await this.store.load();
    } catch (err) {
      if (err instanceof DamagedStoreError) return this.setAside(t, 'damaged', safeError(err).message);
      this.loadError = safeError(err);
      this.persister.hold();
      this.problem(t('gateway.errors.unreadable', { store: where, message: this.loadError.message }));
      return;
    }
    let outcome: RestoreOutcome;
    try {
      outcome = this.state.restore(data);
    } catch (err) {
      // A migration or restore that throws is a damaged store too: nothing half-restored is kept.
      this.state.restore(undefined);
      return this.setAside(t, 'damaged', safeError(err).message);
    }
    if (outcome.kind === 'refused') {
      const why = outcome.reason === 'newer' ? t('gateway.errors.newerStore', { version: String(outcome.version) }) : t('gateway.errors.notAStore', {});
      return this.setAside(t, outcome.reason === 'newer' ? `v${String(outcome.version)}` : 'damaged', why);
    }
    if (outcome.kind === 'migrated') {
      let copy = '';
      try {
        copy = await this.store.keepCopy(`v${outcome.from}`);
      } catch (err) {
        // Without a copy the old store would be gone with the next save: keep it, run without saving.
        this.loadError = safeError(err);
        this.persister.hold();
        this.problem(t('gateway.errors.unreadable', { store: where, message: this.loadError.message }));
        return;
      }
      this.node.log(t('gateway.log.migrated', { from: String(outcome.from), to: String(SNAPSHOT_VERSION), copy }));
      // Written in the new version soon, so the migration runs once.
      this.persister.markDirty();
    }
  }

  private async setAside(t: (key: string, params: Record<string, string>) => string, label: string, reason: string): Promise<void> {
    this.loadError = new Error(reason);
    try {
      const aside = await this.store.setAside(label);
      this.problem(t('gateway.errors.setAside', { store: this.store.description, reason, aside }));
    } catch (err) {
      this.persister.hold();
      this.problem(t('gateway.errors.unreadable', { store: this.store.description, message: `${reason}; ${safeError(err).message}` }));
    }
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
