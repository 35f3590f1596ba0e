/**
 * The Node-RED the soak runs against: a real Node-RED process (red.js, as an operator starts it)
 * on a temporary user directory holding this package, the flow and its credentials, with
 * test/soak/probe.cjs preloaded so the soak can ask for the heap after a full GC and for any
 * unhandled rejection. A redeploy goes through the admin API as the editor's Deploy button sends
 * it (POST /flows, Node-RED-Deployment-Type: full).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from '../helpers/demo';
import { writeUserDir } from '../helpers/node-red-process';

const START_TIMEOUT_MS = 60_000;
const SETTINGS = path.resolve(__dirname, '../../scripts/demo-settings.js');
const PROBE = path.join(__dirname, 'probe.cjs');
/** Log lines kept for a failure message (the whole log of a long run would be large). */
const LOG_TAIL = 400;

export interface Probe {
  heapUsed: number;
  rss: number;
  gc: boolean;
  unhandled: string[];
}

export interface SoakNodeRed {
  /** http://127.0.0.1:PORT (HTTP nodes and the admin API share the root). */
  readonly base: string;
  readonly dir: string;
  /** The last lines the process wrote. */
  logTail(): string;
  /** Warning and error lines seen so far, by text with the time stamp cut (counted). */
  readonly problems: Map<string, number>;
  /** Full GC in the process, then its heap; and the unhandled rejections it recorded. */
  probe(): Promise<Probe>;
  /** A full redeploy of the flow as deployed now; resolves once the new flows have started. */
  redeploy(): Promise<number>;
  readonly exited: boolean;
  stop(): Promise<void>;
}

export async function startNodeRed(dir: string, flow: object[], credentials: Record<string, Record<string, string>>, opts: { maxOldSpaceMb?: number } = {}): Promise<SoakNodeRed> {
  writeUserDir(dir, flow, credentials);
  // For a closer look at a run: SOAK_PACKAGE_DIR=<a copy of this package> runs that copy (with
  // its own dist/, which a build in the working tree does not change under the run).
  const pkg = process.env.SOAK_PACKAGE_DIR;
  if (pkg) {
    const link = path.join(dir, 'node_modules', '@chatgate', 'node-red');
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(path.resolve(pkg), link, 'dir');
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const tail: string[] = [];
  const problems = new Map<string, number>();
  let startedCount = 0;
  // The server listens (see test/helpers/node-red-ready.ts: the flows may start before it does).
  let listening = false;
  const startWaiters: Array<() => void> = [];
  let exited = false;
  let exitInfo = '';

  const child: ChildProcess = spawn(
    process.execPath,
    [`--max-old-space-size=${opts.maxOldSpaceMb ?? 1024}`, '--expose-gc', '--require', PROBE, require.resolve('node-red/red.js'), '--userDir', dir, '--port', String(port), '--settings', SETTINGS],
    {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, CHATGATE_EXTRA_SETTINGS: path.join(dir, 'extra-settings.js'), LOG_LEVEL: 'info' },
    },
  );
  let partial = '';
  // For a closer look at a run: SOAK_NODE_RED_LOG=<file> keeps everything the process wrote.
  const logFile = process.env.SOAK_NODE_RED_LOG;
  const onData = (d: Buffer) => {
    if (logFile) fs.appendFileSync(logFile, d);
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      tail.push(line);
      if (tail.length > LOG_TAIL) tail.shift();
      if (line.includes('Started flows')) startedCount++;
      if (line.includes('Server now running')) listening = true;
      if (line.includes('Started flows') || line.includes('Server now running')) startWaiters.splice(0).forEach((w) => w());
      if (/\[(error|warn)\]/.test(line) && !/Projects disabled|Encrypted credentials|credentialSecret/.test(line)) {
        const key = line.replace(/^\d+ \w+ \d{2}:\d{2}:\d{2} - /, '').slice(0, 300);
        problems.set(key, (problems.get(key) ?? 0) + 1);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.once('exit', (code, signal) => {
    exited = true;
    exitInfo = `exited (${code ?? signal})`;
    startWaiters.splice(0).forEach((w) => w());
  });

  const waitStarted = async (count: number, what: string): Promise<void> => {
    const end = Date.now() + START_TIMEOUT_MS;
    while (startedCount < count || !listening) {
      if (exited) throw new Error(`Node-RED ${exitInfo} before ${what}:\n${tail.join('\n')}`);
      if (Date.now() > end) throw new Error(`Node-RED did not finish ${what} within ${START_TIMEOUT_MS} ms:\n${tail.join('\n')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        startWaiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  };

  try {
    await waitStarted(1, 'starting');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  let probeSeq = 0;
  const probe = (): Promise<Probe> =>
    new Promise((resolve, reject) => {
      const id = ++probeSeq;
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        reject(new Error('the Node-RED process did not answer the probe'));
      }, 30_000);
      const onMessage = (m: unknown) => {
        const p = m as { type?: string; id?: number } & Probe;
        if (p?.type !== 'soak:probe' || p.id !== id) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve({ heapUsed: p.heapUsed, rss: p.rss, gc: p.gc, unhandled: p.unhandled });
      };
      child.on('message', onMessage);
      child.send({ type: 'soak:probe', id });
    });

  return {
    base,
    dir,
    problems,
    logTail: () => tail.join('\n'),
    probe,
    get exited() {
      return exited;
    },
    async redeploy() {
      const t0 = Date.now();
      const before = startedCount;
      const current = await fetch(`${base}/flows`, { headers: { 'Node-RED-API-Version': 'v1' } });
      if (!current.ok) throw new Error(`GET /flows answered ${current.status}`);
      const flows = await current.text();
      const res = await fetch(`${base}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Node-RED-API-Version': 'v1', 'Node-RED-Deployment-Type': 'full' },
        body: flows,
      });
      if (!res.ok) throw new Error(`POST /flows answered ${res.status}: ${await res.text()}`);
      await waitStarted(before + 1, 'the redeploy');
      return Date.now() - t0;
    },
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
