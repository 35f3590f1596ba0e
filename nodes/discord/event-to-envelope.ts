/**
 * A Discord message, slash command or button press as a chatgate message, or the reason it is not
 * one. Pure: the in node adds validation (event-schema.ts: this module only ever sees parsed
 * payloads), de-duplication, the acknowledgement of interactions and downloads around it.
 *
 * What passes:
 *  - direct messages, always;
 *  - in a server, a message that mentions the bot or replies to one of its messages; with
 *    `guild: 'channels'`, every message in the listed channels too (a thread counts when its
 *    parent is listed; this needs the MESSAGE_CONTENT intent, or the texts arrive empty);
 *  - slash commands and button presses, always (Discord sends them only to this application);
 *  - never messages from bots (the bot itself included) or webhooks, nor system messages (joins,
 *    pins, thread starters).
 *
 * Where the answer goes: the channel the message was written in; in a thread, the thread (the
 * envelope has the parent channel as `chatId` and the thread as `threadId`, so every thread is its
 * own conversation). An interaction's answer edits its deferred reply (the out node finds the
 * interaction by `replyTo.interactionId`).
 */
import type { Attachment, Chat, ChatType } from '../core/envelope';
import { buildChat } from '../core/inbound';
import type { ChannelInfo } from './connection';
import type { CommandInteraction, CommandOption, ComponentInteraction, DiscordAttachment, DiscordInbound, DiscordMessage, DiscordUser } from './event-schema';

export interface MapOptions {
  /** The bot config node's id: the envelope's channelId. */
  channelId: string;
  botId: string;
  guild: 'mention' | 'channels';
  /** With `guild: 'channels'`: the channels whose every message passes. */
  channels: ReadonlySet<string>;
}

/** Discord details that have no place in the platform-neutral envelope (no tokens, no signed URLs). */
export interface DiscordExtras {
  type: 'message' | 'command' | 'component';
  source: 'gateway' | 'http';
  guildId?: string;
  /** The channel the event happened in (the thread itself, for a thread). */
  channelId: string;
  channelType?: number;
  messageId?: string;
  /** A reply: the message it answers. */
  replyToMessageId?: string;
  interactionId?: string;
  command?: { name: string; options: Record<string, string | number | boolean> };
  component?: { customId: string; messageId?: string };
}

export type Mapped =
  | { ok: true; payload: string; chat: Chat; discord: DiscordExtras; dedupeKey: string }
  | { ok: false; reason: 'fromBot' | 'system' | 'notAddressed' | 'empty' | 'unsupported' };

/** Announcement, public and private threads (a forum post is a public thread). */
const THREAD_TYPES = new Set([10, 11, 12]);
/** DEFAULT and REPLY: what people write; the other types are system messages. */
const USER_MESSAGE_TYPES = new Set([0, 19]);

/** The chat a channel belongs to: a thread answers in itself, under its parent. */
function place(channelId: string, channel: { type: number; parentId?: string } | undefined): { chatId: string; threadId?: string } {
  if (channel && THREAD_TYPES.has(channel.type) && channel.parentId) return { chatId: channel.parentId, threadId: channelId };
  return { chatId: channelId };
}

function displayName(user: DiscordUser, nick: string | null | undefined): string | undefined {
  return nick || user.global_name || user.username || undefined;
}

function kindOf(contentType: string | undefined): string {
  const mime = contentType ?? '';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('video/')) return 'video';
  return 'file';
}

/**
 * A CDN URL without its query: Discord signs attachment URLs (`?ex=…&is=…&hm=…`) so that anyone
 * holding one can fetch the file for about a day. The envelope is copied to debug, logs and
 * stores, so it keeps only the address that names the file; the in node's download uses the
 * signed one and never passes it on.
 */
export function unsignedUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    if (!/^https?:$/.test(u.protocol)) return undefined;
    return `${u.origin}${u.pathname}`;
  } catch {
    return undefined;
  }
}

export function attachmentsOf(list: readonly DiscordAttachment[]): Attachment[] {
  return list.map((a) => {
    const url = unsignedUrl(a.url);
    return {
      kind: kindOf(a.content_type),
      fileId: a.id,
      name: a.filename,
      ...(url ? { url } : {}),
      ...(a.content_type ? { mimeType: a.content_type } : {}),
      ...(a.size !== undefined ? { size: a.size } : {}),
    };
  });
}

/** `<@id>` and the old nickname form `<@!id>`. */
export function mentionsBot(m: DiscordMessage, botId: string): boolean {
  return m.mentions.some((u) => u.id === botId) || m.content.includes(`<@${botId}>`) || m.content.includes(`<@!${botId}>`);
}

/** Removes a leading mention of the bot, so the agent reads the question itself. */
export function stripLeadingMention(text: string, botId: string): string {
  return text.replace(new RegExp(`^\\s*<@!?${botId}>[\\s,:;-]*`), '');
}

function fromMessage(m: DiscordMessage, channel: ChannelInfo | undefined, o: MapOptions): Mapped {
  if (m.author.bot || m.webhook_id !== undefined || m.author.id === o.botId) return { ok: false, reason: 'fromBot' };
  if (m.type !== undefined && !USER_MESSAGE_TYPES.has(m.type)) return { ok: false, reason: 'system' };
  const chatType: ChatType = m.guild_id ? 'channel' : 'direct';
  const mentioned = mentionsBot(m, o.botId);
  const repliesToBot = m.referenced_message?.author.id === o.botId;
  const { chatId, threadId } = place(m.channel_id, channel);
  if (chatType !== 'direct' && !mentioned && !repliesToBot) {
    const listed = o.guild === 'channels' && (o.channels.has(m.channel_id) || (threadId !== undefined && o.channels.has(chatId)));
    if (!listed) return { ok: false, reason: 'notAddressed' };
  }
  const attachments = attachmentsOf(m.attachments);
  const payload = stripLeadingMention(m.content, o.botId);
  if (payload.trim() === '' && attachments.length === 0) return { ok: false, reason: 'empty' };
  const userName = displayName(m.author, m.member?.nick);
  const chat = buildChat(
    {
      platform: 'discord',
      channelId: o.channelId,
      chatId,
      chatType,
      ...(threadId ? { threadId } : {}),
      userId: m.author.id,
      ...(userName ? { userName } : {}),
      messageId: m.id,
      isBot: false,
      mentioned: chatType === 'direct' || mentioned || repliesToBot,
      attachments,
    },
    payload,
  );
  const replyTo = m.message_reference?.message_id ?? m.referenced_message?.id;
  return {
    ok: true,
    payload,
    chat,
    // A RESUME replays dispatches: the message id names the message, whatever the sequence.
    dedupeKey: `m:${m.id}`,
    discord: {
      type: 'message',
      source: 'gateway',
      ...(m.guild_id ? { guildId: m.guild_id } : {}),
      channelId: m.channel_id,
      ...(channel ? { channelType: channel.type } : {}),
      messageId: m.id,
      ...(replyTo ? { replyToMessageId: replyTo } : {}),
    },
  };
}

/** The options of a slash command as the text an agent reads: values in order, subcommand names before theirs. */
export function optionsText(options: readonly CommandOption[]): string {
  const words: string[] = [];
  for (const o of options) {
    if (o.options) {
      words.push(o.name);
      const inner = optionsText(o.options);
      if (inner) words.push(inner);
    } else if (o.value !== undefined) {
      words.push(String(o.value));
    }
  }
  return words.join(' ');
}

function optionValues(options: readonly CommandOption[], into: Record<string, string | number | boolean> = {}): Record<string, string | number | boolean> {
  for (const o of options) {
    if (o.options) optionValues(o.options, into);
    else if (o.value !== undefined) into[o.name] = o.value;
  }
  return into;
}

/** The envelope of an interaction and the Discord details every interaction has. */
function interactionChat(i: CommandInteraction | ComponentInteraction, o: MapOptions, text: string, type: 'command' | 'component'): { chat: Chat; discord: DiscordExtras } | undefined {
  const user = i.member?.user ?? i.user;
  const channelId = i.channel?.id ?? i.channel_id;
  if (!user || !channelId) return undefined;
  const channel = i.channel ? { type: i.channel.type, ...(i.channel.parent_id ? { parentId: i.channel.parent_id } : {}) } : undefined;
  const { chatId, threadId } = place(channelId, channel);
  const userName = displayName(user, i.member?.nick);
  const chat = buildChat(
    {
      platform: 'discord',
      channelId: o.channelId,
      chatId,
      chatType: i.guild_id ? 'channel' : 'direct',
      ...(threadId ? { threadId } : {}),
      userId: user.id,
      ...(userName ? { userName } : {}),
      // An interaction is not a message; its id keeps each one distinct.
      messageId: i.id,
      isBot: user.bot === true,
      mentioned: true,
      // Only the id: the interaction's token stays in the connection (interaction-book.ts).
      replyExtras: { interactionId: i.id },
    },
    text,
  );
  const discord: DiscordExtras = { type, source: 'gateway', ...(i.guild_id ? { guildId: i.guild_id } : {}), channelId, ...(i.channel ? { channelType: i.channel.type } : {}), interactionId: i.id };
  return { chat, discord };
}

function fromCommand(i: CommandInteraction, o: MapOptions): Mapped {
  // User and message context-menu commands carry no text to answer.
  if (i.data.type !== 1) return { ok: false, reason: 'unsupported' };
  const text = optionsText(i.data.options);
  const made = interactionChat(i, o, text, 'command');
  if (!made) return { ok: false, reason: 'unsupported' };
  const name = `/${i.data.name.toLowerCase()}`;
  made.chat.command = { name, args: text };
  made.discord.command = { name, options: optionValues(i.data.options) };
  return { ok: true, payload: text, chat: made.chat, discord: made.discord, dedupeKey: `i:${i.id}` };
}

function fromComponent(i: ComponentInteraction, o: MapOptions): Mapped {
  // A button's custom_id is the `data` of msg.buttons; a value such as `/new` works like the command.
  const value = i.data.custom_id;
  const made = interactionChat(i, o, value, 'component');
  if (!made) return { ok: false, reason: 'unsupported' };
  made.discord.component = { customId: value, ...(i.message ? { messageId: i.message.id } : {}) };
  return { ok: true, payload: value, chat: made.chat, discord: made.discord, dedupeKey: `i:${i.id}` };
}

export function mapInbound(inbound: DiscordInbound, o: MapOptions): Mapped {
  if (inbound.kind === 'message') return fromMessage(inbound.message, inbound.channel, o);
  if (inbound.kind === 'ignored') return { ok: false, reason: 'unsupported' };
  const m = inbound.kind === 'command' ? fromCommand(inbound.interaction, o) : fromComponent(inbound.interaction, o);
  if (m.ok) m.discord.source = inbound.source;
  return m;
}
