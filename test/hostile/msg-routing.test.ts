/**
 * Hostile `msg` objects from upstream flows at the routing nodes and the agent call, in the real
 * Node-RED runtime: an allowlist filter (messages and control messages), a thread resolver, an
 * agent call (against the fake OpenAI server) and a reply router. Each message is a valid one
 * spoilt at one path (wrong types for payload, chat, thread, stream, event; prototype keys, cycles,
 * huge strings, getters that throw, exotic values). Every message ends — done() or done(err), the
 * error a clean line at a Catch node — never an unhandled rejection or a crash; a message that
 * must fail leaves by no output; the gateway's store keeps saving; the heap stays bounded; and the
 * next valid message is served.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { collect, getNode, helper, inbound, nodeModules, sleep, unload, useUserDir } from '../helpers/red';
import { takeUnhandled } from '../helpers/fail-on-unhandled';
import { until } from '../helpers/telegram';
import { assertHeapBounded, eventually, heapAfterGc, type Json } from '../helpers/hostile';
import { assertCleanError, catchNode, completeNode, spoilArb, spoilAt, watchEndings, type PathSpec } from '../helpers/hostile-msg';

const RUNS = 110;

/** What ChatSchema checks (msg.chat), plus fields it does not (extras the nodes must carry along harmlessly). */
const CHAT: PathSpec[] = [
  { path: ['chat'], check: 'object' },
  { path: ['chat', 'platform'], check: 'enum' },
  { path: ['chat', 'channelId'], check: 'id' },
  { path: ['chat', 'chatId'], check: 'id' },
  { path: ['chat', 'chatJid'], check: 'id' },
  { path: ['chat', 'chatType'], check: 'enum' },
  { path: ['chat', 'threadId'], check: 'id', optional: true },
  { path: ['chat', 'userId'], check: 'id' },
  { path: ['chat', 'userJid'], check: 'id' },
  { path: ['chat', 'userName'], check: 'string', max: 1024, optional: true },
  { path: ['chat', 'isBot'], check: 'bool' },
  { path: ['chat', 'messageId'], check: 'id' },
  { path: ['chat', 'mentioned'], check: 'bool' },
  { path: ['chat', 'command'], check: 'object', optional: true },
  { path: ['chat', 'attachments'], check: 'array' },
  { path: ['chat', 'receivedAt'], check: 'string' },
  { path: ['chat', 'note'], check: 'none' },
  ...REPLY_TO(['chat', 'replyTo']),
];

function REPLY_TO(at: string[]): PathSpec[] {
  return [
    { path: at, check: 'object' },
    { path: [...at, 'platform'], check: 'enum' },
    { path: [...at, 'channelId'], check: 'id' },
    { path: [...at, 'chatId'], check: 'id' },
    { path: [...at, 'userId'], check: 'id' },
    { path: [...at, 'messageId'], check: 'id', optional: true },
    { path: [...at, 'threadId'], check: 'id', optional: true },
    // A platform's own field (Slack's teamId): kept, but it is whatever upstream put there.
    { path: [...at, 'teamId'], check: 'none' },
  ];
}

const INBOUND: PathSpec[] = [
  { path: ['payload'], check: 'string' },
  { path: ['topic'], check: 'none' },
  { path: ['stream'], check: 'none' },
  { path: ['event'], check: 'none' },
  { path: ['buttons'], check: 'none' },
  ...CHAT,
];
const THREAD: PathSpec[] = [
  { path: ['thread'], check: 'object' },
  { path: ['thread', 'id'], check: 'id' },
  { path: ['thread', 'key'], check: 'string' },
  { path: ['thread', 'strategy'], check: 'enum' },
  { path: ['thread', 'isNew'], check: 'bool' },
  { path: ['thread', 'turn'], check: 'int' },
];

let seq = 0;

/** A valid inbound envelope of a webchat visitor, with a user name, a command-free text and two extras. */
function inboundMsg(userId = `u${++seq % 9}`): Json {
  const m = inbound({ platform: 'webchat', channelId: 'wc', userId, chatId: userId, userName: 'Visitor' }, `MARK${seq} hello`) as unknown as Json;
  (m.chat as Json).note = 'extra';
  ((m.chat as Json).replyTo as Json).teamId = 'T1';
  return m;
}

function threadOf(id = 'th_agent'): Json {
  return { id, key: `k:${id}`, strategy: 'per-user', isNew: false, turn: 1 };
}

/** One generated case: the node's valid message spoilt at one of its paths. */
function caseArb(make: () => Json, specs: PathSpec[], maxHuge = 2_000_000) {
  return fc.tuple(fc.constantFrom(...specs), spoilArb(maxHuge)).map(([spec, spoil]) => {
    const base = make();
    const id = `case-${++seq}`;
    const s = spoilAt(base, spec, spoil);
    s.msg._msgid = id;
    return Object.assign({ id, ...s }, { [fc.toStringMethod]: () => `${id}: ${s.what} (must fail: ${s.mustFail})` });
  });
}

describe('routing nodes: hostile messages that arrive while the gateway is still loading its store', function () {
  this.timeout(20000);
  afterEach(async () => {
    await unload();
  });

  it('end like any other (done(err) at the Catch node), never as an unhandled rejection', async () => {
    useUserDir();
    await helper.load(
      [...nodeModules(['gateway', 'allowlistFilter', 'replyRouter']), catchNode],
      [
        { id: 'f1', type: 'tab' },
        { id: 'gw', type: 'chatgate-gateway', name: 'still loading' },
        { id: 'filter', z: 'f1', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'open', wires: [['passed'], []] },
        { id: 'router', z: 'f1', type: 'chatgate-reply-router', gateway: 'gw', wires: Array.from({ length: 7 }, () => ['passed']) },
        { id: 'passed', z: 'f1', type: 'helper' },
        { id: 'catcher', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'f1', type: 'helper' },
      ] as never,
    );
    const gw = getNode('gw').gateway;
    assert.equal(gw.loaded, false, 'the store is still loading (else this test proves nothing)');
    const caught = collect('caught') as Array<{ _msgid: string; error: { message: string } }>;
    const passed = collect('passed') as Array<{ _msgid: string }>;
    const boom = (field: string) => () => {
      throw new Error(`hostile getter ${field}`);
    };
    // Read only once the gateway is ready: msg.topic by the filter, msg.chat by the router.
    const hostile = [
      Object.defineProperty({ ...inboundMsg(), _msgid: 'topic-getter' }, 'topic', { get: boom('topic'), enumerable: false }),
      Object.defineProperty({ payload: 'reply', _msgid: 'chat-getter' }, 'chat', { get: boom('chat'), enumerable: false }),
    ];
    getNode('filter').receive(hostile[0]);
    getNode('router').receive(hostile[1]);
    getNode('filter').receive({ ...inboundMsg(), _msgid: 'valid-after' });
    await gw.ready;
    await until(() => caught.length === 2 && passed.length === 1, 3000, `both errors at the Catch node (${caught.length}) and the valid one passed (${passed.length})`);
    assert.deepEqual(caught.map((m) => m._msgid).sort(), ['chat-getter', 'topic-getter']);
    for (const m of caught) assertCleanError(m.error.message, m._msgid);
    // Before the fix both became unhandled rejections (Node-RED exits on one); the root hook fails the test on any.
    assert.deepEqual(takeUnhandled().map((u) => String((u.reason as Error)?.message)), []);
  });
});

describe('routing nodes and the agent call: hostile msg objects from upstream', function () {
  this.timeout(60000);
  let openai: FakeOpenAIServer;
  let caught: Array<{ _msgid: string; error: { message: string; source?: { id: string } } }>;

  before(async () => {
    useUserDir();
    openai = await startOpenAIServer();
    await helper.load(
      [...nodeModules(['gateway', 'allowlistFilter', 'threadResolver', 'agentCall', 'replyRouter']), catchNode, completeNode],
      [
        { id: 'f1', type: 'tab' },
        { id: 'gw', type: 'chatgate-gateway', name: 'hostile msgs' },
        { id: 'filter', z: 'f1', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'allowlist', matchOn: 'either', entries: Array.from({ length: 9 }, (_, i) => ({ jid: `webchat:u${i}` })), wires: [['filter-0'], ['filter-1']] },
        { id: 'resolver', z: 'f1', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: 'per-user', wires: [['resolver-0'], ['resolver-1']] },
        { id: 'agent', z: 'f1', type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', model: 'fake-model', baseUrl: openai.url, stream: false, typing: false, timeout: 5, retries: 0, wires: [['agent-0'], ['agent-1']] },
        { id: 'router', z: 'f1', type: 'chatgate-reply-router', gateway: 'gw', wires: Array.from({ length: 7 }, (_, i) => [`router-${i}`]) },
        ...['filter-0', 'filter-1', 'resolver-0', 'resolver-1', 'agent-0', 'agent-1', ...Array.from({ length: 7 }, (_, i) => `router-${i}`)].map((id) => ({ id, z: 'f1', type: 'helper' })),
        { id: 'catcher', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'f1', type: 'helper' },
      ] as never,
      { agent: { apiKey: 'sk-hostile-0000' } } as never,
    );
    await getNode('gw').gateway.ready;
    caught = collect('caught');
  });
  after(async () => {
    await unload();
    await openai.close();
  });

  /** Runs the cases at one node: each ends once, must-fail ones at the Catch node with a clean line and by no output. */
  async function run(nodeId: string, outputs: string[], cases: fc.Arbitrary<{ id: string; msg: Json; mustFail: boolean; what: string }>, judge?: (c: { id: string; mustFail: boolean; what: string }, out: number[], error?: string) => void, mixed = true, sendsOnDone = true) {
    const watch = watchEndings(nodeId);
    const seen = outputs.map((o) => collect(o) as Array<{ _msgid: string }>);
    const heapBefore = await heapAfterGc();
    let failed = 0;
    let passed = 0;
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        getNode(nodeId).receive(c.msg);
        const ending = await watch.ending(c.id);
        const outputs = () => seen.flatMap((s, i) => (s.some((m) => m._msgid === c.id) ? [i] : []));
        // Node-RED delivers a sent message on a later turn than the done() after it: a message that
        // went on is waited for; one that did not gets a few turns to show up by mistake.
        if (ending.error === undefined && sendsOnDone) await eventually(() => outputs().length > 0, 1000, `${c.what}: done() and an output`).catch(() => undefined);
        else for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        const out = outputs();
        if (judge) return judge(c, out, ending.error);
        if (c.mustFail) {
          assert.ok(ending.error !== undefined, `${c.what}: passed (${JSON.stringify(out)}) but must fail`);
          assert.deepEqual(out, [], `${c.what}: a refused message left by an output`);
        }
        if (ending.error !== undefined) {
          failed++;
          assertCleanError(ending.error, c.what);
          await eventually(() => caught.some((m) => m._msgid === c.id), 1000, `${c.what}: the error at the Catch node`);
          const at = caught.find((m) => m._msgid === c.id)!;
          assert.equal(at.error.source?.id, nodeId);
          assertCleanError(at.error.message, `${c.what} at the Catch node`);
        } else {
          passed++;
          assert.equal(out.length, 1, `${c.what}: done() but left by ${out.length} outputs`);
        }
        await sleep(0);
        assert.equal(watch.count(c.id), 1, `${c.what}: ended more than once`);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    await assertHeapBounded(heapBefore, 60, `${RUNS} hostile messages at ${nodeId}`);
    if (mixed && !judge) assert.ok(failed > 10 && passed > 10, `the cases were mixed: ${failed} refused, ${passed} passed`);
    return watch;
  }

  /** The store saved everything since the last check: no write failed. */
  async function assertStoreSaves(): Promise<void> {
    const gw = getNode('gw').gateway;
    await gw.flush();
    const failures = (helper.log().args as Array<[{ msg?: unknown }]>).map((a) => String(a[0]?.msg ?? '')).filter((m) => /saveFailed|save failed/i.test(m));
    assert.deepEqual(failures, [], 'the gateway could not save its state');
  }

  it(`allowlist filter: ${RUNS} hostile messages`, async () => {
    await run('filter', ['filter-0', 'filter-1'], caseArb(() => inboundMsg(), INBOUND));
    const next = collect('filter-0');
    getNode('filter').receive(inboundMsg('u1'));
    await until(() => next.length === 1, 2000, 'the valid message after the junk');
  });

  it(`allowlist filter control messages (topic "allowlist"): ${RUNS} hostile changes, none applied unless valid`, async () => {
    const lists = getNode('gw').gateway.allowlists;
    const specs: PathSpec[] = [
      { path: ['payload'], check: 'object' },
      { path: ['payload', 'action'], check: 'enum' },
      { path: ['payload', 'jid'], check: 'enum' },
      { path: ['payload', 'label'], check: 'string', max: 200, optional: true },
    ];
    let n = 0;
    const make = () => ({ topic: 'allowlist', payload: { action: 'add', jid: `webchat:ctl${++n}`, label: 'L' } });
    const before = lists.entries('default').length;
    await run('filter', ['filter-0', 'filter-1'], caseArb(make, specs), (c, out, error) => {
      assert.deepEqual(out, [], 'a control message is never passed on');
      if (c.mustFail) assert.ok(error !== undefined, `${c.what}: applied but must fail`);
      if (error !== undefined) assertCleanError(error, c.what);
    }, true, false);
    for (const e of lists.entries('default') as Array<{ jid: string; label?: string }>) {
      assert.match(e.jid, /^webchat:/);
      assert.ok(e.jid.length <= 520 && (e.label ?? '').length <= 200);
    }
    assert.ok(lists.entries('default').length > before, 'the valid changes were applied');
  });

  it(`thread resolver: ${RUNS} hostile messages; what it keeps under each thread is a small plain address the store can save`, async () => {
    const threads = collect('resolver-0') as Array<{ thread: { id: string } }>;
    await run('resolver', ['resolver-0', 'resolver-1'], caseArb(() => inboundMsg(), INBOUND));
    const gw = getNode('gw').gateway;
    for (const m of threads) {
      const found = await gw.ops.lookupListener(m.thread.id);
      assert.ok(found.ok, `a listener for ${m.thread.id}`);
      const text = JSON.stringify(found.address);
      assert.ok(text.length < 4096, `the listener of ${m.thread.id} holds ${text.length} characters`);
      for (const k of ['platform', 'channelId', 'chatId', 'userId']) assert.equal(typeof found.address[k], 'string', `listener ${m.thread.id}: ${k}`);
    }
    await assertStoreSaves();
    const next = collect('resolver-0');
    getNode('resolver').receive(inboundMsg('u2'));
    await until(() => next.length === 1, 2000, 'the valid message after the junk');
  });

  it('a reply address carrying a cycle, a BigInt, a function and a megabyte of text: the listener keeps the address alone, and the store goes on saving', async () => {
    const gw = getNode('gw').gateway;
    await assertStoreSaves();
    const out = collect('resolver-0') as Array<{ thread: { id: string } }>;
    const m = inboundMsg('poison');
    const replyTo = (m.chat as Json).replyTo as Json;
    Object.assign(replyTo, { self: replyTo, big: 10n, fn: () => 1, blob: 'b'.repeat(1_000_000), nested: { deep: { er: 1 } } });
    getNode('resolver').receive(m);
    await until(() => out.length === 1, 2000, 'the message passed on');
    const found = await gw.ops.lookupListener(out[0].thread.id);
    assert.ok(found.ok);
    // Before the fix the listener was the whole object: the next write of the store failed, and every one after it.
    assert.deepEqual(found.address, { platform: 'webchat', channelId: 'wc', chatId: 'poison', userId: 'poison', messageId: (m.chat as Json).messageId, teamId: 'T1' });
    await assertStoreSaves();
  });

  it(`agent call: ${RUNS} hostile turns (payload, chat, thread)`, async () => {
    let t = 0;
    const make = () => ({ ...inboundMsg(), thread: threadOf(`th_a${++t % 5}`) });
    await run('agent', ['agent-0', 'agent-1'], caseArb(make, [...INBOUND, ...THREAD], 300_000));
    await assertStoreSaves();
    const next = collect('agent-0');
    getNode('agent').receive({ ...inboundMsg('u3'), thread: threadOf('th_after') });
    await until(() => next.length === 1, 3000, 'the valid turn after the junk');
  });

  it(`reply router: ${RUNS} hostile replies (by address, by thread, by a chat that is no object); a bad address goes to "unroutable", never a throw`, async () => {
    const gw = getNode('gw').gateway;
    gw.ops.registerListener('th_known', { platform: 'webhook', channelId: 'in', chatId: 'c1', userId: 'u1' });
    const byAddress = () => ({ payload: `MARK${++seq} reply`, chat: { replyTo: { platform: 'webhook', channelId: 'in', chatId: 'c1', userId: 'u1', teamId: 'T1' } } });
    const byThread = () => ({ payload: `MARK${++seq} late reply`, chat: { note: 'no address' }, thread: { id: 'th_known' } });
    const addressSpecs: PathSpec[] = [{ path: ['payload'], check: 'none' }, { path: ['stream'], check: 'none' }, { path: ['event'], check: 'none' }, ...REPLY_TO(['chat', 'replyTo'])];
    const threadSpecs: PathSpec[] = [{ path: ['payload'], check: 'none' }, { path: ['chat'], check: 'none' }, { path: ['thread'], check: 'object' }, { path: ['thread', 'id'], check: 'id' }];
    const cases = fc.oneof(caseArb(byAddress, addressSpecs), caseArb(byThread, threadSpecs));
    const WEBHOOK = 4;
    const UNROUTABLE = 6;
    let routed = 0;
    let unroutable = 0;
    await run('router', Array.from({ length: 7 }, (_, i) => `router-${i}`), cases, (c, out, error) => {
      // A getter that throws where the router reads throws there (the runtime reports it like done(err)).
      if (error !== undefined && /getter/.test(c.what)) return assertCleanError(error, c.what);
      assert.equal(error, undefined, `${c.what}: the router fails nothing, it routes or says unroutable`);
      assert.equal(out.length, 1, `${c.what}: left by ${out.length} outputs`);
      if (c.mustFail) assert.deepEqual(out, [UNROUTABLE], `${c.what}: a bad address was routed`);
      else assert.ok(out[0] === WEBHOOK || out[0] === UNROUTABLE, `${c.what}: left by output ${out[0]}`);
      if (out[0] === WEBHOOK) routed++;
      else unroutable++;
    });
    assert.ok(routed > 10 && unroutable > 10, `${routed} routed, ${unroutable} unroutable`);

    // A text where msg.chat should be, on a reply routed by its thread: before the fix it was spread
    // into the new msg.chat, one key per character (3 MB: over a second of blocked event loop, 200 MB).
    const byText = collect('router-4') as Array<{ chat: Json }>;
    const started = Date.now();
    getNode('router').receive({ payload: 'late', chat: 'c'.repeat(3_000_000), thread: { id: 'th_known' } });
    await until(() => byText.length === 1, 3000, 'the reply routed by its thread');
    assert.ok(Date.now() - started < 300, `routed in ${Date.now() - started} ms`);
    assert.deepEqual(Object.keys(byText[0].chat), ['replyTo']);
    const routedMsgs = collect('router-4') as Array<{ chat: unknown }>;
    getNode('router').receive(byThread());
    await until(() => routedMsgs.length === 1, 2000, 'the valid reply after the junk');
    assert.deepEqual((routedMsgs[0].chat as { replyTo: unknown }).replyTo, { platform: 'webhook', channelId: 'in', chatId: 'c1', userId: 'u1' });
  });
});
