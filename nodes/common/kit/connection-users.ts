/**
 * The users of one platform connection (the mqtt-broker pattern of Node-RED's 10-mqtt.js): a
 * config node owns ONE live connection; its in and out nodes register, the connection opens with
 * the first user (receiving only while an in node is among them) and closes with the last, and
 * every status change is pushed to each user, already translated.
 *
 * Several Node-RED instances running one flow against one shared store must not all poll one bot
 * token or all open one gateway session: a connection that names a `lease` receives only while
 * this instance holds it, asked of the gateway of its receiving users (the one with the lowest
 * node id, so every instance asks the same gateway). The others run on standby — connected for
 * sending — and take over when the holder goes. A store of one instance grants the lease at once.
 */
import type { Node } from 'node-red';
import type { ChannelState } from '../../core/channels';
import { settle } from '../../core/guard';
import { errorText } from '../../core/error-text';

/** Where a user node shows the connection's status: a ChannelLink from linkChannel fits. */
export interface StatusSink {
  status(state: ChannelState, text: string, message?: string): void;
}

/** Grants a lease among the instances sharing a store: the gateway runtime's `exclusive`. */
export interface LeaseGrant {
  exclusive(name: string, onChange: (held: boolean) => void): () => void;
}

export interface RegisterOptions {
  sink?: StatusSink;
  /** true for in nodes: the connection then receives events (polling, socket, webhook). */
  receive?: boolean;
  /** A receiver's gateway, which grants the connection's lease (see ManagedConnection.lease). */
  gateway?: LeaseGrant;
  /** What a receiver shows while another instance holds the lease (translated); default: the connection's status. */
  standby?: string;
}

/** What the kit needs of a platform connection. */
export interface ManagedConnection<S extends { state: ChannelState; message?: string }> {
  readonly status: S;
  /** The lease receiving needs across instances (`telegram-poll:<hash>`); undefined: none. */
  readonly lease?: string;
  /**
   * Opens the connection; `receive` also starts receiving; `standby` (another instance holds the
   * lease) leaves out what must run once. Idempotent; a later call wins.
   */
  start(receive: boolean, standby?: boolean): Promise<void>;
  /** Resolves once the connection is closed for good (no socket or poll left behind). */
  stop(): Promise<void>;
}

interface User {
  node: Node;
  receive: boolean;
  sink?: StatusSink;
  gateway?: LeaseGrant;
  standby?: string;
}

interface Lease {
  gateway: LeaseGrant;
  held: boolean;
  /** Set once `exclusive` has returned: an answer before that is the first, given at once. */
  release?: () => void;
}

const FILL: Record<ChannelState, 'green' | 'yellow' | 'red' | 'grey'> = { connected: 'green', connecting: 'yellow', error: 'red', stopped: 'grey' };

export interface ConnectionUsersOptions<S> {
  /** The status text a user sees for a connection status. */
  text(status: S): string;
  /** A start that failed outside the connection's own handling (logged by the config node). */
  onStartError(error: unknown): void;
  /** The status a new user sees while a stopped connection starts (default: the status as is). */
  starting?(status: S): S;
}

/**
 * How long a config node's close waits for its users to finish theirs: an out node closing for a
 * redeploy finishes the sends under way on the live connection (see runOutNode) before it lets go.
 */
export const USERS_CLOSE_WAIT_MS = 5000;

export class ConnectionUsers<S extends { state: ChannelState; message?: string }> {
  private readonly users = new Map<string, User>();
  private lease: Lease | undefined;
  private readonly emptied: Array<() => void> = [];

  /** `connection` undefined: the config node is unusable and `problem` says why to every user. */
  constructor(
    private readonly connection: ManagedConnection<S> | undefined,
    private readonly problem: string | undefined,
    private readonly opts: ConnectionUsersOptions<S>,
  ) {}

  get size(): number {
    return this.users.size;
  }

  get receiving(): boolean {
    for (const u of this.users.values()) if (u.receive) return true;
    return false;
  }

  /** True while receiving waits for a lease another instance holds. */
  get standby(): boolean {
    return this.lease !== undefined && !this.lease.held;
  }

  register(node: Node, options: RegisterOptions = {}): void {
    const u: User = {
      node,
      receive: options.receive === true,
      ...(options.sink ? { sink: options.sink } : {}),
      ...(options.gateway ? { gateway: options.gateway } : {}),
      ...(options.standby !== undefined ? { standby: options.standby } : {}),
    };
    this.users.set(node.id, u);
    if (!this.connection) return show(u, 'error', this.problem ?? '', this.problem);
    const started = this.sync();
    const now = this.connection.status;
    const s = now.state === 'stopped' && this.opts.starting ? this.opts.starting(now) : now;
    this.showTo(u, s.state === 'stopped' ? 'connecting' : s.state, this.opts.text(s), s.message);
    settle(started, this.opts.onStartError);
  }

  deregister(node: Node, done?: () => void): void {
    this.users.delete(node.id);
    if (this.users.size === 0) this.emptied.splice(0).forEach((w) => w());
    const finish = () => done?.();
    if (!this.connection) return finish();
    if (this.users.size === 0) this.stopThenRelease().then(finish, finish);
    else this.sync().then(finish, finish);
  }

  /** Shows a connection status on every user. */
  push(status: S, message = status.message): void {
    const text = this.opts.text(status);
    for (const u of this.users.values()) this.showTo(u, status.state, text, message);
  }

  /**
   * On the config node's close: forget the users and stop the connection, then `done`. A redeploy
   * closes the users first: in nodes have let go by now, and an out node may still be finishing a
   * send (see runOutNode); with only such users left, the stop waits for them, `waitMs` at most.
   */
  close(done: () => void, waitMs = USERS_CLOSE_WAIT_MS): void {
    if (!this.connection) {
      this.users.clear();
      return done();
    }
    const stop = () => {
      this.users.clear();
      // Awaited: Node-RED starts the next deploy's nodes only after this, so no second connection.
      this.stopThenRelease().then(
        () => done(),
        () => done(),
      );
    };
    if (this.users.size === 0 || this.receiving) return stop();
    let timer: NodeJS.Timeout | undefined;
    const gone = new Promise<void>((r) => this.emptied.push(r));
    const waited = new Promise<void>((r) => (timer = setTimeout(r, waitMs)));
    void Promise.race([gone, waited]).then(() => {
      clearTimeout(timer);
      stop();
    });
  }

  /** The poll (or session) has ended before the lease goes, so another instance never overlaps it. */
  private stopThenRelease(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    return this.connection!.stop().finally(() => lease?.release?.());
  }

  /** Takes the lease the receivers need (or lets it go), then starts the connection to match. */
  private sync(): Promise<void> {
    this.follow();
    return this.connection!.start(this.receiving, this.standby);
  }

  /** Holds the connection's lease from the right gateway while there are receivers; releases it otherwise. */
  private follow(): void {
    const name = this.connection?.lease;
    const gateway = name ? this.leaseGateway() : undefined;
    if (this.lease?.gateway === gateway) return;
    const old = this.lease;
    this.lease = undefined;
    old?.release?.();
    if (!gateway || !name) return;
    const lease: Lease = { gateway, held: false };
    this.lease = lease;
    lease.release = gateway.exclusive(name, (held) => {
      if (this.lease !== lease || lease.held === held) return;
      lease.held = held;
      // The answer given at once (a store of one instance) comes before the start that follows.
      if (lease.release) this.leaseChanged();
    });
  }

  /** Every instance runs the same flow, so the receiver with the lowest id names the same gateway on each. */
  private leaseGateway(): LeaseGrant | undefined {
    let first: User | undefined;
    for (const u of this.users.values()) if (u.receive && u.gateway && (!first || u.node.id < first.node.id)) first = u;
    return first?.gateway;
  }

  /** Got or lost: polling (or the session) starts or stops now, and the receivers say which. */
  private leaseChanged(): void {
    if (!this.connection) return;
    settle(this.connection.start(this.receiving, this.standby), this.opts.onStartError);
    this.push(this.connection.status);
  }

  /** A receiver on standby says so, unless the connection itself has failed (a refused token is everyone's news). */
  private showTo(u: User, state: ChannelState, text: string, message?: string): void {
    if (u.receive && u.standby !== undefined && this.standby && state !== 'error') show(u, 'stopped', u.standby, u.standby);
    else show(u, state, text, message);
  }
}

function show(u: User, state: ChannelState, text: string, message?: string): void {
  if (u.sink) u.sink.status(state, text, message);
  else u.node.status({ fill: FILL[state], shape: state === 'connected' ? 'dot' : 'ring', text });
}

/** A config node that shares its connection: the API its in and out nodes call. */
export interface SharingNode extends Node {
  register(user: Node, options?: RegisterOptions): void;
  deregister(user: Node, done?: () => void): void;
}

/**
 * Gives a platform config node its users: register/deregister on the node, a stopped connection
 * shown as "connecting" to a new user, a failed start logged as `failed(message)`.
 */
export function shareConnection<S extends { state: ChannelState; key: string; message?: string }>(
  node: SharingNode,
  connection: ManagedConnection<S> | undefined,
  problem: string | undefined,
  opts: { text(status: S): string; failed(message: string): string },
): ConnectionUsers<S> {
  const users = new ConnectionUsers<S>(connection, problem, {
    text: opts.text,
    starting: (st) => ({ ...st, state: 'connecting', key: 'connecting' }),
    onStartError: (err) => node.error(opts.failed(errorText(err))),
  });
  node.register = (user, options) => users.register(user, options);
  node.deregister = (user, done) => users.deregister(user, done);
  return users;
}
