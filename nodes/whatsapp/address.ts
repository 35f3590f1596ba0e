/**
 * Where a reply goes on WhatsApp, from the envelope's `msg.chat.replyTo`: the user, by phone
 * number (`to`, which every Graph API version takes) when Meta sent one, else by business-scoped
 * user id (`recipient`, for a user who withholds the number); and the user's message, which a
 * read receipt and the typing indicator need and a reply may quote.
 */
import type { ReplyTo, Result } from '../core/envelope';
import { BSUID } from './event-to-envelope';
import { keyOnly, type Translate } from './send-errors';

export interface WhatsAppAddress {
  to?: string;
  recipient?: string;
  /** The user's message (a wamid): read receipts, typing, quoting. */
  messageId?: string;
  /** One lane of the per-chat queue: WhatsApp's pair rate (and a reply's order) is per user. */
  chatKey: string;
  typingKey: string;
}

const PHONE = /^\d{5,20}$/;
const WAMID = /^wamid\.[A-Za-z0-9+/=_-]{4,500}$/;

export function readAddress(replyTo: ReplyTo, t: Translate = keyOnly): Result<WhatsAppAddress> {
  if (replyTo.platform !== 'whatsapp') return { ok: false, error: t('whatsapp-out.errors.wrongPlatform', { platform: replyTo.platform }) };
  const chatId = replyTo.chatId.trim();
  const waId = typeof replyTo.waId === 'string' && PHONE.test(replyTo.waId) ? replyTo.waId : PHONE.test(chatId) ? chatId : undefined;
  if (!waId && !BSUID.test(chatId)) return { ok: false, error: t('whatsapp-out.errors.chatId', { value: JSON.stringify(chatId.slice(0, 80)) }) };
  // An admin send's id is no WhatsApp message: nothing to mark read or quote.
  const messageId = typeof replyTo.messageId === 'string' && WAMID.test(replyTo.messageId) ? replyTo.messageId : undefined;
  return { ok: true, value: { ...(waId ? { to: waId } : { recipient: chatId }), ...(messageId ? { messageId } : {}), chatKey: chatId, typingKey: chatId } };
}

/** The recipient fields of a message body. */
export function recipientOf(a: WhatsAppAddress): { to: string } | { recipient: string } {
  return a.to ? { to: a.to } : { recipient: a.recipient! };
}
