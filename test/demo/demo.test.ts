/**
 * The README's promise, tested as an operator meets it: `npm start` (scripts/start.js) runs a real
 * Node-RED process with this package and the demo flow; the demo endpoint answers with a reply and
 * a thread; the thread survives a restart; the admin API enforces Node-RED's real permissions.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEMO_GATEWAY_ID, freePort, postJson as post, problemLines, startDemo, stopDemo, type Demo } from '../helpers/demo';

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

  it('answers through the agent call with a reply and a thread; memory counts turns; kept across a restart', async () => {
    demo = await startDemo(dir, port);
    const a1 = await post(demo.base, { userId: 'u1', chatId: 'c1', text: 'hi' });
    assert.equal(a1.status, 200, JSON.stringify(a1.body));
    assert.match(a1.body.text, /You said: "hi"/);
    assert.match(a1.body.text, /turn 1\b/, 'the scripted model saw one user turn in the history');
    assert.match(a1.body.thread.id, /^th_/);
    assert.equal(a1.body.thread.turn, 1);
    const a2 = await post(demo.base, { userId: 'u1', chatId: 'c1', text: 'again' });
    assert.equal(a2.body.thread.id, a1.body.thread.id);
    assert.match(a2.body.text, /turn 2\b/);
    const b1 = await post(demo.base, { userId: 'u2', chatId: 'c2', text: 'hello' });
    assert.notEqual(b1.body.thread.id, a1.body.thread.id);
    assert.match(b1.body.text, /turn 1\b/, "u2's thread has its own memory");

    const bad = await post(demo.base, { userId: 'u1' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /text/);

    await stopDemo(demo);
    demo = await startDemo(dir, port);
    const a3 = await post(demo.base, { userId: 'u1', chatId: 'c1', text: 'back' });
    assert.equal(a3.body.thread.id, a1.body.thread.id, 'same thread after a restart');
    assert.match(a3.body.text, /turn 3\b/, 'the memory survived the restart');

    const reset = await post(demo.base, { userId: 'u1', chatId: 'c1', text: '/reset' });
    assert.equal(reset.status, 200);
    assert.equal(reset.body.text, 'Started a new conversation.');
    const a4 = await post(demo.base, { userId: 'u1', chatId: 'c1', text: 'fresh start' });
    assert.notEqual(a4.body.thread.id, a1.body.thread.id);
    assert.match(a4.body.text, /turn 1\b/, 'after /reset u1 is at turn 1 again');
    assert.deepEqual(problemLines(demo), [], 'the demo runs with no errors or warnings');
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
    const gw = DEMO_GATEWAY_ID;
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

  it('hands off when the user asks for a person; two adminAuth operators cannot take the thread at once', async () => {
    const bcrypt = require('bcryptjs'); // eslint-disable-line @typescript-eslint/no-require-imports
    const hash = bcrypt.hashSync('secret-pass', 8);
    const settings = path.join(dir, 'operators-settings.js');
    fs.writeFileSync(
      settings,
      `module.exports = { adminAuth: { type: 'credentials', users: [
        { username: 'alice', password: ${JSON.stringify(hash)}, permissions: '*' },
        { username: 'bob', password: ${JSON.stringify(hash)}, permissions: '*' } ] } };`,
    );
    demo = await startDemo(dir, port, settings);
    const token = async (username: string) => {
      const res = await fetch(`${demo!.base}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: '*', username, password: 'secret-pass' }),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const [alice, bob] = [await token('alice'), await token('bob')];
    const api = (t: string, route: string, method = 'GET') =>
      fetch(`${demo!.base}/chatgate/gateways/${DEMO_GATEWAY_ID}${route}`, { method, headers: { authorization: `Bearer ${t}` } });

    const asked = await post(demo.base, { userId: 'u7', chatId: 'c7', text: 'I want a human, please' });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    assert.equal(asked.body.text, 'Of course, I am asking a person to take over.\n\nA person will answer you here shortly.', 'the marker never reaches the user');
    const thread = asked.body.thread.id as string;
    const desk = (await (await api(alice, '/operator')).json()) as { handoffs: Array<{ threadId: string; source: string; reason?: string }> };
    assert.deepEqual(desk.handoffs.map((f) => [f.threadId, f.source, f.reason]), [[thread, 'agent', 'the user asked for a person']]);

    const taken = await api(alice, `/threads/${encodeURIComponent(thread)}/takeover`, 'POST');
    assert.equal(taken.status, 200);
    assert.equal(((await taken.json()) as { takeover: { operator: string } }).takeover.operator, 'alice', 'the adminAuth user is the operator');
    const refused = await api(bob, `/threads/${encodeURIComponent(thread)}/takeover`, 'POST');
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { operator: string }).operator, 'alice');
    assert.equal((await api(bob, `/threads/${encodeURIComponent(thread)}/handback`, 'POST')).status, 409);
    assert.equal((await api(alice, `/threads/${encodeURIComponent(thread)}/handback`, 'POST')).status, 200);
    const again = await post(demo.base, { userId: 'u7', chatId: 'c7', text: 'hi again' });
    assert.match(again.body.text, /You said: "hi again"/, 'back with the agent');
    assert.match(demo.log.join(''), new RegExp(`takeover of thread ${thread} .*by alice`), 'the takeover is in the log');
  });
});
