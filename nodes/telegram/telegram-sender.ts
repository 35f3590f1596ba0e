/**
 * Telegram's part of the out side (the kit's PlatformDelivery): how the messages of one reply
 * become Bot API calls. Whole replies are HTML parts with media (captioned when the text fits)
 * and buttons under the last message; a stream is sendMessage / editMessageText / deleteMessage;
 * typing is sendChatAction. Ordering, streams and typing book-keeping are the kit's ChannelSender.
 *
 * Retries are the bot connection's (retry_after and 5xx by auto-retry, network errors a bounded
 * few times by network-retry.ts). The one resend here is the plain-text fallback after Telegram
 * refused the entities, which means the first send did not happen.
 */
import { setMaxListeners } from 'node:events';
import type { Api } from 'grammy';
import type { InlineKeyboardMarkup, Message } from 'grammy/types';
import { isEntityError, renderAndSplit, TELEGRAM_CAPTION_MAX_LENGTH, TELEGRAM_HTML, type PlatformFormat, type RenderedPart } from '../core/delivery';
import { ChannelSender, NoConnectionError, type ChannelSenderOptions, type Delivered, type PlatformDelivery } from '../core/kit/channel-sender';
import { Stopped } from '../core/kit/live-connection';
import type { Outbound } from '../core/outbound';
import type { TelegramAddress } from './address';
import type { OutMedia } from './media-out';

export type { Delivered };

/** The Bot API calls the out side makes; grammy's Api (with the connection's plugins) fits. */
export type BotApi = Pick<Api, 'sendMessage' | 'editMessageText' | 'sendChatAction' | 'sendPhoto' | 'sendDocument' | 'deleteMessage'>;

export interface TelegramReply {
  out: Outbound;
  address: TelegramAddress;
  buttons?: InlineKeyboardMarkup;
  media?: OutMedia;
}

export interface SenderOptions extends ChannelSenderOptions {
  /** The bot's API; a function, since the connection may not exist yet when the node starts. */
  api: () => BotApi | undefined;
  /** Quote the user's message in the first message of a reply. */
  replyToMessage: boolean;
}

export class NoBotError extends NoConnectionError {}

const CAPTION: PlatformFormat = { ...TELEGRAM_HTML, name: 'telegram-caption', maxLength: TELEGRAM_CAPTION_MAX_LENGTH };

type SendOptions = NonNullable<Parameters<Api['sendMessage']>[2]>;
type Signal = Parameters<Api['deleteMessage']>[2];

class TelegramDelivery implements PlatformDelivery<TelegramAddress, TelegramReply> {
  readonly format = TELEGRAM_HTML;
  /** Telegram shows a chat action for about 5 s. */
  readonly typingIntervalMs = 4000;
  /** Ends the calls still under way (mostly waiting out a retry_after) when a redeploy has waited for them long enough. */
  private readonly stopper = new AbortController();

  constructor(private readonly opts: SenderOptions) {
    setMaxListeners(0, this.stopper.signal);
  }

  stop(): void {
    this.stopper.abort();
  }

  /** grammy types its signal with the abort-controller package's AbortSignal; Node's is the same at runtime. */
  private get signal(): Signal {
    return this.stopper.signal as unknown as Signal;
  }

  /**
   * A call cut short by stop() (after a redeploy waited for it) was almost always waiting out a
   * retry_after or a backoff: Stopped says so, and the next deploy's node makes it. One cut in
   * the middle of its request may have reached Telegram: the rare double network-retry.ts accepts
   * too, rather than a lost reply.
   */
  private async cut<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (this.stopper.signal.aborted) throw new Stopped();
      throw err;
    }
  }

  hasExtra(reply: TelegramReply): boolean {
    return reply.media !== undefined;
  }

  /** The messages of one whole reply, in order: the media (captioned when the text fits), then the text. */
  sendWhole(reply: TelegramReply, parts: RenderedPart[]): Promise<number> {
    return this.cut(() => this.sendWholeNow(reply, parts));
  }

  private async sendWholeNow(reply: TelegramReply, parts: RenderedPart[]): Promise<number> {
    const api = this.api();
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

  stream(reply: TelegramReply) {
    const { address } = reply;
    return {
      send: (part: RenderedPart, first: boolean) => this.cut(async () => String((await this.sendText(this.api(), address, part, first)).message_id)),
      edit: (messageId: string, part: RenderedPart) => this.cut(() => this.editText(this.api(), address, Number(messageId), part)),
      delete: (messageId: string) =>
        this.cut(async () => {
          await this.api().deleteMessage(address.chatId, Number(messageId), this.signal);
        }),
    };
  }

  /**
   * Buttons go under the last message once the stream is whole: an edit without reply_markup would
   * drop them again, so they are added last, with the final text (the edit changes only the markup).
   * Media follows the text.
   */
  afterStream(reply: TelegramReply, ids: string[]): Promise<number> {
    return this.cut(() => this.afterStreamNow(reply, ids));
  }

  private async afterStreamNow(reply: TelegramReply, ids: string[]): Promise<number> {
    const { address, buttons, media } = reply;
    if (buttons && ids.length) {
      const last = renderAndSplit(reply.out.text, TELEGRAM_HTML).at(-1);
      if (last) await this.editText(this.api(), address, Number(ids[ids.length - 1]), last, buttons);
    }
    if (!media) return 0;
    await this.sendMedia(this.api(), address, media, undefined, undefined, false);
    return 1;
  }

  typing(address: TelegramAddress): () => Promise<unknown> {
    const api = this.api();
    const extra = address.threadId !== undefined ? { message_thread_id: address.threadId } : {};
    return () => api.sendChatAction(address.chatId, 'typing', extra);
  }

  private api(): BotApi {
    const api = this.opts.api();
    if (!api) throw new NoBotError('no bot connection');
    return api;
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
      return await api.sendMessage(address.chatId, part.text, { ...o, parse_mode: 'HTML' }, this.signal);
    } catch (error) {
      if (!isEntityError(error)) throw error;
      return api.sendMessage(address.chatId, part.plain, o, this.signal);
    }
  }

  private async sendMedia(api: BotApi, address: TelegramAddress, media: OutMedia, caption: RenderedPart | undefined, buttons: InlineKeyboardMarkup | undefined, quote: boolean): Promise<void> {
    const o = { ...this.base(address, quote), ...(buttons ? { reply_markup: buttons } : {}) };
    const send = (extra: { caption?: string; parse_mode?: 'HTML' }) =>
      media.kind === 'photo' ? api.sendPhoto(address.chatId, media.file, { ...o, ...extra }, this.signal) : api.sendDocument(address.chatId, media.file, { ...o, ...extra }, this.signal);
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

  private async editText(api: BotApi, address: TelegramAddress, messageId: number, part: RenderedPart, buttons?: InlineKeyboardMarkup): Promise<void> {
    const o = buttons ? { reply_markup: buttons } : {};
    try {
      await api.editMessageText(address.chatId, messageId, part.text, { ...o, parse_mode: 'HTML' }, this.signal);
    } catch (error) {
      if (!isEntityError(error)) throw error;
      await api.editMessageText(address.chatId, messageId, part.plain, o, this.signal);
    }
  }
}

/** Telegram's out side: the kit's sender with Telegram's delivery. */
export class TelegramSender extends ChannelSender<TelegramAddress, TelegramReply> {
  constructor(opts: SenderOptions) {
    super(new TelegramDelivery(opts), opts);
  }
}
