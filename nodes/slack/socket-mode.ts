/**
 * Bolt's SocketModeReceiver with the three things it does not do for a long-running host:
 *
 *  1. It never rejects unhandled. @slack/socket-mode reconnects by calling its own `start()` from
 *     a timer and never handles that promise; `disconnect()` while it reconnects (a redeploy at
 *     the wrong moment) rejects it with `undefined`, and an app token revoked meanwhile rejects it
 *     with the API error. Inside Node-RED either one exits the process. So the client's `start` is
 *     wrapped: during shutdown a rejection is swallowed, otherwise it is reported (onStartFailure)
 *     and never thrown.
 *  2. It never opens a socket after shutdown began. `start()` awaits apps.connections.open and
 *     then connects whatever the state; a redeploy during that call would leave a ghost socket that
 *     swallows a share of the events (Slack hands each envelope to one of the open sockets). The
 *     URL lookup is wrapped so that after shutdown it never resolves.
 *  3. `close()` waits until the socket is really closed. SocketModeReceiver.stop() returns before
 *     the close handshake; we await the client's `disconnected` and, if the peer never completes
 *     the handshake, cut the socket after `closeTimeoutMs` instead of the client's 30 s.
 */
import { SocketModeReceiver, type Logger } from '@slack/bolt';

export type SocketState = 'connecting' | 'connected' | 'reconnecting';

export interface GuardedSocketOptions {
  appToken: string;
  slackApiUrl: string;
  /** The client pings every third of this and drops a socket whose pongs stop; also the reconnect delay. */
  pingTimeoutMs: number;
  logger: Logger;
  /** Retries of apps.connections.open on network errors before a start fails (the client's own web client). */
  urlRetries: number;
  closeTimeoutMs?: number;
  onState(state: SocketState): void;
  /** A start that failed outside shutdown (the API refused the app token, the network is down). */
  onStartFailure(error: unknown): void;
  processEventErrorHandler?: ConstructorParameters<typeof SocketModeReceiver>[0]['processEventErrorHandler'];
}

/** The parts of the socket-mode client we wrap or read; not in its public typings. */
interface ClientInternals {
  start(): Promise<unknown>;
  retrieveWSSURL(): Promise<string>;
  disconnect(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  websocket?: { cleanup?: () => void; isActive?: () => boolean; websocket?: { close?: () => void } | null };
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

export class GuardedSocket {
  readonly receiver: SocketModeReceiver;
  private stopping = false;
  private closing: Promise<void> | undefined;
  private readonly client: ClientInternals;

  constructor(private readonly opts: GuardedSocketOptions) {
    this.receiver = new SocketModeReceiver({
      appToken: opts.appToken,
      logger: opts.logger,
      clientPingTimeout: opts.pingTimeoutMs,
      autoReconnectEnabled: true,
      // A receiver does not inherit App.clientOptions; its own object, since the client writes into it.
      installerOptions: { clientOptions: { slackApiUrl: opts.slackApiUrl, retryConfig: { retries: opts.urlRetries, factor: 2, minTimeout: 500, maxTimeout: 10000 } } },
      ...(opts.processEventErrorHandler ? { processEventErrorHandler: opts.processEventErrorHandler } : {}),
    });
    const client = this.receiver.client as unknown as ClientInternals;
    this.client = client;
    const start = client.start.bind(client);
    const retrieve = client.retrieveWSSURL.bind(client);
    client.start = () =>
      start().then(
        (result) => result,
        (error: unknown) => {
          if (!this.stopping) this.opts.onStartFailure(error);
          return undefined;
        },
      );
    client.retrieveWSSURL = async () => {
      if (this.stopping) return never<string>();
      const url = await retrieve();
      if (this.stopping) return never<string>();
      return url;
    };
    client.on('connecting', () => this.state('connecting'));
    client.on('connected', () => this.state('connected'));
    client.on('reconnecting', () => this.state('reconnecting'));
    // The socket closed by itself (dropped, a disconnect frame, no pongs): the client reconnects after a pause.
    client.on('close', () => this.state('reconnecting'));
  }

  /** Opens the socket; resolves once it is asked for (the state callbacks say when it is up). */
  start(): void {
    if (this.stopping) return;
    // The wrapped start never rejects.
    void this.client.start();
  }

  /** Closes the socket and resolves once it is closed; no socket of this receiver is ever opened after. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private state(s: 'connecting' | 'connected' | 'reconnecting'): void {
    if (!this.stopping) this.opts.onState(s);
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    const client = this.client;
    const ws = client.websocket;
    const disconnected = client.disconnect().catch(() => undefined);
    // An open socket gets the close handshake, bounded; one still connecting (a reconnect before
    // `hello`) is cut at once: nobody reads it, and waiting would only let it open.
    const open = ws?.isActive?.() === true;
    if (open && (await this.within(disconnected, this.opts.closeTimeoutMs ?? 3000))) return;
    // The client's cleanup destroys the socket and then reports `disconnected`.
    try {
      ws?.websocket?.close?.();
    } catch {
      // already closing
    }
    try {
      ws?.cleanup?.();
    } catch {
      // nothing left to clean up
    }
    await this.within(disconnected, 1000);
  }

  /** Whether `p` settles within `ms`. */
  private async within(p: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return settled;
  }
}
