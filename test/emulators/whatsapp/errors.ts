/**
 * Meta's Graph API errors as the Cloud API answers them: `{error: {message: "(#code) Title", type,
 * code, error_data: {messaging_product, details}, error_subcode?, is_transient?, fbtrace_id}}` with
 * the HTTP status Meta uses for each code (401 for 190, 500/503 for the transient ones, 400 for
 * the rest), and the `errors[]` entries of a failed status notification.
 */
import { randomBytes } from 'node:crypto';
import type { Json } from './types';

interface CodeInfo {
  title: string;
  details: string;
  status: number;
  type?: string;
  transient?: boolean;
}

/** The codes the emulator answers or can be made to answer; others get a generic entry. */
export const CODES: Record<number, CodeInfo> = {
  1: { title: 'An unknown error occurred', details: 'An unknown error occurred.', status: 500, transient: true },
  2: { title: 'Service temporarily unavailable', details: 'The service is temporarily unavailable.', status: 503, transient: true },
  4: { title: 'Application request limit reached', details: 'The app has reached its API call rate limit.', status: 400 },
  10: { title: 'Permission denied', details: 'Permission is either not granted or has been removed.', status: 403 },
  100: { title: 'Invalid parameter', details: 'Invalid parameter.', status: 400 },
  190: { title: 'Invalid OAuth access token - Cannot parse access token', details: '', status: 401 },
  200: { title: 'Permissions error', details: 'The app does not have the permission for this action.', status: 403 },
  130429: { title: 'Rate limit hit', details: 'Message failed to send because there were too many messages sent from this phone number in a short period of time.', status: 400 },
  130472: { title: "User's number is part of an experiment", details: "Failed to send message because this user's phone number is part of an experiment.", status: 400 },
  131000: { title: 'Something went wrong', details: 'Message failed to send due to an unknown error.', status: 500, transient: true },
  131005: { title: 'Access denied', details: 'Permission is either not granted or has been removed.', status: 403 },
  131008: { title: 'Required parameter is missing', details: 'The request is missing a required parameter.', status: 400 },
  131009: { title: 'Parameter value is not valid', details: 'One or more parameter values are invalid.', status: 400 },
  131016: { title: 'Service unavailable', details: 'A service is temporarily unavailable.', status: 503, transient: true },
  131021: { title: 'Recipient cannot be sender', details: 'Sender and recipient phone number is the same.', status: 400 },
  131026: { title: 'Message undeliverable', details: 'Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted the new Terms of Service; the recipient is using an old WhatsApp version.', status: 400 },
  131031: { title: 'Account has been locked', details: 'The WhatsApp Business Account is restricted or disabled for violating a platform policy.', status: 400 },
  131042: { title: 'Business eligibility payment issue', details: 'Message failed to send because there were one or more errors related to your payment method.', status: 400 },
  131047: { title: 'Re-engagement message', details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.', status: 400 },
  131049: { title: 'This message was not delivered to maintain healthy ecosystem engagement.', details: 'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.', status: 400 },
  131051: { title: 'Unsupported message type', details: 'Message type is not currently supported.', status: 400 },
  131052: { title: 'Media download error', details: 'Unable to download the media sent by the user.', status: 400 },
  131053: { title: 'Media upload error', details: 'Unable to upload the media used in the message.', status: 400 },
  131056: { title: '(Business Account, Consumer Account) pair rate limit hit', details: 'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.', status: 400 },
  132000: { title: 'Number of parameters does not match the expected number of params', details: 'The number of variable parameter values included in the request did not match the number of variable parameters defined in the template.', status: 400 },
  132001: { title: 'Template name does not exist in the translation', details: 'The template does not exist in the specified language or the template has not been approved.', status: 400 },
  133010: { title: 'Phone number not registered', details: 'The phone number is not registered on the WhatsApp Business Platform.', status: 400 },
};

export const info = (code: number): CodeInfo => CODES[code] ?? { title: 'Error', details: `Error ${code}.`, status: code >= 1 && code < 100 ? 500 : 400 };

export const fbtraceId = (): string => `A${randomBytes(17).toString('base64url').slice(0, 22)}`;

/** A Graph API failure: throw it anywhere in a handler, the router answers it. */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: Json },
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.error.message));
  }
  get code(): number {
    return Number(this.body.error.code);
  }
}

export interface MetaErrorOptions {
  details?: string;
  subcode?: number;
  /** Overrides "(#code) Title". */
  message?: string;
  type?: string;
  /** Leave out error_data (Graph's own errors, outside the WhatsApp product, have none). */
  noData?: boolean;
}

/** Meta's error for `code`, with its HTTP status. */
export function metaError(code: number, opts: MetaErrorOptions = {}): GraphError {
  const c = info(code);
  if (code === 190) {
    const message = opts.message ?? c.title;
    const error: Json = { message, type: 'OAuthException', code, ...(opts.subcode !== undefined ? { error_subcode: opts.subcode } : {}), fbtrace_id: fbtraceId() };
    return new GraphError(401, { error }, { 'www-authenticate': `OAuth "Facebook Platform" "invalid_token" "${message}"` });
  }
  const error: Json = {
    message: opts.message ?? `(#${code}) ${c.title}`,
    type: opts.type ?? c.type ?? 'OAuthException',
    code,
    ...(opts.noData ? {} : { error_data: { messaging_product: 'whatsapp', details: opts.details ?? c.details } }),
    ...(opts.subcode !== undefined ? { error_subcode: opts.subcode } : {}),
    ...(c.transient ? { is_transient: true } : {}),
    fbtrace_id: fbtraceId(),
  };
  return new GraphError(c.status, { error });
}

/** Error 100 naming the field in `details`: `Param text.body must be at most 4096 characters long.` */
export const invalid = (field: string, problem: string): GraphError => metaError(100, { details: `Param ${field} ${problem}` });
export const required = (field: string): GraphError => metaError(100, { message: `(#100) The parameter ${field} is required.`, details: `Param ${field} is required.` });

export const badToken = (): GraphError => metaError(190);
export const revokedToken = (): GraphError =>
  metaError(190, { message: 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.', subcode: 460 });

/** What Graph answers for a path it has no object or edge for. */
export function unsupported(method: string, id: string): GraphError {
  return metaError(100, {
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    type: 'GraphMethodException',
    subcode: 33,
    noData: true,
  });
}

/** One `errors[]` entry of a failed status (or of an `errors` notification). */
export function statusError(code: number, details?: string): Json {
  const c = info(code);
  return { code, title: c.title, message: c.title, error_data: { details: details ?? c.details }, href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/' };
}

/** What a proxy in front of graph.facebook.com answers when it cannot reach it. */
export const HTML_502 =
  '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>502 Bad Gateway</title></head>' +
  '<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response from an upstream server.</p><hr><address>proxy</address></body></html>\n';
