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

interface WebhookOutDef extends NodeDef {
  gateway?: string;
}

export = function (RED: NodeAPI): void {
  function ChatgateWebhookOutNode(this: Node, def: WebhookOutDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const link = linkChannel(RED, node, def.gateway || undefined, { platform: 'webhook', direction: 'out', name: def.name || 'webhook out' });

    /** Delivers one reply; throws an Error whose message is translated and names what went wrong. */
    async function deliver(out: Outbound, thread: unknown): Promise<Delivery> {
      const { platform, channelId, chatId } = out.replyTo;
      if (platform !== 'webhook') throw new Error(RED._('webhook-out.errors.wrongPlatform', { platform }));
      const endpoint = findEndpoint(channelId);
      if (!endpoint) throw new Error(RED._('webhook-out.errors.noInNode', { id: channelId }));
      try {
        const delivery = await endpoint.deliver(out, thread);
        if (delivery !== 'skipped') link.status('connected', RED._('chatgate.status.delivered', { chat: toJid('webhook', chatId) }));
        return delivery;
      } catch (err) {
        if (err instanceof DeliveryError) throw new Error(RED._(`webhook-out.errors.${err.key}`, err.params));
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

    node.on('input', (msg: NodeMessage & { chat?: unknown; stream?: unknown; event?: unknown; thread?: unknown }, _send, done) => {
      const read = readOutbound(msg);
      if (!read.ok) {
        link.status('error', RED._('chatgate.status.invalid', { message: read.error }), read.error);
        done(new Error(RED._('webhook-out.errors.invalid', { message: read.error })));
        return;
      }
      deliver(read.value, msg.thread).then(
        () => done(),
        (err: Error) => done(fail(err)),
      );
    });

    node.on('close', () => {
      link.close();
    });
  }

  RED.nodes.registerType('chatgate-webhook-out', ChatgateWebhookOutNode as unknown as (this: Node, def: NodeDef) => void);
};
