/**
 * Redis, for several Node-RED instances running the same flow: every thread, listener,
 * de-duplication key, allowlist, memory and history entry lives in Redis under
 * `chatgate:<gateway id>:`, so whichever instance a message reaches sees the same state. The
 * allowlists are mirrored locally (the filter checks every message at once); leases make one
 * instance the poller of a bot token; a bus carries replies to the instance holding a socket.
 * While Redis is away, messages wait (ioredis queues them) or fail with the reason — the
 * operator's choice — and everything resumes by itself when it is back.
 */
import { safeError } from '../../core/redact';
import { createRedisClient, redactRedisUrl, RedisState, type OutagePolicy } from '../../core/store/redis-state';
import type { LinkContext, MessageBus, StoreHealth, StoreLink } from './store-link';

export interface RedisChoice {
  url: string;
  policy: OutagePolicy;
  /** Key prefix; instances running the same flow share it (the gateway id is stable). */
  prefix: string;
}

/** How long the first start waits before the gateway serves (queueing or failing) without it. */
const START_WAIT_MS = 10_000;
const RETRY_START_MS = 5_000;
const COUNT_EVERY_MS = 5_000;

/** `redis://user:pw@host:6379/2` -> `redis host:6379/2`: what the operator may see. */
export function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    return `redis ${u.host}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return `redis ${redactRedisUrl(url)}`;
  }
}

/** Throws a clear error for a URL the Redis store cannot use (ioredis would take `ftp://x` as a host and retry forever). */
export function checkRedisUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('not a URL: expected redis://host:6379 or rediss://host:6380');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`${u.protocol} is not redis: or rediss:`);
  if (!u.hostname) throw new Error('no host in the Redis URL');
}

export class RedisLink implements StoreLink {
  readonly description: string;
  private readonly redis: RedisState;
  private readonly bus_: MessageBus;
  private count = 0;
  private countTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private wasDown = false;

  constructor(
    private readonly ctx: LinkContext,
    private readonly choice: RedisChoice,
  ) {
    checkRedisUrl(choice.url);
    this.description = describeRedis(choice.url);
    const client = createRedisClient(choice.url, choice.policy);
    this.redis = new RedisState({
      client,
      prefix: choice.prefix,
      settings: ctx.state.settings,
      onError: (err) => ctx.warn(safeError(err).message),
    });
    // Every message in and out goes to the shared history (the state's logMessage writes there).
    ctx.state.history = this.redis.history;
    this.bus_ = {
      publish: (topic, message) => this.redis.publish(topic, message),
      subscribe: (topic, handler) => this.redis.subscribe(topic, handler),
      subscribed: (topic) => this.redis.subscribed(topic),
    };
    this.redis.onStatus((status) => this.statusChanged(status));
  }

  get ops() {
    return this.redis;
  }
  get allowlists() {
    return this.redis.allowlists;
  }
  get history() {
    return this.redis.history;
  }
  get bus(): MessageBus {
    return this.bus_;
  }

  health(): StoreHealth {
    return this.redis.status();
  }

  threadCount(): number {
    return this.count;
  }

  private statusChanged(status: StoreHealth): void {
    if (status === 'down' && !this.wasDown && !this.closed) {
      this.wasDown = true;
      const policy = this.ctx.t(`gateway.redisPolicy.${this.choice.policy}`);
      this.ctx.warn(this.ctx.t('gateway.errors.redisDown', { message: this.redis.lastError ?? 'connection lost', policy }));
    } else if (status === 'ready' && this.wasDown) {
      this.wasDown = false;
      this.ctx.log(this.ctx.t('gateway.log.redisBack'));
    }
  }

  /**
   * Starts the shared state; serves after at most START_WAIT_MS even when Redis is away (messages
   * then wait or fail by the policy), and keeps trying to start in the background.
   */
  async open(): Promise<void> {
    const started = this.start();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([started, new Promise<void>((resolve) => (timer = setTimeout(resolve, START_WAIT_MS)))]);
    clearTimeout(timer);
    this.countTimer = setInterval(() => this.refreshCount(), COUNT_EVERY_MS);
    this.countTimer.unref?.();
    this.refreshCount();
  }

  private start(): Promise<void> {
    return this.redis.start().then(
      () => undefined,
      (err: unknown) => {
        if (this.closed) return;
        this.ctx.warn(this.ctx.t('gateway.errors.redisDown', { message: safeError(err).message, policy: this.ctx.t(`gateway.redisPolicy.${this.choice.policy}`) }));
        this.retryTimer = setTimeout(() => void this.start(), RETRY_START_MS);
        this.retryTimer.unref?.();
      },
    );
  }

  private refreshCount(): void {
    if (this.redis.status() !== 'ready') return;
    this.redis.threadCount().then(
      (n) => {
        this.count = n;
      },
      () => undefined,
    );
  }

  sweep(): void {
    if (this.redis.status() === 'ready') this.redis.sweep();
  }

  exclusive(name: string, onChange: (held: boolean) => void): () => void {
    const lease = this.redis.lease(name, { onChange });
    lease.start();
    return () => void lease.stop();
  }

  async flush(): Promise<void> {
    await this.redis.history.drain();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.countTimer);
    clearTimeout(this.retryTimer);
    await this.redis.close();
  }
}
