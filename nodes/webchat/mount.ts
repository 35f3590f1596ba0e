/**
 * Node-RED glue for the web chat: GET routes on RED.httpNode and a WebSocket endpoint on
 * RED.server's upgrade event, each removable again on close (the 21-httpin.js way for routes).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express, RequestHandler } from 'express';

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

interface Layer {
  route?: { stack: Array<{ handle: unknown }> };
}

/** Removes every route whose handler is one of `handlers` (Express 4 `_router`, Express 5 `router`). */
export function removeRoutes(app: Express, handlers: Set<RequestHandler>): void {
  const a = app as unknown as { _router?: { stack: Layer[] }; router?: { stack: Layer[] } };
  const stack = (a._router ?? a.router)?.stack;
  if (!stack) return;
  for (let i = stack.length - 1; i >= 0; i--) {
    const route = stack[i].route;
    if (route && route.stack.some((l) => handlers.has(l.handle as RequestHandler))) stack.splice(i, 1);
  }
}

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
