/**
 * Meta's side of the webhook: the signed POST of a notification (X-Hub-Signature-256 over the raw
 * body, and the legacy sha1 X-Hub-Signature) retried as Meta retries one that is not answered 200
 * in time, and the verification GET (hub.mode, hub.verify_token, hub.challenge). Each attempt is
 * recorded; nothing here ever rejects except verify() on a dead endpoint, and close() ends every
 * request and wait.
 */
import { createHmac, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { hubSignature } from './inbound';
import type { DeliverOptions, WebhookAttempt, WebhookDelivery } from './types';

export interface PosterDeps {
  appSecret: string;
  timeoutMs: number;
  retryDelaysMs: number[];
  deliveries: WebhookDelivery[];
}

export interface Posting {
  delivery: WebhookDelivery;
  /** Settles when the first attempt is over (the next status notification waits for it). */
  first: Promise<void>;
  done: Promise<WebhookDelivery>;
}

export function createPoster(deps: PosterDeps) {
  const timers = new Set<NodeJS.Timeout>();
  const wakers = new Set<() => void>();
  const requests = new Set<http.ClientRequest>();
  let closed = false;

  /** Resolves true after `ms`, false at once when the emulator closes. */
  function wait(ms: number): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        timers.delete(t);
        wakers.delete(wake);
        resolve(false);
      };
      const t = setTimeout(() => {
        timers.delete(t);
        wakers.delete(wake);
        resolve(true);
      }, ms);
      timers.add(t);
      wakers.add(wake);
    });
  }

  function attempt(url: string, body: string, headers: Record<string, string>): Promise<WebhookAttempt> {
    const started = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (a: WebhookAttempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(t);
        timers.delete(t);
        requests.delete(req);
        resolve(a);
      };
      const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: false });
      requests.add(req);
      const t = setTimeout(() => {
        finish({ status: 'timeout', ms: Date.now() - started });
        req.destroy();
      }, deps.timeoutMs);
      timers.add(t);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode ?? 0, ms: Date.now() - started, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => finish({ status: 'error', ms: Date.now() - started }));
      });
      req.on('error', () => finish({ status: 'error', ms: Date.now() - started }));
      req.end(body);
    });
  }

  function headersFor(body: string, opts: DeliverOptions): { headers: Record<string, string>; signature?: string } {
    const headers: Record<string, string> = {
      'content-type': opts.contentType ?? 'application/json',
      'user-agent': 'facebookexternalua',
      accept: '*/*',
    };
    const mode = opts.signature ?? 'valid';
    let signature: string | undefined;
    if (mode === 'valid' || mode === 'wrong') {
      const secret = mode === 'valid' ? deps.appSecret : randomBytes(16).toString('hex');
      signature = hubSignature(secret, body);
      headers['x-hub-signature'] = `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`;
    } else if (mode !== 'none') signature = mode;
    if (signature !== undefined) headers['x-hub-signature-256'] = signature;
    return { headers: { ...headers, ...opts.headers }, ...(signature !== undefined ? { signature } : {}) };
  }

  function post(url: string, body: string, opts: DeliverOptions, kind: WebhookDelivery['kind']): Posting {
    const { headers, signature } = headersFor(body, opts);
    const delivery: WebhookDelivery = { attempts: [], answered: false, body, url, kind, done: false, ...(signature !== undefined ? { signature } : {}) };
    deps.deliveries.push(delivery);
    let firstDone!: () => void;
    const first = new Promise<void>((r) => (firstDone = r));
    const done = (async () => {
      try {
        for (let i = 0; !closed; i += 1) {
          const a = await attempt(url, body, headers);
          delivery.attempts.push(a);
          if (i === 0) firstDone();
          if (a.status === 200) {
            delivery.answered = true;
            break;
          }
          if (opts.retry === false || i >= deps.retryDelaysMs.length) break;
          if (!(await wait(deps.retryDelaysMs[i]))) break;
        }
      } finally {
        firstDone();
        delivery.done = true;
      }
      return delivery;
    })();
    return { delivery, first, done };
  }

  function verify(url: string, q: { mode: string; token: string; challenge: string }): Promise<{ status: number; body: string }> {
    const u = new URL(url);
    u.searchParams.set('hub.mode', q.mode);
    u.searchParams.set('hub.verify_token', q.token);
    u.searchParams.set('hub.challenge', q.challenge);
    return new Promise((resolve, reject) => {
      const req = http.request(u, { method: 'GET', headers: { 'user-agent': 'facebookplatform/1.0 (+http://developers.facebook.com)', accept: '*/*' }, agent: false });
      requests.add(req);
      const t = setTimeout(() => req.destroy(new Error(`verify: no answer from ${url} within 5000 ms`)), 5000);
      timers.add(t);
      const end = (): void => {
        clearTimeout(t);
        timers.delete(t);
        requests.delete(req);
      };
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          end();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => {
          end();
          reject(err);
        });
      });
      req.on('error', (err) => {
        end();
        reject(err);
      });
      req.end();
    });
  }

  return {
    post,
    verify,
    close(): void {
      closed = true;
      for (const w of [...wakers]) w();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const r of requests) r.destroy();
      requests.clear();
    },
  };
}

export type Poster = ReturnType<typeof createPoster>;
