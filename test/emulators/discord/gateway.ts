/**
 * Discord's gateway over WebSocket (JSON text frames, no compression), as discord.js 14 speaks it:
 * op 10 HELLO, op 2 IDENTIFY (token, intents, privileged intents the portal allows), op 0 READY
 * then GUILD_CREATE per guild (only with the GUILDS intent), op 1 heartbeats answered with op 11,
 * op 6 RESUME at READY's resume_gateway_url with a replay and RESUMED, op 7 RECONNECT, op 9
 * INVALID_SESSION, and Discord's close codes (4001-4014). Dispatches are fanned out to every
 * identified session whose intents want them, each with its own `s`; a session whose socket is
 * gone keeps its dispatches for the RESUME replay.
 */
import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { DiscordState } from './state';
import { ALL_INTENTS, Intents, PRIVILEGED_INTENTS } from './types';
import type { CloseRecord, DispatchRecord, GatewayStats, IdentifyRecord, Json, ResumeRecord, SessionInfo } from './types';

export const CLOSE_REASONS: Record<number, string> = {
  4000: 'Unknown error.',
  4001: 'Unknown opcode.',
  4002: 'Error while decoding payload.',
  4003: 'Not authenticated.',
  4004: 'Authentication failed.',
  4005: 'Already authenticated.',
  4007: 'Invalid seq.',
  4008: 'Rate limited.',
  4009: 'Session timed out.',
  4010: 'Invalid shard.',
  4011: 'Sharding required.',
  4012: 'Invalid API version.',
  4013: 'Invalid intent(s).',
  4014: 'Disallowed intent(s).',
};

/** Dispatches the replay never sends again (the client rebuilt its state from them). */
const NOT_REPLAYED_AGAIN = new Set(['READY', 'RESUMED', 'GUILD_CREATE']);
const LOG_LIMIT = 2000;
const OVERLAP_LIMIT = 50;

export interface GatewayOptions {
  heartbeatIntervalMs: number;
  privilegedIntents: number;
  /** Whether a token may IDENTIFY/RESUME now. */
  tokenOk(token: unknown): boolean;
  replayOnResume(): boolean;
  applicationFlags(): number;
}

interface Conn {
  id: number;
  ws: WebSocket;
  path: string;
  session?: Session;
  zombie: boolean;
  closedByServer: boolean;
  sends: number;
  sendWindowStart: number;
}

interface Session {
  id: string;
  seq: number;
  intents: number;
  log: Array<{ s: number; t: string; d: Json }>;
  conn?: Conn;
  /** The `s` values a socket of this session carried, since it (re)connected. */
  delivered: number[];
  resumable: boolean;
}

/** Which intent a dispatch needs (undefined: always sent). */
function intentFor(t: string, d: Json): number | undefined {
  const inGuild = typeof d.guild_id === 'string';
  if (t === 'GUILD_CREATE' || t === 'GUILD_UPDATE' || t === 'GUILD_DELETE' || t.startsWith('CHANNEL_') || t.startsWith('THREAD_') || t.startsWith('GUILD_ROLE_')) return Intents.Guilds;
  if (t === 'MESSAGE_CREATE' || t === 'MESSAGE_UPDATE' || t === 'MESSAGE_DELETE' || t === 'MESSAGE_DELETE_BULK') return inGuild ? Intents.GuildMessages : Intents.DirectMessages;
  if (t.startsWith('MESSAGE_REACTION_')) return inGuild ? Intents.GuildMessageReactions : Intents.DirectMessageReactions;
  if (t === 'TYPING_START') return inGuild ? Intents.GuildMessageTyping : Intents.DirectMessageTyping;
  if (t.startsWith('GUILD_MEMBER_') && t !== 'GUILD_MEMBERS_CHUNK') return Intents.GuildMembers;
  if (t === 'PRESENCE_UPDATE') return Intents.GuildPresences;
  return undefined;
}

export function createGateway(state: DiscordState, opts: GatewayOptions) {
  const wss = new WebSocketServer({ noServer: true, clientTracking: false });
  const conns = new Map<number, Conn>();
  const sessions = new Map<string, Session>();
  const identifies: IdentifyRecord[] = [];
  const resumes: ResumeRecord[] = [];
  const closes: CloseRecord[] = [];
  const dispatches: DispatchRecord[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const stats: GatewayStats = {
    openSockets: 0,
    maxOpenSockets: 0,
    connections: 0,
    identifies: 0,
    resumes: 0,
    heartbeats: 0,
    heartbeatAcks: 0,
    dispatched: 0,
    replayed: 0,
    invalidRequests: 0,
    rateLimited: 0,
    restCalls: 0,
  };
  let nextConnId = 1;

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };

  const wsBase = (): string => state.baseUrl.replace(/^http/, 'ws');
  const gatewayUrl = (): string => `${wsBase()}/gateway`;
  const resumeUrl = (): string => `${wsBase()}/resume`;

  function handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/gateway' && url.pathname !== '/resume') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws, url));
  }

  function counts(): void {
    stats.openSockets = conns.size;
    stats.maxOpenSockets = Math.max(stats.maxOpenSockets, conns.size);
  }

  function send(c: Conn, frame: Json): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(frame));
  }

  function closeConn(c: Conn, code: number, reason?: string): void {
    if (c.closedByServer) return;
    c.closedByServer = true;
    const text = reason ?? CLOSE_REASONS[code] ?? '';
    closes.push({ connection: c.id, ...(c.session ? { sessionId: c.session.id } : {}), code, reason: text, by: 'server', at: Date.now() });
    const canFrame = code === 1000 || (code >= 3000 && code <= 4999);
    if (!canFrame) c.ws.terminate();
    else c.ws.close(code, text);
  }

  function attach(ws: WebSocket, url: URL): void {
    const c: Conn = { id: nextConnId++, ws, path: url.pathname, zombie: false, closedByServer: false, sends: 0, sendWindowStart: Date.now() };
    conns.set(c.id, c);
    stats.connections += 1;
    counts();
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => {
      conns.delete(c.id);
      counts();
      if (!c.closedByServer) closes.push({ connection: c.id, ...(c.session ? { sessionId: c.session.id } : {}), code, reason: reason.toString(), by: 'client', at: Date.now() });
      const s = c.session;
      if (s && s.conn === c) {
        s.conn = undefined;
        // A clean close (1000/1001) from the client ends the session; anything else may resume.
        if (!c.closedByServer && (code === 1000 || code === 1001)) s.resumable = false;
      }
    });
    if (url.searchParams.get('v') !== '10') return closeConn(c, 4012);
    const encoding = url.searchParams.get('encoding') ?? 'json';
    if (encoding !== 'json') return closeConn(c, 4002, 'This emulator speaks encoding=json only.');
    ws.on('message', (data, isBinary) => onFrame(c, data.toString(), isBinary));
    send(c, { op: 10, d: { heartbeat_interval: opts.heartbeatIntervalMs, _trace: ['["gateway-emu",{"micros":0.0}]'] }, s: null, t: null });
  }

  function onFrame(c: Conn, text: string, isBinary: boolean): void {
    if (c.closedByServer) return;
    const now = Date.now();
    if (now - c.sendWindowStart > 60_000) {
      c.sendWindowStart = now;
      c.sends = 0;
    }
    c.sends += 1;
    if (c.sends > 120) return closeConn(c, 4008);
    let frame: { op?: unknown; d?: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
      if (isBinary || !frame || typeof frame !== 'object') throw new Error('not a payload');
    } catch {
      return closeConn(c, 4002);
    }
    switch (frame.op) {
      case 1:
        stats.heartbeats += 1;
        if (!c.zombie) {
          stats.heartbeatAcks += 1;
          send(c, { op: 11 });
        }
        return;
      case 2:
        return identify(c, (frame.d ?? {}) as Json);
      case 6:
        return resume(c, (frame.d ?? {}) as Json);
      case 3:
      case 4:
        if (!c.session) return closeConn(c, 4003);
        return;
      case 8:
        if (!c.session) return closeConn(c, 4003);
        return memberChunk(c, (frame.d ?? {}) as Json);
      default:
        return closeConn(c, 4001);
    }
  }

  function identify(c: Conn, d: Json): void {
    const intents = Number(d.intents ?? 0);
    const rec: IdentifyRecord = { intents, tokenOk: opts.tokenOk(d.token), properties: d.properties, shard: d.shard, at: Date.now() };
    identifies.push(rec);
    stats.identifies += 1;
    if (c.session) {
      rec.refused = 4005;
      return closeConn(c, 4005);
    }
    if (!rec.tokenOk) {
      rec.refused = 4004;
      return closeConn(c, 4004);
    }
    if (!Number.isInteger(intents) || intents < 0 || (intents & ~ALL_INTENTS) !== 0) {
      rec.refused = 4013;
      return closeConn(c, 4013);
    }
    if ((intents & PRIVILEGED_INTENTS & ~opts.privilegedIntents) !== 0) {
      rec.refused = 4014;
      return closeConn(c, 4014);
    }
    const shard = d.shard;
    if (Array.isArray(shard) && (shard[0] !== 0 || shard[1] !== 1)) {
      rec.refused = 4010;
      return closeConn(c, 4010);
    }
    const session: Session = { id: randomBytes(16).toString('hex'), seq: 0, intents, log: [], conn: c, delivered: [], resumable: true };
    rec.sessionId = session.id;
    sessions.set(session.id, session);
    c.session = session;
    const guilds = [...state.guilds.keys()];
    sendTo(session, 'READY', {
      v: 10,
      user_settings: {},
      user: { ...state.apiUser(state.botUser.id), verified: true, mfa_enabled: false, email: null, flags: 0 },
      guilds: guilds.map((id) => ({ id, unavailable: true })),
      guild_join_requests: [],
      relationships: [],
      private_channels: [],
      presences: [],
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: resumeUrl(),
      shard: [0, 1],
      application: { id: state.applicationId, flags: opts.applicationFlags() },
      auth: {},
      geo_ordered_rtc_regions: ['frankfurt', 'rotterdam', 'milan', 'madrid', 'stockholm'],
      _trace: ['["gateway-emu",{"micros":0.0}]'],
    });
    if (intents & Intents.Guilds) {
      for (const id of guilds) sendTo(session, 'GUILD_CREATE', state.apiGuildCreate(id, { withMembers: (intents & Intents.GuildMembers) !== 0, withPresences: (intents & Intents.GuildPresences) !== 0 }));
    }
  }

  function resume(c: Conn, d: Json): void {
    const session = sessions.get(String(d.session_id ?? ''));
    const clientSeq = typeof d.seq === 'number' ? d.seq : null;
    const rec: ResumeRecord = { sessionId: String(d.session_id ?? ''), clientSeq, ok: false, path: c.path, replayed: [], at: Date.now() };
    resumes.push(rec);
    stats.resumes += 1;
    if (!opts.tokenOk(d.token)) return closeConn(c, 4004);
    if (!session || !session.resumable || (c.session && c.session !== session)) {
      // Discord answers a RESUME it cannot honour with op 9 d:false; the client identifies anew.
      send(c, { op: 9, d: false, s: null, t: null });
      return;
    }
    if (session.conn && session.conn !== c) {
      const old = session.conn;
      old.session = undefined;
      closeConn(old, 4000, 'Session resumed elsewhere.');
    }
    session.conn = c;
    c.session = session;
    const seq = clientSeq ?? 0;
    const overlap = opts.replayOnResume() ? new Set(session.delivered.slice(-OVERLAP_LIMIT)) : new Set<number>();
    session.delivered = [];
    const replay = session.log.filter((e) => (e.s > seq && e.t !== 'READY') || (overlap.has(e.s) && e.s <= seq && !NOT_REPLAYED_AGAIN.has(e.t)));
    for (const e of replay) {
      rec.replayed.push({ s: e.s, t: e.t, ...(typeof e.d.id === 'string' ? { id: e.d.id } : {}), alreadyDelivered: e.s <= seq });
      send(c, { op: 0, t: e.t, s: e.s, d: e.d });
      session.delivered.push(e.s);
      stats.dispatched += 1;
      stats.replayed += 1;
    }
    rec.ok = true;
    sendTo(session, 'RESUMED', { _trace: ['["gateway-emu",{"micros":0.0}]'] });
  }

  function memberChunk(c: Conn, d: Json): void {
    const g = state.guilds.get(String(d.guild_id ?? ''));
    if (!g || !c.session) return;
    const ids = Array.isArray(d.user_ids) ? (d.user_ids as string[]) : undefined;
    const query = typeof d.query === 'string' ? d.query.toLowerCase() : '';
    const members = [...g.members.keys()].filter((id) => (ids ? ids.includes(id) : (state.users.get(id)?.username ?? '').toLowerCase().startsWith(query)));
    sendTo(c.session, 'GUILD_MEMBERS_CHUNK', { guild_id: g.id, members: members.map((id) => state.apiMember(g.id, id, true)), chunk_index: 0, chunk_count: 1, not_found: [], ...(d.nonce !== undefined ? { nonce: d.nonce } : {}) });
  }

  /** What a session receives of a message without the MESSAGE_CONTENT intent. */
  function shape(session: Session, t: string, d: Json): Json {
    if ((t !== 'MESSAGE_CREATE' && t !== 'MESSAGE_UPDATE') || session.intents & Intents.MessageContent) return d;
    if (typeof d.guild_id !== 'string') return d;
    const author = (d.author ?? {}) as Json;
    const mentions = Array.isArray(d.mentions) ? (d.mentions as Json[]) : [];
    if (author.id === state.botUser.id || mentions.some((m) => m.id === state.botUser.id)) return d;
    const out: Json = { ...d, content: '', embeds: [], attachments: [], components: [] };
    delete out.poll;
    return out;
  }

  function sendTo(session: Session, t: string, d: Json): { s: number; sent: boolean } {
    const s = ++session.seq;
    const payload = shape(session, t, d);
    session.log.push({ s, t, d: payload });
    if (session.log.length > LOG_LIMIT) session.log.splice(0, session.log.length - LOG_LIMIT);
    const c = session.conn;
    if (!c || c.zombie || c.closedByServer || c.ws.readyState !== WebSocket.OPEN) return { s, sent: false };
    send(c, { op: 0, t, s, d: payload });
    session.delivered.push(s);
    stats.dispatched += 1;
    return { s, sent: true };
  }

  /** Fans a dispatch out to every live (connected or resumable) session that its intents allow. */
  function dispatch(t: string, d: Json): DispatchRecord {
    const rec: DispatchRecord = { t, d, sessions: [], filtered: [], at: Date.now() };
    const need = intentFor(t, d);
    for (const s of sessions.values()) {
      if (!s.resumable) continue;
      if (need !== undefined && (s.intents & need) === 0) {
        rec.filtered.push(s.id);
        continue;
      }
      rec.sessions.push({ sessionId: s.id, ...sendTo(s, t, d) });
    }
    dispatches.push(rec);
    return rec;
  }

  function closeAll(code = 4000, o: { reason?: string; invalidate?: boolean } = {}): void {
    for (const c of [...conns.values()]) {
      if (c.session && (o.invalidate || code === 1000 || code === 1001)) c.session.resumable = false;
      closeConn(c, code, o.reason);
    }
  }

  function zombie(): void {
    for (const c of conns.values()) c.zombie = true;
  }

  function reconnect(): void {
    for (const c of conns.values()) send(c, { op: 7, d: null, s: null, t: null });
  }

  function invalidSession(resumable = false): void {
    for (const c of conns.values()) {
      if (!resumable && c.session) c.session.resumable = false;
      send(c, { op: 9, d: resumable, s: null, t: null });
    }
  }

  function sessionList(): SessionInfo[] {
    return [...sessions.values()].map((s) => ({ id: s.id, seq: s.seq, intents: s.intents, connected: !!s.conn, resumable: s.resumable, zombie: !!s.conn?.zombie }));
  }

  function waitForSockets(pred: (s: GatewayStats) => boolean, ms = 3000): Promise<GatewayStats> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const check = (): void => {
        if (pred(stats)) return resolve({ ...stats });
        if (Date.now() - started > ms) return reject(new Error(`gateway condition not met within ${ms} ms (open ${stats.openSockets}, connections ${stats.connections}, identifies ${stats.identifies}, resumes ${stats.resumes})`));
        later(10, check);
      };
      check();
    });
  }

  function close(): void {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const c of conns.values()) c.ws.terminate();
    wss.close();
  }

  return {
    gatewayUrl,
    resumeUrl,
    handleUpgrade,
    dispatch,
    closeAll,
    zombie,
    reconnect,
    invalidSession,
    sessions: sessionList,
    waitForSockets,
    stats,
    identifies,
    resumes,
    closes,
    dispatches,
    /** Stops zombies on open sockets (inject.reset). */
    unzombie: () => {
      for (const c of conns.values()) c.zombie = false;
    },
    close,
  };
}

export type Gateway = ReturnType<typeof createGateway>;
