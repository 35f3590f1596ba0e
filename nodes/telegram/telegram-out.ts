/**
 * chatgate-telegram-out: delivers replies, streamed parts and typing signals to the Telegram chat a
 * reply is addressed to, through the bot config node's shared connection. The life cycle is the
 * channel kit's (runOutNode); this file says what is Telegram's: the bot, the address, buttons and
 * media, the sender, and how Telegram's errors read.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Result } from '../core/envelope';
import type { Outbound } from '../core/outbound';
import { runOutNode } from '../common/kit/out-node';
import { readAddress, type TelegramAddress } from './address';
import { getTelegramBot } from './bot-api';
import { readButtons } from './buttons';
import { readMedia } from './media-out';
import { describeSendError } from './send-errors';
import { TelegramSender, type TelegramReply } from './telegram-sender';

interface TelegramOutDef extends NodeDef {
  bot?: string;
  gateway?: string;
  replyToMessage?: boolean;
  typing?: boolean;
}

export = function (RED: NodeAPI): void {
  function ChatgateTelegramOutNode(this: Node, def: TelegramOutDef) {
    RED.nodes.createNode(this, def);
    const t = (key: string, params?: Record<string, string | number>) => RED._(key, params);
    const bot = getTelegramBot(RED, def.bot);

    function prepare(msg: Record<string, unknown>, out: Outbound): Result<TelegramReply> {
      const address = readAddress(out.replyTo, t);
      if (!address.ok) return address;
      const buttons = readButtons(msg.buttons);
      if (!buttons.ok) return buttons;
      const media = readMedia(msg);
      if (!media.ok) return media;
      return { ok: true, value: { out, address: address.value, buttons: buttons.value, media: media.value } };
    }

    runOutNode<TelegramAddress, TelegramReply>(RED, this, {
      platform: 'telegram',
      catalog: 'telegram-out',
      gatewayId: def.gateway,
      name: def.name || 'telegram out',
      owner: bot,
      // With several bots, a reply must leave through the bot its chat talks to; another id (an in
      // node's, from the admin send API) is no bot and is answered by this node's bot.
      otherOwner: { is: (channelId) => channelId !== def.bot && getTelegramBot(RED, channelId) !== undefined, errorKey: 'otherBot' },
      prepare,
      sender: (onBackgroundError) =>
        new TelegramSender({
          api: () => bot?.connection?.api,
          replyToMessage: def.replyToMessage === true,
          typing: def.typing !== false,
          // Typing and intermediate edits are cosmetic: the final part (or the next reply) says what counts.
          onBackgroundError,
        }),
      describe: (err) => describeSendError(err, t),
    });
  }

  RED.nodes.registerType('chatgate-telegram-out', ChatgateTelegramOutNode as unknown as (this: Node, def: NodeDef) => void);
};
