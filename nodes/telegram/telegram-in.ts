/**
 * chatgate-telegram-in: every Telegram update its bot receives that is a message for the bot
 * leaves this node as an envelope. Receiving is the bot config node's job (polling or webhook);
 * this node validates (update-schema.ts), maps, gates, de-duplicates through the gateway, answers
 * button presses and optionally downloads the files.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { linkChannel } from '../gateway/channel-link';
import { getTelegramBot } from './bot-api';
import { download, TELEGRAM_DOWNLOAD_LIMIT, type DownloadedFile } from './media';
import { parseUpdate, RejectTally } from './update-schema';
import { mapUpdate, type MapOptions } from './update-to-envelope';
import { settle } from '../core/guard';
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

const on = (v: unknown) => v === true || v === 'true';

function downloadLimit(v: unknown): number {
  const mb = Number(v);
  if (!Number.isFinite(mb) || mb <= 0) return 5 * 1024 * 1024;
  return Math.min(Math.round(mb * 1024 * 1024), TELEGRAM_DOWNLOAD_LIMIT);
}

export = function (RED: NodeAPI): void {
  function ChatgateTelegramInNode(this: Node, def: TelegramInDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const link = linkChannel(RED, node, def.gateway, { platform: 'telegram', direction: 'in', name: def.name || 'telegram' });
    const bot = getTelegramBot(RED, def.bot);
    const gateway = link.gateway;
    const groups: MapOptions['groups'] = def.groups === 'always' ? 'always' : 'mention';
    const edited = on(def.edited);
    const wantFiles = on(def.download);
    const maxBytes = downloadLimit(def.maxDownload);
    let unsubscribe: (() => void) | undefined;
    let closed = false;
    const rejected = new RejectTally();

    const fail = (message: string) => {
      link.status('error', message, message);
      node.error(message);
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      unsubscribe?.();
      link.close();
      // Each kind was logged once; the counts say how much of it there was.
      if (rejected.total > 0) node.warn(RED._('telegram-in.errors.malformedSummary', { count: String(rejected.total), kinds: rejected.summary() }));
      if (bot) bot.deregister(node, done);
      else done();
    });

    if (!bot) return fail(RED._('telegram-in.errors.noBot'));
    if (!gateway) return fail(RED._('chatgate.errors.noGateway'));

    const connection = bot.connection;
    if (connection) unsubscribe = connection.onUpdate((u) => handle(u));
    bot.register(node, { sink: link, receive: true });

    async function handle(raw: unknown): Promise<void> {
      const me = connection?.botInfo;
      if (closed || !me || !connection) return;
      const parsed = parseUpdate(raw);
      if (!parsed.ok) {
        // Dropped before de-duplication: a made-up id must not take the place of a real one.
        if (rejected.note(parsed.kind)) node.warn(RED._('telegram-in.errors.malformed', { kind: parsed.kind, problem: parsed.problem }));
        return;
      }
      const update = parsed.update;
      const mapped = mapUpdate(update, { channelId: bot!.id, bot: { id: me.id, username: me.username }, groups, edited });
      if (!mapped.ok) return;
      await gateway!.ready;
      if (closed) return;
      // Telegram re-delivers an update when a poll's offset or a webhook answer was lost.
      if (gateway!.state.isDuplicate('telegram', bot!.id, `u${update.update_id}`)) return;
      const callback = mapped.telegram.callback;
      if (callback) {
        // Stops the spinner on the button at once; the reply comes later as a message.
        settle(connection.api.answerCallbackQuery(callback.id), (err) => node.warn(RED._('telegram-in.errors.answerFailed', { message: describeSendError(err, RED._).message })));
      }
      const msg: NodeMessage & { files?: DownloadedFile[] } = { payload: mapped.payload, chat: mapped.chat, telegram: mapped.telegram } as NodeMessage;
      if (wantFiles && mapped.chat.attachments.some((a) => a.fileId)) {
        msg.files = await fetchFiles(mapped.chat.attachments);
        if (closed) return;
      }
      node.send(msg);
    }

    async function fetchFiles(attachments: Parameters<typeof download>[0][]): Promise<DownloadedFile[]> {
      const files: DownloadedFile[] = [];
      const source = { getFile: (id: string) => connection!.api.getFile(id), fileUrl: (p: string) => bot!.fileUrl(p) };
      for (const a of attachments) {
        if (!a.fileId) continue;
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
