/**
 * Several Node-RED instances on one Redis: the turns in flight of an instance that is gone for good
 * (killed, its host never back) are told to their chats by a peer, once; an instance whose
 * heartbeat is there keeps its turns. Real runtime, real redis-server. The dead peer is what one
 * leaves behind: its turns in the shared hash and no heartbeat.
 */
import { strict as assert } from 'node:assert';
import { getNode, load, sleep, unload, useUserDir } from '../helpers/red';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { turnKey } from '../../nodes/core/turns-in-flight';

type Msg = Record<string, unknown> & { payload?: unknown; chat?: { replyTo?: unknown }; error?: { kind?: string } };

function flow() {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'shared', store: 'redis', redisPolicy: 'fail' },
    // Never called: no message comes in, only the peers' turns are told.
    { id: 'agent', type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', stream: false, typing: false, wires: [['out'], ['err'], []] },
    { id: 'out', type: 'helper' },
    { id: 'err', type: 'helper' },
  ];
}

const replyTo = (chatId: string) => ({ platform: 'webhook' as const, channelId: 'ch', chatId, userId: chatId });
const turn = (chatId: string, text: string) => ({ threadId: `th-${chatId}`, chatJid: `webhook:${chatId}`, replyTo: replyTo(chatId), text, at: Date.now() - 2000, proc: 'a process of another host' });

describe('agent call: turns of an instance gone for good (Redis, several instances)', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  const saved = { alive: process.env.CHATGATE_PEER_ALIVE_MS, scan: process.env.CHATGATE_PEER_SCAN_MS };
  before(() => {
    process.env.CHATGATE_PEER_ALIVE_MS = '600';
    process.env.CHATGATE_PEER_SCAN_MS = '250';
  });
  after(async () => {
    for (const [k, v] of [['CHATGATE_PEER_ALIVE_MS', saved.alive], ['CHATGATE_PEER_SCAN_MS', saved.scan]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  // A server per test: what one test's peers leave in the shared hash is not the next one's.
  beforeEach(async () => {
    useUserDir();
    redis = await startRedisServer();
  });
  afterEach(async () => {
    await unload();
    await redis.stop();
  });

  it("a peer tells the chats of a dead instance's turns, once; a live instance's turns and other nodes' are left", async () => {
    await load(['gateway', 'agentCall'], flow(), { gw: { redisUrl: redis.url } });
    const gw = getNode('gw').gateway;
    await gw.ready;
    const got: Msg[] = [];
    const errors: Msg[] = [];
    getNode('out').on('input', (m: Msg) => got.push(m));
    getNode('err').on('input', (m: Msg) => errors.push(m));
    const dead = turnKey('deadpeer0000', 'agent', 'm1');
    const live = turnKey('livepeer0000', 'agent', 'm2');
    const otherNode = turnKey('deadpeer0000', 'another-agent', 'm3');
    await gw.ops.markAlive('livepeer0000', 600);
    const heartbeat = setInterval(() => void gw.ops.markAlive('livepeer0000', 600).catch(() => undefined), 150);
    try {
      await gw.ops.beginTurn(dead, turn('c-dead', 'where is my parcel?'));
      await gw.ops.beginTurn(live, turn('c-live', 'still being answered'));
      await gw.ops.beginTurn(otherNode, turn('c-other', 'for another node'));
      for (let i = 0; i < 40 && got.length === 0; i++) await sleep(100);
      // Two more looks: nothing else is told, and nothing twice.
      await sleep(700);
      assert.deepEqual(got.map((m) => [m.payload, m.chat?.replyTo]), [['agent-call.interrupted', replyTo('c-dead')]]);
      assert.deepEqual(errors.map((m) => m.error?.kind), ['interrupted']);
      const left = (await gw.ops.turnsWithPrefix('')).map(([k]: [string]) => k).sort();
      assert.deepEqual(left, [live, otherNode].sort(), 'the live peer keeps its turn; another node tells its own');
    } finally {
      clearInterval(heartbeat);
    }
  });

  it('an instance that lost its heartbeat for one look only is not given up', async () => {
    await load(['gateway', 'agentCall'], flow(), { gw: { redisUrl: redis.url } });
    const gw = getNode('gw').gateway;
    await gw.ready;
    const got: Msg[] = [];
    getNode('out').on('input', (m: Msg) => got.push(m));
    const key = turnKey('flaky0000000', 'agent', 'm1');
    await gw.ops.beginTurn(key, turn('c-flaky', 'hello'));
    // No heartbeat for less than one look's interval (250 ms): at most one look misses it.
    await sleep(100);
    const heartbeat = setInterval(() => void gw.ops.markAlive('flaky0000000', 600).catch(() => undefined), 100);
    try {
      await gw.ops.markAlive('flaky0000000', 600);
      await sleep(1000);
      assert.deepEqual(got, []);
      assert.deepEqual((await gw.ops.turnsWithPrefix('')).map(([k]: [string]) => k), [key]);
    } finally {
      clearInterval(heartbeat);
    }
  });
});
