/**
 * A streamed reply shown as it grows: each update carries the WHOLE text so far (see
 * agent/stream-throttle), which is rendered and split like a finished reply; the first part is sent,
 * later updates edit it, and when the text outgrows the limit the current message keeps the parts
 * that fit and the rest continues in a new message. `finish` leaves the messages exactly as
 * renderAndSplit(wholeText) would have sent them.
 *
 * Edits are throttled (Telegram accepts about one per second per chat) and serialised: one stream
 * never has two sends or edits in flight, so messages keep their order and no edit overtakes another.
 */
import { renderAndSplit } from './split';
import { isNotModified } from './errors';
import { systemClock, type Clock, type TimerHandle } from './clock';
import type { PlatformFormat, RenderAndSplit, RenderedPart, StreamTarget } from './types';
import { guard } from '../guard';

export const DEFAULT_EDIT_INTERVAL_MS = 1000;

export interface StreamEditorOptions {
  format: PlatformFormat;
  /** Minimum time between the starts of two syncs (each a few edits at most, usually one). */
  intervalMs?: number;
  split?: RenderAndSplit;
  /** Failures of intermediate edits (the next update retries them); `finish` rejects instead. */
  onError?: (error: unknown) => void;
  clock?: Clock;
  /** Messages the stream already shows (sent by the editor of the previous deploy): edited, not sent again. */
  sent?: SentMessage[];
}

/** One message of a stream: its platform id and the text it shows. */
export interface SentMessage {
  id: string;
  text: string;
}

export class StreamEditor {
  private readonly sent: SentMessage[] = [];
  private latest = '';
  /** Text of the last sync started; a failed sync is retried by the next update, not in a loop. */
  private attempted: string | undefined;
  private lastSyncAt = -Infinity;
  private timer: TimerHandle | undefined;
  private busy = false;
  private finished = false;
  private tail: Promise<void> = Promise.resolve();
  private readonly intervalMs: number;
  private readonly split: RenderAndSplit;
  private readonly clock: Clock;
  /** The caller's handler, made unable to throw: it runs inside a rejection handler. */
  private readonly onError: (error: unknown) => void;

  constructor(
    private readonly target: StreamTarget,
    private readonly opts: StreamEditorOptions,
  ) {
    this.onError = guard(opts.onError);
    this.intervalMs = Math.max(0, opts.intervalMs ?? DEFAULT_EDIT_INTERVAL_MS);
    this.split = opts.split ?? renderAndSplit;
    this.clock = opts.clock ?? systemClock;
    for (const m of opts.sent ?? []) this.sent.push({ id: m.id, text: m.text });
  }

  /** Ids of the messages this stream has sent, in order. */
  get messageIds(): string[] {
    return this.sent.map((message) => message.id);
  }

  /** The messages this stream shows and their texts (for a redeploy to go on with them). */
  get shown(): SentMessage[] {
    return this.sent.map((m) => ({ ...m }));
  }

  get done(): boolean {
    return this.finished;
  }

  /** The whole text so far; shown at once if the interval has passed, else at its end (latest wins). */
  update(textSoFar: string): void {
    if (this.finished) return;
    this.latest = textSoFar;
    this.schedule();
  }

  /** Final edits to the whole text; resolves with the message ids once every call has settled. */
  async finish(wholeText: string): Promise<string[]> {
    this.stopTimer();
    this.finished = true;
    this.latest = wholeText;
    await this.enqueue(() => this.sync(wholeText, true));
    return this.messageIds;
  }

  /** Stops for good: no further edits (an edit already in flight still completes). */
  close(): void {
    this.stopTimer();
    this.finished = true;
  }

  private schedule(): void {
    if (this.finished || this.busy || this.timer !== undefined || this.latest === this.attempted) return;
    const wait = this.lastSyncAt + this.intervalMs - this.clock.now();
    if (wait <= 0) this.kick();
    else
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, wait);
  }

  private kick(): void {
    if (this.finished) return;
    this.busy = true;
    this.lastSyncAt = this.clock.now();
    const settled = (): void => {
      this.busy = false;
      // schedule() only reads state and sets a timer; guarded all the same, it runs in a handler.
      guard(() => this.schedule())();
    };
    this.enqueue(() => (this.finished ? Promise.resolve() : this.sync(this.latest, false))).then(settled, (error: unknown) => {
      this.onError(error);
      settled();
    });
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async sync(text: string, final: boolean): Promise<void> {
    this.attempted = text;
    const parts = this.split(text, this.opts.format);
    for (let i = 0; i < parts.length; i++) await this.show(i, parts[i]);
    if (final) await this.removeExtra(parts.length);
  }

  private async show(index: number, part: RenderedPart): Promise<void> {
    const message = this.sent[index];
    if (!message) {
      const id = await this.target.send(part);
      this.sent.push({ id, text: part.text });
      return;
    }
    if (message.text === part.text) return;
    try {
      await this.target.edit(message.id, part);
    } catch (error) {
      if (!isNotModified(error)) throw error;
    }
    message.text = part.text;
  }

  /** The final text needs fewer messages than were streamed (the provider's final text was shorter). */
  private async removeExtra(keep: number): Promise<void> {
    if (!this.target.delete) return;
    while (this.sent.length > keep) {
      const last = this.sent[this.sent.length - 1];
      await this.target.delete(last.id);
      this.sent.pop();
    }
  }

  private stopTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
