/**
 * The workspace the Slack emulator holds: users, channels, the visible messages per channel, files
 * and assistant threads. Ids look like Slack's (U..., C..., D..., G..., F...), and message ts are
 * `seconds.micros` strings that only ever increase, shared by user and bot messages so a channel's
 * order is the order things happened.
 */
import { mrkdwnToText } from './mrkdwn';
import type { AssistantThreadState, EphemeralMessage, SlackFile, SlackMessage } from './types';

export type ChannelType = 'im' | 'channel' | 'group' | 'mpim';

export interface ChannelRecord {
  id: string;
  name: string;
  type: ChannelType;
  /** The other party of a DM. */
  user?: string;
  created: number;
  is_archived: boolean;
  /** Whether the bot is in it (posting to a channel it is not in answers not_in_channel). */
  botIsMember: boolean;
}

export interface UserRecord {
  id: string;
  name: string;
  real_name: string;
  is_bot: boolean;
  team_id: string;
  bot_id?: string;
  tz?: string;
}

export interface StoredFile {
  file: SlackFile;
  data: Buffer;
}

export interface Identity {
  teamId: string;
  teamDomain: string;
  appId: string;
  botId: string;
  botUserId: string;
  botName: string;
}

export class SlackState {
  readonly channels = new Map<string, ChannelRecord>();
  readonly users = new Map<string, UserRecord>();
  readonly messages = new Map<string, SlackMessage[]>();
  readonly ephemeral: EphemeralMessage[] = [];
  readonly files = new Map<string, StoredFile>();
  readonly assistant = new Map<string, AssistantThreadState>();
  /** response_url ids handed out with slash commands and actions, and where their answers go. */
  readonly responseUrls = new Map<string, { channel: string; user: string; message_ts?: string; thread_ts?: string }>();
  baseUrl = '';
  private lastMicros = 0;
  private counters = new Map<string, number>();

  constructor(readonly id: Identity) {
    this.users.set(id.botUserId, { id: id.botUserId, name: id.botName, real_name: id.botName, is_bot: true, team_id: id.teamId, bot_id: id.botId });
  }

  /** The next message ts: `1733050000.000100`-like, strictly increasing. */
  nextTs(): string {
    const micros = Math.max(Date.now() * 1000, this.lastMicros + 100);
    this.lastMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  /** A new Slack-looking id with this prefix (U, C, D, G, F, B...): `U0EM0000001`, unique per prefix. */
  newId(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}0EM${String(n).padStart(7, '0')}`;
  }

  addUser(u: Partial<UserRecord> & { id?: string } = {}): UserRecord {
    const id = u.id ?? this.newId('U');
    const name = u.name ?? `user${this.users.size}`;
    const rec: UserRecord = { id, name, real_name: u.real_name ?? name, is_bot: u.is_bot ?? false, team_id: u.team_id ?? this.id.teamId, ...(u.bot_id ? { bot_id: u.bot_id } : {}), tz: u.tz ?? 'Europe/Berlin' };
    this.users.set(id, { ...this.users.get(id), ...rec });
    return this.users.get(id) as UserRecord;
  }

  addChannel(c: Partial<ChannelRecord> & { type?: ChannelType } = {}): ChannelRecord {
    const type = c.type ?? 'channel';
    const prefix = type === 'im' ? 'D' : type === 'channel' ? 'C' : 'G';
    const id = c.id ?? this.newId(prefix);
    const rec: ChannelRecord = {
      id,
      name: c.name ?? (type === 'im' ? (c.user ?? id) : `channel-${this.channels.size + 1}`),
      type,
      ...(c.user ? { user: c.user } : {}),
      created: c.created ?? Math.floor(Date.now() / 1000) - 86400,
      is_archived: c.is_archived ?? false,
      botIsMember: c.botIsMember ?? true,
    };
    this.channels.set(id, { ...this.channels.get(id), ...rec });
    return this.channels.get(id) as ChannelRecord;
  }

  /** The DM between the bot and a user, created on first use (as conversations.open would). */
  dmWith(userId: string): ChannelRecord {
    for (const c of this.channels.values()) if (c.type === 'im' && c.user === userId) return c;
    if (!this.users.has(userId)) this.addUser({ id: userId });
    return this.addChannel({ type: 'im', user: userId });
  }

  /** A channel id as the API takes it: a user id means the bot's DM with that user. */
  resolveChannel(id: string): ChannelRecord | undefined {
    if (/^[UW][A-Z0-9]+$/.test(id) && this.users.has(id) && !this.users.get(id)?.is_bot) return this.dmWith(id);
    return this.channels.get(id);
  }

  channelMessages(id: string): SlackMessage[] {
    let list = this.messages.get(id);
    if (!list) {
      list = [];
      this.messages.set(id, list);
    }
    return list;
  }

  findMessage(channel: string, ts: string): SlackMessage | undefined {
    return this.messages.get(channel)?.find((m) => m.ts === ts);
  }

  /** Adds a visible message, keeping the channel in ts order; the same channel+ts is only added once. */
  addMessage(m: SlackMessage): SlackMessage {
    const list = this.channelMessages(m.channel);
    const existing = list.find((x) => x.ts === m.ts);
    if (existing) return existing;
    list.push(m);
    list.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    if (m.thread_ts && m.thread_ts !== m.ts) {
      const parent = list.find((x) => x.ts === m.thread_ts);
      if (parent && !parent.thread_ts) parent.thread_ts = parent.ts;
    }
    return m;
  }

  removeMessage(channel: string, ts: string): boolean {
    const list = this.messages.get(channel);
    const i = list?.findIndex((x) => x.ts === ts) ?? -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    return true;
  }

  visible(text: string, markdown: boolean): string {
    if (markdown) return text;
    const users: Record<string, string> = {};
    for (const u of this.users.values()) users[u.id] = u.name;
    const channels: Record<string, string> = {};
    for (const c of this.channels.values()) channels[c.id] = c.name;
    return mrkdwnToText(text, { users, channels });
  }

  assistantThread(channel: string, threadTs: string): AssistantThreadState {
    const key = `${channel}:${threadTs}`;
    let a = this.assistant.get(key);
    if (!a) {
      a = { channel, thread_ts: threadTs, status: '', statusHistory: [] };
      this.assistant.set(key, a);
    }
    return a;
  }
}
