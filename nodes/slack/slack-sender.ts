/**
 * Slack's part of the out side. Whole replies and streams shown by editing one message go through
 * the channel kit's ChannelSender with SlackDelivery (post, update, delete; buttons and files);
 * three things are Slack's own and live in SlackSender around it:
 *
 *  - native streaming (native-stream.ts) for replies in a thread, where Slack grows the message
 *    itself; the kit streams by edits everywhere else (top-level messages, a workspace that
 *    refuses native streams), and takes over a stream Slack refused to start;
 *  - the "is thinking…" status of AI-app threads (assistant.threads.setStatus) while the agent
 *    works. Slack has no typing indicator for bots anywhere else, so nothing is shown there;
 *  - which thread the bot takes part in (noted on every post in a channel thread).
 *
 * Every call to one channel runs in the kit's per-chat lane, so replies keep the order they left
 * the flow in; rate limits and retries are the connection's (web-calls.ts), and a post is made
 * exactly once even when its answer is lost (post-once.ts).
 */
import { renderAndSplit, TypingKeeper, type PlatformFormat, type RenderedPart } from '../core/delivery';
import { ChannelSender, NoConnectionError, type Delivered, type PlatformDelivery } from '../core/kit/channel-sender';
import { DEFAULT_STREAM_IDLE_MS } from '../core/kit/stream-book';
import type { Outbound } from '../core/outbound';
import type { SlackAddress } from './address';
import { SECTION_MAX, withText, type Block } from './blocks';
import type { SlackConnection } from './connection';
import type { OutFile } from './files';
import { NativeStream } from './native-stream';
import { postOnce } from './post-once';
import { classify } from './send-errors';
import { SLACK_TEMP_FORMAT, withMaxLength } from './slack-format';

export type { Delivered };

export interface SlackReply {
  out: Outbound;
  address: SlackAddress;
  buttons?: Block[];
  file?: OutFile;
}

export interface SenderOptions {
  /** The app's connection; a function, since it may not exist yet when the node starts. */
  connection: () => SlackConnection | undefined;
  /** Show "is thinking…" in AI-app threads while the agent works. */
  typing: boolean;
  /** The status text (Slack shows it after the app's name). */
  status: string;
  /** Stream replies in threads natively (else always by edits). */
  nativeStreaming: boolean;
  editIntervalMs?: number;
  /** How often the assistant status is set again while the agent works (Slack clears it after a while). */
  typingIntervalMs?: number;
  streamIdleMs?: number;
  onBackgroundError?: (error: unknown) => void;
}

/** The format replies are rendered in: the temporary escaped plain text until SLACK_MRKDWN lands (slack-format.ts). */
const FORMAT: PlatformFormat = SLACK_TEMP_FORMAT;
const SECTION_FORMAT: PlatformFormat = withMaxLength(FORMAT, SECTION_MAX, `${FORMAT.name}-section`);

export class NoAppError extends NoConnectionError {}

function connectionOf(opts: SenderOptions): SlackConnection {
  const c = opts.connection();
  if (!c) throw new NoAppError('no slack app connection');
  return c;
}

class SlackDelivery implements PlatformDelivery<SlackAddress, SlackReply> {
  readonly format = FORMAT;

  constructor(
    private readonly opts: SenderOptions,
    private readonly typingStop: (key: string) => void,
  ) {}

  /** A file or buttons are sent even with no text. */
  hasExtra(reply: SlackReply): boolean {
    return reply.file !== undefined || reply.buttons !== undefined;
  }

  async sendWhole(reply: SlackReply, parts: RenderedPart[]): Promise<number> {
    const { address, buttons, file } = reply;
    this.typingStop(address.typingKey);
    // Text beside buttons goes in a section block, which holds 3,000 characters.
    const text = buttons && parts.length ? renderAndSplit(reply.out.text, SECTION_FORMAT) : parts;
    let sent = 0;
    for (let i = 0; i < text.length; i++) {
      const last = i === text.length - 1;
      await this.post(address, text[i].text, last && !file ? buttons : undefined);
      sent += 1;
    }
    if (file) {
      await this.upload(address, file);
      sent += 1;
      if (buttons) {
        await this.post(address, '', buttons);
        sent += 1;
      }
    } else if (buttons && text.length === 0) {
      await this.post(address, '', buttons);
      sent += 1;
    }
    return sent;
  }

  stream(reply: SlackReply) {
    const { address } = reply;
    return {
      send: async (part: RenderedPart) => {
        this.typingStop(address.typingKey);
        return (await this.post(address, part.text)).ts;
      },
      edit: async (ts: string, part: RenderedPart) => {
        await connectionOf(this.opts).calls.call('chat.update', { channel: address.channel, ts, text: part.text }, { idempotent: true });
      },
      delete: async (ts: string) => {
        await connectionOf(this.opts)
          .calls.call('chat.delete', { channel: address.channel, ts }, { idempotent: true })
          .catch((err: unknown) => {
            // Deleted already (a retry after a lost answer, or by someone): what we wanted.
            if (classify(err).kind !== 'refused') throw err;
          });
      },
    };
  }

  /** Buttons go under the last streamed message once it is whole; the file follows. */
  async afterStream(reply: SlackReply, ids: string[]): Promise<number> {
    const { address, buttons, file } = reply;
    let sent = 0;
    if (buttons && ids.length) {
      const last = renderAndSplit(reply.out.text, FORMAT).at(-1);
      const fits = last !== undefined && last.text.length <= SECTION_MAX;
      if (fits) {
        await connectionOf(this.opts).calls.call('chat.update', { channel: address.channel, ts: ids[ids.length - 1], text: last.text, blocks: withText(last.text, buttons) }, { idempotent: true });
      } else {
        await this.post(address, '', buttons);
        sent += 1;
      }
    }
    if (file) {
      await this.upload(address, file);
      sent += 1;
    }
    return sent;
  }

  /** One message, exactly once; notes the thread as one the bot takes part in. */
  async post(address: SlackAddress, text: string, buttons?: Block[]): Promise<{ ts: string }> {
    const c = connectionOf(this.opts);
    const fallback = text || (buttons ? buttonLabels(buttons) : ' ');
    const posted = await postOnce(c.calls, {
      channel: address.channel,
      text: fallback,
      ...(address.threadTs ? { thread_ts: address.threadTs } : {}),
      ...(buttons ? { blocks: withText(text, buttons) } : {}),
    });
    if (address.threadTs && !address.channel.startsWith('D')) c.threads.note(address.channel, address.threadTs);
    return posted;
  }

  private async upload(address: SlackAddress, file: OutFile): Promise<void> {
    const c = connectionOf(this.opts);
    // files.uploadV2 ends with completeUploadExternal, which posts the file: never repeated on an unknown outcome.
    await c.calls.call('files.uploadV2', {
      channel_id: address.channel,
      ...(address.threadTs ? { thread_ts: address.threadTs } : {}),
      file: file.data,
      filename: file.filename,
      ...(file.title ? { title: file.title } : {}),
    });
  }
}

/** The notification text of a message that is only buttons. */
function buttonLabels(blocks: Block[]): string {
  const labels: string[] = [];
  for (const b of blocks) for (const e of (b.elements as Array<{ text?: { text?: string } }> | undefined) ?? []) if (e.text?.text) labels.push(e.text.text);
  return labels.join(' · ') || ' ';
}

interface OpenNative {
  stream: NativeStream;
  lastSeq: number;
  lastSeen: number;
}

/** Slack's out side: the kit's sender with Slack's delivery, native streams and the assistant status. */
export class SlackSender {
  private readonly kit: ChannelSender<SlackAddress, SlackReply>;
  private readonly delivery: SlackDelivery;
  private readonly typing: TypingKeeper;
  private readonly native = new Map<string, OpenNative>();
  /** Streams the kit shows (by edits): those it was given first, or that Slack refused to stream natively. */
  private readonly byKit = new Map<string, number>();

  constructor(private readonly opts: SenderOptions) {
    this.typing = new TypingKeeper({ intervalMs: opts.typingIntervalMs ?? 30_000, onError: (error) => opts.onBackgroundError?.(error) });
    this.delivery = new SlackDelivery(opts, (key) => this.typing.stop(key));
    this.kit = new ChannelSender(this.delivery, {
      // The assistant status is ours (below); the kit's typing keeper is not used.
      typing: false,
      ...(opts.editIntervalMs !== undefined ? { editIntervalMs: opts.editIntervalMs } : {}),
      ...(opts.streamIdleMs !== undefined ? { streamIdleMs: opts.streamIdleMs } : {}),
      ...(opts.onBackgroundError ? { onBackgroundError: opts.onBackgroundError } : {}),
    });
  }

  async deliver(reply: SlackReply): Promise<Delivered> {
    this.forgetIdle();
    const { out, address } = reply;
    if (out.event) return this.startTyping(out.event, address);
    // Stopped before the reply is queued: a status refresh queued after it would show "is thinking…" under the answer.
    this.typing.stop(address.typingKey);
    if (!out.stream) return this.kit.deliver(reply);
    const id = out.stream.id;
    if (this.byKit.has(id) || (!this.native.has(id) && !this.nativeApplies(address))) {
      if (out.stream.done) this.byKit.delete(id);
      else this.byKit.set(id, Date.now());
      return this.kit.deliver(reply);
    }
    return this.nativePart(reply);
  }

  close(): void {
    this.typing.close();
    for (const s of this.native.values()) s.stream.close();
    this.native.clear();
    this.kit.close();
  }

  private nativeApplies(address: SlackAddress): boolean {
    const c = this.opts.connection();
    if (!this.opts.nativeStreaming || !c?.features.nativeStream || !address.threadTs) return false;
    // Outside a DM a stream must name its reader.
    return address.channel.startsWith('D') || (address.userId !== undefined && address.teamId !== undefined);
  }

  private async nativePart(reply: SlackReply): Promise<Delivered> {
    const { out, address } = reply;
    const info = out.stream!;
    const known = this.native.get(info.id);
    if (!info.done) {
      if (known && info.seq <= known.lastSeq) return { kind: 'skipped' };
      if (known?.stream.isRefused) return this.handOver(info.id, reply);
      const s = known ?? { stream: this.openNative(reply), lastSeq: -1, lastSeen: Date.now() };
      if (!known) this.native.set(info.id, s);
      s.lastSeq = info.seq;
      s.lastSeen = Date.now();
      s.stream.update(out.text);
      return { kind: 'streaming' };
    }
    this.native.delete(info.id);
    if (!known) return this.kit.deliver(reply);
    const result = await known.stream.finish(out.text, reply.buttons);
    if (result.kind !== 'done') return this.kit.deliver({ ...reply, out: { ...out, stream: undefined } });
    let messages = 1;
    if (result.buttonsLeft || reply.file) {
      messages += await this.kit.inChat(address, async () => {
        let n = 0;
        if (result.buttonsLeft && reply.buttons) {
          await this.delivery.post(address, '', reply.buttons);
          n += 1;
        }
        if (reply.file) n += await this.delivery.afterStream({ ...reply, buttons: undefined }, []);
        return n;
      });
    }
    if (address.threadTs && !address.channel.startsWith('D')) this.opts.connection()?.threads.note(address.channel, address.threadTs);
    return { kind: 'sent', messages };
  }

  /** Slack refused to start a native stream: the kit shows the rest of it by edits. */
  private handOver(id: string, reply: SlackReply): Promise<Delivered> {
    this.native.get(id)?.stream.close();
    this.native.delete(id);
    this.byKit.set(id, Date.now());
    return this.kit.deliver(reply);
  }

  private openNative(reply: SlackReply): NativeStream {
    const { address } = reply;
    const c = connectionOf(this.opts);
    return new NativeStream({
      calls: c.calls,
      address,
      inChat: (task) => this.kit.inChat(address, task),
      intervalMs: this.opts.editIntervalMs ?? 1000,
      bot: () => c.identity,
      unavailable: () => {
        c.features.nativeStream = false;
      },
      onError: (error) => this.opts.onBackgroundError?.(error),
    });
  }

  private startTyping(event: string, address: SlackAddress): Delivered {
    const c = this.opts.connection();
    if (event !== 'typing' || !this.opts.typing || !address.assistantThread || !address.threadTs || !c?.features.assistant) return { kind: 'skipped' };
    const args = { channel_id: address.channel, thread_ts: address.threadTs, status: this.opts.status };
    this.typing.start(address.typingKey, () =>
      this.kit.inChat(address, () =>
        c.calls.call('assistant.threads.setStatus', args, { idempotent: true, optional: true }).catch((err: unknown) => {
          // A workspace or app without the AI-app surface refuses the status for good: stop asking.
          const kind = classify(err).kind;
          if (kind === 'refused' || kind === 'scope') {
            c.features.assistant = false;
            this.typing.stop(address.typingKey);
          }
          throw err;
        }),
      ),
    );
    return { kind: 'typing' };
  }

  private forgetIdle(): void {
    const cutoff = Date.now() - (this.opts.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS);
    for (const [id, s] of this.native) {
      if (s.lastSeen < cutoff) {
        s.stream.close();
        this.native.delete(id);
      }
    }
    for (const [id, seen] of this.byKit) if (seen < cutoff) this.byKit.delete(id);
  }
}
