/**
 * The route an async HTTP agent answers on: `POST /chatgate/agent/<node id>/callback` with
 * `{threadId, text}`, authenticated with the node's own bearer token or HMAC secret (the ones it
 * sends to the agent). Unauthenticated -> 401, bad body -> 400 naming the field, a thread the
 * gateway does not know -> 404. The reply then leaves the node with only `msg.thread.id`, and the
 * reply router finds its chat through the gateway's reply listeners.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { MAX_ID_LENGTH, validate } from '../core/envelope';
import { verifyBearer, verifySignature } from '../core/signature';
import { readRawBody } from '../common/raw-body';
import { RAW_BODY, type CapturedRequest } from '../common/raw-capture';
import type { HttpAuth } from './settings';

export const SIGNATURE_HEADER = 'x-chatgate-signature';

export function callbackPath(nodeId: string): string {
  return `/chatgate/agent/${encodeURIComponent(nodeId)}/callback`;
}

/**
 * The URL the agent is told to call: the public base (default: this Node-RED on loopback), the
 * httpNode root, then the route.
 */
export function callbackUrl(base: string, httpNodeRoot: string | undefined, nodeId: string): string {
  const root = (httpNodeRoot ?? '/').replace(/^\/*/, '/').replace(/\/+$/, '');
  return `${base.replace(/\/+$/, '')}${root}${callbackPath(nodeId)}`;
}

const CallbackBodySchema = z.object({
  threadId: z.string().min(1).max(MAX_ID_LENGTH),
  text: z.string(),
});
export type CallbackBody = z.infer<typeof CallbackBodySchema>;

export interface CallbackOptions {
  auth: HttpAuth;
  token?: string;
  secret?: string;
  maxBytes: number;
}

export interface CallbackHooks {
  /** Whether the gateway knows this thread (a live thread, a reply listener, or a turn waiting). */
  knows(threadId: string): boolean | Promise<boolean>;
  deliver(body: CallbackBody): void;
}

type Request = CapturedRequest & { body?: unknown };

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

export class AgentCallback {
  private closed = false;

  constructor(
    private readonly options: CallbackOptions,
    private readonly hooks: CallbackHooks,
  ) {}

  close(): void {
    this.closed = true;
  }

  /** The Express handler. */
  readonly handle = (req: Request, res: ServerResponse): void => {
    this.handleRequest(req, res).catch(() => json(res, 500, { error: 'internal error' }));
  };

  private async handleRequest(req: Request, res: ServerResponse): Promise<void> {
    const o = this.options;
    if (this.closed) return json(res, 503, { error: 'agent call is stopping' });
    if (o.auth === 'bearer' && !verifyBearer(o.token, req.headers.authorization)) {
      return json(res, 401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
    }
    const raw = await (req[RAW_BODY] ?? readRawBody(req as IncomingMessage & { body?: unknown }, o.maxBytes));
    if (!raw.ok) {
      if (raw.reason === 'too-large') return json(res, 413, { error: `body larger than ${o.maxBytes} bytes` }, { connection: 'close' });
      return;
    }
    if (o.auth === 'hmac' && !verifySignature(o.secret, raw.body, req.headers[SIGNATURE_HEADER])) {
      return json(res, 401, { error: `missing or wrong ${SIGNATURE_HEADER}` });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.body.toString('utf8'));
    } catch {
      return json(res, 400, { error: 'body: expected JSON {threadId, text}' });
    }
    const checked = validate(CallbackBodySchema, parsed, 'body');
    if (!checked.ok) return json(res, 400, { error: checked.error });
    if (this.closed) return json(res, 503, { error: 'agent call is stopping' });
    let known: boolean;
    try {
      known = await this.hooks.knows(checked.value.threadId);
    } catch {
      // A shared store that is down: the agent should call again later, not drop the reply.
      return json(res, 503, { error: 'the gateway state is not reachable; try again' });
    }
    if (!known) return json(res, 404, { error: `unknown thread ${checked.value.threadId}` });
    this.hooks.deliver(checked.value);
    json(res, 200, { delivered: true, threadId: checked.value.threadId });
  }
}
