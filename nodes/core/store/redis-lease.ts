/**
 * A lease in Redis: of the instances sharing a gateway, one holds it and does the work that must
 * run once (long-polling Telegram, a platform's socket, a timer). The holder renews it well inside
 * its TTL; when the holder dies, the key expires and another instance takes it on its next try,
 * within ttl + renew interval. A holder that cannot renew in time gives it up at once rather than
 * risk two instances both believing they hold it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

export interface LeaseOptions {
  /** How long the key lives without renewal (ms). */
  ttlMs?: number;
  /** How often the holder renews and the others try to take it (ms); at most a third of ttlMs. */
  renewMs?: number;
  /** Called on every change, with false as soon as the lease is lost or given up. */
  onChange?: (held: boolean) => void;
  /** A failed attempt or a throwing onChange; the lease carries on. */
  onError?: (err: Error) => void;
}

export const DEFAULT_LEASE_TTL_MS = 10_000;
export const DEFAULT_LEASE_RENEW_MS = 3_000;

// redis.pcall: a foreign value under the name (another type) is "not ours", never an error.
const RENEW = `
local v = redis.pcall('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `
local v = redis.pcall('GET', KEYS[1])
if v == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** `promise`, or undefined after `ms` (a command queued while Redis is away must not hold us up). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref?.();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export class RedisLease {
  /** What this holder writes under the name: unique per lease object, readable in redis-cli. */
  readonly token = `${hostname()}:${process.pid}:${randomBytes(9).toString('base64url')}`;
  readonly ttlMs: number;
  readonly renewMs: number;
  private heldNow = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** The attempt under way; at most one, so a Redis that is away never piles commands up. */
  private attempt: Promise<void> | undefined;
  private readonly onChange: (held: boolean) => void;
  private readonly onError: (err: Error) => void;

  constructor(
    private readonly client: Redis,
    readonly name: string,
    options: LeaseOptions = {},
  ) {
    this.ttlMs = Math.max(30, Math.floor(options.ttlMs ?? DEFAULT_LEASE_TTL_MS));
    // Two renewals must fit in a TTL: one may go unanswered before the holder gives the lease up.
    this.renewMs = Math.max(10, Math.min(Math.floor(options.renewMs ?? DEFAULT_LEASE_RENEW_MS), Math.floor(this.ttlMs / 3)));
    this.onChange = options.onChange ?? (() => {});
    this.onError = options.onError ?? (() => {});
  }

  get held(): boolean {
    return this.heldNow;
  }

  /** Tries at once, then every renewMs. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => this.tick(), this.renewMs);
    this.timer.unref?.();
    this.tick();
  }

  /** Stops trying and releases the lease if this holder still has it; never rejects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    // The work stops before another instance can take over.
    this.set(false);
    try {
      // An acquire still under way could land after the release and keep the key for a TTL.
      if (this.attempt) await within(this.attempt, this.renewMs);
      await within(this.client.eval(RELEASE, 1, this.name, this.token), this.renewMs);
    } catch (err) {
      this.report(err);
    }
  }

  private tick(): void {
    if (!this.running) return;
    if (this.attempt) {
      // The last attempt is still unanswered after a whole interval: we can no longer know that
      // the key is ours before it expires, so we give it up now.
      this.set(false);
      return;
    }
    const sentAt = Date.now();
    const wasHeld = this.heldNow;
    this.attempt = (wasHeld ? this.renew() : this.acquire())
      .then(
        (ok) => {
          if (!this.running) return;
          // An answer that took longer than an interval may describe a key that is about to expire.
          if (ok && Date.now() - sentAt <= this.renewMs) this.set(true);
          else if (!ok) this.set(false);
        },
        (err) => {
          if (!this.running) return;
          this.set(false);
          this.report(err);
        },
      )
      .finally(() => {
        this.attempt = undefined;
      });
  }

  private async acquire(): Promise<boolean> {
    if ((await this.client.set(this.name, this.token, 'PX', this.ttlMs, 'NX')) === 'OK') return true;
    // Still ours from before a renewal that failed (a short outage): take it back.
    return this.renew();
  }

  private async renew(): Promise<boolean> {
    return Number(await this.client.eval(RENEW, 1, this.name, this.token, this.ttlMs)) === 1;
  }

  private set(held: boolean): void {
    if (this.heldNow === held) return;
    this.heldNow = held;
    try {
      this.onChange(held);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.onError(asError(err));
    } catch {
      // a reporter that throws has nowhere to report to
    }
  }
}
