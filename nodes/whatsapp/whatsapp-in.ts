/**
 * chatgate-whatsapp-in: every message a WhatsApp user sends the account's number leaves this node
 * as an envelope. Receiving is the account config node's job (Meta's signed webhook); this node
 * says what is WhatsApp's — the schema (event-schema.ts), the mapping (event-to-envelope.ts), the
 * downloads — and the channel kit's runInNode does the rest (validation at the edge,
 * de-duplication through the gateway by message id, status, close).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { downloadLimitBytes, isOn } from '../core/kit/config-values';
import type { DownloadedFile } from '../core/kit/capped-fetch';
import { runInNode } from '../common/kit/in-node';
import { getWhatsAppAccount } from './account-api';
import { parseInbound, type InboundEvent } from './event-schema';
import { mapMessage, type WhatsAppExtras } from './event-to-envelope';

interface WhatsAppInDef extends NodeDef {
  account?: string;
  gateway?: string;
  reactions?: boolean | string;
  download?: boolean | string;
  /** Download limit in MB. */
  maxDownload?: number | string;
}

/** Meta keeps media up to 100 MB (documents). */
const WHATSAPP_DOWNLOAD_LIMIT = 100 * 1024 * 1024;



export = function (RED: NodeAPI): void {
  function ChatgateWhatsAppInNode(this: Node, def: WhatsAppInDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const account = getWhatsAppAccount(RED, def.account);
    const connection = account?.connection;
    const reactions = isOn(def.reactions);
    const wantFiles = isOn(def.download);
    const maxBytes = downloadLimitBytes(def.maxDownload, WHATSAPP_DOWNLOAD_LIMIT);
    const t = (key: string, params?: Record<string, string | number>) => RED._(key, params);

    const inNode = runInNode<InboundEvent>(RED, node, {
      platform: 'whatsapp',
      catalog: 'whatsapp-in',
      gatewayId: def.gateway,
      name: def.name || 'whatsapp',
      owner: account,
      channelId: account?.id,
      subscribe: (handler) => connection?.onInbound(handler),
      parse: parseInbound,
      map(event) {
        if (!account) return undefined;
        const mapped = mapMessage(event, { channelId: account.id, reactions });
        if (!mapped.ok) return undefined;
        return { payload: mapped.payload, chat: mapped.chat, extras: { whatsapp: mapped.whatsapp }, dedupeKey: mapped.dedupeKey };
      },
      async enrich(_event, message, msg) {
        const media = (message.extras?.whatsapp as WhatsAppExtras | undefined)?.media;
        if (wantFiles && media) msg.files = await fetchMedia(media);
      },
    });

    async function fetchMedia(media: NonNullable<WhatsAppExtras['media']>): Promise<DownloadedFile[]> {
      if (inNode.closed || !account) return [];
      const name = media.filename ?? `${media.kind} ${media.id}`;
      const limit = String(Math.round(maxBytes / 1024 / 1024));
      const r = await account.media(media.id, maxBytes);
      if (r.ok) {
        const mimeType = media.mimeType ?? r.info?.mimeType ?? r.contentType;
        return [{ kind: media.kind, fileId: media.id, ...(media.filename ? { name: media.filename } : {}), ...(mimeType ? { mimeType } : {}), size: r.data.length, data: r.data }];
      }
      if (r.reason === 'tooLarge') node.warn(t('whatsapp-in.errors.tooLarge', { name, limit }));
      else node.warn(t('whatsapp-in.errors.downloadFailed', { name, message: r.message ?? '' }));
      return [];
    }
  }

  RED.nodes.registerType('chatgate-whatsapp-in', ChatgateWhatsAppInNode as unknown as (this: Node, def: NodeDef) => void);
};
