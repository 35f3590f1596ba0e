/**
 * The Web API methods the Slack emulator answers, with Slack's argument rules, limits and error
 * names (taken from the methods' published error lists). A method either returns the fields of its
 * `{ok: true, ...}` answer or throws SlackApiError with the `error` (and extra fields) of an
 * `{ok: false}` one. Token and scope checks happen before a method runs (see ../slack-server.ts).
 */
import { bool, jsonField, missing, SlackApiError, str, validateBlocks, validateChunks, type TextCheck } from './args';
import { createFileMethods } from './files';
import { blockTexts, type TextField } from './mrkdwn';
import type { ChannelRecord, SlackState } from './state';
import type { Json, Params, SlackMessage } from './types';

/** Which token a method takes and which scopes (any one of them) it needs. */
export const METHOD_ACCESS: Record<string, { token: 'bot' | 'app'; scopes?: string[] }> = {
  'auth.test': { token: 'bot' },
  'apps.connections.open': { token: 'app', scopes: ['connections:write'] },
  'chat.postMessage': { token: 'bot', scopes: ['chat:write'] },
  'chat.update': { token: 'bot', scopes: ['chat:write'] },
  'chat.delete': { token: 'bot', scopes: ['chat:write'] },
  'chat.postEphemeral': { token: 'bot', scopes: ['chat:write'] },
  'chat.startStream': { token: 'bot', scopes: ['chat:write'] },
  'chat.appendStream': { token: 'bot', scopes: ['chat:write'] },
  'chat.stopStream': { token: 'bot', scopes: ['chat:write'] },
  'assistant.threads.setStatus': { token: 'bot', scopes: ['chat:write', 'assistant:write'] },
  'assistant.threads.setSuggestedPrompts': { token: 'bot', scopes: ['chat:write', 'assistant:write'] },
  'assistant.threads.setTitle': { token: 'bot', scopes: ['chat:write', 'assistant:write'] },
  'reactions.add': { token: 'bot', scopes: ['reactions:write'] },
  'reactions.remove': { token: 'bot', scopes: ['reactions:write'] },
  'conversations.info': { token: 'bot', scopes: ['channels:read', 'groups:read', 'im:read', 'mpim:read'] },
  'conversations.open': { token: 'bot', scopes: ['im:write', 'mpim:write', 'channels:manage', 'groups:write'] },
  'conversations.history': { token: 'bot', scopes: ['channels:history', 'groups:history', 'im:history', 'mpim:history'] },
  'conversations.replies': { token: 'bot', scopes: ['channels:history', 'groups:history', 'im:history', 'mpim:history'] },
  'users.info': { token: 'bot', scopes: ['users:read'] },
  'files.getUploadURLExternal': { token: 'bot', scopes: ['files:write'] },
  'files.completeUploadExternal': { token: 'bot', scopes: ['files:write'] },
  'files.info': { token: 'bot', scopes: ['files:read'] },
};

export const DEFAULT_SCOPES = [
  'app_mentions:read',
  'assistant:write',
  'channels:history',
  'channels:read',
  'chat:write',
  'commands',
  'files:read',
  'files:write',
  'groups:history',
  'groups:read',
  'im:history',
  'im:read',
  'im:write',
  'mpim:history',
  'mpim:read',
  'reactions:write',
  'users:read',
];

const POST_TEXT_LIMIT = 40000;
const UPDATE_TEXT_BYTES = 4000;
const MARKDOWN_LIMIT = 12000;

export function createWebApi(state: SlackState, checkTexts: TextCheck) {
  const { id } = state;

  function channelOf(v: unknown, forPosting = false): ChannelRecord {
    const cid = str(v);
    if (!cid) throw new SlackApiError('channel_not_found');
    const c = state.resolveChannel(cid);
    if (!c) throw new SlackApiError('channel_not_found');
    if (forPosting && c.is_archived) throw new SlackApiError('is_archived');
    if (forPosting && !c.botIsMember) throw new SlackApiError('not_in_channel');
    return c;
  }

  function ownMessage(channel: ChannelRecord, ts: unknown, notOwned: string): SlackMessage {
    const t = str(ts);
    const m = t ? state.findMessage(channel.id, t) : undefined;
    if (!m) throw new SlackApiError('message_not_found');
    if (!m.fromBot) throw new SlackApiError(notOwned);
    return m;
  }

  function botProfile(): Json {
    return { id: id.botId, app_id: id.appId, name: id.botName, deleted: false, team_id: id.teamId, icons: { image_48: 'https://a.slack-edge.com/80588/img/plugins/app/bot_48.png' } };
  }

  /** A message in the JSON shape the API returns it. */
  function messageJson(m: SlackMessage): Json {
    return {
      type: 'message',
      ...(m.subtype ? { subtype: m.subtype } : {}),
      text: m.text,
      ...(m.user ? { user: m.user } : {}),
      ...(m.bot_id ? { bot_id: m.bot_id, app_id: m.fromBot ? id.appId : undefined } : {}),
      ...(m.fromBot ? { bot_profile: botProfile() } : {}),
      ts: m.ts,
      team: id.teamId,
      ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
      ...(m.thread_ts && m.thread_ts !== m.ts ? { parent_user_id: state.findMessage(m.channel, m.thread_ts)?.user ?? m.user } : {}),
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ...(m.attachments ? { attachments: m.attachments } : {}),
      ...(m.files ? { files: m.files, upload: false, display_as_bot: false } : {}),
      ...(m.reactions.length ? { reactions: m.reactions } : {}),
      ...(m.edits > 0 ? { edited: { user: m.user, ts: m.ts } } : {}),
      ...(m.metadata ? { metadata: m.metadata } : {}),
    };
  }

  /** The thread a reply lands in: a reply's ts given as thread_ts means its parent's thread. */
  function threadOf(channel: ChannelRecord, v: unknown): string | undefined {
    const t = str(v);
    if (!t) return undefined;
    const target = state.findMessage(channel.id, t);
    return target?.thread_ts ?? t;
  }

  function messageTexts(params: Params, blocks: unknown[] | undefined, attachments: unknown): TextField[] {
    const fields: TextField[] = [];
    const text = str(params.text);
    if (text) fields.push({ field: 'text', text, markdown: false });
    const md = str(params.markdown_text);
    if (md) fields.push({ field: 'markdown_text', text: md, markdown: true });
    if (blocks) fields.push(...blockTexts(blocks));
    if (Array.isArray(attachments)) {
      attachments.forEach((a, i) => {
        for (const k of ['text', 'pretext']) {
          const v = (a as Json | null)?.[k];
          if (typeof v === 'string') fields.push({ field: `attachments[${i}].${k}`, text: v, markdown: false });
        }
        if (a && typeof a === 'object') fields.push(...blockTexts((a as Json).blocks, `attachments[${i}].blocks`));
      });
    }
    return fields;
  }

  function chunkTexts(chunks: Json[] | undefined, md: string | undefined): TextField[] {
    const fields: TextField[] = [];
    if (md) fields.push({ field: 'markdown_text', text: md, markdown: true });
    chunks?.forEach((c, i) => {
      if (c.type === 'markdown_text') fields.push({ field: `chunks[${i}].text`, text: String(c.text), markdown: true });
      if (c.type === 'blocks') fields.push(...blockTexts(c.blocks, `chunks[${i}].blocks`));
    });
    return fields;
  }

  function linkNames(params: Params): boolean {
    return bool(params.link_names) || params.parse === 'full';
  }

  function clearStatus(channel: string, threadTs: string | undefined): void {
    if (!threadTs) return;
    const a = state.assistant.get(`${channel}:${threadTs}`);
    if (a && a.status !== '') {
      a.status = '';
      a.statusHistory.push('');
    }
  }

  function newBotMessage(channel: ChannelRecord, fields: Partial<SlackMessage> & { text: string; markdown: boolean }): SlackMessage {
    const m: SlackMessage = {
      channel: channel.id,
      ts: state.nextTs(),
      fromBot: true,
      user: id.botUserId,
      bot_id: id.botId,
      visibleText: state.visible(fields.text, fields.markdown),
      edits: 0,
      reactions: [],
      ...fields,
    };
    state.addMessage(m);
    clearStatus(channel.id, m.thread_ts);
    return m;
  }

  function postContent(params: Params, method: string, channel: ChannelRecord, limit: { chars?: number; bytes?: number } = {}) {
    const md = str(params.markdown_text);
    const text = str(params.text);
    const blocks = validateBlocks(jsonField(params, 'blocks', 'invalid_blocks_format'));
    const attachments = jsonField(params, 'attachments', 'invalid_attachments');
    if (md !== undefined && (text || blocks)) throw new SlackApiError('markdown_text_conflict');
    if (!text && !md && !blocks?.length && !(Array.isArray(attachments) && attachments.length)) throw new SlackApiError('no_text');
    if (md !== undefined && md.length > MARKDOWN_LIMIT) throw new SlackApiError('msg_too_long');
    if (text && limit.chars !== undefined && text.length > limit.chars) throw new SlackApiError('msg_too_long');
    if (text && limit.bytes !== undefined && Buffer.byteLength(text, 'utf8') > limit.bytes) throw new SlackApiError('msg_too_long');
    checkTexts(method, channel.id, messageTexts(params, blocks, attachments), { linkNames: linkNames(params) });
    return { md, text, blocks, attachments: Array.isArray(attachments) ? attachments : undefined };
  }

  function streamContent(params: Params, required: boolean): { md?: string; chunks?: Json[] } {
    const md = str(params.markdown_text);
    const chunks = validateChunks(jsonField(params, 'chunks', 'invalid_chunks'));
    if (md && chunks) throw new SlackApiError('cannot_provide_both_markdown_text_and_chunks');
    if (required && !md && !chunks?.length) throw new SlackApiError('markdown_text_or_chunks_required');
    if (md && md.length > MARKDOWN_LIMIT) throw new SlackApiError('msg_too_long');
    return { ...(md ? { md } : {}), ...(chunks ? { chunks } : {}) };
  }

  const streamModes = new Map<string, 'markdown_text' | 'chunks'>();

  function applyStream(m: SlackMessage, content: { md?: string; chunks?: Json[] }, method: string): void {
    const mode = content.md ? 'markdown_text' : content.chunks?.length ? 'chunks' : undefined;
    const key = `${m.channel}:${m.ts}`;
    const started = streamModes.get(key);
    if (mode && started && started !== mode) throw new SlackApiError('streaming_mode_mismatch');
    checkTexts(method, m.channel, chunkTexts(content.chunks, content.md), { linkNames: false });
    if (mode && !started) streamModes.set(key, mode);
    const added = content.md ? [{ type: 'markdown_text', text: content.md }] : (content.chunks ?? []);
    m.chunks = [...(m.chunks ?? []), ...added];
    for (const c of added) if (c.type === 'markdown_text') m.text += String(c.text);
    m.visibleText = m.text;
  }

  function channelJson(c: ChannelRecord): Json {
    const base = { id: c.id, created: c.created, is_archived: c.is_archived, is_org_shared: false, context_team_id: id.teamId, updated: c.created * 1000 };
    if (c.type === 'im') return { ...base, is_im: true, user: c.user, is_user_deleted: false, priority: 0 };
    return {
      ...base,
      name: c.name,
      name_normalized: c.name,
      is_channel: c.type === 'channel',
      is_group: c.type === 'group',
      is_im: false,
      is_mpim: c.type === 'mpim',
      is_private: c.type !== 'channel',
      is_general: c.name === 'general',
      is_shared: false,
      is_ext_shared: false,
      is_member: c.botIsMember,
      creator: [...state.users.values()].find((u) => !u.is_bot)?.id ?? id.botUserId,
      topic: { value: '', creator: '', last_set: 0 },
      purpose: { value: '', creator: '', last_set: 0 },
    };
  }

  function assistantArgs(params: Params) {
    const channel = channelOf(params.channel_id);
    const threadTs = str(params.thread_ts);
    if (!threadTs) throw missing('thread_ts');
    if (!/^\d+\.\d+$/.test(threadTs)) throw new SlackApiError('invalid_thread_ts');
    return state.assistantThread(channel.id, threadTs);
  }

  const files = createFileMethods(state, checkTexts, { channelOf, threadOf, newBotMessage });
  const fileMethods = files.methods;

  const methods: Record<string, (params: Params) => Json> = {
    'auth.test': () => ({
      url: `https://${id.teamDomain}.slack.com/`,
      team: 'Emulated Workspace',
      user: id.botName,
      team_id: id.teamId,
      user_id: id.botUserId,
      bot_id: id.botId,
      is_enterprise_install: false,
    }),

    'chat.postMessage': (params) => {
      const channel = channelOf(params.channel, true);
      const { md, text, blocks, attachments } = postContent(params, 'chat.postMessage', channel, { chars: POST_TEXT_LIMIT });
      const threadTs = threadOf(channel, params.thread_ts);
      const metadata = jsonField(params, 'metadata', 'invalid_metadata_format');
      const m = newBotMessage(channel, {
        text: md ?? text ?? '',
        markdown: md !== undefined,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        ...(blocks ? { blocks } : {}),
        ...(attachments ? { attachments } : {}),
        ...(threadTs && bool(params.reply_broadcast) ? { reply_broadcast: true, subtype: 'thread_broadcast' } : {}),
        ...(metadata ? { metadata } : {}),
      });
      return { channel: channel.id, ts: m.ts, message: messageJson(m) };
    },

    'chat.update': (params) => {
      const channel = channelOf(params.channel);
      const m = ownMessage(channel, params.ts, 'cant_update_message');
      if (m.streaming === 'in_progress') throw new SlackApiError('streaming_state_conflict');
      const { md, text, blocks, attachments } = postContent(params, 'chat.update', channel, { bytes: UPDATE_TEXT_BYTES });
      m.text = md ?? text ?? (blocks ? m.text : '');
      m.markdown = md !== undefined;
      m.visibleText = state.visible(m.text, m.markdown);
      if (blocks) m.blocks = blocks;
      else if (text !== undefined || md !== undefined) delete m.blocks;
      if (attachments) m.attachments = attachments;
      m.edits += 1;
      return { channel: channel.id, ts: m.ts, text: m.text, message: messageJson(m) };
    },

    'chat.delete': (params) => {
      const channel = channelOf(params.channel);
      const m = ownMessage(channel, params.ts, 'cant_delete_message');
      state.removeMessage(channel.id, m.ts);
      return { channel: channel.id, ts: m.ts };
    },

    'chat.postEphemeral': (params) => {
      const channel = channelOf(params.channel, true);
      const user = str(params.user);
      if (!user) throw missing('user');
      if (!state.users.has(user) || (channel.type === 'im' && channel.user !== user)) throw new SlackApiError('user_not_in_channel');
      const { md, text, blocks } = postContent(params, 'chat.postEphemeral', channel, { chars: POST_TEXT_LIMIT });
      const ts = state.nextTs();
      const threadTs = threadOf(channel, params.thread_ts);
      state.ephemeral.push({ channel: channel.id, user, ts, ...(threadTs ? { thread_ts: threadTs } : {}), text: md ?? text ?? '', ...(blocks ? { blocks } : {}), via: 'chat.postEphemeral' });
      return { message_ts: ts };
    },

    'chat.startStream': (params) => {
      const channel = channelOf(params.channel, true);
      const threadTs = threadOf(channel, params.thread_ts);
      if (!threadTs) throw missing('thread_ts');
      if (channel.type !== 'im') {
        if (!str(params.recipient_user_id)) throw new SlackApiError('missing_recipient_user_id');
        if (!str(params.recipient_team_id)) throw new SlackApiError('missing_recipient_team_id');
      }
      const content = streamContent(params, false);
      const m = newBotMessage(channel, { text: '', markdown: true, thread_ts: threadTs, streaming: 'in_progress', chunks: [] });
      applyStream(m, content, 'chat.startStream');
      return { channel: channel.id, ts: m.ts };
    },

    'chat.appendStream': (params) => {
      const channel = channelOf(params.channel);
      const m = ownMessage(channel, params.ts, 'message_not_owned_by_app');
      if (m.streaming !== 'in_progress') throw new SlackApiError('message_not_in_streaming_state');
      applyStream(m, streamContent(params, true), 'chat.appendStream');
      return { channel: channel.id, ts: m.ts };
    },

    'chat.stopStream': (params) => {
      const channel = channelOf(params.channel);
      const m = ownMessage(channel, params.ts, 'message_not_owned_by_app');
      if (m.streaming !== 'in_progress') throw new SlackApiError('message_not_in_streaming_state');
      const content = streamContent(params, false);
      const blocks = validateBlocks(jsonField(params, 'blocks', 'invalid_blocks_format'));
      if (blocks) checkTexts('chat.stopStream', channel.id, blockTexts(blocks), { linkNames: false });
      applyStream(m, content, 'chat.stopStream');
      if (blocks) m.blocks = [...(m.blocks ?? []), ...blocks];
      const metadata = jsonField(params, 'metadata', 'invalid_metadata_format');
      if (metadata) m.metadata = metadata;
      m.streaming = 'completed';
      return { channel: channel.id, ts: m.ts, message: messageJson(m) };
    },

    'assistant.threads.setStatus': (params) => {
      const a = assistantArgs(params);
      if (params.status === undefined || params.status === null) throw missing('status');
      const status = String(params.status);
      const loading = jsonField(params, 'loading_messages', 'invalid_arguments');
      if (loading !== undefined && (!Array.isArray(loading) || loading.length > 10)) throw new SlackApiError('invalid_arguments');
      if (status !== '') checkTexts('assistant.threads.setStatus', a.channel, [{ field: 'status', text: status, markdown: true }], { linkNames: false });
      a.status = status;
      a.statusHistory.push(status);
      if (Array.isArray(loading)) a.loading_messages = loading.map(String);
      else delete a.loading_messages;
      return {};
    },

    'assistant.threads.setSuggestedPrompts': (params) => {
      const a = assistantArgs(params);
      const prompts = jsonField(params, 'prompts', 'invalid_arguments');
      if (prompts === undefined) throw missing('prompts');
      if (!Array.isArray(prompts) || prompts.length === 0 || prompts.length > 4) throw new SlackApiError('invalid_arguments');
      for (const p of prompts) if (!p || typeof p !== 'object' || typeof (p as Json).title !== 'string' || typeof (p as Json).message !== 'string') throw new SlackApiError('invalid_arguments');
      a.prompts = prompts as Array<{ title: string; message: string }>;
      const title = str(params.title);
      if (title !== undefined) a.promptsTitle = title;
      return {};
    },

    'assistant.threads.setTitle': (params) => {
      const a = assistantArgs(params);
      const title = str(params.title);
      if (title === undefined) throw missing('title');
      a.title = title;
      return {};
    },

    'reactions.add': (params) => {
      const channel = channelOf(params.channel);
      const ts = str(params.timestamp);
      const m = ts ? state.findMessage(channel.id, ts) : undefined;
      if (!m) throw new SlackApiError('message_not_found');
      const name = str(params.name)?.replace(/^:|:$/g, '');
      if (!name || !/^[a-z0-9_+\-']+$/.test(name)) throw new SlackApiError('invalid_name');
      let r = m.reactions.find((x) => x.name === name);
      if (r?.users.includes(id.botUserId)) throw new SlackApiError('already_reacted');
      if (!r) {
        r = { name, users: [], count: 0 };
        m.reactions.push(r);
      }
      r.users.push(id.botUserId);
      r.count = r.users.length;
      return {};
    },

    'reactions.remove': (params) => {
      const channel = channelOf(params.channel);
      const ts = str(params.timestamp);
      const m = ts ? state.findMessage(channel.id, ts) : undefined;
      if (!m) throw new SlackApiError('message_not_found');
      const name = str(params.name)?.replace(/^:|:$/g, '');
      const r = m.reactions.find((x) => x.name === name);
      if (!r || !r.users.includes(id.botUserId)) throw new SlackApiError('no_reaction');
      r.users = r.users.filter((u) => u !== id.botUserId);
      r.count = r.users.length;
      if (!r.count) m.reactions.splice(m.reactions.indexOf(r), 1);
      return {};
    },

    'conversations.info': (params) => ({ channel: channelJson(channelOf(params.channel)) }),

    'conversations.open': (params) => {
      const users = str(params.users)?.split(',').filter(Boolean) ?? [];
      if (str(params.channel)) return { channel: { id: channelOf(params.channel).id } };
      if (users.length !== 1) throw new SlackApiError(users.length ? 'not_implemented_in_emulator' : 'users_list_not_supplied');
      if (!state.users.has(users[0])) throw new SlackApiError('user_not_found');
      const dm = state.dmWith(users[0]);
      return { no_op: true, already_open: true, channel: bool(params.return_im) ? channelJson(dm) : { id: dm.id } };
    },

    'conversations.history': (params) => {
      const channel = channelOf(params.channel);
      const limit = Math.min(Number(params.limit ?? 100) || 100, 999);
      const list = state.channelMessages(channel.id).filter((m) => !m.thread_ts || m.thread_ts === m.ts || m.reply_broadcast);
      return { messages: [...list].reverse().slice(0, limit).map(messageJson), has_more: list.length > limit, pin_count: 0, response_metadata: { next_cursor: '' } };
    },

    'conversations.replies': (params) => {
      const channel = channelOf(params.channel);
      const ts = str(params.ts);
      const parent = ts ? state.findMessage(channel.id, ts) : undefined;
      if (!parent) throw new SlackApiError('thread_not_found');
      const root = parent.thread_ts ?? parent.ts;
      const list = state.channelMessages(channel.id).filter((m) => m.ts === root || m.thread_ts === root);
      return { messages: list.map(messageJson), has_more: false, response_metadata: { next_cursor: '' } };
    },

    'users.info': (params) => {
      const u = state.users.get(str(params.user) ?? '');
      if (!u) throw new SlackApiError('user_not_found');
      return {
        user: {
          id: u.id,
          team_id: u.team_id,
          name: u.name,
          deleted: false,
          real_name: u.real_name,
          tz: u.tz ?? 'Europe/Berlin',
          is_bot: u.is_bot,
          is_admin: false,
          is_app_user: false,
          updated: Math.floor(Date.now() / 1000) - 3600,
          profile: { real_name: u.real_name, display_name: u.name, display_name_normalized: u.name, image_48: 'https://a.slack-edge.com/df10d/img/avatars/ava_0001-48.png', team: u.team_id, ...(u.bot_id ? { bot_id: u.bot_id } : {}) },
        },
      };
    },

    ...fileMethods,
  };

  return { methods, receiveUpload: files.receiveUpload, messageJson };
}

