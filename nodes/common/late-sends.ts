/**
 * Messages a node sends after a redeploy began closing it. A full redeploy stops every node at
 * once and starts the new ones only when all have closed; a node that was half-way through a
 * message then (a store lookup, a thread resolved, a de-duplication check) sends it into a flow
 * that is gone, and the runtime drops it. Such a late send goes to the node of the same id in the
 * next deploy instead, which sends it on as it starts. A node removed from the flow, or a stop
 * that is no deploy's, keeps nothing (core/handover.ts).
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { claim, forgetUnlessRedeploy, hold, park, release, successor } from '../core/handover';

type Sent = NodeMessage | Array<NodeMessage | NodeMessage[] | null> | null | undefined;

export function handOverLateSends(RED: NodeAPI, node: Node): void {
  forgetUnlessRedeploy(RED.events as unknown as Parameters<typeof forgetUnlessRedeploy>[0]);
  const key = `late-sends:${node.id}`;
  hold(key, node);
  const left = claim<Sent[]>(key);
  // After the constructor: the flow's other nodes exist by then, so the messages reach them.
  if (left?.length) setImmediate(() => left.forEach((msg) => node.send(msg as NodeMessage)));

  let late: Sent[] | undefined;
  const send = node.send.bind(node) as (msg: Sent) => void;
  (node as unknown as { send: (msg: Sent) => void }).send = (msg) => {
    if (!late) return send(msg);
    // The next deploy's node is up already: it sends it now; else it takes it as it starts.
    const next = successor<Node>(key, node);
    if (next) return next.send(msg as NodeMessage);
    late.push(msg);
    park(key, late);
  };
  node.on('close', (removed: boolean, done: () => void) => {
    if (removed) release(key, node);
    else late = [];
    done();
  });
}
