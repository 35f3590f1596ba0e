/**
 * A fake Discord over real HTTP and WebSocket on 127.0.0.1, for the real discord.js 14 to talk to
 * unchanged through `new Client({ intents, partials: [Partials.Channel], rest: { api: discord.apiUrl } })`
 * (REST at `{api}/v10/...`, the gateway URL from GET /gateway/bot). It speaks Discord's wire
 * protocol where our nodes depend on it: the gateway (HELLO, IDENTIFY with intents and the
 * privileged ones the portal allows, READY + GUILD_CREATE, heartbeats, RESUME with a replay,
 * RECONNECT, INVALID_SESSION, close codes 4004/4014...), REST v10 with Discord's JSON errors and
 * rate-limit buckets (X-RateLimit-*, 429 with Retry-After and retry_after, global 429s, HTML 5xx),
 * the 2,000-character and embed limits, mention pings without allowed_mentions, application
 * commands (PUT overwrites everything: recorded), interactions (3 s deadline, 15 min tokens,
 * callbacks, follow-ups, @original) and the signed HTTP interactions endpoint (Ed25519).
 *
 * Tests build what users do with `discord.make.*`, deliver it over the gateway (`deliver`) or to an
 * interactions endpoint (`postInteraction`), read back every REST call (`sent`), what users see
 * (`channel(id)`), who got pinged (`mentionsPinged`), typing, commands and interactions, and
 * inject failures (`inject.*`). Everything is bounded: close() ends every socket and timer.
 *
 * The parts live in ./discord/: gateway.ts, rest.ts (routes, buckets, injections), interactions.ts
 * (builders, signer, HTTP poster), builders.ts (messages, threads), checks.ts (limits, mentions,
 * Discord's error shapes), state.ts (snowflakes, guilds, channels, messages), types.ts.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createMessageBuilders, eventOf, type DiscordBuilders } from './discord/builders';
import { createGateway } from './discord/gateway';
import { createInteractions } from './discord/interactions';
import { createRest, writeText } from './discord/rest';
import { DiscordState, Snowflakes, type ChannelRecord, type UserRecord } from './discord/state';
import { Intents } from './discord/types';
import type {
  ApplicationCommand,
  CloseRecord,
  CommandOverwrite,
  DiscordInjector,
  DiscordServerOptions,
  DispatchRecord,
  GatewayStats,
  IdentifyRecord,
  InteractionRecord,
  Json,
  PingRecord,
  PostInteractionOptions,
  PostInteractionResult,
  RestCall,
  ResumeRecord,
  SessionInfo,
  SignedInteraction,
  TypingCall,
  VisibleMessage,
} from './discord/types';

export { ALL_INTENTS, Intents, PRIVILEGED_INTENTS } from './discord/types';
export { checkMessageBody, CONTENT_LIMIT, mentionTokens, pingsOf } from './discord/checks';
export { rawPublicKeyHex } from './discord/interactions';
export { DISCORD_EPOCH, snowflakeTime } from './discord/state';
export type { AttachmentSpec, DiscordBuilders, MessageOptions, ThreadOptions } from './discord/builders';
export type { ComponentOptions, InteractionContext, SlashCommandOptions } from './discord/interactions';
export type { ChannelRecord, UserRecord } from './discord/state';
export type * from './discord/types';

export interface Fixtures {
  /** The guild the bot is in, its #general and #random text channels, and an active public thread in #general. */
  guild: string;
  channel: string;
  otherChannel: string;
  thread: string;
  /** alice (a human, the guild owner), her DM channel with the bot, bob, another bot, and a mentionable role. */
  user: string;
  dm: string;
  otherUser: string;
  otherBot: string;
  role: string;
}

export interface DiscordServer {
  /** `http://127.0.0.1:PORT/api`: discord.js's `rest.api` (it appends /v10). */
  readonly apiUrl: string;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly baseUrl: string;
  /** `ws://127.0.0.1:PORT/gateway`, as GET /gateway/bot hands it out. */
  readonly gatewayUrl: string;
  readonly token: string;
  readonly applicationId: string;
  /** The bot user (its id is the application id). */
  readonly bot: { id: string; username: string };
  /** The application's Ed25519 public key: the raw 32 bytes in hex, as the developer portal shows it. */
  readonly publicKeyHex: string;
  readonly fixtures: Fixtures;
  readonly make: DiscordBuilders;

  /** The visible messages of a channel or thread in id order (ephemeral answers included, flagged). */
  channel(id: string): VisibleMessage[];
  message(channelId: string, id: string): VisibleMessage | undefined;
  /** POST /channels/{id}/typing calls (of one channel, or all). */
  typing(channelId?: string): TypingCall[];
  /** The application's commands now (global, or a guild's). */
  commands(guildId?: string): ApplicationCommand[];
  /** Every PUT that replaced a command set. */
  readonly commandOverwrites: CommandOverwrite[];
  readonly interactions: InteractionRecord[];
  interaction(id: string): InteractionRecord | undefined;
  /** Every REST request (see RestCall.outcome) and every HTTP-endpoint interaction answer. */
  readonly sent: RestCall[];
  /** Messages that notified someone: tests that send agent text assert this stays empty. */
  readonly mentionsPinged: PingRecord[];
  /** CDN downloads of attachment URLs (served = signature and expiry were good). */
  readonly downloads: Array<{ attachmentId: string; served: boolean; at: number }>;
  /** Resolves when a call matching `pred` has been recorded (earlier calls count). */
  waitFor(pred: (c: RestCall) => boolean, ms?: number): Promise<RestCall>;
  /** Resolves when a visible message in `channelId` matches `pred` (polled; edits count). */
  waitForMessage(channelId: string, pred: (m: VisibleMessage) => boolean, ms?: number): Promise<VisibleMessage>;
  addUser(u?: Partial<UserRecord>): UserRecord;
  /** A channel in a guild (default the fixture guild; CHANNEL_CREATE is dispatched) or a DM. */
  addChannel(c?: Partial<ChannelRecord>): ChannelRecord;
  /** A guild the bot joins now (GUILD_CREATE is dispatched), with a #general channel. */
  addGuild(name?: string): { guild: string; channel: string };

  /**
   * Sends a built payload as its dispatch: MESSAGE_CREATE / MESSAGE_UPDATE / THREAD_CREATE /
   * INTERACTION_CREATE (inferred from the builder, or pass `t`). Starts an interaction's deadline.
   */
  deliver(payload: Json, t?: string): DispatchRecord;
  /** Sends any dispatch exactly as given. */
  dispatch(t: string, d: Json): DispatchRecord;
  readonly dispatches: DispatchRecord[];
  readonly identifies: IdentifyRecord[];
  /** Every RESUME with the dispatches it replayed. */
  readonly resumes: ResumeRecord[];
  readonly closes: CloseRecord[];
  readonly stats: GatewayStats;
  sessions(): SessionInfo[];
  /** Resolves once `pred(stats)` holds, e.g. `s => s.openSockets === 0`. */
  waitForSockets(pred: (s: GatewayStats) => boolean, ms?: number): Promise<GatewayStats>;

  /** Signs a raw body as Discord does (X-Signature-Ed25519 over timestamp + body). */
  signInteraction(body: string | Buffer | Json, opts?: { timestamp?: number }): SignedInteraction;
  /** POSTs an interaction to an HTTP interactions endpoint, signed; its answer is the interaction response. */
  postInteraction(url: string, interaction: Json, opts?: PostInteractionOptions): Promise<PostInteractionResult>;

  readonly inject: DiscordInjector;
  close(): Promise<void>;
}

function botToken(appId: string): string {
  return `${Buffer.from(appId).toString('base64').replace(/=+$/, '')}.${randomBytes(5).toString('base64url').slice(0, 6)}.${randomBytes(30).toString('base64url').slice(0, 38)}`;
}

export async function startDiscordServer(options: DiscordServerOptions = {}): Promise<DiscordServer> {
  const applicationId = options.applicationId ?? new Snowflakes(2).next(Date.now() - 500 * 86400_000);
  const state = new DiscordState(applicationId, options.botUsername ?? 'chatgate-bot');
  const token = options.token ?? botToken(applicationId);
  const privileged = options.privilegedIntents ?? Intents.MessageContent;
  const revoked = { rest: false, gateway: false };
  let replayOnResume = options.replayOnResume ?? true;

  const sent: RestCall[] = [];
  const mentionsPinged: PingRecord[] = [];
  const typing: TypingCall[] = [];
  const commandOverwrites: CommandOverwrite[] = [];
  const downloads: DiscordServer['downloads'] = [];
  const sentWaiters: Array<{ pred: (c: RestCall) => boolean; resolve: (c: RestCall) => void }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };

  // --- fixtures ----------------------------------------------------------------------------
  const alice = state.addUser({ username: 'alice' });
  const bob = state.addUser({ username: 'bob' });
  const otherBot = state.addUser({ username: 'other-bot', bot: true });
  const guild = state.addGuild('Chatgate Test', alice.id);
  const role = state.addRole(guild.id, { name: 'Moderators' });
  const general = state.addChannel({ guildId: guild.id, name: 'general', topic: 'Talk to the bot here' });
  const random = state.addChannel({ guildId: guild.id, name: 'random' });
  const thread = state.addChannel({ type: 11, name: 'help-thread', guildId: guild.id, parentId: general.id, thread: { ownerId: alice.id, archived: false, locked: false, autoArchiveDuration: 1440, createdAt: Date.now() - 3600_000 } });
  const dm = state.dmWith(alice.id);
  const fixtures: Fixtures = { guild: guild.id, channel: general.id, otherChannel: random.id, thread: thread.id, user: alice.id, dm: dm.id, otherUser: bob.id, otherBot: otherBot.id, role: role.id };
  for (const c of options.commands ?? []) {
    const list = state.commandScope(c.guildId);
    list.push({
      id: state.ids.next(Date.now() - 30 * 86400_000),
      application_id: applicationId,
      version: state.ids.next(Date.now() - 30 * 86400_000),
      default_member_permissions: null,
      type: c.type ?? 1,
      name: c.name,
      description: c.description ?? (c.type && c.type !== 1 ? '' : `${c.name} (an existing command)`),
      ...(c.options ? { options: c.options } : {}),
      dm_permission: true,
      contexts: null,
      integration_types: [0],
      nsfw: false,
      ...(c.guildId ? { guild_id: c.guildId } : {}),
    });
  }

  // An app in fewer than 100 servers that switched a privileged intent on in the portal has the
  // *_LIMITED flag (message content 1<<19, members 1<<15, presences 1<<13); verified apps get
  // 1<<18, 1<<14, 1<<12 instead. A node reading flags must accept both.
  const applicationFlags = (): number =>
    (privileged & Intents.MessageContent ? 1 << 19 : 0) | (privileged & Intents.GuildMembers ? 1 << 15 : 0) | (privileged & Intents.GuildPresences ? 1 << 13 : 0) | ([...state.commands.values()].some((l) => l.length) ? 1 << 23 : 0);

  // --- parts -------------------------------------------------------------------------------

  function record(call: RestCall): void {
    sent.push(call);
    for (const w of [...sentWaiters]) {
      if (w.pred(call)) {
        sentWaiters.splice(sentWaiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
  }

  const gateway = createGateway(state, {
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
    privilegedIntents: privileged,
    tokenOk: (t) => t === token && !revoked.gateway,
    replayOnResume: () => replayOnResume,
    applicationFlags,
  });
  const interactionDeadlineMs = options.interactionDeadlineMs ?? 3000;
  const interactions = createInteractions({
    state,
    fixtures: () => fixtures,
    interactionDeadlineMs,
    applyCallback: (it, body, files, via, route) => rest.applyCallback(it, body, files, via, route),
    record,
  });
  const rest = createRest({
    state,
    gateway,
    token,
    restTokenOk: () => !revoked.rest,
    echoOwnMessages: options.echoOwnMessages ?? true,
    interactionDeadlineMs,
    interactionTokenTtlMs: options.interactionTokenTtlMs ?? 15 * 60_000,
    rateLimit: options.rateLimit ?? { limit: 10, windowMs: 1000 },
    maxFileBytes: options.maxFileBytes ?? 10 * 1024 * 1024,
    publicKeyHex: interactions.publicKeyHex,
    applicationFlags,
    record,
    mentionsPinged,
    typing,
    commandOverwrites,
  });
  const messageBuilders = createMessageBuilders(state, () => fixtures);
  const make: DiscordBuilders = { ...messageBuilders, ...interactions.make };
  for (const k of ['ping', 'slashCommand', 'component'] as const) {
    const build = make[k] as (...a: unknown[]) => Json;
    (make as unknown as Record<string, unknown>)[k] = (...a: unknown[]) => {
      const d = build(...a);
      if (k !== 'ping') eventOf.set(d, 'INTERACTION_CREATE');
      return d;
    };
  }

  // --- HTTP --------------------------------------------------------------------------------

  function serveAttachment(res: http.ServerResponse, url: URL): void {
    const m = /^\/(?:proxy\/)?attachments\/(\d+)\/(\d+)\/([^/]+)$/.exec(url.pathname);
    const f = m ? state.files.get(m[2]) : undefined;
    const path = m ? `/attachments/${m[1]}/${m[2]}/${m[3]}` : '';
    const ex = url.searchParams.get('ex') ?? '';
    const is = url.searchParams.get('is') ?? '';
    const good = !!f && !!m && f.channelId === m[1] && url.searchParams.get('hm') === state.cdnSign(path, ex, is) && parseInt(ex, 16) * 1000 > Date.now();
    downloads.push({ attachmentId: m?.[2] ?? '', served: good, at: Date.now() });
    if (!good || !f) return writeText(res, 404, 'This content is no longer available.');
    res.writeHead(200, { 'content-type': f.contentType ?? 'application/octet-stream', 'content-length': String(f.data.length) });
    res.end(f.data);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/api/')) return rest.handle(req, res, url);
    if (/^\/(proxy\/)?attachments\//.test(url.pathname) && req.method === 'GET') return serveAttachment(res, url);
    req.resume();
    writeText(res, 404, 'Not Found');
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent && !req.socket.destroyed) writeText(res, 500, `emulator error: ${err.stack ?? err.message}`);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  state.baseUrl = `http://127.0.0.1:${port}`;

  // --- delivery ----------------------------------------------------------------------------

  function infer(d: Json): string {
    if (typeof d.token === 'string' && typeof d.application_id === 'string' && typeof d.type === 'number') return 'INTERACTION_CREATE';
    if (d.thread_metadata) return 'THREAD_CREATE';
    if (d.author && d.channel_id) return d.edited_timestamp ? 'MESSAGE_UPDATE' : 'MESSAGE_CREATE';
    throw new Error('deliver: cannot tell which dispatch this is; pass t');
  }

  function deliver(payload: Json, t?: string): DispatchRecord {
    const name = t ?? eventOf.get(payload) ?? infer(payload);
    if (name === 'INTERACTION_CREATE') {
      if (payload.type === 1) throw new Error('deliver: a PING never comes over the gateway (postInteraction it)');
      state.registerInteraction(payload, 'gateway');
    }
    return gateway.dispatch(name, payload);
  }

  const inject: DiscordInjector = {
    failNext: rest.inject.failNext,
    dropConnections: rest.inject.dropConnections,
    loseResponses: rest.inject.loseResponses,
    delayNext: rest.inject.delayNext,
    closeGateway: (code = 4000, opts = {}) => gateway.closeAll(code, opts),
    zombie: () => gateway.zombie(),
    reconnect: () => gateway.reconnect(),
    invalidSession: (resumable = false) => gateway.invalidSession(resumable),
    revokeToken: (opts = {}) => {
      if (opts.only !== 'gateway') revoked.rest = true;
      if (opts.only !== 'rest') revoked.gateway = true;
    },
    get replayOnResume() {
      return replayOnResume;
    },
    set replayOnResume(v: boolean) {
      replayOnResume = v;
    },
    reset: () => {
      rest.inject.reset();
      gateway.unzombie();
      revoked.rest = false;
      revoked.gateway = false;
      replayOnResume = options.replayOnResume ?? true;
    },
  };

  return {
    apiUrl: `${state.baseUrl}/api`,
    baseUrl: state.baseUrl,
    gatewayUrl: gateway.gatewayUrl(),
    token,
    applicationId,
    bot: { id: state.botUser.id, username: state.botUser.username },
    publicKeyHex: interactions.publicKeyHex,
    fixtures,
    make,
    channel: (id) => (state.messages.get(id) ?? []).map((m) => m.view),
    message: (channelId, id) => state.findMessage(channelId, id)?.view,
    typing: (channelId) => (channelId ? typing.filter((t) => t.channelId === channelId) : typing),
    commands: (guildId) => [...state.commandScope(guildId)],
    commandOverwrites,
    interactions: state.interactionList,
    interaction: (id) => state.interactions.get(id),
    sent,
    mentionsPinged,
    downloads,
    waitFor(pred, ms = 3000) {
      const found = sent.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (c: RestCall) => {
            clearTimeout(t);
            timers.delete(t);
            resolve(c);
          },
        };
        const t = later(ms, () => {
          sentWaiters.splice(sentWaiters.indexOf(w), 1);
          reject(new Error(`no matching call within ${ms} ms; calls: ${sent.map((c) => `${c.op}:${c.status}${c.outcome !== 'ok' ? `(${c.outcome})` : ''}`).join(', ') || 'none'}`));
        });
        sentWaiters.push(w);
      });
    },
    waitForMessage(channelId, pred, ms = 3000) {
      const started = Date.now();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = (state.messages.get(channelId) ?? []).map((x) => x.view).find(pred);
          if (m) return resolve(m);
          if (Date.now() - started >= ms) {
            const shown = (state.messages.get(channelId) ?? []).map((x) => `${x.view.fromBot ? 'bot' : x.view.author}: ${JSON.stringify(x.view.content.slice(0, 60))}`);
            return reject(new Error(`no matching message in ${channelId} within ${ms} ms; channel has: ${shown.join(' | ') || 'nothing'}`));
          }
          later(10, check);
        };
        check();
      });
    },
    addUser: (u) => state.addUser(u),
    addChannel: (c = {}) => {
      const rec = state.addChannel(c.type === 1 ? c : { guildId: fixtures.guild, ...c });
      if (rec.guildId && !rec.thread) gateway.dispatch('CHANNEL_CREATE', state.apiChannel(rec.id));
      return rec;
    },
    addGuild: (name = `Guild ${state.guilds.size + 1}`) => {
      const g = state.addGuild(name, alice.id);
      const ch = state.addChannel({ guildId: g.id, name: 'general' });
      gateway.dispatch('GUILD_CREATE', state.apiGuildCreate(g.id, { withMembers: false, withPresences: false }));
      return { guild: g.id, channel: ch.id };
    },
    deliver,
    dispatch: (t, d) => gateway.dispatch(t, d),
    dispatches: gateway.dispatches,
    identifies: gateway.identifies,
    resumes: gateway.resumes,
    closes: gateway.closes,
    stats: gateway.stats,
    sessions: gateway.sessions,
    waitForSockets: gateway.waitForSockets,
    signInteraction: (body, opts) => interactions.signInteraction(body, opts),
    postInteraction: (url, interaction, opts) => interactions.postInteraction(url, interaction, opts),
    inject,
    async close() {
      gateway.close();
      rest.close();
      interactions.close();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
