/**
 * A fake Slack over real HTTP and WebSocket on 127.0.0.1, for the real @slack/bolt, @slack/web-api
 * and @slack/socket-mode to talk to through `clientOptions: { slackApiUrl: slack.apiUrl }`. It
 * answers like Slack where our nodes depend on it: the Web API (form and JSON bodies, bearer or
 * form token, HTTP 200 `{ok:false,error}` answers, 429 with Retry-After, missing_scope with
 * needed/provided), Slack's limits (40,000 chars on post, 4,000 bytes on update, 3,000 per
 * section), native streaming, the assistant surface, the three-step file upload, files behind the
 * bot token, Socket Mode (hello, envelopes to one socket, acks, redelivery on timeout,
 * disconnect frames) and the signed HTTP Events API.
 *
 * Tests build inbound traffic with `slack.make.*`, deliver it (`deliver` over Socket Mode,
 * `postEvent` over HTTP), read back every call the bot made (`sent`) and what the users see
 * (`channel(id)`, `thread(channel, ts)`), check mrkdwn (`mrkdwnErrors`), and inject failures
 * (`inject.*`). Everything is bounded: close() ends every socket and timer.
 *
 * The parts live in ./slack/: web-api.ts and files.ts (the methods), args.ts (argument and Block
 * Kit checks), socket-mode.ts, events.ts (builders, signer, poster), mrkdwn.ts (the checker and the
 * visible-text helper), state.ts (the workspace), http.ts, types.ts (the public types).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { bool, SlackApiError } from './slack/args';
import { createInbound, isInteractive, isSlashCommand, type EventBuilders, type Fixtures, type InteractivePayload, type SlackEvent, type SlashCommandPayload } from './slack/events';
import { HTML_5XX, LOGIN_PAGE, parseMultipart, readBody, writeJson, writeText } from './slack/http';
import { checkMrkdwn, type TextField } from './slack/mrkdwn';
import { createSocketMode, type SocketInfo } from './slack/socket-mode';
import { SlackState, type ChannelRecord, type ChannelType, type UserRecord } from './slack/state';
import type {
  AssistantThreadState,
  Delivery,
  EnvelopeType,
  EphemeralMessage,
  FailSpec,
  Json,
  MrkdwnError,
  Params,
  PostEventOptions,
  PostEventResult,
  SignOptions,
  SlackCall,
  SlackFile,
  SlackInjector,
  SlackMessage,
  SlackServerOptions,
  SocketAck,
  SocketStats,
} from './slack/types';
import { createWebApi, DEFAULT_SCOPES, METHOD_ACCESS } from './slack/web-api';

export { checkMrkdwn, escapeMrkdwn, mrkdwnToText, blockTexts } from './slack/mrkdwn';
export type { MrkdwnFinding, MrkdwnCheckOptions, VisibleTextOptions } from './slack/mrkdwn';
export { slackSignature } from './slack/events';
export type { EventBuilders, Fixtures, MessageOptions, FileShareOptions, BotMessageOptions, SlashCommandOptions, BlockActionOptions, AssistantThreadOptions, SlackEvent, SlashCommandPayload, InteractivePayload } from './slack/events';
export type { SocketInfo } from './slack/socket-mode';
export type * from './slack/types';
export { DEFAULT_SCOPES } from './slack/web-api';

type Inbound = SlackEvent | SlashCommandPayload | InteractivePayload | Json;

export interface SlackServer {
  /** `http://127.0.0.1:PORT/api/`: the web client's `slackApiUrl`. */
  readonly apiUrl: string;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly baseUrl: string;
  readonly botToken: string;
  readonly appToken: string;
  readonly signingSecret: string;
  readonly team: { id: string; domain: string };
  readonly bot: { userId: string; botId: string; appId: string; name: string };
  /** The users and channels every emulator starts with. */
  readonly fixtures: Fixtures;
  readonly make: EventBuilders;

  /** The visible messages of a channel in ts order, thread replies included (each with thread_ts). */
  channel(id: string): SlackMessage[];
  /** A thread: its parent and its replies, in order. */
  thread(channel: string, ts: string): SlackMessage[];
  message(channel: string, ts: string): SlackMessage | undefined;
  /** Ephemeral messages (in one channel, or all). */
  ephemeral(channel?: string): EphemeralMessage[];
  /** The assistant state of a thread (status, title, suggested prompts), if any call or event set it. */
  assistantThread(channel: string, threadTs: string): AssistantThreadState | undefined;
  file(id: string): { file: SlackFile; data: Buffer } | undefined;
  /** Every request the bot made (see SlackCall.outcome). */
  readonly sent: SlackCall[];
  /** Every mrkdwn problem in the texts the bot posted or updated. */
  readonly mrkdwnErrors: MrkdwnError[];
  /** Downloads of url_private (authorized = the bot token came along and the bytes were served). */
  readonly downloads: Array<{ fileId: string; authorized: boolean; at: number }>;
  /** Resolves when a call matching `pred` has been recorded (earlier calls count). */
  waitFor(pred: (c: SlackCall) => boolean, ms?: number): Promise<SlackCall>;
  /** Resolves when a visible message in `channel` matches `pred` (polled; edits count). */
  waitForMessage(channel: string, pred: (m: SlackMessage) => boolean, ms?: number): Promise<SlackMessage>;
  addUser(u?: Partial<UserRecord>): UserRecord;
  addChannel(c?: Partial<ChannelRecord> & { type?: ChannelType }): ChannelRecord;

  /** Sends one event/command/action over Socket Mode to ONE open socket (round robin). Arrays (mention twins) give one Delivery each. */
  deliver(input: Inbound): Delivery;
  deliver(input: Inbound[]): Delivery[];
  readonly deliveries: Delivery[];
  /** Every ack frame received, for any envelope. */
  readonly acks: SocketAck[];
  readonly stats: SocketStats;
  sockets(): SocketInfo[];
  /** Resolves once `pred(stats)` holds, e.g. `s => s.openSockets === 1`. */
  waitForSockets(pred: (s: SocketStats) => boolean, ms?: number): Promise<SocketStats>;

  /** The event_callback body around an inner event (a new event_id each call unless given). */
  wrapEvent(event: SlackEvent, opts?: { eventId?: string; eventTime?: number }): Json;
  /** X-Slack-Signature and X-Slack-Request-Timestamp for a raw body. */
  signedRequest(body: string | Buffer, opts?: SignOptions): Record<string, string>;
  /** POSTs an event (JSON event_callback), a slash command or an interactive payload (form) to `url`, signed. */
  postEvent(url: string, input: Inbound, opts?: PostEventOptions): Promise<PostEventResult>;

  readonly inject: SlackInjector;
  close(): Promise<void>;
}

interface Injection {
  method?: string;
  n: number;
}

function takeInjection<T extends Injection>(list: T[], method: string): T | undefined {
  const i = list.findIndex((f) => f.method === undefined || f.method === '*' || f.method === method);
  if (i < 0) return undefined;
  const f = list[i];
  f.n -= 1;
  if (f.n <= 0) list.splice(i, 1);
  return f;
}

export async function startSlackServer(options: SlackServerOptions): Promise<SlackServer> {
  const { botToken, appToken, signingSecret } = options;
  const scopes = options.scopes ?? DEFAULT_SCOPES;
  const state = new SlackState({
    teamId: options.teamId ?? 'T0EM0000001',
    teamDomain: options.teamDomain ?? 'emulated',
    appId: options.appId ?? 'A0EM0000001',
    botId: options.botId ?? 'B0EM0000001',
    botUserId: options.botUserId ?? 'U0EMBOT0001',
    botName: options.botName ?? 'chatgate-bot',
  });
  const alice = state.addUser({ name: 'alice', real_name: 'Alice Example' });
  const bob = state.addUser({ name: 'bob', real_name: 'Bob Example' });
  const fixtures: Fixtures = {
    user: alice.id,
    otherUser: bob.id,
    channel: state.addChannel({ type: 'channel', name: 'general' }).id,
    dm: state.dmWith(alice.id).id,
    group: state.addChannel({ type: 'group', name: 'secret-project' }).id,
  };

  const sent: SlackCall[] = [];
  const mrkdwnErrors: MrkdwnError[] = [];
  const downloads: SlackServer['downloads'] = [];
  const sentWaiters: Array<{ pred: (c: SlackCall) => boolean; resolve: (c: SlackCall) => void }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const failures: Array<Injection & { spec: FailSpec }> = [];
  const drops: Injection[] = [];
  const losses: Injection[] = [];
  const delays: Array<Injection & { ms: number }> = [];
  const revoked = new Map<'bot' | 'app', string>();

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => later(ms, r));

  function checkTexts(method: string, channel: string | undefined, fields: TextField[], opts: { linkNames: boolean }): void {
    const found: MrkdwnError[] = [];
    for (const f of fields) {
      for (const finding of checkMrkdwn(f.text, { linkNames: opts.linkNames, markdown: f.markdown })) {
        found.push({ ...finding, method, ...(channel ? { channel } : {}), field: f.field, text: f.text });
      }
    }
    mrkdwnErrors.push(...found);
    if (found.length && options.rejectBadMrkdwn) {
      const inBlocks = found.some((f) => f.field.includes('blocks'));
      const errors = found.map((f) => `${f.problem} ${JSON.stringify(f.token)} at ${f.index} [field:${f.field}]`);
      throw new SlackApiError(inBlocks ? 'invalid_blocks' : 'invalid_mrkdwn', { errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } });
    }
  }

  const api = createWebApi(state, checkTexts);
  const inbound = createInbound(state, fixtures, signingSecret);
  const socketMode = createSocketMode(
    state,
    { ackTimeoutMs: options.ackTimeoutMs ?? 3000, maxRedeliveries: options.maxRedeliveries ?? 3, pingIntervalMs: options.pingIntervalMs ?? 0 },
    (d, ack) => {
      // A slash command acked with a text shows it to the user who typed the command.
      if (d.type !== 'slash_commands' || !ack.payload || typeof ack.payload !== 'object') return;
      const p = ack.payload as Json;
      const text = typeof p.text === 'string' ? p.text : '';
      if (!text && !Array.isArray(p.blocks)) return;
      const channel = String(d.payload.channel_id);
      const fields: TextField[] = text ? [{ field: 'text', text, markdown: false }] : [];
      try {
        checkTexts('ack', channel, fields, { linkNames: false });
      } catch {
        return;
      }
      if (p.response_type === 'in_channel') {
        state.addMessage({ channel, ts: state.nextTs(), fromBot: true, user: state.id.botUserId, bot_id: state.id.botId, text, visibleText: state.visible(text, false), markdown: false, ...(Array.isArray(p.blocks) ? { blocks: p.blocks } : {}), edits: 0, reactions: [] });
      } else {
        state.ephemeral.push({ channel, user: String(d.payload.user_id), ts: state.nextTs(), text, ...(Array.isArray(p.blocks) ? { blocks: p.blocks as unknown[] } : {}), via: 'ack' });
      }
    },
  );

  // --- recording ---------------------------------------------------------------------------

  function record(call: SlackCall): void {
    sent.push(call);
    for (const w of [...sentWaiters]) {
      if (w.pred(call)) {
        sentWaiters.splice(sentWaiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
  }

  function callRecord(method: string, params: Params, token: SlackCall['token'], contentType: SlackCall['contentType']): SlackCall {
    const channel = params.channel ?? params.channel_id;
    return {
      method,
      outcome: 'ok',
      params,
      token,
      contentType,
      ok: true,
      status: 200,
      at: Date.now(),
      ...(typeof channel === 'string' ? { channel } : {}),
      ...(typeof params.text === 'string' ? { text: params.text } : typeof params.markdown_text === 'string' ? { text: params.markdown_text } : {}),
      ...(typeof params.ts === 'string' ? { ts: params.ts } : {}),
      ...(typeof params.thread_ts === 'string' ? { thread_ts: params.thread_ts } : {}),
    };
  }

  // --- HTTP --------------------------------------------------------------------------------

  async function parseParams(req: http.IncomingMessage, url: URL): Promise<{ params: Params; contentType: SlackCall['contentType']; charset: boolean }> {
    const params: Params = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    const body = await readBody(req);
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    const charset = /charset=/.test(type);
    if (body.length === 0) return { params, contentType: 'query', charset };
    if (type.startsWith('application/json')) {
      const parsed = JSON.parse(body.toString('utf8')) as unknown;
      if (parsed && typeof parsed === 'object') Object.assign(params, parsed);
      // A token inside a JSON body does not count (tokenOf): Slack wants it as the Authorization header.
      return { params, contentType: 'json', charset };
    }
    if (type.startsWith('multipart/form-data')) {
      const boundary = /boundary=("?)([^";]+)\1/.exec(type)?.[2] ?? '';
      for (const p of parseMultipart(body, boundary)) if (p.name) params[p.name] = p.filename !== undefined ? p.data : p.data.toString('utf8');
      return { params, contentType: 'multipart', charset };
    }
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
    return { params, contentType: type.startsWith('application/x-www-form-urlencoded') ? 'form' : 'other', charset };
  }

  function tokenOf(req: http.IncomingMessage, params: Params, jsonBody: boolean): { value?: string; kind: SlackCall['token'] } {
    const auth = String(req.headers.authorization ?? '');
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    const value = m?.[1] ?? (!jsonBody && typeof params.token === 'string' ? params.token : undefined);
    if (!value) return { kind: 'none' };
    return { value, kind: value === botToken ? 'bot' : value === appToken ? 'app' : 'other' };
  }

  function answerFailure(res: http.ServerResponse, call: SlackCall, spec: FailSpec): void {
    const status = spec.status ?? 200;
    call.status = status;
    call.ok = false;
    call.outcome = 'error';
    if (status >= 500) {
      call.error = `http_${status}`;
      record(call);
      return writeText(res, status, spec.body ?? HTML_5XX(status), 'text/html; charset=utf-8');
    }
    const body = { ok: false, error: spec.error ?? (status === 429 ? 'ratelimited' : 'internal_error'), ...spec.extra };
    call.error = String(body.error);
    call.response = body;
    record(call);
    writeJson(res, status, body, status === 429 ? { 'retry-after': String(spec.retryAfter ?? 1) } : {});
  }

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL, method: string): Promise<void> {
    let parsed: Awaited<ReturnType<typeof parseParams>>;
    try {
      parsed = await parseParams(req, url);
    } catch {
      if (!req.socket.destroyed) writeJson(res, 200, { ok: false, error: 'invalid_json' });
      return;
    }
    const { params, contentType, charset } = parsed;
    const token = tokenOf(req, params, contentType === 'json');
    const call = callRecord(method, params, token.kind, contentType);

    if (takeInjection(drops, method)) {
      call.outcome = 'dropped';
      call.ok = false;
      call.status = 0;
      call.error = 'dropped';
      record(call);
      req.socket.destroy();
      return;
    }
    const failure = takeInjection(failures, method);
    if (failure) return answerFailure(res, call, failure.spec);
    const delay = takeInjection(delays, method);
    if (delay) await sleep(delay.ms);

    const headers: Record<string, string> = {};
    if (token.kind === 'bot') {
      headers['x-oauth-scopes'] = scopes.join(',');
      headers['x-accepted-oauth-scopes'] = (METHOD_ACCESS[method]?.scopes ?? []).join(',');
    }
    let body: Json;
    try {
      body = { ok: true, ...runMethod(method, params, token) };
      if (contentType === 'json' && !charset) body = { ...body, warning: 'missing_charset', response_metadata: { ...((body.response_metadata as Json) ?? {}), warnings: ['missing_charset'] } };
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      body = { ok: false, error: err.error, ...err.extra };
    }
    call.ok = body.ok === true;
    call.outcome = call.ok ? 'ok' : 'error';
    call.response = body;
    if (!call.ok) call.error = String(body.error);
    if (call.ok && typeof body.ts === 'string' && !call.ts) call.ts = body.ts;
    if (call.ok && typeof body.channel === 'string' && method.startsWith('chat.')) call.channel = body.channel;
    if (takeInjection(losses, method)) {
      call.outcome = 'lost';
      call.status = 0;
      record(call);
      req.socket.destroy();
      return;
    }
    record(call);
    if (call.ok && options.echoOwnMessages && method === 'chat.postMessage') echo(String(body.channel), String(body.ts));
    writeJson(res, 200, body, headers);
  }

  function runMethod(method: string, params: Params, token: { value?: string; kind: SlackCall['token'] }): Json {
    const access = METHOD_ACCESS[method];
    const impl = method === 'apps.connections.open' ? () => ({ url: socketMode.issueUrl() }) : api.methods[method];
    if (!access || !impl) throw new SlackApiError('unknown_method', { req_method: method });
    if (token.kind === 'none') throw new SlackApiError('not_authed');
    if (token.kind === 'other') throw new SlackApiError('invalid_auth');
    if (token.kind !== access.token) throw new SlackApiError('not_allowed_token_type');
    const revokedAs = revoked.get(token.kind);
    if (revokedAs) throw new SlackApiError(revokedAs);
    if (access.scopes && token.kind === 'bot' && !access.scopes.some((s) => scopes.includes(s))) {
      throw new SlackApiError('missing_scope', { needed: access.scopes.join(','), provided: scopes.join(',') });
    }
    return impl(params);
  }

  function echo(channel: string, ts: string): void {
    const m = state.findMessage(channel, ts);
    if (!m) return;
    const ev = inbound.make.selfMessage(m.text, { channel, ts, ...(m.thread_ts && m.thread_ts !== m.ts ? { threadTs: m.thread_ts } : {}) });
    socketMode.deliver('events_api', inbound.wrapEvent(ev));
  }

  async function handleUpload(req: http.IncomingMessage, res: http.ServerResponse, ticket: string): Promise<void> {
    const body = await readBody(req);
    const type = String(req.headers['content-type'] ?? '');
    const call = callRecord('upload', { ticket, bytes: body.length }, 'none', type.startsWith('multipart/') ? 'multipart' : 'other');
    if (takeInjection(drops, 'upload')) {
      call.outcome = 'dropped';
      call.ok = false;
      call.status = 0;
      record(call);
      req.socket.destroy();
      return;
    }
    const failure = takeInjection(failures, 'upload');
    if (failure) return answerFailure(res, call, failure.spec);
    let data = body;
    if (type.startsWith('multipart/form-data')) {
      const boundary = /boundary=("?)([^";]+)\1/.exec(type)?.[2] ?? '';
      const parts = parseMultipart(body, boundary);
      data = (parts.find((p) => p.filename !== undefined) ?? parts.find((p) => p.name === 'file' || p.name === 'body') ?? parts[0])?.data ?? Buffer.alloc(0);
    }
    call.params = { ticket, bytes: data.length };
    if (!api.receiveUpload(ticket, data)) {
      call.ok = false;
      call.outcome = 'error';
      call.status = 404;
      record(call);
      return writeText(res, 404, 'Not Found');
    }
    record(call);
    writeText(res, 200, `OK - ${data.length}`);
  }

  function handleDownload(req: http.IncomingMessage, res: http.ServerResponse, fileId: string): void {
    const f = state.files.get(fileId);
    const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const authorized = !!f && auth === botToken && !revoked.has('bot') && scopes.includes('files:read');
    downloads.push({ fileId, authorized, at: Date.now() });
    // Slack answers a download without a valid token with its sign-in page, status 200.
    if (!authorized || !f) return writeText(res, 200, LOGIN_PAGE, 'text/html; charset=utf-8');
    res.writeHead(200, { 'content-type': f.file.mimetype, 'content-length': f.data.length, 'content-disposition': `attachment; filename="${f.file.name}"` });
    res.end(f.data);
  }

  async function handleResponseUrl(req: http.IncomingMessage, res: http.ServerResponse, rid: string): Promise<void> {
    const raw = await readBody(req);
    let p: Json = {};
    try {
      p = JSON.parse(raw.toString('utf8') || '{}') as Json;
    } catch {
      return writeText(res, 400, 'invalid_payload');
    }
    const target = state.responseUrls.get(rid);
    const call = callRecord('response_url', p, 'none', 'json');
    if (target) call.channel = target.channel;
    if (!target) {
      call.ok = false;
      call.outcome = 'error';
      call.status = 404;
      call.error = 'no_active_hooks';
      record(call);
      return writeText(res, 404, 'no_active_hooks');
    }
    const text = typeof p.text === 'string' ? p.text : '';
    try {
      checkTexts('response_url', target.channel, text ? [{ field: 'text', text, markdown: false }] : [], { linkNames: false });
    } catch (err) {
      call.ok = false;
      call.outcome = 'error';
      call.error = (err as SlackApiError).error;
      record(call);
      return writeJson(res, 200, { ok: false, error: call.error });
    }
    const blocks = Array.isArray(p.blocks) ? (p.blocks as unknown[]) : undefined;
    const original = target.message_ts ? state.findMessage(target.channel, target.message_ts) : undefined;
    if (bool(p.delete_original) && original) state.removeMessage(target.channel, original.ts);
    else if (bool(p.replace_original) && original) {
      original.text = text;
      original.visibleText = state.visible(text, false);
      if (blocks) original.blocks = blocks;
      else delete original.blocks;
      original.edits += 1;
    } else if (p.response_type === 'in_channel') {
      const threadTs = typeof p.thread_ts === 'string' ? p.thread_ts : undefined;
      state.addMessage({ channel: target.channel, ts: state.nextTs(), ...(threadTs ? { thread_ts: threadTs } : {}), fromBot: true, user: state.id.botUserId, bot_id: state.id.botId, text, visibleText: state.visible(text, false), markdown: false, ...(blocks ? { blocks } : {}), edits: 0, reactions: [] });
    } else {
      state.ephemeral.push({ channel: target.channel, user: target.user, ts: state.nextTs(), text, ...(blocks ? { blocks } : {}), via: 'response_url' });
    }
    record(call);
    writeJson(res, 200, { ok: true });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const apiMatch = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    if (apiMatch && (req.method === 'POST' || req.method === 'GET')) return handleApi(req, res, url, apiMatch[1]);
    const upload = /^\/upload\/v1\/([a-f0-9]+)$/.exec(url.pathname);
    if (upload && req.method === 'POST') return handleUpload(req, res, upload[1]);
    const file = /^\/files-pri\/[A-Z0-9]+-([A-Z0-9]+)\//.exec(url.pathname);
    if (file && req.method === 'GET') return handleDownload(req, res, file[1]);
    const response = /^\/response\/([a-f0-9]+)$/.exec(url.pathname);
    if (response && req.method === 'POST') return handleResponseUrl(req, res, response[1]);
    req.resume();
    writeText(res, 404, 'Not Found');
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent && !req.socket.destroyed) writeText(res, 500, `emulator error: ${err.message}`);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => socketMode.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  state.baseUrl = `http://127.0.0.1:${port}`;

  // --- delivery ----------------------------------------------------------------------------

  function deliverOne(input: Inbound): Delivery {
    let type: EnvelopeType;
    let payload: Json;
    if (isSlashCommand(input)) {
      type = 'slash_commands';
      payload = input;
    } else if (isInteractive(input)) {
      type = 'interactive';
      payload = input;
    } else {
      type = 'events_api';
      payload = input.type === 'event_callback' ? (input as Json) : inbound.wrapEvent(input as SlackEvent);
      inbound.remember(payload);
    }
    return socketMode.deliver(type, payload);
  }

  function deliver(input: Inbound): Delivery;
  function deliver(input: Inbound[]): Delivery[];
  function deliver(input: Inbound | Inbound[]): Delivery | Delivery[] {
    return Array.isArray(input) ? input.map(deliverOne) : deliverOne(input);
  }

  const inject: SlackInjector = {
    failNext: (method, n, spec) => void failures.push({ method, n, spec }),
    dropConnections: (n, method) => void drops.push({ n, ...(method ? { method } : {}) }),
    loseResponses: (n, method) => void losses.push({ n, ...(method ? { method } : {}) }),
    delayNext: (method, n, ms) => void delays.push({ method, n, ms }),
    disconnect: (reason) => socketMode.disconnect(reason),
    dropSockets: () => socketMode.dropSockets(),
    zombieSockets: () => socketMode.zombieSockets(),
    ignoreAcks: (n) => socketMode.ignoreAcks(n),
    delayHello: (ms, n) => socketMode.delayHello(ms, n),
    revokeToken: (opts = {}) => {
      const which = opts.token ?? 'all';
      const error = opts.error ?? 'invalid_auth';
      if (which !== 'app') revoked.set('bot', error);
      if (which !== 'bot') revoked.set('app', error);
    },
    reset: () => {
      failures.length = 0;
      drops.length = 0;
      losses.length = 0;
      delays.length = 0;
      revoked.clear();
      socketMode.resetInjections();
    },
  };

  return {
    apiUrl: `${state.baseUrl}/api/`,
    baseUrl: state.baseUrl,
    botToken,
    appToken,
    signingSecret,
    team: { id: state.id.teamId, domain: state.id.teamDomain },
    bot: { userId: state.id.botUserId, botId: state.id.botId, appId: state.id.appId, name: state.id.botName },
    fixtures,
    make: inbound.make,
    channel: (id) => state.messages.get(id) ?? [],
    thread: (channel, ts) => (state.messages.get(channel) ?? []).filter((m) => m.ts === ts || m.thread_ts === ts),
    message: (channel, ts) => state.findMessage(channel, ts),
    ephemeral: (channel) => (channel ? state.ephemeral.filter((e) => e.channel === channel) : state.ephemeral),
    assistantThread: (channel, ts) => state.assistant.get(`${channel}:${ts}`),
    file: (id) => state.files.get(id),
    sent,
    mrkdwnErrors,
    downloads,
    waitFor(pred, ms = 3000) {
      const found = sent.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (c: SlackCall) => {
            clearTimeout(t);
            timers.delete(t);
            resolve(c);
          },
        };
        const t = later(ms, () => {
          sentWaiters.splice(sentWaiters.indexOf(w), 1);
          reject(new Error(`no matching call within ${ms} ms; calls: ${sent.map((c) => `${c.method}:${c.outcome}${c.error ? `(${c.error})` : ''}`).join(', ') || 'none'}`));
        });
        sentWaiters.push(w);
      });
    },
    waitForMessage(channel, pred, ms = 3000) {
      const started = Date.now();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = (state.messages.get(channel) ?? []).find(pred);
          if (m) return resolve(m);
          if (Date.now() - started >= ms) {
            const shown = (state.messages.get(channel) ?? []).map((x) => `${x.fromBot ? 'bot' : (x.user ?? '?')}: ${JSON.stringify(x.text.slice(0, 60))}`);
            return reject(new Error(`no matching message in ${channel} within ${ms} ms; channel has: ${shown.join(' | ') || 'nothing'}`));
          }
          later(10, check);
        };
        check();
      });
    },
    addUser: (u) => state.addUser(u),
    addChannel: (c) => state.addChannel(c),
    deliver,
    deliveries: socketMode.deliveries,
    acks: socketMode.acks,
    stats: socketMode.stats,
    sockets: socketMode.sockets,
    waitForSockets: socketMode.waitForSockets,
    wrapEvent: inbound.wrapEvent,
    signedRequest: inbound.signedRequest,
    postEvent: inbound.postEvent,
    inject,
    async close() {
      socketMode.close();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
