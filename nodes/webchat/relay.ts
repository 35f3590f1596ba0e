/**
 * One web chat served by several Node-RED instances (the same flow, a gateway kept in Redis): a
 * visitor's page is connected to one instance, while the reply may be produced on another (a
 * late reply, a message the load balancer sent elsewhere). The instances meet on the gateway's
 * bus:
 *  - each instance subscribes, for every visitor with a page open on it, to that visitor's topic;
 *  - a reply for a visitor with no page here is published on the visitor's topic, and the count
 *    of receivers Redis answers with says whether an instance has the visitor (it delivers the
 *    frame to its sockets): 0 means nobody has, and the reply waits here as on one instance;
 *  - a reply for a visitor with a page here is shown here at once, and a copy goes to the
 *    visitor's pages (other tabs) on other instances, which show it only while they have one;
 *  - a visitor opening a page says so on the web chat's topic, and the instances holding replies
 *    that waited for that visitor send them on.
 * Streamed parts and typing signals travel the same way, in the order they were published.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { MessageBus } from '../gateway/store/store-link';
import { USER_ID_PATTERN, type ServerFrame } from './frames';
import type { RemoteDelivery, WebchatHub } from './hub';

const RelayedFrame = z.union([
  z.object({
    type: z.literal('reply'),
    id: z.string().max(256),
    text: z.string(),
    streamId: z.string().max(256).optional(),
    seq: z.number().int().nonnegative().optional(),
    done: z.boolean().optional(),
  }),
  z.object({ type: z.literal('typing') }),
]);

/** On a visitor's topic: the frame, which instance sent it, and whether that instance showed it already. */
const Relayed = z.object({ from: z.string(), frame: RelayedFrame, copy: z.boolean() });

const Online = z.object({ online: z.string().regex(USER_ID_PATTERN) });

export class WebchatRelay implements RemoteDelivery {
  /** This instance's name on the bus (its own publishes come back to it). */
  private readonly self = randomUUID();
  private readonly topic: string;
  /** Said once per outage, not once per frame. */
  private failing = false;
  /** The visitors with a page open here, each with the unsubscribe of their topic. */
  private readonly visitors = new Map<string, () => void>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly hub: WebchatHub,
    private readonly bus: MessageBus,
    private readonly onError: (err: unknown) => void,
  ) {
    this.topic = `webchat:${hub.channelId}`;
    hub.remote = this;
    hub.onUserOnline = (userId) => this.online(userId);
    hub.onUserOffline = (userId) => this.offline(userId);
    this.unsubscribe = bus.subscribe(this.topic, (message) => this.announced(message));
  }

  /** How many other instances have a page of the user open (and got the frame); 0 when Redis cannot be reached. */
  send(userId: string, frame: ServerFrame): Promise<number> {
    return this.publish(this.userTopic(userId), { from: this.self, frame, copy: false }).then((n) => n ?? 0);
  }

  copy(userId: string, frame: ServerFrame): void {
    void this.publish(this.userTopic(userId), { from: this.self, frame, copy: true });
  }

  close(): void {
    this.hub.remote = undefined;
    this.unsubscribe();
    for (const off of this.visitors.values()) off();
    this.visitors.clear();
  }

  private userTopic(userId: string): string {
    return `${this.topic}:u:${userId}`;
  }

  /** The count of receivers, or undefined when Redis could not be reached (said once until it can again). */
  private publish(topic: string, message: unknown): Promise<number | undefined> {
    return this.bus.publish(topic, message).then(
      (n) => {
        this.failing = false;
        return n;
      },
      (err: unknown) => {
        if (!this.failing) this.onError(err);
        this.failing = true;
        return undefined;
      },
    );
  }

  private online(userId: string): void {
    if (!this.visitors.has(userId)) {
      this.visitors.set(
        userId,
        this.bus.subscribe(this.userTopic(userId), (message) => {
          const relayed = Relayed.safeParse(message);
          if (!relayed.success || relayed.data.from === this.self) return;
          // A page that closed meanwhile: a frame nobody else showed waits here, as any reply
          // for an absent user; a copy (shown where it was produced) is not kept.
          if (!relayed.data.copy || this.hub.isOnline(userId)) this.hub.deliver(userId, relayed.data.frame);
        }),
      );
    }
    // Announced only once Redis has the subscription: the replies that waited elsewhere are sent
    // as soon as they hear of it, and would find no receiver here (and wait again) before that.
    const announce = () => void this.publish(this.topic, { online: userId });
    const ready = this.bus.subscribed?.(this.userTopic(userId));
    if (ready) void ready.then(announce);
    else announce();
  }

  private offline(userId: string): void {
    this.visitors.get(userId)?.();
    this.visitors.delete(userId);
  }

  /** A visitor opened a page on some instance: the replies that waited for them here go there. */
  private announced(message: unknown): void {
    const parsed = Online.safeParse(message);
    if (!parsed.success) return;
    const userId = parsed.data.online;
    if (this.hub.isOnline(userId)) return;
    for (const frame of this.hub.take(userId)) {
      void this.send(userId, frame).then((reached) => {
        // Gone again before it arrived: it waits here for the next time.
        if (reached === 0) this.hub.deliver(userId, frame);
      });
    }
  }
}
