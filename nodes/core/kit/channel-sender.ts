/**
 * The out side every platform shares, without Node-RED: one reply in, the right platform calls
 * out. Typing signals drive a TypingKeeper; streamed parts drive a StreamEditor per stream (kept
 * in a StreamBook); whole replies are rendered and split for the platform. Every call to one chat
 * goes through a ChatQueue, so replies arrive in the order they left the flow.
 *
 * A platform supplies only what is its own (PlatformDelivery): its format, how to send the parts
 * of a whole reply (with whatever media or buttons it supports), the three calls a stream needs
 * (send, edit, delete) and the typing call.
 */
import {
  ChatQueue,
  renderAndSplit,
  StreamEditor,
  TypingKeeper,
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

export interface PlatformDelivery<A extends KitAddress, R extends KitReply<A>> {
  readonly format: PlatformFormat;
  /** Whole replies: does this one have something besides text (media)? Then an empty text still sends. */
  hasExtra?(reply: R): boolean;
  /** Sends the messages of one whole reply, in order, inside its chat's queue; returns how many. */
  sendWhole(reply: R, parts: RenderedPart[]): Promise<number>;
  /** Sends, edits and deletes one stream's messages; `first` is true for the stream's first send. */
  stream(reply: R): { send(part: RenderedPart, first: boolean): Promise<string>; edit(id: string, part: RenderedPart): Promise<void>; delete?(id: string): Promise<void> };
  /** After a stream's final edit (buttons, media); inside the chat's queue; returns extra messages sent. */
  afterStream?(reply: R, messageIds: string[]): Promise<number>;
  /** One typing signal; undefined when the platform (or this address) has none. */
  typing?(address: A): (() => Promise<unknown>) | undefined;
}

export interface ChannelSenderOptions {
  typing: boolean;
  editIntervalMs?: number;
  typingIntervalMs?: number;
  streamIdleMs?: number;
  /** Failures nobody awaits (typing, intermediate stream edits): shown, never thrown. */
  onBackgroundError?: (error: unknown) => void;
}

export class ChannelSender<A extends KitAddress, R extends KitReply<A>> {
  private readonly queue = new ChatQueue();
  private readonly typing: TypingKeeper;
  private readonly streams: StreamBook<A>;

  constructor(
    private readonly platform: PlatformDelivery<A, R>,
    private readonly opts: ChannelSenderOptions,
  ) {
    this.streams = new StreamBook<A>(opts.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS);
    this.typing = new TypingKeeper({
      ...(opts.typingIntervalMs ? { intervalMs: opts.typingIntervalMs } : {}),
      onError: (error) => opts.onBackgroundError?.(error),
    });
  }

  async deliver(reply: R): Promise<Delivered> {
    this.streams.forgetIdle();
    if (reply.out.event) return this.startTyping(reply.out.event, reply.address);
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

  private startTyping(event: string, address: A): Delivered {
    if (event !== 'typing' || !this.opts.typing) return { kind: 'skipped' };
    const send = this.platform.typing?.(address);
    if (!send) return { kind: 'skipped' };
    this.typing.start(address.typingKey, send);
    return { kind: 'typing' };
  }

  private async whole(reply: R): Promise<Delivered> {
    const parts = renderAndSplit(reply.out.text, this.platform.format);
    if (!parts.length && !this.platform.hasExtra?.(reply)) {
      this.typing.stop(reply.address.typingKey);
      return { kind: 'skipped' };
    }
    const messages = await this.queue.run(reply.address.chatKey, async () => {
      this.typing.stop(reply.address.typingKey);
      return this.platform.sendWhole(reply, parts);
    });
    return { kind: 'sent', messages };
  }

  private async streamPart(reply: R): Promise<Delivered> {
    const { out, address } = reply;
    const info = out.stream!;
    if (!info.done) {
      const s = this.streams.partial(info.id, info.seq, address, () => this.openEditor(reply));
      if (!s) return { kind: 'skipped' }; // a part overtaken by a later one
      s.editor.update(out.text);
      return { kind: 'streaming' };
    }
    const open = this.streams.take(info.id);
    // A final part with no stream shown yet is sent as a whole reply.
    if (!open) return this.whole(reply);
    const ids = await open.editor.finish(out.text);
    let messages = ids.length;
    if (this.platform.afterStream) messages += await this.queue.run(address.chatKey, () => this.platform.afterStream!(reply, ids));
    return { kind: 'sent', messages };
  }

  private openEditor(reply: R): StreamEditor {
    return new StreamEditor(this.streamTarget(reply), {
      format: this.platform.format,
      ...(this.opts.editIntervalMs !== undefined ? { intervalMs: this.opts.editIntervalMs } : {}),
      onError: (error) => this.opts.onBackgroundError?.(error),
    });
  }

  /** Each call of a stream takes its turn in the chat's queue, so a stream and whole replies keep their order. */
  private streamTarget(reply: R): StreamTarget {
    const calls = this.platform.stream(reply);
    const { chatKey, typingKey } = reply.address;
    let first = true;
    const target: StreamTarget = {
      send: (part) =>
        this.queue.run(chatKey, () => {
          this.typing.stop(typingKey);
          const isFirst = first;
          first = false;
          return calls.send(part, isFirst);
        }),
      edit: (messageId, part) => this.queue.run(chatKey, () => calls.edit(messageId, part)),
    };
    if (calls.delete) target.delete = (messageId) => this.queue.run(chatKey, () => calls.delete!(messageId));
    return target;
  }
}
