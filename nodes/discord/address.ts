/**
 * Where a reply goes on Discord, from the envelope's `msg.chat.replyTo`: the channel messages are
 * posted in (the thread when there is one, else the chat: a server channel or a DM channel), the
 * user's message a reply may quote, and the interaction whose deferred answer it completes.
 */
import type { ReplyTo, Result } from '../core/envelope';
import { keyOnly, type Translate } from './send-errors';
import { SNOWFLAKE } from './settings';

export interface DiscordAddress {
  /** Where messages are posted: the thread, else the chat. */
  channel: string;
  /** The user's message, quoted when the out node replies to messages (never an interaction's id). */
  messageId?: string;
  /** The interaction this reply answers (its token is in the connection, looked up by this id). */
  interactionId?: string;
  /** One lane of the per-chat queue: Discord's rate limits (and the order of a reply's parts) are per channel. */
  chatKey: string;
  typingKey: string;
}

export function readAddress(replyTo: ReplyTo, t: Translate = keyOnly): Result<DiscordAddress> {
  if (replyTo.platform !== 'discord') return { ok: false, error: t('discord-out.errors.wrongPlatform', { platform: replyTo.platform }) };
  const chatId = replyTo.chatId.trim();
  if (!SNOWFLAKE.test(chatId)) return { ok: false, error: t('discord-out.errors.chatId', { value: JSON.stringify(chatId) }) };
  if (replyTo.threadId !== undefined && !SNOWFLAKE.test(replyTo.threadId)) return { ok: false, error: t('discord-out.errors.threadId', { value: JSON.stringify(replyTo.threadId) }) };
  const channel = replyTo.threadId ?? chatId;
  const interaction = typeof replyTo.interactionId === 'string' && SNOWFLAKE.test(replyTo.interactionId) ? replyTo.interactionId : undefined;
  // An interaction's id is no message to quote; an id that is not Discord's (an admin send) is not quoted either.
  const messageId = !interaction && replyTo.messageId !== undefined && SNOWFLAKE.test(replyTo.messageId) ? replyTo.messageId : undefined;
  return {
    ok: true,
    value: { channel, ...(messageId ? { messageId } : {}), ...(interaction ? { interactionId: interaction } : {}), chatKey: channel, typingKey: channel },
  };
}
