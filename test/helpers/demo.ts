/**
 * Runs the demo exactly as `npm start` does (scripts/start.js: a real Node-RED process plus the
 * scripted demo model) on a free port and a temporary user directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { nodeRedReady } from './node-red-ready';

const ROOT = path.resolve(__dirname, '../..');
export const DEMO_GATEWAY_ID = 'c9a7000000000002';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Demo {
  child: ChildProcess;
  base: string;
  log: string[];
}

export async function startDemo(dir: string, port: number, extraSettings?: string): Promise<Demo> {
  const log: string[] = [];
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/start.js')], {
    env: { ...process.env, CHATGATE_DEMO_DIR: dir, PORT: String(port), CHATGATE_DEMO_AGENT_CHUNK_MS: '15', ...(extraSettings ? { CHATGATE_EXTRA_SETTINGS: extraSettings } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      log.push(d.toString());
      if (nodeRedReady(log.join(''))) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`demo exited with ${code}:\n${log.join('')}`)));
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      started,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`demo did not start:\n${log.join('')}`)), 30000);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { child, base: `http://127.0.0.1:${port}`, log };
}

export async function stopDemo(demo: Demo): Promise<void> {
  if (demo.child.exitCode !== null || demo.child.signalCode !== null) return;
  const exited = new Promise((r) => demo.child.once('exit', r));
  demo.child.kill('SIGINT');
  await exited;
}

export async function postJson(base: string, body: unknown, route = '/chatgate/demo') {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Error and warning lines in the demo's log, less the two Node-RED always prints for this setup. */
export function problemLines(demo: Demo): string[] {
  return demo.log
    .join('')
    .split('\n')
    .filter((l) => /\[(error|warn)\]/.test(l) && !/Projects disabled|Encrypted credentials/.test(l));
}
