/**
 * Builds the envelope's `msg.chat` from what a channel node received, so every in node fills it
 * the same way (JIDs, command parsing, reply address).
 */
import { randomUUID } from 'node:crypto';
import type { Attachment, Chat, ChatType, Command, Platform } from './envelope';
import { toJid } from './jid';

export interface InboundFacts {
  platform: Platform;
  channelId: string;
  chatId: string;
  chatType: ChatType;
  userId: string;
  userName?: string;
  messageId?: string;
  threadId?: string;
  isBot?: boolean;
  mentioned?: boolean;
  attachments?: Attachment[];
  /** Platform-specific reply fields an out node needs (kept small; no secrets, no SDK objects). */
  replyExtras?: Record<string, string>;
}

/** `/cmd@bot args` -> { name: '/cmd', args: 'args' }; anything else -> undefined. */
export function parseCommand(text: string): Command | undefined {
  const m = /^\/([A-Za-z0-9_-]{1,64})(?:@[A-Za-z0-9_]+)?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return undefined;
  return { name: `/${m[1].toLowerCase()}`, args: (m[2] ?? '').trim() };
}

export function buildChat(facts: InboundFacts, text: string, now = new Date()): Chat {
  const messageId = facts.messageId ?? randomUUID();
  const command = parseCommand(text);
  return {
    platform: facts.platform,
    channelId: facts.channelId,
    chatId: facts.chatId,
    chatJid: toJid(facts.platform, facts.chatId),
    chatType: facts.chatType,
    ...(facts.threadId ? { threadId: facts.threadId } : {}),
    userId: facts.userId,
    userJid: toJid(facts.platform, facts.userId),
    ...(facts.userName ? { userName: facts.userName } : {}),
    isBot: facts.isBot ?? false,
    messageId,
    mentioned: facts.mentioned ?? facts.chatType === 'direct',
    ...(command ? { command } : {}),
    attachments: facts.attachments ?? [],
    receivedAt: now.toISOString(),
    replyTo: {
      platform: facts.platform,
      channelId: facts.channelId,
      chatId: facts.chatId,
      ...(facts.threadId ? { threadId: facts.threadId } : {}),
      messageId,
      userId: facts.userId,
      ...(facts.replyExtras ?? {}),
    },
  };
}
