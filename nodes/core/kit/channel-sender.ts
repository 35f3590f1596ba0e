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
  DEFAULT_TYPING_INTERVAL_MS,
  renderAndSplit,
  StreamEditor,
  TypingKeeper,
  type Clock,
  type PlatformFormat,
  type RenderedPart,
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
}

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
  /** After a stream by edits has its final text (buttons, media); inside the chat's queue; returns extra messages sent. */
  afterStream?(reply: R, messageIds: string[]): Promise<number>;
  /** One typing signal; undefined when the platform (or this address) has none. */
  typing?(address: A): (() => Promise<unknown>) | undefined;
  /** How often the signal is repeated while the agent works (as long as the platform shows one). */
  readonly typingIntervalMs?: number;
  /** Typing signals take their turn in the chat's queue (a status that must not land after a reply). */
  readonly typingInChat?: boolean;
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
    if (reply.out.event) return this.startTyping(reply.out.event, reply);
    // Before the reply is queued: a refresh queued after it would bring the indicator back under the answer.
    this.typing.stop(reply.address.typingKey);
    if (reply.out.stream) return this.streamPart(reply);
    return this.whole(reply);
  }

  /** Runs `task` in the chat's lane (for platform calls outside a reply, e.g. a button edit). */
  inChat<T>(address: A, task: () => Promise<T>): Promise<T> {
    return this.queue.run(address.chatKey, task);
  }

  /** Stops typing, forgets open streams and refuses queued sends (those already running finish). */
  close(): void {
    this.typing.close();
    this.streams.close();
    this.queue.close();
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
    const open = this.streams.take(info.id);
    // A final part with no stream shown (none opened, or one that never showed anything) is sent whole.
    const messages = open ? await open.view.finish(reply) : undefined;
    if (messages === undefined) return this.whole(reply);
    return { kind: 'sent', messages };
  }

  private openView(reply: R): StreamView<R> {
    const byEdits = () => this.byEdits(reply);
    const kit: StreamKit<R> = { byEdits, inChat: (task) => this.inChat(reply.address, task), onError: this.onError };
    return this.platform.openStream?.(reply, kit) ?? byEdits();
  }

  /** The kit's stream: a StreamEditor sending and editing the platform's messages, then `afterStream`. */
  private byEdits(reply: R): StreamView<R> {
    const editor = new StreamEditor(this.streamTarget(reply), {
      format: this.platform.format,
      ...(this.opts.editIntervalMs !== undefined ? { intervalMs: this.opts.editIntervalMs } : {}),
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      onError: this.onError,
    });
    return {
      update: (text) => editor.update(text),
      finish: async (final) => {
        const ids = await editor.finish(final.out.text);
        if (!this.platform.afterStream) return ids.length;
        return ids.length + (await this.inChat(final.address, () => this.platform.afterStream!(final, ids)));
      },
      close: () => editor.close(),
    };
  }

  /** Each call of a stream takes its turn in the chat's queue, so a stream and whole replies keep their order. */
  private streamTarget(reply: R): StreamTarget {
    const calls = this.platform.stream(reply);
    const run = <T>(task: () => Promise<T>) => this.inChat(reply.address, task);
    let first = true;
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
