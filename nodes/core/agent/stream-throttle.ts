/**
 * Turns a stream of text deltas into a few partial replies: each part carries the WHOLE text so far
 * (a chat bubble is replaced, not appended to), at most one part per interval, then one final part.
 * Parts are numbered from 0; nothing is emitted after the final part.
 */

export interface StreamPart {
  id: string;
  seq: number;
  done: boolean;
  /** The whole text so far (the whole reply on the final part). */
  text: string;
}

export interface StreamThrottleOptions {
  id: string;
  /** Minimum time between two partial parts. */
  intervalMs: number;
  emit: (part: StreamPart) => void;
  now?: () => number;
  /** The first part's seq (a stream picked up again after a redeploy goes on where it stopped). */
  firstSeq?: number;
}

export const DEFAULT_STREAM_INTERVAL_MS = 1000;

export class StreamThrottle {
  private text = '';
  private seq = 0;
  private lastEmitAt = -Infinity;
  private lastEmittedText = '';
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private readonly now: () => number;

  private readonly firstSeq: number;

  constructor(private readonly opts: StreamThrottleOptions) {
    this.now = opts.now ?? Date.now;
    this.firstSeq = opts.firstSeq ?? 0;
    this.seq = this.firstSeq;
  }

  /** The text received so far. */
  get current(): string {
    return this.text;
  }

  /** How many parts (partial or final) have left. */
  get emitted(): number {
    return this.seq - this.firstSeq;
  }

  /** The seq the next part would carry. */
  get nextSeq(): number {
    return this.seq;
  }

  get done(): boolean {
    return this.finished;
  }

  push(delta: string): void {
    if (this.finished || !delta) return;
    this.text += delta;
    const wait = this.lastEmitAt + Math.max(0, this.opts.intervalMs) - this.now();
    // The first part goes at once, so the user sees the agent answering; later ones at most once per interval.
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Emits the final part with `text` (the provider's whole reply; the deltas joined when omitted). */
  finish(text: string = this.text): StreamPart | undefined {
    if (this.finished) return undefined;
    this.clearTimer();
    this.finished = true;
    this.text = text;
    const part = { id: this.opts.id, seq: this.seq++, done: true, text };
    this.opts.emit(part);
    return part;
  }

  /** Stops for good without a final part (interrupt, failure, close). */
  cancel(): void {
    this.clearTimer();
    this.finished = true;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    if (this.finished || this.text === this.lastEmittedText) return;
    this.lastEmitAt = this.now();
    this.lastEmittedText = this.text;
    this.opts.emit({ id: this.opts.id, seq: this.seq++, done: false, text: this.text });
  }
}
