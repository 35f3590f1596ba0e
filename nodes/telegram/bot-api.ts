/**
 * The API of a chatgate-telegram-bot config node as its in and out nodes use it. The node owns ONE
 * grammy connection per bot, opened with its first user and closed with its last.
 *
 * API for in and out nodes
 * ------------------------
 *   import { getTelegramBot, type TelegramBotNode } from './bot-api';
 *
 *   const bot = getTelegramBot(RED, def.bot);            // undefined: none selected / not deployed
 *   const link = linkChannel(RED, node, def.gateway, {...});
 *   bot.register(node, { sink: link, receive: false });  // out nodes: receive false (the default)
 *                                                         // in nodes: receive true (starts polling/webhook)
 *   // The connection opens with the first user and closes with the last. Every status change is
 *   // pushed to each user's sink (node status + gateway channel registry), already translated:
 *   // connecting / connected as @name / unauthorized / another process polls (409) / retrying...
 *
 *   bot.connection.api        // grammy Api for sending: @grammyjs/auto-retry (retry_after, 5xx,
 *                             // network; at most 5 retries, waits up to 60 s) and, unless the
 *                             // operator turned it off, @grammyjs/transformer-throttler (per chat
 *                             // ~1 msg/s, groups 20/min, 30/s overall). Calls queue until sent.
 *   bot.connection.rawApi     // the same without retries or throttling (own retry policy)
 *   bot.connection.botInfo    // UserFromGetMe once connected (username for mentions), else undefined
 *   bot.connection.ready()    // Promise<UserFromGetMe>, resolves when getMe has answered
 *   bot.connection.status     // { state, key, params, message } — the current status
 *   bot.connection.on('status', (s) => ...)   // if a node wants more than its sink
 *   bot.connection.onUpdate((update) => ...)  // raw Update objects (in nodes); returns an unsubscribe
 *   bot.fileUrl(filePath)     // download URL for getFile's file_path: carries the token, NEVER put
 *                             // it in a msg or a log
 *
 *   node.on('close', (_removed, done) => bot.deregister(node, done));
 *
 * `bot.connection` is undefined when the node has no usable token; register() then pushes an error
 * status to the user, and deregister() still calls done.
 */
import type { Node, NodeAPI } from 'node-red';
import type { RegisterOptions } from '../common/kit/connection-users';
import type { TelegramBotCredentials } from './bot-settings';
import type { TelegramConnection } from './connection';

export type { RegisterOptions, StatusSink } from '../common/kit/connection-users';

export interface TelegramBotNode extends Node<TelegramBotCredentials> {
  /** Undefined when the node has no usable token (its users show why). */
  readonly connection: TelegramConnection | undefined;
  register(user: Node, options?: RegisterOptions): void;
  deregister(user: Node, done?: () => void): void;
  /** The file download URL for a getFile file_path; carries the token: never in a msg or log. */
  fileUrl(filePath: string): string;
}

export function getTelegramBot(RED: NodeAPI, id: string | undefined): TelegramBotNode | undefined {
  if (!id) return undefined;
  const n = RED.nodes.getNode(id) as TelegramBotNode | null;
  return n && typeof n.register === 'function' ? n : undefined;
}
