/**
 * Socket Mode as Slack runs it: apps.connections.open hands out a single-use ws:// URL; a socket
 * that connects gets `hello`; each envelope goes to ONE open socket (round robin, so a leaked
 * socket swallows a share of the events, which is what a ghost-socket test has to see); an
 * events_api envelope not acked in time is delivered again with a new envelope_id,
 * `retry_attempt` + 1 and `retry_reason: 'timeout'`, up to three times. Pings are answered
 * (the client drops a socket whose pongs stop) unless the socket was turned into a zombie.
 */
import { randomUUID } from 'node:crypto';
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { SlackState } from './state';
import type { Delivery, DeliveryAttempt, EnvelopeType, Json, SocketAck, SocketStats } from './types';

export interface SocketModeOptions {
  ackTimeoutMs: number;
  maxRedeliveries: number;
  pingIntervalMs: number;
}

interface OpenSocket {
  id: number;
  ws: WebSocket;
  zombie: boolean;
  openedAt: number;
}

interface DeliveryState {
  type: EnvelopeType;
  payload: Json;
  attempts: DeliveryAttempt[];
  acked?: SocketAck;
  gaveUp: boolean;
  timer?: NodeJS.Timeout;
  waiters: Array<{ resolve: (a: SocketAck) => void; reject: (e: Error) => void }>;
}

export interface SocketInfo {
  id: number;
  openedAt: number;
  zombie: boolean;
}

export function createSocketMode(state: SlackState, opts: SocketModeOptions, onAck: (d: DeliveryState, ack: SocketAck) => void) {
  const wss = new WebSocketServer({ noServer: true, autoPong: false, clientTracking: false });
  const open = new Map<number, OpenSocket>();
  const tickets = new Set<string>();
  const byEnvelope = new Map<string, DeliveryState>();
  const deliveries: Delivery[] = [];
  const acks: SocketAck[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const stats: SocketStats = { openSockets: 0, maxOpenSockets: 0, connections: 0, urlsIssued: 0 };
  let nextSocketId = 1;
  let rr = 0;
  let ignoreAcks = 0;
  const helloDelays: number[] = [];
  let pinger: NodeJS.Timeout | undefined;

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };

  if (opts.pingIntervalMs > 0) {
    pinger = setInterval(() => {
      for (const s of open.values()) if (!s.zombie && s.ws.readyState === WebSocket.OPEN) s.ws.ping(Buffer.from(`ping-${Date.now()}`));
    }, opts.pingIntervalMs);
    pinger.unref();
  }

  /** apps.connections.open's URL: `ws://127.0.0.1:PORT/socket?ticket=...&app_id=...`, good for one connection. */
  function issueUrl(): string {
    const ticket = randomUUID();
    tickets.add(ticket);
    stats.urlsIssued += 1;
    return `${state.baseUrl.replace(/^http/, 'ws')}/socket?ticket=${ticket}&app_id=${state.id.appId}`;
  }

  function handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/socket' || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws));
  }

  function updateCounts(): void {
    stats.openSockets = open.size;
    stats.maxOpenSockets = Math.max(stats.maxOpenSockets, open.size);
  }

  function attach(ws: WebSocket): void {
    const s: OpenSocket = { id: nextSocketId++, ws, zombie: false, openedAt: Date.now() };
    open.set(s.id, s);
    stats.connections += 1;
    updateCounts();
    ws.on('ping', (data) => {
      if (!s.zombie && ws.readyState === WebSocket.OPEN) ws.pong(data);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary || s.zombie) return;
      let frame: { envelope_id?: unknown; payload?: unknown };
      try {
        frame = JSON.parse(data.toString()) as typeof frame;
      } catch {
        return;
      }
      if (typeof frame.envelope_id !== 'string') return;
      const ack: SocketAck = { envelope_id: frame.envelope_id, ...(frame.payload !== undefined ? { payload: frame.payload } : {}), socket: s.id, at: Date.now() };
      acks.push(ack);
      if (ignoreAcks > 0) {
        ignoreAcks -= 1;
        return;
      }
      const d = byEnvelope.get(frame.envelope_id);
      if (!d) return;
      const attempt = d.attempts.find((a) => a.envelope_id === frame.envelope_id);
      if (attempt && !attempt.ack) attempt.ack = ack;
      if (d.acked) return;
      d.acked = ack;
      if (d.timer) clearTimeout(d.timer);
      for (const w of d.waiters.splice(0)) w.resolve(ack);
      onAck(d, ack);
    });
    ws.on('close', () => {
      open.delete(s.id);
      updateCounts();
    });
    ws.on('error', () => undefined);
    const hello = (): void =>
      send(s, {
        type: 'hello',
        num_connections: open.size,
        debug_info: { host: `applink-emu-${s.id}`, build_number: 118, approximate_connection_time: 18060 },
        connection_info: { app_id: state.id.appId },
      });
    const delay = helloDelays.shift();
    if (delay === undefined) hello();
    else later(delay, hello);
  }

  function send(s: OpenSocket, frame: Json): void {
    if (s.zombie || s.ws.readyState !== WebSocket.OPEN) return;
    s.ws.send(JSON.stringify(frame));
  }

  function pickSocket(): OpenSocket | undefined {
    const list = [...open.values()].filter((s) => s.ws.readyState === WebSocket.OPEN);
    if (!list.length) return undefined;
    const s = list[rr % list.length];
    rr += 1;
    return s;
  }

  function attempt(d: DeliveryState): void {
    const n = d.attempts.length;
    const a: DeliveryAttempt = { envelope_id: randomUUID(), retry_attempt: n, retry_reason: n === 0 ? '' : 'timeout', at: Date.now() };
    const s = pickSocket();
    if (s) a.socket = s.id;
    d.attempts.push(a);
    byEnvelope.set(a.envelope_id, d);
    if (s) {
      const envelope: Json =
        d.type === 'events_api'
          ? { envelope_id: a.envelope_id, payload: d.payload, type: d.type, accepts_response_payload: false, retry_attempt: a.retry_attempt, retry_reason: a.retry_reason }
          : { envelope_id: a.envelope_id, payload: d.payload, type: d.type, accepts_response_payload: d.type === 'slash_commands' || d.payload.type === 'block_suggestion' || d.payload.type === 'view_submission' };
      send(s, envelope);
    }
    d.timer = later(opts.ackTimeoutMs, () => {
      if (d.acked) return;
      // Slack retries events; a command or an action that is not acked in time only fails for the user.
      if (d.type === 'events_api' && d.attempts.length <= opts.maxRedeliveries) return attempt(d);
      d.gaveUp = true;
      for (const w of d.waiters.splice(0)) w.reject(new Error(`envelope ${d.attempts[0].envelope_id} (${d.type}) was never acked (${d.attempts.length} deliveries)`));
    });
  }

  function deliver(type: EnvelopeType, payload: Json): Delivery {
    const d: DeliveryState = { type, payload, attempts: [], gaveUp: false, waiters: [] };
    const view: Delivery = {
      type,
      payload,
      attempts: d.attempts,
      get acked() {
        return d.acked;
      },
      get gaveUp() {
        return d.gaveUp;
      },
      waitAck(ms = 3000) {
        if (d.acked) return Promise.resolve(d.acked);
        if (d.gaveUp) return Promise.reject(new Error(`envelope ${d.attempts[0]?.envelope_id} (${d.type}) was never acked`));
        return new Promise<SocketAck>((resolve, reject) => {
          const w = {
            resolve: (a: SocketAck) => {
              clearTimeout(t);
              timers.delete(t);
              resolve(a);
            },
            reject: (e: Error) => {
              clearTimeout(t);
              timers.delete(t);
              reject(e);
            },
          };
          const t = later(ms, () => {
            d.waiters.splice(d.waiters.indexOf(w), 1);
            reject(new Error(`no ack within ${ms} ms for ${d.type} (${d.attempts.length} deliveries, open sockets ${open.size})`));
          });
          d.waiters.push(w);
        });
      },
    };
    deliveries.push(view);
    attempt(d);
    return view;
  }

  function disconnect(reason = 'refresh_requested'): void {
    for (const s of open.values()) send(s, { type: 'disconnect', reason, debug_info: { host: `applink-emu-${s.id}` } });
  }

  function dropSockets(): void {
    for (const s of open.values()) s.ws.terminate();
  }

  function zombieSockets(): void {
    for (const s of open.values()) s.zombie = true;
  }

  function sockets(): SocketInfo[] {
    return [...open.values()].map((s) => ({ id: s.id, openedAt: s.openedAt, zombie: s.zombie }));
  }

  /** Resolves once `pred(stats)` holds (checked now and on every socket change, polled every 10 ms). */
  function waitForSockets(pred: (s: SocketStats) => boolean, ms = 3000): Promise<SocketStats> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const check = (): void => {
        if (pred(stats)) return resolve({ ...stats });
        if (Date.now() - started > ms) return reject(new Error(`socket condition not met within ${ms} ms (open ${stats.openSockets}, connections ${stats.connections})`));
        later(10, check);
      };
      check();
    });
  }

  function close(): void {
    if (pinger) clearInterval(pinger);
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const d of byEnvelope.values()) {
      if (d.timer) clearTimeout(d.timer);
      for (const w of d.waiters.splice(0)) w.reject(new Error('emulator closed'));
    }
    for (const s of open.values()) s.ws.terminate();
    wss.close();
  }

  return {
    issueUrl,
    handleUpgrade,
    deliver,
    deliveries,
    acks,
    stats,
    disconnect,
    dropSockets,
    zombieSockets,
    ignoreAcks: (n = 1) => void (ignoreAcks += n),
    delayHello: (ms: number, n = 1) => void helloDelays.push(...Array<number>(n).fill(ms)),
    resetInjections: () => {
      ignoreAcks = 0;
      helloDelays.length = 0;
    },
    sockets,
    waitForSockets,
    close,
  };
}

export type DeliveryInternal = Parameters<Parameters<typeof createSocketMode>[2]>[0];
