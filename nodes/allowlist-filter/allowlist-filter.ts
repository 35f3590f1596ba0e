/**
 * chatgate-allowlist-filter: lets known senders through; refused messages go to a second output
 * with the reason, or are dropped. Runtime entries live in the gateway store; entries written in
 * the editor are part of the flow.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { z } from 'zod';
import { ALLOWLIST_MODES, AllowEntrySchema, checkAllowedIn, indexEntries, parseEntries, type AllowlistMode, type MatchOn } from '../core/allowlist';
import { describeIssues, validateInbound } from '../core/envelope';
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
        const verdict = checkAllowedIn(checked.value.chat, [flowIndex, lists.source(list)], mode, matchOn);
        if (verdict.allowed) {
          passed++;
          showCounts();
          send([msg, null]);
        } else {
          refused++;
          showCounts();
          if (!dropRefused) {
            (msg as NodeMessageInFlow & { refused?: unknown }).refused = { reason: verdict.reason, mode };
            send([null, msg]);
          }
        }
        done();
      }, done);
    });

    node.on('close', () => {
      status.close();
      if (gateway) clearFlowEntries(gateway.node.id, node.id);
    });
  }

  RED.nodes.registerType('chatgate-allowlist-filter', AllowlistFilterNode as unknown as (this: Node, def: NodeDef) => void);
};
