/**
 * A config node's close during a redeploy (the channel kit's ConnectionUsers): Node-RED closes the
 * user nodes first; an out node still finishing a send for the hand-over to the next deploy keeps
 * the connection until it lets go (or a few seconds), so that send is neither cut nor made twice.
 * Found by the soak (bench/soak.ts): sends under way at a redeploy were aborted by the connection's
 * stop — a Discord reply's first part left on screen beside the whole reply, a WhatsApp reply sent
 * twice.
 */
import { strict as assert } from 'node:assert';
import type { Node } from 'node-red';
import { ConnectionUsers, type ManagedConnection } from '../../nodes/common/kit/connection-users';
import type { ChannelState } from '../../nodes/core/channels';

interface Status {
  state: ChannelState;
  key: string;
}

class FakeConnection implements ManagedConnection<Status> {
  status: Status = { state: 'connected', key: 'connected' };
  stops = 0;
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stops += 1;
    return Promise.resolve();
  }
}

const node = (id: string) => ({ id, status: () => undefined }) as unknown as Node;
const users = (c: FakeConnection) => new ConnectionUsers<Status>(c, undefined, { text: (s) => s.key, onStartError: () => undefined });

describe('core/kit connection users: the close of a config node', () => {
  it('waits for an out node still closing before it stops the connection', async () => {
    const c = new FakeConnection();
    const u = users(c);
    const out = node('out');
    u.register(node('in'), { receive: true });
    u.register(out, { receive: false });
    u.deregister(node('in')); // the in node closed first
    let closed = false;
    u.close(() => (closed = true), 2000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.stops, 0, 'the out node is still sending on it');
    u.deregister(out);
    await new Promise((r) => setImmediate(r));
    assert.ok(c.stops >= 1, 'stopped once the out node let go');
    assert.ok(closed);
  });

  it('stops after the wait when an out node never lets go', async () => {
    const c = new FakeConnection();
    const u = users(c);
    u.register(node('out'), { receive: false });
    let closed = false;
    u.close(() => (closed = true), 100);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(c.stops, 1);
    assert.ok(closed);
  });
});
