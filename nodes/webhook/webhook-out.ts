/**
 * chatgate-webhook-out: delivers replies to the webhook in node their message came from, on the
 * waiting HTTP response (sync) or to its callback URL (async and late replies).
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { OutboundReply } from '../core/channels';
import { readOutbound, type Outbound } from '../core/outbound';
import { toJid } from '../core/jid';
import { linkChannel } from '../gateway/channel-link';
import { DeliveryError, type Delivery } from './endpoint';
import { findEndpoint } from './registry';
import { safeError } from '../core/redact';
import { claim, forgetUnlessRedeploy, park } from '../core/handover';
import { handOverLateSends } from '../common/late-sends';

/** A reply the webhook in node could not take because a redeploy was closing it (or had not started it yet). */
class Interrupted extends Error {}

interface WebhookOutDef extends NodeDef {
  gateway?: string;
}

export = function (RED: NodeAPI): void {
  forgetUnlessRedeploy(RED.events as unknown as Parameters<typeof forgetUnlessRedeploy>[0]);
  function ChatgateWebhookOutNode(this: Node, def: WebhookOutDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    // A reply still on its way to the node when a redeploy closes it is the next deploy's node's.
    handOverLateSends(RED, node);
    const parkedKey = `webhook-out:${node.id}`;
    /** Set when a redeploy closes the node: the replies interrupted by it, for the next deploy's node. */
    let handedOver: NodeMessage[] | undefined;
    const link = linkChannel(RED, node, def.gateway || undefined, { platform: 'webhook', direction: 'out', name: def.name || 'webhook out' });

    /** Delivers one reply; throws an Error whose message is translated and names what went wrong. */
    async function deliver(out: Outbound, thread: unknown): Promise<Delivery> {
      const { platform, channelId, chatId } = out.replyTo;
      if (platform !== 'webhook') throw new Error(RED._('webhook-out.errors.wrongPlatform', { platform }));
      const endpoint = findEndpoint(channelId);
      if (!endpoint) {
        const message = RED._('webhook-out.errors.noInNode', { id: channelId });
        // Between the old webhook in node's close and the new one's start, during a redeploy.
        throw handedOver ? new Interrupted(message) : new Error(message);
      }
      try {
        const delivery = await endpoint.deliver(out, thread);
        if (delivery !== 'skipped') link.status('connected', RED._('chatgate.status.delivered', { chat: toJid('webhook', chatId) }));
        return delivery;
      } catch (err) {
        if (err instanceof DeliveryError) {
          const message = RED._(`webhook-out.errors.${err.key}`, err.params);
          throw err.key === 'stopped' ? new Interrupted(message) : new Error(message);
        }
        throw err;
      }
    }

    function fail(err: unknown): Error {
      const e = safeError(err);
      link.status('error', RED._('chatgate.status.deliveryFailed', { message: e.message }), e.message);
      return e;
    }

    if (link.gateway) {
      // The gateway's admin send API builds a reply itself and hands it to a sender of the platform.
      link.gateway.state.channels.addSender(node.id, 'webhook', async (reply: OutboundReply) => {
        const out: Outbound = { text: reply.payload, replyTo: reply.chat.replyTo, threadId: reply.thread?.id };
        await deliver(out, reply.thread).catch((err: Error) => {
          throw fail(err);
        });
      });
      link.status('connected', RED._('chatgate.status.ready'));
    }

    function handle(msg: NodeMessage & { thread?: unknown }, done: (err?: Error) => void): void {
      const read = readOutbound(msg);
      if (!read.ok) {
        link.status('error', RED._('chatgate.status.invalid', { message: read.error }), read.error);
        done(new Error(RED._('webhook-out.errors.invalid', { message: read.error })));
        return;
      }
      deliver(read.value, msg.thread).then(
        () => done(),
        (err: Error) => {
          if (err instanceof Interrupted && handedOver) {
            handedOver.push(msg);
            park(parkedKey, handedOver);
            return done();
          }
          done(fail(err));
        },
      );
    }

    // Replies a redeploy interrupted in the previous deploy's node, once every node of this one exists.
    const left = claim<NodeMessage[]>(parkedKey);
    if (left?.length) setImmediate(() => left.forEach((m) => handle(m, (err) => err && node.error(err, m))));

    node.on('input', (msg: NodeMessage & { thread?: unknown }, _send, done) => handle(msg, done));

    node.on('close', (removed: boolean, done: () => void) => {
      if (!removed) handedOver = [];
      link.close();
      done();
    });
  }

  RED.nodes.registerType('chatgate-webhook-out', ChatgateWebhookOutNode as unknown as (this: Node, def: NodeDef) => void);
};
