/**
 * chatgate-agent-call in the real Node-RED runtime, against the fake OpenAI-compatible server (the
 * real `openai` SDK talks to it) and the fake HTTP agent: what the user would see in the chat, what
 * the agent was sent, and what the flow's error output and Catch nodes get.
 */
import { strict as assert } from 'node:assert';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { startHttpAgentServer, type FakeHttpAgent } from '../emulators/http-agent-server';
import { captured, collect, getNode, helper, load, nextMessage, sleep, unload, useUserDir, inbound } from '../helpers/red';

type Msg = {
  payload: string;
  event?: string;
  stream?: { id: string; seq: number; done: boolean };
  error?: { message: string; kind: string; status?: number };
  chat?: { userId: string };
  thread?: { id: string };
  [key: string]: unknown;
};

const API_KEY = 'sk-test-7f3a9c2e51d84b6f';

function flow(agent: Record<string, unknown> = {}) {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'main gateway', store: 'file' },
    {
      id: 'agent',
      type: 'chatgate-agent-call',
      gateway: 'gw',
      provider: 'openai',
      model: 'fake-model',
      stream: false,
      typing: true,
      timeout: 5,
      retries: 2,
      wires: [['out'], ['err']],
      ...agent,
    },
    { id: 'out', type: 'helper' },
    { id: 'err', type: 'helper' },
  ];
}

/** An inbound message as the thread resolver leaves it. */
function turnMsg(threadId: string, text: string, userId = 'u1') {
  return { ...inbound({ userId, userName: `name-${userId}` }, text), thread: { id: threadId, key: `k:${threadId}`, strategy: 'per-user', isNew: false, turn: 1 } };
}

/** Resolves with the first message on `nodeId` that `test` accepts. */
function waitFor(nodeId: string, test: (m: Msg) => boolean, ms = 2500): Promise<Msg> {
  const n = getNode(nodeId);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      n.removeListener('input', on);
      reject(new Error(`no matching message at ${nodeId} within ${ms} ms`));
    }, ms);
    const on = (m: Msg) => {
      if (!test(m)) return;
      clearTimeout(timer);
      n.removeListener('input', on);
      resolve(m);
    };
    n.on('input', on);
  });
}
const finalReply = (m: Msg) => m.event !== 'typing' && (!m.stream || m.stream.done);

/** Sends a turn and resolves with its final reply. */
async function ask(threadId: string, text: string, userId = 'u1'): Promise<Msg> {
  const got = waitFor('out', (m) => finalReply(m) && m.thread?.id === threadId);
  getNode('agent').receive(turnMsg(threadId, text, userId));
  return got;
}

function errorsOf(nodeId: string): string[] {
  const errors: string[] = [];
  getNode(nodeId).on('call:error', (call: { firstArg: unknown }) => errors.push(String(call.firstArg)));
  return errors;
}

function statusesOf(nodeId: string): string[] {
  const seen: string[] = [];
  getNode(nodeId).on('call:status', (call: { firstArg: { text?: string } }) => seen.push(String(call.firstArg?.text ?? '')));
  return seen;
}

describe('agent call node (real runtime, fake OpenAI server)', function () {
  let server: FakeOpenAIServer;
  beforeEach(async () => {
    useUserDir();
    server = await startOpenAIServer();
  });
  afterEach(async () => {
    await unload();
    await server.close();
  });

  const userTexts = (i: number) => (server.requests[i].body.messages ?? []).map((m) => `${m.role}:${String(m.content)}`);

  it('answers with the whole reply: a typing signal first, then the same msg with the reply', async () => {
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url }));
    const seen = collect('out');
    const input = turnMsg('th_a', 'hello');
    const final = waitFor('out', finalReply);
    getNode('agent').receive(input);
    const reply = await final;
    assert.equal(reply.payload, 'reply to "hello" (user turns: 1)');
    assert.ok(reply === (input as unknown), 'the final reply is the incoming msg, reused');
    assert.equal(reply.stream, undefined, 'no msg.stream when streaming is off');
    assert.deepEqual(reply.thread, input.thread);
    assert.equal(seen.length, 2);
    assert.equal(seen[0].event, 'typing');
    assert.notEqual(seen[0], input, 'the typing signal is a message of its own');
    assert.equal(seen[0].payload, '');
    assert.equal(seen[0].thread.id, 'th_a');
    assert.equal(seen[1].event, undefined);
    assert.equal(server.requests[0].body.model, 'fake-model');
    assert.equal(server.requests[0].body.stream, false);
  });

  it('streams parts in order, each the whole text so far, then the whole final text', async () => {
    server.setBehavior({ chunks: 6, chunkDelayMs: 50, reply: () => 'one two three four five six seven eight nine ten' });
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, stream: true, streamInterval: 80, typing: false }));
    const seen = collect('out');
    const reply = await ask('th_s', 'count');
    const parts = seen.filter((m: Msg) => m.stream && !m.stream.done);
    assert.ok(parts.length >= 2, `several parts (got ${parts.length})`);
    assert.equal(seen[seen.length - 1], reply, 'nothing after the final reply');
    const seqs = seen.map((m: Msg) => m.stream!.seq);
    assert.deepEqual(seqs, seqs.map((_s: number, i: number) => i), 'seq from 0, one by one');
    assert.ok(seen.every((m: Msg) => m.stream!.id === reply.stream!.id));
    let previous = '';
    for (const p of parts) {
      assert.ok(p.payload.startsWith(previous) && p.payload.length > previous.length, 'each part grows the text');
      assert.ok(reply.payload.startsWith(p.payload));
      previous = p.payload;
    }
    assert.equal(reply.payload, 'one two three four five six seven eight nine ten');
    assert.deepEqual(reply.stream, { id: reply.stream!.id, seq: parts.length, done: true });
    assert.equal(server.requests[0].body.stream, true);
  });

  it('keeps each thread its own history; the system prompt is filled from the envelope', async () => {
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, systemPrompt: 'Help {{chat.userName}} on {{chat.platform}} in {{thread.id}}.{{chat.nope}}' }));
    await ask('th_u1', 'I am u1', 'u1');
    await ask('th_u2', 'I am u2', 'u2');
    const again = await ask('th_u1', 'who am I?', 'u1');
    assert.equal(again.payload, 'reply to "who am I?" (user turns: 2)');
    assert.deepEqual(userTexts(2), [
      'system:Help name-u1 on webhook in th_u1.',
      'user:I am u1',
      'assistant:reply to "I am u1" (user turns: 1)',
      'user:who am I?',
    ]);
    assert.deepEqual(userTexts(1), ['system:Help name-u2 on webhook in th_u2.', 'user:I am u2'], "u2's request holds nothing of u1");
    assert.ok(!JSON.stringify(server.requests[2].body).includes('u2'), "u1's request holds nothing of u2");
  });

  it('takes its model from an environment variable, or per message from msg', async () => {
    process.env.CHATGATE_TEST_MODEL = 'model-from-env';
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, modelType: 'env', model: 'CHATGATE_TEST_MODEL' }));
    await ask('th_env', 'hi');
    assert.equal(server.requests[0].body.model, 'model-from-env');
    await unload();
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, modelType: 'msg', model: 'model', typing: false }));
    const got = waitFor('out', (m) => finalReply(m) && m.thread?.id === 'th_msg');
    getNode('agent').receive({ ...turnMsg('th_msg', 'hi'), model: 'gpt-for-vip' });
    await got;
    assert.equal(server.requests[1].body.model, 'gpt-for-vip');
    const errors = errorsOf('agent');
    getNode('agent').receive(turnMsg('th_msg', 'no model here'));
    await sleep(100);
    assert.match(errors.join('\n'), /agent-call\.errors\.noModelInMsg/);
    assert.equal(server.requests.length, 2, 'a message without its model is not sent');
  });

  it('memory survives an unload/load of the flow', async () => {
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url }));
    await ask('th_p', 'remember me');
    await unload();
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url }));
    const reply = await ask('th_p', 'still there?');
    assert.equal(reply.payload, 'reply to "still there?" (user turns: 2)');
    assert.deepEqual(userTexts(1).slice(0, 2), ['user:remember me', 'assistant:reply to "remember me" (user turns: 1)']);
  });

  it('one turn at a time per thread, threads in parallel up to the limit', async () => {
    server.setBehavior({ delayMs: 250 });
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, concurrency: 2, typing: false }));
    const replies = collect('out');
    const agent = getNode('agent');
    for (const [t, text] of [['A', 'a1'], ['A', 'a2'], ['B', 'b1'], ['C', 'c1'], ['B', 'b2']]) agent.receive(turnMsg(`th_${t}`, text));
    while (replies.length < 5) await sleep(20);
    assert.equal(server.maxConcurrent, 2, 'never more than two requests at once');
    const order = replies.map((m: Msg) => m.payload.match(/"(\w+)"/)![1]);
    assert.deepEqual(order.filter((x: string) => x.startsWith('a')), ['a1', 'a2']);
    assert.deepEqual(order.filter((x: string) => x.startsWith('b')), ['b1', 'b2']);
    // A's second turn started only after its first one ended, and saw it in its history.
    assert.equal(replies.find((m: Msg) => m.payload.includes('"a2"')).payload, 'reply to "a2" (user turns: 2)');
    // Waiting threads start in arrival order: b1 and c1 before a2.
    const started = server.requests.map((r) => String(r.body.messages?.[r.body.messages.length - 1].content));
    assert.deepEqual(started.slice(0, 2).sort(), ['a1', 'b1']);
    assert.ok(started.indexOf('c1') < started.indexOf('a2') || started.indexOf('b1') < started.indexOf('a2'));
  });

  it('collect: messages that arrive while the thread is busy become one turn', async () => {
    server.setBehavior({ delayMs: 250 });
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, queueMode: 'collect', typing: false }));
    const replies = collect('out');
    const agent = getNode('agent');
    agent.receive(turnMsg('th_c', 'first'));
    await sleep(30);
    agent.receive(turnMsg('th_c', 'second'));
    agent.receive(turnMsg('th_c', 'third'));
    while (replies.length < 2) await sleep(20);
    await sleep(100);
    assert.equal(server.requests.length, 2);
    assert.equal(replies.length, 2);
    assert.equal(replies[1].payload, 'reply to "second\n\nthird" (user turns: 2)');
  });

  it('interrupt: a new message aborts the running request, then is answered', async () => {
    server.setBehavior({ hang: true }, 1);
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, queueMode: 'interrupt', typing: false }));
    const replies = collect('out');
    const errors = errorsOf('agent');
    const agent = getNode('agent');
    agent.receive(turnMsg('th_i', 'long question'));
    while (server.requests.length < 1) await sleep(10);
    const reply = waitFor('out', finalReply);
    agent.receive(turnMsg('th_i', 'never mind'));
    await server.waitForAborts(1);
    assert.equal((await reply).payload, 'reply to "never mind" (user turns: 2)', 'the interrupted question stays in memory');
    assert.equal(replies.length, 1, 'the interrupted turn sent nothing');
    assert.deepEqual(errors, [], 'an interrupt is not an error');
  });

  it('a full queue sends the message to the error output, never drops it', async () => {
    server.setBehavior({ delayMs: 300 });
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, maxQueue: 1, typing: false }));
    const agent = getNode('agent');
    const overflow = nextMessage('err');
    agent.receive(turnMsg('th_q', 'q1'));
    agent.receive(turnMsg('th_q', 'q2'));
    agent.receive(turnMsg('th_q', 'q3'));
    const e = await overflow;
    assert.equal(e.payload, 'q3');
    assert.equal(e.error.kind, 'overflow');
    assert.match(e.error.message, /thread-queue-full/);
    assert.equal(e.thread.id, 'th_q');
  });

  it('a timeout answers the user with the fallback, sends the error on, and raises done(err)', async () => {
    server.setBehavior({ hang: true });
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, timeout: 1, retries: 0, typing: false }));
    const errors = errorsOf('agent');
    const statuses = statusesOf('agent');
    const started = Date.now();
    const fallback = nextMessage('out', 2500);
    const error = nextMessage('err', 2500);
    getNode('agent').receive(turnMsg('th_t', 'hello?'));
    assert.equal((await fallback).payload, 'Sorry, I could not answer just now. Please try again.');
    const e = await error;
    assert.equal(e.error.kind, 'timeout');
    assert.equal(e.payload, 'hello?');
    assert.ok(Date.now() - started < 2000);
    await sleep(20);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /1000 ms|timed out|within/);
    assert.match(statuses[statuses.length - 1], /agent-call\.status\.error/);
  });

  it('a 429 is retried after its Retry-After, then answered', async () => {
    server.setBehavior({ rateLimit: { retryAfterSeconds: 0 } }, 1);
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, typing: false }));
    const errs = collect('err');
    const reply = await ask('th_r', 'again');
    assert.equal(reply.payload, 'reply to "again" (user turns: 1)');
    assert.equal(server.requests.length, 2);
    assert.equal(errs.length, 0);
  });

  it('a 500 after the retries gives the fallback and the status', async () => {
    server.setBehavior({ fail: 500 });
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, retries: 0, typing: false, fallback: 'Agent is down.' }));
    const error = nextMessage('err');
    const reply = await ask('th_5', 'x');
    assert.equal(reply.payload, 'Agent is down.');
    assert.equal((await error).error.status, 500);
  });

  it('the API key never appears in logs, status or any message', async () => {
    const keyed = await startOpenAIServer({ apiKey: 'sk-the-right-one-000000' });
    try {
      await load(['gateway', 'agentCall'], flow({ baseUrl: keyed.url, retries: 0 }), { agent: { apiKey: API_KEY } });
      const everything: unknown[] = [];
      for (const id of ['out', 'err']) helper.getNode(id).on('input', (m: unknown) => everything.push(m));
      const errors = errorsOf('agent');
      const statuses = statusesOf('agent');
      const e = nextMessage('err');
      getNode('agent').receive(turnMsg('th_k', 'hi'));
      await e;
      await sleep(20);
      assert.equal(keyed.requests[0].headers.authorization, `Bearer ${API_KEY}`, 'the key did go to the server');
      const logs = helper.log().args.map((a: unknown[]) => JSON.stringify(a, (_k, v) => (v instanceof Error ? v.message : v)));
      const shown = JSON.stringify({ everything, errors, statuses, logs });
      assert.ok(errors.length === 1 && /401/.test(errors[0]), errors.join());
      assert.ok(!shown.includes(API_KEY), 'the key leaked');
      assert.ok(!shown.includes(API_KEY.slice(3, 15)), 'part of the key leaked');
    } finally {
      await keyed.close();
    }
  });

  it('rejects a message without msg.thread with done(err) naming the field', async () => {
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url }));
    const errors = errorsOf('agent');
    getNode('agent').receive(inbound({}, 'no thread'));
    await sleep(30);
    assert.match(errors.join(), /msg\.thread/);
    assert.equal(server.requests.length, 0);
  });

  it('close aborts a hanging request and returns promptly', async () => {
    server.setBehavior({ hang: true });
    await load(['gateway', 'agentCall'], flow({ baseUrl: server.url, timeout: 60 }));
    getNode('agent').receive(turnMsg('th_h', 'hang'));
    getNode('agent').receive(turnMsg('th_h', 'queued'));
    while (server.requests.length < 1) await sleep(10);
    const started = Date.now();
    await unload();
    assert.ok(Date.now() - started < 1000, `closed in ${Date.now() - started} ms`);
    await server.waitForAborts(1);
    assert.equal(server.requests.length, 1, 'the queued message never went out');
  });
});

describe('agent call node with an HTTP agent', function () {
  let agent: FakeHttpAgent;
  before(async () => {
    await helper.startServer();
    // The helper's server serves its own express app; route it to the current flow's httpNode.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
  });
  after(async () => {
    await helper.stopServer();
  });
  beforeEach(() => useUserDir());
  afterEach(async () => {
    await unload();
    await agent?.close();
  });

  function httpFlow(over: Record<string, unknown> = {}) {
    return flow({ provider: 'http', url: agent.url, auth: 'bearer', includeHistory: true, async: true, callbackBase: helper.url(), ...over });
  }

  it('async: the agent answers 202, then calls back; the reply leaves with the thread id and goes into memory', async () => {
    agent = await startHttpAgentServer({ auth: { kind: 'bearer', token: 'agent-token-1234' }, behavior: { mode: 'async', callbackDelayMs: 50 } });
    await load(['gateway', 'agentCall'], httpFlow(), { agent: { token: 'agent-token-1234' } });
    const late = waitFor('out', (m) => m.event !== 'typing');
    getNode('agent').receive(turnMsg('th_x', 'later please'));
    const reply = await late;
    assert.deepEqual({ payload: reply.payload, thread: reply.thread }, { payload: 'agent got "later please" (history: 0)', thread: { id: 'th_x' } });
    const [cb] = await agent.waitForCallbacks(1);
    assert.equal(cb.status, 200);
    assert.equal(cb.url, `${helper.url()}/chatgate/agent/agent/callback`);
    assert.equal(agent.requests[0].authorized, true);
    const history = getNode('gw').gateway.state.memory.history('th_x').map((t: { role: string; content: string }) => `${t.role}:${t.content}`);
    assert.deepEqual(history, ['user:later please', 'assistant:agent got "later please" (history: 0)']);
  });

  it('async: a hand-off marker in the called-back reply is cut, the user told, the thread flagged and output 3 fired', async () => {
    agent = await startHttpAgentServer({ auth: { kind: 'bearer', token: 'agent-token-1234' }, behavior: { mode: 'async', reply: () => 'Checking with the team. [[handoff: refund]]' } });
    const nodes = httpFlow({ typing: false, wires: [['out'], ['err'], ['human']] });
    nodes.push(
      { id: 'resolver', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: 'per-user', sessionMinutes: '', passReset: false, wires: [['agent'], []] } as never,
      { id: 'human', type: 'helper' } as never,
    );
    await load(['gateway', 'threadResolver', 'agentCall'], nodes, { agent: { token: 'agent-token-1234' } });
    const late = nextMessage('out');
    const human = nextMessage('human');
    const msg = inbound({ userId: 'u7' }, 'refund please');
    getNode('resolver').receive(msg);
    const reply = await late;
    assert.equal(reply.payload, 'Checking with the team.\n\nA person will answer you here shortly.');
    const page = await human;
    assert.deepEqual([page.payload, page.handoff.reason, page.handoff.source, page.thread.id], ['refund please', 'refund', 'agent', reply.thread.id]);
    assert.equal(page.chat.chatJid, msg.chat.chatJid, 'the flag names the chat the thread belongs to');
    const gw = getNode('gw').gateway;
    assert.equal(gw.operator.heldBack(reply.thread.id)?.state, 'handoff', 'the agent holds back until a person comes');
    const history = gw.state.memory.history(reply.thread.id).map((t: { role: string; content: string }) => `${t.role}:${t.content}`);
    assert.deepEqual(history, ['user:refund please', 'assistant:Checking with the team.\n\nA person will answer you here shortly.'], 'no marker in the memory');
  });

  it('async with HMAC: the signed callback is checked over the raw body', async () => {
    agent = await startHttpAgentServer({ auth: { kind: 'hmac', secret: 'hmac-secret-5678' }, behavior: { mode: 'async' } });
    await load(['gateway', 'agentCall'], httpFlow({ auth: 'hmac', typing: false }), { agent: { secret: 'hmac-secret-5678' } });
    const late = nextMessage('out');
    getNode('agent').receive(turnMsg('th_h', 'signed'));
    assert.equal((await late).payload, 'agent got "signed" (history: 0)');
    assert.equal(agent.requests[0].authorized, true);
    const forged = await fetch(`${helper.url()}/chatgate/agent/agent/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-chatgate-signature': 'sha256=' + '0'.repeat(64) },
      body: JSON.stringify({ threadId: 'th_h', text: 'forged' }),
    });
    assert.equal(forged.status, 401);
  });

  it('the callback route refuses a wrong token (401), a bad body (400) and an unknown thread (404)', async () => {
    agent = await startHttpAgentServer({ auth: { kind: 'bearer', token: 'agent-token-1234' } });
    await load(['gateway', 'agentCall'], httpFlow(), { agent: { token: 'agent-token-1234' } });
    const url = `${helper.url()}/chatgate/agent/agent/callback`;
    const post = (auth: string, body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify(body) });
    const out = collect('out');
    assert.equal((await post('Bearer wrong-token', { threadId: 'th_1', text: 'x' })).status, 401);
    assert.equal((await post('', { threadId: 'th_1', text: 'x' })).status, 401);
    const bad = await post('Bearer agent-token-1234', { text: 'x' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /threadId/);
    assert.equal((await post('Bearer agent-token-1234', { threadId: 'th_nobody', text: 'x' })).status, 404);
    assert.equal(out.length, 0);
  });

  it('sync HTTP agent: a 503 is retried with backoff, then the reply comes back', async () => {
    agent = await startHttpAgentServer({ behavior: {} });
    agent.setBehavior({ fail: 503 }, 1);
    await load(['gateway', 'agentCall'], httpFlow({ auth: 'none', async: false, typing: false }));
    const reply = await ask('th_y', 'sync');
    assert.equal(reply.payload, 'agent got "sync" (history: 0)');
    assert.equal(agent.requests.length, 2);
  });

  it('streams an SSE reply from the HTTP agent as parts, then the whole text', async () => {
    agent = await startHttpAgentServer({ behavior: { mode: 'sse', chunks: 4, chunkDelayMs: 60 } });
    await load(['gateway', 'agentCall'], httpFlow({ auth: 'none', async: false, typing: false, stream: true, streamInterval: 50 }));
    const seen = collect('out');
    const reply = await ask('th_z', 'stream it');
    assert.equal(reply.payload, 'agent got "stream it" (history: 0)');
    assert.ok(seen.length >= 3);
    assert.deepEqual(seen.map((m: Msg) => m.stream!.seq), seen.map((_m: Msg, i: number) => i));
  });
});
