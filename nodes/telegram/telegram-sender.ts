/**
 * The out side of a Telegram bot, without Node-RED: turns an outbound reply into Bot API calls with
 * the delivery engine. Whole replies are rendered to HTML and split; streamed parts drive a
 * StreamEditor; typing signals a TypingKeeper; every call to one chat goes through the ChatQueue, so
 * replies arrive in the order they left the flow.
 *
 * Retries are the bot connection's (auto-retry on retry_after, 5xx and network errors, inside each
 * call). Nothing here retries a send that may have reached Telegram; the one resend is the plain-text
 * fallback after Telegram refused the entities, which means the first send did not happen.
 */
import type { Api } from 'grammy';
import type { InlineKeyboardMarkup, Message } from 'grammy/types';
import {
  ChatQueue,
  isEntityError,
  renderAndSplit,
  StreamEditor,
  TELEGRAM_CAPTION_MAX_LENGTH,
  TELEGRAM_HTML,
  TypingKeeper,
  type PlatformFormat,
  type RenderedPart,
  type StreamTarget,
} from '../core/delivery';
import type { Outbound } from '../core/outbound';
import type { TelegramAddress } from './address';
import type { OutMedia } from './media-out';

/** The Bot API calls the out side makes; grammy's Api (with the connection's plugins) fits. */
export type BotApi = Pick<Api, 'sendMessage' | 'editMessageText' | 'sendChatAction' | 'sendPhoto' | 'sendDocument' | 'deleteMessage'>;

export interface TelegramReply {
  out: Outbound;
  address: TelegramAddress;
  buttons?: InlineKeyboardMarkup;
  media?: OutMedia;
}

export type Delivered =
  | { kind: 'sent'; messages: number }
  | { kind: 'streaming' }
  | { kind: 'typing' }
  /** Nothing to show: an empty reply, a typing signal with typing off, a stale stream part. */
  | { kind: 'skipped' };

export interface SenderOptions {
  /** The bot's API; a function, since the connection may not exist yet when the node starts. */
  api: () => BotApi | undefined;
  /** Quote the user's message in the first message of a reply. */
  replyToMessage: boolean;
  typing: boolean;
  editIntervalMs?: number;
  typingIntervalMs?: number;
  /** A stream left without its final part is forgotten after this long. */
  streamIdleMs?: number;
  /** Failures nobody awaits (typing, intermediate stream edits): shown, never thrown. */
  onBackgroundError?: (error: unknown) => void;
}

export class NoBotError extends Error {}

const CAPTION: PlatformFormat = { ...TELEGRAM_HTML, name: 'telegram-caption', maxLength: TELEGRAM_CAPTION_MAX_LENGTH };
const DEFAULT_STREAM_IDLE_MS = 10 * 60 * 1000;

interface OpenStream {
  editor: StreamEditor;
  address: TelegramAddress;
  lastSeq: number;
  lastSeen: number;
}

type SendOptions = NonNullable<Parameters<Api['sendMessage']>[2]>;

export class TelegramSender {
  private readonly queue = new ChatQueue();
  private readonly typing: TypingKeeper;
  private readonly streams = new Map<string, OpenStream>();
  private readonly idleMs: number;

  constructor(private readonly opts: SenderOptions) {
    this.idleMs = opts.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS;
    this.typing = new TypingKeeper({
      ...(opts.typingIntervalMs ? { intervalMs: opts.typingIntervalMs } : {}),
      onError: (error) => opts.onBackgroundError?.(error),
    });
  }

  async deliver(reply: TelegramReply): Promise<Delivered> {
    const { out, address } = reply;
    this.forgetIdleStreams();
    if (out.event) return this.startTyping(out.event, address);
    if (out.stream) return this.streamPart(reply);
    return this.whole(reply);
  }

  /** Stops typing, forgets open streams and refuses queued sends (those already running finish). */
  close(): void {
    this.typing.close();
    for (const s of this.streams.values()) s.editor.close();
    this.streams.clear();
    this.queue.close();
  }

  private api(): BotApi {
    const api = this.opts.api();
    if (!api) throw new NoBotError('no bot connection');
    return api;
  }

  private startTyping(event: string, address: TelegramAddress): Delivered {
    if (event !== 'typing' || !this.opts.typing) return { kind: 'skipped' };
    const api = this.api();
    const extra = address.threadId !== undefined ? { message_thread_id: address.threadId } : {};
    this.typing.start(address.typingKey, () => api.sendChatAction(address.chatId, 'typing', extra));
    return { kind: 'typing' };
  }

  private async whole(reply: TelegramReply): Promise<Delivered> {
    const parts = renderAndSplit(reply.out.text, TELEGRAM_HTML);
    if (!parts.length && !reply.media) {
      this.typing.stop(reply.address.typingKey);
      return { kind: 'skipped' };
    }
    const api = this.api();
    const messages = await this.queue.run(reply.address.chatKey, async () => {
      this.typing.stop(reply.address.typingKey);
      return this.sendParts(api, reply, parts);
    });
    return { kind: 'sent', messages };
  }

  /** The messages of one whole reply, in order: the media (captioned when the text fits), then the text. */
  private async sendParts(api: BotApi, reply: TelegramReply, parts: RenderedPart[]): Promise<number> {
    const { address, buttons, media } = reply;
    let sent = 0;
    let text = parts;
    if (media) {
      const caption = parts.length ? renderAndSplit(reply.out.text, CAPTION) : [];
      const fits = caption.length <= 1;
      await this.sendMedia(api, address, media, fits ? caption[0] : undefined, fits ? buttons : undefined, true);
      sent += 1;
      text = fits ? [] : parts;
    }
    for (let i = 0; i < text.length; i++) {
      const last = i === text.length - 1;
      await this.sendText(api, address, text[i], sent === 0, last ? buttons : undefined);
      sent += 1;
    }
    return sent;
  }

  private base(address: TelegramAddress, quote: boolean): SendOptions {
    const o: SendOptions = {};
    if (address.threadId !== undefined) o.message_thread_id = address.threadId;
    if (quote && this.opts.replyToMessage && address.messageId !== undefined) {
      // The user may have deleted their message meanwhile; the reply still goes out, unquoted.
      o.reply_parameters = { message_id: address.messageId, allow_sending_without_reply: true };
    }
    return o;
  }

  private async sendText(api: BotApi, address: TelegramAddress, part: RenderedPart, quote: boolean, buttons?: InlineKeyboardMarkup): Promise<Message.TextMessage> {
    const o = { ...this.base(address, quote), ...(buttons ? { reply_markup: buttons } : {}) };
    try {
      return await api.sendMessage(address.chatId, part.text, { ...o, parse_mode: 'HTML' });
    } catch (error) {
      if (!isEntityError(error)) throw error;
      return api.sendMessage(address.chatId, part.plain, o);
    }
  }

  private async sendMedia(api: BotApi, address: TelegramAddress, media: OutMedia, caption: RenderedPart | undefined, buttons: InlineKeyboardMarkup | undefined, quote: boolean): Promise<void> {
    const o = { ...this.base(address, quote), ...(buttons ? { reply_markup: buttons } : {}) };
    const send = (extra: { caption?: string; parse_mode?: 'HTML' }) =>
      media.kind === 'photo' ? api.sendPhoto(address.chatId, media.file, { ...o, ...extra }) : api.sendDocument(address.chatId, media.file, { ...o, ...extra });
    if (!caption) {
      await send({});
      return;
    }
    try {
      await send({ caption: caption.text, parse_mode: 'HTML' });
    } catch (error) {
      if (!isEntityError(error)) throw error;
      await send({ caption: caption.plain });
    }
  }

  private async streamPart(reply: TelegramReply): Promise<Delivered> {
    const { out, address } = reply;
    const info = out.stream!;
    const open = this.streams.get(info.id);
    if (!info.done) {
      if (open && info.seq <= open.lastSeq) return { kind: 'skipped' }; // a part overtaken by a later one
      const s = open ?? this.openStream(info.id, address);
      s.lastSeq = info.seq;
      s.lastSeen = Date.now();
      s.editor.update(out.text);
      return { kind: 'streaming' };
    }
    // A final part with no stream shown yet (or media to go with it) is sent as a whole reply.
    if (!open) return this.whole(reply);
    this.streams.delete(info.id);
    const ids = await open.editor.finish(out.text);
    let messages = ids.length;
    if (reply.buttons && ids.length) {
      await this.queue.run(address.chatKey, () => this.attachButtons(this.api(), address, ids[ids.length - 1], out.text, reply.buttons!));
    }
    if (reply.media) {
      await this.queue.run(address.chatKey, () => this.sendMedia(this.api(), address, reply.media!, undefined, undefined, false));
      messages += 1;
    }
    return { kind: 'sent', messages };
  }

  private openStream(id: string, address: TelegramAddress): OpenStream {
    const s: OpenStream = {
      editor: new StreamEditor(this.streamTarget(address), {
        format: TELEGRAM_HTML,
        ...(this.opts.editIntervalMs !== undefined ? { intervalMs: this.opts.editIntervalMs } : {}),
        onError: (error) => this.opts.onBackgroundError?.(error),
      }),
      address,
      lastSeq: -1,
      lastSeen: Date.now(),
    };
    this.streams.set(id, s);
    return s;
  }

  /** Each call of a stream takes its turn in the chat's queue, so a stream and whole replies keep their order. */
  private streamTarget(address: TelegramAddress): StreamTarget {
    let first = true;
    return {
      send: (part) =>
        this.queue.run(address.chatKey, async () => {
          this.typing.stop(address.typingKey);
          const quote = first;
          first = false;
          const m = await this.sendText(this.api(), address, part, quote);
          return String(m.message_id);
        }),
      edit: (messageId, part) => this.queue.run(address.chatKey, () => this.editText(this.api(), address, Number(messageId), part)),
      delete: (messageId) =>
        this.queue.run(address.chatKey, async () => {
          await this.api().deleteMessage(address.chatId, Number(messageId));
        }),
    };
  }

  private async editText(api: BotApi, address: TelegramAddress, messageId: number, part: RenderedPart, buttons?: InlineKeyboardMarkup): Promise<void> {
    const o = buttons ? { reply_markup: buttons } : {};
    try {
      await api.editMessageText(address.chatId, messageId, part.text, { ...o, parse_mode: 'HTML' });
    } catch (error) {
      if (!isEntityError(error)) throw error;
      await api.editMessageText(address.chatId, messageId, part.plain, o);
    }
  }

  /**
   * Buttons go under the last message once the stream is whole: an edit without reply_markup would
   * drop them again, so they are added last, with the final text (the edit changes only the markup).
   */
  private async attachButtons(api: BotApi, address: TelegramAddress, messageId: string, text: string, buttons: InlineKeyboardMarkup): Promise<void> {
    const parts = renderAndSplit(text, TELEGRAM_HTML);
    const last = parts[parts.length - 1];
    if (last) await this.editText(api, address, Number(messageId), last, buttons);
  }

  private forgetIdleStreams(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [id, s] of this.streams) {
      if (s.lastSeen < cutoff) {
        s.editor.close();
        this.streams.delete(id);
      }
    }
  }
}
