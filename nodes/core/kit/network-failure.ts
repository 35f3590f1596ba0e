/**
 * What a failed HTTP call's network error says about the request, the same for every platform's
 * client (fetch/undici, the SDKs' own): a connection that never opened means nothing was sent and
 * a retry is safe; any other code (a reset socket, a timeout after the request went out) means the
 * platform may have done it. The code is read from the error or its causes, defensively.
 */
import { field, textField } from '../error-text';

/** Connection errors before any byte of the request was sent. */
export const NOT_CONNECTED: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_INVALID_URL']);

/**
 * The first `code` on the error or what it wraps (`cause`, an SDK's `original`, the first of an
 * AggregateError's `errors`), four levels deep at most: `ECONNREFUSED`, `UND_ERR_SOCKET`. `skip`
 * passes over an SDK's own codes (Slack's `slack_webapi_request_error`) to the network's below.
 */
export function causeCode(err: unknown, skip?: (code: string) => boolean): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = textField(e, 'code');
    if (code && !skip?.(code)) return code;
    const errors = field(e, 'errors');
    e = Array.isArray(errors) && errors.length ? errors[0] : (field(e, 'original') ?? field(e, 'cause'));
  }
  return undefined;
}
