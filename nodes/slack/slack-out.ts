/**
 * chatgate-slack-out: delivers replies, streamed parts and typing signals to the Slack channel
 * and thread a reply is addressed to, through the app config node's shared connection. The life
 * cycle is the channel kit's (runOutNode); this file says what is Slack's: the app, the address,
 * buttons and files, the sender, and how Slack's errors read.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { isOff } from '../core/kit/config-values';
import type { Result } from '../core/envelope';
import type { Outbound } from '../core/outbound';
import { runOutNode } from '../common/kit/out-node';
import { readAddress, type SlackAddress } from './address';
import { getSlackApp } from './app-api';
import { readButtons } from './blocks';
import { readOutFile } from './files';
import { describeSendError } from './send-errors';
import { SlackSender, type SlackReply } from './slack-sender';

interface SlackOutDef extends NodeDef {
  app?: string;
  gateway?: string;
  /** Answer top-level DM messages in a thread under them. */
  dmThreads?: boolean | string;
  typing?: boolean | string;
  status?: string;
  /** 'native' (Slack's streaming where it applies, default) or 'edit' (always one message edited). */
  streaming?: string;
}


export = function (RED: NodeAPI): void {
  function ChatgateSlackOutNode(this: Node, def: SlackOutDef) {
    RED.nodes.createNode(this, def);
    const t = (key: string, params?: Record<string, string | number>) => RED._(key, params);
    const app = getSlackApp(RED, def.app);
    const dmThreads = def.dmThreads === true || def.dmThreads === 'true';

    function prepare(msg: Record<string, unknown>, out: Outbound): Result<SlackReply> {
      const address = readAddress(out.replyTo, { dmThreads }, t);
      if (!address.ok) return address;
      const buttons = readButtons(msg.buttons);
      if (!buttons.ok) return buttons;
      const file = readOutFile(msg);
      if (!file.ok) return file;
      return { ok: true, value: { out, address: address.value, ...(buttons.value ? { buttons: buttons.value } : {}), ...(file.value ? { file: file.value } : {}) } };
    }

    runOutNode<SlackAddress, SlackReply>(RED, this, {
      platform: 'slack',
      catalog: 'slack-out',
      gatewayId: def.gateway,
      name: def.name || 'slack out',
      owner: app,
      // With several apps, a reply must leave through the app its chat talks to; another id (an in
      // node's, from the admin send API) is no app and is answered by this node's app.
      otherOwner: { is: (channelId) => channelId !== def.app && getSlackApp(RED, channelId) !== undefined, errorKey: 'otherApp' },
      prepare,
      sender: (onBackgroundError) =>
        new SlackSender({
          connection: () => app?.connection,
          typing: !isOff(def.typing),
          status: (def.status ?? '').trim() || t('slack-out.label.statusDefault'),
          nativeStreaming: def.streaming !== 'edit',
          // The assistant status and intermediate edits are cosmetic: the final part (or the next reply) says what counts.
          onBackgroundError,
        }),
      describe: (err) => describeSendError(err, t),
    });
  }

  RED.nodes.registerType('chatgate-slack-out', ChatgateSlackOutNode as unknown as (this: Node, def: NodeDef) => void);
};
