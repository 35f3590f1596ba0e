/**
 * The status notifications Meta posts for the business's own messages: sent, then delivered, then
 * read once the user reads (readAll, or autoRead), or failed with Meta's error (failMessage). They
 * go to the webhook URL after the API answered, signed like any notification, one after another
 * (each waits for the previous one's first attempt, so a receiver sees them in order), each
 * retried as Meta retries.
 */
import { randomBytes } from 'node:crypto';
import { statusError } from './errors';
import type { UserRecord } from './state';
import type { DeliveryStatus, Json, PhoneItem } from './types';
import type { Poster } from './webhooks';

export interface StatusDeps {
  poster: Poster;
  notification(parts: { statuses: Json[] }): Json;
  webhookUrl(): string | undefined;
  enabled: boolean;
  autoRead: boolean;
  /** A tracked timer (cleared on close). */
  later(ms: number, fn: () => void): void;
}

export function createStatuses(deps: StatusDeps) {
  let chain: Promise<void> = Promise.resolve();
  const conversations = new Map<string, { id: string; expires: number }>();

  function statusObject(rec: UserRecord, item: PhoneItem, status: DeliveryStatus, errorCode?: number): Json {
    const u = rec.user;
    const now = Math.floor(Date.now() / 1000);
    const category = item.type === 'template' ? 'utility' : 'service';
    let conv = conversations.get(u.userId);
    if (!conv || conv.expires < now) {
      conv = { id: randomBytes(16).toString('hex'), expires: now + 24 * 3600 };
      conversations.set(u.userId, conv);
    }
    return {
      id: item.id,
      status,
      timestamp: String(now),
      recipient_id: u.waId ?? u.userId,
      recipient_user_id: u.userId,
      ...(status === 'failed' ? { errors: [statusError(errorCode ?? 131000)] } : {}),
      ...(status === 'sent' || status === 'delivered'
        ? {
            conversation: { id: conv.id, ...(status === 'sent' ? { expiration_timestamp: String(conv.expires) } : {}), origin: { type: category } },
            pricing: { billable: category !== 'service', pricing_model: 'PMP', category, type: category === 'service' ? 'free_customer_service' : 'regular' },
          }
        : {}),
    };
  }

  /** Queues one notification; it is posted after everything queued before it had its first attempt. */
  function post(rec: UserRecord, item: PhoneItem, status: DeliveryStatus, errorCode?: number): void {
    item.status = status;
    const url = deps.webhookUrl();
    if (!deps.enabled || !url) return;
    const body = JSON.stringify(deps.notification({ statuses: [statusObject(rec, item, status, errorCode)] }));
    chain = chain.then(
      () =>
        new Promise<void>((resolve) => {
          deps.later(0, () => {
            deps.poster.post(url, body, {}, 'status').first.then(resolve, resolve);
          });
        }),
    );
  }

  return {
    /** A message was accepted: sent, delivered (and read with autoRead). */
    accepted(rec: UserRecord, item: PhoneItem): void {
      post(rec, item, 'sent');
      post(rec, item, 'delivered');
      if (deps.autoRead) post(rec, item, 'read');
    },
    readAll(rec: UserRecord): void {
      for (const item of rec.items) if (item.status === 'sent' || item.status === 'delivered') post(rec, item, 'read');
    },
    fail(rec: UserRecord, item: PhoneItem, code: number): void {
      post(rec, item, 'failed', code);
    },
  };
}
