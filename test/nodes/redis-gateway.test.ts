/**
 * The gateway on the Redis store, in the real Node-RED runtime against a real redis-server:
 * threads, allowlists, de-duplication, memory and history go to Redis (a second gateway on the
 * same Redis sees them), the Redis URL's password appears nowhere, and Redis going away is said
 * and handled by the operator's choice: messages wait and go on when it is back, or fail with the
 * reason at a Catch node.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { unload, getNode, nextMessage, inbound, sleep, helper, nodeModules, useUserDir, setRedPatch, catalogTranslator } from '../helpers/red';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { createRedisClient, RedisState } from '../../nodes/core/store/redis-state';
import { DEFAULT_SETTINGS } from '../../nodes/core/gateway-state';

const ALL = ['gateway', 'allowlistFilter', 'threadResolver', 'replyRouter'] as const;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core/common/25-catch.js'));

function load(names: readonly (typeof ALL)[number][], nodes: object[], credentials: object) {
  return helper.load([...nodeModules([...names]), catchNode], [{ id: 'f1', type: 'tab' }, ...nodes.map((n) => ((n as { type: string }).type === 'chatgate-gateway' ? n : { z: 'f1', ...n }))] as never, credentials as never);
}

function flow(policy: 'wait' | 'fail' = 'wait') {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'shared', strategy: 'per-user', sessionMinutes: 1440, listenerTtlMinutes: 30, dedupeMinutes: 20, resetCommands: '/new', store: 'redis', redisPolicy: policy },
    { id: 'filter', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'open', matchOn: 'either', list: 'default', entries: [], refused: 'output', wires: [['resolver'], []] },
    { id: 'resolver', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: '', sessionMinutes: '', passReset: false, wires: [['agent'], []] },
    { id: 'router', type: 'chatgate-reply-router', gateway: 'gw', wires: [[], [], [], [], ['wh'], [], ['lost']] },
    { id: 'agent', type: 'helper' },
    { id: 'wh', type: 'helper' },
    { id: 'lost', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
}

async function turn(user: string, text = 'hi') {
  const got = nextMessage('agent');
  getNode('filter').receive(inbound({ userId: user }, text));
  return got;
}

describe('the gateway on Redis (real runtime, real redis-server)', function () {
  this.timeout(40_000);
  let redis: RedisServer;
  const password = 'redis-pw-9f3c1e77';
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await redis.stop();
  });
  const gatewayText = catalogTranslator('gateway', 'gateway');
  beforeEach(() => {
    useUserDir();
    // What the operator reads: the gateway's own catalog, not bare keys.
    setRedPatch((RED) => {
      const own = RED._;
      RED._ = (key: string, params?: Record<string, string>) => (key.startsWith('gateway.') ? gatewayText(key, params) : own(key, params));
    });
  });
  afterEach(async () => {
    setRedPatch(undefined);
    await unload();
  });

  it('keeps threads, allowlists, de-duplication, memory and history in Redis, where another instance sees them', async () => {
    await load([...ALL], flow(), { gw: { redisUrl: redis.url } });
    const gw = getNode('gw').gateway;
    await gw.ready;
    assert.match(gw.storeDescription, /^redis 127\.0\.0\.1:\d+$/);
    const a = await turn('u1');
    const b = await turn('u1', 'again');
    assert.equal(b.thread.id, a.thread.id);
    assert.equal(b.thread.turn, 2);
    await gw.ops.addAllowEntry('default', { jid: 'webhook:vip', label: 'VIP' });
    await gw.ops.appendMemory(a.thread.id, [{ role: 'user', content: 'remember me', at: 1 }]);
    await gw.flush();

    // Another instance: its own client on the same Redis and prefix.
    const other = new RedisState({ client: createRedisClient(redis.url, 'wait'), prefix: 'chatgate:gw:', settings: DEFAULT_SETTINGS });
    try {
      await other.start();
      const seen = await other.getThread(a.thread.id);
      assert.equal(seen?.turn, 2);
      assert.deepEqual(other.allowlists.entries('default'), [{ jid: 'webhook:vip', label: 'VIP' }]);
      assert.deepEqual((await other.memoryHistory(a.thread.id)).map((t) => t.content), ['remember me']);
      assert.equal(await other.isDuplicate('webhook', 'ch1', 'm-7'), false);
      assert.equal(await gw.ops.isDuplicate('webhook', 'ch1', 'm-7'), true, 'a delivery seen by one instance is a duplicate on the other');
      const history = await other.history.messages('webhook:u1', { limit: 10 });
      assert.deepEqual(history.map((e) => [e.direction, e.text]), [['in', 'again'], ['in', 'hi']]);
    } finally {
      await other.close();
    }
    const listed = await helper.request().get('/chatgate/gateways').expect(200);
    assert.equal(listed.body[0].health, 'ready');
  });

  it('never shows the Redis password: not in the admin API, the log or a status', async () => {
    const url = redis.url.replace('redis://', `redis://default:${password}@`);
    await load([...ALL], flow('fail'), { gw: { redisUrl: url } });
    const gw = getNode('gw').gateway;
    await gw.ready;
    const listed = await helper.request().get('/chatgate/gateways').expect(200);
    const text = JSON.stringify(listed.body) + gw.storeDescription + String(gw.storeProblem ?? '');
    assert.ok(!text.includes(password), text);
    await sleep(300);
    const logged = JSON.stringify(helper.log().args, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v));
    assert.ok(!logged.includes(password), 'nothing logged holds the password');
  });

  for (const [label, creds] of [['no Redis URL', {}], ['a Redis URL that is not one', { redisUrl: 'ftp://nowhere:1/x' }]] as const) {
    it(`with ${label}, the gateway says so and runs from memory`, async () => {
      await load([...ALL], flow(), { gw: creds });
      const gw = getNode('gw').gateway;
      await gw.ready;
      assert.match(String(gw.storeProblem), /Redis URL/);
      assert.match(gw.storeDescription, /memory only/);
      const a = await turn('m1');
      assert.equal((await turn('m1')).thread.id, a.thread.id, 'threads still work');
    });
  }

  it('fail policy: with Redis down a message fails at the Catch node with the reason, and the gateway recovers by itself', async () => {
    await load([...ALL], flow('fail'), { gw: { redisUrl: redis.url } });
    const gw = getNode('gw').gateway;
    await gw.ready;
    await turn('u9');
    await redis.kill();
    for (let i = 0; i < 50 && gw.health() !== 'down'; i++) await sleep(50);
    assert.equal(gw.health(), 'down');
    const caught = nextMessage('caught');
    getNode('filter').receive(inbound({ userId: 'u9' }, 'while down'));
    const c = await caught;
    assert.match(String(c.error.message), /Redis|not connected|Connection/i);
    assert.equal(c.payload, 'while down', 'the message itself reaches the Catch node');
    await redis.restart();
    for (let i = 0; i < 100 && gw.health() !== 'ready'; i++) await sleep(50);
    assert.equal(gw.health(), 'ready');
    const after = await turn('u9', 'back');
    assert.equal(after.thread.turn, 2, 'the thread from before the outage continues');
  });

  it('wait policy: messages sent while Redis is down wait, then go on in order, none lost or doubled', async () => {
    await load([...ALL], flow('wait'), { gw: { redisUrl: redis.url } });
    const gw = getNode('gw').gateway;
    await gw.ready;
    await turn('w1');
    await redis.kill();
    for (let i = 0; i < 50 && gw.health() !== 'down'; i++) await sleep(50);
    const got: Array<{ payload: string; thread: { turn: number } }> = [];
    getNode('agent').on('input', (m: { payload: string; thread: { turn: number } }) => got.push(m));
    for (const text of ['one', 'two', 'three']) getNode('filter').receive(inbound({ userId: 'w1' }, text));
    await sleep(300);
    assert.equal(got.length, 0, 'nothing goes on while Redis is away');
    await redis.restart();
    for (let i = 0; i < 100 && got.length < 3; i++) await sleep(50);
    assert.deepEqual(got.map((m) => [m.payload, m.thread.turn]), [['one', 2], ['two', 3], ['three', 4]]);
  });
});
