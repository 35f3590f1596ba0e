/**
 * The channel kit's sender across a redeploy, without Node-RED: handOver refuses what is queued
 * (the caller keeps it for the next deploy), waits for the send under way, and returns the open
 * streams with the messages they show — a stream whose final part was still waiting for its turn
 * too; the next deploy's sender adopts them and goes on editing those messages. Found by the soak
 * (bench/soak.ts): a Discord reply's first part, posted while the redeploy began, was left on
 * screen beside the whole reply.
 */
import { strict as assert } from 'node:assert';
import { ChatQueueClosedError, ManualClock, plainFormat, type RenderedPart } from '../../nodes/core/delivery';
import { ChannelSender, type KitAddress, type KitReply, type PlatformDelivery } from '../../nodes/core/kit/channel-sender';
import type { StreamInfo } from '../../nodes/core/envelope';

type Reply = KitReply<KitAddress>;
const address: KitAddress = { chatKey: 'chat', typingKey: 'chat' };
const reply = (text: string, stream?: StreamInfo): Reply => ({ out: { text, replyTo: { platform: 'webchat', channelId: 'c', chatId: 'chat', userId: 'u' }, ...(stream ? { stream } : {}) }, address });

/** One chat's messages, shared by the senders of two deploys; the first send can be held back. */
class Chat implements PlatformDelivery<KitAddress, Reply> {
  readonly format = plainFormat(100);
  readonly messages: Array<{ id: string; text: string }> = [];
  gate: Promise<void> | undefined;
  async sendWhole(_r: Reply, parts: RenderedPart[]): Promise<number> {
    for (const p of parts) this.messages.push({ id: `m${this.messages.length + 1}`, text: p.text });
    return parts.length;
  }
  stream() {
    return {
      send: async (p: RenderedPart) => {
        await this.gate;
        const id = `m${this.messages.length + 1}`;
        this.messages.push({ id, text: p.text });
        return id;
      },
      edit: async (id: string, p: RenderedPart) => {
        this.messages.find((m) => m.id === id)!.text = p.text;
      },
    };
  }
}

const sender = (chat: Chat) => new ChannelSender<KitAddress, Reply>(chat, { typing: false, editIntervalMs: 0, clock: new ManualClock(), onBackgroundError: () => undefined });
const tick = () => new Promise((r) => setImmediate(r));

describe('core/kit channel sender: hand-over across a redeploy', () => {
  it('hands over a stream whose final part waits behind its first send, and the next sender finishes it in place', async () => {
    const chat = new Chat();
    let release!: () => void;
    chat.gate = new Promise<void>((r) => (release = r));
    const old = sender(chat);
    await old.deliver(reply('the answer so', { id: 's1', seq: 0, done: false }));
    const final = old.deliver(reply('the answer, whole', { id: 's1', seq: 1, done: true }));
    const later = old.deliver(reply('a later reply'));
    await tick();
    const handing = old.handOver(2000);
    await assert.rejects(final, ChatQueueClosedError, 'the final part is refused: the caller keeps it');
    await assert.rejects(later, ChatQueueClosedError);
    setTimeout(release, 20);
    const streams = await handing;
    assert.deepEqual(streams, [{ id: 's1', lastSeq: 0, state: { kind: 'edits', shown: [{ id: 'm1', text: 'the answer so' }] } }]);

    const next = sender(chat);
    next.adopt(streams);
    await next.deliver(reply('the answer, whole', { id: 's1', seq: 1, done: true }));
    await next.deliver(reply('a later reply'));
    assert.deepEqual(chat.messages, [
      { id: 'm1', text: 'the answer, whole' },
      { id: 'm2', text: 'a later reply' },
    ]);
  });

  it('goes on with a stream it adopted when its next part comes, not in a second message', async () => {
    const chat = new Chat();
    const old = sender(chat);
    await old.deliver(reply('so', { id: 's2', seq: 0, done: false }));
    await tick();
    const streams = await old.handOver(100);
    const next = sender(chat);
    next.adopt(streams);
    await next.deliver(reply('so far', { id: 's2', seq: 1, done: false }));
    await next.deliver(reply('so far, whole', { id: 's2', seq: 2, done: true }));
    assert.deepEqual(chat.messages, [{ id: 'm1', text: 'so far, whole' }]);
  });
});
