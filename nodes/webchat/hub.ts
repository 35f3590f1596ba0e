/**
 * A webchat in node's live sessions: the open sockets of each user, and the replies waiting for a
 * user who has none open (a page reload must not lose a reply). Out nodes find the hub of the in
 * node a reply is addressed to through the module registry below; no Node-RED here.
 */
import type { ServerFrame } from './frames';

/** The part of a `ws` WebSocket the hub uses, so tests can hand it anything that records frames. */
export interface ClientSocket {
  readonly readyState: number;
  send(data: string): void;
}

const OPEN = 1;

export interface HubLimits {
  /** Replies kept per offline user; the oldest goes first. */
  maxQueued: number;
  /** How long a reply waits for its user to come back. */
  queueMs: number;
  /** Offline users with waiting replies, so a flood of made-up user ids cannot grow memory without end. */
  maxQueuedUsers: number;
}

export const DEFAULT_LIMITS: HubLimits = { maxQueued: 50, queueMs: 10 * 60 * 1000, maxQueuedUsers: 5000 };

export type Delivery = 'sent' | 'queued' | 'dropped';

/**
 * The other instances of the flow (a gateway shared through Redis), reached through the bus
 * (relay.ts): `send` resolves with how many of them have a page of the user open and got the
 * frame; `copy` hands a frame already shown here to the user's pages on other instances too.
 */
export interface RemoteDelivery {
  send(userId: string, frame: ServerFrame): Promise<number>;
  copy(userId: string, frame: ServerFrame): void;
}

interface Waiting {
  frame: ServerFrame;
  at: number;
}

export class WebchatHub {
  private readonly sockets = new Map<string, Set<ClientSocket>>();
  private readonly waiting = new Map<string, Waiting[]>();
  /** Called whenever the number of connected users changes. */
  onUsersChanged: (users: number) => void = () => {};
  /** Replies that waited for an offline user were dropped (the oldest) to keep the newest `maxQueued`. */
  onEvicted: (userId: string, count: number) => void = () => {};
  /** A user's first socket here opened / last one closed. */
  onUserOnline: (userId: string) => void = () => {};
  onUserOffline: (userId: string) => void = () => {};
  /** Set while other instances share this web chat: a reply for a user with no page here goes to them first. */
  remote: RemoteDelivery | undefined;

  constructor(
    readonly channelId: string,
    private readonly limits: HubLimits = DEFAULT_LIMITS,
  ) {}

  /** A socket now speaks for `userId`; replies that waited for the user are sent to it in order. */
  attach(userId: string, socket: ClientSocket, now = Date.now()): void {
    let set = this.sockets.get(userId);
    const isNewUser = !set;
    if (!set) this.sockets.set(userId, (set = new Set()));
    set.add(socket);
    const queued = this.waiting.get(userId);
    if (queued) {
      this.waiting.delete(userId);
      for (const w of queued) if (now - w.at <= this.limits.queueMs) send(socket, w.frame);
    }
    if (isNewUser) {
      this.onUsersChanged(this.users());
      this.onUserOnline(userId);
    }
  }

  detach(userId: string, socket: ClientSocket): void {
    const set = this.sockets.get(userId);
    if (!set?.delete(socket)) return;
    if (set.size === 0) {
      this.sockets.delete(userId);
      this.onUsersChanged(this.users());
      this.onUserOffline(userId);
    }
  }

  users(): number {
    return this.sockets.size;
  }

  isOnline(userId: string): boolean {
    return this.openSockets(userId).length > 0;
  }

  /**
   * Sends a frame to every open socket of the user. With none open, a reply waits (a streamed
   * part replaces the earlier part of its stream, since each part carries the text so far) and a
   * typing signal is dropped: it means nothing once stale.
   */
  deliver(userId: string, frame: ServerFrame, now = Date.now()): Delivery {
    const open = this.openSockets(userId);
    if (open.length > 0) {
      for (const s of open) send(s, frame);
      return 'sent';
    }
    if (frame.type !== 'reply') return 'dropped';
    this.sweep(now);
    let queue = this.waiting.get(userId);
    if (!queue) {
      if (this.waiting.size >= this.limits.maxQueuedUsers) return 'dropped';
      this.waiting.set(userId, (queue = []));
    }
    const streamId = frame.streamId;
    const earlier = streamId === undefined ? -1 : queue.findIndex((w) => w.frame.type === 'reply' && w.frame.streamId === streamId);
    if (earlier >= 0) queue.splice(earlier, 1);
    queue.push({ frame, at: now });
    if (queue.length > this.limits.maxQueued) {
      const over = queue.length - this.limits.maxQueued;
      queue.splice(0, over);
      this.onEvicted(userId, over);
    }
    return 'queued';
  }

  /**
   * Like deliver(), across instances (`remote`): the frame goes to every page of the user, here
   * and on the other instances; when no instance has one it waits here (or drops) as deliver()
   * says. Decided at once, without a promise, when the user has a page here.
   */
  route(userId: string, frame: ServerFrame): Delivery | Promise<Delivery> {
    const remote = this.remote;
    if (!remote) return this.deliver(userId, frame);
    if (this.isOnline(userId)) {
      const delivered = this.deliver(userId, frame);
      // A second tab of the user may be connected to another instance.
      remote.copy(userId, frame);
      return delivered;
    }
    return remote.send(userId, frame).then((reached) => {
      // The user may have opened a page here while the frame was on its way.
      if (this.isOnline(userId) || reached === 0) return this.deliver(userId, frame);
      return 'sent';
    });
  }

  /** Takes the replies waiting for a user out of the queue, oldest first (to send them where the user is now). */
  take(userId: string, now = Date.now()): ServerFrame[] {
    const queue = this.waiting.get(userId);
    if (!queue) return [];
    this.waiting.delete(userId);
    return queue.filter((w) => now - w.at <= this.limits.queueMs).map((w) => w.frame);
  }

  /** Takes every user's waiting replies out (a redeploy hands them to the next deploy's hub). */
  takeAll(now = Date.now()): Array<[string, ServerFrame[]]> {
    const all = [...this.waiting.keys()].map((userId): [string, ServerFrame[]] => [userId, this.take(userId, now)]);
    return all.filter(([, frames]) => frames.length > 0);
  }

  /** Replies waiting for a user (for tests and the status line). */
  queued(userId: string): number {
    return this.waiting.get(userId)?.length ?? 0;
  }

  /** Forgets replies that waited longer than the limit. */
  sweep(now = Date.now()): void {
    for (const [userId, queue] of this.waiting) {
      const fresh = queue.filter((w) => now - w.at <= this.limits.queueMs);
      if (fresh.length === 0) this.waiting.delete(userId);
      else if (fresh.length !== queue.length) this.waiting.set(userId, fresh);
    }
  }

  clear(): void {
    this.sockets.clear();
    this.waiting.clear();
  }

  private openSockets(userId: string): ClientSocket[] {
    return Array.from(this.sockets.get(userId) ?? []).filter((s) => s.readyState === OPEN);
  }
}

export function send(socket: ClientSocket, frame: ServerFrame): void {
  if (socket.readyState === OPEN) socket.send(JSON.stringify(frame));
}

/** Live hubs by webchat in node id (the `channelId` of every web chat address). */
const hubs = new Map<string, WebchatHub>();

export function registerHub(hub: WebchatHub): void {
  hubs.set(hub.channelId, hub);
}

export function unregisterHub(hub: WebchatHub): void {
  if (hubs.get(hub.channelId) === hub) hubs.delete(hub.channelId);
}

export function findHub(channelId: string): WebchatHub | undefined {
  return hubs.get(channelId);
}
