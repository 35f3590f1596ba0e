/**
 * The slack app config node with real @slack/bolt against the emulator: one connection shared by
 * its users, opened with the first and closed with the last; what it says when a token or a scope
 * is wrong (and that it then stops asking); a socket that drops heals by itself; a redeploy never
 * leaves a second socket open, even in the middle of a reconnect; no secret in any log or status.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Node } from 'node-red';
import { DEFAULT_SCOPES, type SlackServer } from '../emulators/slack-server';
import { collect, getNode, helper, nextMessage, sleep, unload } from '../helpers/red';
import { takeUnhandled } from '../helpers/fail-on-unhandled';
import { APP_TOKEN, BOT_TOKEN, CREDENTIALS, SIGNING_SECRET, appNode, everythingSaid, gateway, loadFlow, statusTexts, type FlowNode, startEmulator, useEmulator } from '../helpers/slack';
import { until } from '../helpers/telegram';

function fakeUser(id: string): Node {
  return { id, type: 'test-user', status: () => undefined } as unknown as Node;
}

describe('slack app config node', function () {
  this.timeout(30000);
  let slack: SlackServer;

  useEmulator(() => slack, (s) => (slack = s));

  const inNode: FlowNode = { id: 'in', type: 'chatgate-slack-in', app: 'app', gateway: 'gw', wires: [['h']] };
  const helperNode: FlowNode = { id: 'h', type: 'helper' };
  const flow = (over: Record<string, unknown> = {}, name = 'slack in'): FlowNode[] => [gateway, appNode(slack.apiUrl, over), { ...inNode, name }, helperNode];
  const socketUp = () => getNode('app')?.connection?.status.key === 'socket';
  const calls = (method: string) => slack.sent.filter((c) => c.method === method).length;

  it('opens with its first user and closes with its last; users that only send open no socket', async () => {
    await loadFlow([gateway, appNode(slack.apiUrl)]);
    const app = getNode('app');
    await sleep(100);
    assert.equal(slack.sent.length, 0, 'no users: no connection');

    const seen: string[] = [];
    const sender = fakeUser('out1');
    app.register(sender, { sink: { status: (_s: string, text: string) => seen.push(text) } });
    const me = await app.connection.ready();
    assert.equal(me.userId, slack.bot.userId);
    await until(() => seen.at(-1) === `connected as @${slack.bot.name}`, 3000, 'status on the user');
    await sleep(100);
    assert.equal(calls('apps.connections.open'), 0, 'senders open no socket');
    assert.equal(slack.stats.openSockets, 0);

    const receiver = fakeUser('in1');
    app.register(receiver, { receive: true });
    await slack.waitForSockets((s) => s.openSockets === 1, 5000);

    await new Promise<void>((r) => app.deregister(receiver, r));
    await slack.waitForSockets((s) => s.openSockets === 0, 5000);
    assert.equal(app.connection.status.key, 'connected', 'still open for the remaining sender');
    await new Promise<void>((r) => app.deregister(sender, r));
    assert.equal(app.connection.status.key, 'stopped');
  });

  it('a refused bot token stops with a plain status: no socket, no retry loop', async () => {
    await loadFlow(flow(), { ...CREDENTIALS, token: 'xoxb-0000000000-0000000000-WRONGtokenVALUE' });
    await until(() => statusTexts('in').some((t) => t.startsWith('Slack refused the bot token')), 5000, 'unauthorized status');
    assert.equal(statusTexts('in').at(-1), 'Slack refused the bot token (invalid_auth): check it in the slack app config node');
    await sleep(1000);
    assert.equal(calls('auth.test'), 1, 'asked once, never again');
    assert.equal(calls('apps.connections.open'), 0);
    assert.equal(slack.stats.openSockets, 0);
  });

  it('a revoked bot token (token_revoked) says so too', async () => {
    slack.inject.revokeToken({ token: 'bot', error: 'token_revoked' });
    await loadFlow(flow());
    await until(() => statusTexts('in').some((t) => t.includes('token_revoked')), 5000, 'revoked status');
    await sleep(500);
    assert.equal(calls('auth.test'), 1);
  });

  it('a refused app token stops with a plain status and no retry loop', async () => {
    slack.inject.revokeToken({ token: 'app', error: 'invalid_auth' });
    await loadFlow(flow());
    await until(() => statusTexts('in').some((t) => t.startsWith('Slack refused the app token')), 5000, 'app token status');
    await sleep(1500);
    assert.equal(calls('apps.connections.open'), 1, 'asked once, never again');
    assert.equal(slack.stats.openSockets, 0);
  });

  it('a bot token without chat:write says which scope to add', async () => {
    await slack.close();
    slack = await startEmulator({ scopes: DEFAULT_SCOPES.filter((s) => s !== 'chat:write') });
    await loadFlow(flow());
    await until(() => statusTexts('in').some((t) => t.includes('lacks the chat:write scope')), 5000, 'missing scope status');
  });

  it('a Slack API that never answers: the status says so, and the node still closes at once', async () => {
    const sockets = new Set<Socket>();
    const silent = http.createServer(() => undefined);
    silent.on('connection', (sock) => sockets.add(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const root = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      await loadFlow([gateway, { ...appNode(`${root}/api/`), callTimeout: 0.2, retryMin: 0.05 }, { ...inNode }, helperNode]);
      await until(() => statusTexts('in').includes('no answer from Slack within 0.2 s'), 5000, 'timeout status');
      const started = Date.now();
      await unload();
      assert.ok(Date.now() - started < 1000, 'closes at once');
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('names what is missing: no token, a user token, Socket Mode without an app token, HTTP without a signing secret', async () => {
    await loadFlow(flow(), { appToken: APP_TOKEN });
    assert.match(statusTexts('in').at(-1) ?? '', /no bot token/);
    await unload();
    await loadFlow(flow(), { token: 'xoxp-1234-5678-userTOKENvalue', appToken: APP_TOKEN });
    assert.match(statusTexts('in').at(-1) ?? '', /must be a bot token/);
    await unload();
    await loadFlow(flow(), { token: BOT_TOKEN });
    assert.match(statusTexts('in').at(-1) ?? '', /Socket Mode needs the app token/);
    await unload();
    await loadFlow(flow({ mode: 'http' }), { token: BOT_TOKEN });
    assert.match(statusTexts('in').at(-1) ?? '', /needs the signing secret/);
    assert.equal(slack.sent.length, 0, 'nothing is asked of Slack with a broken config');
    assert.ok(!everythingSaid('in').some((l) => l.includes('userTOKENvalue')));
  });

  it('a dropped socket heals by itself, and so do a disconnect frame and a deaf socket', async () => {
    await loadFlow(flow());
    await until(socketUp, 5000, 'connected');
    for (const fault of ['drop', 'disconnect', 'zombie'] as const) {
      const before = slack.stats.connections;
      if (fault === 'drop') slack.inject.dropSockets();
      if (fault === 'disconnect') slack.inject.disconnect();
      if (fault === 'zombie') slack.inject.zombieSockets();
      await slack.waitForSockets((s) => s.connections > before && s.openSockets === 1, 10000);
      await until(socketUp, 5000, `connected after ${fault}`);
      const arriving = nextMessage('h', 5000);
      slack.deliver(slack.make.dm(`after ${fault}`));
      assert.equal((await arriving).payload, `after ${fault}`);
    }
    assert.ok(statusTexts('in').includes('socket closed, reconnecting'));
    assert.ok(slack.stats.maxOpenSockets <= 2, 'a deaf socket is replaced, not piled up');
  });

  it('after ten redeploys exactly one socket is open, and there were never two at once', async () => {
    await loadFlow(flow());
    await until(socketUp, 5000, 'connected');
    for (let i = 0; i < 10; i++) {
      // Alternately a full redeploy (a new app config node) and one that restarts only the in node.
      await helper.setFlows(flow({}, `in ${i}`), i % 2 ? 'nodes' : 'full', { app: CREDENTIALS });
      await until(socketUp, 5000, `connected after redeploy ${i}`);
    }
    await sleep(300);
    assert.equal(slack.stats.openSockets, 1);
    assert.equal(slack.stats.maxOpenSockets, 1, 'the old socket was closed before the new one opened');
    assert.equal(slack.stats.connections, 11, 'each redeploy opened a new socket');
    const seen = collect('h');
    for (let i = 0; i < 6; i++) slack.deliver(slack.make.dm(`message ${i}`));
    await until(() => seen.length === 6, 5000, 'every message reaches the one socket');
  });

  it('a redeploy while the socket reconnects neither rejects unhandled nor opens a ghost socket', async () => {
    await loadFlow(flow({ pingTimeout: 1 }));
    await until(socketUp, 5000, 'connected');
    // A disconnect frame: the client closes and waits about one ping timeout before it reconnects.
    slack.inject.disconnect();
    const url = calls('apps.connections.open');
    await until(() => getNode('app').connection.status.key === 'reconnecting', 3000, 'reconnecting');
    assert.equal(calls('apps.connections.open'), url, 'still in the pause before the reconnect');
    await unload();
    const opened = slack.stats.connections;
    await sleep(1500);
    assert.equal(slack.stats.openSockets, 0);
    assert.equal(slack.stats.connections, opened, 'no socket opened after the stop');
    assert.deepEqual(takeUnhandled(), [], 'no unhandled rejection');

    // The same while apps.connections.open is in flight.
    await loadFlow(flow({ pingTimeout: 1 }));
    await until(socketUp, 5000, 'connected again');
    slack.inject.delayNext('apps.connections.open', 1, 800);
    slack.inject.dropSockets();
    await slack.waitFor((c) => c.method === 'apps.connections.open' && c.at > Date.now() - 100, 5000).catch(() => undefined);
    await until(() => slack.stats.urlsIssued >= 2 || calls('apps.connections.open') >= 2, 5000, 'the reconnect asked for a URL').catch(() => undefined);
    await unload();
    const after = slack.stats.connections;
    await sleep(1500);
    assert.equal(slack.stats.openSockets, 0);
    assert.equal(slack.stats.connections, after, 'the URL that came back after the stop was never used');
    assert.deepEqual(takeUnhandled(), []);
  });

  it('no token or secret in any log line or status', async () => {
    slack.inject.failNext('auth.test', 2, { status: 503 });
    await loadFlow([...flow(), { id: 'out', type: 'chatgate-slack-out', app: 'app', gateway: 'gw' }]);
    await until(socketUp, 8000, 'connected after the 503s');
    slack.inject.revokeToken({ token: 'bot', error: 'token_revoked' });
    const got = nextMessage('h', 5000);
    slack.deliver(slack.make.dm('hello'));
    const msg = await got;
    getNode('out').receive({ payload: 'will fail', chat: msg.chat });
    await until(() => statusTexts('out').some((t) => t.includes('token_revoked')), 5000, 'the failure shown');
    slack.inject.dropSockets();
    await sleep(1500);
    await unload();
    const said = everythingSaid('in').join('\n');
    assert.ok(said.length > 0);
    for (const secret of [BOT_TOKEN, APP_TOKEN, SIGNING_SECRET]) {
      assert.ok(!said.includes(secret), `a secret appeared: ${secret.slice(0, 8)}…`);
      assert.ok(!said.includes(secret.slice(-16)), 'not even in part');
    }
  });
});
