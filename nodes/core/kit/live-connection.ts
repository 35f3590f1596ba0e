/**
 * The life cycle of one platform connection, without Node-RED and without the SDK: start and stop
 * requests run one after another (a stop is finished before the next start begins), a status that
 * is emitted only when it changes, the identity the platform answered with (and `ready()` waiting
 * for it), the handlers of inbound events, and the rule that only one connection per key (a token,
 * a config node id) runs in the process at a time — a redeploy's new connection waits until the
 * old one has really ended, so a platform never sees two pollers or two sockets of one app.
 *
 * A platform's connection extends LiveConnection and supplies `run` (connect, receive until the
 * signal aborts, clean up) and `failed` (an error that escaped `run`): Telegram's and Slack's
 * connection.ts do.
 *
 * Across processes (several Node-RED instances sharing a gateway in Redis) the rule is a lease:
 * a connection whose receiving must run once names it in `lease`, and runs on `standby` while
 * another instance holds it — connected for sending and for what every instance may serve (a
 * webhook route), without the poller or the socket that must be one.
 */
import { EventEmitter } from 'node:events';
import type { ChannelState } from '../channels';

export interface StatusLike {
  state: ChannelState;
  key: string;
  params: Record<string, string>;
  message?: string;
}

/** Thrown by waits that a stop cut short; `run` lets it through. */
export class Stopped extends Error {
  constructor() {
    super('stopped');
  }
}

/** A sleep that the signal cuts short (rejecting with Stopped). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Stopped());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
}

/**
 * Runs `fn` once every earlier run under `key` in `registry` has ended; `onWait` is called when
 * it has to wait. Resolves with `fn`'s result; a stop while waiting rejects with Stopped at once.
 * The run counts as ended only when the ones before it have ended too, so a run stopped while it
 * waited never lets a later one overtake the run it was waiting for.
 */
export async function oneAtATime<T>(registry: Map<string, Promise<void>>, key: string, stop: AbortSignal, onWait: () => void, fn: () => Promise<T>): Promise<T> {
  const previous = registry.get(key);
  let finished!: () => void;
  const mine = new Promise<void>((r) => (finished = r));
  registry.set(key, mine);
  const release = () => {
    finished();
    if (registry.get(key) === mine) registry.delete(key);
  };
  try {
    if (previous) {
      onWait();
      await Promise.race([previous, untilAborted(stop)]);
      if (stop.aborted) throw new Stopped();
    }
    return await fn();
  } finally {
    // Not awaited: the stop of a run that never started must not wait for another connection
    // (two config nodes with one token, a partial deploy) to end.
    if (previous) void previous.then(release);
    else release();
  }
}

export abstract class LiveConnection<S extends StatusLike, I, E> extends EventEmitter {
  private current: S;
  private me: I | undefined;
  private readyWaiters: Array<(me: I) => void> = [];
  private readonly handlers = new Set<(event: E) => void | Promise<void>>();
  private stopper: AbortController | undefined;
  private running: Promise<void> | undefined;
  private receiving = false;
  private onStandby = false;
  private lifecycle: Promise<void> = Promise.resolve();

  constructor(private readonly stoppedStatus: S) {
    super();
    this.current = stoppedStatus;
    this.setMaxListeners(0);
  }

  get status(): S {
    return this.current;
  }

  /** What the platform said the bot is, once it answered. */
  protected get known(): I | undefined {
    return this.me;
  }

  /** Resolves with the identity once the platform has answered. */
  ready(): Promise<I> {
    if (this.me) return Promise.resolve(this.me);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /**
   * The lease receiving needs when several instances share the gateway's store, e.g.
   * `telegram-poll:<token hash>`; undefined when every instance may receive at once (webhooks).
   */
  get lease(): string | undefined {
    return undefined;
  }

  /**
   * Opens the connection; `receive` also starts receiving, and `standby` (another instance holds
   * `lease`) leaves out the part of receiving that must run once. Idempotent; a later call wins.
   */
  start(receive: boolean, standby = false): Promise<void> {
    this.lifecycle = this.lifecycle.then(async () => {
      if (this.running) {
        if (this.receiving === receive && this.onStandby === standby) return;
        await this.halt();
      }
      this.receiving = receive;
      this.onStandby = standby;
      this.starting();
      const stopper = new AbortController();
      this.stopper = stopper;
      this.running = this.run(receive, stopper.signal, standby).catch((err: unknown) => {
        if (!(err instanceof Stopped)) this.failed(err);
      });
    });
    return this.lifecycle;
  }

  /** Resolves once the connection is closed for good (nothing left running). */
  stop(): Promise<void> {
    this.lifecycle = this.lifecycle.then(async () => {
      this.stopping();
      await this.halt();
    });
    return this.lifecycle;
  }

  /**
   * Connects, receives (when asked; on `standby` only what every instance may) until `stop`
   * aborts, and cleans up; Stopped is not a failure.
   */
  protected abstract run(receive: boolean, stop: AbortSignal, standby: boolean): Promise<void>;
  /** An error that escaped `run`. */
  protected abstract failed(error: unknown): void;
  /** Before each run. */
  protected starting(): void {}
  /** Before a final stop (not a restart to change `receive`). */
  protected stopping(): void {}

  protected identified(me: I): void {
    this.me = me;
    for (const w of this.readyWaiters.splice(0)) w(me);
    this.emit('ready', me);
  }

  protected setStatus(s: S): void {
    // Retries repeat the same status; users need to hear it once.
    const c = this.current;
    if (c.state === s.state && c.key === s.key && JSON.stringify(c.params) === JSON.stringify(s.params)) return;
    this.current = s;
    this.emit('status', s);
  }

  protected subscribe(handler: (event: E) => void | Promise<void>): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Hands an inbound event to every handler in turn; a handler's failure goes to `onError`, never further. */
  protected async dispatch(event: E, onError: (error: unknown) => void): Promise<void> {
    for (const h of [...this.handlers]) {
      try {
        await h(event);
      } catch (err) {
        onError(err);
      }
    }
  }

  private async halt(): Promise<void> {
    if (!this.running) return;
    this.stopper?.abort();
    await this.running;
    this.running = undefined;
    this.stopper = undefined;
    this.setStatus(this.stoppedStatus);
  }
}
