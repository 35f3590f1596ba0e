/**
 * chatgate-discord-out: delivers replies, streamed parts and typing signals to the Discord channel,
 * thread, DM or interaction a reply is addressed to, through the bot config node's shared
 * connection. The life cycle is the channel kit's (runOutNode); this file says what is Discord's:
 * the bot, the address, buttons and files, the sender, and how Discord's errors read.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Result } from '../core/envelope';
import { readOutFile } from '../core/kit/out-file';
import type { Outbound } from '../core/outbound';
import { runOutNode } from '../common/kit/out-node';
import { readAddress, type DiscordAddress } from './address';
import { getDiscordBot, nodeSpec } from './bot-api';
import { readComponents } from './components';
import { DiscordSender, type DiscordReply } from './discord-sender';
import { describeSendError, type Translate } from './send-errors';
import { readOutSettings } from './settings';

interface DiscordOutDef extends NodeDef {
  bot?: string;
  gateway?: string;
  replyToMessage?: boolean | string;
  typing?: boolean | string;
  mentions?: string;
}

/** Discord's upload limit for a bot in a server without boosts. */
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** The reply a message asks for, or the field that is wrong. */
function replyOf(t: Translate, msg: Record<string, unknown>, out: Outbound): Result<DiscordReply> {
  const address = readAddress(out.replyTo, t);
  if (!address.ok) return address;
  const components = readComponents(msg.buttons);
  if (!components.ok) return components;
  const file = readOutFile(msg, { platform: 'Discord', maxBytes: MAX_UPLOAD_BYTES });
  if (!file.ok) return file;
  return { ok: true, value: { out, address: address.value, ...(components.value ? { components: components.value } : {}), ...(file.value ? { file: file.value } : {}) } };
}

export = function (RED: NodeAPI): void {
  function ChatgateDiscordOutNode(this: Node, def: DiscordOutDef) {
    RED.nodes.createNode(this, def);
    const t: Translate = (key, params) => RED._(key, params);
    const { bot, ...spec } = nodeSpec(RED, def, 'out');
    const options = readOutSettings(def);
    runOutNode<DiscordAddress, DiscordReply>(RED, this, {
      ...spec,
      // With several bots, a reply must leave through the bot its chat talks to.
      otherOwner: { is: (channelId) => channelId !== def.bot && getDiscordBot(RED, channelId) !== undefined, errorKey: 'otherBot' },
      prepare: (msg, out) => replyOf(t, msg, out),
      // Typing and intermediate edits are cosmetic: the final part (or the next reply) says what counts.
      sender: (onBackgroundError) => new DiscordSender({ connection: () => bot?.connection, ...options, onBackgroundError }),
      describe: (err) => describeSendError(err, t),
    });
  }

  RED.nodes.registerType('chatgate-discord-out', ChatgateDiscordOutNode as unknown as (this: Node, def: NodeDef) => void);
};
