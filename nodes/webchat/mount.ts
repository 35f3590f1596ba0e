/**
 * Node-RED glue for the web chat: GET routes on RED.httpNode and a WebSocket endpoint on
 * RED.server's upgrade event, each removable again on close (the 21-httpin.js way for routes).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** `/chat/` -> `/chat`; undefined for a path Express would read as a pattern (`:`, `*`, `(`). */
export function normalizePath(p: string | undefined): string | undefined {
  let s = (p ?? '').trim();
  if (!s) return undefined;
  if (!s.startsWith('/')) s = `/${s}`;
  s = s.replace(/\/+$/, '');
  if (!s || !/^(\/[A-Za-z0-9._~-]+)+$/.test(s)) return undefined;
  return s;
}

/** The public path of an httpNode route: httpNodeRoot (default `/`) joined with the node's path. */
export function publicPath(httpNodeRoot: unknown, p: string): string {
  const root = typeof httpNodeRoot === 'string' && httpNodeRoot ? httpNodeRoot : '/';
  return root.replace(/\/+$/, '') + p;
}

/** Paths in use by webchat in nodes (public path -> node id), so a second node on one path does not mount. */
const claimed = new Map<string, string>();

export function claimPath(fullPath: string, nodeId: string): boolean {
  const owner = claimed.get(fullPath);
  if (owner && owner !== nodeId) return false;
  claimed.set(fullPath, nodeId);
  return true;
}

export function releasePath(fullPath: string, nodeId: string): void {
  if (claimed.get(fullPath) === nodeId) claimed.delete(fullPath);
}

/** Route removal has one home, shared with the webhook and Telegram nodes. */
export { removeRoutes } from '../common/http-routes';

export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Listens for upgrades to exactly `pathname`; every other upgrade (Node-RED's /comms among them) is left alone. */
export function listenUpgrades(server: Server, pathname: string, accept: UpgradeListener): () => void {
  const listener: UpgradeListener = (req, socket, head) => {
    let requested: string;
    try {
      requested = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      return;
    }
    if (requested === pathname) accept(req, socket, head);
  };
  server.on('upgrade', listener);
  return () => {
    server.removeListener('upgrade', listener);
  };
}
