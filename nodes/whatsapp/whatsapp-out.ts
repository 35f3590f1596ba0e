/**
 * chatgate-whatsapp-out: delivers replies and typing signals to the WhatsApp user a reply is
 * addressed to, through the account config node's connection. The life cycle is the channel
 * kit's (runOutNode); this file says what is WhatsApp's: the account, the address, buttons, media
 * and templates, the sender, how Meta's errors read, and what Meta later reports of each message
 * (the node status and the gateway's log show sent, delivered, read and failed).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { isOn } from '../core/kit/config-values';
import type { Result } from '../core/envelope';
import { toJid } from '../core/jid';
import type { Outbound } from '../core/outbound';
import { runOutNode } from '../common/kit/out-node';
import { throttleStatus } from '../common/status-throttle';
import { readAddress, type WhatsAppAddress } from './address';
import { getWhatsAppAccount } from './account-api';
import { readChoices } from './interactive';
import { readOutMedia } from './media-out';
import { describeSendError } from './send-errors';
import type { StateChange } from './status-book';
import { configuredTemplate, readTemplate } from './template';
import { WhatsAppSender, type TypingMode, type WhatsAppReply } from './whatsapp-sender';

interface WhatsAppOutDef extends NodeDef {
  account?: string;
  gateway?: string;
  /** Quote the user's message in the first message of a reply. */
  quote?: boolean | string;
  /** 'typing' (read receipt and typing indicator, default), 'read' (read receipt only) or 'off'. */
  typing?: string;
  listButton?: string;
  choicePrompt?: string;
  /** The template sent instead of a reply outside the 24-hour window; empty = none (the reply fails). */
  template?: string;
  templateLanguage?: string;
  /** Fill the template's one body parameter with the reply's text. */
  templateText?: boolean | string;
}


export = function (RED: NodeAPI): void {
  function ChatgateWhatsAppOutNode(this: Node, def: WhatsAppOutDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, params?: Record<string, string | number>) => RED._(key, params);
    const account = getWhatsAppAccount(RED, def.account);
    const typing: TypingMode = def.typing === 'off' || def.typing === 'read' ? def.typing : 'typing';
    const fallback = configuredTemplate(def.template, def.templateLanguage, def.templateText === undefined || isOn(def.templateText));

    function prepare(msg: Record<string, unknown>, out: Outbound): Result<WhatsAppReply> {
      const address = readAddress(out.replyTo, t);
      if (!address.ok) return address;
      const choices = readChoices(msg.buttons);
      if (!choices.ok) return choices;
      const media = readOutMedia(msg);
      if (!media.ok) return media;
      const template = readTemplate(msg.template);
      if (!template.ok) return template;
      return {
        ok: true,
        value: { out, address: address.value, ...(choices.value ? { choices: choices.value } : {}), ...(media.value ? { media: media.value } : {}), ...(template.value ? { template: template.value } : {}) },
      };
    }

    const link = runOutNode<WhatsAppAddress, WhatsAppReply>(RED, node, {
      platform: 'whatsapp',
      catalog: 'whatsapp-out',
      gatewayId: def.gateway,
      name: def.name || 'whatsapp out',
      owner: account,
      // With several accounts, a reply must leave through the number its chat wrote to.
      otherOwner: { is: (channelId) => channelId !== def.account && getWhatsAppAccount(RED, channelId) !== undefined, errorKey: 'otherAccount' },
      prepare,
      sender: (onBackgroundError) =>
        new WhatsAppSender({
          connection: () => account?.connection,
          phoneNumberId: () => account?.settings.phoneNumberId,
          senderId: node.id,
          quote: isOn(def.quote),
          typing,
          listButton: (def.listButton ?? '').trim() || t('whatsapp-out.label.listButtonDefault'),
          choicePrompt: (def.choicePrompt ?? '').trim() || t('whatsapp-out.label.choicePromptDefault'),
          paceMs: account?.settings.paceMs ?? 0,
          ...(fallback ? { fallback } : {}),
          onTemplate: (address, name) => node.warn(t('whatsapp-out.errors.templateSent', { chat: toJid('whatsapp', address.chatKey), template: name })),
          onBackgroundError,
        }),
      describe: (err) => describeSendError(err, t),
    });

    // What Meta reports later of the messages this node sent: the gateway's log and the node's
    // status (coalesced: a busy number reports several times a message), a failure at once.
    const reports = throttleStatus(1000);
    const onDelivery = (change: StateChange) => {
      const r = change.record;
      if (r.sender !== node.id) return;
      const chatJid = toJid('whatsapp', r.chatKey);
      link.gateway?.state.log.add({ direction: 'status', platform: 'whatsapp', chatJid, text: r.error ? `${r.state}: ${r.error}` : r.state, delivery: r.state });
      if (r.state === 'failed') {
        const message = t('whatsapp-out.status.failed', { chat: chatJid, message: r.error ?? '' });
        reports.now(() => link.status('error', message, message));
        node.warn(message);
      } else if (r.state === 'delivered' || r.state === 'read') {
        reports.set(() => link.status('connected', t(`whatsapp-out.status.${r.state}`, { chat: chatJid })));
      }
    };
    account?.connection?.on('delivery', onDelivery);
    node.on('close', () => {
      reports.close();
      account?.connection?.off('delivery', onDelivery);
    });
  }

  RED.nodes.registerType('chatgate-whatsapp-out', ChatgateWhatsAppOutNode as unknown as (this: Node, def: NodeDef) => void);
};
