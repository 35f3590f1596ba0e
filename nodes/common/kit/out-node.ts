/**
 * The life cycle every platform's out node shares: read the outbound message (the envelope's
 * reply address), let the platform prepare its reply (address, buttons, media), deliver it through
 * the platform's sender, show what happened in a coalesced status, end each message with done() or
 * done(err) for Catch nodes, serve the gateway's admin send API, and clean up on close.
 *
 * The platform's out node only wires: its catalog prefix, config node, `prepare`, its sender and
 * how to describe its errors.
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import type { OutboundReply } from '../../core/channels';
import { ChatQueueClosedError } from '../../core/delivery';
import type { Platform, Result } from '../../core/envelope';
import { toJid } from '../../core/jid';
import { readOutbound, type Outbound } from '../../core/outbound';
import { redact, safeError } from '../../core/redact';
import { NoConnectionError, type Delivered, type KitAddress, type KitReply, type ParkedStream } from '../../core/kit/channel-sender';
import { Stopped } from '../../core/kit/live-connection';
import { claim, forgetUnlessRedeploy, park } from '../../core/handover';
import { handOverLateSends } from '../late-sends';
import { linkChannel, type ChannelLink } from '../../gateway/channel-link';
import { throttleStatus } from '../status-throttle';
import type { RegisterOptions } from './connection-users';

/** A platform config node as its out node uses it. */
export interface ConnectionOwner {
  register(user: Node, options?: RegisterOptions): void;
  deregister(user: Node, done?: () => void): void;
}

export interface OutSender<R> {
  deliver(reply: R): Promise<Delivered>;
  close(): void;
  /** A redeploy: refuse what is queued, wait a little for what is under way, return the open streams, close (ChannelSender). */
  handOver?(waitMs: number): Promise<ParkedStream[]>;
  /** The streams the previous deploy's sender handed over. */
  adopt?(streams: ParkedStream[]): void;
}

/** What an out node leaves the next deploy's node of the same id: its open streams, and the replies it had not sent yet. */
interface HandedOver {
  streams: ParkedStream[];
  msgs: NodeMessage[];
}

/** How long a redeploy waits for a send under way (one call, or a retry's wait) before it goes on. */
const HANDOVER_WAIT_MS = 2000;

export interface OutNodeSpec<A extends KitAddress, R extends KitReply<A>> {
  platform: Platform;
  /** The node's catalog prefix (`telegram-out`): status.sent|streaming|typing|noConfig, errors.noConfig|stopped. */
  catalog: string;
  gatewayId: string | undefined;
  name: string;
  /** The config node, or undefined when none is selected or deployed. */
  owner: ConnectionOwner | undefined;
  /**
   * With several config nodes of the platform, a reply must leave through the one its chat talks
   * to: `is(channelId)` says whether the reply's `replyTo.channelId` names ANOTHER config node of
   * the platform (an in node's id, from the admin send API, is none). Such a reply is refused with
   * `<catalog>.errors.<errorKey>` (param `channelId`) before `prepare`. Optional.
   */
  otherOwner?: { is(channelId: string): boolean; errorKey: string };
  /** Turns the message (and its outbound part) into the platform's reply, or a translated error naming the field. */
  prepare(msg: NodeMessage & Record<string, unknown>, out: Outbound): Result<R>;
  /** Built once the link exists: its background errors go to the node status. */
  sender(onBackgroundError: (error: unknown) => void): OutSender<R>;
  /** A platform error as one translated, secret-free sentence; must not throw. */
  describe(error: unknown): Error;
}

export function runOutNode<A extends KitAddress, R extends KitReply<A>>(RED: NodeAPI, node: Node, spec: OutNodeSpec<A, R>): ChannelLink {
  forgetUnlessRedeploy(RED.events as unknown as Parameters<typeof forgetUnlessRedeploy>[0]);
  // A reply still on its way to the node when a redeploy closes it is the next deploy's node's.
  handOverLateSends(RED, node);
  const t = (key: string, params?: Record<string, string | number>) => RED._(key, params);
  const link = linkChannel(RED, node, spec.gatewayId || undefined, { platform: spec.platform, direction: 'out', name: spec.name });
  const status = throttleStatus();
  if (spec.owner) spec.owner.register(node, { sink: link, receive: false });
  else link.status('error', t(`${spec.catalog}.status.noConfig`), t(`${spec.catalog}.errors.noConfig`));

  const describe = (err: unknown): Error => {
    if (err instanceof NoConnectionError) return new Error(t(`${spec.catalog}.errors.noConfig`));
    if (err instanceof ChatQueueClosedError) return new Error(t(`${spec.catalog}.errors.stopped`));
    try {
      return spec.describe(err);
    } catch {
      return safeError(err);
    }
  };
  const failed = (err: unknown): Error => {
    const e = describe(err);
    status.now(() => link.status('error', t('chatgate.status.deliveryFailed', { message: e.message }), e.message));
    return e;
  };
  const invalid = (error: string): Error => {
    const message = redact(error);
    status.now(() => link.status('error', t('chatgate.status.invalid', { message }), message));
    return new Error(message);
  };
  const sender = spec.sender((err) => failed(err));

  function shown(d: Delivered, reply: R): void {
    const chat = toJid(spec.platform, reply.address.chatKey);
    status.set(() => {
      if (d.kind === 'sent') link.status('connected', t(`${spec.catalog}.status.sent`, { chat, parts: d.messages }));
      else if (d.kind === 'streaming') link.status('connected', t(`${spec.catalog}.status.streaming`, { chat }));
      else if (d.kind === 'typing') link.status('connected', t(`${spec.catalog}.status.typing`, { chat }));
    });
  }

  function prepare(msg: NodeMessage & Record<string, unknown>, outbound?: Outbound): Result<R> {
    const read = outbound ? { ok: true as const, value: outbound } : readOutbound(msg);
    if (!read.ok) return read;
    const owner = read.value.replyTo.channelId;
    if (spec.otherOwner?.is(owner)) return { ok: false, error: t(`${spec.catalog}.errors.${spec.otherOwner.errorKey}`, { channelId: owner }) };
    return spec.prepare(msg, read.value);
  }

  // The gateway's admin send API builds a reply itself and hands it to an out node of the platform.
  link.gateway?.state.channels.addSender(node.id, spec.platform, async (reply: OutboundReply) => {
    const out: Outbound = { text: reply.payload, replyTo: reply.chat.replyTo, threadId: reply.thread?.id };
    const prepared = prepare({}, out);
    if (!prepared.ok) throw invalid(prepared.error);
    try {
      shown(await sender.deliver(prepared.value), prepared.value);
    } catch (err) {
      throw failed(err);
    }
  });

  /**
   * Replies stopped before they were sent: refused from the queue by the node's close, or cut out
   * of a wait between tries by the connection's stop (the config node may close first). A
   * redeploy hands them to the next deploy's node; a removal fails them. By arrival.
   */
  const interrupted: Array<{ n: number; msg: NodeMessage; done: (err?: Error) => void; err: unknown }> = [];
  let closing: 'removed' | 'redeploy' | 'closed' | undefined;
  /** After a redeploy's hand-over: what was parked, to which a reply arriving late is added. */
  let handedOver: HandedOver | undefined;
  let arrival = 0;

  function handle(msg: NodeMessage, done: (err?: Error) => void): void {
    const prepared = prepare(msg as NodeMessage & Record<string, unknown>);
    if (!prepared.ok) return done(invalid(prepared.error));
    const n = arrival++;
    sender.deliver(prepared.value).then(
      (d) => {
        shown(d, prepared.value);
        done();
      },
      (err: unknown) => {
        if ((err instanceof ChatQueueClosedError || err instanceof Stopped) && closing !== 'removed') {
          if (handedOver) {
            // Came in after the hand-over (a message still on its way through the runtime).
            handedOver.msgs.push(msg);
            park(`out:${node.id}`, handedOver);
            return done();
          }
          interrupted.push({ n, msg, done, err });
          return;
        }
        done(failed(err));
      },
    );
  }

  // What the previous deploy's node of this id left: its streams go on, its unsent replies go first.
  const taken = claim<HandedOver>(`out:${node.id}`);
  if (taken) {
    sender.adopt?.(taken.streams);
    for (const m of taken.msgs) handle(m, (err) => err && node.error(err, m));
  }

  node.on('input', (msg: NodeMessage, _send: unknown, done: (err?: Error) => void) => handle(msg, done));

  node.on('close', (removed: boolean, done: () => void) => {
    status.close();
    const finish = () => {
      link.close();
      if (spec.owner) spec.owner.deregister(node, done);
      else done();
    };
    if (removed || !sender.handOver) {
      closing = 'removed';
      sender.close();
      for (const i of interrupted.splice(0)) i.done(failed(i.err));
      return finish();
    }
    // A redeploy: nothing is dropped; what this node could not finish, the next one does.
    closing = 'redeploy';
    const handOver = (streams: ParkedStream[]) => {
      closing = 'closed';
      const stopped = interrupted.splice(0).sort((a, b) => a.n - b.n);
      handedOver = { streams, msgs: stopped.map((i) => i.msg) };
      park(`out:${node.id}`, handedOver);
      for (const i of stopped) i.done();
      finish();
    };
    sender.handOver(HANDOVER_WAIT_MS).then(handOver, () => {
      sender.close();
      handOver([]);
    });
  });
  return link;
}
