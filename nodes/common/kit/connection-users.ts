/**
 * The users of one platform connection (the mqtt-broker pattern of Node-RED's 10-mqtt.js): a
 * config node owns ONE live connection; its in and out nodes register, the connection opens with
 * the first user (receiving only while an in node is among them) and closes with the last, and
 * every status change is pushed to each user, already translated.
 */
import type { Node } from 'node-red';
import type { ChannelState } from '../../core/channels';
import { settle } from '../../core/guard';
import { errorText } from '../../core/error-text';

/** Where a user node shows the connection's status: a ChannelLink from linkChannel fits. */
export interface StatusSink {
  status(state: ChannelState, text: string, message?: string): void;
}

export interface RegisterOptions {
  sink?: StatusSink;
  /** true for in nodes: the connection then receives events (polling, socket, webhook). */
  receive?: boolean;
}

/** What the kit needs of a platform connection. */
export interface ManagedConnection<S extends { state: ChannelState; message?: string }> {
  readonly status: S;
  /** Opens the connection; `receive` also starts receiving. Idempotent; a later call wins. */
  start(receive: boolean): Promise<void>;
  /** Resolves once the connection is closed for good (no socket or poll left behind). */
  stop(): Promise<void>;
}

interface User {
  node: Node;
  receive: boolean;
  sink?: StatusSink;
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

export class ConnectionUsers<S extends { state: ChannelState; message?: string }> {
  private readonly users = new Map<string, User>();

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

  register(node: Node, options: RegisterOptions = {}): void {
    const u: User = { node, receive: options.receive === true, ...(options.sink ? { sink: options.sink } : {}) };
    this.users.set(node.id, u);
    if (!this.connection) return show(u, 'error', this.problem ?? '', this.problem);
    const now = this.connection.status;
    const s = now.state === 'stopped' && this.opts.starting ? this.opts.starting(now) : now;
    show(u, s.state === 'stopped' ? 'connecting' : s.state, this.opts.text(s), s.message);
    settle(this.connection.start(this.receiving), this.opts.onStartError);
  }

  deregister(node: Node, done?: () => void): void {
    this.users.delete(node.id);
    const finish = () => done?.();
    if (!this.connection) return finish();
    if (this.users.size === 0) this.connection.stop().then(finish, finish);
    else this.connection.start(this.receiving).then(finish, finish);
  }

  /** Shows a connection status on every user. */
  push(status: S, message = status.message): void {
    const text = this.opts.text(status);
    for (const u of this.users.values()) show(u, status.state, text, message);
  }

  /** On the config node's close: forget the users and stop the connection, then `done`. */
  close(done: () => void): void {
    this.users.clear();
    if (!this.connection) return done();
    // Awaited: Node-RED starts the next deploy's nodes only after this, so no second connection.
    this.connection.stop().then(
      () => done(),
      () => done(),
    );
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
