/**
 * Messages that meet a node after a redeploy began closing it. A full redeploy stops every node
 * at once and starts the new ones only when all have closed, and the runtime drops what it cannot
 * deliver meanwhile: a message a node sends after its close began (it was half-way through a
 * store lookup, a thread resolved, a de-duplication check) goes to nodes that are gone, and a
 * message already on its way to a node arrives after the node stopped listening. Both go to the
 * node of the same id in the next deploy instead: at once when it is up, else when it starts. A
 * node removed from the flow, or a stop that is no deploy's, keeps nothing (core/handover.ts).
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { claim, forgetUnlessRedeploy, hold, park, release, stopGeneration, successor } from '../core/handover';

type Sent = NodeMessage | Array<NodeMessage | NodeMessage[] | null> | null | undefined;

interface Late {
  /** What the node sent after its close began: the next node sends it on. */
  sent: Sent[];
  /** What reached the node after its close began: the next node takes it as input. */
  received: NodeMessage[];
}

export function handOverLateSends(RED: NodeAPI, node: Node): void {
  forgetUnlessRedeploy(RED.events as unknown as Parameters<typeof forgetUnlessRedeploy>[0]);
  const key = `late:${node.id}`;
  hold(key, node);
  const left = claim<Late>(key);
  // After the constructor: the flow's other nodes (and this node's input handler) exist by then.
  if (left) {
    setImmediate(() => {
      left.sent.forEach((msg) => node.send(msg as NodeMessage));
      left.received.forEach((msg) => node.receive(msg));
    });
  }

  let late: Late | undefined;
  // Flows stopped with no deploy (Node-RED shutting down, flows stopped and started again, a test
  // unloading): what reaches this node after that is nobody's, not the next start's node's.
  const generation = stopGeneration();
  const stale = () => stopGeneration() !== generation;
  const own = node as unknown as { send: (msg: Sent) => void; receive: (msg: NodeMessage) => void };
  const send = own.send.bind(node);
  const receive = own.receive.bind(node);
  own.send = (msg) => {
    if (!late) return send(msg);
    if (stale()) return;
    const next = successor<Node>(key, node);
    if (next) return next.send(msg as NodeMessage);
    late.sent.push(msg);
    park(key, late);
  };
  own.receive = (msg) => {
    if (!late) return receive(msg);
    if (stale()) return;
    const next = successor<Node>(key, node);
    if (next) return next.receive(msg);
    late.received.push(msg);
    park(key, late);
  };
  node.on('close', (removed: boolean, done: () => void) => {
    if (removed) release(key, node);
    else late = { sent: [], received: [] };
    done();
  });
}
