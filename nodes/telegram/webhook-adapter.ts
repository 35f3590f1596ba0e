/**
 * grammy's webhook adapter for a route on Node-RED's HTTP server. grammy's own 'http' adapter
 * reads the request stream, but with Node-RED's default settings the admin app's JSON parser may
 * have consumed it already; the webhook raw-body capture (shared with the webhook node) reads the
 * body first, within a size limit, and this adapter takes it from there.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Update } from 'grammy/types';
import { readRawBody } from '../common/raw-body';
import { RAW_BODY, type CapturedRequest } from '../common/raw-capture';

/** Telegram's updates are small; a big body is not one of them. */
export const MAX_UPDATE_BYTES = 1024 * 1024;

const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

export type WebhookHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

type Request = CapturedRequest & { body?: unknown };

function reply(res: ServerResponse, status: number, body = ''): void {
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}

/**
 * Only a JSON object can be an update (grammy's handleUpdate throws on null); anything else is a
 * 400 here. Whether the object is a well-formed update is the in node's check (update-schema.ts),
 * the same for webhook and polling: a malformed one is answered 200, so Telegram does not resend it.
 */
function parseBody(text: string): Update {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('update body is not JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('update body is not a JSON object');
  // The in node validates it; typed as grammy's Update only because that is what grammy takes.
  return json as Update;
}

export function telegramAdapter(req: Request, res: ServerResponse) {
  const header = req.headers[SECRET_HEADER];
  return {
    get update(): Promise<Update> {
      return (req[RAW_BODY] ?? readRawBody(req, MAX_UPDATE_BYTES)).then((raw) => {
        if (!raw.ok) throw new Error(`update body ${raw.reason}`);
        return parseBody(raw.body.toString('utf8'));
      });
    },
    header: Array.isArray(header) ? header[0] : header,
    end: () => reply(res, 200),
    respond: (json: string) => {
      if (res.headersSent) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(json);
    },
    unauthorized: () => reply(res, 401, 'secret token is wrong'),
  };
}
