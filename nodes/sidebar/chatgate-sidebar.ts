/**
 * chatgate-sidebar: an editor plugin that adds the "chat gateway" sidebar tab (chatgate-sidebar.html).
 * The runtime side has nothing to do: the tab reads the gateway's admin API (nodes/gateway/admin-api.ts),
 * which the gateway node mounts with its permissions.
 */
import type { NodeAPI } from 'node-red';

interface PluginAPI {
  plugins?: { registerPlugin(id: string, definition: Record<string, unknown>): void };
}

export = function (RED: NodeAPI & PluginAPI): void {
  RED.plugins?.registerPlugin('chatgate-sidebar', { type: 'chatgate-sidebar' });
};
