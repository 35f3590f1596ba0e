/**
 * How a channel node (in or out) joins its gateway: it registers in the channel registry and
 * reports its status there and on its own node status, through one call.
 */
import type { Node, NodeAPI } from 'node-red';
import type { Platform } from '../core/envelope';
import type { ChannelState } from '../core/channels';
import { getGateway, type GatewayRuntime } from './gateway-runtime';

const FILL: Record<ChannelState, 'green' | 'yellow' | 'red' | 'grey'> = {
  connected: 'green',
  connecting: 'yellow',
  error: 'red',
  stopped: 'grey',
};

export interface ChannelLink {
  gateway: GatewayRuntime | undefined;
  /** Sets the node's status and the registry's; `text` is already translated. */
  status(state: ChannelState, text: string, message?: string): void;
  close(): void;
}

export function linkChannel(
  RED: NodeAPI,
  node: Node,
  gatewayId: string | undefined,
  info: { platform: Platform; direction: 'in' | 'out'; name: string },
): ChannelLink {
  const gateway = getGateway(RED, gatewayId);
  gateway?.state.channels.register({ id: node.id, type: node.type, ...info });
  return {
    gateway,
    status(state, text, message) {
      node.status({ fill: FILL[state], shape: state === 'connected' ? 'dot' : 'ring', text });
      gateway?.state.channels.setStatus(node.id, state, message);
    },
    close() {
      gateway?.state.channels.unregister(node.id);
    },
  };
}
