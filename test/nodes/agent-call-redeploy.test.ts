/**
 * A full redeploy while turns are running and waiting: the node of the next deploy picks them up,
 * so every message still gets its reply, in its thread's order, and a reply already streaming goes
 * on in the stream its user sees. Found by the soak (bench/soak.ts): every turn running or queued
 * when the flow was redeployed was dropped without a word (20-40 replies per redeploy).
 */
import { strict as assert } from 'node:assert';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { catalogTranslator, getNode, helper, inbound, load, sleep, unload, useUserDir } from '../helpers/red';

const agentText = catalogTranslator('agent-call', 'agent-call');
import { turnKey } from '../../nodes/core/turns-in-flight';
import { instanceId } from '../../nodes/agent-call/turns-guard';

type Msg = { payload: string; event?: string; stream?: { id: string; seq: number; done: boolean }; thread?: { id: string } };

function flow(url: string) {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'the gateway', store: 'file' },
    { id: 'agent', type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', baseUrl: url, model: 'fake-model', apiKeyEnv: 'CHATGATE_TEST_NO_KEY', stream: true, streamInterval: 50, typing: false, timeout: 5, retries: 0, wires: [['out'], ['err']] },
    { id: 'out', type: 'helper' },
    { id: 'err', type: 'helper' },
  ];
}

function turn(threadId: string, text: string) {
  return { ...inbound({ userId: threadId }, text), thread: { id: threadId, key: `k:${threadId}`, strategy: 'per-user', isNew: false, turn: 1 } };
}

describe('agent call across a full redeploy', function () {
  this.timeout(20000);
  let model: FakeOpenAIServer;
  let userDir = '';
  beforeEach(async () => {
    userDir = useUserDir();
    // Slow streams: a turn is still running (and its first part shown) when the redeploy comes.
    model = await startOpenAIServer({ behavior: { chunks: 4, chunkDelayMs: 300 } });
  });
  afterEach(async () => {
    await unload();
    await model.close();
  });

  it('answers the turns it stopped and the ones waiting, in order, the stopped stream going on', async () => {
    const f = flow(model.url);
    await load(['gateway', 'agentCall'], f);
    const before: Msg[] = [];
    getNode('out').on('input', (m: Msg) => before.push(m));
    getNode('agent').receive(turn('A', 'first of A'));
    getNode('agent').receive(turn('A', 'second of A'));
    getNode('agent').receive(turn('B', 'only of B'));
    const end = Date.now() + 5000;
    while (!before.some((m) => m.stream && !m.stream.done && m.payload.includes('first')) && Date.now() < end) await sleep(20);
    const shown = before.find((m) => m.stream && !m.stream.done && m.payload.includes('first'));
    assert.ok(shown, 'the first turn had shown a part before the redeploy');
    assert.equal(before.filter((m) => m.stream?.done).length, 0, 'nothing finished before the redeploy');

    await helper.setFlows(f, 'full');
    const after: Msg[] = [];
    getNode('out').on('input', (m: Msg) => after.push(m));
    const finals = () => after.filter((m) => m.stream?.done);
    const until = Date.now() + 10000;
    while (finals().length < 3 && Date.now() < until) await sleep(50);

    const byThread = (id: string) => finals().filter((m) => m.thread?.id === id).map((m) => m.payload);
    assert.deepEqual(byThread('A'), ['reply to "first of A" (user turns: 1)', 'reply to "second of A" (user turns: 2)']);
    assert.deepEqual(byThread('B'), ['reply to "only of B" (user turns: 1)']);
    const goingOn = after.filter((m) => m.stream?.id === shown.stream!.id);
    assert.ok(goingOn.length > 0, 'the stopped turn streams on under the same stream id');
    assert.ok(goingOn.every((m) => m.stream!.seq > shown.stream!.seq), 'its parts go on after the last one shown');
    assert.equal(after.filter((m) => m.payload.includes('first') && m.stream && m.stream.id !== shown.stream!.id).length, 0, 'no second stream for it');
  });

  it('keeps nothing when the flows are stopped without a deploy', async () => {
    const f = flow(model.url);
    await load(['gateway', 'agentCall'], f);
    getNode('agent').receive(turn('A', 'asked before the stop'));
    await sleep(100);
    await unload();
    await load(['gateway', 'agentCall'], f);
    const got: Msg[] = [];
    getNode('out').on('input', (m: Msg) => got.push(m));
    await sleep(1500);
    assert.deepEqual(got, [], 'a stop that is not a deploy hands nothing to the next flow (nor is it a crash to report)');
  });

  it('tells the chat, once, about a turn another process took and never finished (a crash)', async () => {
    const f = flow(model.url);
    await load(['gateway'], f.filter((n) => n.type === 'chatgate-gateway'));
    const gw = getNode('gw').gateway;
    await gw.ready;
    const replyTo = { platform: 'webhook' as const, channelId: 'ch', chatId: 'c-crash', userId: 'u' };
    await gw.ops.beginTurn(turnKey(instanceId(userDir), 'agent', 'm-crashed'), { threadId: 'th-crash', chatJid: 'webhook:c-crash', replyTo, text: 'what about my order?', at: Date.now() - 5000, proc: 'a process that died' });
    await unload();
    const asked = model.requests.length;
    await load(['gateway', 'agentCall'], f);
    const got: Msg[] = [];
    const errors: Msg[] = [];
    getNode('out').on('input', (m: Msg) => got.push(m));
    getNode('err').on('input', (m: Msg) => errors.push(m));
    await sleep(1500);
    assert.equal(model.requests.length, asked, 'the cut turn is not asked again');
    // The runtime of the test helper loads no catalogs: the key, as the real runtime's text.
    assert.equal(agentText('agent-call.interrupted', { text: 'what about my order?' }), 'Sorry, I was restarted before I could answer “what about my order?”. Please send it again.');
    assert.deepEqual(got.map((m) => [m.payload, (m as { chat?: { replyTo?: unknown } }).chat?.replyTo]), [['agent-call.interrupted', replyTo]]);
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as { error?: { kind?: string } }).error?.kind, 'interrupted');
    await unload();
    await load(['gateway', 'agentCall'], f);
    const again: Msg[] = [];
    getNode('out').on('input', (m: Msg) => again.push(m));
    await sleep(800);
    assert.deepEqual(again, [], 'reported once: the next start says nothing');
  });
});
