/**
 * The API of a chatgate-slack-app config node as its in and out nodes use it. The node owns ONE
 * Bolt app per Slack app, opened with its first user and closed with its last.
 *
 * API for in and out nodes
 * ------------------------
 *   import { getSlackApp, type SlackAppNode } from './app-api';
 *
 *   const app = getSlackApp(RED, def.app);              // undefined: none selected / not deployed
 *   app.register(node, { sink: link, receive: false }); // out nodes: receive false (the default)
 *                                                        // in nodes: receive true (opens the socket or
 *                                                        // the Events API route)
 *   // The connection opens with the first user and closes with the last. Every status change is
 *   // pushed to each user's sink, already translated: connecting / connected as @name (Socket
 *   // Mode) / Events API at /path / token refused / missing scope / reconnecting...
 *
 *   app.connection.calls      // every Web API call: 429 Retry-After waited out per call, calls
 *                             // that cannot have reached Slack retried, others never repeated
 *                             // (web-calls.ts); post-once.ts posts a message exactly once
 *   app.connection.identity   // { userId, botId, teamId, name } once auth.test answered
 *   app.connection.ready()    // Promise of the identity
 *   app.connection.threads    // threads the bot takes part in (in nodes read, out nodes note)
 *   app.connection.features   // { assistant, nativeStream }: false once Slack refused them
 *   app.connection.onInbound((raw) => ...)  // { kind: 'event' | 'command' | 'action', body }
 *   app.download(url, maxBytes)             // a file's bytes with the bot token, from Slack's
 *                                           // own file host only; the URL never leaves this call
 *
 *   node.on('close', (_removed, done) => app.deregister(node, done));
 *
 * `app.connection` is undefined when the node is unusable (no token, a bad setting); register()
 * then pushes an error status to the user, and deregister() still calls done.
 */
import type { Node, NodeAPI } from 'node-red';
import type { RegisterOptions } from '../common/kit/connection-users';
import type { DownloadResult } from '../core/kit/capped-fetch';
import type { SlackConnection } from './connection';
import type { SlackAppCredentials } from './settings';

export type { RegisterOptions, StatusSink } from '../common/kit/connection-users';

export interface SlackAppNode extends Node<SlackAppCredentials> {
  readonly connection: SlackConnection | undefined;
  register(user: Node, options?: RegisterOptions): void;
  deregister(user: Node, done?: () => void): void;
  /** Downloads a Slack file (url_private_download) with the bot token, at most `maxBytes`. */
  download(url: string, maxBytes: number): Promise<DownloadResult>;
}

export function getSlackApp(RED: NodeAPI, id: string | undefined): SlackAppNode | undefined {
  if (!id) return undefined;
  const n = RED.nodes.getNode(id) as SlackAppNode | null;
  return n && typeof n.register === 'function' && n.type === 'chatgate-slack-app' ? n : undefined;
}
