/**
 * The life cycle every platform's in node shares: register with the config node as a receiver,
 * take each raw event from the connection, validate it at the edge (a malformed one is logged once
 * per kind, counted and dropped, before de-duplication so a made-up id never takes a real one's
 * place), map it to the envelope, drop it if the gateway has seen it (platforms redeliver), let the
 * platform acknowledge or enrich it, and send it on. The platform supplies the schema, the mapping
 * and the acknowledgement.
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import type { Chat, Platform } from '../../core/envelope';
import { RejectTally, type Parsed } from '../../core/kit/edge';
import { errorText } from '../../core/error-text';
import { redact } from '../../core/redact';
import { linkChannel, type ChannelLink } from '../../gateway/channel-link';
import type { ConnectionOwner } from './out-node';
import { handOverLateSends } from '../late-sends';
import { claim, hold, park, release, stopGeneration, successor } from '../../core/handover';

/** A platform event as the flow will see it. */
export interface InboundMessage {
  payload: string;
  chat: Chat;
  /** Platform details beside the envelope, e.g. `{ telegram: {...} }` (no SDK objects, no tokens). */
  extras?: Record<string, unknown>;
  /** The platform's id of this event within the channel (update id, channel + ts, interaction id). */
  dedupeKey: string;
}

export interface InNodeSpec<E> {
  platform: Platform;
  /** The node's catalog prefix: errors.noConfig, errors.malformed, errors.malformedSummary. */
  catalog: string;
  gatewayId: string | undefined;
  name: string;
  owner: ConnectionOwner | undefined;
  /** The config node's channel id (the envelope's channelId). */
  channelId: string | undefined;
  /** Subscribes to the connection's raw events; returns the unsubscribe. Called once, before register. */
  subscribe(handler: (raw: unknown) => Promise<void>): (() => void) | undefined;
  parse(raw: unknown): Parsed<E>;
  /** The envelope, or undefined for an event that is not a message for the flow (a bot's, not addressed...). */
  map(event: E): InboundMessage | undefined;
  /** Once, for an event that will reach the flow (answer a button press, ack a command); must not throw. */
  accepted?(event: E, message: InboundMessage): void;
  /** Adds to the message before it leaves (downloaded files). */
  enrich?(event: E, message: InboundMessage, msg: NodeMessage & Record<string, unknown>): Promise<void>;
  /**
   * The node's status (translated) while another instance of the flow holds the lease its
   * connection's receiving needs (a Telegram poller, a Discord gateway session); undefined when
   * the connection receives on every instance alike (a webhook).
   */
  standby?: string;
}

/** An in node listening, as the next deploy's node of its id finds it (core/handover.ts). */
interface Listening {
  take(raw: unknown): Promise<void>;
  /** The connection's users it listens through: the same object after a deploy of changed nodes only. */
  owner: unknown;
  stop(): void;
}

export interface InNode {
  link: ChannelLink;
  /** Whether the node was closed (work after an await checks this). */
  readonly closed: boolean;
}

export function runInNode<E>(RED: NodeAPI, node: Node, spec: InNodeSpec<E>): InNode {
  // An event taken just before a redeploy closes the node (the platform was told it arrived) leaves from the next deploy's node.
  handOverLateSends(RED, node);
  const link = linkChannel(RED, node, spec.gatewayId, { platform: spec.platform, direction: 'in', name: spec.name });
  const gateway = link.gateway;
  const rejected = new RejectTally();
  let unsubscribe: (() => void) | undefined;
  const state = { link, closed: false };
  /**
   * Set when a redeploy closes the node: events the connection still hands over (the platform was
   * told they arrived: an ack, a 200, a confirmed update) are kept, as they came, for the next
   * deploy's node. The connection stops soon after (its config node closes too).
   */
  let after: unknown[] | undefined;
  const parkedKey = `in-events:${node.id}`;
  /** This node as the next deploy's node of its id finds it (set once it listens). */
  let listening: Listening | undefined;

  const fail = (message: string) => {
    link.status('error', message, message);
    node.error(message);
  };

  node.on('close', (removed: boolean, done: () => void) => {
    state.closed = true;
    if (removed) {
      unsubscribe?.();
      release(parkedKey, listening);
    } else after = [];
    link.close();
    // Each kind was logged once; the counts say how much of it there was.
    if (rejected.total > 0) node.warn(RED._(`${spec.catalog}.errors.malformedSummary`, { count: String(rejected.total), kinds: rejected.summary() }));
    if (spec.owner) spec.owner.deregister(node, done);
    else done();
  });

  if (!spec.owner || !spec.channelId) {
    fail(RED._(`${spec.catalog}.errors.noConfig`));
    return state;
  }
  if (!gateway) {
    fail(RED._('chatgate.errors.noGateway'));
    return state;
  }
  const channelId = spec.channelId;

  async function handle(raw: unknown): Promise<void> {
    if (state.closed) return;
    const parsed = spec.parse(raw);
    if (!parsed.ok) {
      if (rejected.note(parsed.kind)) node.warn(RED._(`${spec.catalog}.errors.malformed`, { kind: parsed.kind, problem: parsed.problem }));
      return;
    }
    const message = spec.map(parsed.value);
    if (!message) return;
    await gateway!.ready;
    if (state.closed) {
      // Not seen yet: the next deploy's node takes it from the start (a removed node drops it).
      if (after) {
        after.push(raw);
        park(parkedKey, after);
      }
      return;
    }
    const msg = { payload: message.payload, chat: message.chat, ...(message.extras ?? {}) } as NodeMessage & Record<string, unknown>;
    let duplicate: boolean;
    try {
      duplicate = await gateway!.ops.isDuplicate(spec.platform, channelId, message.dedupeKey);
    } catch (err) {
      // The shared store is down and the operator chose to fail: the message goes to Catch nodes
      // with the reason, never silently away.
      node.error(redact(RED._('chatgate.errors.storeFailed', { message: errorText(err) })), msg);
      return;
    }
    // Past this point the event counts as seen: it goes on even if the node closed meanwhile (a
    // redeploy hands it to the next deploy's node; a node removed from the flow sends it nowhere).
    if (duplicate) return;
    spec.accepted?.(parsed.value, message);
    if (spec.enrich) await spec.enrich(parsed.value, message, msg);
    node.send(msg);
  }

  const take = (raw: unknown): Promise<void> =>
    handle(raw).catch((err: unknown) => {
      // A handler failure is one event's problem; the connection and the next event go on.
      node.error(redact(RED._('chatgate.status.error', { message: errorText(err) })));
    });
  const self: Listening = (listening = { take, owner: spec.owner, stop: () => unsubscribe?.() });
  const generation = stopGeneration();
  unsubscribe = spec.subscribe((raw) => {
    if (!after) return take(raw);
    // The flows stopped with no deploy: the event is nobody's (the platform delivers it again).
    if (stopGeneration() !== generation) return Promise.resolve();
    const next = successor<Listening>(parkedKey, self);
    if (next) {
      // The next deploy's node is up. On the same connection it hears this event itself: this
      // node stops listening. From a connection a full redeploy is stopping (its events still
      // being handed out one after another), the event goes to the next node directly; parked, it
      // would wait for a node that has already claimed what was parked.
      if (next.owner === spec.owner) {
        self.stop();
        return Promise.resolve();
      }
      return next.take(raw);
    }
    after.push(raw);
    park(parkedKey, after);
    return Promise.resolve();
  });
  // The previous deploy's node of this id on the same connection (a deploy of changed nodes only)
  // stops listening: this node hears every event from now on.
  const before = successor<Listening>(parkedKey, self);
  hold(parkedKey, self);
  if (before && before.owner === spec.owner) before.stop();
  // Events the previous deploy's node of this id got while it was closing.
  for (const raw of claim<unknown[]>(parkedKey) ?? []) void take(raw);
  // The gateway grants the lease that makes this instance the one that polls (or holds the session).
  spec.owner.register(node, { sink: link, receive: true, gateway, ...(spec.standby !== undefined ? { standby: spec.standby } : {}) });
  return state;
}
