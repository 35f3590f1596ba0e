/**
 * A Telegram update as a chatgate message, or the reason it is not one. Pure: the in node adds
 * validation (update-schema.ts: this module only ever sees a parsed update, whose ids are
 * integers), de-duplication, the callback answer and downloads around it.
 */
import type { Chat, ChatType } from '../core/envelope';
import { buildChat } from '../core/inbound';
import { addressesBot, leadingCommand, stripLeadingMention, type BotIdentity } from './gating';
import { attachmentsOf } from './media';
import type { TgChatType, TgMessage, TgUpdate } from './update-schema';

export interface MapOptions {
  /** The bot config node's id: the envelope's channelId. */
  channelId: string;
  bot: BotIdentity;
  /** 'mention': in groups only what addresses the bot; 'always': every message the bot sees. */
  groups: 'mention' | 'always';
  /** Pass edited messages on (as new messages) instead of ignoring them. */
  edited: boolean;
}

/** Telegram details that have no place in the platform-neutral envelope. */
export interface TelegramExtras {
  updateId: number;
  /** Telegram's own chat type: private, group, supergroup, channel. */
  chatType: TgChatType;
  edited?: boolean;
  /** The message the user replied to (not a forum topic's first message). */
  replyToMessage?: { messageId: string; userId?: string; isBot: boolean; text?: string };
  /** For inline-button presses. */
  callback?: { id: string; data: string; messageId?: string };
  location?: { latitude: number; longitude: number };
}

export type Mapped =
  | { ok: true; payload: string; chat: Chat; telegram: TelegramExtras }
  | { ok: false; reason: 'unsupported' | 'fromBot' | 'notAddressed' | 'edited' | 'foreignCommand' };

/** Telegram's stand-ins for an anonymous group admin and a channel posting in its linked group. */
const ANONYMOUS_SENDERS = new Set([1087968824, 136817688]);

const CHAT_TYPES: Record<TgChatType, ChatType> = { private: 'direct', group: 'group', supergroup: 'group', channel: 'channel' };

function senderOf(m: TgMessage): { id: string; name?: string; isBot: boolean } {
  const from = m.from;
  const chat = m.sender_chat;
  if (chat && (!from || ANONYMOUS_SENDERS.has(from.id))) {
    return { id: String(chat.id), ...(chat.title ? { name: chat.title } : {}), isBot: false };
  }
  if (!from) return { id: String(m.chat.id), isBot: false };
  const name = from.username ?? [from.first_name, from.last_name].filter(Boolean).join(' ');
  return { id: String(from.id), ...(name ? { name } : {}), isBot: from.is_bot };
}

function threadOf(m: TgMessage): string | undefined {
  // message_thread_id is also set on replies in ordinary groups; only forum topics are threads.
  return m.is_topic_message && m.message_thread_id !== undefined ? String(m.message_thread_id) : undefined;
}

function replyInfo(m: TgMessage): TelegramExtras['replyToMessage'] {
  const r = m.reply_to_message;
  if (!r || r.forum_topic_created !== undefined) return undefined;
  if (m.is_topic_message && m.message_thread_id === r.message_id) return undefined;
  const text = r.text ?? r.caption;
  return {
    messageId: String(r.message_id),
    ...(r.from ? { userId: String(r.from.id) } : {}),
    isBot: r.from?.is_bot === true,
    ...(text !== undefined ? { text: text.slice(0, 1024) } : {}),
  };
}

function fromMessage(m: TgMessage, updateId: number, o: MapOptions, edited: boolean): Mapped {
  const sender = senderOf(m);
  if (sender.isBot) return { ok: false, reason: 'fromBot' };
  const chatType = CHAT_TYPES[m.chat.type];
  const addressed = chatType === 'direct' || addressesBot(m, o.bot);
  if (!addressed && o.groups !== 'always') return { ok: false, reason: 'notAddressed' };
  const raw = m.text ?? m.caption ?? '';
  const command = leadingCommand(m);
  // `/cmd@other_bot` is for another bot even when this one sees every message.
  if (chatType !== 'direct' && command?.target && command.target.toLowerCase() !== o.bot.username.toLowerCase()) {
    return { ok: false, reason: 'foreignCommand' };
  }
  const attachments = attachmentsOf(m);
  if (raw === '' && attachments.length === 0) return { ok: false, reason: 'unsupported' };
  const payload = chatType === 'direct' ? raw : stripLeadingMention(raw, o.bot);
  const threadId = threadOf(m);
  const reply = replyInfo(m);
  const chat = buildChat(
    {
      platform: 'telegram',
      channelId: o.channelId,
      chatId: String(m.chat.id),
      chatType,
      userId: sender.id,
      ...(sender.name ? { userName: sender.name } : {}),
      messageId: String(m.message_id),
      ...(threadId ? { threadId } : {}),
      isBot: false,
      mentioned: addressed,
      attachments,
      ...(reply ? { replyExtras: { replyToMessageId: reply.messageId } } : {}),
    },
    raw,
  );
  const loc = m.location;
  return {
    ok: true,
    payload,
    chat,
    telegram: {
      updateId,
      chatType: m.chat.type,
      ...(edited ? { edited: true } : {}),
      ...(reply ? { replyToMessage: reply } : {}),
      ...(loc ? { location: { latitude: loc.latitude, longitude: loc.longitude } } : {}),
    },
  };
}

export function mapUpdate(u: TgUpdate, o: MapOptions): Mapped {
  if (u.message) return fromMessage(u.message, u.update_id, o, false);
  if (u.channel_post) return fromMessage(u.channel_post, u.update_id, o, false);
  if (u.edited_message || u.edited_channel_post) {
    if (!o.edited) return { ok: false, reason: 'edited' };
    return fromMessage((u.edited_message ?? u.edited_channel_post)!, u.update_id, o, true);
  }
  const q = u.callback_query;
  if (q) {
    if (q.from.is_bot) return { ok: false, reason: 'fromBot' };
    const m = q.message;
    const tgType: TgChatType = m?.chat.type ?? 'private';
    const chatId = String(m?.chat.id ?? q.from.id);
    const data = q.data ?? q.game_short_name ?? '';
    const threadId = m?.is_topic_message && m.message_thread_id !== undefined ? String(m.message_thread_id) : undefined;
    const name = q.from.username ?? [q.from.first_name, q.from.last_name].filter(Boolean).join(' ');
    const chat = buildChat(
      {
        platform: 'telegram',
        channelId: o.channelId,
        chatId,
        chatType: CHAT_TYPES[tgType],
        userId: String(q.from.id),
        ...(name ? { userName: name } : {}),
        // The press is not a message of its own; the id of the update keeps each press distinct.
        messageId: `cb${u.update_id}`,
        ...(threadId ? { threadId } : {}),
        isBot: false,
        mentioned: true,
        replyExtras: { callbackQueryId: q.id, ...(m ? { buttonMessageId: String(m.message_id) } : {}) },
      },
      // Button data such as `/new` works like the typed command.
      data,
    );
    // The reply goes under the message whose button was pressed, not to a message id that does not exist.
    if (m) chat.replyTo.messageId = String(m.message_id);
    return {
      ok: true,
      payload: data,
      chat,
      telegram: { updateId: u.update_id, chatType: tgType, callback: { id: q.id, data, ...(m ? { messageId: String(m.message_id) } : {}) } },
    };
  }
  return { ok: false, reason: 'unsupported' };
}
