/**
 * Coalesces per-message status updates. A status costs a translation and an editor event, and a
 * node in a busy pipeline would pay that on every message, while an operator reads statuses at
 * human speed. The latest update always lands: within `intervalMs`, never lost.
 */
import { guard } from '../core/guard';

export interface StatusThrottle {
  /** Shows `make()` now if the last update is older than the interval, else at the end of it. */
  set(make: () => void): void;
  /** Shows at once (errors, state changes), dropping a pending coalesced update. */
  now(make: () => void): void;
  close(): void;
}

export const STATUS_INTERVAL_MS = 250;

export function throttleStatus(intervalMs = STATUS_INTERVAL_MS, clock: () => number = Date.now): StatusThrottle {
  let last = -Infinity;
  let pending: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const make = pending;
    pending = undefined;
    if (make) {
      last = clock();
      make();
    }
  };
  return {
    set(make) {
      pending = make;
      if (timer) return;
      const wait = last + intervalMs - clock();
      if (wait <= 0) return flush();
      // A status that throws on a timer would be an uncaught exception: Node-RED would exit.
      timer = setTimeout(guard(flush), wait);
      timer.unref?.();
    },
    now(make) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
      last = clock();
      make();
    },
    close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
  };
}
