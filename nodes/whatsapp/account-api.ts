/**
 * The API of a chatgate-whatsapp-account config node as its in and out nodes use it. The node owns
 * ONE connection per account (the Graph API calls and Meta's webhook on its path), opened with its
 * first user and closed with its last.
 *
 *   const account = getWhatsAppAccount(RED, def.account);  // undefined: none selected / not deployed
 *   account.register(node, { sink: link, receive: true });  // in nodes receive; out nodes do not
 *   account.connection.calls          // every Graph call, with the retry policy of graph-calls.ts
 *   account.connection.statuses       // what became of each message sent (StatusBook)
 *   account.connection.on('delivery', change => ...)   // a sent message's new state
 *   account.connection.onInbound(raw => ...)           // each message with its contact
 *   account.settings                  // phone number id, version, timings
 *   account.media(id, maxBytes)       // an inbound media's bytes, through the media endpoint
 *   node.on('close', (_removed, done) => account.deregister(node, done));
 *
 * `account.connection` is undefined when the node is unusable (no token, a bad setting);
 * register() then pushes an error status to the user, and deregister() still calls done.
 */
import type { Node, NodeAPI } from 'node-red';
import type { RegisterOptions } from '../common/kit/connection-users';
import type { DownloadResult } from '../core/kit/capped-fetch';
import type { WhatsAppConnection } from './connection';
import type { AccountSettings, WhatsAppCredentials } from './settings';

export const ACCOUNT_TYPE = 'chatgate-whatsapp-account';

export interface MediaInfo {
  mimeType?: string;
  size?: number;
}

export interface WhatsAppAccountNode extends Node<WhatsAppCredentials> {
  readonly connection: WhatsAppConnection | undefined;
  readonly settings: AccountSettings;
  /** Resolves a media id (`GET /{media-id}`) and downloads it with the token, up to `maxBytes`. */
  media(mediaId: string, maxBytes: number): Promise<DownloadResult & { info?: MediaInfo }>;
  register(user: Node, options?: RegisterOptions): void;
  deregister(user: Node, done?: () => void): void;
}

export function getWhatsAppAccount(RED: NodeAPI, id: string | undefined): WhatsAppAccountNode | undefined {
  if (!id) return undefined;
  const n = RED.nodes.getNode(id) as WhatsAppAccountNode | null;
  return n && typeof n.register === 'function' && n.type === ACCOUNT_TYPE ? n : undefined;
}
