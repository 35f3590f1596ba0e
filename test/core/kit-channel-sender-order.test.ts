/**
 * The order of one chat when a stream's first send is still being retried as its final part
 * arrives (a 429 storm, a socket reset): the final part holds its place in the chat, so the
 * replies that come after it are shown after it, never before. Found by the soak (bench/soak.ts):
 * a Telegram user saw the answers to their 3rd and 4th messages above the answer to the 2nd.
 */
import { strict as assert } from 'node:assert';
import { ManualClock, plainFormat, type RenderedPart } from '../../nodes/core/delivery';
import { ChannelSender, type KitAddress, type KitReply, type PlatformDelivery } from '../../nodes/core/kit/channel-sender';
import type { StreamInfo } from '../../nodes/core/envelope';

type Reply = KitReply<KitAddress>;

const address: KitAddress = { chatKey: 'chat', typingKey: 'chat' };

function reply(text: string, stream?: StreamInfo): Reply {
  return { out: { text, replyTo: { platform: 'webchat', channelId: 'c', chatId: 'chat', userId: 'u' }, ...(stream ? { stream } : {}) }, address };
}

/** What the user sees: the chat's messages in the order they were created, with their last text. */
class Chat implements PlatformDelivery<KitAddress, Reply> {
  readonly format = plainFormat(100);
  readonly messages: Array<{ id: string; text: string }> = [];
  /** The next send fails once `release` is called (its retries ran out). */
  private failing: { promise: Promise<void>; release: () => void } | undefined;

  failNextSendLater(): () => void {
    let release!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    this.failing = { promise, release };
    return release;
  }

  async sendWhole(_r: Reply, parts: RenderedPart[]): Promise<number> {
    for (const p of parts) await this.post(p.text);
    return parts.length;
  }

  stream() {
    return {
      send: (p: RenderedPart) => this.post(p.text),
      edit: async (id: string, p: RenderedPart) => {
        this.messages.find((m) => m.id === id)!.text = p.text;
      },
    };
  }

  private async post(text: string): Promise<string> {
    const failing = this.failing;
    if (failing) {
      this.failing = undefined;
      await failing.promise;
      throw new Error('429 Too Many Requests after the retries');
    }
    const id = `m${this.messages.length + 1}`;
    this.messages.push({ id, text });
    return id;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('core/kit channel sender: a stream whose first send is retried keeps its place in the chat', () => {
  it('shows the final text of reply 1 before reply 2 when reply 1\'s first part never got through', async () => {
    const chat = new Chat();
    const errors: unknown[] = [];
    const sender = new ChannelSender<KitAddress, Reply>(chat, { typing: false, editIntervalMs: 0, clock: new ManualClock(), onBackgroundError: (e) => errors.push(e) });
    const release = chat.failNextSendLater();

    // Reply 1 streams: its first part's send is stuck in retries; its final part arrives meanwhile.
    await sender.deliver(reply('one, so', { id: 's1', seq: 0, done: false }));
    const final1 = sender.deliver(reply('one, whole', { id: 's1', seq: 1, done: true }));
    await tick();
    // Reply 2 comes after it, streamed too.
    await sender.deliver(reply('two, so', { id: 's2', seq: 0, done: false }));
    const final2 = sender.deliver(reply('two, whole', { id: 's2', seq: 1, done: true }));
    await tick();

    release();
    await Promise.all([final1, final2]);
    assert.equal(errors.length, 1, 'the failed first part is reported in the background');
    assert.deepEqual(
      chat.messages.map((m) => m.text),
      ['one, whole', 'two, whole'],
    );
  });

  it('sends a final part whole in its place when its stream never showed anything', async () => {
    const chat = new Chat();
    const sender = new ChannelSender<KitAddress, Reply>(chat, { typing: false, editIntervalMs: 0, clock: new ManualClock(), onBackgroundError: () => undefined });
    const release = chat.failNextSendLater();
    await sender.deliver(reply('one, so', { id: 's1', seq: 0, done: false }));
    const final1 = sender.deliver(reply('one, whole', { id: 's1', seq: 1, done: true }));
    await tick();
    const two = sender.deliver(reply('two'));
    await tick();
    release();
    await Promise.all([final1, two]);
    assert.deepEqual(
      chat.messages.map((m) => m.text),
      ['one, whole', 'two'],
    );
  });
});
