/**
 * The WhatsApp example flow as shipped, run whole in the real runtime: the Cloud API emulator
 * stands in for Meta and the fake OpenAI-compatible server for the model. Only what an operator
 * would change is changed (the API base URL, the model's URL, the allowlist opened), and the debug
 * and comment nodes are left out (this runtime loads only chatgate's nodes).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { startWhatsAppServer, type WhatsAppServer } from '../emulators/whatsapp-server';
import { helper, unload, useUserDir, type AnyRED } from '../helpers/red';
import { until } from '../helpers/telegram';
import { translated, useHttpServer, VERIFY_TOKEN, type FlowNode } from '../helpers/whatsapp';

function example(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../examples', name), 'utf8')) as FlowNode[];
}

describe('whatsapp example flow', function () {
  this.timeout(30000);
  let wa: WhatsAppServer;
  let model: FakeOpenAIServer;
  useHttpServer();

  beforeEach(async () => {
    useUserDir();
    wa = await startWhatsAppServer();
    model = await startOpenAIServer({ behavior: { chunks: 4, chunkDelayMs: 10 } });
  });
  afterEach(async () => {
    await unload();
    await wa.close();
    await model.close();
  });

  it('whatsapp-agent-bot: a user message is read, typed at and answered by the agent in the user\'s chat, remembering the conversation', async () => {
    const flow = example('whatsapp-agent-bot.json')
      .filter((n) => n.type !== 'comment' && n.type !== 'debug')
      .map((n) => {
        if (n.type === 'chatgate-whatsapp-account') return { ...n, phoneNumberId: wa.phoneNumberId, apiRoot: wa.baseUrl };
        if (n.type === 'chatgate-allowlist-filter') return { ...n, mode: 'open' };
        if (n.type === 'chatgate-agent-call') return { ...n, baseUrl: model.url, model: 'fake-model' };
        return n;
      });
    const ids = new Set(flow.map((n) => n.id));
    for (const n of flow) if (Array.isArray(n.wires)) n.wires = (n.wires as string[][]).map((port) => port.filter((w) => ids.has(w)));
    const account = flow.find((n) => n.type === 'chatgate-whatsapp-account')!;
    const mods = translated(['gateway', 'whatsappAccount', 'whatsappIn', 'whatsappOut', 'allowlistFilter', 'threadResolver', 'agentCall', 'replyRouter']);
    await helper.load(mods, flow as Parameters<typeof helper.load>[1], { [account.id]: { token: wa.token, appSecret: wa.appSecret, verifyToken: VERIFY_TOKEN } });
    await until(() => (helper.getNode(account.id) as AnyRED)?.connection?.status.key === 'connected', 5000, 'connected');
    const url = `${helper.url()}${String(account.path)}`;
    assert.equal((await wa.verify(url, { token: VERIFY_TOKEN, challenge: '42' })).body, '42');

    const { alice } = wa.fixtures;
    const first = wa.make.text(alice, 'hello agent');
    await wa.userSends(url, alice, first);
    await wa.waitForPhone(alice, (items) => items.some((i) => i.text?.includes('hello agent') && i.text.includes('user turns: 1')), 10000);
    assert.ok(wa.readReceipts.some((r) => r.messageId === first.id && r.typing), 'read and typing while the agent worked');

    await wa.userSends(url, alice, wa.make.text(alice, 'and again'));
    await wa.waitForPhone(alice, (items) => items.some((i) => i.text?.includes('and again') && i.text.includes('user turns: 2')), 10000);
    assert.equal(wa.phone(alice).length, 2, 'one answer each');
  });
});
