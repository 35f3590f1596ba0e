/**
 * The slack app over the HTTP Events API inside Node-RED: Bolt's ExpressReceiver router on
 * RED.httpNode, the signature checked on the raw body (401 and nothing in the flow when it is
 * wrong or stale), the url_verification challenge, retries with X-Slack-Retry-Num answered once,
 * slash commands and button presses posted as forms and acknowledged at once.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { SlackServer } from '../emulators/slack-server';
import { captured, collect, getNode, helper, nextMessage, sleep, unload } from '../helpers/red';
import { BOT_TOKEN, SIGNING_SECRET, appNode, everythingSaid, gateway, loadFlow, type FlowNode, startEmulator, useEmulator } from '../helpers/slack';
import { until } from '../helpers/telegram';

describe('slack app over the Events API', function () {
  this.timeout(20000);
  let slack: SlackServer;
  const PATH = '/slack/events';

  before(async () => {
    await helper.startServer();
    // The helper's server serves its own express app; route it to whichever httpNode the current flow got.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
  });
  after(async () => {
    await helper.stopServer();
  });
  useEmulator(() => slack, (s) => (slack = s));

  const url = () => `${helper.url()}${PATH}`;

  async function start(inOver: Record<string, unknown> = {}): Promise<void> {
    const flow: FlowNode[] = [
      gateway,
      appNode(slack.apiUrl, { mode: 'http', path: PATH }),
      { id: 'in', type: 'chatgate-slack-in', app: 'app', gateway: 'gw', wires: [['h']], ...inOver },
      { id: 'h', type: 'helper' },
    ];
    await loadFlow(flow, { token: BOT_TOKEN, signingSecret: SIGNING_SECRET });
    await until(() => getNode('app').connection?.status.key === 'listening', 5000, 'listening');
  }

  it('a signed event reaches the flow and is answered 200 at once; the status names the path', async () => {
    await start();
    assert.equal(getNode('app').connection.status.key, 'listening');
    const got = nextMessage('h', 5000);
    const started = Date.now();
    const res = await slack.postEvent(url(), slack.make.dm('over http'));
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started < 1000);
    const msg = await got;
    assert.equal(msg.payload, 'over http');
    assert.equal(msg.chat.chatType, 'direct');
    assert.ok(everythingSaid('in').includes(`Events API at ${PATH} as @${slack.bot.name}`));
    assert.equal(slack.stats.openSockets, 0, 'no socket in HTTP mode');
  });

  it('a wrong signing secret, a stale timestamp or no signature gets 401 and nothing reaches the flow', async () => {
    await start();
    const seen = collect('h');
    const wrong = await slack.postEvent(url(), slack.make.dm('forged'), { secret: 'not-the-secret-at-all-0000000000' });
    assert.equal(wrong.status, 401);
    const stale = await slack.postEvent(url(), slack.make.dm('replayed'), { timestamp: Math.floor(Date.now() / 1000) - 600 });
    assert.equal(stale.status, 401);
    const unsigned = await request(helper.url()).post(PATH).set('content-type', 'application/json').send(JSON.stringify(slack.wrapEvent(slack.make.dm('unsigned'))));
    assert.equal(unsigned.status, 401);
    const control = await slack.postEvent(url(), slack.make.dm("original"));
    assert.equal(control.status, 200, 'the control: a right signature passes');
    await until(() => seen.length === 1, 3000, 'the one good event');
    await sleep(200);
    assert.deepEqual(seen.map((m) => m.payload), ['original']);
  });

  it('answers the url_verification challenge', async () => {
    await start();
    const res = await slack.postEvent(url(), slack.make.urlVerification('the-challenge-123'));
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).challenge, 'the-challenge-123');
  });

  it('Slack retries (X-Slack-Retry-Num) and the message/app_mention twins pass once', async () => {
    await start();
    const seen = collect('h');
    const [message, mention] = slack.make.mention('once over http');
    const body = slack.wrapEvent(message);
    assert.equal((await slack.postEvent(url(), body)).status, 200);
    assert.equal((await slack.postEvent(url(), body, { retryNum: 1, retryReason: 'http_timeout' })).status, 200);
    assert.equal((await slack.postEvent(url(), body, { retryNum: 2 })).status, 200);
    assert.equal((await slack.postEvent(url(), mention)).status, 200);
    await until(() => seen.length >= 1, 3000, 'the mention');
    await sleep(300);
    assert.equal(seen.length, 1);
  });

  it('a slash command and a button press posted as forms are acknowledged at once and enter the flow', async () => {
    await start();
    const got = nextMessage('h', 5000);
    const res = await slack.postEvent(url(), slack.make.slashCommand('/ask', 'over http'));
    assert.equal(res.status, 200);
    const msg = await got;
    assert.deepEqual(msg.chat.command, { name: '/ask', args: 'over http' });

    // A proxy that adds a charset to the form's content type (Bolt would then try JSON).
    const charset = nextMessage('h', 5000);
    const viaProxy = await slack.postEvent(url(), slack.make.slashCommand('/ask', 'through a proxy'), { headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' } });
    assert.equal(viaProxy.status, 200);
    assert.equal((await charset).payload, 'through a proxy');

    const pressed = nextMessage('h', 5000);
    const press = await slack.postEvent(url(), slack.make.blockAction('chatgate_1', { value: 'go' }));
    assert.equal(press.status, 200);
    assert.equal((await pressed).payload, 'go');
  });

  it('the route is removed on close', async () => {
    await start();
    await unload();
    const res = await slack.postEvent(url(), slack.make.dm('too late'));
    assert.equal(res.status, 404);
  });
});
