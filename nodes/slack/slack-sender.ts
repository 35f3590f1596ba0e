/**
 * Slack's part of the out side (the kit's PlatformDelivery): how the messages of one reply become
 * Web API calls. Whole replies are posts (buttons in blocks under the last one, a file after the
 * text); a stream by edits is chat.postMessage / chat.update / chat.delete. Two things are Slack's
 * own and plug into the kit where it leaves room for them:
 *
 *  - native streaming (native-stream.ts) for replies in a thread, where Slack grows the message
 *    itself (`openStream`); the kit streams by edits everywhere else (top-level messages, a
 *    workspace that refuses native streams) and takes over a stream Slack refused to start;
 *  - the "is thinking…" status of AI-app threads (assistant.threads.setStatus) as the typing
 *    signal, set again about every 30 s and in the chat's lane. Slack has no typing indicator for
 *    bots anywhere else, so nothing is shown there.
 *
 * Every post in a channel thread notes the thread as one the bot takes part in. Ordering, streams
 * and typing book-keeping are the kit's ChannelSender; rate limits and retries are the
 * connection's (web-calls.ts), and a post is made exactly once even when its answer is lost
 * (post-once.ts).
 */
import { DEFAULT_EDIT_INTERVAL_MS, renderAndSplit, SLACK_MRKDWN, type PlatformFormat, type RenderedPart } from '../core/delivery';
import { ChannelSender, NoConnectionError, type Delivered, type PlatformDelivery, type StreamKit, type StreamView } from '../core/kit/channel-sender';
import type { Outbound } from '../core/outbound';
import type { SlackAddress } from './address';
import { SECTION_MAX, withText, type Block } from './blocks';
import type { SlackConnection } from './connection';
import type { OutFile } from './files';
import { NativeStream, type NativeState } from './native-stream';
import { postOnce } from './post-once';
import { classify } from './send-errors';

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

/** Replies are Slack mrkdwn, measured in UTF-8 bytes (chat.update refuses more than 4,000). */
const FORMAT: PlatformFormat = SLACK_MRKDWN;
/** A section block holds 3,000 characters: the text beside buttons is split to that. */
const SECTION_FORMAT: PlatformFormat = { ...FORMAT, name: `${FORMAT.name}-section`, maxLength: SECTION_MAX };

/** Slack clears an assistant status after a while; set again well before. */
const STATUS_INTERVAL_MS = 30_000;

export class NoAppError extends NoConnectionError {}

function connectionOf(opts: SenderOptions): SlackConnection {
  const c = opts.connection();
  if (!c) throw new NoAppError('no slack app connection');
  return c;
}

/** A post in a channel thread makes the thread one the bot takes part in (DMs are the bot's anyway). */
function noteThread(c: SlackConnection, address: SlackAddress): void {
  if (address.threadTs && !address.channel.startsWith('D')) c.threads.note(address.channel, address.threadTs);
}

class SlackDelivery implements PlatformDelivery<SlackAddress, SlackReply> {
  readonly format = FORMAT;
  readonly typingIntervalMs: number;
  /** A status set after the reply was posted would show "is thinking…" under the answer. */
  readonly typingInChat = true;

  constructor(private readonly opts: SenderOptions) {
    this.typingIntervalMs = opts.typingIntervalMs ?? STATUS_INTERVAL_MS;
  }

  /** A file or buttons are sent even with no text. */
  hasExtra(reply: SlackReply): boolean {
    return reply.file !== undefined || reply.buttons !== undefined;
  }

  async sendWhole(reply: SlackReply, parts: RenderedPart[]): Promise<number> {
    const { address, buttons, file } = reply;
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
      send: async (part: RenderedPart) => (await this.post(address, part.text)).ts,
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

  /** Replies in a thread stream natively where the app and workspace allow it. */
  openStream(reply: SlackReply, kit: StreamKit<SlackReply>): StreamView<SlackReply> | undefined {
    const c = this.opts.connection();
    const { address } = reply;
    if (!c || !this.opts.nativeStreaming || !c.features.nativeStream || !address.threadTs) return undefined;
    // Outside a DM a stream must name its reader.
    if (!address.channel.startsWith('D') && (address.userId === undefined || address.teamId === undefined)) return undefined;
    return new NativeView(this, c, reply, kit, this.opts.editIntervalMs ?? DEFAULT_EDIT_INTERVAL_MS);
  }

  /** A native stream a view of the previous deploy parked: grown on in the same message. */
  resumeStream(reply: SlackReply, kit: StreamKit<SlackReply>, state: unknown): StreamView<SlackReply> | undefined {
    const c = this.opts.connection();
    const s = state as Partial<NativeState> | undefined;
    if (!c || s?.kind !== 'slack-native' || typeof s.ts !== 'string' || typeof s.appended !== 'string') return undefined;
    return new NativeView(this, c, reply, kit, this.opts.editIntervalMs ?? DEFAULT_EDIT_INTERVAL_MS, s as NativeState);
  }

  /** Buttons go under the last streamed message once it is whole; the file follows. */
  async afterStream(reply: SlackReply, ids: string[]): Promise<number> {
    const { address, buttons } = reply;
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
    return sent + (await this.fileAfter(reply));
  }

  /** After a native stream: the buttons it could not carry, then the file. */
  async afterNative(reply: SlackReply, buttonsLeft: boolean): Promise<number> {
    let sent = 0;
    if (buttonsLeft && reply.buttons) {
      await this.post(reply.address, '', reply.buttons);
      sent += 1;
    }
    return sent + (await this.fileAfter(reply));
  }

  /** The "is thinking…" status, only in AI-app threads. */
  typing(address: SlackAddress): (() => Promise<unknown>) | undefined {
    const c = this.opts.connection();
    if (!address.assistantThread || !address.threadTs || !c?.features.assistant) return undefined;
    const args = { channel_id: address.channel, thread_ts: address.threadTs, status: this.opts.status };
    return async () => {
      if (!c.features.assistant) return;
      await c.calls.call('assistant.threads.setStatus', args, { idempotent: true, optional: true }).catch((err: unknown) => {
        // A workspace or app without the AI-app surface refuses the status for good: stop asking.
        const kind = classify(err).kind;
        if (kind === 'refused' || kind === 'scope') c.features.assistant = false;
        throw err;
      });
    };
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
    noteThread(c, address);
    return posted;
  }

  private async fileAfter(reply: SlackReply): Promise<number> {
    if (!reply.file) return 0;
    await this.upload(reply.address, reply.file);
    return 1;
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

/** A reply Slack grows itself; the kit's edits take over if Slack refuses to start it. */
class NativeView implements StreamView<SlackReply> {
  private readonly native: NativeStream;
  private edits: StreamView<SlackReply> | undefined;

  constructor(
    private readonly delivery: SlackDelivery,
    private readonly c: SlackConnection,
    reply: SlackReply,
    private readonly kit: StreamKit<SlackReply>,
    intervalMs: number,
    resume?: NativeState,
  ) {
    this.native = new NativeStream(
      {
        calls: c.calls,
        address: reply.address,
        lane: kit,
        intervalMs,
        bot: () => c.identity,
        unavailable: () => {
          c.features.nativeStream = false;
        },
      },
      resume,
    );
  }

  park(): unknown {
    return this.edits ? this.edits.park?.() : this.native.park();
  }

  update(textSoFar: string): void {
    if (!this.edits && this.native.isRefused) {
      this.native.close();
      this.edits = this.kit.byEdits();
    }
    if (this.edits) this.edits.update(textSoFar);
    else this.native.update(textSoFar);
  }

  async finish(reply: SlackReply): Promise<number | undefined> {
    if (this.edits) return this.edits.finish(reply);
    const result = await this.native.finish(reply.out.text, reply.buttons);
    // Never started, or longer than one message: the kit sends the reply whole.
    if (result.kind !== 'done') return undefined;
    const extra = result.buttonsLeft || reply.file ? await this.kit.inChat(() => this.delivery.afterNative(reply, result.buttonsLeft)) : 0;
    noteThread(this.c, reply.address);
    return 1 + extra;
  }

  close(): void {
    this.native.close();
    this.edits?.close();
  }
}

/** Slack's out side: the kit's sender with Slack's delivery, native streams and the assistant status. */
export class SlackSender extends ChannelSender<SlackAddress, SlackReply> {
  constructor(opts: SenderOptions) {
    super(new SlackDelivery(opts), {
      typing: opts.typing,
      ...(opts.editIntervalMs !== undefined ? { editIntervalMs: opts.editIntervalMs } : {}),
      ...(opts.streamIdleMs !== undefined ? { streamIdleMs: opts.streamIdleMs } : {}),
      ...(opts.onBackgroundError ? { onBackgroundError: opts.onBackgroundError } : {}),
    });
  }
}
