/**
 * Inbound platform payloads are validated with zod at the edge, before anything is built from
 * them; what fails is logged once per kind and dropped (never passed on with made-up ids). These
 * two pieces are the same for every platform: the parse that names the first problem's field, and
 * the tally that says when a kind is new.
 */
import type { z } from 'zod';

export type Parsed<T> =
  | { ok: true; value: T }
  /** `kind` names the first problem's field (`update.message.from.id`), `problem` says what is wrong with it. */
  | { ok: false; kind: string; problem: string };

/** `update.message.photo.0.file_id` -> `update.message.photo[].file_id`: one kind for every index. */
export function kindOf(root: string, path: ReadonlyArray<PropertyKey>): string {
  return [root, ...path.map((p) => (typeof p === 'number' ? '[]' : String(p)))].join('.').replace(/\.\[\]/g, '[]');
}

export function parseEdge<S extends z.ZodType>(schema: S, raw: unknown, root: string): Parsed<z.infer<S>> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  // zod's messages name the expected type, never the value received, so no junk reaches the log.
  return { ok: false, kind: kindOf(root, issue?.path ?? []), problem: issue?.message ?? 'invalid' };
}

/**
 * Counts rejected payloads by kind, so an in node logs each kind once and not each payload: a
 * broken sender repeats the same mistake for every payload it sends.
 */
export class RejectTally {
  private readonly counts = new Map<string, number>();
  /** Schemas bound the kinds; the cap is there in case one ever grows unbounded paths. */
  constructor(private readonly maxKinds = 100) {}

  /** Counts one; true the first time this kind is seen (the time to log it). */
  note(kind: string): boolean {
    const key = this.counts.has(kind) || this.counts.size < this.maxKinds ? kind : 'other';
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n === 1;
  }

  get total(): number {
    let t = 0;
    for (const n of this.counts.values()) t += n;
    return t;
  }

  /** `update.message.from: 3, update.update_id: 1`, most frequent first. */
  summary(): string {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ');
  }
}
