/**
 * A Slack message, slash command or button press as a chatgate message, or the reason it is not
 * one. Pure: the in node adds validation (event-schema.ts: this module only ever sees parsed
 * payloads), de-duplication, downloads and the assistant greeting around it.
 *
 * What passes:
 *  - direct messages (channel_type im), always;
 *  - in channels, a message that mentions the bot (the `message` and the `app_mention` Slack sends
 *    for one mention are the same message: same channel and ts, one de-duplication key); with
 *    `channels: 'all'`, every message in a channel the bot is in;
 *  - a reply in a thread the bot takes part in (it was mentioned there or answered there, or the
 *    thread is its own message's), unless `threads: 'mention'` asks for a mention every time;
 *  - slash commands and button presses, always (Slack sends them only to this app);
 *  - edits, when `edited` is on, as new messages;
 *  - never messages from bots (other apps, workflows, the bot itself).
 *
 * Where the answer goes: in a channel, into the thread of the message (`thread_ts ?? ts`), so a
 * channel stays readable and each question has its own thread; in a DM, into the thread if the
 * message was in one (an AI-app thread), else the DM itself (the out node can thread those too).
 */
import type { Chat, ChatType } from '../core/envelope';
import { buildChat } from '../core/inbound';
import { attachmentsOf } from './files';
import type { BlockActions, MessageEvent, SlackInbound, SlashCommand } from './event-schema';

export interface MapOptions {
  /** The app config node's id: the envelope's channelId. */
  channelId: string;
  bot: { userId: string; botId: string; teamId: string };
  /** In channels: only what mentions the bot (and threads it is in), or every message. */
  channels: 'mention' | 'all';
  /** Replies in a thread the bot takes part in pass without a mention ('participating'), or need one ('mention'). */
  threads: 'participating' | 'mention';
  edited: boolean;
  /** Whether the bot takes part in a thread (the connection's thread memory). */
  participates(channel: string, threadTs: string): boolean;
}

/** Slack details that have no place in the platform-neutral envelope (no URLs, no tokens). */
export interface SlackExtras {
  type: 'message' | 'app_mention' | 'command' | 'action';
  teamId?: string;
  /** The message's ts (messages), or the ts of the message whose button was pressed. */
  ts?: string;
  threadTs?: string;
  channelType?: string;
  edited?: boolean;
  command?: { name: string; text: string };
  action?: { actionId: string; value: string; messageTs?: string };
  retryNum?: number;
}

export type Mapped =
  | { ok: true; payload: string; chat: Chat; slack: SlackExtras; dedupeKey: string; thread?: { channel: string; ts: string } }
  | { ok: false; reason: 'unsupported' | 'fromBot' | 'notAddressed' | 'edited' | 'empty' };

function chatTypeOf(channel: string, channelType: string | undefined): ChatType {
  const t = channelType ?? (channel.startsWith('D') ? 'im' : channel.startsWith('G') ? 'group' : 'channel');
  if (t === 'im' || t === 'app_home') return 'direct';
  if (t === 'mpim') return 'group';
  return 'channel';
}

/**
 * Slack's message text as a person reads it: `&amp; &lt; &gt;` decoded, links as their label and
 * address, channel links as `#name`, `<!here>` as `@here`. User mentions stay `<@U…>` (an id the
 * agent can hand back); the renderer escapes whatever the agent answers.
 */
export function slackToText(text: string): string {
  const shown = text.replace(/<([^<>]*)>/g, (whole, inner: string) => {
    const bar = inner.indexOf('|');
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? '' : inner.slice(bar + 1);
    if (target.startsWith('@')) return whole;
    if (target.startsWith('#')) return label ? `#${label}` : `#${target.slice(1)}`;
    if (target.startsWith('!')) {
      const name = target.slice(1).split('^')[0];
      return label || `@${name}`;
    }
    if (/^(https?:|mailto:)/.test(target)) {
      const address = target.replace(/^mailto:/, '');
      return label && label !== address ? `${label} (${address})` : address;
    }
    return whole;
  });
  return shown.replace(/&(amp|lt|gt);/g, (_m, name: string) => ({ amp: '&', lt: '<', gt: '>' })[name] ?? _m);
}

/** Removes a leading mention of the bot, so the agent reads the question itself. */
export function stripLeadingMention(text: string, botUserId: string): string {
  const re = new RegExp(`^\\s*<@${botUserId}(\\|[^>]*)?>[\\s,:;-]*`);
  return text.replace(re, '');
}

function isFromBot(m: { user?: string; bot_id?: string; bot_profile?: unknown; subtype?: string }, botUserId: string): boolean {
  return m.subtype === 'bot_message' || m.bot_id !== undefined || m.bot_profile !== undefined || m.user === botUserId;
}

/** Message subtypes that are a person's message; the others are joins, topics, bots, deletions... */
const USER_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast', 'me_message']);

function fromMessage(ev: MessageEvent, teamId: string | undefined, o: MapOptions): Mapped {
  let m: MessageEvent | NonNullable<MessageEvent['message']> = ev;
  let edited = false;
  if (ev.subtype === 'message_changed') {
    if (!o.edited) return { ok: false, reason: 'edited' };
    if (!ev.message) return { ok: false, reason: 'unsupported' };
    m = ev.message;
    edited = true;
  } else if (!USER_SUBTYPES.has(ev.subtype)) {
    return { ok: false, reason: ev.subtype === 'bot_message' ? 'fromBot' : 'unsupported' };
  }
  if (isFromBot(m, o.bot.userId)) return { ok: false, reason: 'fromBot' };
  if (!m.user) return { ok: false, reason: 'unsupported' };
  const channel = ev.channel;
  const chatType = chatTypeOf(channel, ev.channel_type);
  const raw = m.text ?? '';
  const mentioned = ev.type === 'app_mention' || raw.includes(`<@${o.bot.userId}>`) || raw.includes(`<@${o.bot.userId}|`);
  const inThread = m.thread_ts !== undefined && m.thread_ts !== m.ts;
  if (chatType !== 'direct' && !mentioned && o.channels !== 'all') {
    const participating = inThread && o.threads === 'participating' && (m.parent_user_id === o.bot.userId || o.participates(channel, m.thread_ts!));
    if (!participating) return { ok: false, reason: 'notAddressed' };
  }
  const attachments = attachmentsOf(m.files);
  const payload = slackToText(stripLeadingMention(raw, o.bot.userId));
  if (payload.trim() === '' && attachments.length === 0) return { ok: false, reason: 'empty' };
  const threadId = chatType === 'direct' ? (inThread ? m.thread_ts : undefined) : (m.thread_ts ?? m.ts);
  const team = teamId ?? m.team ?? o.bot.teamId;
  const chat = buildChat(
    {
      platform: 'slack',
      channelId: o.channelId,
      chatId: channel,
      chatType,
      userId: m.user,
      messageId: m.ts,
      ...(threadId ? { threadId } : {}),
      isBot: false,
      mentioned: chatType === 'direct' || mentioned,
      attachments,
      ...(team ? { replyExtras: { teamId: team } } : {}),
    },
    payload,
  );
  return {
    ok: true,
    payload,
    chat,
    // Twins (message + app_mention), Events API retries and Socket Mode redeliveries share channel + ts.
    dedupeKey: edited ? `${channel}:${m.ts}:edited:${(m as { edited?: { ts: string } }).edited?.ts ?? ev.ts}` : `${channel}:${m.ts}`,
    slack: {
      type: ev.type,
      ...(team ? { teamId: team } : {}),
      ts: m.ts,
      ...(m.thread_ts ? { threadTs: m.thread_ts } : {}),
      ...(ev.channel_type ? { channelType: ev.channel_type } : {}),
      ...(edited ? { edited: true } : {}),
    },
    ...(threadId && chatType !== 'direct' ? { thread: { channel, ts: threadId } } : {}),
  };
}

function commandChatType(c: SlashCommand): ChatType {
  if (c.channel_id.startsWith('D') || c.channel_name === 'directmessage') return 'direct';
  if ((c.channel_name ?? '').startsWith('mpdm-')) return 'group';
  return 'channel';
}

function fromCommand(c: SlashCommand, o: MapOptions): Mapped {
  const name = c.command.toLowerCase();
  const text = slackToText(c.text);
  const team = c.team_id ?? o.bot.teamId;
  const chat = buildChat(
    {
      platform: 'slack',
      channelId: o.channelId,
      chatId: c.channel_id,
      chatType: commandChatType(c),
      userId: c.user_id,
      ...(c.user_name ? { userName: c.user_name } : {}),
      // A command is not a message; its trigger id keeps each invocation distinct.
      messageId: `cmd-${c.trigger_id}`,
      isBot: false,
      mentioned: true,
      ...(team ? { replyExtras: { teamId: team } } : {}),
    },
    text,
  );
  chat.command = { name, args: text };
  const slack: SlackExtras = { type: 'command', ...(team ? { teamId: team } : {}), command: { name, text } };
  return { ok: true, payload: text, chat, slack, dedupeKey: `cmd:${c.trigger_id}` };
}

function fromAction(a: BlockActions, o: MapOptions): Mapped {
  const action = a.actions[0];
  // A link button also reports its press; it carries no value and the browser has opened the link.
  if (action.value === undefined) return { ok: false, reason: 'unsupported' };
  const channel = a.container?.channel_id ?? a.channel?.id;
  if (!channel) return { ok: false, reason: 'unsupported' };
  const chatType = chatTypeOf(channel, undefined);
  const messageTs = a.container?.message_ts ?? a.message?.ts;
  const threadTs = a.container?.thread_ts ?? a.message?.thread_ts;
  const threadId = chatType === 'direct' ? threadTs : (threadTs ?? messageTs);
  const team = a.user.team_id ?? a.team?.id ?? o.bot.teamId;
  const name = a.user.username ?? a.user.name;
  const chat = buildChat(
    {
      platform: 'slack',
      channelId: o.channelId,
      chatId: channel,
      chatType,
      userId: a.user.id,
      ...(name ? { userName: name } : {}),
      messageId: `act-${action.action_ts}`,
      ...(threadId ? { threadId } : {}),
      isBot: false,
      mentioned: true,
      ...(team ? { replyExtras: { teamId: team } } : {}),
    },
    // A button value such as `/new` works like the typed command.
    action.value,
  );
  return {
    ok: true,
    payload: action.value,
    chat,
    dedupeKey: `act:${channel}:${action.action_ts}`,
    slack: { type: 'action', ...(team ? { teamId: team } : {}), ...(messageTs ? { ts: messageTs } : {}), ...(threadTs ? { threadTs } : {}), action: { actionId: action.action_id, value: action.value, ...(messageTs ? { messageTs } : {}) } },
    ...(threadId && chatType !== 'direct' ? { thread: { channel, ts: threadId } } : {}),
  };
}

export function mapInbound(inbound: SlackInbound, o: MapOptions): Mapped {
  switch (inbound.kind) {
    case 'message':
      return fromMessage(inbound.event, inbound.teamId, o);
    case 'command':
      return fromCommand(inbound.command, o);
    case 'action':
      return fromAction(inbound.action, o);
    default:
      return { ok: false, reason: 'unsupported' };
  }
}
