/**
 * The channel kit's sender without Node-RED: a fake platform records what a person in each chat
 * would see, in the order it would arrive. Per-chat order, parts in order, streams (stale parts
 * skipped, idle ones forgotten, a final part with nothing shown sent whole, a platform's own
 * stream beside the kit's edits), typing (per-platform interval, stopped by a reply before it is
 * queued) and background failures reported, never thrown.
 */
import { strict as assert } from 'node:assert';
import { ManualClock, plainFormat, type RenderedPart } from '../../nodes/core/delivery';
import { ChannelSender, type ChannelSenderOptions, type KitAddress, type KitReply, type PlatformDelivery, type StreamKit, type StreamView } from '../../nodes/core/kit/channel-sender';
import type { StreamInfo } from '../../nodes/core/envelope';

interface Reply extends KitReply<KitAddress> {
  /** Something besides text, sent after it (a file, buttons). */
  extra?: string;
}

const addr = (chat: string): KitAddress => ({ chatKey: chat, typingKey: chat });

function reply(chat: string, text: string, more: { stream?: StreamInfo; event?: string; extra?: string } = {}): Reply {
  const replyTo = { platform: 'webchat' as const, channelId: 'c', chatId: chat, userId: 'u' };
  return {
    out: { text, replyTo, ...(more.stream ? { stream: more.stream } : {}), ...(more.event ? { event: more.event } : {}) },
    address: addr(chat),
    ...(more.extra ? { extra: more.extra } : {}),
  };
}

const part = (id: string, seq: number, done = false): StreamInfo => ({ id, seq, done });

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A platform that records every call as `<chat> <what>` and keeps each message's text. */
class FakePlatform implements PlatformDelivery<KitAddress, Reply> {
  readonly format = plainFormat(40);
  readonly log: string[] = [];
  readonly texts = new Map<string, string>();
  typingIntervalMs: number | undefined = 1000;
  typingInChat = false;
  /** A send to this chat waits for the promise (a slow platform). */
  hold = new Map<string, Promise<void>>();
  failEdit: Error | undefined;
  failTyping: Error | undefined;
  own: ((reply: Reply, kit: StreamKit<Reply>) => StreamView<Reply> | undefined) | undefined;
  private next = 1;

  hasExtra(r: Reply): boolean {
    return r.extra !== undefined;
  }

  async sendWhole(r: Reply, parts: RenderedPart[]): Promise<number> {
    for (const p of parts) await this.post(r.address.chatKey, p.text);
    if (r.extra) this.log.push(`${r.address.chatKey} extra ${r.extra}`);
    return parts.length + (r.extra ? 1 : 0);
  }

  stream(r: Reply) {
    const chat = r.address.chatKey;
    return {
      send: (p: RenderedPart) => this.post(chat, p.text),
      edit: async (id: string, p: RenderedPart) => {
        if (this.failEdit) throw this.failEdit;
        this.texts.set(id, p.text);
        this.log.push(`${chat} edit ${id} ${p.text}`);
      },
      delete: async (id: string) => {
        this.texts.delete(id);
        this.log.push(`${chat} delete ${id}`);
      },
    };
  }

  openStream(r: Reply, kit: StreamKit<Reply>): StreamView<Reply> | undefined {
    return this.own?.(r, kit);
  }

  async afterStream(r: Reply, ids: string[]): Promise<number> {
    if (!r.extra) return 0;
    this.log.push(`${r.address.chatKey} extra ${r.extra} after ${ids.join(',')}`);
    return 1;
  }

  typing(a: KitAddress): () => Promise<unknown> {
    return async () => {
      if (this.failTyping) throw this.failTyping;
      this.log.push(`${a.chatKey} typing`);
    };
  }

  of(chat: string): string[] {
    return this.log.filter((l) => l.startsWith(`${chat} `)).map((l) => l.slice(chat.length + 1));
  }

  private async post(chat: string, text: string): Promise<string> {
    await this.hold.get(chat);
    const id = `m${this.next++}`;
    this.texts.set(id, text);
    this.log.push(`${chat} send ${id} ${text}`);
    return id;
  }
}

function setup(opts: Partial<ChannelSenderOptions> = {}) {
  const clock = new ManualClock();
  const platform = new FakePlatform();
  const errors: unknown[] = [];
  const sender = new ChannelSender<KitAddress, Reply>(platform, { typing: true, editIntervalMs: 0, clock, onBackgroundError: (e) => errors.push(e), ...opts });
  return { clock, platform, errors, sender };
}

describe('core/kit channel sender', () => {
  it('keeps the order of each chat while different chats go on in parallel', async () => {
    const { platform, sender } = setup();
    const slow = deferred();
    platform.hold.set('a', slow.promise);
    const a1 = sender.deliver(reply('a', 'first to a'));
    const a2 = sender.deliver(reply('a', 'second to a'));
    assert.deepEqual(await sender.deliver(reply('b', 'to b')), { kind: 'sent', messages: 1 });
    assert.deepEqual(platform.of('a'), [], 'chat a is still waiting for its first send');
    platform.hold.delete('a');
    slow.resolve();
    await Promise.all([a1, a2]);
    assert.deepEqual(platform.of('a'), ['send m2 first to a', 'send m3 second to a']);
    assert.deepEqual(platform.of('b'), ['send m1 to b']);
  });

  it('sends a long reply as parts in order, and the extra after the text; an empty reply is skipped', async () => {
    const { platform, sender } = setup();
    const text = ['one two three four five', 'six seven eight nine ten', 'eleven twelve thirteen'].join('\n\n');
    const d = await sender.deliver(reply('a', text, { extra: 'file' }));
    const sent = platform.of('a');
    assert.ok(sent.length >= 3, sent.join(' | '));
    assert.deepEqual(d, { kind: 'sent', messages: sent.length });
    assert.equal(sent.at(-1), 'extra file');
    const words = sent.slice(0, -1).map((l) => l.replace(/^send m\d+ /, '')).join(' ').split(/\s+/);
    assert.deepEqual(words, text.split(/\s+/), 'every word once, in order');
    assert.deepEqual(await sender.deliver(reply('a', '   ')), { kind: 'skipped' });
    assert.deepEqual(await sender.deliver(reply('a', '', { extra: 'only a file' })), { kind: 'sent', messages: 1 });
  });

  it('streams by edits, skips a part overtaken by a later one, and ends equal to the whole reply', async () => {
    const { platform, sender } = setup();
    assert.deepEqual(await sender.deliver(reply('a', 'Hel', { stream: part('s', 0) })), { kind: 'streaming' });
    await sender.deliver(reply('a', 'Hello wor', { stream: part('s', 2) }));
    assert.deepEqual(await sender.deliver(reply('a', 'Hello', { stream: part('s', 1) })), { kind: 'skipped' }, 'seq 1 came after seq 2');
    const d = await sender.deliver(reply('a', 'Hello world', { stream: part('s', 3, true), extra: 'buttons' }));
    assert.deepEqual(d, { kind: 'sent', messages: 2 });
    const log = platform.of('a');
    assert.equal(log[0], 'send m1 Hel');
    assert.ok(!log.some((l) => / Hello$/.test(l)), 'the stale part was never shown');
    assert.equal(platform.texts.get('m1'), 'Hello world');
    assert.equal(log.at(-1), 'extra buttons after m1');
  });

  it('sends a final part whole when no stream was shown for it', async () => {
    const { platform, sender } = setup();
    const d = await sender.deliver(reply('a', 'all at once', { stream: part('never-opened', 0, true) }));
    assert.deepEqual(d, { kind: 'sent', messages: 1 });
    assert.deepEqual(platform.of('a'), ['send m1 all at once']);
  });

  it('forgets a stream left without its final part after the idle time', async () => {
    const { clock, platform, sender } = setup({ streamIdleMs: 60_000 });
    await sender.deliver(reply('a', 'partial', { stream: part('lost', 0) }));
    await clock.advance(10);
    assert.deepEqual(platform.of('a'), ['send m1 partial']);
    await clock.advance(61_000);
    await sender.deliver(reply('b', 'anything')); // every delivery looks for idle streams
    await sender.deliver(reply('a', 'partial, later', { stream: part('lost', 1) }));
    await clock.advance(10);
    assert.deepEqual(platform.of('a'), ['send m1 partial', 'send m3 partial, later'], 'a new message: the old stream is gone');
  });

  it('keeps typing at the platform interval until a reply, which stops it before it is queued', async () => {
    const { clock, platform, sender } = setup();
    assert.deepEqual(await sender.deliver(reply('a', '', { event: 'typing' })), { kind: 'typing' });
    await clock.advance(2500);
    assert.deepEqual(platform.of('a'), ['typing', 'typing', 'typing'], 'at 0, 1 and 2 s');
    // The lane is busy: the reply waits behind other work while time passes.
    const busy = deferred();
    const work = sender.inChat(addr('a'), () => busy.promise);
    const answered = sender.deliver(reply('a', 'the answer'));
    await clock.advance(5000);
    busy.resolve();
    await work;
    await answered;
    await clock.advance(5000);
    assert.deepEqual(platform.of('a'), ['typing', 'typing', 'typing', 'send m1 the answer'], 'nothing typed under the answer');
  });

  it('queues typing in the chat lane when the platform asks, at the interval it names', async () => {
    const { clock, platform, sender } = setup();
    platform.typingInChat = true;
    const slow = deferred();
    platform.hold.set('a', slow.promise);
    const first = sender.deliver(reply('a', 'first'));
    await sender.deliver(reply('a', '', { event: 'typing' }));
    await clock.advance(10);
    assert.deepEqual(platform.of('a'), [], 'the signal waits for the send before it');
    platform.hold.delete('a');
    slow.resolve();
    await first;
    await clock.advance(10);
    assert.deepEqual(platform.of('a'), ['send m1 first', 'typing']);

    const other = setup({ typingIntervalMs: 250 });
    other.platform.typingIntervalMs = 10_000;
    await other.sender.deliver(reply('a', '', { event: 'typing' }));
    await other.clock.advance(1000);
    assert.equal(other.platform.of('a').length, 5, "the sender's option overrides the platform's interval");
  });

  it('skips typing when it is turned off', async () => {
    const { clock, platform, sender } = setup({ typing: false });
    assert.deepEqual(await sender.deliver(reply('a', '', { event: 'typing' })), { kind: 'skipped' });
    await clock.advance(5000);
    assert.deepEqual(platform.log, []);
  });

  it('reports failures nobody awaits (typing, intermediate edits) and never throws them', async () => {
    const { clock, platform, errors, sender } = setup();
    platform.failTyping = new Error('typing refused');
    await sender.deliver(reply('a', '', { event: 'typing' }));
    await clock.advance(10);
    platform.failEdit = new Error('edit refused');
    await sender.deliver(reply('b', 'one', { stream: part('s', 0) }));
    await clock.advance(10);
    await sender.deliver(reply('b', 'one two', { stream: part('s', 1) }));
    await clock.advance(10);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['typing refused', 'edit refused'],
    );
    // The final edit is awaited: its failure is the reply's.
    await assert.rejects(sender.deliver(reply('b', 'one two three', { stream: part('s', 2, true) })), /edit refused/);
  });

  it("uses a platform's own stream where it offers one, and sends whole what it did not show", async () => {
    const { platform, sender } = setup();
    const seen: string[] = [];
    platform.own = (r) =>
      r.address.chatKey === 'native'
        ? {
            update: (t) => void seen.push(`update ${t}`),
            finish: async (final) => (final.out.text === 'refused' ? undefined : (seen.push(`finish ${final.out.text}`), 1)),
            close: () => void seen.push('close'),
          }
        : undefined;
    await sender.deliver(reply('native', 'Hi', { stream: part('n', 0) }));
    assert.deepEqual(await sender.deliver(reply('native', 'Hi there', { stream: part('n', 1, true) })), { kind: 'sent', messages: 1 });
    assert.deepEqual(seen, ['update Hi', 'finish Hi there']);
    assert.deepEqual(platform.of('native'), [], 'nothing through the edits');

    await sender.deliver(reply('native', 'x', { stream: part('r', 0) }));
    assert.deepEqual(await sender.deliver(reply('native', 'refused', { stream: part('r', 1, true) })), { kind: 'sent', messages: 1 });
    assert.deepEqual(platform.of('native'), ['send m1 refused'], 'the kit sent it whole');

    await sender.deliver(reply('edits', 'by', { stream: part('e', 0) }));
    await sender.deliver(reply('edits', 'by edits', { stream: part('e', 1, true) }));
    assert.equal(platform.texts.get('m2'), 'by edits', 'no own stream for this chat: the kit edits');

    await sender.deliver(reply('native', 'left open', { stream: part('o', 0) }));
    sender.close();
    assert.equal(seen.at(-1), 'close', 'close stops open streams');
  });

  it("lets a platform's stream hand over to the kit's edits", async () => {
    const { platform, sender } = setup();
    platform.own = (_r, kit) => {
      let edits: StreamView<Reply> | undefined;
      return {
        update: (t) => {
          edits ??= kit.byEdits(); // e.g. the platform refused to start its own stream
          edits.update(t);
        },
        finish: (final) => edits!.finish(final),
        close: () => edits?.close(),
      };
    };
    await sender.deliver(reply('a', 'half', { stream: part('h', 0) }));
    const d = await sender.deliver(reply('a', 'half and whole', { stream: part('h', 1, true), extra: 'file' }));
    assert.deepEqual(d, { kind: 'sent', messages: 2 });
    assert.equal(platform.texts.get('m1'), 'half and whole');
    assert.equal(platform.of('a').at(-1), 'extra file after m1', 'afterStream follows the edits');
  });

  it('refuses sends queued after close', async () => {
    const { platform, sender } = setup();
    const slow = deferred();
    platform.hold.set('a', slow.promise);
    const running = sender.deliver(reply('a', 'running'));
    const queued = sender.deliver(reply('a', 'queued'));
    await new Promise((r) => setImmediate(r));
    sender.close();
    slow.resolve();
    await running;
    await assert.rejects(queued, /closed/);
    await assert.rejects(sender.deliver(reply('a', 'after')), /closed/);
  });
});
