/**
 * Takeover works the same for a Telegram chat, against the Telegram emulator: the user's message
 * during the takeover goes to the agent call's "human" output, the operator's reply reaches the
 * right chat rendered (Markdown to Telegram's HTML), and after the hand-back the agent answers
 * with the human turns in its memory.
 */
import { strict as assert } from 'node:assert';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { getNode, helper, nodeModules, sleep, unload, useUserDir, type AnyRED } from '../helpers/red';
import { TOKEN, translate, type FlowNode } from '../helpers/telegram';

const BASE = '/chatgate/gateways/gw';

describe('operator takeover of a Telegram chat (real runtime, Telegram emulator, fake OpenAI server)', function () {
  this.timeout(20000);
  let tg: TelegramServer;
  let server: FakeOpenAIServer;

  beforeEach(async () => {
    useUserDir();
    tg = await startTelegramServer({ token: TOKEN, botUsername: 'chatgate_desk_bot' });
    server = await startOpenAIServer();
  });
  afterEach(async () => {
    await unload();
    await tg.close();
    await server.close();
  });

  const botTexts = (chatId: number) => tg.chat(chatId).filter((m) => m.fromBot).map((m) => m.text);
  const until = async (check: () => boolean, what: string, ms = 5000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  };

  it('takes over, replies into the right chat, hands back to the agent with the human turns', async () => {
    const mods = nodeModules(['gateway', 'telegramBot', 'telegramIn', 'threadResolver', 'agentCall', 'replyRouter', 'telegramOut']).map((mod) => (RED: AnyRED) => {
      RED._ = translate;
      return mod(RED);
    });
    const flow: FlowNode[] = [
      { id: 'gw', type: 'chatgate-gateway', name: 'desk', strategy: 'per-user', store: 'json' },
      { id: 'bot', type: 'chatgate-telegram-bot', mode: 'polling', apiRoot: tg.apiRoot, pollTimeout: 1, throttle: false },
      { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', groups: 'mention', wires: [['resolver']] },
      { id: 'resolver', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: '', sessionMinutes: '', passReset: false, wires: [['agent'], []] },
      { id: 'agent', type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', baseUrl: server.url, model: 'm', stream: false, typing: false, timeout: 5, retries: 0, wires: [['router'], [], ['human']] },
      { id: 'router', type: 'chatgate-reply-router', gateway: 'gw', wires: [['out'], [], [], [], [], [], []] },
      { id: 'out', type: 'chatgate-telegram-out', bot: 'bot', gateway: 'gw', typing: false, replyToMessage: false },
      { id: 'human', type: 'helper' },
    ];
    await helper.load(mods, flow, { bot: { token: TOKEN } });
    await tg.nextPoll(3000);

    tg.pushUpdate(tg.make.text('hello', { from: { id: 4242, first_name: 'Ann' } }));
    tg.pushUpdate(tg.make.text('hi there', { from: { id: 5151, first_name: 'Ben' } }));
    await until(() => botTexts(4242).length === 1 && botTexts(5151).length === 1, 'the agent answering both chats');
    const threads = (await helper.request().get(`${BASE}/threads`).expect(200)).body.items as Array<{ id: string; chatJid: string }>;
    const ann = threads.find((t) => t.chatJid === 'tg:4242')!.id;

    await helper.request().post(`${BASE}/threads/${ann}/takeover`).expect(200);
    const human = new Promise<AnyRED>((resolve) => getNode('human').once('input', resolve));
    tg.pushUpdate(tg.make.text('my parcel never came', { from: { id: 4242, first_name: 'Ann' } }));
    const held = await human;
    assert.equal(held.payload, 'my parcel never came');
    assert.equal(held.operator.state, 'takeover');
    assert.equal(held.chat.chatJid, 'tg:4242');

    await helper.request().post(`${BASE}/threads/${ann}/reply`).send({ text: 'Sorry! I am *checking* it now.' }).expect(200);
    await until(() => botTexts(4242).length === 2, 'the operator reply in the chat');
    const shown = tg.chat(4242).filter((m) => m.fromBot).at(-1)!;
    assert.equal(shown.text, 'Sorry! I am checking it now.');
    assert.ok(shown.entities.some((e) => e.type === 'italic'), 'rendered by the Telegram out node');
    assert.equal(botTexts(5151).length, 1, 'nothing in the other chat');
    assert.equal(server.requests.length, 2, 'the agent was not asked during the takeover');

    await helper.request().post(`${BASE}/threads/${ann}/handback`).expect(200);
    tg.pushUpdate(tg.make.text('thank you', { from: { id: 4242, first_name: 'Ann' } }));
    await until(() => botTexts(4242).length === 3, 'the agent answering again');
    assert.equal(botTexts(4242)[2], 'reply to "thank you" (user turns: 3)');
    const asked = (server.requests[2].body.messages ?? []).map((m) => `${m.role}: ${String(m.content)}`);
    assert.ok(asked.includes('user: my parcel never came'), asked.join('\n'));
    assert.ok(asked.includes('assistant: Sorry! I am *checking* it now.'), asked.join('\n'));
  });
});
