/**
 * The out side every platform shares, without Node-RED: one reply in, the right platform calls
 * out. Typing signals drive a TypingKeeper; streamed parts drive one view per stream (kept in a
 * StreamBook): the platform's own native stream where it has one, else a StreamEditor that sends
 * and edits messages; whole replies are rendered and split for the platform. Every call to one
 * chat goes through a ChatQueue, so replies arrive in the order they left the flow.
 *
 * A platform supplies only what is its own (PlatformDelivery): its format, how to send the parts
 * of a whole reply (with whatever media or buttons it supports), the three calls a stream by edits
 * needs (send, edit, delete) or a native stream of its own, and the typing call with how often it
 * must be repeated.
 */
import {
  ChatQueue,
  ChatQueueClosedError,
  DEFAULT_TYPING_INTERVAL_MS,
  renderAndSplit,
  StreamEditor,
  TypingKeeper,
  type Clock,
  type PlatformFormat,
  type RenderedPart,
  type SentMessage,
  type StreamTarget,
} from '../delivery';
import type { Outbound } from '../outbound';
import { StreamBook, DEFAULT_STREAM_IDLE_MS } from './stream-book';

/** A platform delivery throws this when its connection does not exist (no usable config node). */
export class NoConnectionError extends Error {}

/** Where a reply goes, as far as ordering and typing care. */
export interface KitAddress {
  /** One lane of the per-chat queue (a platform's rate limits and order are per chat). */
  chatKey: string;
  /** The typing indicator's scope (a topic, a thread). */
  typingKey: string;
}

export interface KitReply<A extends KitAddress> {
  out: Outbound;
  address: A;
}

export type Delivered =
  | { kind: 'sent'; messages: number }
  | { kind: 'streaming' }
  | { kind: 'typing' }
  /** Nothing to show: an empty reply, a typing signal with typing off, a stale stream part. */
  | { kind: 'skipped' };

/** One stream as it is shown: the whole text so far on each update, the final reply at the end. */
export interface StreamView<R> {
  update(textSoFar: string): void;
  /**
   * The final part: resolves with how many messages the reply took once they hold it, or with
   * undefined when nothing was shown (the kit then sends the reply whole).
   */
  finish(reply: R): Promise<number | undefined>;
  /** Stops for good (an idle stream, the node's close); a call in flight may still complete. */
  close(): void;
  /** What a redeploy keeps of it (plain data) for the next deploy's sender to go on with; undefined: nothing shown yet. */
  park?(): unknown;
}

/** An open stream as a redeploy leaves it, for the sender of the next deploy. */
export interface ParkedStream {
  id: string;
  lastSeq: number;
  state: unknown;
}

/** What the kit's stream by edits parks: the messages it shows. */
interface EditsState {
  kind: 'edits';
  shown: SentMessage[];
}

const isEditsState = (s: unknown): s is EditsState => !!s && typeof s === 'object' && (s as EditsState).kind === 'edits' && Array.isArray((s as EditsState).shown);

/** What the kit lends a platform's own stream. */
export interface StreamKit<R> {
  /** Opens the kit's stream by edits for this reply, for a platform stream to hand over to. */
  byEdits(): StreamView<R>;
  /** Runs a call in the chat's lane, in order with every other call to the chat. */
  inChat<T>(task: () => Promise<T>): Promise<T>;
  /** Failures nobody awaits (an intermediate append): shown, never thrown. */
  onError(error: unknown): void;
}

export interface PlatformDelivery<A extends KitAddress, R extends KitReply<A>> {
  readonly format: PlatformFormat;
  /** Whole replies: does this one have something besides text (media)? Then an empty text still sends. */
  hasExtra?(reply: R): boolean;
  /** Sends the messages of one whole reply, in order, inside its chat's queue; returns how many. */
  sendWhole(reply: R, parts: RenderedPart[]): Promise<number>;
  /** Sends, edits and deletes one stream's messages; `first` is true for the stream's first send. */
  stream(reply: R): { send(part: RenderedPart, first: boolean): Promise<string>; edit(id: string, part: RenderedPart): Promise<void>; delete?(id: string): Promise<void> };
  /**
   * The platform's own stream for this reply (one the platform grows itself), or undefined for
   * the kit's stream by edits (`stream`).
   */
  openStream?(reply: R, kit: StreamKit<R>): StreamView<R> | undefined;
  /** Its own stream again, from what its view parked in the previous deploy (StreamView.park). */
  resumeStream?(reply: R, kit: StreamKit<R>, state: unknown): StreamView<R> | undefined;
  /** After a stream by edits has its final text (buttons, media); inside the chat's queue; returns extra messages sent. */
  afterStream?(reply: R, messageIds: string[]): Promise<number>;
  /** One typing signal; undefined when the platform (or this address) has none. */
  typing?(address: A): (() => Promise<unknown>) | undefined;
  /** How often the signal is repeated while the agent works (as long as the platform shows one). */
  readonly typingIntervalMs?: number;
  /** Typing signals take their turn in the chat's queue (a status that must not land after a reply). */
  readonly typingInChat?: boolean;
  /**
   * A redeploy has waited long enough: the calls still under way (mostly waiting out a rate limit)
   * end now and reject with Stopped, so the next deploy's node makes them. Platforms whose
   * connection already ends such waits when it stops need none.
   */
  stop?(): void;
}

interface StreamLane {
  held: boolean;
}

export interface ChannelSenderOptions {
  typing: boolean;
  editIntervalMs?: number;
  /** Overrides the platform's typing interval (tests). */
  typingIntervalMs?: number;
  streamIdleMs?: number;
  /** Failures nobody awaits (typing, intermediate stream edits): shown, never thrown. */
  onBackgroundError?: (error: unknown) => void;
  /** For tests: the time the throttles, keep-alives and idle streams go by. */
  clock?: Clock;
}

export class ChannelSender<A extends KitAddress, R extends KitReply<A>> {
  private readonly queue = new ChatQueue();
  private readonly typing: TypingKeeper;
  private readonly streams: StreamBook<A, StreamView<R>>;
  /** Per open stream: whether its final part holds the chat's turn (its calls then run directly). */
  private readonly lanes = new WeakMap<StreamView<R>, StreamLane>();
  /** Streams the previous deploy's sender left open, by id: their next part goes on in their messages. */
  private readonly adopted = new Map<string, { state: unknown; at: number }>();
  /** Calls queued or running in the chat lanes (a redeploy waits for the running ones). */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Streams whose final part has come and is not shown yet (its turn in the chat may still be waiting). */
  private readonly finishing = new Map<string, { view: StreamView<R>; lastSeq: number }>();
  private readonly onError: (error: unknown) => void;

  constructor(
    private readonly platform: PlatformDelivery<A, R>,
    private readonly opts: ChannelSenderOptions,
  ) {
    this.onError = (error) => opts.onBackgroundError?.(error);
    const clock = opts.clock;
    this.streams = new StreamBook(opts.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS, clock ? () => clock.now() : Date.now);
    this.typing = new TypingKeeper({
      intervalMs: opts.typingIntervalMs ?? platform.typingIntervalMs ?? DEFAULT_TYPING_INTERVAL_MS,
      onError: this.onError,
      ...(clock ? { clock } : {}),
    });
  }

  async deliver(reply: R): Promise<Delivered> {
    this.streams.forgetIdle();
    if (this.adopted.size) this.forgetAdopted();
    if (reply.out.event) return this.startTyping(reply.out.event, reply);
    // Before the reply is queued: a refresh queued after it would bring the indicator back under the answer.
    this.typing.stop(reply.address.typingKey);
    if (reply.out.stream) return this.streamPart(reply);
    return this.whole(reply);
  }

  /** Runs `task` in the chat's lane (for platform calls outside a reply, e.g. a button edit). */
  inChat<T>(address: A, task: () => Promise<T>): Promise<T> {
    const run = this.queue.run(address.chatKey, task);
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Stops typing, forgets open streams and refuses queued sends (those already running finish). */
  close(): void {
    this.typing.close();
    this.streams.close();
    this.queue.close();
    this.finishing.clear();
  }

  /**
   * A redeploy: refuses the sends still queued (their callers keep them for the next deploy, see
   * ChatQueueClosedError), waits up to `waitMs` for the ones under way, and returns the open
   * streams as they stand, then closes. The next deploy's sender takes them with `adopt`.
   */
  async handOver(waitMs: number): Promise<ParkedStream[]> {
    this.queue.close();
    const settled = (ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((r) => (timer = setTimeout(r, ms)));
      return Promise.race([Promise.allSettled([...this.inFlight]), waited]).finally(() => clearTimeout(timer));
    };
    await settled(waitMs);
    if (this.inFlight.size && this.platform.stop) {
      this.platform.stop();
      await settled(1000);
    }
    const parked: ParkedStream[] = [];
    // A stream whose final part was still waiting for its turn goes too: the final part is handed
    // over with the node's unsent replies, and must find the messages the stream shows.
    for (const [id, s] of [...this.streams.open(), ...this.finishing]) {
      const state = s.view.park?.();
      if (state !== undefined) parked.push({ id, lastSeq: s.lastSeq, state });
    }
    this.close();
    return parked;
  }

  /** Streams a previous deploy's sender handed over (handOver): a later part of one goes on in its messages. */
  adopt(streams: ParkedStream[], now = Date.now()): void {
    for (const s of streams) this.adopted.set(s.id, { state: s.state, at: now });
  }

  /** An adopted stream whose reply never came goes after the idle time, as an open one does. */
  private forgetAdopted(): void {
    const cutoff = Date.now() - (this.opts.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS);
    for (const [id, a] of this.adopted) if (a.at < cutoff) this.adopted.delete(id);
  }

  private startTyping(event: string, reply: R): Delivered {
    if (event !== 'typing' || !this.opts.typing) return { kind: 'skipped' };
    const { address } = reply;
    const send = this.platform.typing?.(address);
    if (!send) return { kind: 'skipped' };
    this.typing.start(address.typingKey, this.platform.typingInChat ? () => this.inChat(address, send) : send);
    return { kind: 'typing' };
  }

  private async whole(reply: R): Promise<Delivered> {
    const parts = renderAndSplit(reply.out.text, this.platform.format);
    if (!parts.length && !this.platform.hasExtra?.(reply)) return { kind: 'skipped' };
    const messages = await this.inChat(reply.address, () => this.platform.sendWhole(reply, parts));
    return { kind: 'sent', messages };
  }

  private async streamPart(reply: R): Promise<Delivered> {
    const info = reply.out.stream!;
    if (!info.done) {
      const s = this.streams.partial(info.id, info.seq, reply.address, () => this.openView(reply));
      if (!s) return { kind: 'skipped' }; // a part overtaken by a later one
      s.view.update(reply.out.text);
      return { kind: 'streaming' };
    }
    // A stream handed over by a redeploy may get nothing but its final part here.
    const open = this.streams.take(info.id) ?? (this.adopted.has(info.id) ? { view: this.openView(reply), lastSeq: info.seq - 1 } : undefined);
    if (!open) return this.whole(reply);
    this.finishing.set(info.id, open);
    const finished = () => {
      if (this.finishing.get(info.id) === open) this.finishing.delete(info.id);
    };
    // The final part takes its place in the chat now, while an earlier call of its stream may still
    // be retried (a 429 storm): the replies after it wait for it, as they wait for a whole reply.
    // The stream's own calls run inside this turn of the chat (held), not behind it.
    const lane = this.lanes.get(open.view);
    const shown = this.inChat(reply.address, async (): Promise<Delivered> => {
      if (lane) lane.held = true;
      try {
        // A stream that never showed anything sends the final part whole, in the same place.
        const messages = await open.view.finish(reply);
        if (messages !== undefined) return { kind: 'sent', messages };
        const parts = renderAndSplit(reply.out.text, this.platform.format);
        if (!parts.length && !this.platform.hasExtra?.(reply)) return { kind: 'skipped' };
        return { kind: 'sent', messages: await this.platform.sendWhole(reply, parts) };
      } finally {
        if (lane) lane.held = false;
      }
    });
    // Refused by a close while it waited for its turn: still to be shown (handOver parks it).
    shown.then(finished, (err: unknown) => {
      if (!(err instanceof ChatQueueClosedError)) finished();
    });
    return shown;
  }

  private openView(reply: R): StreamView<R> {
    const lane: StreamLane = { held: false };
    const inChat = <T>(task: () => Promise<T>): Promise<T> => (lane.held ? task() : this.inChat(reply.address, task));
    const byEdits = () => this.byEdits(reply, inChat);
    const kit: StreamKit<R> = { byEdits, inChat, onError: this.onError };
    const id = reply.out.stream?.id;
    const adopted = id !== undefined ? this.adopted.get(id) : undefined;
    if (id !== undefined) this.adopted.delete(id);
    const resumed = adopted && (isEditsState(adopted.state) ? this.byEdits(reply, inChat, adopted.state.shown) : this.platform.resumeStream?.(reply, kit, adopted.state));
    const view = resumed ?? this.platform.openStream?.(reply, kit) ?? byEdits();
    this.lanes.set(view, lane);
    return view;
  }

  /** The kit's stream: a StreamEditor sending and editing the platform's messages, then `afterStream`. */
  private byEdits(reply: R, inChat: <T>(task: () => Promise<T>) => Promise<T>, shown?: SentMessage[]): StreamView<R> {
    const editor = new StreamEditor(this.streamTarget(reply, inChat, shown !== undefined && shown.length > 0), {
      format: this.platform.format,
      ...(shown?.length ? { sent: shown } : {}),
      ...(this.opts.editIntervalMs !== undefined ? { intervalMs: this.opts.editIntervalMs } : {}),
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      onError: this.onError,
    });
    return {
      update: (text) => editor.update(text),
      finish: async (final) => {
        const ids = await editor.finish(final.out.text);
        if (!this.platform.afterStream) return ids.length;
        return ids.length + (await inChat(() => this.platform.afterStream!(final, ids)));
      },
      close: () => editor.close(),
      park: () => {
        const state: EditsState = { kind: 'edits', shown: editor.shown };
        return state.shown.length ? state : undefined;
      },
    };
  }

  /** Each call of a stream takes its turn in the chat's queue, so a stream and whole replies keep their order. */
  private streamTarget(reply: R, run: <T>(task: () => Promise<T>) => Promise<T>, resumed = false): StreamTarget {
    const calls = this.platform.stream(reply);
    let first = !resumed;
    const target: StreamTarget = {
      send: (part) =>
        run(() => {
          const isFirst = first;
          first = false;
          return calls.send(part, isFirst);
        }),
      edit: (messageId, part) => run(() => calls.edit(messageId, part)),
    };
    if (calls.delete) target.delete = (messageId) => run(() => calls.delete!(messageId));
    return target;
  }
}
