/**
 * Allowlist entries written in the flow (in an allowlist filter node's editor). They are part of
 * the flow, not of the gateway store: shown by the admin API beside the runtime entries, and
 * changed only by editing the node.
 */
import type { AllowEntry } from '../core/allowlist';

const byGateway = new Map<string, Map<string, { list: string; entries: AllowEntry[] }>>();

export function setFlowEntries(gatewayId: string, nodeId: string, list: string, entries: AllowEntry[]): void {
  let m = byGateway.get(gatewayId);
  if (!m) byGateway.set(gatewayId, (m = new Map()));
  m.set(nodeId, { list, entries });
}

export function clearFlowEntries(gatewayId: string, nodeId: string): void {
  byGateway.get(gatewayId)?.delete(nodeId);
}

export function flowEntries(gatewayId: string, list: string): Array<AllowEntry & { node: string }> {
  const out: Array<AllowEntry & { node: string }> = [];
  for (const [nodeId, v] of byGateway.get(gatewayId) ?? []) {
    if (v.list === list) for (const e of v.entries) out.push({ ...e, node: nodeId });
  }
  return out;
}
