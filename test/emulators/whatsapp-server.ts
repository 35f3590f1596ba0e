/**
 * A fake WhatsApp Business Cloud API over plain HTTP on 127.0.0.1, for the WhatsApp nodes to talk
 * to through their `apiRoot` setting (`{apiRoot}/{version}/{phone-number-id}/messages`, any
 * `vNN.N`). It answers like Meta's Graph API where our nodes depend on it: the bearer token (190),
 * sends of text, media, interactive buttons and lists, templates and reactions with Meta's limits
 * and error shapes (100 naming the field, 131051, 132001), the 24-hour customer-service window
 * (131047; templates go through), the pair rate to one user (131056) and throughput (130429), read
 * receipts with the typing indicator, media upload / GET / download behind the token, and Meta's
 * side of the webhook: signed notifications (X-Hub-Signature-256) retried when not answered 200 in
 * time, the verification GET, and sent / delivered / read / failed statuses for what the business
 * sends.
 *
 * Tests build what users send with `whatsapp.make.*`, deliver it to the node's webhook
 * (`deliver`, `userSends`: a user's message opens their window), read back every Graph call
 * (`sent`), what each user's phone shows (`phone(user)`), read receipts, uploads and downloads,
 * and inject failures (`inject.*`). Everything is bounded: close() ends every socket and timer.
 *
 * The parts live in ./whatsapp/: graph.ts (routes, limits, injections), checks.ts (send bodies),
 * errors.ts (Meta's error shapes and codes), inbound.ts (message builders, notifications, the
 * signer), webhooks.ts (the signed poster with retries, the verification GET), statuses.ts (status
 * notifications), state.ts (users, windows, phones, media), http.ts, types.ts.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createGraph } from './whatsapp/graph';
import { writeBytes } from './whatsapp/http';
import { createInbound, hubSignature, type NotificationParts, type WhatsAppBuilders } from './whatsapp/inbound';
import { WhatsAppState, WINDOW_MS } from './whatsapp/state';
import { createStatuses } from './whatsapp/statuses';
import type {
  ApiCall,
  DeliverOptions,
  DownloadRecord,
  Json,
  PhoneItem,
  ReadReceipt,
  TemplateSpec,
  UploadRecord,
  WebhookDelivery,
  WhatsAppInjector,
  WhatsAppServerOptions,
  WhatsAppUser,
} from './whatsapp/types';
import { createPoster } from './whatsapp/webhooks';

export { CAPTION_LIMIT, LIMITS, TEXT_LIMIT } from './whatsapp/checks';
export { CODES, statusError } from './whatsapp/errors';
export { contactOf, DEFAULT_MIME, hubSignature } from './whatsapp/inbound';
export type { MediaKind, MessageOptions, NotificationParts, WhatsAppBuilders } from './whatsapp/inbound';
export { WINDOW_MS } from './whatsapp/state';
export type * from './whatsapp/types';

export interface WhatsAppFixtures {
  /** Alice (15551230001, US.1000000000000001) and Bob (15551230002, US.1000000000000002) share their numbers. */
  alice: WhatsAppUser;
  bob: WhatsAppUser;
  /** A username user who withholds the number: no waId, BSUID US.1000000000000003, username hidden_user. */
  hidden: WhatsAppUser;
}

export interface WhatsAppServer {
  /** `http://127.0.0.1:PORT` (no trailing slash): the nodes' `apiRoot`. */
  readonly baseUrl: string;
  readonly token: string;
  readonly appSecret: string;
  readonly phoneNumberId: string;
  readonly displayPhoneNumber: string;
  readonly wabaId: string;
  /** The verify token `verify()` sends when not told another. */
  readonly verifyToken: string;
  readonly fixtures: WhatsAppFixtures;
  /** A user (a new one, or the existing one with that waId / userId). `withheld`: no phone number, a username. */
  addUser(u?: Partial<WhatsAppUser> & { withheld?: boolean }): WhatsAppUser;
  readonly make: WhatsAppBuilders;
  /** A whole notification body around messages (contacts from their users), or statuses/errors. */
  notification(parts: NotificationParts): Json;
  /** `sha256=<hex HMAC-SHA256 of the body>` with the app secret (or `secret`). */
  sign(body: string | Buffer, secret?: string): string;
  /**
   * POSTs to the webhook URL, signed ('valid', default), unsigned ('none'), signed with another
   * secret ('wrong') or with a given header; retries as Meta does unless retry:false. User messages
   * open the sender's window. Resolves when the attempts are over (never rejects).
   */
  deliver(url: string, payload: Json | string, opts?: DeliverOptions): Promise<WebhookDelivery>;
  /** deliver(url, notification({messages:[message], users:[user]})) */
  userSends(url: string, user: WhatsAppUser, message: Json, opts?: DeliverOptions): Promise<WebhookDelivery>;
  /** The verification GET (mode 'subscribe', the verifyToken and a random challenge by default). */
  verify(url: string, q?: { mode?: string; token?: string; challenge?: string }): Promise<{ status: number; body: string; challenge: string }>;
  /** What the user's phone shows from the business, in order (accepted messages only). */
  phone(user: WhatsAppUser): PhoneItem[];
  waitForPhone(user: WhatsAppUser, pred: (items: PhoneItem[]) => boolean, ms?: number): Promise<PhoneItem[]>;
  readonly readReceipts: ReadReceipt[];
  /** Every Graph request (messages, media, reads), answered or not. */
  readonly sent: ApiCall[];
  /** Resolves when a call matching `pred` has been recorded (earlier calls count). */
  waitFor(pred: (c: ApiCall) => boolean, ms?: number): Promise<ApiCall>;
  readonly uploads: UploadRecord[];
  readonly downloads: DownloadRecord[];
  /** deliver() calls and status notifications, each with its attempts so far. */
  readonly webhookDeliveries: WebhookDelivery[];
  /** Resolves when a delivery matching `pred` exists (earlier ones count; checked as attempts come in). */
  waitForDelivery(pred: (d: WebhookDelivery) => boolean, ms?: number): Promise<WebhookDelivery>;
  /** The status notifications posted so far, parsed (`statuses[0]` of each), optionally of one message. */
  statuses(wamid?: string): Json[];
  setWebhook(url: string | undefined): void;
  /** Makes the user's last message 25 h old: free-form sends answer 131047. */
  closeWindow(user: WhatsAppUser): void;
  /** As if the user had just written (without a notification). */
  openWindow(user: WhatsAppUser): void;
  /** Posts read statuses for what the user has. */
  readAll(user: WhatsAppUser): void;
  /** Posts a failed status with Meta's error for `code`. */
  failMessage(wamid: string, code: number): void;
  readonly inject: WhatsAppInjector;
  close(): Promise<void>;
}

const DEFAULT_TEMPLATES: TemplateSpec[] = [{ name: 'reopen_chat', language: 'en', params: 1, body: 'Hi {{1}}, we have an answer for you. Reply to this message to continue the conversation.' }];

export async function startWhatsAppServer(options: WhatsAppServerOptions = {}): Promise<WhatsAppServer> {
  const token = options.token ?? `EAAG${randomBytes(75).toString('base64url')}`;
  const appSecret = options.appSecret ?? randomBytes(16).toString('hex');
  const phoneNumberId = options.phoneNumberId ?? '106540352242922';
  const displayPhoneNumber = options.displayPhoneNumber ?? '15550001234';
  const wabaId = options.wabaId ?? '102290129340398';
  const verifyToken = options.verifyToken ?? `verify-${randomBytes(8).toString('hex')}`;
  let webhookUrl = options.webhookUrl;

  const state = new WhatsAppState(phoneNumberId, displayPhoneNumber);
  const sent: ApiCall[] = [];
  const readReceipts: ReadReceipt[] = [];
  const uploads: UploadRecord[] = [];
  const downloads: DownloadRecord[] = [];
  const webhookDeliveries: WebhookDelivery[] = [];
  const sentWaiters: Array<{ pred: (c: ApiCall) => boolean; resolve: (c: ApiCall) => void }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let closed = false;

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };
  const sleep = (ms: number): Promise<boolean> => (closed ? Promise.resolve(false) : new Promise((r) => later(ms, () => r(!closed))));

  // --- fixtures ----------------------------------------------------------------------------
  const fixtures: WhatsAppFixtures = {
    alice: state.addUser({ name: 'Alice', waId: '15551230001', userId: 'US.1000000000000001' }),
    bob: state.addUser({ name: 'Bob', waId: '15551230002', userId: 'US.1000000000000002' }),
    hidden: state.addUser({ name: 'Hidden', withheld: true, userId: 'US.1000000000000003', username: 'hidden_user' }),
  };

  // --- parts -------------------------------------------------------------------------------
  function record(call: ApiCall): void {
    sent.push(call);
    for (const w of [...sentWaiters]) {
      if (w.pred(call)) {
        sentWaiters.splice(sentWaiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
  }

  const poster = createPoster({
    appSecret,
    timeoutMs: options.webhookTimeoutMs ?? 1500,
    retryDelaysMs: options.webhookRetryDelaysMs ?? [100, 300, 1000],
    deliveries: webhookDeliveries,
  });
  const inbound = createInbound(state, { wabaId });
  const statuses = createStatuses({
    poster,
    notification: (parts) => inbound.notification(parts),
    webhookUrl: () => webhookUrl,
    enabled: options.statuses ?? true,
    autoRead: options.autoRead ?? false,
    later: (ms, fn) => void later(ms, fn),
  });
  const graph = createGraph({
    state,
    token,
    templates: options.templates ?? DEFAULT_TEMPLATES,
    pairRateMs: options.pairRateMs ?? 0,
    throughputPerSecond: options.throughputPerSecond ?? 80,
    maxMediaBytes: options.maxMediaBytes ?? 100 * 1024 * 1024,
    record,
    readReceipts,
    uploads,
    downloads,
    accepted: (rec, item) => statuses.accepted(rec, item),
    sleep,
  });

  // --- HTTP --------------------------------------------------------------------------------
  const server = http.createServer((req, res) => {
    graph.handle(req, res).catch((err: Error) => {
      if (!res.headersSent && !req.socket.destroyed) writeBytes(res, 500, `emulator error: ${err.stack ?? err.message}`, 'text/plain; charset=utf-8');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  state.baseUrl = `http://127.0.0.1:${port}`;

  // --- webhooks ----------------------------------------------------------------------------

  /** A user's message opens (or refreshes) their window from its timestamp. */
  function openWindows(payload: Json | string): void {
    let p: unknown = payload;
    if (typeof payload === 'string') {
      try {
        p = JSON.parse(payload);
      } catch {
        return;
      }
    }
    const entries = (p as { entry?: unknown }).entry;
    if (!Array.isArray(entries)) return;
    for (const e of entries as Array<{ changes?: unknown }>) {
      if (!Array.isArray(e?.changes)) continue;
      for (const c of e.changes as Array<{ value?: { messages?: unknown } }>) {
        const msgs = c?.value?.messages;
        if (!Array.isArray(msgs)) continue;
        for (const m of msgs as Json[]) {
          const rec = typeof m.from_user_id === 'string' ? state.users.get(m.from_user_id) : typeof m.from === 'string' ? state.byWaId(m.from) : undefined;
          if (!rec) continue;
          const ts = Number(m.timestamp);
          const at = Number.isFinite(ts) && ts > 0 ? Math.min(ts * 1000, Date.now()) : Date.now();
          rec.lastInboundAt = Math.max(rec.lastInboundAt ?? 0, at);
        }
      }
    }
  }

  function deliver(url: string, payload: Json | string, opts: DeliverOptions = {}): Promise<WebhookDelivery> {
    openWindows(payload);
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    return poster.post(url, body, opts, 'deliver').done;
  }

  function poll<T>(find: () => T | undefined, ms: number, describe: () => string): Promise<T> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = find();
        if (v !== undefined) return resolve(v);
        if (Date.now() - started >= ms) return reject(new Error(describe()));
        if (!closed) later(10, check);
      };
      check();
    });
  }

  const itemLine = (i: PhoneItem): string => `${i.type}${i.text !== undefined ? ` ${JSON.stringify(i.text.slice(0, 60))}` : ''}`;

  return {
    baseUrl: state.baseUrl,
    token,
    appSecret,
    phoneNumberId,
    displayPhoneNumber,
    wabaId,
    verifyToken,
    fixtures,
    addUser: (u) => state.addUser(u),
    make: inbound.make,
    notification: (parts) => inbound.notification(parts),
    sign: (body, secret = appSecret) => hubSignature(secret, body),
    deliver,
    userSends: (url, user, message, opts) => deliver(url, inbound.notification({ messages: [message], users: [user] }), opts),
    async verify(url, q = {}) {
      const challenge = q.challenge ?? String(1_000_000_000 + Math.floor(Math.random() * 1_000_000_000));
      const r = await poster.verify(url, { mode: q.mode ?? 'subscribe', token: q.token ?? verifyToken, challenge });
      return { ...r, challenge };
    },
    phone: (user) => [...state.record(user).items],
    waitForPhone(user, pred, ms = 3000) {
      const rec = state.record(user);
      return poll(
        () => (pred([...rec.items]) ? [...rec.items] : undefined),
        ms,
        () => `${user.name}'s phone did not match within ${ms} ms; it shows: ${rec.items.map(itemLine).join(' | ') || 'nothing'}`,
      );
    },
    readReceipts,
    sent,
    waitFor(pred, ms = 3000) {
      const found = sent.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (c: ApiCall) => {
            clearTimeout(t);
            timers.delete(t);
            resolve(c);
          },
        };
        const t = later(ms, () => {
          sentWaiters.splice(sentWaiters.indexOf(w), 1);
          reject(new Error(`no matching Graph call within ${ms} ms; calls: ${sent.map((c) => `${c.method} ${c.op}:${c.status}${c.errorCode ? `(#${c.errorCode})` : ''}${c.outcome !== 'ok' && c.outcome !== 'error' ? `(${c.outcome})` : ''}`).join(', ') || 'none'}`));
        });
        sentWaiters.push(w);
      });
    },
    uploads,
    downloads,
    webhookDeliveries,
    waitForDelivery(pred, ms = 3000) {
      return poll(
        () => webhookDeliveries.find(pred),
        ms,
        () => `no matching webhook delivery within ${ms} ms; deliveries: ${webhookDeliveries.map((d) => `${d.kind}[${d.attempts.map((a) => a.status).join(',')}]`).join(' ') || 'none'}`,
      );
    },
    statuses(wamid) {
      const out: Json[] = [];
      for (const d of webhookDeliveries) {
        if (d.kind !== 'status') continue;
        const s = (JSON.parse(d.body) as { entry: Array<{ changes: Array<{ value: { statuses: Json[] } }> }> }).entry[0].changes[0].value.statuses[0];
        if (wamid === undefined || s.id === wamid) out.push(s);
      }
      return out;
    },
    setWebhook(url) {
      webhookUrl = url;
    },
    closeWindow(user) {
      state.record(user).lastInboundAt = Date.now() - WINDOW_MS - 3600_000;
    },
    openWindow(user) {
      state.record(user).lastInboundAt = Date.now();
    },
    readAll(user) {
      statuses.readAll(state.record(user));
    },
    failMessage(wamid, code) {
      const m = state.messages.get(wamid);
      const rec = m?.direction === 'out' ? state.users.get(m.userKey) : undefined;
      const item = rec?.items.find((i) => i.id === wamid);
      if (!rec || !item) throw new Error(`failMessage: ${wamid} is not a message the business sent`);
      statuses.fail(rec, item, code);
    },
    inject: graph.inject,
    async close() {
      closed = true;
      poster.close();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
