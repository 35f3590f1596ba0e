/**
 * Inbound Slack traffic: builders for the events, commands and actions users cause (`make.*`), the
 * event_callback wrapper, the request signer and a poster for the HTTP Events API. The shapes
 * follow what Slack sends today (rich_text blocks, client_msg_id, authorizations...), because that
 * is what Bolt and our mapping code read.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { SlackState } from './state';
import type { Json, PostEventOptions, PostEventResult, SignOptions, SlackFile } from './types';

export interface MessageOptions {
  /** The sender (default the fixture user). */
  user?: string;
  /** The channel (default: the sender's DM for dm(), the fixture channel otherwise). */
  channel?: string;
  ts?: string;
  /** Makes it a reply in this thread. */
  threadTs?: string;
}

export interface FileShareOptions extends MessageOptions {
  text?: string;
  name?: string;
  mimetype?: string;
  /** The bytes url_private serves (with the bot token). Default: 512 random bytes. */
  data?: Buffer;
  /** Share it in a DM (default) or, with channel, anywhere. */
  dm?: boolean;
}

export interface BotMessageOptions extends MessageOptions {
  botId?: string;
  username?: string;
  /**
   * The shape a modern app's message has (user + bot_id + bot_profile, no subtype) instead of the
   * legacy `subtype: 'bot_message'` one. Both arrive; a bot filter has to catch both.
   */
  appBot?: boolean;
}

export interface SlashCommandOptions {
  user?: string;
  channel?: string;
  triggerId?: string;
}

export interface BlockActionOptions {
  user?: string;
  channel?: string;
  value?: string;
  blockId?: string;
  /** The message the button is on: its ts (default the latest bot message in the channel). */
  messageTs?: string;
  actionType?: string;
}

export interface AssistantThreadOptions {
  user?: string;
  /** The assistant DM (default the user's DM). */
  channel?: string;
  threadTs?: string;
  /** The channel the user was looking at when opening the assistant. */
  contextChannel?: string;
}

/** An inner event (what Bolt hands handlers as `event`). */
export type SlackEvent = Json & { type: string };
/** A slash command's fields, as Slack form-posts them. */
export type SlashCommandPayload = Record<string, string> & { command: string };
/** An interactive payload (block_actions...). */
export type InteractivePayload = Json & { type: string };

export interface EventBuilders {
  /** A direct message to the bot (`message`, channel_type 'im'). */
  dm(text: string, opts?: MessageOptions): SlackEvent;
  /** A message in a channel the bot is in (channel_type 'channel', or 'group' for G...). */
  channelMessage(text: string, opts?: MessageOptions): SlackEvent;
  /**
   * A mention of the bot in a channel: BOTH events Slack sends for it, the `message` and the
   * `app_mention`, same channel and ts (they get different event_ids when delivered).
   * The bot mention is put in front of the text unless the text has it.
   */
  mention(text: string, opts?: MessageOptions): [SlackEvent, SlackEvent];
  /** A reply in a thread (`thread_ts` = the parent's ts). */
  threadReply(threadTs: string, text: string, opts?: MessageOptions): SlackEvent;
  /** A message from another bot (legacy `bot_message` subtype by default, or the modern app shape). */
  botMessage(text: string, opts?: BotMessageOptions): SlackEvent;
  /** A message from this bot itself (what Slack echoes back of the bot's own posts). */
  selfMessage(text: string, opts?: MessageOptions): SlackEvent;
  /** A user's edit of an earlier message (`message_changed`). */
  edited(ts: string, text: string, opts?: MessageOptions): SlackEvent;
  /** A user's message with a file (`file_share`); the file is served at url_private. */
  fileShare(opts?: FileShareOptions): SlackEvent;
  /** The user opened the assistant panel (`assistant_thread_started`). */
  assistantThreadStarted(opts?: AssistantThreadOptions): SlackEvent;
  slashCommand(command: string, text?: string, opts?: SlashCommandOptions): SlashCommandPayload;
  /** A button press (block_actions) on a bot message. */
  blockAction(actionId: string, opts?: BlockActionOptions): InteractivePayload;
  /** The Events API's setup challenge. */
  urlVerification(challenge?: string): Json;
}

export interface Fixtures {
  /** A human user (alice) and a second one (bob). */
  user: string;
  otherUser: string;
  /** A public channel the bot is in (#general), alice's DM with the bot, a private channel (G...). */
  channel: string;
  dm: string;
  group: string;
}

export const INTERACTIVE_TYPES = new Set(['block_actions', 'view_submission', 'view_closed', 'shortcut', 'message_action', 'block_suggestion', 'interactive_message']);

export function isSlashCommand(x: unknown): x is SlashCommandPayload {
  return !!x && typeof x === 'object' && typeof (x as Json).command === 'string' && typeof (x as Json).type !== 'string';
}

export function isInteractive(x: unknown): x is InteractivePayload {
  return !!x && typeof x === 'object' && INTERACTIVE_TYPES.has(String((x as Json).type));
}

/** `'v0=' + hex HMAC_SHA256(secret, 'v0:' + ts + ':' + rawBody)`, Slack's request signature. */
export function slackSignature(secret: string, timestamp: number | string, rawBody: string | Buffer): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`;
}

export function createInbound(state: SlackState, fixtures: Fixtures, signingSecret: string) {
  const { id } = state;
  let eventCount = 0;

  function richText(text: string): unknown[] {
    const elements: Json[] = [];
    const re = /<@([UW][A-Z0-9]+)>/g;
    let last = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m.index > last) elements.push({ type: 'text', text: text.slice(last, m.index) });
      elements.push({ type: 'user', user_id: m[1] });
      last = m.index + m[0].length;
    }
    if (last < text.length) elements.push({ type: 'text', text: text.slice(last) });
    return [{ type: 'rich_text', block_id: randomBytes(3).toString('base64url').slice(0, 4), elements: [{ type: 'rich_text_section', elements }] }];
  }

  function channelType(channel: string): string {
    const c = state.channels.get(channel);
    if (c) return c.type;
    return channel.startsWith('D') ? 'im' : channel.startsWith('G') ? 'group' : 'channel';
  }

  function ensureChannel(channel: string, user?: string): void {
    if (state.channels.has(channel)) return;
    const type = channelType(channel) as 'im' | 'channel' | 'group';
    state.addChannel({ id: channel, type, ...(type === 'im' && user ? { user } : {}) });
  }

  function ensureUser(user: string): void {
    if (!state.users.has(user)) state.addUser({ id: user });
  }

  function userMessage(text: string, opts: MessageOptions, defaultChannel: string): SlackEvent {
    const user = opts.user ?? fixtures.user;
    ensureUser(user);
    const channel = opts.channel ?? defaultChannel;
    ensureChannel(channel, user);
    const ts = opts.ts ?? state.nextTs();
    const ev: SlackEvent = {
      user,
      type: 'message',
      ts,
      client_msg_id: randomUUID(),
      text,
      team: id.teamId,
      blocks: richText(text),
      ...(opts.threadTs ? { thread_ts: opts.threadTs, parent_user_id: state.findMessage(channel, opts.threadTs)?.user ?? user } : {}),
      channel,
      event_ts: ts,
      channel_type: channelType(channel),
    };
    return ev;
  }

  function botProfile(botId: string, name: string): Json {
    return { id: botId, deleted: false, name, updated: Math.floor(Date.now() / 1000) - 3600, app_id: botId === id.botId ? id.appId : `A${botId.slice(1)}`, icons: { image_48: 'https://a.slack-edge.com/80588/img/plugins/app/bot_48.png' }, team_id: id.teamId };
  }

  function addFile(data: Buffer, opts: { name: string; mimetype: string; user: string; title?: string }): SlackFile {
    const fid = state.newId('F');
    const now = Math.floor(Date.now() / 1000);
    const ext = opts.name.includes('.') ? opts.name.split('.').pop()!.toLowerCase() : 'binary';
    const safe = encodeURIComponent(opts.name);
    const file: SlackFile = {
      id: fid,
      created: now,
      timestamp: now,
      name: opts.name,
      title: opts.title ?? opts.name,
      mimetype: opts.mimetype,
      filetype: ext,
      pretty_type: ext.toUpperCase(),
      user: opts.user,
      user_team: id.teamId,
      size: data.length,
      mode: 'hosted',
      is_external: false,
      is_public: false,
      url_private: `${state.baseUrl}/files-pri/${id.teamId}-${fid}/${safe}`,
      url_private_download: `${state.baseUrl}/files-pri/${id.teamId}-${fid}/download/${safe}`,
      permalink: `https://${id.teamDomain}.slack.com/files/${opts.user}/${fid}/${safe}`,
    };
    state.files.set(fid, { file, data });
    return file;
  }

  const make: EventBuilders = {
    dm(text, opts = {}) {
      const user = opts.user ?? fixtures.user;
      return userMessage(text, { ...opts, user }, opts.channel ?? (user === fixtures.user ? fixtures.dm : state.dmWith(user).id));
    },
    channelMessage(text, opts = {}) {
      return userMessage(text, opts, fixtures.channel);
    },
    mention(text, opts = {}) {
      const full = text.includes(`<@${id.botUserId}>`) ? text : `<@${id.botUserId}> ${text}`;
      const message = userMessage(full, opts, fixtures.channel);
      const { channel_type: _ct, ...rest } = message;
      const appMention: SlackEvent = { ...rest, type: 'app_mention' };
      return [message, appMention];
    },
    threadReply(threadTs, text, opts = {}) {
      return userMessage(text, { ...opts, threadTs }, fixtures.channel);
    },
    botMessage(text, opts = {}) {
      const channel = opts.channel ?? fixtures.channel;
      ensureChannel(channel);
      const ts = opts.ts ?? state.nextTs();
      const botId = opts.botId ?? 'B0OTHERBOT1';
      const username = opts.username ?? 'Other Bot';
      const common = { type: 'message', text, ts, channel, event_ts: ts, channel_type: channelType(channel), ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}) };
      if (opts.appBot) {
        const user = opts.user ?? 'U0OTHERBOT1';
        if (!state.users.has(user)) state.addUser({ id: user, name: username, is_bot: true, bot_id: botId });
        return { ...common, user, bot_id: botId, app_id: `A${botId.slice(1)}`, bot_profile: botProfile(botId, username), team: id.teamId, blocks: richText(text) };
      }
      return { ...common, subtype: 'bot_message', bot_id: botId, username, icons: { emoji: ':robot_face:' } };
    },
    selfMessage(text, opts = {}) {
      const channel = opts.channel ?? fixtures.channel;
      ensureChannel(channel);
      const ts = opts.ts ?? state.nextTs();
      return {
        user: id.botUserId,
        type: 'message',
        ts,
        bot_id: id.botId,
        app_id: id.appId,
        text,
        team: id.teamId,
        bot_profile: botProfile(id.botId, id.botName),
        ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
        channel,
        event_ts: ts,
        channel_type: channelType(channel),
      };
    },
    edited(ts, text, opts = {}) {
      const channel = opts.channel ?? fixtures.channel;
      const before = state.findMessage(channel, ts);
      const user = opts.user ?? before?.user ?? fixtures.user;
      const eventTs = state.nextTs();
      const previous = { type: 'message', text: before?.text ?? '', user, ts, team: id.teamId, ...(before?.thread_ts ? { thread_ts: before.thread_ts } : {}) };
      return {
        type: 'message',
        subtype: 'message_changed',
        message: { ...previous, text, blocks: richText(text), edited: { user, ts: eventTs }, client_msg_id: randomUUID() },
        previous_message: previous,
        channel,
        hidden: true,
        ts: eventTs,
        event_ts: eventTs,
        channel_type: channelType(channel),
      };
    },
    fileShare(opts = {}) {
      const user = opts.user ?? fixtures.user;
      const defaultChannel = user === fixtures.user ? fixtures.dm : state.dmWith(user).id;
      const data = opts.data ?? randomBytes(512);
      const file = addFile(data, { name: opts.name ?? 'report.pdf', mimetype: opts.mimetype ?? 'application/pdf', user });
      const ev = userMessage(opts.text ?? '', { ...opts, user }, opts.channel ?? defaultChannel);
      file.channels = [String(ev.channel)];
      return { ...ev, subtype: 'file_share', files: [file], upload: false, display_as_bot: false, ...(opts.text ? {} : { blocks: [] }) };
    },
    assistantThreadStarted(opts = {}) {
      const user = opts.user ?? fixtures.user;
      ensureUser(user);
      const channel = opts.channel ?? (user === fixtures.user ? fixtures.dm : state.dmWith(user).id);
      ensureChannel(channel, user);
      const threadTs = opts.threadTs ?? state.nextTs();
      return {
        type: 'assistant_thread_started',
        assistant_thread: {
          user_id: user,
          context: { channel_id: opts.contextChannel ?? fixtures.channel, team_id: id.teamId, enterprise_id: null },
          channel_id: channel,
          thread_ts: threadTs,
        },
        event_ts: state.nextTs(),
      };
    },
    slashCommand(command, text = '', opts = {}) {
      const user = opts.user ?? fixtures.user;
      ensureUser(user);
      const channel = opts.channel ?? fixtures.channel;
      ensureChannel(channel, user);
      const rid = randomBytes(8).toString('hex');
      state.responseUrls.set(rid, { channel, user });
      return {
        token: 'emulatorverificationtoken',
        team_id: id.teamId,
        team_domain: id.teamDomain,
        channel_id: channel,
        channel_name: state.channels.get(channel)?.type === 'im' ? 'directmessage' : (state.channels.get(channel)?.name ?? channel),
        user_id: user,
        user_name: state.users.get(user)?.name ?? user,
        command: command.startsWith('/') ? command : `/${command}`,
        text,
        api_app_id: id.appId,
        is_enterprise_install: 'false',
        response_url: `${state.baseUrl}/response/${rid}`,
        trigger_id: opts.triggerId ?? `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(16).toString('hex')}`,
      };
    },
    blockAction(actionId, opts = {}) {
      const user = opts.user ?? fixtures.user;
      ensureUser(user);
      const channel = opts.channel ?? fixtures.channel;
      ensureChannel(channel, user);
      const list = state.messages.get(channel) ?? [];
      const msg = opts.messageTs ? list.find((m) => m.ts === opts.messageTs) : [...list].reverse().find((m) => m.fromBot);
      const blockId = opts.blockId ?? findBlockId(msg?.blocks, actionId) ?? randomBytes(3).toString('base64url');
      const rid = randomBytes(8).toString('hex');
      state.responseUrls.set(rid, { channel, user, ...(msg ? { message_ts: msg.ts } : {}), ...(msg?.thread_ts ? { thread_ts: msg.thread_ts } : {}) });
      const messageTs = msg?.ts ?? opts.messageTs ?? state.nextTs();
      return {
        type: 'block_actions',
        user: { id: user, username: state.users.get(user)?.name ?? user, name: state.users.get(user)?.name ?? user, team_id: id.teamId },
        api_app_id: id.appId,
        token: 'emulatorverificationtoken',
        container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false },
        trigger_id: `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(16).toString('hex')}`,
        team: { id: id.teamId, domain: id.teamDomain },
        enterprise: null,
        is_enterprise_install: false,
        channel: { id: channel, name: state.channels.get(channel)?.name ?? channel },
        message: {
          type: 'message',
          ts: messageTs,
          text: msg?.text ?? '',
          ...(msg?.user ? { user: msg.user } : {}),
          ...(msg?.bot_id ? { bot_id: msg.bot_id, app_id: id.appId } : {}),
          ...(msg?.thread_ts ? { thread_ts: msg.thread_ts } : {}),
          ...(msg?.blocks ? { blocks: msg.blocks } : {}),
          team: id.teamId,
        },
        state: { values: {} },
        response_url: `${state.baseUrl}/response/${rid}`,
        actions: [
          {
            action_id: actionId,
            block_id: blockId,
            ...(opts.value !== undefined ? { value: opts.value } : {}),
            type: opts.actionType ?? 'button',
            action_ts: state.nextTs(),
            text: { type: 'plain_text', text: opts.value ?? actionId, emoji: true },
          },
        ],
      };
    },
    urlVerification(challenge = randomBytes(24).toString('base64url')) {
      return { token: 'emulatorverificationtoken', challenge, type: 'url_verification' };
    },
  };

  /** The event_callback body around an inner event, each call with a new event_id unless given one. */
  function wrapEvent(event: SlackEvent, opts: { eventId?: string; eventTime?: number } = {}): Json {
    eventCount += 1;
    return {
      token: 'emulatorverificationtoken',
      team_id: id.teamId,
      context_team_id: id.teamId,
      context_enterprise_id: null,
      api_app_id: id.appId,
      event,
      type: 'event_callback',
      event_id: opts.eventId ?? `Ev${state.newId('E').slice(1)}`,
      event_time: opts.eventTime ?? Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: id.teamId, user_id: id.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
      event_context: `4-${Buffer.from(`emu-${eventCount}`).toString('base64url')}`,
    };
  }

  /** What an inbound event changes in the visible workspace (the user's message appears, an edit shows...). */
  function remember(payload: Json): void {
    if (payload.type !== 'event_callback') return;
    const ev = payload.event as Json | undefined;
    if (!ev || typeof ev !== 'object') return;
    const channel = typeof ev.channel === 'string' ? ev.channel : undefined;
    if ((ev.type === 'message' || ev.type === 'app_mention') && channel) {
      const subtype = typeof ev.subtype === 'string' ? ev.subtype : undefined;
      if (subtype === 'message_changed') {
        const m = ev.message as Json | undefined;
        const shown = m && state.findMessage(channel, String(m.ts));
        if (shown && m) {
          shown.text = String(m.text ?? '');
          shown.visibleText = state.visible(shown.text, false);
          shown.edits += 1;
        }
        return;
      }
      if (subtype === 'message_deleted') {
        state.removeMessage(channel, String(ev.deleted_ts ?? ''));
        return;
      }
      if (subtype && !['file_share', 'bot_message', 'thread_broadcast', 'me_message'].includes(subtype)) return;
      const text = String(ev.text ?? '');
      const fromBot = ev.user === id.botUserId || ev.bot_id === id.botId;
      state.addMessage({
        channel,
        ts: String(ev.ts),
        ...(typeof ev.thread_ts === 'string' ? { thread_ts: ev.thread_ts } : {}),
        fromBot,
        ...(typeof ev.user === 'string' ? { user: ev.user } : {}),
        ...(typeof ev.bot_id === 'string' ? { bot_id: ev.bot_id } : {}),
        ...(subtype ? { subtype } : {}),
        text,
        visibleText: state.visible(text, false),
        markdown: false,
        ...(Array.isArray(ev.blocks) ? { blocks: ev.blocks } : {}),
        ...(Array.isArray(ev.files) ? { files: ev.files as SlackFile[] } : {}),
        edits: 0,
        reactions: [],
      });
      return;
    }
    if (ev.type === 'assistant_thread_started' || ev.type === 'assistant_thread_context_changed') {
      const t = ev.assistant_thread as Json;
      const a = state.assistantThread(String(t.channel_id), String(t.thread_ts));
      a.context = t.context as Json;
    }
  }

  function signedRequest(body: string | Buffer, opts: SignOptions = {}): Record<string, string> {
    const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
    return { 'X-Slack-Signature': slackSignature(opts.secret ?? signingSecret, ts, body), 'X-Slack-Request-Timestamp': String(ts) };
  }

  /** The body and content type Slack would POST for this event, command or action. */
  function encodeForHttp(input: SlackEvent | SlashCommandPayload | InteractivePayload | Json): { body: string; contentType: string; payload?: Json } {
    if (isSlashCommand(input)) return { body: new URLSearchParams(input as Record<string, string>).toString(), contentType: 'application/x-www-form-urlencoded' };
    if (isInteractive(input)) return { body: new URLSearchParams({ payload: JSON.stringify(input) }).toString(), contentType: 'application/x-www-form-urlencoded' };
    const payload = input.type === 'event_callback' || input.type === 'url_verification' || input.type === 'app_rate_limited' ? (input as Json) : wrapEvent(input as SlackEvent);
    return { body: JSON.stringify(payload), contentType: 'application/json', payload };
  }

  function postEvent(url: string, input: SlackEvent | SlashCommandPayload | InteractivePayload | Json, opts: PostEventOptions = {}): Promise<PostEventResult> {
    const { body, contentType, payload } = encodeForHttp(input);
    if (payload) remember(payload);
    const signed = signedRequest(body, opts);
    const headers: Record<string, string> = {
      'Content-Type': contentType,
      'Content-Length': String(Buffer.byteLength(body)),
      'User-Agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      Accept: '*/*',
      ...signed,
      ...(opts.signature !== undefined ? { 'X-Slack-Signature': opts.signature } : {}),
      ...(opts.retryNum !== undefined ? { 'X-Slack-Retry-Num': String(opts.retryNum), 'X-Slack-Retry-Reason': opts.retryReason ?? 'http_timeout' } : {}),
      ...opts.headers,
    };
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers, agent: false });
      req.setTimeout(10000, () => req.destroy(new Error('postEvent: no answer within 10 s')));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sent: body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  return { make, wrapEvent, remember, signedRequest, postEvent, addFile };
}

function findBlockId(blocks: unknown, actionId: string): string | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (const b of blocks as Json[]) {
    const els = [...(Array.isArray(b.elements) ? (b.elements as Json[]) : []), ...(b.accessory ? [b.accessory as Json] : [])];
    if (els.some((e) => e.action_id === actionId) && typeof b.block_id === 'string') return b.block_id;
  }
  return undefined;
}
