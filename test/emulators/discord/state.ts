/**
 * What the Discord emulator holds: users, guilds, channels and threads, the visible messages per
 * channel, files behind signed CDN URLs, application commands and interactions. Ids are real
 * snowflakes (milliseconds since 2015 << 22 | worker | process | increment, 18-19 digits), because
 * @discordjs/rest only gives a channel its own rate-limit queue when the id has 17-19 digits.
 * The `api*` functions turn records into the JSON objects Discord sends.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { ApplicationCommand, InteractionRecord, Json, VisibleAttachment, VisibleMessage } from './types';

export const DISCORD_EPOCH = 1420070400000;

export class Snowflakes {
  private increment = 0;
  private lastNow = 0;
  constructor(private readonly worker = 1) {}

  /**
   * A snowflake for `at` (default now). Ids for "now" only ever increase, even within one
   * millisecond; ids for a past moment (fixtures) are unique through the shared increment.
   */
  next(at?: number): string {
    let ms = at ?? Date.now();
    if (at === undefined) {
      ms = Math.max(ms, this.lastNow);
      if (this.increment >= 0xfff) {
        ms += 1;
        this.increment = 0;
      }
      this.lastNow = ms;
    }
    const inc = this.increment++ & 0xfff;
    return ((BigInt(ms - DISCORD_EPOCH) << 22n) | (BigInt(this.worker & 31) << 17n) | (1n << 12n) | BigInt(inc)).toString();
  }
}

/** When a snowflake was made (ms since the epoch). */
export function snowflakeTime(id: string): number {
  return Number(BigInt(id) >> 22n) + DISCORD_EPOCH;
}

export interface UserRecord {
  id: string;
  username: string;
  global_name: string | null;
  bot: boolean;
}

export interface RoleRecord {
  id: string;
  name: string;
  permissions: string;
  position: number;
  managed: boolean;
  mentionable: boolean;
}

export interface GuildRecord {
  id: string;
  name: string;
  ownerId: string;
  roles: RoleRecord[];
  /** Members by user id, with their role ids. */
  members: Map<string, { roles: string[]; joinedAt: number; nick: string | null }>;
  createdAt: number;
}

export interface ChannelRecord {
  id: string;
  /** 0 text, 1 DM, 4 category, 5 announcement, 11 public thread, 12 private thread. */
  type: number;
  name?: string;
  guildId?: string;
  parentId?: string;
  topic?: string | null;
  position: number;
  /** DM: the other user. */
  recipient?: string;
  /** Whether the bot may post (else 403 50013 Missing Permissions). */
  botCanSend: boolean;
  thread?: { ownerId: string; archived: boolean; locked: boolean; autoArchiveDuration: number; createdAt: number };
  lastMessageId?: string;
}

export interface StoredFile {
  channelId: string;
  filename: string;
  contentType?: string;
  data: Buffer;
}

/** A visible message plus what the wire object needs and tests do not (mentions, metadata). */
export interface StoredMessage {
  view: VisibleMessage;
  mentions: string[];
  mentionRoles: string[];
  mentionEveryone: boolean;
  applicationId?: string;
  interactionMetadata?: Json;
  tts: boolean;
  /** A thread message's place in the thread (Discord sends `position` there). */
  position?: number;
}

export const PERMISSIONS_ALL_TEXT = '2248473465835073';

export class DiscordState {
  readonly ids = new Snowflakes(1);
  readonly users = new Map<string, UserRecord>();
  readonly guilds = new Map<string, GuildRecord>();
  readonly channels = new Map<string, ChannelRecord>();
  readonly messages = new Map<string, StoredMessage[]>();
  readonly files = new Map<string, StoredFile>();
  readonly commands = new Map<string, ApplicationCommand[]>();
  readonly interactions = new Map<string, InteractionRecord>();
  readonly interactionList: InteractionRecord[] = [];
  readonly cdnSecret = randomBytes(16);
  baseUrl = '';
  readonly botUser: UserRecord;

  constructor(
    readonly applicationId: string,
    botUsername: string,
  ) {
    this.botUser = { id: applicationId, username: botUsername, global_name: null, bot: true };
    this.users.set(applicationId, this.botUser);
  }

  addUser(u: Partial<UserRecord> = {}): UserRecord {
    const id = u.id ?? this.ids.next(Date.now() - 400 * 86400_000);
    const username = u.username ?? `user${this.users.size}`;
    const rec: UserRecord = { id, username, global_name: u.global_name ?? (u.bot ? null : username[0].toUpperCase() + username.slice(1)), bot: u.bot ?? false };
    this.users.set(id, rec);
    for (const g of this.guilds.values()) if (!g.members.has(id)) g.members.set(id, { roles: [], joinedAt: Date.now() - 200 * 86400_000, nick: null });
    return rec;
  }

  addGuild(name: string, ownerId: string): GuildRecord {
    const createdAt = Date.now() - 900 * 86400_000;
    const id = this.ids.next(createdAt);
    const g: GuildRecord = {
      id,
      name,
      ownerId,
      createdAt,
      roles: [{ id, name: '@everyone', permissions: '1071698660929', position: 0, managed: false, mentionable: false }],
      members: new Map(),
    };
    for (const u of this.users.values()) g.members.set(u.id, { roles: [], joinedAt: createdAt + 86400_000, nick: null });
    this.guilds.set(id, g);
    const botRole = this.addRole(id, { name: this.botUser.username, permissions: PERMISSIONS_ALL_TEXT, managed: true });
    const member = g.members.get(this.botUser.id);
    if (member) member.roles.push(botRole.id);
    return g;
  }

  addRole(guildId: string, r: Partial<RoleRecord> & { name: string }): RoleRecord {
    const g = this.guilds.get(guildId);
    if (!g) throw new Error(`no guild ${guildId}`);
    const role: RoleRecord = { id: r.id ?? this.ids.next(g.createdAt + 3600_000), name: r.name, permissions: r.permissions ?? '1071698660929', position: r.position ?? g.roles.length, managed: r.managed ?? false, mentionable: r.mentionable ?? true };
    g.roles.push(role);
    return role;
  }

  addChannel(c: Partial<ChannelRecord> & { guildId?: string }): ChannelRecord {
    const type = c.type ?? (c.guildId ? 0 : 1);
    const rec: ChannelRecord = {
      id: c.id ?? this.ids.next(type === 11 || type === 12 ? Date.now() : Date.now() - 300 * 86400_000),
      type,
      position: c.position ?? [...this.channels.values()].filter((x) => x.guildId === c.guildId).length,
      botCanSend: c.botCanSend ?? true,
      ...(c.name !== undefined ? { name: c.name } : type === 1 ? {} : { name: `channel-${this.channels.size + 1}` }),
      ...(c.guildId ? { guildId: c.guildId } : {}),
      ...(c.parentId ? { parentId: c.parentId } : {}),
      ...(c.recipient ? { recipient: c.recipient } : {}),
      ...(c.topic !== undefined ? { topic: c.topic } : {}),
      ...(c.thread ? { thread: c.thread } : {}),
    };
    this.channels.set(rec.id, rec);
    return rec;
  }

  /** The DM channel between the bot and a user (created on first use, as POST /users/@me/channels does). */
  dmWith(userId: string): ChannelRecord {
    for (const c of this.channels.values()) if (c.type === 1 && c.recipient === userId) return c;
    return this.addChannel({ type: 1, recipient: userId });
  }

  channelMessages(id: string): StoredMessage[] {
    let list = this.messages.get(id);
    if (!list) {
      list = [];
      this.messages.set(id, list);
    }
    return list;
  }

  findMessage(channelId: string, id: string): StoredMessage | undefined {
    return this.messages.get(channelId)?.find((m) => m.view.id === id);
  }

  /** Anywhere (a reply may point into another channel only by forwarding; tests look up by id). */
  findMessageAnywhere(id: string): StoredMessage | undefined {
    for (const list of this.messages.values()) {
      const m = list.find((x) => x.view.id === id);
      if (m) return m;
    }
    return undefined;
  }

  addMessage(m: StoredMessage): StoredMessage {
    const list = this.channelMessages(m.view.channelId);
    const existing = list.find((x) => x.view.id === m.view.id);
    if (existing) return existing;
    list.push(m);
    list.sort((a, b) => (BigInt(a.view.id) < BigInt(b.view.id) ? -1 : 1));
    const ch = this.channels.get(m.view.channelId);
    if (ch) ch.lastMessageId = m.view.id;
    return m;
  }

  removeMessage(channelId: string, id: string): StoredMessage | undefined {
    const list = this.messages.get(channelId);
    const i = list?.findIndex((x) => x.view.id === id) ?? -1;
    if (!list || i < 0) return undefined;
    return list.splice(i, 1)[0];
  }

  /** Stores bytes and returns the attachment as a user sees it, with a signed CDN URL. */
  addFile(channelId: string, data: Buffer, filename: string, contentType?: string, description?: string): VisibleAttachment {
    const id = this.ids.next();
    this.files.set(id, { channelId, filename, data, ...(contentType ? { contentType } : {}) });
    return { id, filename, size: data.length, ...(contentType ? { contentType } : {}), ...(description ? { description } : {}), url: this.cdnUrl(channelId, id, filename) };
  }

  /** `{base}/attachments/{channel}/{id}/{name}?ex=&is=&hm=`: expires in 24 h, like Discord's signed URLs. */
  cdnUrl(channelId: string, id: string, filename: string, issuedAt = Date.now()): string {
    const is = Math.floor(issuedAt / 1000).toString(16);
    const ex = Math.floor(issuedAt / 1000 + 86400).toString(16);
    const path = `/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
    return `${this.baseUrl}${path}?ex=${ex}&is=${is}&hm=${this.cdnSign(path, ex, is)}&`;
  }

  cdnSign(path: string, ex: string, is: string): string {
    return createHmac('sha256', this.cdnSecret).update(`${path}|${ex}|${is}`).digest('hex');
  }

  commandScope(guildId?: string): ApplicationCommand[] {
    const key = guildId ?? 'global';
    let list = this.commands.get(key);
    if (!list) {
      list = [];
      this.commands.set(key, list);
    }
    return list;
  }

  /** Registers (or refreshes) an interaction so its token works on the callback and webhook routes. */
  registerInteraction(payload: Json, via: InteractionRecord['via']): InteractionRecord {
    const id = String(payload.id);
    let rec = this.interactions.get(id);
    if (!rec) {
      const data = (payload.data ?? {}) as Json;
      const user = ((payload.member as Json | undefined)?.user ?? payload.user) as Json | undefined;
      const message = payload.message as Json | undefined;
      rec = {
        id,
        token: String(payload.token),
        type: Number(payload.type),
        ...(typeof data.name === 'string' ? { name: data.name } : {}),
        ...(typeof data.custom_id === 'string' ? { customId: data.custom_id } : {}),
        ...(typeof payload.channel_id === 'string' ? { channelId: payload.channel_id } : {}),
        ...(typeof payload.guild_id === 'string' ? { guildId: payload.guild_id } : {}),
        ...(user && typeof user.id === 'string' ? { userId: user.id } : {}),
        ...(message && typeof message.id === 'string' ? { messageId: message.id } : {}),
        via,
        createdAt: Date.now(),
        callbacks: [],
        followups: [],
        payload,
      };
      this.interactions.set(id, rec);
      this.interactionList.push(rec);
    } else if (via !== 'none' && rec.via === 'none') {
      rec.via = via;
      rec.createdAt = Date.now();
    }
    return rec;
  }

  interactionByToken(token: string): InteractionRecord | undefined {
    for (const r of this.interactions.values()) if (r.token === token) return r;
    return undefined;
  }

  // --- wire objects ------------------------------------------------------------------------

  apiUser(id: string): Json {
    const u = this.users.get(id) ?? { id, username: `unknown-${id.slice(-4)}`, global_name: null, bot: false };
    return {
      id: u.id,
      username: u.username,
      global_name: u.global_name,
      discriminator: '0',
      avatar: null,
      public_flags: 0,
      ...(u.bot ? { bot: true } : {}),
      avatar_decoration_data: null,
      primary_guild: null,
    };
  }

  /** A member without its user (as in a message's `member`), or with it. */
  apiMember(guildId: string, userId: string, withUser: boolean): Json {
    const m = this.guilds.get(guildId)?.members.get(userId);
    const joined = new Date(m?.joinedAt ?? Date.now()).toISOString();
    return {
      ...(withUser ? { user: this.apiUser(userId) } : {}),
      roles: m?.roles ?? [],
      nick: m?.nick ?? null,
      avatar: null,
      banner: null,
      joined_at: joined,
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
    };
  }

  apiChannel(id: string, opts: { inGuildCreate?: boolean } = {}): Json {
    const c = this.channels.get(id);
    if (!c) return { id };
    if (c.type === 1) {
      return { id: c.id, type: 1, last_message_id: c.lastMessageId ?? null, flags: 0, recipients: c.recipient ? [this.apiUser(c.recipient)] : [] };
    }
    const base: Json = {
      id: c.id,
      type: c.type,
      ...(opts.inGuildCreate ? {} : { guild_id: c.guildId }),
      name: c.name,
      position: c.position,
      flags: 0,
      parent_id: c.parentId ?? null,
      permission_overwrites: [],
      nsfw: false,
      rate_limit_per_user: 0,
    };
    if (c.type === 4) return base;
    if (c.thread) {
      delete base.permission_overwrites;
      delete base.position;
      return {
        ...base,
        guild_id: c.guildId,
        owner_id: c.thread.ownerId,
        last_message_id: c.lastMessageId ?? null,
        message_count: this.messages.get(c.id)?.length ?? 0,
        member_count: 2,
        total_message_sent: this.messages.get(c.id)?.length ?? 0,
        thread_metadata: {
          archived: c.thread.archived,
          archive_timestamp: new Date(c.thread.createdAt).toISOString(),
          auto_archive_duration: c.thread.autoArchiveDuration,
          locked: c.thread.locked,
          create_timestamp: new Date(c.thread.createdAt).toISOString(),
          ...(c.type === 12 ? { invitable: true } : {}),
        },
      };
    }
    return { ...base, topic: c.topic ?? null, last_message_id: c.lastMessageId ?? null };
  }

  apiAttachment(a: VisibleAttachment): Json {
    return {
      id: a.id,
      filename: a.filename,
      size: a.size,
      url: a.url,
      proxy_url: a.url.replace('/attachments/', '/proxy/attachments/'),
      ...(a.contentType ? { content_type: a.contentType } : {}),
      ...(a.description ? { description: a.description } : {}),
      ...(a.contentType?.startsWith('image/') ? { width: 640, height: 480, placeholder: 'n/cGBQAnaIiIeHiId3eHiHeGCIAAAAAA', placeholder_version: 1 } : {}),
    };
  }

  /**
   * A message as REST returns it, or as a gateway dispatch carries it (`gateway`: adds guild_id
   * and member on guild messages, channel_type on DMs when asked).
   */
  apiMessage(m: StoredMessage, opts: { gateway?: boolean; withReferenced?: boolean } = {}): Json {
    const v = m.view;
    const ch = this.channels.get(v.channelId);
    const guildId = v.guildId ?? ch?.guildId;
    const ref = v.messageReference ? this.findMessageAnywhere(v.messageReference.messageId) : undefined;
    const out: Json = {
      type: v.type,
      content: v.content,
      mentions: m.mentions.map((id) => ({ ...this.apiUser(id), ...(opts.gateway && guildId ? { member: this.apiMember(guildId, id, false) } : {}) })),
      mention_roles: m.mentionRoles,
      attachments: v.attachments.map((a) => this.apiAttachment(a)),
      embeds: v.embeds,
      timestamp: new Date(v.createdAt).toISOString(),
      edited_timestamp: v.editedAt ? new Date(v.editedAt).toISOString() : null,
      flags: v.flags,
      components: v.components,
      id: v.id,
      channel_id: v.channelId,
      author: v.webhookId ? { ...this.apiUser(v.authorId), bot: true } : this.apiUser(v.authorId),
      pinned: false,
      mention_everyone: m.mentionEveryone,
      tts: m.tts,
      ...(v.reactions.length ? { reactions: v.reactions.map((r) => ({ emoji: { id: null, name: r.emoji }, count: r.count, count_details: { burst: 0, normal: r.count }, burst_colors: [], me_burst: false, burst_me: false, me: r.me, burst_count: 0 })) } : {}),
      ...(v.nonce !== undefined ? { nonce: v.nonce } : {}),
      ...(v.webhookId ? { webhook_id: v.webhookId } : {}),
      ...(m.applicationId ? { application_id: m.applicationId } : {}),
      ...(m.interactionMetadata ? { interaction_metadata: m.interactionMetadata } : {}),
      ...(m.position !== undefined ? { position: m.position } : {}),
      ...(v.messageReference
        ? {
            message_reference: { type: 0, channel_id: v.messageReference.channelId, message_id: v.messageReference.messageId, ...(v.messageReference.guildId ? { guild_id: v.messageReference.guildId } : {}) },
            referenced_message: ref && opts.withReferenced !== false ? this.apiMessage(ref, { withReferenced: false }) : null,
          }
        : {}),
    };
    if (opts.gateway && guildId) {
      out.guild_id = guildId;
      if (!v.webhookId) out.member = this.apiMember(guildId, v.authorId, false);
    }
    return out;
  }

  /** GUILD_CREATE's guild object: channels (without guild_id), active threads, roles, members. */
  apiGuildCreate(guildId: string, opts: { withMembers: boolean; withPresences: boolean }): Json {
    const g = this.guilds.get(guildId);
    if (!g) throw new Error(`no guild ${guildId}`);
    const chans = [...this.channels.values()].filter((c) => c.guildId === guildId);
    const members = opts.withMembers ? [...g.members.keys()] : [this.botUser.id];
    const system = chans.find((c) => c.type === 0);
    return {
      id: g.id,
      name: g.name,
      icon: null,
      description: null,
      home_header: null,
      splash: null,
      discovery_splash: null,
      features: [],
      banner: null,
      owner_id: g.ownerId,
      application_id: null,
      region: 'deprecated',
      afk_channel_id: null,
      afk_timeout: 300,
      system_channel_id: system?.id ?? null,
      system_channel_flags: 0,
      widget_enabled: false,
      widget_channel_id: null,
      verification_level: 1,
      roles: g.roles.map((r) => ({ id: r.id, name: r.name, description: null, permissions: r.permissions, position: r.position, color: 0, colors: { primary_color: 0, secondary_color: null, tertiary_color: null }, hoist: false, managed: r.managed, mentionable: r.mentionable, icon: null, unicode_emoji: null, flags: 0, ...(r.managed ? { tags: { bot_id: this.botUser.id } } : {}) })),
      default_message_notifications: 1,
      mfa_level: 0,
      explicit_content_filter: 2,
      max_presences: null,
      max_members: 500000,
      max_stage_video_channel_users: 50,
      max_video_channel_users: 25,
      vanity_url_code: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: 'en-US',
      rules_channel_id: null,
      safety_alerts_channel_id: null,
      public_updates_channel_id: null,
      hub_type: null,
      premium_progress_bar_enabled: false,
      latest_onboarding_question_id: null,
      nsfw: false,
      nsfw_level: 0,
      emojis: [],
      stickers: [],
      incidents_data: null,
      inventory_settings: null,
      embed_enabled: false,
      embed_channel_id: null,
      joined_at: new Date(g.members.get(this.botUser.id)?.joinedAt ?? g.createdAt).toISOString(),
      large: false,
      lazy: true,
      member_count: g.members.size,
      unavailable: false,
      voice_states: [],
      members: members.map((id) => this.apiMember(guildId, id, true)),
      channels: chans.filter((c) => !c.thread).map((c) => this.apiChannel(c.id, { inGuildCreate: true })),
      threads: chans.filter((c) => c.thread && !c.thread.archived).map((c) => this.apiChannel(c.id)),
      presences: opts.withPresences ? members.map((id) => ({ user: { id }, status: 'online', client_status: { desktop: 'online' }, activities: [] })) : [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      activity_instances: [],
      application_command_counts: { 1: this.commandScope(guildId).length, 2: 0, 3: 0 },
      version: Date.now(),
    };
  }

}
