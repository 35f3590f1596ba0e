/**
 * A real Node-RED process on the embedded store, killed with SIGKILL in the middle of a burst of
 * messages and started again: every message accepted more than a second before the kill must still
 * have its thread and its de-duplication key (a platform's retry is answered "duplicate", not
 * answered twice); what the last second lost is counted and printed.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../helpers/demo';
import { nodeRedReady } from '../helpers/node-red-ready';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareUserDir, startNodeRed } = require('../../scripts/start.js') as {
  prepareUserDir: (dir: string) => string;
  startNodeRed: (dir: string, o: { port: number; stdio: unknown; env?: NodeJS.ProcessEnv }) => ChildProcess;
};

const GW = 'c9a7cc0000000001';
const FLOW = [
  { id: 'c9a7cc0000000000', type: 'tab', label: 'kill -9' },
  { id: GW, type: 'chatgate-gateway', name: 'gw', strategy: 'per-conversation', sessionMinutes: 1440, listenerTtlMinutes: 30, dedupeMinutes: 20, resetCommands: '/new', store: 'embedded' },
  { id: 'c9a7cc0000000002', type: 'chatgate-webhook-in', z: 'c9a7cc0000000000', gateway: GW, path: '/kill/in', mode: 'async', timeout: 30, callbackUrl: '', auth: 'none', maxBytes: 65536, wires: [['c9a7cc0000000003']] },
  { id: 'c9a7cc0000000003', type: 'chatgate-thread-resolver', z: 'c9a7cc0000000000', gateway: GW, strategy: '', sessionMinutes: '', passReset: false, wires: [[], []] },
];

async function start(dir: string, port: number): Promise<{ child: ChildProcess; log: string[] }> {
  const log: string[] = [];
  const child = startNodeRed(dir, { port, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Node-RED did not start:\n${log.join('')}`)), 30_000);
    const onData = (d: Buffer) => {
      log.push(d.toString());
      if (nodeRedReady(log.join(''))) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Node-RED exited with ${code}:\n${log.join('')}`));
    });
  });
  return { child, log };
}

async function send(base: string, i: number): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const res = await fetch(`${base}/kill/in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: `u${i}`, chatId: `c${i}`, messageId: `m${i}`, text: `message ${i}` }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch {
    return undefined; // the process was killed under this request
  }
}

describe('kill -9 of a real Node-RED process mid-burst (embedded store)', function () {
  this.timeout(120_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-kill9-'));
  let child: ChildProcess | undefined;
  after(() => {
    child?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every thread and de-duplication key accepted more than a second before the kill', async () => {
    fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(FLOW));
    prepareUserDir(dir);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    ({ child } = await start(dir, port));

    // About 200 messages a second from as many chats, until the kill.
    const accepted = new Map<number, number>();
    const inFlight: Array<Promise<unknown>> = [];
    const started = Date.now();
    let i = 0;
    while (Date.now() - started < 3000) {
      for (let k = 0; k < 4; k++) {
        const n = i++;
        inFlight.push(send(base, n).then((r) => r?.status === 202 && accepted.set(n, Date.now())));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await Promise.all(inFlight);
    await new Promise((r) => child!.once('exit', r));
    assert.ok(accepted.size > 300, `messages accepted before the kill: ${accepted.size}`);

    ({ child } = await start(dir, port));
    const threads = new Set<string>();
    for (let offset = 0; ; offset += 500) {
      const page = (await (await fetch(`${base}/chatgate/gateways/${GW}/threads?limit=500&offset=${offset}`)).json()) as { total: number; items: Array<{ chatJid: string }> };
      for (const t of page.items) threads.add(t.chatJid);
      if (offset + 500 >= page.total) break;
    }
    const old = [...accepted].filter(([, at]) => killedAt - at > 1000).map(([n]) => n);
    const recent = [...accepted].filter(([, at]) => killedAt - at <= 1000).map(([n]) => n);
    const lostOld = old.filter((n) => !threads.has(`webhook:c${n}`));
    const lostRecent = recent.filter((n) => !threads.has(`webhook:c${n}`));
    assert.deepEqual(lostOld, [], 'no thread accepted more than a second before the kill is lost');
    // A platform retrying an old message after the restart is told it is a duplicate.
    const sample = old.filter((_, k) => k % 25 === 0);
    for (const n of sample) {
      const again = await send(base, n);
      assert.equal(again?.status, 200, `retry of m${n}`);
      assert.equal(again?.body.duplicate, true, `m${n} answered once, not twice`);
    }
    // eslint-disable-next-line no-console
    console.log(`      kill -9 after ${accepted.size} accepted: ${lostRecent.length} of the ${recent.length} accepted in the last second lost, 0 of ${old.length} before`);
  });
});
