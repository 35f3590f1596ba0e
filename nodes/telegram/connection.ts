/**
 * One live connection to the Telegram Bot API for one bot config node, apart from Node-RED so it
 * can be tested on its own: it checks the token (getMe, with our own timeout, because grammy
 * retries an unreachable API forever), receives updates by long polling (our own supervised loop)
 * or by webhook, and reports every change of state as a status with an i18n key.
 *
 * Why our own poll loop rather than bot.start() or @grammyjs/runner: we need to tell 401 from 409
 * from a network loss in the status, back off on our terms, notice a getUpdates that never answers
 * (a half-open socket behind a NAT) and restart it, and know for certain when the loop has ended,
 * so a redeploy never leaves two pollers on one token.
 *
 * The life cycle every platform shares (start and stop one after another, a status emitted once
 * per change, ready(), the update handlers, one poller per token in the process) is the channel
 * kit's LiveConnection; what is here is Telegram's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, createHmac } from 'node:crypto';
import { autoRetry } from '@grammyjs/auto-retry';
import { apiThrottler } from '@grammyjs/transformer-throttler';
import { Api, Bot, GrammyError, HttpError, webhookCallback } from 'grammy';
import type { Update, UserFromGetMe } from 'grammy/types';
import type { ChannelState } from '../core/channels';
import { errorText, field, numberField, textField, truncate } from '../core/error-text';
import { abortableSleep as sleep, LiveConnection, oneAtATime, Stopped, untilAborted as untilStopped } from '../core/kit/live-connection';
import { redact as redactSecrets } from '../core/redact';
import { telegramAdapter, type WebhookHandler } from './webhook-adapter';
import { NETWORK_RETRY_DEFAULTS, networkRetry } from './network-retry';
import { answerShape } from './answer-shape';

export type TelegramMode = 'polling' | 'webhook';

export interface WebhookOptions {
  /** The public URL Telegram posts to (base URL + path). */
  url: string;
  /** Mounts the handler on the HTTP server; returns the function that unmounts it. */
  mount(handler: WebhookHandler): () => void;
}

export interface ConnectionOptions {
  token: string;
  /** Without trailing slash; undefined = Telegram's own API. */
  apiRoot?: string;
  mode: TelegramMode;
  /** Long-poll timeout in seconds (Telegram holds getUpdates this long when idle). */
  pollTimeoutSec: number;
  /** getMe / setWebhook / deleteWebhook must answer within this. */
  callTimeoutMs: number;
  /** Backoff after a failed poll: min doubles up to max. */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** A poll with no answer after 2 x pollTimeout + this is considered stalled and restarted. */
  stallMarginMs: number;
  /**
   * After a poll that came back empty long before its timeout (a server or proxy that ignores
   * long polling), wait this long before the next, doubling while it keeps happening up to
   * `earlyPollCapMs`. Defaults in DEFAULTS.
   */
  earlyPollFloorMs?: number;
  earlyPollCapMs?: number;
  /** Telegram's published rate limits on `api` (per chat ~1/s, groups 20/min, 30/s overall). */
  throttle: boolean;
  webhook?: WebhookOptions;
  allowedUpdates?: string[];
}

export const DEFAULTS = {
  pollTimeoutSec: 30,
  callTimeoutMs: 15000,
  backoffMinMs: 1000,
  backoffMaxMs: 60000,
  stallMarginMs: 10000,
  earlyPollFloorMs: 50,
  earlyPollCapMs: 1000,
} as const;

/** Empty answers in a row, each long before its timeout, before the status says long polling is not working. */
const EARLY_POLLS_NOTED = 3;

/** A status as every user node shows it: an i18n key under `telegram-bot.status` and its params. */
export interface ConnectionStatus {
  state: ChannelState;
  key: 'stopped' | 'connecting' | 'connected' | 'noLongPoll' | 'webhook' | 'unauthorized' | 'conflict' | 'retrying' | 'stalled' | 'timeout' | 'rateLimited' | 'error' | 'waitingForOther';
  params: Record<string, string>;
  /** A detail for the gateway registry and the log (token already removed). */
  message?: string;
}

export type UpdateHandler = (update: Update) => void | Promise<void>;

/** Removes the token (and every registered secret) from any text that may carry a request URL (node-fetch errors do). */
export function redact(text: string, token: string): string {
  const own = token ? text.split(token).join('<token>').split(encodeURIComponent(token)).join('<token>') : text;
  return redactSecrets(own);
}

/** Pollers per token in this process: a new loop waits until the previous one has really ended. */
const pollers = new Map<string, Promise<void>>();

function tokenKey(token: string, apiRoot: string | undefined): string {
  return createHash('sha256').update(`${apiRoot ?? ''}\n${token}`).digest('hex');
}

/** A lease name's tail: the token's hash, so the name (readable in Redis) never carries the token. */
function leaseTail(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** grammy types its signals with the abort-controller polyfill; Node's own AbortSignal is what it gets at run time. */
type ApiSignal = NonNullable<Parameters<Api['getMe']>[0]>;

/** Runs `call` with an abort signal that fires after `ms` or when `outer` aborts. */
async function withTimeout<T>(ms: number, outer: AbortSignal, call: (signal: ApiSignal) => Promise<T>): Promise<{ value: T } | { timedOut: true }> {
  const ac = new AbortController();
  let timedOut = false;
  const t = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, ms);
  const onOuter = () => ac.abort();
  outer.addEventListener('abort', onOuter, { once: true });
  try {
    return { value: await call(ac.signal as unknown as ApiSignal) };
  } catch (err) {
    if (outer.aborted) throw new Stopped();
    if (timedOut) return { timedOut: true };
    throw err;
  } finally {
    clearTimeout(t);
    outer.removeEventListener('abort', onOuter);
  }
}

export declare interface TelegramConnection {
  on(event: 'status', listener: (status: ConnectionStatus) => void): this;
  on(event: 'ready', listener: (botInfo: UserFromGetMe) => void): this;
  /** An error worth a log line (already redacted); the status says the same in short. */
  on(event: 'log', listener: (level: 'warn' | 'error', key: string, params: Record<string, string>) => void): this;
}

export class TelegramConnection extends LiveConnection<ConnectionStatus, UserFromGetMe, Update> {
  /** For sending: auto-retry (retry_after, 5xx, network) and, unless turned off, the throttler. */
  readonly api: Api;
  /** The same bot without retries or throttling: for lifecycle calls that have their own policy. */
  readonly rawApi: Api;
  private readonly bot: Bot;
  /** The next run is a standby: the webhook stays registered for the instance that holds the lease now. */
  private keepWebhook = false;

  constructor(readonly options: ConnectionOptions) {
    super({ state: 'stopped', key: 'stopped', params: {} });
    const client = options.apiRoot ? { apiRoot: options.apiRoot } : {};
    this.bot = new Bot(options.token, { client });
    this.rawApi = new Api(options.token, client);
    this.api = this.bot.api;
    // Order matters (the last installed runs outermost): answers are checked next to the network,
    // the throttler schedules, and each scheduled call retries inside its slot.
    this.api.config.use(answerShape());
    this.rawApi.config.use(answerShape());
    if (options.throttle) this.api.config.use(apiThrottler());
    // auto-retry keeps retry_after and 5xx; network errors go to networkRetry (network-retry.ts says why).
    this.api.config.use(autoRetry({ maxRetryAttempts: 5, maxDelaySeconds: 60, rethrowHttpErrors: true }));
    this.api.config.use(networkRetry({ ...NETWORK_RETRY_DEFAULTS, delayMs: options.backoffMinMs }));
    this.bot.use(async (ctx) => {
      await this.handOut(ctx.update);
    });
    this.bot.catch(() => undefined); // handOut never throws; this only guards grammy itself
  }

  /**
   * Among instances sharing a gateway: one polls a token (two pollers get 409 from Telegram), and
   * one registers the webhook (every instance serves it: Telegram posts to the load balancer).
   */
  override get lease(): string {
    return `${this.options.mode === 'webhook' ? 'telegram-webhook' : 'telegram-poll'}:${leaseTail(this.options.token)}`;
  }

  override start(receive: boolean, standby = false): Promise<void> {
    this.keepWebhook = receive && standby;
    return super.start(receive, standby);
  }

  /** The bot's own user (id, username...) once getMe answered. */
  get botInfo(): UserFromGetMe | undefined {
    return this.known;
  }

  /** Receives every update (polling or webhook); returns the function that removes the handler. */
  onUpdate(handler: UpdateHandler): () => void {
    return this.subscribe(handler);
  }

  private handOut(update: Update): Promise<void> {
    return this.dispatch(update, (err) => this.emit('log', 'error', 'telegram-bot.errors.handler', { message: this.clean(err) }));
  }

  /** One token-free line for any failure; never throws (it runs in rejection handlers). */
  private clean(err: unknown): string {
    let text: string;
    if (err instanceof GrammyError) {
      const code = numberField(err, 'error_code');
      text = `${code ?? '?'}: ${textField(err, 'description') ?? 'an error of an unexpected shape'}`;
    } else if (err instanceof HttpError) text = `${errorText(err)} ${errorText(field(err, 'error'))}`;
    else text = errorText(err);
    return truncate(redact(text.trim(), this.options.token), 300);
  }

  protected failed(err: unknown): void {
    const message = this.clean(err);
    this.setStatus({ state: 'error', key: 'error', params: { message }, message });
    this.emit('log', 'error', 'telegram-bot.errors.failed', { message });
  }

  /** Classifies a failed call: fatal (401), its own status, and how long to wait before the next try. */
  private classify(err: unknown, failures: number): { fatal: boolean; status: ConnectionStatus; waitMs: number } {
    const backoff = Math.min(this.options.backoffMaxMs, this.options.backoffMinMs * 2 ** Math.min(failures, 16));
    const message = this.clean(err);
    if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
      // Telegram answers 404 for a token of the wrong shape; both mean the token is wrong.
      return { fatal: true, status: { state: 'error', key: 'unauthorized', params: {}, message }, waitMs: 0 };
    }
    if (err instanceof GrammyError && err.error_code === 409) {
      return { fatal: false, status: { state: 'error', key: 'conflict', params: {}, message }, waitMs: Math.max(backoff, this.options.backoffMinMs * 2) };
    }
    if (err instanceof GrammyError && err.error_code === 429) {
      // A proxy may send retry_after as text or leave it out; a wait of NaN would poll in a hot loop.
      const seconds = Math.min(3600, Math.max(1, numberField(field(err, 'parameters'), 'retry_after') ?? 1));
      return { fatal: false, status: { state: 'connecting', key: 'rateLimited', params: { seconds: String(seconds) }, message }, waitMs: seconds * 1000 };
    }
    return {
      fatal: false,
      status: { state: 'connecting', key: 'retrying', params: { seconds: String(Math.ceil(backoff / 1000)), message }, message },
      waitMs: backoff,
    };
  }

  protected async run(receive: boolean, stop: AbortSignal, standby: boolean): Promise<void> {
    this.setStatus({ state: 'connecting', key: 'connecting', params: {} });
    const me = await this.identify(stop);
    if (!me) return;
    // On standby another instance polls; this one sends, and takes over when it gets the lease.
    if (!receive || (standby && this.options.mode === 'polling')) return this.connected(me, 'connected');
    if (this.options.mode === 'webhook') return this.serveWebhook(me, stop, !standby);
    return this.poll(me, stop);
  }

  private connected(me: UserFromGetMe, key: 'connected' | 'noLongPoll' | 'webhook'): void {
    this.setStatus({ state: 'connected', key, params: { username: me.username } });
  }

  /** getMe with our timeout and backoff; undefined when the token is refused. */
  private async identify(stop: AbortSignal): Promise<UserFromGetMe | undefined> {
    for (let failures = 0; ; failures++) {
      try {
        const r = await withTimeout(this.options.callTimeoutMs, stop, (signal) => this.rawApi.getMe(signal));
        if ('value' in r) {
          this.bot.botInfo = r.value;
          this.identified(r.value);
          return r.value;
        }
        const seconds = String(Math.round(this.options.callTimeoutMs / 100) / 10);
        this.setStatus({ state: 'error', key: 'timeout', params: { seconds }, message: `getMe: no answer within ${seconds} s` });
        await sleep(this.classify(new Error('timeout'), failures).waitMs, stop);
      } catch (err) {
        if (err instanceof Stopped) throw err;
        const c = this.classify(err, failures);
        this.setStatus(c.status);
        if (c.fatal) {
          this.emit('log', 'error', `telegram-bot.status.${c.status.key}`, c.status.params);
          return undefined;
        }
        await sleep(c.waitMs, stop);
      }
    }
  }

  private poll(me: UserFromGetMe, stop: AbortSignal): Promise<void> {
    const key = tokenKey(this.options.token, this.options.apiRoot);
    return oneAtATime(pollers, key, stop, () => this.setStatus({ state: 'connecting', key: 'waitingForOther', params: {} }), () => this.pollLoop(me, stop));
  }

  private async pollLoop(me: UserFromGetMe, stop: AbortSignal): Promise<void> {
    const o = this.options;
    // A webhook left behind by an earlier webhook-mode deploy would make every getUpdates a 409.
    for (let failures = 0; ; failures++) {
      try {
        const r = await withTimeout(o.callTimeoutMs, stop, (signal) => this.rawApi.deleteWebhook({}, signal));
        if ('value' in r) break;
        await sleep(o.backoffMinMs, stop);
      } catch (err) {
        if (err instanceof Stopped) throw err;
        const c = this.classify(err, failures);
        this.setStatus(c.status);
        if (c.fatal) return;
        await sleep(c.waitMs, stop);
      }
    }
    let offset = 0;
    let failures = 0;
    let connected = false;
    /** Polls in a row that brought nothing new and came back long before their timeout. */
    let early = 0;
    const floorMs = o.earlyPollFloorMs ?? DEFAULTS.earlyPollFloorMs;
    const capMs = Math.max(floorMs, o.earlyPollCapMs ?? DEFAULTS.earlyPollCapMs);
    const stallMs = o.pollTimeoutSec * 2000 + o.stallMarginMs;
    while (!stop.aborted) {
      try {
        // Until a poll has answered, ask for an immediate answer, so the status turns connected at once.
        const asked = connected ? o.pollTimeoutSec : 0;
        const started = Date.now();
        const r = await withTimeout(stallMs, stop, (signal) =>
          this.rawApi.getUpdates({ offset, timeout: asked, limit: 100, ...(o.allowedUpdates ? { allowed_updates: o.allowedUpdates as never } : {}) }, signal),
        );
        if (!('value' in r)) {
          // No answer for twice the long-poll time: the socket is dead though nobody said so.
          connected = false;
          this.setStatus({ state: 'connecting', key: 'stalled', params: {}, message: `no getUpdates answer within ${Math.round(stallMs / 1000)} s` });
          this.emit('log', 'warn', 'telegram-bot.status.stalled', {});
          continue;
        }
        failures = 0;
        if (!connected) {
          connected = true;
          this.connected(me, 'connected');
        }
        const before = offset;
        for (const update of r.value as unknown[]) {
          if (stop.aborted) break;
          // Only a real update_id moves the offset: "5" + 1 is "51", and undefined + 1 confirms nothing.
          const id = (update as { update_id?: unknown } | null)?.update_id;
          if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) offset = id + 1;
          // grammy cannot take a non-object; the in nodes still see it, to count and report it.
          if (update === null || typeof update !== 'object') await this.handOut(update as Update);
          else await this.bot.handleUpdate(update as Update).catch(() => undefined);
        }
        if (offset !== before) {
          early = 0;
        } else if (asked > 0 ? Date.now() - started < asked * 500 : o.pollTimeoutSec === 0) {
          // Nothing new, at once: a server or proxy that ignores `timeout` (or a long poll of 0 s) would
          // otherwise be asked hundreds of times a second. Updates still come within the cap.
          early += 1;
          if (asked > 0 && early >= EARLY_POLLS_NOTED && r.value.length === 0) this.connected(me, 'noLongPoll');
          await sleep(Math.min(capMs, floorMs * 2 ** Math.min(early - 1, 16)), stop);
        } else {
          // The poll was held until (about) its timeout: long polling works.
          early = 0;
          if (this.status.key === 'noLongPoll') this.connected(me, 'connected');
        }
      } catch (err) {
        if (err instanceof Stopped || stop.aborted) break;
        connected = false;
        const c = this.classify(err, failures++);
        this.setStatus(c.status);
        if (c.fatal) {
          this.emit('log', 'error', `telegram-bot.status.${c.status.key}`, c.status.params);
          return;
        }
        if (c.status.key === 'conflict') this.emit('log', 'warn', 'telegram-bot.status.conflict', {});
        await sleep(c.waitMs, stop).catch(() => undefined);
      }
    }
    // Confirm what we handled, so the next poller (or a restart) does not get it again.
    if (offset > 0) {
      await withTimeout(2000, new AbortController().signal, (signal) => this.rawApi.getUpdates({ offset, timeout: 0, limit: 1 }, signal)).catch(() => undefined);
    }
  }

  /**
   * Serves the webhook route; `register` (the lease holder, or the only instance) also tells
   * Telegram where to post, and takes that back when it stops for good.
   */
  private async serveWebhook(me: UserFromGetMe, stop: AbortSignal, register: boolean): Promise<void> {
    const hook = this.options.webhook;
    if (!hook) throw new Error('webhook mode needs a webhook URL');
    // The same on every instance running the flow (derived from the token and the URL), so
    // whichever instance a load balancer hands Telegram's post to can check it; it changes with
    // the token or the URL, and only someone holding the token could derive it.
    const secretToken = createHmac('sha256', this.options.token).update(`chatgate telegram webhook\n${hook.url}`).digest('hex');
    const callback = webhookCallback(this.bot, telegramAdapter as (req: IncomingMessage, res: ServerResponse) => ReturnType<typeof telegramAdapter>, { secretToken, onTimeout: 'return', timeoutMilliseconds: 10000 });
    // grammy's typing of the adapter's handlerReturn is loose; at run time the callback resolves with nothing.
    const unmount = hook.mount(callback as unknown as WebhookHandler);
    try {
      for (let failures = 0; register; failures++) {
        try {
          const r = await withTimeout(this.options.callTimeoutMs, stop, (signal) =>
            this.rawApi.setWebhook(hook.url, { secret_token: secretToken, ...(this.options.allowedUpdates ? { allowed_updates: this.options.allowedUpdates as never } : {}) }, signal),
          );
          if ('value' in r) break;
          await sleep(this.options.backoffMinMs, stop);
        } catch (err) {
          if (err instanceof Stopped) throw err;
          const c = this.classify(err, failures);
          this.setStatus(c.status);
          if (c.fatal || (err instanceof GrammyError && err.error_code === 400)) {
            if (!c.fatal) this.setStatus({ state: 'error', key: 'error', params: { message: c.status.message ?? '' }, message: c.status.message });
            this.emit('log', 'error', 'telegram-bot.errors.setWebhook', { message: c.status.message ?? '' });
            await untilStopped(stop);
            return;
          }
          await sleep(c.waitMs, stop);
        }
      }
      this.connected(me, 'webhook');
      await untilStopped(stop);
    } finally {
      unmount();
      // Telegram would keep posting to a route that no longer exists; tell it to stop, unless
      // this instance only goes on standby (the one that took the lease keeps the webhook).
      if (register && !this.keepWebhook) await withTimeout(5000, new AbortController().signal, (signal) => this.rawApi.deleteWebhook({}, signal)).catch(() => undefined);
    }
  }
}
