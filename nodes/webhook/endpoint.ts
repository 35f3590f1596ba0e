/**
 * One webhook in node's HTTP endpoint, apart from Node-RED: it checks and reads a request, hands
 * the message to the flow, and holds the open response (sync mode) until the webhook out node
 * delivers the reply, or calls the operator's callback URL with it (async mode, late replies).
 * Without a token or secret set, auth fails closed: every request is refused.
 */
import type { ServerResponse } from 'node:http';
import type { Chat } from '../core/envelope';
import type { Outbound } from '../core/outbound';
import { verifyBearer, verifySignature } from '../core/signature';
import { parseWebhookBody, webhookChat } from '../core/webhook-body';
import { postCallback, type CallbackBody } from './callback';
import { readRawBody } from '../common/raw-body';
import { RAW_BODY, type CapturedRequest } from '../common/raw-capture';
import type { WebhookSettings } from './settings';
import { safeError } from '../core/redact';
import { ChatQueue, ChatQueueClosedError } from '../core/delivery/chat-queue';

/** The part of a gateway an endpoint uses. */
export interface EndpointGateway {
  ready: Promise<void>;
  ops: { isDuplicate(platform: 'webhook', channelId: string, messageId: string): boolean | Promise<boolean> };
}

// A type alias, not an interface, so it is assignable to Node-RED's NodeMessage.
export type WebhookMessage = {
  payload: string;
  chat: Chat;
};

export interface EndpointHooks {
  /** Passes a message on to the flow. */
  emit(msg: WebhookMessage): void;
  /** A sync request got no reply in time (already answered 504). */
  timedOut(msg: WebhookMessage, seconds: number): void;
  /** Something unexpected failed while handling a request (already answered 500). */
  failed(err: Error): void;
}

/** Why a reply could not be delivered, as an i18n key under `webhook-out.errors`. */
export class DeliveryError extends Error {
  constructor(
    readonly key: 'lateReply' | 'noCallback' | 'callbackFailed' | 'stopped',
    readonly params: Record<string, string> = {},
  ) {
    super(`${key}${params.message ? `: ${params.message}` : ''}`);
    this.name = 'DeliveryError';
  }
}

export type Delivery = 'responded' | 'called-back' | 'skipped';

interface Pending {
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

type Request = CapturedRequest & { body?: unknown };

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** The thread as the sync response shows it: the resolver's fields when present, never anything else. */
export function threadView(thread: unknown): Record<string, unknown> | undefined {
  if (!thread || typeof thread !== 'object') return undefined;
  const t = thread as Record<string, unknown>;
  if (typeof t.id !== 'string') return undefined;
  const view: Record<string, unknown> = { id: t.id };
  for (const k of ['key', 'strategy', 'isNew', 'turn'] as const) if (t[k] !== undefined) view[k] = t[k];
  return view;
}

export class WebhookEndpoint {
  private readonly pending = new Map<string, Pending>();
  /** Callbacks of one chat go out one after another, so streamed parts arrive in order. */
  /** Callbacks of one chat go one after another, and a bounded number wait (the delivery engine's queue). */
  private readonly order = new ChatQueue();
  private readonly closing = new AbortController();
  private closed = false;

  constructor(
    readonly id: string,
    readonly settings: WebhookSettings,
    private readonly gateway: EndpointGateway | undefined,
    private readonly hooks: EndpointHooks,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** The Express handler for POST <path>. */
  readonly handle = (req: Request, res: ServerResponse): void => {
    this.handleRequest(req, res).catch((err: Error) => {
      json(res, 500, { error: 'internal error' });
      this.hooks.failed(err);
    });
  };

  private async handleRequest(req: Request, res: ServerResponse): Promise<void> {
    const s = this.settings;
    if (this.closed) return json(res, 503, { error: 'webhook is stopping' });
    if (s.auth === 'bearer' && !verifyBearer(s.token, req.headers.authorization)) {
      return json(res, 401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
    }
    const raw = await (req[RAW_BODY] ?? readRawBody(req, s.maxBytes));
    if (!raw.ok) {
      if (raw.reason === 'too-large') return json(res, 413, { error: `body larger than ${s.maxBytes} bytes` }, { connection: 'close' });
      return; // the caller hung up
    }
    if (s.auth === 'hmac' && !verifySignature(s.secret, raw.body, req.headers[s.signatureHeader.toLowerCase()])) {
      return json(res, 401, { error: `missing or wrong ${s.signatureHeader}` });
    }
    const gw = this.gateway;
    if (!gw) return json(res, 503, { error: 'no gateway is configured for this webhook' });
    await gw.ready;
    if (this.closed) return json(res, 503, { error: 'webhook is stopping' });

    const parsed = parseWebhookBody(raw.body);
    if (!parsed.ok) return json(res, 400, { error: parsed.error });
    const body = parsed.value;
    if (body.messageId) {
      let duplicate: boolean;
      try {
        duplicate = this.pending.has(body.messageId) || (await gw.ops.isDuplicate('webhook', this.id, body.messageId));
      } catch {
        // A shared store that is down: the sender tries again later instead of the message being lost.
        return json(res, 503, { error: 'the gateway state is not reachable; try again' });
      }
      if (duplicate) return json(res, 200, { duplicate: true, messageId: body.messageId });
    }
    const msg: WebhookMessage = { payload: body.text, chat: webhookChat(body, this.id) };
    const messageId = msg.chat.messageId;
    if (this.closed) {
      // Seen already (a resend would be a duplicate), so it goes on: a redeploy hands it to the next
      // deploy's node, whose reply goes to the callback URL. A sync caller hears 503 and, resending,
      // "duplicate".
      json(res, s.mode === 'sync' ? 503 : 202, s.mode === 'sync' ? { error: 'webhook is stopping', messageId } : { accepted: true, messageId });
      this.hooks.emit(msg);
      return;
    }
    if (s.mode === 'sync') {
      // Registered before the message leaves, so a reply from a synchronous flow finds it.
      const timer = setTimeout(() => {
        if (!this.settle(messageId)) return;
        const seconds = s.timeoutMs / 1000;
        json(res, 504, { error: `no reply within ${seconds} s`, messageId });
        this.hooks.timedOut(msg, seconds);
      }, s.timeoutMs);
      this.pending.set(messageId, { res, timer });
      res.on('close', () => {
        if (this.pending.get(messageId)?.res === res) this.settle(messageId);
      });
    } else {
      json(res, 202, { accepted: true, messageId });
    }
    this.hooks.emit(msg);
  }

  private settle(messageId: string): Pending | undefined {
    const p = this.pending.get(messageId);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(messageId);
    return p;
  }

  /**
   * Delivers a reply: answers the waiting request when there is one, else POSTs to the callback URL.
   * Typing signals and streamed parts never go on a sync response; only the final text does.
   */
  async deliver(out: Outbound, thread?: unknown): Promise<Delivery> {
    const messageId = out.replyTo.messageId;
    const partial = out.stream !== undefined && !out.stream.done;
    const waiting = messageId !== undefined && this.pending.has(messageId);
    if (waiting) {
      if (out.event || partial) return 'skipped';
      const p = this.settle(messageId)!;
      const view = threadView(thread);
      json(p.res, 200, { text: out.text, ...(view ? { thread: view } : {}), messageId });
      return 'responded';
    }
    if (out.event) return 'skipped';
    if (this.closed) throw new DeliveryError('stopped');
    const url = this.settings.callbackUrl;
    if (!url) {
      throw new DeliveryError(this.settings.mode === 'sync' ? 'lateReply' : 'noCallback', { messageId: messageId ?? '' });
    }
    const body: CallbackBody = {
      messageId,
      chatId: out.replyTo.chatId,
      userId: out.replyTo.userId,
      text: out.text,
      ...(out.threadId ? { thread: { id: out.threadId } } : {}),
      ...(out.stream ? { stream: out.stream } : {}),
    };
    await this.order
      .run(out.replyTo.chatId, () =>
        postCallback(url, body, {
          secret: this.settings.callbackSecret,
          signatureHeader: this.settings.signatureHeader,
          signal: this.closing.signal,
        }),
      )
      .catch((err: unknown) => {
        // Cut by the close (waiting in the queue, between retries, or under way): the next deploy's node calls back.
        if (err instanceof ChatQueueClosedError || this.closed) throw new DeliveryError('stopped');
        // A failed callback, or one refused because too many wait for the chat (never dropped silently).
        throw new DeliveryError('callbackFailed', { message: safeError(err).message });
      });
    return 'called-back';
  }

  /** Answers every waiting request 503 and stops retrying callbacks. */
  close(): void {
    this.closed = true;
    this.closing.abort();
    this.order.close();
    for (const [messageId, p] of this.pending) {
      clearTimeout(p.timer);
      json(p.res, 503, { error: 'webhook stopped before a reply', messageId });
    }
    this.pending.clear();
  }
}
