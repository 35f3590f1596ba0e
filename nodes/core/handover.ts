/**
 * Work a node had not finished when a deploy closed it, kept for the node with the same id in the
 * next deploy. A full redeploy stops every node of the flow at once, so a node cannot pass
 * unfinished replies on downstream (the next node is gone too); the node that takes its place
 * picks them up instead. Claimed once; forgotten after a while when no node takes it (the node was
 * removed, or the new flow did not start). No Node-RED in here.
 */

/** How long parked work waits for its node (a redeploy starts the new nodes within seconds). */
export const HANDOVER_TTL_MS = 60_000;

const parked = new Map<string, { at: number; value: unknown }>();
/** The node that holds a key now (the next deploy's, once it has started). */
const holders = new Map<string, unknown>();

function sweep(now: number): void {
  for (const [key, p] of parked) if (now - p.at > HANDOVER_TTL_MS) parked.delete(key);
}

/** Keeps `value` for the next node of `key` (`<kind>:<node id>`); a later park of the same key replaces it. */
export function park(key: string, value: unknown, now = Date.now()): void {
  sweep(now);
  parked.set(key, { at: now, value });
}

/** `holder` (a node) holds `key` from now on: work left for the key after this goes straight to it. */
export function hold(key: string, holder: unknown): void {
  holders.set(key, holder);
}

/** The holder of `key` now, when it is not `self` (the next deploy's node has started). */
export function successor<T>(key: string, self: unknown): T | undefined {
  const h = holders.get(key);
  return h !== undefined && h !== self ? (h as T) : undefined;
}

/** `holder` lets go of `key` (removed from the flow). */
export function release(key: string, holder: unknown): void {
  if (holders.get(key) === holder) holders.delete(key);
}

/** What the previous node of `key` left, once; undefined when nothing (or too old). */
export function claim<T>(key: string, now = Date.now()): T | undefined {
  sweep(now);
  const p = parked.get(key);
  parked.delete(key);
  return p?.value as T | undefined;
}

/** The runtime's event bus (RED.events). */
export interface RuntimeEvents {
  on(event: string, listener: (e: unknown) => void): unknown;
}

const watched = new WeakSet<object>();
/** Counts the stops that were no deploy's: work from before one is never handed to a node after it. */
let stops = 0;

/** The count of stops that were no deploy's so far (a node keeps the one it started in). */
export function stopGeneration(): number {
  return stops;
}

/**
 * Parked work is for a redeploy only. When the flows stop for another reason (Node-RED shutting
 * down, a test unloading its flow) every node closes the same way, so what they parked is
 * forgotten as soon as that stop is over: the runtime says whether a stop was a deploy's.
 */
export function forgetUnlessRedeploy(events: RuntimeEvents | undefined): void {
  if (!events || watched.has(events)) return;
  watched.add(events);
  events.on('runtime-event', (e) => {
    const ev = e as { id?: string; payload?: { state?: string; deploy?: boolean } } | undefined;
    if (ev?.id === 'runtime-state' && ev.payload?.state === 'stop' && ev.payload.deploy !== true) {
      stops++;
      parked.clear();
      holders.clear();
    }
  });
}
