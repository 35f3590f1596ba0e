/**
 * The API of a chatgate-discord-bot config node as its in and out nodes use it. The node owns ONE
 * connection per bot (one discord.js Client at a time, REST managers, the interactions endpoint),
 * opened with its first user and closed with its last.
 *
 * API for in and out nodes
 * ------------------------
 *   import { getDiscordBot, type DiscordBotNode } from './bot-api';
 *
 *   const bot = getDiscordBot(RED, def.bot);            // undefined: none selected / not deployed
 *   bot.register(node, { sink: link, receive: false }); // out nodes: receive false (REST only)
 *                                                        // in nodes: receive true (the gateway and/or
 *                                                        // the interactions endpoint)
 *   // Every status change is pushed to each user's sink, already translated: connecting /
 *   // connected as @name / interactions at /path / token refused / enable the Message Content
 *   // intent / reconnecting...
 *
 *   bot.connection.calls         // every REST call: 429 waited out in its bucket, calls that
 *                                // cannot double retried, others never repeated (rest-calls.ts)
 *   bot.connection.identity      // { id, username, applicationId } once /users/@me answered
 *   bot.connection.ready()       // Promise of the identity
 *   bot.connection.interactions  // the interactions being answered: acknowledge(id, { ephemeral }),
 *                                // live(id) -> { token, applicationId, acked, ephemeral, ... }
 *   bot.connection.onInbound((raw) => ...)  // { source, type: MESSAGE_CREATE | INTERACTION_CREATE, data, channel }
 *   bot.fileOrigins               // where attachments may be downloaded from (Discord's CDN, or the API host)
 *
 *   node.on('close', (_removed, done) => bot.deregister(node, done));
 *
 * `bot.connection` is undefined when the node is unusable (no token, a bad setting); register()
 * then pushes an error status to the user, and deregister() still calls done.
 */
import type { Node, NodeAPI } from 'node-red';
import type { RegisterOptions } from '../common/kit/connection-users';
import type { DiscordConnection } from './connection';
import type { DiscordBotCredentials } from './settings';

export type { RegisterOptions, StatusSink } from '../common/kit/connection-users';

export interface DiscordBotNode extends Node<DiscordBotCredentials> {
  readonly connection: DiscordConnection | undefined;
  /** Origins attachments are downloaded from: Discord's CDN and media proxy, and the API base's own host when one is set. */
  readonly fileOrigins: readonly string[];
  register(user: Node, options?: RegisterOptions): void;
  deregister(user: Node, done?: () => void): void;
}

export const BOT_TYPE = 'chatgate-discord-bot';

export function getDiscordBot(RED: NodeAPI, id: string | undefined): DiscordBotNode | undefined {
  if (!id) return undefined;
  const n = RED.nodes.getNode(id) as DiscordBotNode | null;
  return n && typeof n.register === 'function' && n.type === BOT_TYPE ? n : undefined;
}

/** What the kit's runInNode and runOutNode need to know of a discord in or out node, the same for both. */
export function nodeSpec(RED: NodeAPI, def: { bot?: string; gateway?: string; name?: string }, side: 'in' | 'out') {
  const bot = getDiscordBot(RED, def.bot);
  return { platform: 'discord' as const, catalog: `discord-${side}`, gatewayId: def.gateway, name: def.name || (side === 'in' ? 'discord' : 'discord out'), owner: bot, bot };
}
