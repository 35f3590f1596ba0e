/**
 * chatgate-slack-in: every Slack message, slash command and button press for the app that is
 * addressed to it leaves this node as an envelope. Receiving is the app config node's job (Socket
 * Mode or the Events API); this node says what is Slack's — the schema (event-schema.ts), the
 * mapping and gating (event-to-envelope.ts), the AI-app greeting, the downloads — and the channel
 * kit's runInNode does the rest (validation at the edge, de-duplication through the gateway on
 * channel + ts, status, close).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { downloadLimitBytes, isOn } from '../core/kit/config-values';
import { settle } from '../core/guard';
import { runInNode } from '../common/kit/in-node';
import { getSlackApp } from './app-api';
import { parseInbound, type SlackFileInfo, type SlackInbound } from './event-schema';
import { mapInbound, type MapOptions } from './event-to-envelope';
import { attachmentsOf, isSignInPage, SLACK_DOWNLOAD_LIMIT, type DownloadedFile } from './files';
import { readPrompts, type Prompt } from './prompts';
import { describeSendError } from './send-errors';

interface SlackInDef extends NodeDef {
  app?: string;
  gateway?: string;
  channels?: string;
  threads?: string;
  edited?: boolean | string;
  download?: boolean | string;
  /** Download limit in MB. */
  maxDownload?: number | string;
  /** Suggested prompts for a new AI-app thread: an array of { title, message } (or a JSON string of one). */
  prompts?: unknown;
  promptsTitle?: string;
  threadTitle?: string;
}



function filesOf(inbound: SlackInbound): SlackFileInfo[] {
  if (inbound.kind !== 'message') return [];
  return (inbound.event.subtype === 'message_changed' ? inbound.event.message?.files : inbound.event.files) ?? [];
}

export = function (RED: NodeAPI): void {
  function ChatgateSlackInNode(this: Node, def: SlackInDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const app = getSlackApp(RED, def.app);
    const connection = app?.connection;
    const channels: MapOptions['channels'] = def.channels === 'all' ? 'all' : 'mention';
    const threads: MapOptions['threads'] = def.threads === 'mention' ? 'mention' : 'participating';
    const edited = isOn(def.edited);
    const wantFiles = isOn(def.download);
    const maxBytes = downloadLimitBytes(def.maxDownload, SLACK_DOWNLOAD_LIMIT);
    const prompts: Prompt[] = readPrompts(def.prompts);
    const t = (key: string, params?: Record<string, string | number>) => RED._(key, params);

    /** A user opened the assistant: the operator's title and suggested prompts, if any. */
    function greet(inbound: SlackInbound & { kind: 'assistantStarted' }): void {
      if (!connection) return;
      const { channel_id, thread_ts } = inbound.event.assistant_thread;
      const warn = (err: unknown) => node.warn(t('slack-in.errors.assistantFailed', { message: describeSendError(err, t).message }));
      if (prompts.length) {
        const title = def.promptsTitle?.trim();
        settle(connection.calls.call('assistant.threads.setSuggestedPrompts', { channel_id, thread_ts, prompts, ...(title ? { title } : {}) }, { idempotent: true, optional: true }), warn);
      }
      const threadTitle = def.threadTitle?.trim();
      if (threadTitle) settle(connection.calls.call('assistant.threads.setTitle', { channel_id, thread_ts, title: threadTitle }, { idempotent: true, optional: true }), warn);
    }

    const inNode = runInNode<SlackInbound>(RED, node, {
      platform: 'slack',
      catalog: 'slack-in',
      gatewayId: def.gateway,
      name: def.name || 'slack',
      owner: app,
      channelId: app?.id,
      subscribe: (handler) =>
        connection?.onInbound((raw) => {
          const parsed = parseInbound(raw);
          if (parsed.ok && parsed.value.kind === 'assistantStarted') return greet(parsed.value as SlackInbound & { kind: 'assistantStarted' });
          return handler(raw);
        }),
      parse: parseInbound,
      map(inbound) {
        const me = connection?.identity;
        if (!me || !app) return undefined;
        const mapped = mapInbound(inbound, {
          channelId: app.id,
          bot: { userId: me.userId, botId: me.botId, teamId: me.teamId },
          channels,
          threads,
          edited,
          participates: (channel, ts) => connection!.threads.has(channel, ts),
        });
        if (!mapped.ok) return undefined;
        return { payload: mapped.payload, chat: mapped.chat, extras: { slack: mapped.slack }, dedupeKey: mapped.dedupeKey };
      },
      accepted(_inbound, message) {
        // The bot now takes part in this thread: later replies in it need no mention.
        const chat = message.chat;
        if (chat.chatType !== 'direct' && chat.threadId) connection?.threads.note(chat.chatId, chat.threadId);
      },
      async enrich(inbound, _message, msg) {
        const files = filesOf(inbound);
        if (wantFiles && files.length) msg.files = await fetchFiles(files);
      },
    });

    async function fetchFiles(files: SlackFileInfo[]): Promise<DownloadedFile[]> {
      const out: DownloadedFile[] = [];
      for (const f of files) {
        if (inNode.closed || !app) break;
        const url = f.url_private_download ?? f.url_private;
        const name = f.name ?? f.title ?? f.id;
        if (f.size !== undefined && f.size > maxBytes) {
          node.warn(t('slack-in.errors.tooLarge', { name, limit: String(Math.round(maxBytes / 1024 / 1024)) }));
          continue;
        }
        if (!url) {
          node.warn(t('slack-in.errors.downloadFailed', { name, message: 'no download URL' }));
          continue;
        }
        const r = await app.download(url, maxBytes);
        if (r.ok && isSignInPage(r, f.mimetype)) node.warn(t('slack-in.errors.downloadRefused', { name }));
        else if (r.ok) out.push({ kind: attachmentsOf([f])[0].kind, fileId: f.id, ...(f.name ? { name: f.name } : {}), ...(f.mimetype ? { mimeType: f.mimetype } : {}), size: r.data.length, data: r.data });
        else if (r.reason === 'tooLarge') node.warn(t('slack-in.errors.tooLarge', { name, limit: String(Math.round(maxBytes / 1024 / 1024)) }));
        else node.warn(t('slack-in.errors.downloadFailed', { name, message: r.message ?? '' }));
      }
      return out;
    }
  }

  RED.nodes.registerType('chatgate-slack-in', ChatgateSlackInNode as unknown as (this: Node, def: NodeDef) => void);
};
