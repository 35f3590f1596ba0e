/**
 * chatgate-gateway: the shared gateway context (a config node). Holds the thread map, reply
 * listeners, de-duplication window, allowlists and channel registry, and persists them.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { pairingLimitsFromDef, settingsFromDef, takeoverIdleFromDef, type GatewayDef } from './gateway-settings';
import { registerAdminApi } from './admin-api';
import { GatewayRuntime, gateways, storeKind, type GatewayNode } from './gateway-runtime';
import { safeError } from '../core/redact';
import type { LinkContext } from './store/store-link';

export = function (RED: NodeAPI): void {
  function ChatgateGatewayNode(this: GatewayNode, def: GatewayDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const flushMs = Number(process.env.CHATGATE_FLUSH_MS) || 500;
    const commitMs = Number(process.env.CHATGATE_COMMIT_MS) || 100;
    const kind = storeKind(def.store);
    const url = (node.credentials as { redisUrl?: string } | undefined)?.redisUrl?.trim();
    const redis =
      kind === 'redis' && url
        ? (ctx: LinkContext) => {
            // Loaded only when chosen: an install on one instance never opens the Redis client.
            const { RedisLink } = require('./store/redis-link') as typeof import('./store/redis-link');
            // The same flow on every instance: the gateway id is the shared prefix.
            return new RedisLink(ctx, { url, policy: def.redisPolicy === 'fail' ? 'fail' : 'wait', prefix: `chatgate:${node.id}:` });
          }
        : undefined;
    node.gateway = new GatewayRuntime(
      node,
      def.name || 'gateway',
      settingsFromDef(def),
      { kind, contextStore: def.contextStore ?? '', flushMs, commitMs, redis },
      RED,
    );
    node.gateway.operator.setIdleMs(takeoverIdleFromDef(def));
    node.gateway.pairings.setLimits(pairingLimitsFromDef(def));
    gateways.set(node.id, node.gateway);

    node.on('close', (_removed: boolean, done: () => void) => {
      if (gateways.get(node.id) === node.gateway) gateways.delete(node.id);
      node.gateway.close().then(done, (err: unknown) => {
        node.error(safeError(err).message);
        done();
      });
    });
  }

  RED.nodes.registerType('chatgate-gateway', ChatgateGatewayNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { redisUrl: { type: 'password' } },
  });
  registerAdminApi(RED);
};
