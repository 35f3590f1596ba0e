/**
 * One poller per bot token and one Discord gateway session across instances, in the real Node-RED
 * runtime with a gateway kept in a real redis-server: "another instance" is this test writing the
 * lease key itself. While it holds the key the in node stands by (and says so) and the platform
 * sees no poll and no session; once the key is free the node takes it and receives; when the key
 * is taken from it, it stops within a renewal interval. A webhook is served on standby too.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { startDiscordServer, type DiscordServer } from '../emulators/discord-server';
import { captured, catalogTranslator, collect, getNode, helper, nextMessage, nodeModules, sleep, unload, useUserDir, type AnyRED, type ModuleName } from '../helpers/red';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { botNode, statusTexts, TOKEN, until } from '../helpers/telegram';

const telegramText = catalogTranslator('telegram', 'telegram-');
const discordText = catalogTranslator('discord', 'discord-');
const translate = (key: string, params?: Record<string, string>) => (key.startsWith('discord-') ? discordText(key, params) : telegramText(key, params));
const hash = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 16);
const ELSEWHERE = 'another-host:4242:lease';

describe('leases across instances (gateway in Redis)', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let other: Redis;

  before(async () => {
    redis = await startRedisServer();
    other = new Redis(redis.url);
  });
  after(async () => {
    await other.quit();
    await redis.stop();
  });
  beforeEach(async () => {
    useUserDir();
    await other.flushall();
  });
  afterEach(() => unload());

  async function load(modules: ModuleName[], flow: object[], credentials: Record<string, object>): Promise<void> {
    const mods = nodeModules(modules).map((mod) => (RED: AnyRED) => {
      RED._ = translate;
      return mod(RED);
    });
    await helper.load(mods, flow as Parameters<typeof helper.load>[1], { gw: { redisUrl: redis.url }, ...credentials });
  }
  const gateway = { id: 'gw', type: 'chatgate-gateway', name: 'shared', store: 'redis', redisPolicy: 'wait' };
  const lastStatus = (id: string) => statusTexts(id).at(-1) ?? '';

  describe('telegram', function () {
    let tg: TelegramServer;
    beforeEach(async () => {
      tg = await startTelegramServer({ token: TOKEN });
    });
    afterEach(() => tg.close());
    const key = `chatgate:gw:lease:telegram-poll:${hash(TOKEN)}`;
    const getUpdates = () => tg.calls.filter((c) => c.method === 'getUpdates').length;
    const flow = (botOver: Record<string, unknown> = {}) => [
      gateway,
      botNode(tg.apiRoot, botOver),
      { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [['h']] },
      { id: 'h', type: 'helper' },
      { id: 'out', type: 'chatgate-telegram-out', bot: 'bot', gateway: 'gw', typing: false },
    ];

    it('stands by while another instance polls, polls once the lease is free, and stops as soon as it is taken', async () => {
      await other.set(key, ELSEWHERE, 'PX', 10_000);
      await load(['gateway', 'telegramBot', 'telegramIn', 'telegramOut'], flow(), { bot: { token: TOKEN } });
      await until(() => lastStatus('in') === 'standby (another instance polls)', 5000, 'standby');
      await sleep(500);
      assert.equal(getUpdates(), 0, 'no poll on standby');
      assert.match(lastStatus('out'), /^connected as @/, 'the out node can send meanwhile');

      // What the user sent while the other instance "had" the lease is received once this one takes it.
      const arriving = nextMessage('h', 6000);
      tg.pushUpdate(tg.make.text('waited for the lease'));
      await other.del(key);
      assert.equal((await arriving).payload, 'waited for the lease');
      assert.match(lastStatus('in'), /^connected as @/);
      assert.notEqual(await other.get(key), null, 'the lease is held in Redis');

      // Another instance takes it (the key rewritten): polling stops within a renewal interval.
      await other.set(key, ELSEWHERE, 'PX', 10_000);
      const takenAt = Date.now();
      await until(() => lastStatus('in') === 'standby (another instance polls)', 5000, 'standby again');
      await until(() => tg.stats.activePolls === 0, 2000, 'the poll ended');
      const stoppedMs = Date.now() - takenAt;
      // grammY's stop() confirms the last offset with one getUpdates of limit 1 (no long poll): not a poll.
      const longPolls = () => tg.calls.filter((c) => c.method === 'getUpdates' && c.params.limit !== 1).length;
      const polled = longPolls();
      await sleep(700);
      assert.equal(longPolls(), polled, 'no poll after the lease was lost');
      assert.ok(stoppedMs < 4000, `stopped ${stoppedMs} ms after the lease was taken`);
      assert.equal(await other.get(key), ELSEWHERE, 'the other instance keeps it');
    });

    describe('webhook mode', function () {
      before(async () => {
        await helper.startServer();
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
      });
      after(() => helper.stopServer());
      const hookKey = `chatgate:gw:lease:telegram-webhook:${hash(TOKEN)}`;

      it('every instance serves the route; only the lease holder registers the webhook, and standing by does not delete it', async () => {
        await load(['gateway', 'telegramBot', 'telegramIn', 'telegramOut'], flow({ mode: 'webhook', webhookUrl: helper.url(), webhookPath: '/tg/shared' }), { bot: { token: TOKEN } });
        await until(() => tg.webhook !== undefined, 5000, 'the webhook set');
        const secret = tg.webhook!.secret_token!;

        const getMe = () => tg.sent.filter((c) => c.method === 'getMe').length;
        const asked = getMe();
        await other.set(hookKey, ELSEWHERE, 'PX', 10_000);
        await until(() => getMe() > asked, 5000, 'the restart on standby');
        await sleep(300);
        assert.equal(tg.sent.filter((c) => c.method === 'deleteWebhook').length, 0, 'the webhook stays for the holder');
        assert.match(lastStatus('in'), /^webhook ready as @/, 'a webhook receives on standby: no standby status');

        // Telegram posts to whichever instance the load balancer picks: this one still takes it.
        const arriving = nextMessage('h');
        const updateId = tg.pushUpdate(tg.make.text('to the standby instance'));
        assert.equal((await arriving).payload, 'to the standby instance');
        const seen = collect('h');
        await request(helper.url()).post('/tg/shared').set('content-type', 'application/json').set('x-telegram-bot-api-secret-token', secret).send({ update_id: updateId, message: tg.make.text('a redelivery').message }).expect(200);
        await sleep(100);
        assert.equal(seen.length, 0, 'that update came already: de-duplicated through Redis');
        await unload();
        assert.equal(tg.sent.filter((c) => c.method === 'deleteWebhook').length, 0, 'a standby instance leaves the webhook when it stops');
      });
    });
  });

  describe('discord', function () {
    let discord: DiscordServer;
    beforeEach(async () => {
      discord = await startDiscordServer({ heartbeatIntervalMs: 250 });
    });
    afterEach(() => discord.close());

    it('opens the gateway session only while it holds the lease', async () => {
      const key = `chatgate:gw:lease:discord-gateway:${hash(discord.token)}`;
      await other.set(key, ELSEWHERE, 'PX', 10_000);
      const flow = [
        gateway,
        { id: 'bot', type: 'chatgate-discord-bot', name: 'test bot', apiRoot: discord.baseUrl, receive: 'gateway', commands: [], callTimeout: 2, retryMin: 0.05, retryMax: 0.2, maxRateWait: 30, loginTimeout: 3 },
        { id: 'in', type: 'chatgate-discord-in', bot: 'bot', gateway: 'gw', wires: [['h']] },
        { id: 'h', type: 'helper' },
      ];
      await load(['gateway', 'discordBot', 'discordIn'], flow, { bot: { token: discord.token } });
      await until(() => lastStatus('in') === 'standby (another instance holds the gateway session)', 5000, 'standby');
      await sleep(500);
      assert.equal(discord.identifies.length, 0, 'no session on standby');

      await other.del(key);
      await until(() => discord.stats.openSockets === 1 && discord.identifies.length === 1, 6000, 'the session');
      await until(() => /^connected as @/.test(lastStatus('in')), 3000, 'connected');

      await other.set(key, ELSEWHERE, 'PX', 10_000);
      await until(() => discord.stats.openSockets === 0, 5000, 'the session closed');
      assert.equal(lastStatus('in'), 'standby (another instance holds the gateway session)');
    });

    describe('gateway and interactions endpoint', function () {
      before(async () => {
        await helper.startServer();
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
      });
      after(() => helper.stopServer());

      it('on standby the endpoint still answers interactions; only the session waits for the lease', async () => {
        const key = `chatgate:gw:lease:discord-gateway:${hash(discord.token)}`;
        await other.set(key, ELSEWHERE, 'PX', 10_000);
        const flow = [
          gateway,
          { id: 'bot', type: 'chatgate-discord-bot', name: 'test bot', apiRoot: discord.baseUrl, receive: 'both', path: '/dc/shared', commands: [], callTimeout: 2, retryMin: 0.05, retryMax: 0.2, maxRateWait: 30, loginTimeout: 3 },
          { id: 'in', type: 'chatgate-discord-in', bot: 'bot', gateway: 'gw', wires: [['h']] },
          { id: 'h', type: 'helper' },
        ];
        await load(['gateway', 'discordBot', 'discordIn'], flow, { bot: { token: discord.token, publicKey: discord.publicKeyHex } });
        await until(() => lastStatus('in') === 'interactions at /dc/shared; standby for the gateway session (another instance holds it)', 5000, 'standby');
        await until(() => getNode('bot').connection?.status.key === 'http', 5000, 'the endpoint mounted');
        const arriving = nextMessage('h');
        const r = await discord.postInteraction(`${helper.url()}/dc/shared`, discord.make.slashCommand('ask', { options: { text: 'to the standby instance' } }));
        assert.equal(r.status, 200);
        assert.equal((await arriving).payload, 'to the standby instance');
        assert.equal(discord.identifies.length, 0, 'no session on standby');
      });
    });
  });
});
