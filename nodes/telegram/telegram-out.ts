/**
 * chatgate-telegram-out: delivers replies, streamed parts and typing signals to the Telegram chat a
 * reply is addressed to, through the bot config node's shared connection. The work is done by
 * TelegramSender; this file reads the message and the config, and reports status and errors.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { OutboundReply } from '../core/channels';
import { ChatQueueClosedError } from '../core/delivery';
import type { Result } from '../core/envelope';
import { toJid } from '../core/jid';
import { readOutbound, type Outbound } from '../core/outbound';
import { linkChannel } from '../gateway/channel-link';
import { throttleStatus } from '../common/status-throttle';
import { readAddress } from './address';
import { getTelegramBot } from './bot-api';
import { readButtons } from './buttons';
import { readMedia } from './media-out';
import { describeSendError, scrubToken } from './send-errors';
import { NoBotError, TelegramSender, type Delivered, type TelegramReply } from './telegram-sender';

interface TelegramOutDef extends NodeDef {
  bot?: string;
  gateway?: string;
  replyToMessage?: boolean;
  typing?: boolean;
}

/** What the node reads from a message beyond the envelope. */
interface TelegramOutMessage extends NodeMessage {
  chat?: unknown;
  stream?: unknown;
  event?: unknown;
  thread?: unknown;
  buttons?: unknown;
  photo?: unknown;
  document?: unknown;
  filename?: unknown;
}

export = function (RED: NodeAPI): void {
  function ChatgateTelegramOutNode(this: Node, def: TelegramOutDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, params?: Record<string, string | number>) => RED._(key, params);
    const link = linkChannel(RED, node, def.gateway || undefined, { platform: 'telegram', direction: 'out', name: def.name || 'telegram out' });
    const status = throttleStatus();
    const bot = getTelegramBot(RED, def.bot);
    if (bot) bot.register(node, { sink: link, receive: false });
    else link.status('error', t('telegram-out.status.noBot'), t('telegram-out.errors.noBot'));

    const sender = new TelegramSender({
      api: () => bot?.connection?.api,
      replyToMessage: def.replyToMessage === true,
      typing: def.typing !== false,
      // Typing and intermediate edits are cosmetic: the final part (or the next reply) says what counts.
      onBackgroundError: (err) => {
        const e = describeSendError(err, t);
        status.now(() => link.status('error', t('chatgate.status.deliveryFailed', { message: e.message }), e.message));
      },
    });

    function prepare(msg: TelegramOutMessage, outbound?: Outbound): Result<TelegramReply> {
      const read = outbound ? { ok: true as const, value: outbound } : readOutbound(msg);
      if (!read.ok) return read;
      // With several bots, a reply must leave through the bot its chat talks to; another id (an in
      // node's, from the admin send API) is no bot and is answered by this node's bot.
      const owner = read.value.replyTo.channelId;
      if (owner !== def.bot && getTelegramBot(RED, owner)) return { ok: false, error: t('telegram-out.errors.otherBot', { channelId: owner }) };
      const address = readAddress(read.value.replyTo, t);
      if (!address.ok) return address;
      const buttons = readButtons(msg.buttons);
      if (!buttons.ok) return buttons;
      const media = readMedia(msg);
      if (!media.ok) return media;
      return { ok: true, value: { out: read.value, address: address.value, buttons: buttons.value, media: media.value } };
    }

    function shown(d: Delivered, reply: TelegramReply): void {
      const chat = toJid('telegram', reply.address.chatKey);
      status.set(() => {
        if (d.kind === 'sent') link.status('connected', t('telegram-out.status.sent', { chat, parts: d.messages }));
        else if (d.kind === 'streaming') link.status('connected', t('telegram-out.status.streaming', { chat }));
        else if (d.kind === 'typing') link.status('connected', t('telegram-out.status.typing', { chat }));
      });
    }

    function failed(err: unknown): Error {
      let e: Error;
      if (err instanceof NoBotError) e = new Error(t('telegram-out.errors.noBot'));
      else if (err instanceof ChatQueueClosedError) e = new Error(t('telegram-out.errors.stopped'));
      else e = describeSendError(err, t);
      status.now(() => link.status('error', t('chatgate.status.deliveryFailed', { message: e.message }), e.message));
      return e;
    }

    function invalid(error: string): Error {
      const message = scrubToken(error);
      status.now(() => link.status('error', t('chatgate.status.invalid', { message }), message));
      return new Error(message);
    }

    // The gateway's admin send API builds a reply itself and hands it to an out node of the platform.
    link.gateway?.state.channels.addSender(node.id, 'telegram', async (reply: OutboundReply) => {
      const out: Outbound = { text: reply.payload, replyTo: reply.chat.replyTo, threadId: reply.thread?.id };
      const prepared = prepare({}, out);
      if (!prepared.ok) throw invalid(prepared.error);
      try {
        shown(await sender.deliver(prepared.value), prepared.value);
      } catch (err) {
        throw failed(err);
      }
    });

    node.on('input', (msg: TelegramOutMessage, _send: unknown, done: (err?: Error) => void) => {
      const prepared = prepare(msg);
      if (!prepared.ok) return done(invalid(prepared.error));
      sender.deliver(prepared.value).then(
        (d) => {
          shown(d, prepared.value);
          done();
        },
        (err: unknown) => done(failed(err)),
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.close();
      sender.close();
      link.close();
      if (bot) bot.deregister(node, done);
      else done();
    });
  }

  RED.nodes.registerType('chatgate-telegram-out', ChatgateTelegramOutNode as unknown as (this: Node, def: NodeDef) => void);
};
