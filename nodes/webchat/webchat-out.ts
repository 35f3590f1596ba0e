/**
 * chatgate-webchat-out: delivers replies, streamed parts and typing signals to the web chat page
 * of the user a reply is addressed to. A user with no page open gets the reply when they return.
 * With instances sharing the gateway, a user whose page is on another instance gets it there
 * (the hub routes it over the gateway's bus); it waits here only when no instance has the user.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { toJid } from '../core/jid';
import { readOutbound, type Outbound } from '../core/outbound';
import { linkChannel } from '../gateway/channel-link';
import { frameFor } from './frames';
import { findHub, type Delivery } from './hub';
import { safeError } from '../core/redact';
import { claim, forgetUnlessRedeploy, park } from '../core/handover';
import { handOverLateSends } from '../common/late-sends';

/** A reply with no web chat page to go to because a redeploy is closing (or not yet starting) its webchat in node. */
class Interrupted extends Error {}

interface WebchatOutDef extends NodeDef {
  gateway?: string;
}

export = function (RED: NodeAPI): void {
  forgetUnlessRedeploy(RED.events as unknown as Parameters<typeof forgetUnlessRedeploy>[0]);
  function ChatgateWebchatOutNode(this: Node, def: WebchatOutDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    // A reply still on its way to the node when a redeploy closes it is the next deploy's node's.
    handOverLateSends(RED, node);
    const parkedKey = `webchat-out:${node.id}`;
    /** Set when a redeploy closes the node: replies that found no webchat in node, for the next deploy's node. */
    let handedOver: NodeMessage[] | undefined;
    const link = linkChannel(RED, node, def.gateway, { platform: 'webchat', direction: 'out', name: def.name || 'webchat' });
    link.status('connected', RED._('chatgate.status.ready'));

    /**
     * Delivers (at once when the user's page is here; after Redis answered when it may be on
     * another instance) or throws an Error that names the field at fault.
     */
    async function deliver(out: Outbound): Promise<void> {
      const { platform, channelId, chatId } = out.replyTo;
      if (platform !== 'webchat') {
        throw new Error(`msg.chat.replyTo.platform: ${RED._('webchat-out.errors.notWebchat', { platform })}`);
      }
      const hub = findHub(channelId);
      if (!hub) {
        const message = `msg.chat.replyTo.channelId: ${RED._('webchat-out.errors.noChannel', { channelId })}`;
        // Between the old webchat in node's close and the new one's start, during a redeploy.
        throw handedOver ? new Interrupted(message) : new Error(message);
      }
      const frame = frameFor(out);
      if (!frame) return;
      // Called before any await: frames leave in the order the messages came, here or on the bus.
      const result: Delivery = await hub.route(chatId, frame);
      if (frame.type !== 'reply') return;
      const chat = toJid('webchat', chatId);
      if (result === 'sent') link.status('connected', RED._('webchat-out.status.sent', { chat, users: hub.users() }));
      else if (result === 'queued') link.status('connected', RED._('webchat-out.status.queued', { chat, users: hub.users() }));
      // Refused, never silently: done(err) lets a Catch node see it (failed() shows it on the status).
      else throw new Error(RED._('webchat-out.status.dropped', { chat }));
    }

    function failed(err: unknown): Error {
      const e = safeError(err);
      link.status('error', RED._('chatgate.status.deliveryFailed', { message: e.message }), e.message);
      return e;
    }

    // The gateway's admin send API builds a reply itself and hands it to an out node of the platform.
    link.gateway?.state.channels.addSender(node.id, 'webchat', async (reply) => {
      const read = readOutbound(reply);
      if (!read.ok) throw failed(new Error(read.error));
      try {
        await deliver(read.value);
      } catch (err) {
        throw failed(err as Error);
      }
    });

    function handle(msg: NodeMessage, done: (err?: Error) => void): void {
      const read = readOutbound(msg as Parameters<typeof readOutbound>[0]);
      if (!read.ok) {
        link.status('error', RED._('chatgate.status.invalid', { message: read.error }), read.error);
        return done(new Error(read.error));
      }
      deliver(read.value).then(
        () => done(),
        (err: unknown) => {
          if (err instanceof Interrupted && handedOver) {
            handedOver.push(msg);
            park(parkedKey, handedOver);
            return done();
          }
          done(failed(err));
        },
      );
    }

    // Replies a redeploy interrupted in the previous deploy's node, once every node of this one exists.
    const left = claim<NodeMessage[]>(parkedKey);
    if (left?.length) setImmediate(() => left.forEach((m) => handle(m, (err) => err && node.error(err, m))));

    node.on('input', (msg: NodeMessage, _send: unknown, done: (err?: Error) => void) => handle(msg, done));

    node.on('close', (removed: boolean, done: () => void) => {
      if (!removed) handedOver = [];
      link.close();
      done();
    });
  }

  RED.nodes.registerType('chatgate-webchat-out', ChatgateWebchatOutNode as unknown as (this: Node, def: NodeDef) => void);
};
