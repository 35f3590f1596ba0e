/**
 * Connects webhook out nodes to the webhook in node a reply belongs to (named by
 * `msg.chat.replyTo.channelId`), and keeps two in nodes from claiming one path.
 */
import type { WebhookEndpoint } from './endpoint';

const endpoints = new Map<string, WebhookEndpoint>();
/** Lower-cased path -> id of the in node that mounted it (Express matches paths case-insensitively). */
const paths = new Map<string, string>();

export function addEndpoint(endpoint: WebhookEndpoint): void {
  endpoints.set(endpoint.id, endpoint);
}

export function removeEndpoint(endpoint: WebhookEndpoint): void {
  if (endpoints.get(endpoint.id) === endpoint) endpoints.delete(endpoint.id);
}

export function findEndpoint(id: string): WebhookEndpoint | undefined {
  return endpoints.get(id);
}

/** Claims `path` for node `id`; false when another node holds it. */
export function claimPath(path: string, id: string): boolean {
  const key = path.toLowerCase();
  const holder = paths.get(key);
  if (holder && holder !== id) return false;
  paths.set(key, id);
  return true;
}

export function releasePath(path: string, id: string): void {
  const key = path.toLowerCase();
  if (paths.get(key) === id) paths.delete(key);
}

/** The id of the node holding `path`, for the conflict message. */
export function pathHolder(path: string): string | undefined {
  return paths.get(path.toLowerCase());
}
