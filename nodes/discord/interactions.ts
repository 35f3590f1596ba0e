/**
 * Discord's HTTP interactions endpoint, with node:crypto only. Every request is signed with the
 * application's Ed25519 key: `X-Signature-Ed25519` is the signature (hex) of the
 * `X-Signature-Timestamp` header followed by the RAW body, checked against the application's
 * public key (hex, from the developer portal). A request that does not verify, or whose timestamp
 * is more than five minutes away from our clock (a replay), gets 401 and goes no further; Discord
 * itself sends such requests when the endpoint URL is saved, and refuses an endpoint that accepts
 * them. PING (type 1) is answered `{type: 1}`; everything else is handed to the connection, which
 * must answer within Discord's 3 s (a deferral), and does so here if nobody did.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readRawBody } from '../common/raw-body';
import { RAW_BODY, type CapturedRequest } from '../common/raw-capture';
import { guard } from '../core/guard';

/** Interaction bodies are small; a command's resolved data is the largest part. */
export const MAX_INTERACTION_BYTES = 1024 * 1024;
/** How far a request's timestamp may be from our clock. */
export const MAX_SKEW_SECONDS = 300;

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export const InteractionType = { Ping: 1, ApplicationCommand: 2, MessageComponent: 3, Autocomplete: 4, ModalSubmit: 5 } as const;
export const CallbackType = { Pong: 1, ChannelMessage: 4, DeferredChannelMessage: 5, DeferredUpdateMessage: 6, AutocompleteResult: 8 } as const;
export const EPHEMERAL = 64;

/** The application's public key (64 hex characters) as a key node:crypto verifies with. */
export function importPublicKey(hex: string): KeyObject {
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error('the public key must be 64 hex characters');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });
}

export interface SignedRequest {
  signature: string | undefined;
  timestamp: string | undefined;
  body: Buffer;
}

/** Whether the request is signed by the key and fresh. Never throws. */
export function verifyInteraction(key: KeyObject, r: SignedRequest, nowMs = Date.now()): boolean {
  const { signature, timestamp } = r;
  if (!signature || !timestamp || !/^[0-9a-f]{128}$/i.test(signature) || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) return false;
  try {
    return verify(null, Buffer.concat([Buffer.from(timestamp, 'utf8'), r.body]), key, Buffer.from(signature, 'hex'));
  } catch {
    return false;
  }
}

/** Writes the answer to an interaction request, once. */
export type Respond = (body: unknown) => void;

export interface RouteOptions {
  key: KeyObject;
  /** A verified interaction other than PING; `respond` answers the HTTP request (once). */
  onInteraction(body: Record<string, unknown>, respond: Respond): void;
  now?: () => number;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function answer(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent || res.writableEnded) return;
  if (body === undefined) {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(status === 401 ? 'invalid request signature' : '');
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The route handler for POST <path> on Node-RED's HTTP server (raw bodies captured by raw-capture.ts). */
export function interactionRoute(opts: RouteOptions): (req: CapturedRequest, res: ServerResponse) => void {
  const now = opts.now ?? Date.now;
  return (req, res) => {
    const raw = req[RAW_BODY] ?? readRawBody(req, MAX_INTERACTION_BYTES);
    raw.then(
      guard((b: Awaited<typeof raw>) => {
        if (!b.ok) return answer(res, b.reason === 'too-large' ? 413 : 400);
        if (!verifyInteraction(opts.key, { signature: header(req, 'x-signature-ed25519'), timestamp: header(req, 'x-signature-timestamp'), body: b.body }, now())) return answer(res, 401);
        let body: unknown;
        try {
          body = JSON.parse(b.body.toString('utf8'));
        } catch {
          return answer(res, 400);
        }
        if (!body || typeof body !== 'object' || Array.isArray(body)) return answer(res, 400);
        const interaction = body as Record<string, unknown>;
        if (interaction.type === InteractionType.Ping) return answer(res, 200, { type: CallbackType.Pong });
        opts.onInteraction(interaction, (reply) => answer(res, 200, reply));
      }),
      () => answer(res, 400),
    );
  };
}
