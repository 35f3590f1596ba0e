/**
 * Discord's REST API v10 as the emulator answers it: the routes a bot uses (gateway/bot, users,
 * applications, channels, messages with files, typing, threads, reactions, application commands,
 * the interaction callback and the interaction webhooks), Discord's JSON errors, and rate-limit
 * buckets per route and major parameter advertised in X-RateLimit-* on every answer and enforced
 * with a 429 (Retry-After header in seconds AND the JSON retry_after), plus the injections.
 */
import { createHash } from 'node:crypto';
import type * as http from 'node:http';
import { ApiError, apiError, checkCommand, checkMessageBody, ERRORS, FormErrors, pingsOf } from './checks';
import type { Gateway } from './gateway';
import type { ChannelRecord, DiscordState, StoredMessage } from './state';
import type { ApplicationCommand, CommandOverwrite, FailSpec, InteractionRecord, Json, Ping, PingRecord, RestCall, RouteMatch, TypingCall, VisibleAttachment } from './types';

export const MAX_BODY = 60 * 1024 * 1024;
/** How long Discord remembers a nonce for enforce_nonce ("the past few minutes"). */
export const NONCE_WINDOW_MS = 5 * 60_000;

export const HTML_5XX = (status: number): string =>
  `<!DOCTYPE html>\n<html lang="en-US"><head><title>discord.com | ${status}: ${status === 502 ? 'Bad gateway' : status === 503 ? 'Service unavailable' : 'Internal server error'}</title>` +
  `<meta charset="UTF-8" /></head><body><div id="cf-error-details"><h1><span class="cf-error-type">Error</span> <span class="cf-error-code">${status}</span></h1>` +
  `<p>Ray ID: <strong>${createHash('md5').update(String(Date.now())).digest('hex').slice(0, 16)}</strong></p></div></body></html>\n`;

interface Injection {
  match?: RouteMatch;
  n: number;
  /** Cut with a TCP RST (the client sees ECONNRESET) instead of a FIN ("other side closed"). */
  reset?: boolean;
}

function cut(req: http.IncomingMessage, reset: boolean | undefined): void {
  const sock = req.socket as typeof req.socket & { resetAndDestroy?: () => void };
  if (reset && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
  else sock.destroy();
}

export interface RestDeps {
  state: DiscordState;
  gateway: Gateway;
  token: string;
  /** Whether REST still takes the token (revokeToken). */
  restTokenOk(): boolean;
  echoOwnMessages: boolean;
  interactionDeadlineMs: number;
  interactionTokenTtlMs: number;
  rateLimit: { limit: number; windowMs: number } | false;
  maxFileBytes: number;
  publicKeyHex: string;
  applicationFlags(): number;
  record(call: RestCall): void;
  mentionsPinged: PingRecord[];
  typing: TypingCall[];
  commandOverwrites: CommandOverwrite[];
}

export interface Ctx {
  method: string;
  path: string;
  params: string[];
  query: URLSearchParams;
  body: Json | unknown[] | undefined;
  files: RestCall['files'];
  call: RestCall;
}

type Answer = { status: number; body?: unknown };
type Handler = (ctx: Ctx) => Answer;

interface Route {
  method: string;
  template: string;
  op: string;
  re: RegExp;
  auth: boolean;
  /** The major parameter (params index) that splits the bucket, or a webhook id+token. */
  major?: (params: string[]) => string;
  handler: Handler;
}

const SNOWFLAKE = '(\\d{1,21})';
const SEGMENT = '([^/]+)';

function compile(template: string): RegExp {
  const src = template
    .split('/')
    .map((seg) => (seg === ':id' ? SNOWFLAKE : seg === ':token' || seg === ':reaction' ? SEGMENT : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${src}$`);
}

export function parseMultipart(body: Buffer, boundary: string): Array<{ name?: string; filename?: string; contentType?: string; data: Buffer }> {
  const parts: Array<{ name?: string; filename?: string; contentType?: string; data: Buffer }> = [];
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delim, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2);
    const sep = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, sep).toString('utf8');
    const name = /\bname="([^"]*)"/i.exec(head)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(head)?.[1];
    const contentType = /^content-type:\s*(.+)$/im.exec(head)?.[1]?.trim();
    parts.push({ ...(name !== undefined ? { name } : {}), ...(filename !== undefined ? { filename } : {}), ...(contentType ? { contentType } : {}), data: Buffer.from(part.subarray(sep + 4)) });
    pos = next;
  }
  return parts;
}

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('aborted')));
  });
}

export function writeJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  if (status === 204) {
    res.writeHead(204, headers);
    return void res.end();
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function writeText(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

function matches(m: RouteMatch | undefined, c: { method: string; route: string; op: string; path: string }): boolean {
  if (m === undefined || m === '*') return true;
  if (typeof m === 'function') return m(c);
  if (m === c.method || m === c.op || m === c.route || m === c.path) return true;
  const tpl = c.route.slice(c.route.indexOf(' ') + 1);
  return m === tpl || m === `${c.method} ${c.path}`;
}

function take<T extends Injection>(list: T[], c: { method: string; route: string; op: string; path: string }): T | undefined {
  const i = list.findIndex((f) => matches(f.match, c));
  if (i < 0) return undefined;
  const f = list[i];
  f.n -= 1;
  if (f.n <= 0) list.splice(i, 1);
  return f;
}

const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

export function createRest(deps: RestDeps) {
  const { state, gateway } = deps;
  const failures: Array<Injection & { spec: FailSpec }> = [];
  const drops: Injection[] = [];
  const losses: Injection[] = [];
  const delays: Array<Injection & { ms: number }> = [];
  const buckets = new Map<string, { count: number; resetAt: number }>();
  const timers = new Set<NodeJS.Timeout>();
  const botId = state.botUser.id;
  const stats = gateway.stats;

  const sleep = (ms: number): Promise<void> =>
    new Promise((r) => {
      const t = setTimeout(() => {
        timers.delete(t);
        r();
      }, ms);
      timers.add(t);
    });

  // --- helpers -----------------------------------------------------------------------------

  function channelOr404(id: string): ChannelRecord {
    const c = state.channels.get(id);
    if (!c) throw ERRORS.unknownChannel();
    return c;
  }

  function dispatchEcho(t: string, m: StoredMessage): void {
    if (!deps.echoOwnMessages || m.view.ephemeral) return;
    if (t === 'MESSAGE_DELETE') {
      gateway.dispatch(t, { id: m.view.id, channel_id: m.view.channelId, ...(m.view.guildId ? { guild_id: m.view.guildId } : {}) });
      return;
    }
    gateway.dispatch(t, state.apiMessage(m, { gateway: true }));
  }

  function notePings(m: StoredMessage, route: string, via: 'create' | 'edit'): void {
    if (!m.view.pinged.length) return;
    deps.mentionsPinged.push({ channelId: m.view.channelId, messageId: m.view.id, route, via, content: m.view.content, ...(m.view.allowedMentions !== undefined ? { allowedMentions: m.view.allowedMentions } : {}), pinged: m.view.pinged, at: Date.now() });
  }

  /**
   * Parses the mentions of the message's current content and returns who they reach. A creation
   * also notifies the replied author (replied_user); an edit never does. Ephemeral answers notify
   * nobody but the one user who sees them.
   */
  function computeMentions(m: StoredMessage, allowedMentions: unknown, creation: boolean): Ping[] {
    const repliedAuthor = creation && m.view.messageReference ? state.findMessageAnywhere(m.view.messageReference.messageId)?.view.authorId : undefined;
    const pinged = m.view.ephemeral ? [] : pingsOf(m.view.content, allowedMentions, { botId, ...(repliedAuthor ? { repliedAuthor } : {}) });
    m.mentions = [...new Set(pinged.filter((p) => p.kind === 'user' || p.kind === 'replied_user').map((p) => String(p.id)))];
    m.mentionRoles = pinged.filter((p) => p.kind === 'role').map((p) => String(p.id));
    m.mentionEveryone = pinged.some((p) => p.kind === 'everyone' || p.kind === 'here');
    return pinged;
  }

  /** files[n] parts matched to payload attachments [{id: n, filename, description}]. */
  function attachmentsFrom(channelId: string, body: Json, files: RestCall['files']): VisibleAttachment[] {
    const declared = Array.isArray(body.attachments) ? (body.attachments as Json[]) : [];
    const out: VisibleAttachment[] = [];
    files.forEach((f, index) => {
      if (f.size > deps.maxFileBytes) throw ERRORS.tooLarge();
      const n = /^files\[(\d+)\]$/.exec(f.field)?.[1] ?? String(index);
      const d = declared.find((a) => String(a.id) === n);
      out.push(state.addFile(channelId, f.data, typeof d?.filename === 'string' ? d.filename : f.filename, f.contentType, typeof d?.description === 'string' ? d.description : undefined));
    });
    return out;
  }

  function resolveReference(channelId: string, body: Json): StoredMessage['view']['messageReference'] | undefined {
    const ref = body.message_reference;
    if (!isObj(ref) || ref.type === 1) return undefined;
    const id = String(ref.message_id ?? '');
    const target = state.findMessage(channelId, id);
    if (!target || (ref.channel_id !== undefined && String(ref.channel_id) !== channelId)) {
      if (ref.fail_if_not_exists === false) return undefined;
      const e = new FormErrors();
      e.add(['message_reference'], 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', 'Unknown message');
      e.fail();
    }
    return { messageId: id, channelId, ...(target?.view.guildId ? { guildId: target.view.guildId } : {}) };
  }

  interface CreateOpts {
    route: string;
    interaction?: InteractionRecord;
    original?: boolean;
    ephemeral?: boolean;
    loading?: boolean;
    webhook?: boolean;
  }

  function createBotMessage(channelId: string, body: Json, files: RestCall['files'], o: CreateOpts): StoredMessage {
    const ch = state.channels.get(channelId);
    checkMessageBody(body, { fileCount: files.length, allowEmpty: o.loading === true });
    const messageReference = resolveReference(channelId, body);
    const flagsIn = typeof body.flags === 'number' ? body.flags : 0;
    const ephemeral = o.ephemeral ?? (o.interaction ? (flagsIn & 64) !== 0 : false);
    const flags = (flagsIn & (4 | 4096 | 32768)) | (ephemeral ? 64 : 0) | (o.loading ? 128 : 0);
    const it = o.interaction;
    const commandType = it ? Number(((it.payload.data ?? {}) as Json).type ?? 1) : 0;
    const m: StoredMessage = {
      view: {
        id: state.ids.next(),
        channelId,
        ...(ch?.guildId ? { guildId: ch.guildId } : {}),
        fromBot: true,
        authorId: botId,
        author: state.botUser.username,
        content: typeof body.content === 'string' ? body.content : '',
        embeds: Array.isArray(body.embeds) ? (body.embeds as Json[]) : [],
        components: Array.isArray(body.components) ? (body.components as Json[]) : [],
        attachments: attachmentsFrom(channelId, body, files),
        type: messageReference ? 19 : it && it.type === 2 ? (commandType === 1 ? 20 : 23) : 0,
        flags,
        ...(messageReference ? { replyTo: messageReference.messageId, messageReference } : {}),
        ephemeral,
        ...(ephemeral && it?.userId ? { visibleTo: it.userId } : {}),
        ...(it ? { interaction: { id: it.id, type: it.type, ...(it.name ? { name: it.name } : {}), ...(it.customId ? { customId: it.customId } : {}), userId: it.userId ?? '', original: o.original === true } } : {}),
        loading: o.loading === true,
        pinged: [],
        ...(body.allowed_mentions !== undefined ? { allowedMentions: body.allowed_mentions } : {}),
        reactions: [],
        edits: 0,
        createdAt: Date.now(),
        ...(o.webhook ? { webhookId: state.applicationId } : {}),
        ...(typeof body.nonce === 'string' || typeof body.nonce === 'number' ? { nonce: body.nonce } : {}),
      },
      mentions: [],
      mentionRoles: [],
      mentionEveryone: false,
      tts: body.tts === true,
      ...(it ? { applicationId: state.applicationId, interactionMetadata: { id: it.id, type: it.type, user: state.apiUser(it.userId ?? botId), authorizing_integration_owners: it.guildId ? { 0: it.guildId } : { 1: it.userId }, ...(it.name ? { name: it.name, command_type: commandType } : {}), ...(o.original ? {} : { original_response_message_id: it.originalMessageId }), ...(it.messageId ? { interacted_message_id: it.messageId } : {}) } } : {}),
      ...(ch?.thread ? { position: state.messages.get(channelId)?.length ?? 0 } : {}),
    };
    if (!o.loading) m.view.pinged = computeMentions(m, body.allowed_mentions, true);
    state.addMessage(m);
    if (!o.loading) notePings(m, o.route, 'create');
    dispatchEcho('MESSAGE_CREATE', m);
    return m;
  }

  function editBotMessage(m: StoredMessage, body: Json, files: RestCall['files'], route: string): StoredMessage {
    if (m.view.authorId !== botId) throw ERRORS.cannotEditOthers();
    checkMessageBody(body, { fileCount: files.length, allowEmpty: true });
    const wasLoading = m.view.loading;
    const v = m.view;
    const next = {
      content: body.content === undefined ? v.content : typeof body.content === 'string' ? body.content : '',
      embeds: body.embeds === undefined ? v.embeds : Array.isArray(body.embeds) ? (body.embeds as Json[]) : [],
      components: body.components === undefined ? v.components : Array.isArray(body.components) ? (body.components as Json[]) : [],
      attachments: body.attachments === undefined ? v.attachments : v.attachments.filter((a) => (body.attachments as Json[]).some((x) => String(x.id) === a.id)),
    };
    next.attachments = [...next.attachments, ...attachmentsFrom(v.channelId, body, files)];
    if (!next.content.trim() && !next.embeds.length && !next.components.length && !next.attachments.length) throw ERRORS.emptyMessage();
    Object.assign(v, next);
    if (typeof body.flags === 'number') v.flags = (v.flags & ~4) | (body.flags & 4);
    if (body.allowed_mentions !== undefined) v.allowedMentions = body.allowed_mentions;
    if (wasLoading) {
      v.loading = false;
      v.flags &= ~128;
    } else {
      v.edits += 1;
      v.editedAt = Date.now();
    }
    // Discord does not keep allowed_mentions with a message: an edit without it parses everything
    // again (discord.js re-sends the client-wide allowedMentions on edits of its own messages).
    // Filling a deferred "thinking" original is the answer's creation; a later edit notifies
    // nobody on Discord but renders the new mentions live, so it is recorded as via 'edit'.
    const pinged = computeMentions(m, body.allowed_mentions, wasLoading);
    if (wasLoading) {
      v.pinged = pinged;
      notePings(m, route, 'create');
    } else {
      const before = new Set(v.pinged.map((p) => `${p.kind}:${p.id ?? ''}`));
      const fresh = pinged.filter((p) => !before.has(`${p.kind}:${p.id ?? ''}`));
      if (fresh.length) deps.mentionsPinged.push({ channelId: v.channelId, messageId: v.id, route, via: 'edit', content: v.content, ...(body.allowed_mentions !== undefined ? { allowedMentions: body.allowed_mentions } : {}), pinged: fresh, at: Date.now() });
    }
    dispatchEcho('MESSAGE_UPDATE', m);
    return m;
  }

  // --- interactions ------------------------------------------------------------------------

  function interactionFor(appId: string, token: string): InteractionRecord {
    const it = state.interactionByToken(token);
    if (!it || appId !== state.applicationId) throw ERRORS.unknownWebhook();
    if (Date.now() - it.createdAt > deps.interactionTokenTtlMs) {
      it.expired = true;
      throw ERRORS.invalidWebhookToken();
    }
    if (!it.response) throw ERRORS.unknownWebhook();
    return it;
  }

  function originalOf(it: InteractionRecord): StoredMessage {
    const m = it.originalMessageId && it.channelId ? state.findMessage(it.channelId, it.originalMessageId) : undefined;
    if (!m) throw ERRORS.unknownMessage();
    return m;
  }

  /**
   * Applies an interaction response (from the REST callback or an HTTP endpoint's answer) and
   * returns the message it created or changed. Throws Discord's errors.
   */
  function applyCallback(it: InteractionRecord, body: Json, files: RestCall['files'], via: 'rest' | 'http', route: string): StoredMessage | undefined {
    const now = Date.now();
    if (it.response) throw ERRORS.alreadyAcknowledged();
    if (it.failed || now - it.createdAt > deps.interactionDeadlineMs) {
      it.failed ??= 'deadline';
      throw ERRORS.unknownInteraction();
    }
    const type = Number(body.type);
    const data = isObj(body.data) ? body.data : {};
    const allowed: Record<number, number[]> = { 1: [1], 2: [4, 5, 9], 3: [4, 5, 6, 7, 9], 4: [8], 5: [4, 5, 6, 7] };
    if (!(allowed[it.type] ?? []).includes(type)) {
      const e = new FormErrors();
      e.add(['type'], 'INTERACTION_CALLBACK_TYPE_INVALID', `Interaction callback type ${Number.isFinite(type) ? type : String(body.type)} is not valid for interaction type ${it.type}`);
      e.fail();
    }
    const channelId = it.channelId;
    let message: StoredMessage | undefined;
    if ((type === 4 || type === 5) && channelId) {
      message = createBotMessage(channelId, data, files, { route, interaction: it, original: true, loading: type === 5, ephemeral: ((Number(data.flags) || 0) & 64) !== 0 });
      it.originalMessageId = message.view.id;
    } else if ((type === 6 || type === 7) && it.messageId && channelId) {
      const target = state.findMessage(channelId, it.messageId);
      if (!target) throw ERRORS.unknownMessage();
      it.originalMessageId = target.view.id;
      if (type === 7) message = editBotMessage(target, data, files, route);
      else message = target;
    }
    const flags = Number(data.flags) || 0;
    it.response = { type, flags, ephemeral: (flags & 64) !== 0 || (message?.view.ephemeral ?? false), via, at: now, ms: now - it.createdAt };
    return message;
  }

  function callback(ctx: Ctx): Answer {
    const [id, token] = ctx.params;
    const it = state.interactions.get(id);
    ctx.call.interactionId = id;
    if (!it || it.token !== token) throw ERRORS.unknownInteraction();
    const body = isObj(ctx.body) ? ctx.body : {};
    try {
      const m = applyCallback(it, body, ctx.files, 'rest', ctx.call.route);
      it.callbacks.push({ type: Number(body.type), status: 200, via: 'rest', at: Date.now() });
      if (m) {
        ctx.call.channelId = m.view.channelId;
        ctx.call.messageId = m.view.id;
      }
      if (ctx.query.get('with_response') !== 'true') return { status: 204 };
      return {
        status: 200,
        body: {
          interaction: { id: it.id, type: it.type, response_message_id: m?.view.id, response_message_loading: m?.view.loading ?? false, response_message_ephemeral: m?.view.ephemeral ?? false },
          resource: { type: Number(body.type), ...(m ? { message: state.apiMessage(m) } : {}) },
        },
      };
    } catch (err) {
      if (err instanceof ApiError) it.callbacks.push({ type: Number(body.type), status: err.status, via: 'rest', at: Date.now() });
      throw err;
    }
  }

  function followup(ctx: Ctx): Answer {
    const [appId, token] = ctx.params;
    const it = interactionFor(appId, token);
    ctx.call.interactionId = it.id;
    const body = isObj(ctx.body) ? ctx.body : {};
    const original = it.originalMessageId && it.channelId ? state.findMessage(it.channelId, it.originalMessageId) : undefined;
    let m: StoredMessage;
    if (original?.view.loading) {
      // Right after a deferred answer, the first follow-up fills the "thinking" original instead
      // (Discord keeps this for backwards compatibility); its ephemeral flag is the defer's.
      m = editBotMessage(original, body, ctx.files, ctx.call.route);
    } else {
      if (!it.channelId) throw ERRORS.unknownChannel();
      m = createBotMessage(it.channelId, body, ctx.files, { route: ctx.call.route, interaction: it, webhook: true });
      it.followups.push(m.view.id);
    }
    ctx.call.channelId = m.view.channelId;
    ctx.call.messageId = m.view.id;
    return ctx.query.get('wait') === 'true' ? { status: 200, body: state.apiMessage(m) } : { status: 204 };
  }

  function webhookMessage(ctx: Ctx, action: 'get' | 'edit' | 'delete'): Answer {
    const [appId, token, which] = ctx.params;
    const it = interactionFor(appId, token);
    ctx.call.interactionId = it.id;
    let m: StoredMessage;
    if (which === '@original') m = originalOf(it);
    else {
      const found = it.channelId ? state.findMessage(it.channelId, which) : undefined;
      if (!found || (!it.followups.includes(which) && which !== it.originalMessageId)) throw ERRORS.unknownMessage();
      m = found;
    }
    ctx.call.channelId = m.view.channelId;
    ctx.call.messageId = m.view.id;
    if (action === 'get') return { status: 200, body: state.apiMessage(m) };
    if (action === 'delete') {
      state.removeMessage(m.view.channelId, m.view.id);
      dispatchEcho('MESSAGE_DELETE', m);
      return { status: 204 };
    }
    return { status: 200, body: state.apiMessage(editBotMessage(m, isObj(ctx.body) ? ctx.body : {}, ctx.files, ctx.call.route)) };
  }

  // --- commands ------------------------------------------------------------------------------

  function appOr404(appId: string): void {
    if (appId !== state.applicationId) throw apiError(403, 50001, 'Missing Access');
  }

  function guildScope(guildId: string | undefined): string | undefined {
    if (guildId !== undefined && !state.guilds.has(guildId)) throw apiError(403, 50001, 'Missing Access');
    return guildId;
  }

  function makeCommand(input: Json, guildId: string | undefined, existing?: ApplicationCommand): ApplicationCommand {
    const type = input.type === undefined ? 1 : Number(input.type);
    return {
      id: existing?.id ?? state.ids.next(),
      application_id: state.applicationId,
      version: state.ids.next(),
      default_member_permissions: input.default_member_permissions === undefined ? null : input.default_member_permissions,
      type,
      name: String(input.name),
      ...(input.name_localizations ? { name_localizations: input.name_localizations } : {}),
      description: typeof input.description === 'string' ? input.description : '',
      ...(input.description_localizations ? { description_localizations: input.description_localizations } : {}),
      ...(Array.isArray(input.options) && input.options.length ? { options: input.options as Json[] } : {}),
      dm_permission: input.dm_permission ?? true,
      contexts: input.contexts ?? null,
      integration_types: input.integration_types ?? [0],
      nsfw: input.nsfw === true,
      ...(guildId ? { guild_id: guildId } : {}),
    };
  }

  function commandRoutes(prefix: string, guildOf: (p: string[]) => string | undefined, suffix: string): Route[] {
    const scopeName = (p: string[]): string => guildOf(p) ?? 'global';
    const list = (p: string[]): ApplicationCommand[] => {
      appOr404(p[0]);
      return state.commandScope(guildScope(guildOf(p)));
    };
    const idIndex = prefix.includes('/guilds/') ? 2 : 1;
    return [
      route('GET', `${prefix}/commands`, `list${suffix}Commands`, true, (c) => ({ status: 200, body: list(c.params) })),
      route('POST', `${prefix}/commands`, `create${suffix}Command`, true, (c) => {
        const l = list(c.params);
        const input = isObj(c.body) ? c.body : {};
        checkCommand(input);
        const type = input.type === undefined ? 1 : Number(input.type);
        const i = l.findIndex((x) => x.name === input.name && x.type === type);
        if (i < 0 && l.filter((x) => x.type === type).length >= (type === 1 ? 100 : 5)) throw ERRORS.maxCommands();
        const cmd = makeCommand(input, guildOf(c.params), i >= 0 ? l[i] : undefined);
        if (i >= 0) l[i] = cmd;
        else l.push(cmd);
        return { status: i >= 0 ? 200 : 201, body: cmd };
      }),
      route('PUT', `${prefix}/commands`, `bulkOverwrite${suffix}Commands`, true, (c) => {
        const l = list(c.params);
        if (!Array.isArray(c.body)) {
          const e = new FormErrors();
          e.add([], 'ARRAY_TYPE_CONVERT', 'Only iterables may be used in a ListType');
          e.fail();
        }
        const input = (c.body as unknown[]).map((x) => (isObj(x) ? x : {}));
        const errs = new FormErrors();
        input.forEach((x, i) => checkCommand(x, [i], errs, false));
        errs.fail();
        const next = input.map((x) => makeCommand(x, guildOf(c.params), l.find((e) => e.name === x.name && e.type === (x.type === undefined ? 1 : Number(x.type)))));
        const before = l.map((x) => x.name);
        const after = next.map((x) => x.name);
        deps.commandOverwrites.push({ scope: scopeName(c.params), before, after, removed: before.filter((n) => !after.includes(n)), at: Date.now() });
        l.splice(0, l.length, ...next);
        return { status: 200, body: next };
      }),
      route('GET', `${prefix}/commands/:id`, `get${suffix}Command`, true, (c) => {
        const cmd = list(c.params).find((x) => x.id === c.params[idIndex]);
        if (!cmd) throw ERRORS.unknownCommand();
        return { status: 200, body: cmd };
      }),
      route('PATCH', `${prefix}/commands/:id`, `edit${suffix}Command`, true, (c) => {
        const l = list(c.params);
        const i = l.findIndex((x) => x.id === c.params[idIndex]);
        if (i < 0) throw ERRORS.unknownCommand();
        const merged = { ...l[i], ...(isObj(c.body) ? c.body : {}) } as Json;
        checkCommand(merged);
        l[i] = makeCommand(merged, guildOf(c.params), l[i]);
        return { status: 200, body: l[i] };
      }),
      route('DELETE', `${prefix}/commands/:id`, `delete${suffix}Command`, true, (c) => {
        const l = list(c.params);
        const i = l.findIndex((x) => x.id === c.params[idIndex]);
        if (i < 0) throw ERRORS.unknownCommand();
        l.splice(i, 1);
        return { status: 204 };
      }),
    ];
  }

  // --- the route table -----------------------------------------------------------------------

  function route(method: string, template: string, op: string, auth: boolean, handler: Handler, major?: (p: string[]) => string): Route {
    return { method, template, op, re: compile(template), auth, handler, ...(major ? { major } : {}) };
  }

  const byChannel = (p: string[]): string => p[0];
  const byWebhook = (p: string[]): string => `${p[0]}/${p[1]}`;

  const application = (): Json => ({
    id: state.applicationId,
    name: state.botUser.username,
    icon: null,
    description: '',
    summary: '',
    type: null,
    is_monetized: false,
    is_verified: false,
    is_discoverable: false,
    hook: true,
    storefront_available: false,
    bot_public: true,
    bot_require_code_grant: false,
    verify_key: deps.publicKeyHex,
    flags: deps.applicationFlags(),
    owner: state.apiUser([...state.users.values()].find((u) => !u.bot)?.id ?? botId),
    team: null,
    bot: state.apiUser(botId),
    approximate_guild_count: state.guilds.size,
    approximate_user_install_count: 0,
    redirect_uris: [],
    interactions_endpoint_url: null,
    role_connections_verification_url: null,
    event_webhooks_url: null,
    event_webhooks_status: 1,
    integration_types_config: { 0: {} },
  });

  const routes: Route[] = [
    route('GET', '/gateway', 'getGateway', false, () => ({ status: 200, body: { url: gateway.gatewayUrl() } })),
    route('GET', '/gateway/bot', 'getGatewayBot', true, () => ({
      status: 200,
      body: { url: gateway.gatewayUrl(), shards: 1, session_start_limit: { total: 1000, remaining: Math.max(0, 1000 - stats.identifies), reset_after: 86_400_000, max_concurrency: 1 } },
    })),
    route('GET', '/users/@me', 'getCurrentUser', true, () => ({ status: 200, body: { ...state.apiUser(botId), verified: true, mfa_enabled: false, locale: 'en-US', email: null, flags: 0, banner: null, accent_color: null, bio: '' } })),
    route('GET', '/users/:id', 'getUser', true, (c) => {
      if (!state.users.has(c.params[0])) throw ERRORS.unknownUser();
      return { status: 200, body: state.apiUser(c.params[0]) };
    }),
    route('POST', '/users/@me/channels', 'createDM', true, (c) => {
      const rid = String((isObj(c.body) ? c.body : {}).recipient_id ?? '');
      if (!state.users.has(rid) || rid === botId) throw ERRORS.unknownUser();
      return { status: 200, body: state.apiChannel(state.dmWith(rid).id) };
    }),
    route('GET', '/applications/@me', 'getApplication', true, () => ({ status: 200, body: application() })),
    route('GET', '/oauth2/applications/@me', 'getOAuthApplication', true, () => ({ status: 200, body: application() })),
    route('GET', '/channels/:id', 'getChannel', true, (c) => ({ status: 200, body: state.apiChannel(channelOr404(c.params[0]).id) }), byChannel),
    route(
      'GET',
      '/channels/:id/messages',
      'listMessages',
      true,
      (c) => {
        channelOr404(c.params[0]);
        const limit = Math.min(Math.max(Number(c.query.get('limit') ?? 50) || 50, 1), 100);
        const list = state.channelMessages(c.params[0]).filter((m) => !m.view.ephemeral);
        return { status: 200, body: list.slice(-limit).reverse().map((m) => state.apiMessage(m)) };
      },
      byChannel,
    ),
    route(
      'POST',
      '/channels/:id/messages',
      'createMessage',
      true,
      (c) => {
        const ch = channelOr404(c.params[0]);
        if (!ch.botCanSend || ch.thread?.locked || ch.thread?.archived) throw ERRORS.missingPermissions();
        const body = isObj(c.body) ? c.body : {};
        if (body.enforce_nonce === true && (typeof body.nonce === 'string' || typeof body.nonce === 'number')) {
          // Discord returns the message the same author already created with this nonce in the last few minutes.
          const same = state.channelMessages(ch.id).find((m) => m.view.fromBot && m.view.nonce !== undefined && String(m.view.nonce) === String(body.nonce) && Date.now() - m.view.createdAt < NONCE_WINDOW_MS);
          if (same) {
            c.call.messageId = same.view.id;
            c.call.deduplicated = true;
            return { status: 200, body: state.apiMessage(same) };
          }
        }
        const m = createBotMessage(ch.id, body, c.files, { route: c.call.route });
        c.call.messageId = m.view.id;
        return { status: 200, body: state.apiMessage(m) };
      },
      byChannel,
    ),
    route(
      'GET',
      '/channels/:id/messages/:id',
      'getMessage',
      true,
      (c) => {
        channelOr404(c.params[0]);
        const m = state.findMessage(c.params[0], c.params[1]);
        if (!m || m.view.ephemeral) throw ERRORS.unknownMessage();
        return { status: 200, body: state.apiMessage(m) };
      },
      byChannel,
    ),
    route(
      'PATCH',
      '/channels/:id/messages/:id',
      'editMessage',
      true,
      (c) => {
        channelOr404(c.params[0]);
        const m = state.findMessage(c.params[0], c.params[1]);
        if (!m || m.view.ephemeral) throw ERRORS.unknownMessage();
        return { status: 200, body: state.apiMessage(editBotMessage(m, isObj(c.body) ? c.body : {}, c.files, c.call.route)) };
      },
      byChannel,
    ),
    route(
      'DELETE',
      '/channels/:id/messages/:id',
      'deleteMessage',
      true,
      (c) => {
        channelOr404(c.params[0]);
        const m = state.findMessage(c.params[0], c.params[1]);
        if (!m || m.view.ephemeral) throw ERRORS.unknownMessage();
        state.removeMessage(c.params[0], c.params[1]);
        dispatchEcho('MESSAGE_DELETE', m);
        return { status: 204 };
      },
      byChannel,
    ),
    route(
      'PUT',
      '/channels/:id/messages/:id/reactions/:reaction/@me',
      'addReaction',
      true,
      (c) => {
        channelOr404(c.params[0]);
        const m = state.findMessage(c.params[0], c.params[1]);
        if (!m) throw ERRORS.unknownMessage();
        const emoji = c.params[2];
        const r = m.view.reactions.find((x) => x.emoji === emoji);
        if (!r) m.view.reactions.push({ emoji, me: true, count: 1 });
        else if (!r.me) {
          r.me = true;
          r.count += 1;
        }
        return { status: 204 };
      },
      byChannel,
    ),
    route(
      'DELETE',
      '/channels/:id/messages/:id/reactions/:reaction/@me',
      'removeReaction',
      true,
      (c) => {
        const m = state.findMessage(c.params[0], c.params[1]);
        if (!m) throw ERRORS.unknownMessage();
        const r = m.view.reactions.find((x) => x.emoji === c.params[2] && x.me);
        if (r) {
          r.me = false;
          r.count -= 1;
          if (r.count <= 0) m.view.reactions.splice(m.view.reactions.indexOf(r), 1);
        }
        return { status: 204 };
      },
      byChannel,
    ),
    route(
      'POST',
      '/channels/:id/typing',
      'typing',
      true,
      (c) => {
        const ch = channelOr404(c.params[0]);
        if (!ch.botCanSend) throw ERRORS.missingPermissions();
        deps.typing.push({ channelId: ch.id, at: Date.now() });
        return { status: 204 };
      },
      byChannel,
    ),
    route(
      'POST',
      '/channels/:id/messages/:id/threads',
      'startThreadFromMessage',
      true,
      (c) => {
        const parent = channelOr404(c.params[0]);
        const starter = state.findMessage(parent.id, c.params[1]);
        if (!starter) throw ERRORS.unknownMessage();
        const thread = startThread(parent, isObj(c.body) ? c.body : {}, starter.view.id);
        return { status: 201, body: state.apiChannel(thread.id) };
      },
      byChannel,
    ),
    route(
      'POST',
      '/channels/:id/threads',
      'startThread',
      true,
      (c) => {
        const parent = channelOr404(c.params[0]);
        const body = isObj(c.body) ? c.body : {};
        const thread = startThread(parent, body);
        return { status: 201, body: state.apiChannel(thread.id) };
      },
      byChannel,
    ),
    route('GET', '/guilds/:id', 'getGuild', true, (c) => {
      if (!state.guilds.has(c.params[0])) throw ERRORS.unknownGuild();
      const g = state.apiGuildCreate(c.params[0], { withMembers: false, withPresences: false });
      for (const k of ['members', 'channels', 'threads', 'presences', 'voice_states', 'joined_at', 'large', 'member_count', 'lazy', 'unavailable']) delete g[k];
      return { status: 200, body: g };
    }, (p) => p[0]),
    route('GET', '/guilds/:id/members/:id', 'getMember', true, (c) => {
      const g = state.guilds.get(c.params[0]);
      if (!g) throw ERRORS.unknownGuild();
      if (!g.members.has(c.params[1])) throw apiError(404, 10007, 'Unknown Member');
      return { status: 200, body: state.apiMember(g.id, c.params[1], true) };
    }, (p) => p[0]),
    ...commandRoutes('/applications/:id/guilds/:id', (p) => p[1], 'Guild'),
    ...commandRoutes('/applications/:id', () => undefined, ''),
    route('POST', '/interactions/:id/:token/callback', 'interactionCallback', false, callback),
    route('POST', '/webhooks/:id/:token', 'followup', false, followup, byWebhook),
    route('GET', '/webhooks/:id/:token/messages/@original', 'getOriginal', false, (c) => webhookMessage({ ...c, params: [...c.params, '@original'] }, 'get'), byWebhook),
    route('PATCH', '/webhooks/:id/:token/messages/@original', 'editOriginal', false, (c) => webhookMessage({ ...c, params: [...c.params, '@original'] }, 'edit'), byWebhook),
    route('DELETE', '/webhooks/:id/:token/messages/@original', 'deleteOriginal', false, (c) => webhookMessage({ ...c, params: [...c.params, '@original'] }, 'delete'), byWebhook),
    route('GET', '/webhooks/:id/:token/messages/:id', 'getFollowup', false, (c) => webhookMessage(c, 'get'), byWebhook),
    route('PATCH', '/webhooks/:id/:token/messages/:id', 'editFollowup', false, (c) => webhookMessage(c, 'edit'), byWebhook),
    route('DELETE', '/webhooks/:id/:token/messages/:id', 'deleteFollowup', false, (c) => webhookMessage(c, 'delete'), byWebhook),
  ];

  function startThread(parent: ChannelRecord, body: Json, starterId?: string): ChannelRecord {
    if (!parent.guildId || parent.thread) throw apiError(400, 50024, 'Cannot execute action on this channel type');
    const name = body.name;
    if (typeof name !== 'string' || name.length < 1 || name.length > 100) {
      const e = new FormErrors();
      e.add(['name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      e.fail();
    }
    const type = starterId ? 11 : Number(body.type ?? 12);
    const thread = state.addChannel({
      ...(starterId ? { id: starterId } : {}),
      type,
      name: String(name),
      guildId: parent.guildId,
      parentId: parent.id,
      thread: { ownerId: botId, archived: false, locked: false, autoArchiveDuration: Number(body.auto_archive_duration ?? 1440), createdAt: Date.now() },
    });
    gateway.dispatch('THREAD_CREATE', { ...state.apiChannel(thread.id), newly_created: true });
    return thread;
  }

  // --- the request pipeline ------------------------------------------------------------------

  function bucketFor(r: Route, params: string[]): { key: string; hash: string } {
    const major = r.major ? r.major(params) : 'global';
    const hash = createHash('sha1').update(`${r.method} ${r.template}`).digest('hex').slice(0, 32);
    return { key: `${hash}:${major}`, hash };
  }

  function rateHeaders(key: string, hash: string, consume: boolean): { headers: Record<string, string>; exhausted: boolean; retryAfter: number } {
    const cfg = deps.rateLimit || { limit: 50, windowMs: 1000 };
    const now = Date.now();
    let b = buckets.get(key);
    if (!b || now >= b.resetAt) {
      b = { count: 0, resetAt: now + cfg.windowMs };
      buckets.set(key, b);
    }
    const exhausted = deps.rateLimit !== false && consume && b.count >= cfg.limit;
    if (consume && !exhausted) b.count += 1;
    const resetAfter = Math.max(0, b.resetAt - now) / 1000;
    return {
      exhausted,
      retryAfter: resetAfter,
      headers: {
        'x-ratelimit-limit': String(cfg.limit),
        'x-ratelimit-remaining': String(Math.max(0, cfg.limit - b.count)),
        'x-ratelimit-reset': (b.resetAt / 1000).toFixed(3),
        'x-ratelimit-reset-after': resetAfter.toFixed(3),
        'x-ratelimit-bucket': hash,
      },
    };
  }

  function authOf(req: http.IncomingMessage): RestCall['auth'] {
    const h = req.headers.authorization;
    if (!h) return 'none';
    return h === `Bot ${deps.token}` && deps.restTokenOk() ? 'bot' : 'other';
  }

  async function parseBody(req: http.IncomingMessage): Promise<{ body: Json | unknown[] | undefined; files: RestCall['files'] }> {
    const raw = await readBody(req);
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    if (raw.length === 0) return { body: undefined, files: [] };
    if (type.startsWith('multipart/form-data')) {
      const boundary = /boundary=("?)([^";]+)\1/i.exec(String(req.headers['content-type']))?.[2] ?? '';
      const files: RestCall['files'] = [];
      let body: Json = {};
      for (const p of parseMultipart(raw, boundary)) {
        if (p.name === 'payload_json') body = JSON.parse(p.data.toString('utf8')) as Json;
        else if (p.filename !== undefined) files.push({ field: p.name ?? '', filename: p.filename, size: p.data.length, ...(p.contentType ? { contentType: p.contentType } : {}), data: p.data });
        else if (p.name) body[p.name] = p.data.toString('utf8');
      }
      return { body, files };
    }
    return { body: JSON.parse(raw.toString('utf8')) as Json, files: [] };
  }

  function answerFailure(res: http.ServerResponse, call: RestCall, spec: FailSpec, headers: Record<string, string>): void {
    const status = spec.status ?? 500;
    call.status = status;
    call.outcome = 'error';
    if (status === 401 || status === 403 || status === 429) stats.invalidRequests += 1;
    if (status === 429) {
      const retryAfter = spec.retryAfter ?? 1;
      stats.rateLimited += 1;
      call.rateLimited = 'injected';
      const body = spec.body ?? { message: 'You are being rate limited.', retry_after: retryAfter, global: spec.global === true, ...(spec.global ? { code: 0 } : {}) };
      call.error = isObj(body) ? body : { body };
      deps.record(call);
      return writeJson(res, 429, body, { ...headers, 'retry-after': String(retryAfter), 'x-ratelimit-scope': spec.global ? 'global' : 'user', ...(spec.global ? { 'x-ratelimit-global': 'true' } : {}) });
    }
    if (status >= 500) {
      call.error = { status };
      deps.record(call);
      if (spec.body !== undefined && typeof spec.body !== 'string') return writeJson(res, status, spec.body, headers);
      return writeText(res, status, typeof spec.body === 'string' ? spec.body : HTML_5XX(status), 'text/html; charset=UTF-8', headers);
    }
    const body = spec.body ?? { message: spec.message ?? (status === 401 ? '401: Unauthorized' : status === 404 ? 'Unknown Message' : 'Missing Permissions'), code: spec.code ?? (status === 401 ? 0 : status === 404 ? 10008 : 50013) };
    call.error = isObj(body) ? body : { body };
    deps.record(call);
    writeJson(res, status, body, headers);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const versioned = /^\/api\/v(\d+)(\/.*)$/.exec(url.pathname);
    const rawPath = versioned ? versioned[2] : url.pathname.replace(/^\/api/, '');
    const path = rawPath
      .split('/')
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      })
      .join('/');
    const candidates = routes.filter((r) => r.re.test(path));
    const r = candidates.find((x) => x.method === method);
    const params = r ? (r.re.exec(path)?.slice(1) ?? []) : [];
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const call: RestCall = {
      method,
      route: r ? `${method} ${r.template}` : `${method} ?`,
      op: r?.op ?? 'unknown',
      path,
      query,
      body: undefined,
      files: [],
      auth: authOf(req),
      outcome: 'ok',
      status: 0,
      at: Date.now(),
      ...(r?.major === byChannel && params[0] ? { channelId: params[0] } : {}),
      ...(r && /\/messages\/:id/.test(r.template) && r.template.startsWith('/channels') ? { messageId: params[1] } : {}),
    };
    stats.restCalls += 1;
    const matchInfo = { method, route: call.route, op: call.op, path };
    const bucket = r ? bucketFor(r, params) : { key: 'unknown', hash: 'unknown' };

    let parsed: Awaited<ReturnType<typeof parseBody>>;
    try {
      parsed = await parseBody(req);
    } catch {
      call.outcome = 'error';
      call.status = 400;
      call.error = { code: 50109, message: 'The request body contains invalid JSON.' };
      deps.record(call);
      return writeJson(res, 400, call.error, rateHeaders(bucket.key, bucket.hash, false).headers);
    }
    call.body = parsed.body;
    call.files = parsed.files;

    const drop = take(drops, matchInfo);
    if (drop) {
      call.outcome = 'dropped';
      deps.record(call);
      cut(req, drop.reset);
      return;
    }
    const noConsume = !r || r.op === 'interactionCallback';
    const failure = take(failures, matchInfo);
    if (failure) return answerFailure(res, call, failure.spec, rateHeaders(bucket.key, bucket.hash, false).headers);
    const delay = take(delays, matchInfo);
    if (delay) await sleep(delay.ms);

    const fail = (err: ApiError, headers: Record<string, string> = {}): void => {
      call.outcome = 'error';
      call.status = err.status;
      call.error = err.body;
      if (err.status === 401 || err.status === 403 || err.status === 429) stats.invalidRequests += 1;
      deps.record(call);
      writeJson(res, err.status, err.body, headers);
    };

    if (!r) return fail(candidates.length ? ERRORS.methodNotAllowed() : ERRORS.notFound(), rateHeaders(bucket.key, bucket.hash, false).headers);
    if (r.auth && call.auth !== 'bot') return fail(ERRORS.unauthorized(), rateHeaders(bucket.key, bucket.hash, false).headers);
    const rl = rateHeaders(bucket.key, bucket.hash, !noConsume);
    if (rl.exhausted) {
      const retryAfter = Math.round(rl.retryAfter * 1000) / 1000;
      stats.rateLimited += 1;
      call.rateLimited = 'bucket';
      return fail(new ApiError(429, { message: 'You are being rate limited.', retry_after: retryAfter, global: false }), { ...rl.headers, 'retry-after': String(Math.max(1, Math.ceil(rl.retryAfter))), 'x-ratelimit-scope': 'user' });
    }

    let answer: Answer;
    try {
      answer = r.handler({ method, path, params, query: url.searchParams, body: parsed.body, files: parsed.files, call });
    } catch (err) {
      if (err instanceof ApiError) return fail(err, rl.headers);
      throw err;
    }
    call.status = answer.status;
    call.response = answer.body;
    const loss = take(losses, matchInfo);
    if (loss) {
      call.outcome = 'lost';
      deps.record(call);
      cut(req, loss.reset);
      return;
    }
    deps.record(call);
    writeJson(res, answer.status, answer.body, rl.headers);
  }

  return {
    handle,
    applyCallback,
    createBotMessage,
    editBotMessage,
    inject: {
      failNext: (match: RouteMatch, n: number, spec: FailSpec) => void failures.push({ match, n, spec }),
      dropConnections: (n: number, match?: RouteMatch, o: { reset?: boolean } = {}) => void drops.push({ n, ...(match ? { match } : {}), ...(o.reset ? { reset: true } : {}) }),
      loseResponses: (n: number, match?: RouteMatch, o: { reset?: boolean } = {}) => void losses.push({ n, ...(match ? { match } : {}), ...(o.reset ? { reset: true } : {}) }),
      delayNext: (match: RouteMatch, n: number, ms: number) => void delays.push({ match, n, ms }),
      reset: () => {
        failures.length = 0;
        drops.length = 0;
        losses.length = 0;
        delays.length = 0;
      },
    },
    close: () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

export type Rest = ReturnType<typeof createRest>;
