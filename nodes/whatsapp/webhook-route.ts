/**
 * Meta's webhook for one WhatsApp account, on Node-RED's HTTP server, with node:crypto only:
 *
 *  - GET: the verification handshake Meta runs when the callback URL is saved
 *    (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`): the challenge is echoed, as plain
 *    text, only for the right verify token; anything else is 403.
 *  - POST: notifications, signed `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the
 *    app secret>`. No valid signature: 401 and nothing goes further. A signed body that is not JSON:
 *    400. Otherwise it is answered at once — 200, or 503 when nobody can take its messages yet (Meta
 *    then delivers it again later) — and handled after the answer, so a slow flow never makes Meta
 *    retry (it retries a notification not answered in time, with backoff, for up to 7 days).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readRawBody } from '../common/raw-body';
import { RAW_BODY, type CapturedRequest } from '../common/raw-capture';
import { guard } from '../core/guard';
import { safeEqual, verifySignature } from '../core/signature';

/** Meta batches up to 1,000 updates in one notification; each is small. */
export const MAX_NOTIFICATION_BYTES = 3 * 1024 * 1024;
/** Meta's challenges are short numbers; anything longer or stranger is not echoed into a response. */
const CHALLENGE = /^[A-Za-z0-9_\-.]{1,256}$/;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function answer(res: ServerResponse, status: number, text = ''): void {
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** The GET handler: Meta's verification request. */
export function verificationRoute(verifyToken: string): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let q: URLSearchParams;
    try {
      q = new URL(req.url ?? '/', 'http://localhost').searchParams;
    } catch {
      return answer(res, 400);
    }
    const token = q.get('hub.verify_token') ?? '';
    const challenge = q.get('hub.challenge') ?? '';
    if (q.get('hub.mode') !== 'subscribe' || !verifyToken || !safeEqual(token, verifyToken) || !CHALLENGE.test(challenge)) return answer(res, 403, 'verification failed');
    answer(res, 200, challenge);
  };
}

/** What the route did with one request (for the account's counters and the status). */
export type Outcome = 'taken' | 'busy' | 'unsigned' | 'badJson' | 'tooLarge' | 'aborted';

export interface NotificationRouteOptions {
  appSecret: string;
  /** Whether the notification can be taken now (false: answered 503 so Meta sends it again). */
  canTake(body: unknown): boolean;
  /** The verified body, after the 200 went out. */
  onNotification(body: unknown): void;
  onOutcome?(outcome: Outcome): void;
}

/** The POST handler (raw bodies captured by raw-capture.ts for the signature). */
export function notificationRoute(opts: NotificationRouteOptions): (req: CapturedRequest, res: ServerResponse) => void {
  return (req, res) => {
    const raw = req[RAW_BODY] ?? readRawBody(req, MAX_NOTIFICATION_BYTES);
    const done = (o: Outcome, status: number, text?: string) => {
      answer(res, status, text);
      opts.onOutcome?.(o);
    };
    raw.then(
      guard((b: Awaited<typeof raw>) => {
        if (!b.ok) return b.reason === 'too-large' ? done('tooLarge', 413, 'too large') : done('aborted', 400);
        if (!verifySignature(opts.appSecret, b.body, header(req, 'x-hub-signature-256'))) return done('unsigned', 401, 'invalid signature');
        let body: unknown;
        try {
          body = JSON.parse(b.body.toString('utf8'));
        } catch {
          return done('badJson', 400, 'not JSON');
        }
        if (!opts.canTake(body)) return done('busy', 503, 'not ready');
        done('taken', 200, 'EVENT_RECEIVED');
        // After the answer: the flow's pace is not Meta's concern.
        setImmediate(guard(() => opts.onNotification(body)));
      }),
      () => done('aborted', 400),
    );
  };
}
