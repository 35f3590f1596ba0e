/**
 * The web chat across instances, without Node-RED or Redis: two hubs of one web chat (two
 * instances) joined by a bus that counts its receivers as Redis's PUBLISH does. A reply reaches
 * the page wherever it is connected, once; with no page anywhere it waits on the instance that
 * produced it and follows the visitor to the instance their next page opens on.
 */
import { strict as assert } from 'node:assert';
import type { MessageBus } from '../../nodes/gateway/store/store-link';
import type { ServerFrame } from '../../nodes/webchat/frames';
import { WebchatHub, type ClientSocket } from '../../nodes/webchat/hub';
import { WebchatRelay } from '../../nodes/webchat/relay';

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Pub/sub between instances: a publish answers with the number of instances subscribed to the topic, and delivers later. */
class Broker {
  private readonly topics = new Map<string, Set<(m: unknown) => void>>();
  down = false;
  bus(): MessageBus {
    return {
      publish: async (topic, message) => {
        if (this.down) throw new Error('Redis is not connected');
        const handlers = [...(this.topics.get(topic) ?? [])];
        const copy = JSON.parse(JSON.stringify(message)) as unknown;
        setImmediate(() => handlers.forEach((h) => h(copy)));
        return handlers.length;
      },
      subscribe: (topic, handler) => {
        let set = this.topics.get(topic);
        if (!set) this.topics.set(topic, (set = new Set()));
        set.add(handler);
        return () => void set.delete(handler);
      },
    };
  }
}

class Page implements ClientSocket {
  readyState = 1;
  readonly frames: ServerFrame[] = [];
  send(data: string): void {
    this.frames.push(JSON.parse(data) as ServerFrame);
  }
}

const reply = (text: string, extra: Partial<ServerFrame> = {}): ServerFrame => ({ type: 'reply', id: text, text, ...extra }) as ServerFrame;

function instances(): { a: WebchatHub; b: WebchatHub; broker: Broker; errors: unknown[] } {
  const broker = new Broker();
  const errors: unknown[] = [];
  const a = new WebchatHub('chat');
  const b = new WebchatHub('chat');
  new WebchatRelay(a, broker.bus(), (e) => errors.push(e));
  new WebchatRelay(b, broker.bus(), (e) => errors.push(e));
  return { a, b, broker, errors };
}

describe('webchat relay (one web chat, several instances)', function () {
  it('a reply produced on B for a page connected to A reaches that page, once, and counts as sent', async () => {
    const { a, b } = instances();
    const page = new Page();
    a.attach('alice', page);
    assert.equal(await b.route('alice', reply('late')), 'sent');
    await tick();
    assert.deepEqual(page.frames.map((f) => f.type === 'reply' && f.text), ['late']);
    assert.equal(b.queued('alice'), 0, 'nothing waits on B');
  });

  it('a page here is served at once; a second tab on the other instance gets a copy, once', async () => {
    const { a, b } = instances();
    const here = new Page();
    const there = new Page();
    a.attach('alice', here);
    b.attach('alice', there);
    assert.equal(a.route('alice', reply('now')), 'sent', 'decided without a promise');
    assert.equal(here.frames.length, 1);
    await tick();
    assert.deepEqual([here.frames.length, there.frames.length], [1, 1]);
    b.detach('alice', there);
    a.route('alice', reply('later'));
    await tick();
    assert.equal(b.queued('alice'), 0, 'a copy is not kept for a tab that has gone: it was shown here');
  });

  it('streamed parts and typing keep their order across instances', async () => {
    const { a, b } = instances();
    const page = new Page();
    a.attach('alice', page);
    const sent = [b.route('alice', { type: 'typing' }), b.route('alice', reply('T', { streamId: 's', seq: 0, done: false })), b.route('alice', reply('Th', { streamId: 's', seq: 1, done: false })), b.route('alice', reply('The end', { streamId: 's', seq: 2, done: true }))];
    await Promise.all(sent);
    await tick();
    assert.deepEqual(
      page.frames.map((f) => (f.type === 'reply' ? `${f.seq}:${f.text}` : f.type)),
      ['typing', '0:T', '1:Th', '2:The end'],
    );
  });

  it('no page anywhere: the reply waits where it was produced, and goes to the instance the next page opens on', async () => {
    const { a, b } = instances();
    assert.equal(await b.route('bob', reply('while away')), 'queued');
    assert.equal(await b.route('bob', { type: 'typing' }), 'dropped', 'a stale typing signal is not kept');
    const page = new Page();
    a.attach('bob', page);
    await tick();
    await tick();
    assert.deepEqual(page.frames.map((f) => f.type === 'reply' && f.text), ['while away']);
    assert.equal(b.queued('bob'), 0);
  });

  it('a page that closed before the frame arrived: the frame waits on that instance for the next page', async () => {
    const { a, b } = instances();
    const page = new Page();
    a.attach('carol', page);
    const routed = b.route('carol', reply('in flight'));
    page.readyState = 3;
    assert.equal(await routed, 'sent');
    await tick();
    assert.equal(a.queued('carol'), 1);
    const again = new Page();
    a.attach('carol', again);
    assert.deepEqual(again.frames.map((f) => f.type === 'reply' && f.text), ['in flight']);
  });

  it('Redis away: the reply waits here, as on one instance, and the problem is reported', async () => {
    const { b, broker, errors } = instances();
    broker.down = true;
    assert.equal(await b.route('dave', reply('later')), 'queued');
    assert.equal(b.queued('dave'), 1);
    assert.equal(errors.length, 1);
  });

  it('a page gone from an instance no longer counts as a receiver there', async () => {
    const { a, b } = instances();
    const page = new Page();
    a.attach('erin', page);
    a.detach('erin', page);
    assert.equal(await b.route('erin', reply('nobody')), 'queued');
  });
});
