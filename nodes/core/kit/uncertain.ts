/**
 * The one failure a sender must never hide by trying again: a call that may have reached the
 * platform (its answer was lost: a reset socket, a timeout, a 5xx) and that would post a second
 * message if repeated. It is thrown instead, so the operator reads that the reply may be missing,
 * never that it appeared twice. Platform-neutral: each platform's call policy throws it.
 */
export class UncertainError extends Error {
  constructor(
    /** The call, as an operator reads it (`chat.postMessage`, `the interaction follow-up`); never a token. */
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what}: ${detail}`);
    this.name = 'UncertainError';
  }
}
