/**
 * chatgate-reply-router: sends each reply to the output of the platform it must go back to.
 * The address is the reply's own `msg.chat.replyTo`, or, for a late reply that only carries
 * `msg.thread.id`, the gateway's reply listener for that thread.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { UNROUTABLE_OUTPUT, listenerThreadId, routeReply } from '../core/reply-routing';
import type { ListenerLookup } from '../core/reply-listeners';
import { andThen } from '../core/store/state-ops';
import { toJid } from '../core/jid';
import { getGateway } from '../gateway/gateway-runtime';
import { throttleStatus } from '../common/status-throttle';
import { handOverLateSends } from '../common/late-sends';

interface ReplyRouterDef extends NodeDef {
  gateway?: string;
}

type RoutedMsg = NodeMessageInFlow & { chat?: Record<string, unknown>; unroutable?: unknown; event?: unknown; stream?: unknown };

export = function (RED: NodeAPI): void {
  function ReplyRouterNode(this: Node, def: ReplyRouterDef) {
    RED.nodes.createNode(this, def);
    // A message under way when a redeploy closes the node goes on from the next deploy's node.
    handOverLateSends(RED, this);
    const node = this;
    const gateway = getGateway(RED, def.gateway);
    let routed = 0;
    let unroutable = 0;
    node.status({ fill: 'grey', shape: 'ring', text: RED._('chatgate.status.ready') });
    const status = throttleStatus();
    node.on('close', () => status.close());

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      const handle = (lookup?: (id: string) => ListenerLookup) => {
        const out = msg as RoutedMsg;
        const route = routeReply(out, lookup);
        const ports: Array<NodeMessageInFlow | null> = new Array(UNROUTABLE_OUTPUT + 1).fill(null);
        if (route.ok) {
          // Spread only an object: a text (or an array) in msg.chat would become one key per character.
          if (route.from === 'listener') out.chat = { ...(isRecord(out.chat) ? out.chat : {}), replyTo: route.address };
          ports[route.output] = out;
          routed++;
          const platform = route.address.platform;
          status.set(() => node.status({ fill: 'green', shape: 'dot', text: RED._('reply-router.status.routed', { platform, routed, unroutable }) }));
        } else {
          out.unroutable = { reason: route.reason };
          ports[UNROUTABLE_OUTPUT] = out;
          unroutable++;
          node.warn(RED._('reply-router.warn.unroutable', { reason: route.reason }));
          status.set(() => node.status({ fill: 'yellow', shape: 'ring', text: RED._('reply-router.status.unroutable', { routed, unroutable }) }));
        }
        if (gateway && isWholeReply(out)) {
          const threadId = (out as { thread?: { id?: unknown } }).thread?.id;
          gateway.state.logMessage({
            direction: 'out',
            platform: route.ok ? route.address.platform : 'unroutable',
            chatJid: route.ok ? toJid(route.address.platform, route.address.chatId) : undefined,
            threadId: typeof threadId === 'string' ? threadId : undefined,
            text: out.payload,
            unroutable: route.ok ? undefined : true,
          });
        }
        send(ports);
        done();
      };
      const failed = (err: Error) => {
        status.now(() => node.status({ fill: 'red', shape: 'ring', text: RED._('reply-router.status.storeFailed', { message: err.message.slice(0, 100) }) }));
        done(err);
      };
      const viaGateway = () => {
        // The listener is looked up first (a promise on a shared store), then routing runs at once.
        const threadId = listenerThreadId(msg as RoutedMsg);
        if (threadId === undefined) return handle();
        andThen(gateway!.ops.lookupListener(threadId), (found) => handle((id) => (id === threadId ? found : { ok: false, reason: 'unknown' })), failed);
      };
      if (gateway) gateway.whenReady(viaGateway, done);
      else handle();
    });
  }

  RED.nodes.registerType('chatgate-reply-router', ReplyRouterNode as unknown as (this: Node, def: NodeDef) => void);
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A reply the user ends up reading: not a typing signal, not an unfinished streamed part. */
function isWholeReply(msg: { event?: unknown; stream?: unknown }): boolean {
  if (msg.event !== undefined) return false;
  const stream = msg.stream as { done?: unknown } | undefined;
  return !stream || stream.done === true;
}
