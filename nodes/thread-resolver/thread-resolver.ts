/**
 * chatgate-thread-resolver: picks or creates the conversation thread of each message by strategy,
 * sets `msg.thread`, and leaves the reply address under the thread id for late replies.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { StrategySchema, validateInbound, type Strategy } from '../core/envelope';
import { getGateway } from '../gateway/gateway-runtime';
import { andThen } from '../core/store/state-ops';
import { threadInfo } from '../core/threads';
import { minutes } from '../gateway/gateway-settings';
import { throttleStatus } from '../common/status-throttle';
import { handOverLateSends } from '../common/late-sends';

interface ThreadResolverDef extends NodeDef {
  gateway: string;
  strategy?: string;
  sessionMinutes?: string | number;
  passReset?: boolean;
  resetText?: string;
}

export = function (RED: NodeAPI): void {
  function ThreadResolverNode(this: Node, def: ThreadResolverDef) {
    RED.nodes.createNode(this, def);
    // A message under way when a redeploy closes the node goes on from the next deploy's node.
    handOverLateSends(RED, this);
    const node = this;
    const gateway = getGateway(RED, def.gateway);
    const ownStrategy = StrategySchema.safeParse(def.strategy);
    const passReset = def.passReset === true;
    const resetText = def.resetText || RED._('thread-resolver.resetText');

    if (!gateway) node.status({ fill: 'red', shape: 'ring', text: RED._('chatgate.status.noGateway') });
    else node.status({ fill: 'grey', shape: 'ring', text: RED._('chatgate.status.ready') });

    const status = throttleStatus();
    node.on('close', () => status.close());

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      if (!gateway) return done(new Error(RED._('chatgate.errors.noGateway')));
      const checked = validateInbound(msg as { payload?: unknown; chat?: unknown });
      if (!checked.ok) {
        status.now(() => node.status({ fill: 'red', shape: 'ring', text: RED._('chatgate.status.invalid', { message: checked.error }) }));
        return done(new Error(checked.error));
      }
      const failed = (err: Error) => {
        // The shared store (Redis) is unreachable and the operator chose to fail: the message ends
        // here with the reason, for a Catch node; nothing is sent on half-resolved.
        status.now(() => node.status({ fill: 'red', shape: 'ring', text: RED._('thread-resolver.status.storeFailed', { message: err.message.slice(0, 100) }) }));
        done(err);
      };
      gateway.whenReady(() => {
        const { chat, payload } = checked.value;
        const state = gateway.state;
        const strategy: Strategy = ownStrategy.success ? ownStrategy.data : state.settings.defaultStrategy;
        const sessionMs = minutes(def.sessionMinutes, state.settings.sessionMs);
        const isReset = state.isResetCommand(chat, payload);
        andThen(gateway.ops.resolveThread(chat, strategy, sessionMs, isReset), (resolution) => {
          const thread = threadInfo(resolution);
          andThen(gateway.ops.registerListener(thread.id, chat.replyTo), () => {
            state.logMessage({ direction: 'in', platform: chat.platform, chatJid: chat.chatJid, userJid: chat.userJid, userName: chat.userName, threadId: thread.id, text: payload });
            const out = msg as NodeMessageInFlow & { thread?: unknown };
            out.thread = isReset ? { ...thread, reset: true } : thread;
            status.set(() => node.status({
              fill: 'green',
              shape: 'dot',
              text: RED._(isReset ? 'thread-resolver.status.reset' : 'thread-resolver.status.thread', {
                id: thread.id,
                turn: thread.turn,
                count: gateway.threadCount(),
              }),
            }));
            if (isReset && !passReset) {
              // The user still hears that the reset worked; the agent never sees the command.
              out.payload = resetText;
              send([null, out]);
            } else {
              send([out, null]);
            }
            done();
          }, failed);
        }, failed);
      }, done);
    });
  }

  RED.nodes.registerType('chatgate-thread-resolver', ThreadResolverNode as unknown as (this: Node, def: NodeDef) => void);
};
