/**
 * chatgate-allowlist-filter: lets known senders through; refused messages go to a second output
 * with the reason, or are dropped. Runtime entries live in the gateway store; entries written in
 * the editor are part of the flow.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { z } from 'zod';
import { ALLOWLIST_MODES, AllowEntrySchema, checkAllowedIn, indexEntries, parseEntries, type AllowlistMode, type MatchOn } from '../core/allowlist';
import { describeIssues, validateInbound, type Chat } from '../core/envelope';
import { parseCommand } from '../core/inbound';
import { normalizeCode } from '../core/pairing';
import { admitPaired } from '../gateway/pairing-api';
import { getGateway } from '../gateway/gateway-runtime';
import { andThen, type Maybe } from '../core/store/state-ops';
import { throttleStatus } from '../common/status-throttle';
import { handOverLateSends } from '../common/late-sends';
import { clearFlowEntries, setFlowEntries } from '../gateway/flow-allowlists';

interface AllowlistDef extends NodeDef {
  gateway: string;
  mode?: string;
  matchOn?: string;
  list?: string;
  entries?: unknown;
  refused?: string;
  /** pairing mode: who may approve codes with `/pair CODE [label]`, JID patterns separated by commas, spaces or lines. */
  admins?: string;
  /** pairing mode: the reply with the code; `{code}` stands for it. Empty: the catalog's text. */
  pairingText?: string;
  /** pairing mode: what an approved sender is told. Empty: the catalog's text. */
  pairedText?: string;
}

const ControlSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('add'), jid: z.string(), label: z.string().optional() }),
  z.object({ action: z.literal('remove'), jid: z.string() }),
  z.object({ action: z.literal('replace'), entries: z.array(AllowEntrySchema).max(10000) }),
  z.object({ action: z.literal('clear') }),
]);

export = function (RED: NodeAPI): void {
  function AllowlistFilterNode(this: Node, def: AllowlistDef) {
    RED.nodes.createNode(this, def);
    // A message under way when a redeploy closes the node goes on from the next deploy's node.
    handOverLateSends(RED, this);
    const node = this;
    const gateway = getGateway(RED, def.gateway);
    const mode: AllowlistMode = (ALLOWLIST_MODES as readonly string[]).includes(def.mode ?? '') ? (def.mode as AllowlistMode) : 'allowlist';
    const matchOn: MatchOn = def.matchOn === 'sender' || def.matchOn === 'chat' ? def.matchOn : 'either';
    const list = def.list || 'default';
    const dropRefused = def.refused === 'drop';
    const { entries: flowEntries, invalid } = parseEntries(def.entries);
    // Indexed once: every message is checked by lookups, never by a scan of the lists.
    const flowIndex = indexEntries(flowEntries);
    const admins = indexEntries(parseEntries(String(def.admins ?? '').split(/[\s,]+/).filter(Boolean).map((jid) => ({ jid }))).entries);
    const customText = (def.pairingText ?? '').trim();
    if (mode === 'pairing' && customText && !customText.includes('{code}')) node.warn(RED._('allowlist-filter.errors.pairingText'));
    const catalogText = RED._('allowlist-filter.pairing.codeText');
    const codeText = customText.includes('{code}') ? customText : catalogText.includes('{code}') ? catalogText : `${catalogText} {code}`;
    const welcome = (def.pairedText ?? '').trim() || RED._('allowlist-filter.pairing.welcome');
    let passed = 0;
    let refused = 0;

    if (invalid.length) node.warn(RED._('allowlist-filter.errors.invalidEntries', { entries: invalid.join(', ') }));
    if (gateway) setFlowEntries(gateway.node.id, node.id, list, flowEntries);

    const status = throttleStatus();
    const showCounts = () =>
      status.set(() => node.status({
        fill: mode === 'closed' ? 'red' : 'green',
        shape: 'dot',
        text: RED._('allowlist-filter.status.counts', { mode: RED._(`allowlist-filter.mode.${mode}`), passed, refused }),
      }));
    node.status(gateway ? { fill: 'grey', shape: 'ring', text: RED._(`allowlist-filter.mode.${mode}`) } : { fill: 'red', shape: 'ring', text: RED._('chatgate.status.noGateway') });

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      if (!gateway) return done(new Error(RED._('chatgate.errors.noGateway')));
      gateway.whenReady(() => {
        const lists = gateway.allowlists;
        if (msg.topic === 'allowlist') {
          const control = ControlSchema.safeParse(msg.payload);
          if (!control.success) return done(new Error(describeIssues(control.error, 'msg.payload')));
          const c = control.data;
          let change: Maybe<unknown>;
          if (c.action === 'add') {
            const entry = AllowEntrySchema.safeParse({ jid: c.jid, label: c.label });
            if (!entry.success) return done(new Error(describeIssues(entry.error, 'msg.payload')));
            change = gateway.ops.addAllowEntry(list, entry.data);
          } else if (c.action === 'remove') change = gateway.ops.removeAllowEntry(list, c.jid);
          else change = gateway.ops.replaceAllowEntries(list, c.action === 'replace' ? c.entries : []);
          andThen(change, () => {
            node.status({ fill: 'blue', shape: 'dot', text: RED._('allowlist-filter.status.changed', { count: lists.entries(list).length + flowEntries.length }) });
            done();
          }, (err) => done(err));
          return;
        }
        const checked = validateInbound(msg as { payload?: unknown; chat?: unknown });
        if (!checked.ok) return done(new Error(checked.error));
        const chat = checked.value.chat;
        if (mode === 'pairing') {
          const command = chat.command ?? parseCommand(String(checked.value.payload ?? ''));
          // `/pair` from an admin is the operator's, never the agent's; from anyone else it is a message like any other.
          if (command?.name === '/pair' && checkAllowedIn(chat, [admins], 'allowlist', 'either').allowed) return pairCommand(chat, command.args, done);
        }
        const verdict = checkAllowedIn(chat, [flowIndex, lists.source(list)], mode, matchOn);
        if (verdict.allowed) {
          passed++;
          showCounts();
          send([msg, null]);
        } else {
          refused++;
          showCounts();
          // Bots get no code (bots answering bots); in a group only a message to the bot earns one.
          const offer = mode === 'pairing' && !chat.isBot && (chat.chatType === 'direct' || chat.mentioned);
          if (!dropRefused) {
            (msg as NodeMessageInFlow & { refused?: unknown }).refused = { reason: offer ? 'pairing' : verdict.reason, mode };
            send([null, msg]);
          }
          if (offer) return offerCode(chat, done);
        }
        done();
      }, done);
    });

    /** Where a reply to this chat goes: the out node of its platform, as the admin send does it. */
    function reply(chat: Chat, text: string): Promise<void> {
      const sender = gateway!.state.channels.findSender(chat.platform);
      if (!sender) return Promise.reject(new Error(RED._('allowlist-filter.errors.noSender', { platform: chat.platform })));
      return sender({ payload: text, chat: { replyTo: chat.replyTo } });
    }

    // The sender's JID joins the list: the chat's when the filter matches chats, else the person's
    // (in a group, approving the person does not let the whole group in).
    function offerCode(chat: Chat, done: (err?: Error) => void): void {
      const answer = gateway!.pairings.request({
        jid: matchOn === 'chat' ? chat.chatJid : chat.userJid,
        platform: chat.platform,
        list,
        ...(chat.userName ? { userName: chat.userName } : {}),
        replyTo: chat.replyTo,
        welcome,
      });
      if (answer.kind === 'quiet') return done();
      // The code is said to the sender only: not in the log, not in the status.
      reply(chat, codeText.split('{code}').join(answer.code)).then(() => done(), (err: Error) => done(new Error(RED._('allowlist-filter.errors.codeNotSent', { message: err.message }))));
    }

    function pairCommand(chat: Chat, args: string, done: (err?: Error) => void): void {
      const words = args.trim().split(/\s+/).filter(Boolean);
      // `ABCD EFGH Alice` as well as `ABCD-EFGH Alice`: a code typed in two halves is one code.
      const split = words.length > 1 && !normalizeCode(words[0]) && !!normalizeCode(words[0] + words[1]);
      const code = split ? words[0] + words[1] : (words[0] ?? '');
      const label = words.slice(split ? 2 : 1).join(' ').slice(0, 200) || undefined;
      const found = code ? gateway!.pairings.get(code) : undefined;
      // Only this filter's codes: an admin here approves for this list.
      if (!found || found.list !== list) {
        reply(chat, RED._(code ? 'allowlist-filter.pairing.unknown' : 'allowlist-filter.pairing.usage')).then(() => done(), (err: Error) => done(err));
        return;
      }
      admitPaired(gateway!, found, label)
        .then((admitted) => {
          gateway!.pairings.approve(code);
          node.log(RED._('allowlist-filter.pairing.logApproved', { jid: admitted.jid, list: admitted.list, by: chat.userJid }));
          return reply(chat, RED._('allowlist-filter.pairing.approved', { jid: admitted.jid, label: admitted.label }));
        })
        .then(() => done(), (err: Error) => done(err));
    }

    node.on('close', () => {
      status.close();
      if (gateway) clearFlowEntries(gateway.node.id, node.id);
    });
  }

  RED.nodes.registerType('chatgate-allowlist-filter', AllowlistFilterNode as unknown as (this: Node, def: NodeDef) => void);
};
