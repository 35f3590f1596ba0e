/**
 * One live WhatsApp Business account (one phone number of the Cloud API) for one whatsapp account
 * config node, apart from Node-RED so it can be tested on its own. While it runs it serves Meta's
 * webhook (webhook-route.ts) on its path, checks the token by reading the phone number
 * (`GET /{phone-number-id}`, with our timeout and backoff), hands each inbound message to the in
 * nodes in the order Meta sent them, keeps what Meta reports of every message we sent (a
 * StatusBook), and reports every change of state as a status with an i18n key.
 *
 * The webhook is served whenever the account has users, so statuses of sent messages arrive even
 * without an in node; a notification with messages while no in node listens is answered 503, so
 * Meta delivers it again later instead of it being dropped. Notifications for another phone
 * number of the same Meta app are left alone (and said once in the log).
 */
import type { ChannelState } from '../core/channels';
import { errorText, truncate } from '../core/error-text';
import { settle } from '../core/guard';
import { abortableSleep as sleep, LiveConnection, oneAtATime, Stopped, untilAborted as untilStopped } from '../core/kit/live-connection';
import type { ConnectionEvents } from '../common/kit/connection-relay';
import { redact } from '../core/redact';
import { parseNotification, parseStatus, type Notification, type RawInbound } from './event-schema';
import { GraphCalls } from './graph-calls';
import { classify } from './send-errors';
import { StatusBook, type DeliveryState, type StateChange } from './status-book';
import type { Outcome } from './webhook-route';

export interface ConnectionStatus {
  state: ChannelState;
  key: 'stopped' | 'connecting' | 'connected' | 'unauthorized' | 'retrying' | 'waitingForOther' | 'error';
  params: Record<string, string>;
  /** A detail for the gateway registry and the log (secrets already removed). */
  message?: string;
}

export interface PhoneIdentity {
  phoneNumberId: string;
  displayPhoneNumber: string;
  verifiedName: string;
}

/** Mounts the webhook's GET and POST handlers; the returned function takes them off again. */
export type MountWebhook = (handlers: { canTake(body: unknown): boolean; onNotification(body: unknown): void; onOutcome(o: Outcome): void }) => () => void;

export interface ConnectionOptions {
  /** The config node's id: one connection per id at a time in the process. */
  id: string;
  phoneNumberId: string;
  graphBase: string;
  apiOrigin: string;
  token: string;
  /** For redaction of the connection's own messages. */
  secrets: string[];
  path: string;
  callTimeoutMs: number;
  maxRateWaitMs: number;
  pairWaitMs: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  mount: MountWebhook;
}

const running = new Map<string, Promise<void>>();

export interface WhatsAppConnection extends ConnectionEvents<ConnectionStatus, PhoneIdentity> {
  on(event: 'status', listener: (status: ConnectionStatus) => void): this;
  on(event: 'ready', listener: (identity: PhoneIdentity) => void): this;
  on(event: 'log', listener: (level: 'warn' | 'error' | 'debug', key: string, params: Record<string, string>) => void): this;
  /** A message we sent changed state (sent, delivered, read, failed). */
  on(event: 'delivery', listener: (change: StateChange) => void): this;
}

export class WhatsAppConnection extends LiveConnection<ConnectionStatus, PhoneIdentity, RawInbound> {
  readonly calls: GraphCalls;
  readonly statuses = new StatusBook();
  /** Webhook requests by outcome since the start (the route's counters). */
  readonly counts: Record<Outcome, number> = { taken: 0, busy: 0, unsigned: 0, badJson: 0, tooLarge: 0, aborted: 0 };
  private fatal: ConnectionStatus | undefined;
  private listening = false;
  /** Inbound messages are handed on one after another, in the order Meta sent them. */
  private inbound: Promise<void> = Promise.resolve();

  constructor(readonly options: ConnectionOptions) {
    super({ state: 'stopped', key: 'stopped', params: {} });
    this.calls = new GraphCalls({
      graphBase: options.graphBase,
      apiOrigin: options.apiOrigin,
      token: options.token,
      timeoutMs: options.callTimeoutMs,
      maxRateWaitMs: options.maxRateWaitMs,
      pairWaitMs: options.pairWaitMs,
      retryMinMs: Math.min(options.backoffMinMs ?? 250, 1000),
      onUnauthorized: (detail) => this.unauthorized(detail),
    });
  }

  /** A message Meta accepted, for the reports that will follow (and any that came first). */
  noteSent(messageId: string, chatKey: string, sender: string): void {
    const change = this.statuses.sent(messageId, chatKey, sender);
    if (change) this.emit('delivery', change);
  }

  get identity(): PhoneIdentity | undefined {
    return this.known;
  }

  /** Every inbound message (in nodes); returns the function that removes the handler. */
  onInbound(handler: (raw: RawInbound) => void | Promise<void>): () => void {
    return this.subscribe(handler);
  }

  protected override starting(): void {
    this.calls.reopen();
  }

  protected override stopping(): void {
    this.calls.close();
  }

  private clean(err: unknown): string {
    const f = classify(err);
    const text = 'message' in f ? `${f.code !== undefined ? `(${f.code}) ` : ''}${f.message}${f.details ? `: ${f.details}` : ''}` : f.detail;
    return truncate(redact((text || errorText(err)).trim(), this.options.secrets), 300);
  }

  protected failed(err: unknown): void {
    const message = this.clean(err);
    this.setStatus({ state: 'error', key: 'error', params: { message }, message });
    this.emit('log', 'error', 'whatsapp-account.errors.failed', { message });
  }

  /** Meta refused the token (190): every node says so until the next deploy; nothing retries it. */
  private unauthorized(detail: string): void {
    const message = truncate(redact(detail, this.options.secrets), 300);
    const status: ConnectionStatus = { state: 'error', key: 'unauthorized', params: { message }, message: `190: ${message}` };
    if (this.fatal) return;
    this.fatal = status;
    this.setStatus(status);
    this.emit('log', 'error', 'whatsapp-account.status.unauthorized', status.params);
  }

  protected async run(receive: boolean, stop: AbortSignal): Promise<void> {
    this.listening = receive;
    await oneAtATime(running, this.options.id, stop, () => this.setStatus({ state: 'connecting', key: 'waitingForOther', params: {} }), async () => {
      this.setStatus({ state: 'connecting', key: 'connecting', params: {} });
      const unmount = this.options.mount({
        canTake: (body) => this.listening || !hasMessages(body),
        onNotification: (body) => this.notification(body),
        onOutcome: (o) => this.outcome(o),
      });
      try {
        const me = await this.identify(stop);
        if (me) this.connected(me);
        await untilStopped(stop);
      } finally {
        unmount();
      }
    });
  }

  private connected(me: PhoneIdentity): void {
    if (this.fatal) return this.setStatus(this.fatal);
    this.setStatus({ state: 'connected', key: 'connected', params: { number: me.displayPhoneNumber, name: me.verifiedName, path: this.options.path } });
  }

  /** Reads the phone number with our timeout and backoff; undefined when the token is refused. */
  private async identify(stop: AbortSignal): Promise<PhoneIdentity | undefined> {
    if (this.known) return this.known;
    const min = this.options.backoffMinMs ?? 1000;
    const max = this.options.backoffMaxMs ?? 60000;
    for (let failures = 0; ; failures++) {
      try {
        const r = (await this.calls.call('GET', `${this.options.phoneNumberId}?fields=display_phone_number,verified_name`, { kind: 'read', what: 'the phone number', retries: 0 })) as Record<string, unknown>;
        const me: PhoneIdentity = {
          phoneNumberId: this.options.phoneNumberId,
          displayPhoneNumber: typeof r.display_phone_number === 'string' ? r.display_phone_number : this.options.phoneNumberId,
          verifiedName: typeof r.verified_name === 'string' ? r.verified_name : '',
        };
        this.identified(me);
        return me;
      } catch (err) {
        if (stop.aborted || err instanceof Stopped) throw new Stopped();
        const f = classify(err);
        if (f.kind === 'auth') return undefined;
        const backoff = Math.min(max, min * 2 ** Math.min(failures, 16));
        const message = this.clean(err);
        this.setStatus({ state: 'connecting', key: 'retrying', params: { seconds: String(Math.ceil(backoff / 1000)), message }, message });
        await sleep(backoff, stop);
      }
    }
  }

  private outcome(o: Outcome): void {
    this.counts[o]++;
    if (o === 'unsigned') this.emit('log', 'warn', 'whatsapp-account.errors.unsigned', { path: this.options.path });
    else if (o === 'busy') this.emit('log', 'warn', 'whatsapp-account.errors.busy', {});
  }

  /** A verified notification, after Meta has its 200. */
  private notification(body: unknown): void {
    const parsed = parseNotification(body);
    if (!parsed.ok) {
      this.emit('log', 'warn', 'whatsapp-account.errors.malformed', { kind: parsed.kind, problem: parsed.problem });
      return;
    }
    if (parsed.value.object !== 'whatsapp_business_account') {
      this.emit('log', 'warn', 'whatsapp-account.errors.otherObject', { object: truncate(parsed.value.object, 64) });
      return;
    }
    for (const change of changesOf(parsed.value)) {
      const value = change.value;
      const number = value.metadata?.phone_number_id;
      if (number !== this.options.phoneNumberId) {
        this.emit('log', 'warn', 'whatsapp-account.errors.otherNumber', { number: truncate(String(number ?? '?'), 40) });
        continue;
      }
      for (const s of value.statuses ?? []) this.report(s);
      for (const e of value.errors ?? []) this.emit('log', 'warn', 'whatsapp-account.errors.meta', { message: metaErrorText(e) });
      const messages = value.messages ?? [];
      if (!messages.length) continue;
      const contacts = (value.contacts ?? []) as Array<Record<string, unknown>>;
      for (const message of messages) {
        const raw: RawInbound = { message, phoneNumberId: number, ...contactFor(message, contacts) };
        this.inbound = this.inbound.then(() => this.dispatch(raw, (err) => this.emit('log', 'error', 'whatsapp-account.errors.handler', { message: this.clean(err) })));
      }
    }
    settle(this.inbound);
  }

  private report(raw: unknown): void {
    const p = parseStatus(raw);
    if (!p.ok) {
      this.emit('log', 'warn', 'whatsapp-account.errors.malformed', { kind: p.kind, problem: p.problem });
      return;
    }
    const s = p.value;
    if (s.status !== 'sent' && s.status !== 'delivered' && s.status !== 'read' && s.status !== 'failed') return;
    const error = s.status === 'failed' ? redact(metaErrorText(s.errors?.[0])) : undefined;
    const change = this.statuses.note(s.id, s.status as DeliveryState, error);
    if (change) this.emit('delivery', change);
  }
}

function changesOf(n: Notification): Notification['entry'][number]['changes'] {
  return n.entry.flatMap((e) => e.changes.filter((c) => c.field === 'messages'));
}

function hasMessages(body: unknown): boolean {
  const p = parseNotification(body);
  return p.ok && changesOf(p.value).some((c) => (c.value.messages?.length ?? 0) > 0);
}

/** The contact of the message's sender: by BSUID, else by phone number, else the only one. */
function contactFor(message: unknown, contacts: Array<Record<string, unknown>>): { contact?: unknown } {
  const m = (message ?? {}) as Record<string, unknown>;
  const found =
    contacts.find((c) => c && m.from_user_id !== undefined && c.user_id === m.from_user_id) ??
    contacts.find((c) => c && m.from !== undefined && c.wa_id === m.from) ??
    (contacts.length === 1 ? contacts[0] : undefined);
  return found ? { contact: found } : {};
}

/** `(131047) Re-engagement message: More than 24 hours have passed...` from a Meta error object of any shape. */
export function metaErrorText(e: unknown): string {
  const o = (e && typeof e === 'object' ? e : {}) as Record<string, unknown>;
  const code = typeof o.code === 'number' ? `(${o.code}) ` : '';
  const title = typeof o.title === 'string' ? o.title : typeof o.message === 'string' ? o.message : 'error';
  const data = o.error_data as Record<string, unknown> | undefined;
  const details = data && typeof data.details === 'string' ? `: ${data.details}` : '';
  return truncate(`${code}${title}${details}`, 400);
}
