/**
 * A message a node sends after a full redeploy began closing it (it was half-way through an async
 * step: a store lookup, a thread resolved), or one that reaches it after it closed (it was on its
 * way), goes on from the node of the same id in the next deploy, instead of being dropped by the
 * runtime. Found by the soak (bench/soak.ts): messages the platforms had handed over a moment
 * before a redeploy never reached the agent.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { helper, sleep, unload, useUserDir, type AnyRED } from '../helpers/red';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handOverLateSends } = require(path.resolve(__dirname, '../../dist/nodes/common/late-sends')) as typeof import('../../nodes/common/late-sends');

/** A node that passes each message on 300 ms later, as a node waiting on its store would. */
function slowPass(RED: AnyRED): void {
  function SlowPass(this: AnyRED, def: AnyRED) {
    RED.nodes.createNode(this, def);
    if (def.handOver) handOverLateSends(RED, this);
    this.on('input', (msg: unknown, send: (m: unknown) => void, done: () => void) => {
      setTimeout(() => {
        send(msg);
        done();
      }, 300);
    });
  }
  RED.nodes.registerType('test-slow-pass', SlowPass);
}

const flow = (handOver: boolean) => [
  { id: 'tab', type: 'tab', label: 't' },
  { id: 'slow', z: 'tab', type: 'test-slow-pass', handOver, wires: [['end']] },
  { id: 'end', z: 'tab', type: 'helper' },
];

describe('late sends across a full redeploy', () => {
  beforeEach(() => useUserDir());
  afterEach(() => unload());

  async function run(handOver: boolean): Promise<unknown[]> {
    await helper.load(slowPass, flow(handOver));
    helper.getNode('slow').receive({ payload: 'under way' });
    await sleep(50);
    await helper.setFlows(flow(handOver), 'full');
    const got: unknown[] = [];
    (helper.getNode('end') as AnyRED).on('input', (m: { payload: unknown }) => got.push(m.payload));
    await sleep(600);
    return got;
  }

  it('sends on from the next deploy what a node sent while it was being closed', async () => {
    assert.deepEqual(await run(true), ['under way']);
  });

  it('passes on from the next deploy a message that reached the node after it closed', async () => {
    await helper.load(slowPass, flow(true));
    const old = helper.getNode('slow');
    await helper.setFlows(flow(true), 'full');
    const got: unknown[] = [];
    (helper.getNode('end') as AnyRED).on('input', (m: { payload: unknown }) => got.push(m.payload));
    // As the runtime delivers a message that was on its way when the flow stopped.
    old.receive({ payload: 'in transit' });
    await sleep(600);
    assert.deepEqual(got, ['in transit']);
  });

  it('(without it, the runtime drops the message)', async () => {
    assert.deepEqual(await run(false), []);
  });
});
