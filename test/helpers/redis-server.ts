/**
 * A real redis-server for the tests of the shared (Redis) state: a throwaway server on a free
 * loopback port in its own temp directory, with an append-only file fsynced on every write, so a
 * test can kill it (SIGKILL, as a crash) and start it again on the same port with its data.
 * Every server started here is killed when the test process exits, whatever ended the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Ends the server (SIGTERM) and removes its directory: the last call on it. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: the directory and the append-only file stay for `restart()`. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (stopping it gently first if it runs). */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

/** Servers still running, killed on exit so a failed or interrupted run never leaves one behind. */
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

function findBinary(): string {
  const named = process.env.REDIS_SERVER;
  if (named) return named;
  const dirsOnPath = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirsOnPath, '/usr/bin', '/usr/local/bin']) {
    const candidate = path.join(dir, 'redis-server');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error('redis-server was not found: install Debian\'s redis-server (apt-get install redis-server) or set REDIS_SERVER to its path');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a server on the port answers PING with PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function launch(binary: string, port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no'];
  const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  child.once('exit', () => live.delete(child));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError) {
      live.delete(child);
      const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(missing ? `${binary} could not be started: install Debian's redis-server` : `redis-server failed to start: ${spawnError.message}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited before answering PING:\n${output}`);
    if (await ping(port)) return child;
    await new Promise((r) => setTimeout(r, 30));
  }
  child.kill('SIGKILL');
  await exited(child);
  throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms:\n${output}`);
}

export async function startRedisServer(): Promise<RedisServer> {
  hookExit();
  const binary = findBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-redis-'));
  dirs.add(dir);
  let child: ChildProcess | undefined;
  let port = 0;
  // A free port can be taken between the probe and the server's bind: try a few.
  for (let attempt = 0; !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(binary, port, dir);
    } catch (err) {
      if (attempt >= 2 || !/Address already in use/i.test(String(err))) {
        fs.rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
        throw err;
      }
    }
  }
  let current: ChildProcess | undefined = child;

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const c = current;
    current = undefined;
    if (!c) return;
    c.kill(signal);
    await exited(c);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await end('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGTERM');
      current = await launch(binary, port, dir);
    },
  };
}
