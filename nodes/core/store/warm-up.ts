/**
 * Loads a row store into the working set in small slices after the gateway has started serving:
 * a million threads take seconds to read, and reading them in one go would stall every chat for
 * that long. Each slice is sized to take about `sliceMs`, and the event loop runs between slices.
 */
import type { RowBackend } from './row-backend';
import { TABLES, type Table } from './rows';

export interface WarmTarget {
  absorbRow(table: Table, key: string, value: unknown): void;
}

export interface WarmUpOptions {
  /** Target time per slice (ms). */
  sliceMs?: number;
  /** Tables already loaded whole before serving (the allowlists). */
  skip?: readonly Table[];
  /** Stops early (the gateway closed). */
  stopped?: () => boolean;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Resolves with the number of rows read once every table has been read. */
export async function warmUp(backend: Pick<RowBackend, 'scan'>, target: WarmTarget, opts: WarmUpOptions = {}): Promise<number> {
  const sliceMs = opts.sliceMs ?? 5;
  let rows = 0;
  let chunk = 500;
  for (const table of TABLES) {
    if (opts.skip?.includes(table)) continue;
    let after = '';
    for (;;) {
      if (opts.stopped?.()) return rows;
      const started = performance.now();
      const asked = chunk;
      const page = backend.scan(table, after, asked);
      for (const [key, value] of page) target.absorbRow(table, key, value);
      rows += page.length;
      const took = performance.now() - started;
      // Aim the next slice at sliceMs, growing or shrinking by at most 2x per step.
      chunk = Math.max(100, Math.min(50_000, Math.round(chunk * Math.min(2, Math.max(0.5, sliceMs / Math.max(took, 0.1))))));
      if (page.length < asked) break;
      after = page[page.length - 1][0];
      await yieldToLoop();
    }
  }
  return rows;
}
