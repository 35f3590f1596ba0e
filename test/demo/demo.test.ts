/**
 * The README's promise, tested as an operator meets it: `npm start` (scripts/start.js) runs a real
 * Node-RED process with this package and the demo flow; the demo endpoint answers with a reply and
 * a thread; the thread survives a restart; the admin API enforces Node-RED's real permissions.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Demo {
  child: ChildProcess;
  base: string;
  log: string[];
}

async function startDemo(dir: string, port: number, extraSettings?: string): Promise<Demo> {
  const log: string[] = [];
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/start.js')], {
    env: { ...process.env, CHATGATE_DEMO_DIR: dir, PORT: String(port), ...(extraSettings ? { CHATGATE_EXTRA_SETTINGS: extraSettings } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      log.push(d.toString());
      if (log.join('').includes('Started flows')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`demo exited with ${code}:\n${log.join('')}`)));
  });
  await Promise.race([started, new Promise((_, rej) => setTimeout(() => rej(new Error(`demo did not start:\n${log.join('')}`)), 30000))]);
  return { child, base: `http://127.0.0.1:${port}`, log };
}

async function stopDemo(demo: Demo): Promise<void> {
  if (demo.child.exitCode !== null) return;
  const exited = new Promise((r) => demo.child.once('exit', r));
  demo.child.kill('SIGINT');
  await exited;
}

async function post(base: string, body: unknown, route = '/chatgate/demo') {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('the demo (npm start, a real Node-RED process)', function () {
  this.timeout(90000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-demo-'));
  let port: number;
  let demo: Demo | undefined;

  before(async () => {
    port = await freePort();
  });
  afterEach(async () => {
    if (demo) await stopDemo(demo);
    demo = undefined;
  });

  it('answers with a reply and a thread; same user same thread, another user another; kept across a restart', async () => {
    demo = await startDemo(dir, port);
    const a1 = await post(demo.base, { userId: 'u1', chatId: 'c1', text: 'hi' });
    assert.equal(a1.status, 200, JSON.stringify(a1.body));
    assert.match(a1.body.text, /You said: "hi"/);
    assert.match(a1.body.thread.id, /^th_/);
    assert.equal(a1.body.thread.turn, 1);
    const a2 = await post(demo.base, { userId: 'u1', chatId: 'c1', text: 'again' });
    assert.equal(a2.body.thread.id, a1.body.thread.id);
    assert.equal(a2.body.thread.turn, 2);
    const b1 = await post(demo.base, { userId: 'u2', chatId: 'c2', text: 'hello' });
    assert.notEqual(b1.body.thread.id, a1.body.thread.id);

    const bad = await post(demo.base, { userId: 'u1' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /text/);

    await stopDemo(demo);
    demo = await startDemo(dir, port);
    const a3 = await post(demo.base, { userId: 'u1', chatId: 'c1', text: 'back' });
    assert.equal(a3.body.thread.id, a1.body.thread.id, 'same thread after a restart');
    assert.equal(a3.body.thread.turn, 3);
    const errors = demo.log.join('').split('\n').filter((l) => /\[(error|warn)\]/.test(l) && !/Projects disabled|Encrypted credentials/.test(l));
    assert.deepEqual(errors, [], 'the demo starts with no errors or warnings');
  });

  it('the admin API enforces Node-RED permissions: no token 401, a read-only user cannot change anything', async () => {
    const bcrypt = require('bcryptjs'); // eslint-disable-line @typescript-eslint/no-require-imports
    const hash = bcrypt.hashSync('secret-pass', 8);
    const settings = path.join(dir, 'auth-settings.js');
    fs.writeFileSync(
      settings,
      `module.exports = { adminAuth: { type: 'credentials', users: [
        { username: 'admin', password: ${JSON.stringify(hash)}, permissions: '*' },
        { username: 'viewer', password: ${JSON.stringify(hash)}, permissions: 'read' } ] } };`,
    );
    demo = await startDemo(dir, port, settings);
    const token = async (username: string, scope: string) => {
      const res = await fetch(`${demo!.base}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope, username, password: 'secret-pass' }),
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const gw = 'c9a7000000000002';
    const none = await fetch(`${demo.base}/chatgate/gateways/${gw}/threads`);
    assert.equal(none.status, 401);
    const viewer = await token('viewer', 'read');
    const admin = await token('admin', '*');
    const asViewer = await fetch(`${demo.base}/chatgate/gateways/${gw}/threads`, { headers: { authorization: `Bearer ${viewer}` } });
    assert.equal(asViewer.status, 200);
    const threads = (await asViewer.json()) as { total: number };
    assert.ok(threads.total >= 2, 'the threads of the first test are still there');
    const change = (t: string) =>
      fetch(`${demo!.base}/chatgate/gateways/${gw}/allowlist`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jid: 'webhook:u9', label: 'Nine' }),
      });
    // Node-RED answers a token whose scope lacks the permission with 401.
    assert.equal((await change(viewer)).status, 401);
    const before = await fetch(`${demo.base}/chatgate/gateways/${gw}/allowlist`, { headers: { authorization: `Bearer ${viewer}` } });
    assert.deepEqual(((await before.json()) as { runtime: unknown[] }).runtime, [], 'the refused change changed nothing');
    assert.equal((await change(admin)).status, 200);
    const after = await fetch(`${demo.base}/chatgate/gateways/${gw}/allowlist`, { headers: { authorization: `Bearer ${viewer}` } });
    assert.deepEqual(((await after.json()) as { runtime: unknown[] }).runtime, [{ jid: 'webhook:u9', label: 'Nine' }]);
  });
});
