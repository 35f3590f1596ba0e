/**
 * Real Node-RED processes for the multi-process tests: a user directory with a flow and its
 * credentials in plain JSON (the extra settings turn credential encryption off, so a test can
 * write a Redis URL or a bot token into flows_cred.json), started with scripts/start.js on a free
 * port, its output kept for the failure message, and stopped, killed (SIGKILL) or started again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort } from './demo';
import { nodeRedReady } from './node-red-ready';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareUserDir, startNodeRed } = require('../../scripts/start.js') as {
  prepareUserDir: (dir: string) => string;
  startNodeRed: (dir: string, o: { port: number; stdio: unknown; env?: NodeJS.ProcessEnv }) => ChildProcess;
};

const START_TIMEOUT_MS = 30_000;

export interface NodeRedProcess {
  readonly name: string;
  readonly base: string;
  /** Everything the process wrote, across its starts. */
  readonly log: string[];
  readonly running: boolean;
  /** Starts (again) on the same port and directory; resolves once the flows have started. */
  start(): Promise<void>;
  /** SIGKILL: no close handler runs, no lease is released. */
  kill(): Promise<void>;
  /** SIGTERM, as an operator stops it. */
  stop(): Promise<void>;
}

/** Writes `dir` as a user directory holding `flow`, plain-JSON `credentials`, and this package. */
export function writeUserDir(dir: string, flow: object[], credentials: Record<string, Record<string, string>>): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flow, null, 2));
  fs.writeFileSync(path.join(dir, 'flows_cred.json'), JSON.stringify(credentials, null, 2));
  fs.writeFileSync(path.join(dir, 'extra-settings.js'), 'module.exports = { credentialSecret: false };\n');
  prepareUserDir(dir);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function nodeRedProcess(name: string, dir: string, env: NodeJS.ProcessEnv = {}): Promise<NodeRedProcess> {
  const port = await freePort();
  const log: string[] = [];
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const from = log.length;
    const c = startNodeRed(dir, {
      port,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CHATGATE_EXTRA_SETTINGS: path.join(dir, 'extra-settings.js'), ...env },
    });
    child = c;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${log.slice(from).join('')}`)), START_TIMEOUT_MS);
      const onData = (d: Buffer) => {
        log.push(d.toString());
        if (nodeRedReady(log.slice(from).join(''))) {
          clearTimeout(timer);
          resolve();
        }
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}):\n${log.slice(from).join('')}`));
      });
    });
  };

  const end = async (signal: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c) return;
    c.kill(signal);
    await exited(c);
  };

  return {
    name,
    base: `http://127.0.0.1:${port}`,
    log,
    get running() {
      return child !== undefined;
    },
    start,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}
