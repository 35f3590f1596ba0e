/**
 * The channel kit's lease among instances, without Node-RED or Redis: a connection that names a
 * lease receives only while its receivers' gateway grants it; the receivers say "standby" in the
 * meantime, senders keep the connection's status, and the lease follows the receivers (the one
 * with the lowest node id names the gateway, so every instance asks the same one).
 */
import { strict as assert } from 'node:assert';
import type { Node } from 'node-red';
import { ConnectionUsers, type LeaseGrant, type ManagedConnection } from '../../nodes/common/kit/connection-users';
import type { ChannelState } from '../../nodes/core/channels';

interface Status {
  state: ChannelState;
  key: string;
  message?: string;
}

class FakeConnection implements ManagedConnection<Status> {
  status: Status = { state: 'connected', key: 'connected' };
  readonly starts: Array<[boolean, boolean]> = [];
  stops = 0;
  constructor(readonly lease: string | undefined) {}
  start(receive: boolean, standby = false): Promise<void> {
    this.starts.push([receive, standby]);
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stops += 1;
    return Promise.resolve();
  }
  /** The receive/standby the connection was last asked for. */
  get last(): [boolean, boolean] | undefined {
    return this.starts[this.starts.length - 1];
  }
}

/** A gateway whose lease the test hands out and takes back; `local` grants at once, as a store of one instance does. */
class FakeGateway implements LeaseGrant {
  readonly asked: string[] = [];
  released = 0;
  private holder: ((held: boolean) => void) | undefined;
  constructor(private readonly local = false) {}
  exclusive(name: string, onChange: (held: boolean) => void): () => void {
    this.asked.push(name);
    this.holder = onChange;
    if (this.local) onChange(true);
    return () => {
      this.released += 1;
      // As a Redis lease does: false at once (the holder kept, so a test can answer late).
      onChange(false);
    };
  }
  grant(held: boolean): void {
    this.holder?.(held);
  }
}

type Shown = { state: ChannelState; text: string };

function user(id: string): { node: Node; sink: { status(state: ChannelState, text: string): void }; shown: Shown[]; get now(): Shown | undefined } {
  const shown: Shown[] = [];
  return {
    node: { id } as Node,
    sink: { status: (state, text) => shown.push({ state, text }) },
    shown,
    get now() {
      return shown[shown.length - 1];
    },
  };
}

function users(connection: FakeConnection): ConnectionUsers<Status> {
  return new ConnectionUsers<Status>(connection, undefined, { text: (s) => s.key, onStartError: (err) => assert.fail(String(err)) });
}

describe('core/kit connection lease (one poller across instances)', function () {
  it('a store of one instance grants the lease at once: the connection receives, nothing stands by', () => {
    const c = new FakeConnection('telegram-poll:abc');
    const gw = new FakeGateway(true);
    const u = users(c);
    const tin = user('in1');
    u.register(tin.node, { sink: tin.sink, receive: true, gateway: gw, standby: 'standby' });
    assert.deepEqual(gw.asked, ['telegram-poll:abc']);
    assert.deepEqual(c.starts, [[true, false]]);
    assert.deepEqual(tin.now, { state: 'connected', text: 'connected' });
  });

  it('another instance holds it: the receiver stands by, a sender sees the connection; got and lost switch receiving', () => {
    const c = new FakeConnection('telegram-poll:abc');
    const gw = new FakeGateway();
    const u = users(c);
    const tin = user('in1');
    const tout = user('out1');
    u.register(tin.node, { sink: tin.sink, receive: true, gateway: gw, standby: 'standby (another instance polls)' });
    u.register(tout.node, { sink: tout.sink });
    assert.deepEqual(c.last, [true, true], 'connected on standby');
    assert.deepEqual(tin.now, { state: 'stopped', text: 'standby (another instance polls)' });
    assert.deepEqual(tout.now, { state: 'connected', text: 'connected' });

    gw.grant(true);
    assert.deepEqual(c.last, [true, false], 'polls once it holds the lease');
    assert.deepEqual(tin.now, { state: 'connected', text: 'connected' });

    gw.grant(false);
    assert.deepEqual(c.last, [true, true], 'stops polling as soon as it is lost');
    assert.deepEqual(tin.now, { state: 'stopped', text: 'standby (another instance polls)' });
  });

  it('a failed connection is shown to a receiver on standby too', () => {
    const c = new FakeConnection('telegram-poll:abc');
    const u = users(c);
    const tin = user('in1');
    u.register(tin.node, { sink: tin.sink, receive: true, gateway: new FakeGateway(), standby: 'standby' });
    u.push({ state: 'error', key: 'unauthorized' });
    assert.deepEqual(tin.now, { state: 'error', text: 'unauthorized' });
  });

  it('the lease follows the receivers: the lowest node id names the gateway; the last one gone releases it', () => {
    const c = new FakeConnection('discord-gateway:abc');
    const g1 = new FakeGateway(true);
    const g2 = new FakeGateway(true);
    const u = users(c);
    const b = user('b-in');
    const a = user('a-in');
    const out = user('out');
    u.register(b.node, { sink: b.sink, receive: true, gateway: g2 });
    u.register(out.node, { sink: out.sink });
    u.register(a.node, { sink: a.sink, receive: true, gateway: g1 });
    assert.deepEqual([g1.asked.length, g2.asked.length, g2.released], [1, 1, 1], 'asked of g2, then of g1 (lower id), g2 let go');
    u.deregister(a.node);
    assert.deepEqual([g1.released, g2.asked.length], [1, 2], 'back to g2 with a-in gone');
    u.deregister(b.node);
    assert.equal(g2.released, 2, 'no receiver: no lease');
    assert.deepEqual(c.last, [false, false], 'the sender keeps the connection, not receiving');
    u.deregister(out.node);
    assert.equal(c.stops, 1);
  });

  it('a connection every instance may run (a webhook, Socket Mode) asks for no lease', () => {
    const c = new FakeConnection(undefined);
    const gw = new FakeGateway();
    const u = users(c);
    const tin = user('in1');
    u.register(tin.node, { sink: tin.sink, receive: true, gateway: gw, standby: 'standby' });
    assert.deepEqual(gw.asked, []);
    assert.deepEqual(c.starts, [[true, false]]);
  });

  it('closing the config node stops the connection, then releases the lease; a late answer changes nothing', async () => {
    const c = new FakeConnection('telegram-poll:abc');
    const gw = new FakeGateway();
    const u = users(c);
    const tin = user('in1');
    u.register(tin.node, { sink: tin.sink, receive: true, gateway: gw });
    gw.grant(true);
    const starts = c.starts.length;
    const closed = new Promise<void>((resolve) => u.close(resolve));
    assert.deepEqual([c.stops, gw.released], [1, 0], 'the poll ends before another instance may take over');
    gw.grant(false);
    gw.grant(true);
    assert.equal(c.starts.length, starts, 'no start after the close');
    await closed;
    assert.equal(gw.released, 1);
  });
});
