/**
 * A signed webhook route on Node-RED's HTTP server, as a platform config node mounts it: POST
 * `path` on RED.httpNode with the raw request bytes captured first (a signature covers exactly
 * those bytes; raw-capture.ts says why they would otherwise be gone), and both taken off again by
 * the returned function. Also the two reasons a route cannot be mounted, as a platform config node
 * reports them before it starts.
 */
import { captureRawBodies } from '../raw-capture';
import { hasPostRoute, mountPost, type HttpApp } from '../http-routes';

export type RouteProblem = 'noHttp' | 'pathInUse';

/** Why POST `path` cannot be served (Node-RED's HTTP nodes are off, or another node serves it); undefined when it can. */
export function routeProblem(httpNode: unknown, path: string): RouteProblem | undefined {
  const app = httpNode as HttpApp | undefined;
  if (!app) return 'noHttp';
  return hasPostRoute(app, path) ? 'pathInUse' : undefined;
}

/** Mounts `handler` on POST `path` with raw bodies up to `maxBytes` captured; the returned function removes both. */
export function mountRawPost(httpNode: unknown, path: string, maxBytes: number, owner: string, handler: (req: never, res: never) => void): () => void {
  const app = httpNode as HttpApp;
  const stopCapture = captureRawBodies(app, path, maxBytes, owner);
  const unroute = mountPost(app, path, handler);
  return () => {
    unroute();
    stopCapture();
  };
}
