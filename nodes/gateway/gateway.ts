/**
 * chatgate-gateway: the shared gateway context (a config node). Holds the thread map, reply
 * listeners, de-duplication window, allowlists and channel registry, and persists them.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { settingsFromDef, type GatewayDef } from './gateway-settings';
import { registerAdminApi } from './admin-api';
import { GatewayRuntime, gateways, storeKind, type GatewayNode } from './gateway-runtime';
import { safeError } from '../core/redact';

export = function (RED: NodeAPI): void {
  function ChatgateGatewayNode(this: GatewayNode, def: GatewayDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const flushMs = Number(process.env.CHATGATE_FLUSH_MS) || 500;
    const commitMs = Number(process.env.CHATGATE_COMMIT_MS) || 100;
    node.gateway = new GatewayRuntime(
      node,
      def.name || 'gateway',
      settingsFromDef(def),
      { kind: storeKind(def.store), contextStore: def.contextStore ?? '', flushMs, commitMs },
      RED,
    );
    gateways.set(node.id, node.gateway);

    node.on('close', (_removed: boolean, done: () => void) => {
      if (gateways.get(node.id) === node.gateway) gateways.delete(node.id);
      node.gateway.close().then(done, (err: unknown) => {
        node.error(safeError(err).message);
        done();
      });
    });
  }

  RED.nodes.registerType('chatgate-gateway', ChatgateGatewayNode as unknown as (this: Node, def: NodeDef) => void);
  registerAdminApi(RED);
};
