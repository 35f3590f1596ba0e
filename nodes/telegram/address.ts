/**
 * Where a reply goes on Telegram, from the envelope's `msg.chat.replyTo`: the chat, the forum topic
 * (message_thread_id) and the user's message to quote. Ids travel as strings in the envelope; the
 * Bot API wants integers (or an @channel username for chat_id).
 */
import type { ReplyTo, Result } from '../core/envelope';

/** Looks up a catalog key (RED._ in the node); the default keeps the module usable without Node-RED. */
export type Translate = (key: string, params?: Record<string, string | number>) => string;
const keyOnly: Translate = (key, params) => `${key} ${JSON.stringify(params ?? {})}`;

export interface TelegramAddress {
  chatId: number | string;
  /** Forum topic: sent as message_thread_id. */
  threadId?: number;
  /** The user's message, quoted when the node replies to messages. */
  messageId?: number;
  /** One lane of the per-chat queue: Telegram's rate limits and order are per chat, topics included. */
  chatKey: string;
  /** The typing indicator is shown per topic. */
  typingKey: string;
}

const INTEGER = /^-?\d{1,16}$/;

export function readAddress(replyTo: ReplyTo, t: Translate = keyOnly): Result<TelegramAddress> {
  if (replyTo.platform !== 'telegram') {
    return { ok: false, error: t('telegram-out.errors.wrongPlatform', { platform: replyTo.platform }) };
  }
  const raw = replyTo.chatId.trim();
  let chatId: number | string;
  if (INTEGER.test(raw)) chatId = Number(raw);
  else if (/^@\w{4,}$/.test(raw)) chatId = raw;
  else return { ok: false, error: t('telegram-out.errors.chatId', { value: JSON.stringify(raw) }) };

  let threadId: number | undefined;
  if (replyTo.threadId !== undefined) {
    if (!INTEGER.test(replyTo.threadId)) return { ok: false, error: t('telegram-out.errors.threadId', { value: JSON.stringify(replyTo.threadId) }) };
    threadId = Number(replyTo.threadId);
  }
  // A message id that is not Telegram's (e.g. from an admin send) is simply not quoted.
  const messageId = replyTo.messageId !== undefined && /^\d{1,16}$/.test(replyTo.messageId) ? Number(replyTo.messageId) : undefined;
  const chatKey = String(chatId);
  return {
    ok: true,
    value: { chatId, threadId, messageId, chatKey, typingKey: threadId === undefined ? chatKey : `${chatKey}/${threadId}` },
  };
}
