/**
 * Background work (typing signals, intermediate stream edits, status pushes, timers) has nobody
 * awaiting it, so its failure handler is the last line: if that handler throws, the rejection is
 * unhandled and Node-RED exits. `guard` wraps a handler so it cannot throw, and `settle` ends a
 * promise nobody awaits in such a handler.
 */

/** Called when a guarded handler itself threw; replaceable so tests can see it. */
let lastResort: (error: unknown) => void = () => undefined;

export function onGuardFailure(fn: (error: unknown) => void): void {
  lastResort = fn;
}

/** `fn` made safe to call from a rejection handler or a timer: whatever it throws is swallowed. */
export function guard<A extends unknown[]>(fn: ((...args: A) => unknown) | undefined): (...args: A) => void {
  return (...args: A) => {
    if (!fn) return;
    try {
      const r = fn(...args);
      if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, (e: unknown) => swallow(e));
    } catch (error) {
      swallow(error);
    }
  };
}

function swallow(error: unknown): void {
  try {
    lastResort(error);
  } catch {
    // nothing is left to tell
  }
}

/** Ends a promise nobody awaits: its failure goes to `onError` (guarded), never unhandled. */
export function settle(promise: Promise<unknown> | unknown, onError?: (error: unknown) => void): void {
  if (!promise || typeof (promise as Promise<unknown>).then !== 'function') return;
  const handle = guard(onError);
  (promise as Promise<unknown>).then(undefined, (error: unknown) => handle(error));
}
