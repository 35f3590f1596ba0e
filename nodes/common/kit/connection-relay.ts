/**
 * What a platform config node does with its connection's events, the same for every platform:
 * each status goes to every user (its detail with the node's secrets removed), and each log line
 * is translated and written once per change — a connection that retries repeats the same failure,
 * and one line per change is enough; a new identity ('ready') starts afresh.
 */
import type { Node } from 'node-red';
import { redact } from '../../core/redact';

export type LogLevel = 'warn' | 'error' | 'debug';

/**
 * The events a platform connection emits for its config node: LiveConnection's 'status' and
 * 'ready', and 'log' (a line worth writing, already secret-free; `debug` for what the SDK itself
 * reports). A connection class declares them by merging: `export interface XConnection extends ConnectionEvents<S, I> {}`.
 */
export interface ConnectionEvents<S, I> {
  on(event: 'status', listener: (status: S) => void): this;
  on(event: 'ready', listener: (identity: I) => void): this;
  on(event: 'log', listener: (level: LogLevel, key: string, params: Record<string, string>) => void): this;
}

export function relayConnection<S extends { message?: string }>(
  node: Node,
  connection: ConnectionEvents<S, unknown>,
  push: (status: S, message: string | undefined) => void,
  translate: (key: string, params: Record<string, string>) => string,
  secrets: ReadonlyArray<string>,
): void {
  const logged = new Map<LogLevel, string>();
  connection.on('status', (s) => push(s, s.message === undefined ? undefined : redact(s.message, [...secrets])));
  connection.on('log', (level, key, params) => {
    const line = translate(key, params);
    if (logged.get(level) === line) return;
    logged.set(level, line);
    if (level === 'debug') node.debug(line);
    else node[level](line);
  });
  connection.on('ready', () => logged.clear());
}
