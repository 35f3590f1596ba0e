/**
 * One live Slack app for one slack app config node, apart from Node-RED so it can be tested on its
 * own: it checks the bot token (auth.test, with our own timeout and backoff), receives events over
 * Socket Mode or the HTTP Events API through a Bolt App, sends through one web client whose own
 * retries are off (web-calls.ts says why), and reports every change of state as a status with an
 * i18n key.
 *
 * One app per config node id in the process: a new start (a redeploy, a restart of the flows)
 * waits until the previous app of the same id has closed its socket for good, so Slack never sees
 * two sockets of one deploy (it hands each envelope to ONE open socket; a ghost socket swallows a
 * share of the events).
 */
import { App, ExpressReceiver, LogLevel, webApi, type Logger } from '@slack/bolt';
import type { ChannelState } from '../core/channels';
import { errorText, field, textField, truncate } from '../core/error-text';
import { abortableSleep as sleep, LiveConnection, oneAtATime, Stopped, untilAborted as untilStopped } from '../core/kit/live-connection';
import { redact } from '../core/redact';
import { classify, type Failure } from './send-errors';
import { GuardedSocket } from './socket-mode';
import { ThreadMemory } from './threads';
import { WebCalls } from './web-calls';
import type { SlackMode } from './settings';

/** An HTTP route handler on Node-RED's server (express 4 or 5 request and response). */
export type RouteHandler = (req: never, res: never) => void;

export interface ConnectionOptions {
  /** The config node's id: one app per id at a time in the process. */
  id: string;
  token: string;
  appToken?: string;
  signingSecret?: string;
  mode: SlackMode;
  slackApiUrl: string;
  callTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  pingTimeoutMs: number;
  maxRateWaitMs: number;
  /** HTTP mode: the route path (for the status) and how to mount Bolt's router on it. */
  http?: { path: string; mount(handler: RouteHandler): () => void };
}

/** A status as every user node shows it: an i18n key under `slack-app.status` and its params. */
export interface ConnectionStatus {
  state: ChannelState;
  key:
    | 'stopped'
    | 'connecting'
    | 'connected'
    | 'socket'
    | 'listening'
    | 'reconnecting'
    | 'unauthorized'
    | 'appTokenRefused'
    | 'missingScope'
    | 'retrying'
    | 'timeout'
    | 'waitingForOther'
    | 'error';
  params: Record<string, string>;
  /** A detail for the gateway registry and the log (secrets already removed). */
  message?: string;
}

export interface BotIdentity {
  userId: string;
  botId: string;
  teamId: string;
  name: string;
}

/** What reaches in nodes: Slack's own body of an event callback, a slash command or an interactive payload. */
export interface RawInbound {
  kind: 'event' | 'command' | 'action';
  body: unknown;
  /** Socket Mode `retry_attempt` / Events API `X-Slack-Retry-Num` (de-duplication makes them harmless). */
  retryNum?: number;
}

export type InboundHandler = (inbound: RawInbound) => void | Promise<void>;

/** Scopes without which no reply can be sent; the others are named by the call that needs them. */
const REQUIRED_SCOPES = ['chat:write'];

/** Apps per config node id in this process: a new one waits until the previous has closed. */
const running = new Map<string, Promise<void>>();

export declare interface SlackConnection {
  on(event: 'status', listener: (status: ConnectionStatus) => void): this;
  on(event: 'ready', listener: (identity: BotIdentity) => void): this;
  /** An error worth a log line (already redacted); `debug` for what the SDK itself logs. */
  on(event: 'log', listener: (level: 'warn' | 'error' | 'debug', key: string, params: Record<string, string>) => void): this;
}

export class SlackConnection extends LiveConnection<ConnectionStatus, BotIdentity, RawInbound> {
  /** Every Web API call of the app (sends, edits, status, uploads) with our retry policy. */
  readonly calls: WebCalls;
  /** Threads the bot takes part in (shared by the app's in and out nodes). */
  readonly threads = new ThreadMemory();
  /** Set false once Slack refuses the assistant status or native streaming for this app. */
  readonly features = { assistant: true, nativeStream: true };
  private fatal: ConnectionStatus | undefined;
  private readonly logger: Logger;

  constructor(readonly options: ConnectionOptions) {
    super({ state: 'stopped', key: 'stopped', params: {} });
    this.logger = this.sdkLogger();
    const client = (timeout: number) =>
      new webApi.WebClient(options.token, {
        slackApiUrl: options.slackApiUrl,
        // Never repeat a request by itself (it may post a reply twice), never pause every channel on a 429.
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        timeout,
        logger: this.logger,
      });
    this.calls = new WebCalls(
      client(options.callTimeoutMs) as unknown as ConstructorParameters<typeof WebCalls>[0],
      {
        maxRateWaitMs: options.maxRateWaitMs,
        retryMinMs: Math.min(options.backoffMinMs, 1000),
        retries: 3,
        onFatal: (f, method) => this.fatalCall(f, method),
      },
      client(Math.max(options.callTimeoutMs, 300_000)) as unknown as ConstructorParameters<typeof WebCalls>[0],
    );
  }

  /** The bot's identity once auth.test answered. */
  get identity(): BotIdentity | undefined {
    return this.known;
  }

  /** Receives every event, command and action (in nodes); returns the function that removes the handler. */
  onInbound(handler: InboundHandler): () => void {
    return this.subscribe(handler);
  }

  protected override starting(): void {
    this.calls.reopen();
  }

  /** On the last user's stop: calls waiting out a 429 or a backoff end now. */
  protected override stopping(): void {
    this.calls.close();
  }

  /** One secret-free line for any failure; never throws. */
  private clean(err: unknown): string {
    const f = classify(err);
    const text = f.kind === 'refused' ? `${f.error}${f.detail ? ` (${f.detail})` : ''}` : f.kind === 'auth' ? f.error : errorText(err);
    return truncate(redact(text.trim(), [this.options.token, this.options.appToken, this.options.signingSecret]), 300);
  }

  protected failed(err: unknown): void {
    const message = this.clean(err);
    this.setStatus({ state: 'error', key: 'error', params: { message }, message });
    this.emit('log', 'error', 'slack-app.errors.failed', { message });
  }

  /** A send found the token refused or a scope missing: every node's status says so until the next deploy. */
  private fatalCall(f: Failure & { kind: 'auth' | 'scope' }, method: string): void {
    const status: ConnectionStatus =
      f.kind === 'auth'
        ? { state: 'error', key: 'unauthorized', params: { error: f.error }, message: `${method}: ${f.error}` }
        : { state: 'error', key: 'missingScope', params: { scope: f.needed ?? '?', method }, message: `${method}: missing_scope ${f.needed ?? ''}`.trim() };
    this.fatal = status;
    this.setStatus(status);
    this.emit('log', 'error', `slack-app.status.${status.key}`, status.params);
  }

  protected async run(receive: boolean, stop: AbortSignal): Promise<void> {
    await oneAtATime(running, this.options.id, stop, () => this.setStatus({ state: 'connecting', key: 'waitingForOther', params: {} }), async () => {
      this.setStatus({ state: 'connecting', key: 'connecting', params: {} });
      const me = await this.identify(stop);
      if (!me) return;
      if (!receive) {
        this.connected('connected', me);
        return untilStopped(stop);
      }
      if (this.options.mode === 'http') return this.serveEventsApi(me, stop);
      return this.serveSocket(me, stop);
    });
  }

  private connected(key: 'connected' | 'socket' | 'listening', me: BotIdentity): void {
    if (this.fatal) return this.setStatus(this.fatal);
    this.setStatus({ state: 'connected', key, params: { name: me.name, ...(this.options.http ? { path: this.options.http.path } : {}) } });
  }

  /** auth.test with our timeout and backoff; undefined when the token is refused. */
  private async identify(stop: AbortSignal): Promise<BotIdentity | undefined> {
    if (this.known) return this.known;
    for (let failures = 0; ; failures++) {
      try {
        // Our own loop below retries (with a status); the calls' quick retries would only hide it.
        const r = await this.calls.call('auth.test', {}, { idempotent: true, retries: 0 });
        const me: BotIdentity = {
          userId: textField(r, 'user_id') ?? '',
          botId: textField(r, 'bot_id') ?? '',
          teamId: textField(r, 'team_id') ?? '',
          name: textField(r, 'user') ?? 'bot',
        };
        if (!me.userId) throw new Error('auth.test answered without user_id');
        this.checkScopes(field(field(r, 'response_metadata'), 'scopes'));
        this.identified(me);
        return me;
      } catch (err) {
        if (stop.aborted || err instanceof Stopped) throw new Stopped();
        const f = classify(err);
        if (f.kind === 'auth') {
          // fatalCall has set the status; nothing is retried with a token Slack refused.
          return undefined;
        }
        const backoff = Math.min(this.options.backoffMaxMs, this.options.backoffMinMs * 2 ** Math.min(failures, 16));
        const message = this.clean(err);
        if (f.kind === 'unknown' && f.detail === 'TimeoutError') {
          const seconds = String(Math.round(this.options.callTimeoutMs / 100) / 10);
          this.setStatus({ state: 'error', key: 'timeout', params: { seconds }, message: `auth.test: no answer within ${seconds} s` });
        } else {
          this.setStatus({ state: 'connecting', key: 'retrying', params: { seconds: String(Math.ceil(backoff / 1000)), message }, message });
        }
        await sleep(backoff, stop);
      }
    }
  }

  private checkScopes(scopes: unknown): void {
    // Slack sends the token's scopes in a header; a server that does not is not judged.
    if (!Array.isArray(scopes)) return;
    const missing = REQUIRED_SCOPES.filter((s) => !scopes.includes(s));
    if (missing.length) this.fatalCall({ kind: 'scope', needed: missing.join(',') }, 'auth.test');
  }

  /** Builds the Bolt app on a receiver; events, commands and actions reach the handlers. */
  private boltApp(me: BotIdentity, receiver: NonNullable<NonNullable<ConstructorParameters<typeof App>[0]>['receiver']>): App {
    const app = new App({
      token: this.options.token,
      botId: me.botId,
      botUserId: me.userId,
      receiver,
      // Bolt's own client is not used for sends (that is this.calls); its own options object, never shared.
      clientOptions: { slackApiUrl: this.options.slackApiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: this.options.callTimeoutMs },
      logger: this.logger,
      convoStore: false,
      ignoreSelf: true,
    });
    app.use(async (args) => {
      const a = args as unknown as { body: unknown; ack?: () => Promise<void>; event?: unknown; command?: unknown; action?: unknown; context?: { retryNum?: number } };
      // Commands and button presses are acknowledged at once (Slack wants it within 3 s); the
      // flow's answer comes later as a message. Events are acknowledged by Bolt before this runs.
      if (a.ack) {
        try {
          await a.ack();
        } catch {
          // the socket went away; Slack shows the user the command failed, nothing to undo
        }
      }
      const kind: RawInbound['kind'] | undefined = a.event !== undefined ? 'event' : a.command !== undefined ? 'command' : a.action !== undefined ? 'action' : undefined;
      // Views, shortcuts and the like are acknowledged and otherwise left alone.
      if (!kind) return;
      const inbound: RawInbound = { kind, body: a.body, ...(typeof a.context?.retryNum === 'number' ? { retryNum: a.context.retryNum } : {}) };
      await this.dispatch(inbound, (err) => this.emit('log', 'error', 'slack-app.errors.handler', { message: this.clean(err) }));
    });
    app.error(async () => undefined);
    return app;
  }

  private async serveSocket(me: BotIdentity, stop: AbortSignal): Promise<void> {
    const appToken = this.options.appToken ?? '';
    let retryTimer: NodeJS.Timeout | undefined;
    let failures = 0;
    let reconnecting = false;
    const socket = new GuardedSocket({
      appToken,
      slackApiUrl: this.options.slackApiUrl,
      pingTimeoutMs: this.options.pingTimeoutMs,
      logger: this.logger,
      urlRetries: 3,
      onState: (s) => {
        if (s === 'connected') {
          failures = 0;
          reconnecting = false;
          return this.connected('socket', me);
        }
        if (s === 'reconnecting') reconnecting = true;
        if (this.fatal) return;
        this.setStatus({ state: 'connecting', key: reconnecting ? 'reconnecting' : 'connecting', params: {} });
      },
      onStartFailure: (err) => {
        const f = classify(err);
        const message = this.clean(err);
        if (f.kind === 'auth') {
          // The app-level token is refused: say so and stop; retrying cannot help.
          this.setStatus({ state: 'error', key: 'appTokenRefused', params: { error: f.error }, message });
          this.emit('log', 'error', 'slack-app.status.appTokenRefused', { error: f.error });
          return;
        }
        if (f.kind === 'scope') {
          this.setStatus({ state: 'error', key: 'missingScope', params: { scope: f.needed ?? 'connections:write', method: 'apps.connections.open' }, message });
          return;
        }
        const backoff = Math.min(this.options.backoffMaxMs, this.options.backoffMinMs * 2 ** Math.min(failures++, 16));
        this.setStatus({ state: 'connecting', key: 'retrying', params: { seconds: String(Math.ceil(backoff / 1000)), message }, message });
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => socket.start(), backoff);
      },
      processEventErrorHandler: async ({ error }) => {
        this.emit('log', 'debug', 'slack-app.errors.sdk', { message: this.clean(error) });
        return false;
      },
    });
    this.boltApp(me, socket.receiver);
    try {
      socket.start();
      await untilStopped(stop);
    } finally {
      clearTimeout(retryTimer);
      await socket.close();
    }
  }

  private async serveEventsApi(me: BotIdentity, stop: AbortSignal): Promise<void> {
    const http = this.options.http;
    if (!http) throw new Error('HTTP mode needs a route');
    const receiver = new ExpressReceiver({
      signingSecret: this.options.signingSecret ?? '',
      endpoints: http.path,
      logger: this.logger,
      processBeforeResponse: false,
      processEventErrorHandler: async ({ error }) => {
        this.emit('log', 'debug', 'slack-app.errors.sdk', { message: this.clean(error) });
        return false;
      },
    });
    this.boltApp(me, receiver);
    const router = receiver.router as unknown as (req: unknown, res: unknown, next: (err?: unknown) => void) => void;
    const unmount = http.mount(((req: unknown, res: unknown) => {
      router(req, res, (err?: unknown) => {
        const r = res as { headersSent?: boolean; statusCode: number; end(): void };
        if (err) this.emit('log', 'debug', 'slack-app.errors.sdk', { message: this.clean(err) });
        if (r.headersSent) return;
        r.statusCode = err ? 500 : 404;
        r.end();
      });
    }) as RouteHandler);
    try {
      this.connected('listening', me);
      await untilStopped(stop);
    } finally {
      unmount();
    }
  }

  /** Bolt's, the web clients' and the socket client's logs: warnings and errors only, redacted, at debug level. */
  private sdkLogger(): Logger {
    let level = LogLevel.WARN;
    let name = 'slack';
    const out = (args: unknown[]) => {
      const message = this.clean(args.map((a) => (typeof a === 'string' ? a : errorText(a))).join(' '));
      this.emit('log', 'debug', 'slack-app.errors.sdk', { message: `${name}: ${message}` });
    };
    return {
      debug: () => undefined,
      info: () => undefined,
      warn: (...args: unknown[]) => out(args),
      error: (...args: unknown[]) => out(args),
      setLevel: (l: LogLevel) => {
        level = l;
      },
      getLevel: () => level,
      setName: (n: string) => {
        name = n;
      },
    };
  }
}
