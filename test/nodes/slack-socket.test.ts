/**
 * The guarded Socket Mode receiver (nodes/slack/socket-mode.ts) on its own, with the real
 * @slack/socket-mode client against the emulator: the races a redeploy can hit. The suite's root
 * hook fails on any unhandled rejection, which is what the known SDK bug produces (a stop while
 * the client reconnects, before `hello`, rejects the client's own start() with `undefined`).
 */
import assert from 'node:assert/strict';
import type { Logger } from '@slack/bolt';
import { GuardedSocket, type SocketState } from '../../nodes/slack/socket-mode';
import type { SlackServer } from '../emulators/slack-server';
import { takeUnhandled } from '../helpers/fail-on-unhandled';
import { sleep } from '../helpers/red';
import { APP_TOKEN, startEmulator } from '../helpers/slack';
import { until } from '../helpers/telegram';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, setLevel: () => undefined, getLevel: () => 'error' as never, setName: () => undefined };

describe('slack guarded socket', function () {
  this.timeout(20000);
  let slack: SlackServer;
  const states: SocketState[] = [];
  const failures: unknown[] = [];

  beforeEach(async () => {
    states.length = 0;
    failures.length = 0;
    slack = await startEmulator();
  });
  afterEach(async () => {
    await slack.close();
  });

  function open(pingTimeoutMs = 300): GuardedSocket {
    const socket = new GuardedSocket({
      appToken: APP_TOKEN,
      slackApiUrl: slack.apiUrl,
      pingTimeoutMs,
      logger: quiet,
      urlRetries: 0,
      onState: (s) => states.push(s),
      onStartFailure: (e) => failures.push(e),
    });
    (socket.receiver as unknown as { app: unknown }).app = { processEvent: async () => undefined };
    return socket;
  }

  it('a close in the middle of a reconnect (URL issued, no hello yet) leaves no socket and rejects nothing', async () => {
    const socket = open();
    socket.start();
    await until(() => states.includes('connected'), 3000, 'connected');
    const client = socket.receiver.client;
    let urls = 0;
    let closing: Promise<void> | undefined;
    // The reconnect's apps.connections.open has answered; the socket is being opened: stop now.
    client.on('authenticated', () => {
      urls += 1;
      setImmediate(() => (closing = socket.close()));
    });
    slack.inject.dropSockets();
    await until(() => closing !== undefined, 5000, 'the reconnect began');
    const started = Date.now();
    await closing;
    assert.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`);
    await slack.waitForSockets((s) => s.openSockets === 0, 2000);
    // The client's own close-handshake timer (30 s) and reconnect timer are gone: nothing fires later.
    await sleep(1500);
    assert.equal(slack.stats.openSockets, 0);
    assert.equal(urls, 1);
    assert.deepEqual(takeUnhandled(), []);
    assert.deepEqual(failures, [], 'a shutdown is not a start failure');
  });

  it('a close while apps.connections.open is in flight never opens the socket it returns', async () => {
    const socket = open();
    socket.start();
    await until(() => states.includes('connected'), 3000, 'connected');
    slack.inject.delayNext('apps.connections.open', 1, 500);
    slack.inject.dropSockets();
    await slack.waitFor((c) => c.method === 'apps.connections.open' && c.at > Date.now() - 50, 5000).catch(() => undefined);
    await until(() => slack.sent.filter((c) => c.method === 'apps.connections.open').length >= 1 && slack.stats.openSockets === 0, 3000, 'the reconnect asked');
    const before = slack.stats.connections;
    await socket.close();
    await sleep(1200);
    assert.equal(slack.stats.connections, before, 'no socket opened after close');
    assert.equal(slack.stats.openSockets, 0);
    assert.deepEqual(takeUnhandled(), []);
  });

  it('an open socket is closed with the handshake, and close() resolves only once it is closed', async () => {
    const socket = open();
    socket.start();
    await slack.waitForSockets((s) => s.openSockets === 1, 3000);
    await socket.close();
    // Our side is closed when close() resolves; the server hears the FIN a moment later.
    await slack.waitForSockets((s) => s.openSockets === 0, 200);
    assert.deepEqual(takeUnhandled(), []);
  });

  it('a refused app token on a reconnect is reported, not thrown', async () => {
    const socket = open();
    socket.start();
    await until(() => states.includes('connected'), 3000, 'connected');
    slack.inject.revokeToken({ token: 'app' });
    slack.inject.dropSockets();
    await until(() => failures.length === 1, 5000, 'the failure reported');
    assert.match(String((failures[0] as Error).message), /invalid_auth/);
    await socket.close();
    assert.deepEqual(takeUnhandled(), []);
  });
});
