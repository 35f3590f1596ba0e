/**
 * What users do, as the gateway payloads Discord sends for it: a DM (with `channel_type: 1`,
 * which discord.js needs with Partials.Channel), a guild message (mentioning the bot or not, in a
 * channel or a thread, with attachments, replying to a message), an edit, a new thread. Each
 * builder also puts the message into the emulator's channel state at once (the user sent it),
 * and remembers which dispatch it is for `deliver`.
 */
import { randomBytes } from 'node:crypto';
import { mentionTokens } from './checks';
import type { DiscordState, StoredMessage } from './state';
import type { Json, VisibleAttachment } from './types';

export interface AttachmentSpec {
  filename?: string;
  /** The bytes the CDN URL serves (default 512 random bytes). */
  data?: Buffer;
  contentType?: string;
  description?: string;
}

export interface MessageOptions {
  /** The author (default the fixture user). */
  user?: string;
  /** The channel or thread (guild messages; default the fixture channel). */
  channel?: string;
  id?: string;
  /** Attachments (or how many generic ones). */
  attachments?: AttachmentSpec[] | number;
  /** Reply to this message (message_reference + referenced_message, type 19). */
  replyTo?: string;
  /** A reply pings the replied author unless the user switched it off (default true). */
  replyPing?: boolean;
  /** Put `<@bot>` in front (guildMessage; mention() always does). */
  mentionBot?: boolean;
  embeds?: Json[];
  nonce?: string;
}

export interface ThreadOptions {
  /** The parent channel (default the fixture channel). */
  parent?: string;
  /** Who opened it (default the fixture user). */
  user?: string;
  /** Started from this message (the thread gets the message's id, like Discord). */
  fromMessage?: string;
  /** A private thread (type 12) instead of a public one (11). */
  private?: boolean;
}

export interface DiscordBuilders {
  /** A direct message to the bot (MESSAGE_CREATE with channel_type 1, no guild_id). */
  dm(text: string, opts?: Omit<MessageOptions, 'channel' | 'mentionBot'>): Json;
  /** A message in a guild channel or thread (no bot mention unless mentionBot). */
  guildMessage(text: string, opts?: MessageOptions): Json;
  /** A guild message that mentions the bot (`<@bot> text`, the bot in `mentions`). */
  mention(text: string, opts?: Omit<MessageOptions, 'mentionBot'>): Json;
  /** A message in a thread (default the fixture thread). */
  threadMessage(text: string, opts?: MessageOptions): Json;
  /** A user's edit of their message (MESSAGE_UPDATE). */
  edited(messageId: string, text: string, opts?: { channel?: string }): Json;
  /** A new thread (THREAD_CREATE); messages in it need it delivered (or present at connect). */
  thread(name: string, opts?: ThreadOptions): Json;
  /** A PING interaction (type 1). */
  ping(): Json;
  /** A slash command (INTERACTION_CREATE type 2, data {id, name, type, options}). */
  slashCommand(name: string, opts?: import('./interactions').SlashCommandOptions): Json;
  /** A component press on a bot message (INTERACTION_CREATE type 3, data {custom_id, component_type}). */
  component(customId: string, opts?: import('./interactions').ComponentOptions): Json;
}

/** Which dispatch a built payload is (deliver reads it). */
export const eventOf = new WeakMap<object, string>();

export function createMessageBuilders(state: DiscordState, fixtures: () => { user: string; channel: string; thread: string }) {
  function attachments(channelId: string, spec: MessageOptions['attachments']): VisibleAttachment[] {
    if (spec === undefined) return [];
    const list: AttachmentSpec[] = typeof spec === 'number' ? Array.from({ length: spec }, (_, i) => ({ filename: `file-${i + 1}.txt` })) : spec;
    return list.map((a, i) => {
      const data = a.data ?? randomBytes(512);
      const filename = a.filename ?? `attachment-${i + 1}.bin`;
      const type = a.contentType ?? (/\.png$/i.test(filename) ? 'image/png' : /\.jpe?g$/i.test(filename) ? 'image/jpeg' : /\.txt$/i.test(filename) ? 'text/plain; charset=utf-8' : /\.pdf$/i.test(filename) ? 'application/pdf' : 'application/octet-stream');
      return state.addFile(channelId, data, filename, type, a.description);
    });
  }

  function userMessage(text: string, channelId: string, opts: MessageOptions): StoredMessage {
    const f = fixtures();
    const userId = opts.user ?? f.user;
    const ch = state.channels.get(channelId);
    if (!ch) throw new Error(`no channel ${channelId}`);
    const author = state.users.get(userId);
    const ref = opts.replyTo ? state.findMessage(channelId, opts.replyTo) : undefined;
    if (opts.replyTo && !ref) throw new Error(`replyTo: no message ${opts.replyTo} in channel ${channelId}`);
    const t = mentionTokens(text);
    const mentions = t.users.filter((id) => state.users.has(id));
    if (ref && opts.replyPing !== false && ref.view.authorId !== userId && !mentions.includes(ref.view.authorId)) mentions.push(ref.view.authorId);
    const m: StoredMessage = {
      view: {
        id: opts.id ?? state.ids.next(),
        channelId,
        ...(ch.guildId ? { guildId: ch.guildId } : {}),
        fromBot: false,
        authorId: userId,
        author: author?.username ?? userId,
        content: text,
        embeds: opts.embeds ?? [],
        components: [],
        attachments: attachments(channelId, opts.attachments),
        type: ref ? 19 : 0,
        flags: 0,
        ...(ref ? { replyTo: ref.view.id, messageReference: { messageId: ref.view.id, channelId, ...(ch.guildId ? { guildId: ch.guildId } : {}) } } : {}),
        ephemeral: false,
        loading: false,
        pinged: [],
        reactions: [],
        edits: 0,
        createdAt: Date.now(),
        nonce: opts.nonce ?? String(BigInt(state.ids.next()) + 1n),
      },
      mentions,
      mentionRoles: t.roles,
      mentionEveryone: t.everyone || t.here,
      tts: false,
      ...(ch.thread ? { position: state.messages.get(channelId)?.length ?? 0 } : {}),
    };
    return state.addMessage(m);
  }

  function payloadOf(m: StoredMessage, t: string): Json {
    const ch = state.channels.get(m.view.channelId);
    const d = state.apiMessage(m, { gateway: true });
    if (ch?.type === 1) d.channel_type = 1;
    eventOf.set(d, t);
    return d;
  }

  const make = {
    dm(text: string, opts: Omit<MessageOptions, 'channel' | 'mentionBot'> = {}): Json {
      const userId = opts.user ?? fixtures().user;
      const dm = state.dmWith(userId);
      return payloadOf(userMessage(text, dm.id, { ...opts, user: userId }), 'MESSAGE_CREATE');
    },
    guildMessage(text: string, opts: MessageOptions = {}): Json {
      const channelId = opts.channel ?? fixtures().channel;
      const mention = `<@${state.botUser.id}>`;
      const content = opts.mentionBot && !text.includes(mention) ? `${mention} ${text}` : text;
      return payloadOf(userMessage(content, channelId, opts), 'MESSAGE_CREATE');
    },
    mention(text: string, opts: Omit<MessageOptions, 'mentionBot'> = {}): Json {
      return make.guildMessage(text, { ...opts, mentionBot: true });
    },
    threadMessage(text: string, opts: MessageOptions = {}): Json {
      return make.guildMessage(text, { ...opts, channel: opts.channel ?? fixtures().thread });
    },
    edited(messageId: string, text: string, opts: { channel?: string } = {}): Json {
      const m = opts.channel ? state.findMessage(opts.channel, messageId) : state.findMessageAnywhere(messageId);
      if (!m) throw new Error(`edited: no message ${messageId}`);
      m.view.content = text;
      m.view.edits += 1;
      m.view.editedAt = Date.now();
      const t = mentionTokens(text);
      m.mentions = t.users.filter((id) => state.users.has(id));
      m.mentionRoles = t.roles;
      m.mentionEveryone = t.everyone || t.here;
      return payloadOf(m, 'MESSAGE_UPDATE');
    },
    thread(name: string, opts: ThreadOptions = {}): Json {
      const f = fixtures();
      const parent = state.channels.get(opts.parent ?? f.channel);
      if (!parent?.guildId) throw new Error('thread: the parent must be a guild text channel');
      const thread = state.addChannel({
        ...(opts.fromMessage ? { id: opts.fromMessage } : {}),
        type: opts.private ? 12 : 11,
        name,
        guildId: parent.guildId,
        parentId: parent.id,
        thread: { ownerId: opts.user ?? f.user, archived: false, locked: false, autoArchiveDuration: 1440, createdAt: Date.now() },
      });
      const d: Json = { ...state.apiChannel(thread.id), newly_created: true };
      eventOf.set(d, 'THREAD_CREATE');
      return d;
    },
  };
  return make;
}
