/**
 * Registers a node's credential values with the one redactor while the node runs, so no status,
 * log line, Catch message or admin answer of ANY node can show them; removed again on close.
 */
import type { Node } from 'node-red';
import { secrets } from '../core/redact';

export function registerSecrets(node: Node, values: ReadonlyArray<unknown>): void {
  secrets.set(node.id, values);
  node.on('close', () => secrets.delete(node.id));
}

/** Every string value of a node's credentials object. */
export function credentialValues(credentials: unknown): string[] {
  if (!credentials || typeof credentials !== 'object') return [];
  return Object.values(credentials as Record<string, unknown>).filter((v): v is string => typeof v === 'string');
}
