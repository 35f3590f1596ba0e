/**
 * Mounting a POST route on RED.httpNode and taking it off again on close, as Node-RED's own
 * http in node does (Express has no public way to remove a route).
 */
type Handler = (req: never, res: never) => void;

interface Layer {
  route?: { path?: unknown; methods?: Record<string, boolean>; stack?: Array<{ handle?: unknown }> };
}

export interface HttpApp {
  post(path: string, ...handlers: Handler[]): unknown;
}

function routerStack(app: HttpApp): Layer[] | undefined {
  // Express 4 keeps the router in `_router` (created with the first route; its `router` getter
  // throws); Express 5 (Node-RED 5) in `router`.
  const a = app as unknown as { lazyrouter?: unknown; _router?: { stack?: Layer[] }; router?: { stack?: Layer[] } };
  if (typeof a.lazyrouter === 'function' || a._router) return a._router?.stack;
  try {
    return a.router?.stack;
  } catch {
    return undefined;
  }
}

/** Whether some other node (an http in node, say) already serves POST on `path`. */
export function hasPostRoute(app: HttpApp, path: string): boolean {
  const key = path.toLowerCase();
  return (routerStack(app) ?? []).some(
    (l) => typeof l.route?.path === 'string' && l.route.path.toLowerCase() === key && l.route.methods?.post === true,
  );
}

/** Mounts `handler` on POST `path`; the returned function removes exactly that route. */
export function mountPost(app: HttpApp, path: string, handler: Handler): () => void {
  app.post(path, handler);
  return () => {
    const stack = routerStack(app);
    if (!stack) return;
    for (let i = stack.length - 1; i >= 0; i--) {
      const route = stack[i].route;
      if (route?.path === path && route.stack?.some((l) => l.handle === handler)) stack.splice(i, 1);
    }
  };
}

/** Removes every route served by one of `handlers` (GET routes a node mounted, say). */
export function removeRoutes(app: unknown, handlers: Set<unknown>): void {
  const stack = routerStack(app as HttpApp);
  if (!stack) return;
  for (let i = stack.length - 1; i >= 0; i--) {
    const route = stack[i].route;
    if (route?.stack?.some((l) => handlers.has(l.handle))) stack.splice(i, 1);
  }
}
