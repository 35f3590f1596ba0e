/**
 * Keeps the raw request bytes for webhook paths. With Node-RED's default settings the admin app and
 * RED.httpNode share the root path, and the admin app's JSON body parser runs first for every
 * request, so by the time a webhook route sees the request its body is parsed and the bytes a
 * signature covers are gone. Like Node-RED's own http in node, a middleware at the top of the root
 * app reads the body of our paths first (within their size limit) and marks it parsed
 * (`req._body`), which every body-parser middleware honours.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readRawBody, type RawBody } from './raw-body';
import { settle } from '../core/guard';

export const RAW_BODY = Symbol('chatgate.rawBody');

export type CapturedRequest = IncomingMessage & { _body?: boolean; [RAW_BODY]?: Promise<RawBody> };

interface App {
  use(fn: (req: never, res: never, next: () => void) => void): unknown;
  parent?: App;
  mountpath?: unknown;
  lazyrouter?: unknown;
  _router?: { stack?: Array<{ handle?: unknown }> };
  router?: { stack?: Array<{ handle?: unknown }> };
}

/** Full path (lower case) -> the node capturing it and its size limit. */
const limits = new Map<string, { owner: string; maxBytes: number }>();
const installed = new WeakSet<object>();

function key(path: string): string {
  let p = path.replace(/\/{2,}/g, '/');
  if (p.length > 1) p = p.replace(/\/$/, '');
  return p.toLowerCase();
}

function rootOf(app: App): App {
  return app.parent ? rootOf(app.parent) : app;
}

function stackOf(app: App): Array<{ handle?: unknown }> | undefined {
  if (typeof app.lazyrouter === 'function' || app._router) return app._router?.stack;
  try {
    return app.router?.stack;
  } catch {
    return undefined;
  }
}

function capture(req: CapturedRequest, _res: ServerResponse, next: () => void): void {
  if (req.method !== 'POST' || limits.size === 0 || req[RAW_BODY]) return next();
  const entry = limits.get(key((req.url ?? '').split('?')[0]));
  if (!entry) return next();
  req[RAW_BODY] = readRawBody(req, entry.maxBytes);
  req._body = true;
  // Wait for the body so later middleware finds the stream finished, as it would after a parser.
  // settle: a throw from the next middleware must not become an unhandled rejection.
  settle(req[RAW_BODY].then(() => next()));
}

/**
 * Captures the raw body of POST `path` (relative to RED.httpNode) up to `maxBytes`; the returned
 * function stops it.
 */
export function captureRawBodies(httpNode: unknown, path: string, maxBytes: number, owner: string): () => void {
  const app = httpNode as App;
  const root = rootOf(app);
  const mount = typeof app.mountpath === 'string' ? app.mountpath : '/';
  const full = key(`${mount}/${path}`);
  limits.set(full, { owner, maxBytes });
  const stack = stackOf(root);
  if (!installed.has(root) || !stack?.some((l) => l.handle === capture)) {
    root.use(capture as never);
    installed.add(root);
    const s = stackOf(root);
    const i = s?.findIndex((l) => l.handle === capture) ?? -1;
    if (s && i > 0) s.unshift(s.splice(i, 1)[0]);
  }
  return () => {
    if (limits.get(full)?.owner === owner) limits.delete(full);
  };
}
