/**
 * chatgate-telegram-in: every Telegram update its bot receives that is a message for the bot
 * leaves this node as an envelope. Receiving is the bot config node's job (polling or webhook);
 * this node says what is Telegram's — the schema (update-schema.ts), the mapping and gating, the
 * answer to a button press, the downloads — and the channel kit's runInNode does the rest
 * (validation at the edge, de-duplication through the gateway, status, close).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { downloadLimitBytes, isOn } from '../core/kit/config-values';
import type { Attachment } from '../core/envelope';
import { settle } from '../core/guard';
import { runInNode } from '../common/kit/in-node';
import { getTelegramBot } from './bot-api';
import { download, TELEGRAM_DOWNLOAD_LIMIT, type DownloadedFile } from './media';
import { parseUpdate, type TgUpdate } from './update-schema';
import { mapUpdate, type MapOptions, type TelegramExtras } from './update-to-envelope';
import { describeSendError } from './send-errors';

interface TelegramInDef extends NodeDef {
  bot?: string;
  gateway?: string;
  groups?: string;
  edited?: boolean | string;
  download?: boolean | string;
  /** Download limit in MB. */
  maxDownload?: number | string;
}



export = function (RED: NodeAPI): void {
  function ChatgateTelegramInNode(this: Node, def: TelegramInDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const bot = getTelegramBot(RED, def.bot);
    const connection = bot?.connection;
    const groups: MapOptions['groups'] = def.groups === 'always' ? 'always' : 'mention';
    const edited = isOn(def.edited);
    const wantFiles = isOn(def.download);
    const maxBytes = downloadLimitBytes(def.maxDownload, TELEGRAM_DOWNLOAD_LIMIT);

    const inNode = runInNode<TgUpdate>(RED, node, {
      platform: 'telegram',
      catalog: 'telegram-in',
      gatewayId: def.gateway,
      name: def.name || 'telegram',
      owner: bot,
      channelId: bot?.id,
      subscribe: (handler) => connection?.onUpdate((u) => handler(u)),
      // A webhook is served by every instance; only polling waits for its turn.
      ...(connection?.options.mode === 'polling' ? { standby: RED._('telegram-in.status.standby') } : {}),
      parse: (raw) => {
        const parsed = parseUpdate(raw);
        return parsed.ok ? { ok: true, value: parsed.update } : parsed;
      },
      map(update) {
        const me = connection?.botInfo;
        if (!me) return undefined;
        const mapped = mapUpdate(update, { channelId: bot!.id, bot: { id: me.id, username: me.username }, groups, edited });
        if (!mapped.ok) return undefined;
        // Telegram re-delivers an update when a poll's offset or a webhook answer was lost.
        return { payload: mapped.payload, chat: mapped.chat, extras: { telegram: mapped.telegram }, dedupeKey: `u${update.update_id}` };
      },
      accepted(_update, message) {
        const callback = (message.extras?.telegram as TelegramExtras).callback;
        if (!callback || !connection) return;
        // Stops the spinner on the button at once; the reply comes later as a message.
        settle(connection.api.answerCallbackQuery(callback.id), (err) => node.warn(RED._('telegram-in.errors.answerFailed', { message: describeSendError(err, RED._).message })));
      },
      async enrich(_update, message, msg) {
        if (wantFiles && message.chat.attachments.some((a) => a.fileId)) msg.files = await fetchFiles(message.chat.attachments);
      },
    });

    async function fetchFiles(attachments: Attachment[]): Promise<DownloadedFile[]> {
      const files: DownloadedFile[] = [];
      const source = { getFile: (id: string) => connection!.api.getFile(id), fileUrl: (p: string) => bot!.fileUrl(p) };
      for (const a of attachments) {
        if (!a.fileId || inNode.closed) continue;
        const r = await download(a, source, maxBytes);
        if (r.ok) files.push(r.file);
        else if (r.reason === 'tooLarge') node.warn(RED._('telegram-in.errors.tooLarge', { kind: a.kind, limit: String(Math.round(maxBytes / 1024 / 1024)) }));
        else node.warn(RED._('telegram-in.errors.downloadFailed', { kind: a.kind, message: r.message ?? '' }));
      }
      return files;
    }
  }

  RED.nodes.registerType('chatgate-telegram-in', ChatgateTelegramInNode as unknown as (this: Node, def: NodeDef) => void);
};
