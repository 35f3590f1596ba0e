/**
 * chatgate-discord-in: every Discord message, slash command and button press for the bot that is
 * addressed to it leaves this node as an envelope. Receiving is the bot config node's job (the
 * gateway, the interactions endpoint); this node says what is Discord's — the schema
 * (event-schema.ts), the mapping and gating (event-to-envelope.ts), the acknowledgement of an
 * interaction the moment the flow will see it (a deferral, ephemeral when asked), the downloads —
 * and the channel kit's runInNode does the rest (validation at the edge, de-duplication through
 * the gateway by message or interaction id, status, close).
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { fetchCapped, type DownloadedFile } from '../core/kit/capped-fetch';
import { runInNode, type InNode } from '../common/kit/in-node';
import { nodeSpec, type DiscordBotNode } from './bot-api';
import { parseInbound, type DiscordAttachment, type DiscordInbound } from './event-schema';
import { attachmentsOf, mapInbound } from './event-to-envelope';
import { readInSettings, type InSettings } from './settings';

interface DiscordInDef extends NodeDef {
  bot?: string;
  gateway?: string;
  guild?: string;
  channels?: string;
  ephemeral?: boolean | string;
  download?: boolean | string;
  /** Download limit in MB. */
  maxDownload?: number | string;
}

type Translate = (key: string, params?: Record<string, string | number>) => string;

function isAllowedOrigin(url: string, origins: readonly string[]): boolean {
  try {
    return origins.includes(new URL(url).origin);
  } catch {
    return false;
  }
}

/** The attachments' bytes, each up to the limit, from Discord's CDN (or the bot's API host) only; the signed URL stays here. */
async function download(files: readonly DiscordAttachment[], bot: DiscordBotNode, s: InSettings, inNode: () => InNode | undefined, warn: (key: string, params: Record<string, string>) => void): Promise<DownloadedFile[]> {
  const out: DownloadedFile[] = [];
  const meta = attachmentsOf(files);
  const limit = String(Math.round(s.maxDownloadBytes / 1024 / 1024));
  for (let i = 0; i < files.length; i++) {
    if (inNode()?.closed) break;
    const f = files[i];
    if (f.size !== undefined && f.size > s.maxDownloadBytes) {
      warn('discord-in.errors.tooLarge', { name: f.filename, limit });
      continue;
    }
    if (!f.url || !isAllowedOrigin(f.url, bot.fileOrigins)) {
      warn('discord-in.errors.downloadFailed', { name: f.filename, message: 'not a Discord CDN URL' });
      continue;
    }
    const r = await fetchCapped(f.url, { maxBytes: s.maxDownloadBytes });
    if (r.ok) out.push({ kind: meta[i].kind, fileId: f.id, name: f.filename, ...(f.content_type ? { mimeType: f.content_type } : {}), size: r.data.length, data: r.data });
    else if (r.reason === 'tooLarge') warn('discord-in.errors.tooLarge', { name: f.filename, limit });
    else warn('discord-in.errors.downloadFailed', { name: f.filename, message: r.message ?? '' });
  }
  return out;
}

/** What the node says while another instance holds the bot's gateway session (the interactions endpoint is served on every instance). */
function standbyOf(connection: DiscordBotNode['connection'], t: Translate): { standby?: string } {
  const o = connection?.options;
  if (!o || o.receive === 'http') return {};
  return { standby: o.receive === 'both' && o.http ? t('discord-in.status.standbyBoth', { path: o.http.path }) : t('discord-in.status.standby') };
}

function listen(RED: NodeAPI, node: Node, def: DiscordInDef, t: Translate): InNode {
  const { bot, ...spec } = nodeSpec(RED, def, 'in');
  const connection = bot?.connection;
  const s = readInSettings(def);
  const channels = new Set(s.channels);
  let inNode: InNode | undefined;
  inNode = runInNode<DiscordInbound>(RED, node, {
    ...spec,
    channelId: bot?.id,
    parse: parseInbound,
    subscribe: (handler) => connection?.onInbound((raw) => handler(raw)),
    ...standbyOf(connection, t),
    map(inbound) {
      const me = connection?.identity;
      if (!me || !bot) return undefined;
      const mapped = mapInbound(inbound, { channelId: bot.id, botId: me.id, guild: s.guild, channels });
      if (!mapped.ok) return undefined;
      return { payload: mapped.payload, chat: mapped.chat, extras: { discord: mapped.discord }, dedupeKey: mapped.dedupeKey };
    },
    accepted(inbound) {
      // Within Discord's 3 s, before the agent runs: the user sees "thinking…" (or nothing, for a button).
      if (inbound.kind === 'command' || inbound.kind === 'component') connection?.interactions.acknowledge(inbound.interaction.id, { ephemeral: s.ephemeral });
    },
    async enrich(inbound, _message, msg: NodeMessage & Record<string, unknown>) {
      if (!s.download || inbound.kind !== 'message' || inbound.message.attachments.length === 0 || !bot) return;
      msg.files = await download(inbound.message.attachments, bot, s, () => inNode, (key, params) => node.warn(t(key, params)));
    },
  });
  return inNode;
}

export = function (RED: NodeAPI): void {
  function ChatgateDiscordInNode(this: Node, def: DiscordInDef) {
    RED.nodes.createNode(this, def);
    listen(RED, this, def, (key, params) => RED._(key, params));
  }

  RED.nodes.registerType('chatgate-discord-in', ChatgateDiscordInNode as unknown as (this: Node, def: NodeDef) => void);
};
