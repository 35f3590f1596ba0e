/**
 * One live Discord bot for one discord bot config node, apart from Node-RED so it can be tested on
 * its own: it checks the token (GET /users/@me, our timeout and backoff), registers the bot's own
 * slash commands once per deploy, receives over the gateway (ONE discord.js Client at a time) and
 * the HTTP interactions endpoint, sends through REST managers whose own retries are off
 * (rest-calls.ts says why), and reports every change of state as a status with an i18n key.
 *
 * What discord.js does and we leave to it: heartbeats, zombie detection, RESUME and reconnects,
 * per-route rate-limit buckets. What we add:
 *  - a wrong token (401 on /users/@me or /gateway/bot, gateway close 4004) stops with a plain
 *    status and is never retried: Discord bans IPs that keep sending invalid requests;
 *  - 4014 (a privileged intent the developer portal has not enabled) and the other unrecoverable
 *    close codes say so plainly and are not retried either;
 *  - a login that does not finish (no HELLO, no READY) says so in the status while discord.js
 *    keeps trying; a login that fails for a network reason is retried with backoff on a NEW Client
 *    (a Client whose login failed cannot be destroyed twice, so reusing it could leak a socket);
 *  - every 'error' and 'shardError' is heard, so a reset connection never becomes an uncaught
 *    'error' event, which would take Node-RED down;
 *  - one gateway session per bot token in the process: a redeploy's new Client waits until the
 *    old one is destroyed (two sessions would both get every event), and a Client shut down in
 *    the middle of its login or of a reconnect never connects again (gateway-client.ts: discord.js
 *    alone would leave a live socket behind).
 *
 * Inbound events are Discord's own dispatch payloads (the 'raw' event: plain JSON, validated by the
 * in node), not discord.js structures, so nothing live reaches a message. Guild messages are
 * handed on with what the channel is (a thread and its parent), from discord.js's channel cache.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Options, Partials, type Client } from 'discord.js';
import { errorText, field, numberField, textField, truncate } from '../core/error-text';
import { settle } from '../core/guard';
import { abortableSleep as sleep, LiveConnection, oneAtATime, Stopped, untilAborted as untilStopped, type StatusLike } from '../core/kit/live-connection';
import { redact } from '../core/redact';
import { registerAll, type CommandOutcome } from './commands';
import { InteractionBook } from './interaction-book';
import { gatewayClient, type GatewayClient } from './gateway-client';
import { CallbackType, interactionRoute, InteractionType, type Respond } from './interactions';
import { RestCalls } from './rest-calls';
import { classify, scrubPaths } from './send-errors';
import { SNOWFLAKE, type CommandSpec, type ReceiveMode } from './settings';

/** An HTTP route handler on Node-RED's server. */
export type RouteHandler = (req: never, res: never) => void;

export interface ConnectionOptions {
  /** The config node's id. */
  id: string;
  token: string;
  /** `${apiRoot}/api`. */
  api: string;
  applicationId?: string;
  receive: ReceiveMode;
  intents: number;
  callTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  maxRateWaitMs: number;
  loginTimeoutMs: number;
  /** The interactions endpoint: its path (for the status), the public key, and how to mount the route. */
  http?: { path: string; key: KeyObject; mount(handler: RouteHandler): () => void };
  commands: { list: CommandSpec[]; guildIds?: string[]; onDeploy: boolean };
  /** How long an HTTP interaction may go unanswered before it is deferred anyway (Discord allows 3 s). */
  deferWithinMs?: number;
}

/** The i18n keys under `discord-bot.status`. */
export type StatusKey =
  | 'stopped'
  | 'connecting'
  | 'connected'
  | 'gateway'
  | 'http'
  | 'both'
  | 'reconnecting'
  | 'unauthorized'
  | 'disallowedIntents'
  | 'invalidIntents'
  | 'closed'
  | 'retrying'
  | 'timeout'
  | 'waitingForOther'
  | 'error';

/** A status as every user node shows it (its `message` already secret-free). */
export interface ConnectionStatus extends StatusLike {
  key: StatusKey;
}

export interface BotIdentity {
  id: string;
  username: string;
  applicationId: string;
}

/** What a guild message's channel is: a thread carries its parent. */
export interface ChannelInfo {
  id: string;
  type: number;
  parentId?: string;
}

/** What reaches in nodes: Discord's dispatch payload, where it came from, and the channel of a message. */
export interface RawInbound {
  source: 'gateway' | 'http';
  type: 'MESSAGE_CREATE' | 'INTERACTION_CREATE';
  data: unknown;
  channel?: ChannelInfo;
}

export type InboundHandler = (inbound: RawInbound) => void | Promise<void>;

/** Gateway close codes after which discord.js does not reconnect, and the status each means. */
const FATAL_CLOSE: Record<number, StatusKey> = { 4004: 'unauthorized', 4013: 'invalidIntents', 4014: 'disallowedIntents', 4010: 'closed', 4011: 'closed', 4012: 'closed' };

/** Gateway sessions per bot token in this process: a new one waits until the previous has been destroyed. */
const sessions = new Map<string, Promise<void>>();

/** Channels remembered per connection (thread or not, its parent), for channels discord.js has not cached. */
const MAX_CHANNELS = 2000;

/**
 * Emits what the bot config node relays (the kit's ConnectionEvents): 'status' (ConnectionStatus),
 * 'ready' (BotIdentity) and 'log' (level, i18n key, params; already secret-free).
 */
export class DiscordConnection extends LiveConnection<ConnectionStatus, BotIdentity, RawInbound> {
  /** Every REST call of the bot (sends, edits, typing, callbacks, commands) with our retry policy. */
  readonly calls: RestCalls;
  /** The interactions being answered (tokens stay here). */
  readonly interactions: InteractionBook;
  private fatal: ConnectionStatus | undefined;
  private registered = false;
  private client: Client | undefined;
  private readonly channels = new Map<string, Promise<ChannelInfo | undefined>>();

  constructor(readonly options: ConnectionOptions) {
    super({ state: 'stopped', key: 'stopped', params: {} });
    this.calls = new RestCalls({
      api: options.api,
      token: options.token,
      timeoutMs: options.callTimeoutMs,
      uploadTimeoutMs: Math.max(options.callTimeoutMs, 120_000),
      maxRateWaitMs: options.maxRateWaitMs,
      retryMinMs: Math.min(options.backoffMinMs, 1000),
      retries: 3,
      onUnauthorized: () => this.unauthorized('REST'),
    });
    this.interactions = new InteractionBook(
      (r, body) => this.calls.call('POST', `/interactions/${r.id}/${r.token}/callback`, { kind: 'once', auth: false, body, what: 'the interaction callback' }),
      (err) => this.emit('log', 'warn', 'discord-bot.errors.ackFailed', { message: this.clean(err) }),
    );
  }

  /**
   * Among instances sharing a gateway, one holds the gateway session (two sessions would both get
   * every event); the interactions endpoint is served by every instance a load balancer picks.
   */
  override get lease(): string | undefined {
    if (this.options.receive === 'http') return undefined;
    return `discord-gateway:${createHash('sha256').update(this.options.token).digest('hex').slice(0, 16)}`;
  }

  /** The bot's identity once /users/@me answered. */
  get identity(): BotIdentity | undefined {
    return this.known;
  }

  /** Receives every message and interaction (in nodes); returns the function that removes the handler. */
  onInbound(handler: InboundHandler): () => void {
    return this.subscribe(handler);
  }

  /** Registers the configured commands now (the editor's button); needs the bot to be running. */
  async registerCommands(): Promise<CommandOutcome[]> {
    if (this.calls.closed) throw new Error('the bot is not running (deploy a flow that uses it)');
    const me = this.known ?? (await this.ready());
    const { list, guildIds } = this.options.commands;
    return registerAll(this.calls, me.applicationId, list, guildIds, (err) => this.clean(err));
  }

  protected override starting(): void {
    this.calls.reopen();
  }

  /** On the last user's stop: waits and queued calls end now. */
  protected override stopping(): void {
    this.calls.close();
    this.interactions.clear();
  }

  /** One secret-free line for any failure; never throws. */
  clean(err: unknown): string {
    const f = classify(err);
    const text = f.kind === 'forbidden' || f.kind === 'notFound' || f.kind === 'refused' ? `${f.status}${f.code ? ` ${f.code}` : ''}: ${f.message}` : f.kind === 'auth' ? '401 Unauthorized' : errorText(err);
    return truncate(scrubPaths(redact(text.trim(), [this.options.token])), 300);
  }

  protected failed(err: unknown): void {
    const message = this.clean(err);
    this.setStatus({ state: 'error', key: 'error', params: { message }, message });
    this.emit('log', 'error', 'discord-bot.errors.failed', { message });
  }

  private fatalStatus(status: ConnectionStatus): void {
    this.fatal = status;
    this.setStatus(status);
    this.emit('log', 'error', `discord-bot.status.${status.key}`, status.params);
  }

  private unauthorized(where: string): void {
    if (this.fatal?.key === 'unauthorized') return;
    this.fatalStatus({ state: 'error', key: 'unauthorized', params: {}, message: `${where}: 401 Unauthorized` });
  }

  protected async run(receive: boolean, stop: AbortSignal, standby: boolean): Promise<void> {
    if (this.fatal) {
      this.setStatus(this.fatal);
      return untilStopped(stop);
    }
    this.setStatus({ state: 'connecting', key: 'connecting', params: {} });
    const me = await this.identify(stop);
    if (!me) return untilStopped(stop);
    this.registerOnDeploy();
    // On standby another instance holds the gateway session; this one sends (and answers interactions).
    if (!receive || (standby && this.options.receive === 'gateway')) {
      this.connected('connected', me);
      return untilStopped(stop);
    }
    const unmount = this.options.receive !== 'gateway' ? this.mountInteractions() : undefined;
    try {
      if (this.options.receive === 'http' || standby) {
        this.connected('http', me);
        return await untilStopped(stop);
      }
      const key = createHash('sha256').update(`${this.options.api}\n${this.options.token}`).digest('hex');
      await oneAtATime(sessions, key, stop, () => this.setStatus({ state: 'connecting', key: 'waitingForOther', params: {} }), () => this.serveGateway(me, stop));
    } finally {
      unmount?.();
    }
  }

  private connected(key: 'connected' | 'gateway' | 'http' | 'both', me: BotIdentity): void {
    if (this.fatal) return this.setStatus(this.fatal);
    const gateway = key === 'gateway' && this.options.receive === 'both' ? 'both' : key;
    this.setStatus({ state: 'connected', key: gateway, params: { name: me.username, ...(this.options.http ? { path: this.options.http.path } : {}) } });
  }

  /** GET /users/@me with our timeout and backoff; undefined when the token is refused. */
  private async identify(stop: AbortSignal): Promise<BotIdentity | undefined> {
    if (this.known) return this.known;
    for (let failures = 0; ; failures++) {
      try {
        // Our own loop below retries (with a status); the calls' quick retries would only hide it.
        const user = await this.calls.call('GET', '/users/@me', { kind: 'read', retries: 0 });
        const id = textField(user, 'id');
        if (!id || !SNOWFLAKE.test(id)) throw new Error('/users/@me answered without a user id');
        const me: BotIdentity = { id, username: textField(user, 'username') ?? 'bot', applicationId: this.options.applicationId ?? (await this.applicationId()) ?? id };
        this.identified(me);
        return me;
      } catch (err) {
        if (stop.aborted || err instanceof Stopped) throw new Stopped();
        // The calls reported a 401 (unauthorized status); nothing is retried with a refused token.
        if (classify(err).kind === 'auth') return undefined;
        const backoff = Math.min(this.options.backoffMaxMs, this.options.backoffMinMs * 2 ** Math.min(failures, 16));
        const message = this.clean(err);
        this.setStatus({ state: 'connecting', key: 'retrying', params: { seconds: String(Math.ceil(backoff / 1000)), message }, message });
        await sleep(backoff, stop);
      }
    }
  }

  /** The application the bot belongs to; undefined when Discord does not say (the bot's own id is then used: they are the same for every bot made since 2020). */
  private async applicationId(): Promise<string | undefined> {
    try {
      const app = await this.calls.call('GET', '/applications/@me', { kind: 'read', retries: 0 });
      const id = textField(app, 'id');
      return id && SNOWFLAKE.test(id) ? id : undefined;
    } catch {
      return undefined;
    }
  }

  private registerOnDeploy(): void {
    const { list, onDeploy } = this.options.commands;
    if (this.registered || !onDeploy || list.length === 0) return;
    this.registered = true;
    settle(
      this.registerCommands().then((outcomes) => {
        for (const o of outcomes) {
          if (o.action === 'failed') this.emit('log', 'warn', 'discord-bot.errors.command', { name: o.name, scope: o.scope, message: o.error });
          else this.emit('log', 'debug', 'discord-bot.errors.commandDone', { name: o.name, scope: o.scope, action: o.action });
        }
      }),
      (err) => this.emit('log', 'warn', 'discord-bot.errors.command', { name: '*', scope: '*', message: this.clean(err) }),
    );
  }

  // ---- the gateway -----------------------------------------------------------------------------

  private makeClient(): GatewayClient {
    const gc = gatewayClient({
      intents: this.options.intents,
      // DMs arrive only with the channel partial (discord.js has no DM channel cached).
      partials: [Partials.Channel],
      // For anything discord.js itself sends; our own sends name allowed_mentions on every call.
      allowedMentions: { parse: [] },
      rest: { api: this.options.api, timeout: this.options.callTimeoutMs },
      // Messages are read from the raw dispatch; caching them would only cost memory.
      makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0 }),
    });
    const client = gc.client;
    const debug = (err: unknown) => this.emit('log', 'debug', 'discord-bot.errors.sdk', { message: this.clean(err) });
    client.on('error', debug);
    client.on('shardError', debug);
    client.on('warn', debug);
    client.on('shardDisconnect', (event: { code?: number }) => this.gatewayClosed(numberField(event, 'code') ?? 0));
    client.on('shardReconnecting', () => {
      if (!this.fatal) this.setStatus({ state: 'connecting', key: 'reconnecting', params: {} });
    });
    const back = () => {
      if (this.known && this.client === client) this.connected('gateway', this.known);
    };
    client.on('shardResume', back);
    client.on('shardReady', back);
    client.on('raw', (packet: unknown) => this.packet(client, packet));
    return gc;
  }

  private gatewayClosed(code: number): void {
    const key = FATAL_CLOSE[code];
    if (!key) return;
    const params: Record<string, string> = { code: String(code) };
    this.fatalStatus({ state: 'error', key, params, message: `gateway closed with ${code}` });
  }

  /** What a failed login means: a status that is never retried, or undefined (a network failure: retry). */
  private loginFailure(err: unknown): ConnectionStatus | undefined {
    const code = textField(err, 'code');
    const message = textField(err, 'message') ?? '';
    if (code === 'TokenInvalid' || message === 'Authentication failed' || classify(err).kind === 'auth') return { state: 'error', key: 'unauthorized', params: {}, message: 'gateway: the token was refused' };
    if (message === 'Used disallowed intents') return { state: 'error', key: 'disallowedIntents', params: { code: '4014' }, message: 'gateway closed with 4014' };
    if (message === 'Used invalid intents') return { state: 'error', key: 'invalidIntents', params: { code: '4013' }, message: 'gateway closed with 4013' };
    if (['Invalid shard', 'Sharding is required', 'Used an invalid API version'].includes(message)) return { state: 'error', key: 'closed', params: { code: message }, message };
    if (code === 'TokenMissing') return { state: 'error', key: 'unauthorized', params: {}, message: 'gateway: no token' };
    return undefined;
  }

  private async serveGateway(me: BotIdentity, stop: AbortSignal): Promise<void> {
    for (let failures = 0; ; failures++) {
      if (this.fatal) return untilStopped(stop);
      const gc = this.makeClient();
      this.client = gc.client;
      try {
        await this.login(gc.client, stop);
        failures = 0;
        this.connected('gateway', me);
        return await untilStopped(stop);
      } catch (err) {
        if (stop.aborted || err instanceof Stopped) throw new Stopped();
        const fatal = this.loginFailure(err);
        if (fatal) {
          this.fatalStatus(fatal);
          return await untilStopped(stop);
        }
        const backoff = Math.min(this.options.backoffMaxMs, this.options.backoffMinMs * 2 ** Math.min(failures, 16));
        const message = this.clean(err);
        this.setStatus({ state: 'connecting', key: 'retrying', params: { seconds: String(Math.ceil(backoff / 1000)), message }, message });
        await this.destroy(gc);
        await sleep(backoff, stop);
      } finally {
        await this.destroy(gc);
      }
    }
  }

  /** client.login, said in the status when it takes long; a stop ends the wait (the client is then destroyed). */
  private async login(client: Client, stop: AbortSignal): Promise<void> {
    const login = client.login(this.options.token);
    // Raced below; if the stop wins, its later rejection must not be unhandled.
    settle(login);
    const seconds = String(Math.round(this.options.loginTimeoutMs / 100) / 10);
    const slow = setTimeout(() => {
      if (!this.fatal) this.setStatus({ state: 'connecting', key: 'timeout', params: { seconds }, message: `gateway: no READY within ${seconds} s` });
    }, this.options.loginTimeoutMs);
    try {
      await Promise.race([
        login,
        untilStopped(stop).then(() => {
          throw new Stopped();
        }),
      ]);
    } finally {
      clearTimeout(slow);
    }
  }

  private async destroy(gc: GatewayClient): Promise<void> {
    if (this.client === gc.client) this.client = undefined;
    gc.client.removeAllListeners('raw');
    // Bounded: a peer that never completes the close handshake must not hold a redeploy.
    await gc.shutDown(5000);
  }

  private packet(client: Client, packet: unknown): void {
    const t = field(packet, 't');
    const d = field(packet, 'd');
    if (t === 'MESSAGE_CREATE') settle(this.messageArrived(client, d), (err) => this.handlerFailed(err));
    else if (t === 'INTERACTION_CREATE') this.interactionArrived(d, 'gateway');
  }

  private handlerFailed(err: unknown): void {
    this.emit('log', 'error', 'discord-bot.errors.handler', { message: this.clean(err) });
  }

  private async messageArrived(client: Client, d: unknown): Promise<void> {
    const channel = await this.channelOf(client, d);
    await this.dispatch({ source: 'gateway', type: 'MESSAGE_CREATE', data: d, ...(channel ? { channel } : {}) }, (err) => this.handlerFailed(err));
  }

  /** A guild message's channel: discord.js's cache (GUILD_CREATE, THREAD_CREATE), else one REST look-up per channel. */
  private channelOf(client: Client, d: unknown): Promise<ChannelInfo | undefined> {
    const id = textField(d, 'channel_id');
    if (!id || !SNOWFLAKE.test(id)) return Promise.resolve(undefined);
    if (field(d, 'guild_id') === undefined) return Promise.resolve({ id, type: 1 });
    const cached = client.channels.cache.get(id) as { type?: unknown; parentId?: unknown } | undefined;
    if (cached && typeof cached.type === 'number') return Promise.resolve({ id, type: cached.type, ...(typeof cached.parentId === 'string' ? { parentId: cached.parentId } : {}) });
    let known = this.channels.get(id);
    if (!known) {
      known = this.calls
        .call('GET', `/channels/${id}`, { kind: 'read', retries: 1 })
        .then((c) => {
          const type = numberField(c, 'type');
          const parentId = textField(c, 'parent_id');
          return type === undefined ? undefined : { id, type, ...(parentId ? { parentId } : {}) };
        })
        .catch(() => {
          // Not remembered: the next message of the channel asks again.
          this.channels.delete(id);
          return undefined;
        });
      if (this.channels.size >= MAX_CHANNELS) this.channels.delete(this.channels.keys().next().value as string);
      this.channels.set(id, known);
    }
    return known;
  }

  // ---- interactions (gateway and HTTP) ---------------------------------------------------------

  /** Notes an interaction, hands it to the in nodes, and (HTTP) makes sure it is answered within Discord's 3 s. */
  private interactionArrived(d: unknown, source: 'gateway' | 'http', respond?: Respond): void {
    const id = textField(d, 'id');
    const token = textField(d, 'token');
    const type = field(d, 'type');
    if (type === InteractionType.Autocomplete) {
      // We register no autocompleted options; an empty list answers one all the same.
      const body = { type: CallbackType.AutocompleteResult, data: { choices: [] } };
      if (respond) respond(body);
      else if (id && token && SNOWFLAKE.test(id)) settle(this.calls.call('POST', `/interactions/${id}/${token}/callback`, { kind: 'once', auth: false, body }), () => undefined);
      return;
    }
    const ok = id !== undefined && SNOWFLAKE.test(id) && token !== undefined && /^[A-Za-z0-9_.-]{1,1000}$/.test(token);
    let answered = false;
    const answer: Respond | undefined =
      respond &&
      ((body) => {
        answered = true;
        respond(body);
      });
    if (ok) {
      const kind = type === InteractionType.ApplicationCommand ? 'command' : type === InteractionType.MessageComponent ? 'component' : 'other';
      const applicationId = textField(d, 'application_id') ?? this.known?.applicationId ?? '';
      this.interactions.add({ id: id!, applicationId, token: token!, kind, ...(answer ? { respond: answer } : {}) });
    }
    let timer: NodeJS.Timeout | undefined;
    const settleAnswer = () => {
      clearTimeout(timer);
      if (!answer) return;
      if (ok) this.interactions.settle(id!);
      // Nothing to defer with (a malformed interaction), or a replay of a known id (its record
      // answered the first request, not this one): the request is answered all the same, never left open.
      if (!answered) answer({ type: (ok && this.interactions.find(id)?.acked) || CallbackType.DeferredChannelMessage });
    };
    if (respond) timer = setTimeout(settleAnswer, this.options.deferWithinMs ?? 2000);
    settle(this.dispatch({ source, type: 'INTERACTION_CREATE', data: d }, (err) => this.handlerFailed(err)).then(settleAnswer, settleAnswer));
  }

  private mountInteractions(): (() => void) | undefined {
    const http = this.options.http;
    if (!http) return undefined;
    return http.mount(interactionRoute({ key: http.key, onInteraction: (body, respond) => this.interactionArrived(body, 'http', respond) }) as unknown as RouteHandler);
  }
}
