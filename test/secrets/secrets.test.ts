/**
 * One run of every chatgate node with a distinct secret in every credential field (and the
 * Telegram webhook's secret token derived from its bot token), against the emulators, through
 * successes and failures: a revoked or refused token, a wrong signature or verify token, an
 * unreachable agent, a wrong API key the model server echoes back, servers that echo the
 * Authorization header or the request path into their error bodies, a Redis URL with a wrong
 * password. Then no secret — nor its URL-encoded, base64 or hex form — may be found in what an
 * operator or a user can see: the Node-RED log, any node status, any message that left any node,
 * the flow export and the editor's credentials view, the admin API and sidebar answers, the HTTP
 * answers of every route the nodes serve, and the errors a Catch node saw.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import request from 'supertest';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { startSlackServer, type SlackServer } from '../emulators/slack-server';
import { startDiscordServer, type DiscordServer } from '../emulators/discord-server';
import { startWhatsAppServer, type WhatsAppServer } from '../emulators/whatsapp-server';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { startHttpAgentServer, type FakeHttpAgent } from '../emulators/http-agent-server';
import { startHostileServer, type HostileServer } from '../emulators/hostile-server';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { freePort } from '../helpers/demo';
import { captured, catalogTranslator, helper, nodeModules, setRedPatch, sleep, unload, useUserDir, type AnyRED, type ModuleName, type Translate } from '../helpers/red';
import { until } from '../helpers/telegram';
import { signBody } from '../../nodes/core/signature';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core/common/25-catch.js'));
// The code behind the admin API's GET /flows and GET /credentials/:type/:id.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const flowsApi = require(path.join(path.dirname(require.resolve('@node-red/runtime/package.json')), 'lib/api/flows.js')) as {
  init(runtime: unknown): void;
  getFlows(opts: object): Promise<unknown>;
  getNodeCredentials(opts: { type: string; id: string }): Promise<Record<string, unknown>>;
};

/** The test helper's runtime internals: its admin app, log, Node prototype and flows. */
const red = helper as AnyRED;
const hex = (n: number) => randomBytes(n).toString('hex');
const b64u = (n: number) => randomBytes(n).toString('base64url').replace(/[-_]/g, 'x');

type FlowNode = { id: string; type: string; [key: string]: unknown };

/**
 * The English an operator reads, every catalog of the package: the helper's RED._ returns bare
 * keys, which would hide the parameters (an error's text) that a status or an error carries. A key
 * no catalog has keeps its parameters, so nothing said is lost to the search.
 */
function operatorEnglish(): Translate {
  const catalogs = (['agent-call', 'allowlist-filter', 'discord', 'gateway', 'reply-router', 'slack', 'telegram', 'thread-resolver', 'webchat', 'webhook', 'whatsapp'] as const).map((folder) => catalogTranslator(folder, ''));
  return (key, params = {}) => {
    for (const t of catalogs) {
      const said = t(key, params);
      if (said !== key) return said;
    }
    return `${key} ${JSON.stringify(params)}`;
  };
}

/** `text` shown to someone, and where it was seen. */
interface Seen {
  where: string;
  text: string;
}

/** A secret and the forms in which a leak would still give it away. */
function forms(secret: string): string[] {
  const out = new Set<string>([secret, encodeURIComponent(secret), Buffer.from(secret).toString('hex')]);
  // base64 at each of the three alignments a secret can have inside a longer encoded text
  // (`Basic base64(user:password)`), without the characters the neighbours share.
  for (let pad = 0; pad < 3; pad++) {
    const b = Buffer.concat([Buffer.alloc(pad), Buffer.from(secret)]);
    for (const enc of [b.toString('base64'), b.toString('base64url')]) {
      const start = pad ? 4 : 0;
      const end = Math.floor(b.length / 3) * 4;
      if (end - start >= 8) out.add(enc.slice(start, end));
    }
  }
  return [...out];
}

/** A JSON text of anything a sink holds: Errors by message and stack, Buffers as text and base64. */
function text(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(value, function (this: unknown, _k, v: unknown) {
      if (v instanceof Error) return { name: v.name, message: v.message, stack: v.stack, cause: text((v as { cause?: unknown }).cause) };
      if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        const buf = Buffer.from((v as { data: number[] }).data);
        return { utf8: buf.toString('utf8'), base64: buf.toString('base64') };
      }
      if (typeof v === 'bigint') return String(v);
      if (typeof v === 'function') return `[function ${v.name}]`;
      if (v && typeof v === 'object') {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
      }
      return v;
    }) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Sends one raw command to a Redis server (the test helper's servers run without a password). */
function redisCommand(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.trim());
      }
    });
  });
}

/**
 * A server that refuses every call with an error in the shape of the platform it stands in for,
 * echoing what it was sent: the Authorization header and the request path (a Telegram token
 * travels in the path). The shapes are the ones each node reads and shows, so the echo reaches a
 * status or an error unless something removes it.
 */
async function startEchoServer(): Promise<{ url: string; asked: string[]; close(): Promise<void> }> {
  const asked: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '/';
      asked.push(path);
      const echoed = `${String(req.headers.authorization ?? '')} ${path}`;
      let status = 401;
      let body: unknown;
      if (/^\/bot[^/]+\//.test(path)) body = { ok: false, error_code: 401, description: `Unauthorized: ${echoed}` };
      else if (/^\/api\/v\d+\//.test(path)) [status, body] = [403, { message: `Missing Access: ${echoed}`, code: 50001 }];
      else if (path.startsWith('/api/')) [status, body] = [200, { ok: false, error: `invalid_auth ${echoed}` }];
      else if (/^\/v\d+\.\d+\//.test(path)) body = { error: { message: `Invalid OAuth access token: ${echoed}`, type: 'OAuthException', code: 190, fbtrace_id: 'echo' } };
      else body = { error: `refused ${echoed}` };
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    asked,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Where async webhook callbacks arrive, like a platform's receiver. */
async function startReceiver(): Promise<{ url: string; got: Array<{ body: string; signature?: string }>; close(): Promise<void> }> {
  const got: Array<{ body: string; signature?: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks).toString('utf8'), signature: req.headers['x-chatgate-signature'] as string | undefined });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}/callback`, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('no secret of any node shows anywhere (one run through successes and failures)', function () {
  this.timeout(90_000);

  let tgA: TelegramServer;
  let tgB: TelegramServer;
  let slA: SlackServer;
  let slB: SlackServer;
  let dc: DiscordServer;
  let wa: WhatsAppServer;
  let model: FakeOpenAIServer;
  let hmacAgent: FakeHttpAgent;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let hostile: HostileServer;
  let redis: RedisServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  /** node id -> credential field -> value */
  const creds: Record<string, Record<string, string>> = {};
  /** Every secret by name, for the failure message. */
  const secrets = new Map<string, string>();
  const sinks: Record<'log' | 'status' | 'messages' | 'flowExport' | 'admin' | 'routes' | 'caught', Seen[]> = {
    log: [],
    status: [],
    messages: [],
    flowExport: [],
    admin: [],
    routes: [],
    caught: [],
  };
  const restore: Array<() => void> = [];
  let gatewayList: Array<{ id: string; health: string; storeProblem?: string }> = [];

  function credential(node: string, field: string, value: string): string {
    (creds[node] ??= {})[field] = value;
    secrets.set(`${node}.${field}`, value);
    return value;
  }

  function route(where: string, res: { status: number; text?: string; body?: unknown; headers?: unknown }): void {
    sinks.routes.push({ where: `${where} -> ${res.status}`, text: `${text(res.headers)} ${res.text ?? text(res.body)}` });
  }

  async function admin(method: 'get' | 'post' | 'delete', url: string, body?: object): Promise<request.Response> {
    const r = request(red._httpAdmin)[method](url);
    const res = body ? await r.send(body) : await r;
    sinks.admin.push({ where: `${method.toUpperCase()} ${url} -> ${res.status}`, text: `${text(res.headers)} ${res.text}` });
    return res;
  }

  before(async () => {
    useUserDir();
    await helper.startServer();
    // The helper's server serves its own express app; route it to whichever httpNode the flow got.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));

    // --- the secrets, and the servers that know them -------------------------------------------
    const tgPoll = credential('tg1', 'token', `${7_000_000_000 + Math.floor(Math.random() * 1e9)}:AA${b64u(30)}`);
    const tgHook = credential('tg2', 'token', `${6_000_000_000 + Math.floor(Math.random() * 1e9)}:AA${b64u(30)}`);
    credential('tg3', 'token', `${5_000_000_000 + Math.floor(Math.random() * 1e9)}:AA${b64u(30)}`);
    credential('tg4', 'token', `${4_000_000_000 + Math.floor(Math.random() * 1e9)}:AA${b64u(30)}`);
    tgA = await startTelegramServer({ token: tgPoll });
    tgB = await startTelegramServer({ token: tgHook });

    const slackCreds = (node: string) => ({
      botToken: credential(node, 'token', `xoxb-${Date.now()}-${hex(5)}-${b64u(18)}`),
      appToken: credential(node, 'appToken', `xapp-1-A0${hex(4).toUpperCase()}-${Date.now()}-${hex(16)}`),
      signingSecret: credential(node, 'signingSecret', hex(16)),
    });
    slA = await startSlackServer(slackCreds('sl1'));
    slB = await startSlackServer(slackCreds('sl2'));
    slackCreds('sl3');

    dc = await startDiscordServer({ heartbeatIntervalMs: 250 });
    credential('dc', 'token', dc.token);
    credential('dc', 'publicKey', dc.publicKeyHex);
    // A second bot whose API answers echo its token: another emulator's token and key, unused there.
    const dcOther = await startDiscordServer();
    credential('dc2', 'token', dcOther.token);
    credential('dc2', 'publicKey', dcOther.publicKeyHex);
    await dcOther.close();

    wa = await startWhatsAppServer({ token: `EAAG${b64u(60)}`, appSecret: hex(16), verifyToken: `verify-${hex(10)}` });
    credential('wa', 'token', wa.token);
    credential('wa', 'appSecret', wa.appSecret);
    credential('wa', 'verifyToken', wa.verifyToken);
    credential('wa2', 'token', `EAAG${b64u(60)}`);
    credential('wa2', 'appSecret', hex(16));
    credential('wa2', 'verifyToken', `verify-${hex(10)}`);

    for (const node of ['whBearer', 'whHmac', 'whHostile']) {
      credential(node, 'token', `whtok-${hex(12)}`);
      credential(node, 'secret', `whsec-${hex(12)}`);
      credential(node, 'callbackSecret', `whcb-${hex(12)}`);
    }
    for (const node of ['agent', 'agentWrongKey', 'agentEcho', 'agentDown', 'agentHmac']) {
      credential(node, 'apiKey', `sk-${b64u(24)}`);
      credential(node, 'token', `agtok-${hex(12)}`);
      credential(node, 'secret', `agsec-${hex(12)}`);
    }
    model = await startOpenAIServer({ apiKey: creds.agent.apiKey, behavior: { chunks: 4, chunkDelayMs: 15 } });
    hmacAgent = await startHttpAgentServer({ auth: { kind: 'hmac', secret: creds.agentHmac.secret }, behavior: { mode: 'async', callbackDelayMs: 20 } });
    echo = await startEchoServer();
    hostile = await startHostileServer();
    receiver = await startReceiver();

    redis = await startRedisServer();
    const redisPassword = `rpw${hex(12)}`;
    assert.equal(await redisCommand(redis.port, `CONFIG SET requirepass ${redisPassword}`), '+OK');
    credential('gw', 'redisUrl', `redis://default:${redisPassword}@127.0.0.1:${redis.port}`);
    secrets.set('gw.redisUrl (password)', redisPassword);
    const wrongPassword = `rpwbad${hex(12)}`;
    credential('gwBad', 'redisUrl', `redis://default:${wrongPassword}@127.0.0.1:${redis.port}/2`);
    secrets.set('gwBad.redisUrl (password)', wrongPassword);

    const downPort = await freePort();
    const base = helper.url();

    // --- the flow ---------------------------------------------------------------------------------
    const pipeline = (id: string, gateway = 'gw'): FlowNode[] => [
      { id: `${id}Filter`, type: 'chatgate-allowlist-filter', gateway, mode: 'open', matchOn: 'either', list: 'default', entries: [], refused: 'output', wires: [[`${id}Resolver`], []] },
      { id: `${id}Resolver`, type: 'chatgate-thread-resolver', gateway, strategy: '', sessionMinutes: '', passReset: false, wires: [[], ['router']] },
    ];
    const agent = (id: string, over: Record<string, unknown>): FlowNode => ({
      id, type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', baseUrl: model.url, model: 'fake-model', stream: true, streamInterval: 50,
      typing: true, retries: 0, timeout: 3, memoryTurns: 10, concurrency: 4, wires: [['router'], []], ...over,
    });
    const flow: FlowNode[] = [
      { id: 'f1', type: 'tab' },
      { id: 'gw', type: 'chatgate-gateway', name: 'secret gateway', strategy: 'per-conversation', store: 'redis', redisPolicy: 'wait' },
      { id: 'gwBad', type: 'chatgate-gateway', name: 'wrong password', store: 'redis', redisPolicy: 'fail' },
      { id: 'tg1', type: 'chatgate-telegram-bot', apiRoot: tgA.apiRoot, pollTimeout: 1, callTimeout: 2, retryMin: 0.05, retryMax: 0.2, stallMargin: 0.3, throttle: false },
      { id: 'tg2', type: 'chatgate-telegram-bot', mode: 'webhook', webhookUrl: base, webhookPath: '/sec/tg', apiRoot: tgB.apiRoot, callTimeout: 2, retryMin: 0.05, retryMax: 0.2, throttle: false },
      // A Bot API that echoes the request path (which holds the token) into its error descriptions.
      { id: 'tg3', type: 'chatgate-telegram-bot', apiRoot: echo.url, pollTimeout: 1, callTimeout: 2, retryMin: 0.2, retryMax: 0.5, stallMargin: 0.3, throttle: false },
      // A Bot API nobody answers: network errors name the request URL, which holds the token.
      { id: 'tg4', type: 'chatgate-telegram-bot', apiRoot: `http://127.0.0.1:${downPort}`, pollTimeout: 1, callTimeout: 1, retryMin: 0.2, retryMax: 0.5, stallMargin: 0.3, throttle: false },
      // Platforms whose every answer is a 401 echoing the Authorization header and the path.
      { id: 'sl3', type: 'chatgate-slack-app', name: 'echoed app', apiRoot: echo.url, mode: 'socket', callTimeout: 2, retryMin: 0.2, retryMax: 0.5, pingTimeout: 0.6, maxRateWait: 30 },
      { id: 'dc2', type: 'chatgate-discord-bot', name: 'echoed bot', apiRoot: echo.url, receive: 'gateway', commands: [], callTimeout: 2, retryMin: 0.2, retryMax: 0.5, maxRateWait: 30, loginTimeout: 3 },
      { id: 'wa2', type: 'chatgate-whatsapp-account', name: 'echoed number', phoneNumberId: wa.phoneNumberId, apiRoot: echo.url, path: '/sec/wa2', callTimeout: 2, maxRateWait: 30, pairWait: 0.05, pace: 0 },
      { id: 'sl1', type: 'chatgate-slack-app', name: 'socket app', apiRoot: slA.baseUrl, mode: 'socket', callTimeout: 2, retryMin: 0.05, retryMax: 0.2, pingTimeout: 0.6, maxRateWait: 30 },
      { id: 'sl2', type: 'chatgate-slack-app', name: 'events app', apiRoot: slB.baseUrl, mode: 'http', path: '/sec/slack', callTimeout: 2, retryMin: 0.05, retryMax: 0.2, maxRateWait: 30 },
      { id: 'dc', type: 'chatgate-discord-bot', name: 'discord bot', apiRoot: dc.baseUrl, receive: 'both', path: '/sec/discord', commands: [], callTimeout: 2, retryMin: 0.05, retryMax: 0.2, maxRateWait: 30, loginTimeout: 3 },
      { id: 'wa', type: 'chatgate-whatsapp-account', name: 'number', phoneNumberId: wa.phoneNumberId, apiRoot: wa.baseUrl, path: '/sec/wa', callTimeout: 2, maxRateWait: 30, pairWait: 0.05, pace: 0 },

      // in nodes -> one pipeline -> the streaming agent -> the router -> every out node
      { id: 'tgIn1', type: 'chatgate-telegram-in', bot: 'tg1', gateway: 'gw', download: true, maxDownload: 0.001, wires: [['mainFilter']] },
      { id: 'tgIn2', type: 'chatgate-telegram-in', bot: 'tg2', gateway: 'gw', wires: [['mainFilter']] },
      { id: 'tgIn3', type: 'chatgate-telegram-in', bot: 'tg3', gateway: 'gw', wires: [['mainFilter']] },
      { id: 'tgIn4', type: 'chatgate-telegram-in', bot: 'tg4', gateway: 'gw', wires: [['mainFilter']] },
      { id: 'slIn3', type: 'chatgate-slack-in', app: 'sl3', gateway: 'gw', wires: [['mainFilter']] },
      { id: 'dcIn2', type: 'chatgate-discord-in', bot: 'dc2', gateway: 'gw', wires: [['mainFilter']] },
      { id: 'waIn2', type: 'chatgate-whatsapp-in', account: 'wa2', gateway: 'gw', wires: [['mainFilter']] },
      { id: 'slIn1', type: 'chatgate-slack-in', app: 'sl1', gateway: 'gw', download: true, maxDownload: 0.001, wires: [['mainFilter']] },
      { id: 'slIn2', type: 'chatgate-slack-in', app: 'sl2', gateway: 'gw', wires: [['mainFilter']] },
      { id: 'dcIn', type: 'chatgate-discord-in', bot: 'dc', gateway: 'gw', wires: [['mainFilter']] },
      { id: 'waIn', type: 'chatgate-whatsapp-in', account: 'wa', gateway: 'gw', download: true, maxDownload: 0.001, wires: [['mainFilter']] },
      { id: 'whHmac', type: 'chatgate-webhook-in', gateway: 'gw', path: '/sec/wh-hmac', mode: 'async', callbackUrl: receiver.url, auth: 'hmac', wires: [['mainFilter']] },
      { id: 'whHostile', type: 'chatgate-webhook-in', gateway: 'gw', path: '/sec/wh-hostile', mode: 'async', callbackUrl: `${hostile.url}/cb`, auth: 'none', wires: [['mainFilter']] },
      ...pipeline('main'),
      agent('agent', {}),
      // The failing agents take the bearer webhook's messages.
      { id: 'whBearer', type: 'chatgate-webhook-in', gateway: 'gw', path: '/sec/wh-bearer', mode: 'sync', timeout: 5, auth: 'bearer', wires: [['failFilter']] },
      ...pipeline('fail'),
      agent('agentWrongKey', { stream: false }),
      agent('agentEcho', { provider: 'http', url: `${echo.url}/agent`, auth: 'bearer', stream: false }),
      agent('agentDown', { provider: 'http', url: `http://127.0.0.1:${downPort}/agent`, auth: 'bearer', stream: false }),
      agent('agentHmac', { provider: 'http', url: hmacAgent.url, auth: 'hmac', async: true, callbackBase: base, stream: false }),
      { id: 'router', type: 'chatgate-reply-router', gateway: 'gw', wires: [['tgOut1', 'tgOut2', 'tgOut3', 'tgOut4'], ['slOut1', 'slOut2', 'slOut3'], ['dcOut', 'dcOut2'], ['waOut', 'waOut2'], ['whOut'], [], []] },
      { id: 'tgOut1', type: 'chatgate-telegram-out', bot: 'tg1', gateway: 'gw', typing: true },
      { id: 'tgOut2', type: 'chatgate-telegram-out', bot: 'tg2', gateway: 'gw', typing: true },
      { id: 'tgOut3', type: 'chatgate-telegram-out', bot: 'tg3', gateway: 'gw', typing: true },
      { id: 'tgOut4', type: 'chatgate-telegram-out', bot: 'tg4', gateway: 'gw' },
      { id: 'slOut3', type: 'chatgate-slack-out', app: 'sl3', gateway: 'gw' },
      { id: 'dcOut2', type: 'chatgate-discord-out', bot: 'dc2', gateway: 'gw', mentions: 'none' },
      { id: 'waOut2', type: 'chatgate-whatsapp-out', account: 'wa2', gateway: 'gw' },
      { id: 'slOut1', type: 'chatgate-slack-out', app: 'sl1', gateway: 'gw' },
      { id: 'slOut2', type: 'chatgate-slack-out', app: 'sl2', gateway: 'gw' },
      { id: 'dcOut', type: 'chatgate-discord-out', bot: 'dc', gateway: 'gw', mentions: 'none' },
      { id: 'waOut', type: 'chatgate-whatsapp-out', account: 'wa', gateway: 'gw' },
      { id: 'whOut', type: 'chatgate-webhook-out', gateway: 'gw' },
      { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
      { id: 'tap', type: 'helper' },
    ];
    (flow.find((n) => n.id === 'mainResolver')!.wires as string[][])[0].push('agent');
    (flow.find((n) => n.id === 'failResolver')!.wires as string[][])[0].push('agentWrongKey', 'agentEcho', 'agentDown', 'agentHmac');
    // A helper after every output of every node.
    for (const n of flow) if (Array.isArray(n.wires)) for (const port of n.wires as string[][]) if (n.id !== 'catcher') port.push('tap');
    for (const n of flow) if (n.type !== 'tab' && !n.type.startsWith('chatgate-gateway') && !/-(bot|app|account)$/.test(n.type)) n.z = 'f1';

    // --- the sinks --------------------------------------------------------------------------------
    // Every log event at every level, from load to after the close handlers ran.
    const logTap = new EventEmitter();
    logTap.on('log', (m: { level: number; msg: unknown }) => sinks.log.push({ where: `log level ${m.level}`, text: text(m) }));
    red._log.addHandler(logTap);
    restore.push(() => red._log.removeHandler(logTap));
    // Every status and every send of every node (the helper's own spies end at unload).
    const proto = red._NodePrototype as Record<string, (...args: unknown[]) => unknown>;
    for (const [method, sink] of [['status', sinks.status], ['send', sinks.messages], ['error', sinks.log], ['warn', sinks.log]] as const) {
      const own = proto[method];
      proto[method] = function (this: { id: string }, ...args: unknown[]) {
        sink.push({ where: `${this.id}.${method}`, text: text(args) });
        return own.apply(this, args);
      };
      restore.push(() => (proto[method] = own));
    }

    const modules: ModuleName[] = ['gateway', 'allowlistFilter', 'threadResolver', 'agentCall', 'replyRouter', 'telegramBot', 'telegramIn', 'telegramOut', 'slackApp', 'slackIn', 'slackOut', 'discordBot', 'discordIn', 'discordOut', 'whatsappAccount', 'whatsappIn', 'whatsappOut', 'webhookIn', 'webhookOut'];
    const english = operatorEnglish();
    setRedPatch((RED: AnyRED) => {
      RED._ = english;
    });
    restore.push(() => setRedPatch(undefined));
    await helper.load([...nodeModules(modules), catchNode], flow as never, creds as never);
    helper.getNode('tap').on('input', (msg: unknown) => sinks.messages.push({ where: 'tap', text: text(msg) }));
    helper.getNode('caught').on('input', (msg: unknown) => sinks.caught.push({ where: 'catch', text: text(msg) }));

    const key = (id: string) => (helper.getNode(id) as AnyRED)?.connection?.status?.key;
    await until(() => key('tg1') !== undefined && tgB.webhook !== undefined && key('sl1') === 'socket' && key('sl2') === 'listening' && key('dc') === 'both' && key('wa') === 'connected', 10000, 'every connection up');
    secrets.set('tg2 webhook secret_token (derived)', tgB.webhook!.secret_token!);
    assert.equal(tgB.webhook!.secret_token, createHmac('sha256', tgHook).update(`chatgate telegram webhook\n${base}/sec/tg`).digest('hex'));

    // --- successes --------------------------------------------------------------------------------
    tgA.pushUpdate(tgA.make.text('hello by polling'));
    tgB.pushUpdate(tgB.make.text('hello by webhook'));
    slA.deliver(slA.make.dm('hello over socket mode'));
    route('slack events', await slB.postEvent(`${base}/sec/slack`, slB.make.dm('hello over the events api')));
    dc.deliver(dc.make.dm('hello over the gateway'));
    const verified = await wa.verify(`${base}/sec/wa`);
    route('whatsapp verify', { status: verified.status, text: verified.body });
    const alice = wa.fixtures.alice;
    const waFirst = await wa.userSends(`${base}/sec/wa`, alice, wa.make.text(alice, 'hello on whatsapp'));
    route('whatsapp notification', { status: Number(waFirst.attempts.at(-1)?.status) || 0, text: text(waFirst) });
    const hmacBody = JSON.stringify({ userId: 'h1', text: 'signed hello', messageId: 'hm1' });
    route('webhook hmac', await request(base).post('/sec/wh-hmac').set('content-type', 'application/json').set('x-chatgate-signature', signBody(creds.whHmac.secret, hmacBody)).send(hmacBody));
    route('webhook hostile', await request(base).post('/sec/wh-hostile').send({ userId: 'x1', text: 'callback to a bad server' }));

    await until(() => tgA.chat(1001).some((m) => m.fromBot && m.text.includes('hello by polling') && m.text.includes('user turns')), 10000, 'the polling answer');
    await until(() => tgB.chat(1001).some((m) => m.fromBot && m.text.includes('hello by webhook')), 10000, 'the webhook answer');
    await until(() => slA.channel(slA.fixtures.dm).some((m) => m.fromBot && String(m.text).includes('socket mode')), 10000, 'the socket mode answer');
    await until(() => slB.channel(slB.fixtures.dm).some((m) => m.fromBot && String(m.text).includes('events api')), 10000, 'the events api answer');
    await until(() => dc.channel(dc.fixtures.dm).some((m) => m.fromBot && m.content.includes('over the gateway')), 10000, 'the discord answer');
    await until(() => wa.phone(alice).some((i) => i.text?.includes('hello on whatsapp') === true), 10000, 'the whatsapp answer');
    await until(() => receiver.got.some((c) => c.body.includes('signed hello') && !c.body.includes('"done":false')), 10000, 'the signed callback');

    // Files fetched with the token (one within the download limit, one over it).
    const small = randomBytes(300);
    const big = randomBytes(4000);
    tgA.pushUpdate(tgA.make.photo({ data: small, caption: 'a small photo' }));
    tgA.pushUpdate(tgA.make.document({ data: big, fileName: 'big.bin', caption: 'a big file' }));
    slA.deliver(slA.make.fileShare({ data: small, text: 'a small file' }));
    slA.deliver(slA.make.fileShare({ data: big, text: 'a big file' }));
    await wa.userSends(`${base}/sec/wa`, alice, wa.make.media(alice, 'image', { bytes: small, caption: 'a small image' }));
    await wa.userSends(`${base}/sec/wa`, alice, wa.make.media(alice, 'document', { bytes: big, filename: 'big.bin' }));
    await until(() => sinks.log.filter((l) => /download/i.test(l.text)).length >= 3, 10000, 'the three refused downloads logged');
    await until(() => slA.downloads.length >= 1 && tgA.calls.some((c) => c.method === 'getFile'), 10000, 'the downloads');

    // --- failures ---------------------------------------------------------------------------------
    // Wrong signatures and tokens on every route that checks one.
    const forged = JSON.stringify({ userId: 'h1', text: 'forged' });
    route('webhook hmac, wrong signature', await request(base).post('/sec/wh-hmac').set('content-type', 'application/json').set('x-chatgate-signature', signBody('not-the-secret', forged)).send(forged));
    route('webhook bearer, wrong token', await request(base).post('/sec/wh-bearer').set('authorization', 'Bearer not-the-token').send({ userId: 'b1', text: 'forged' }));
    route('slack events, wrong signature', await slB.postEvent(`${base}/sec/slack`, slB.make.dm('forged'), { secret: 'not-the-secret-at-all-0000000000' }));
    const badInteraction = await dc.postInteraction(`${base}/sec/discord`, dc.make.slashCommand('ask', { options: { text: 'forged' } }), { badSignature: true });
    route('discord interaction, bad signature', { status: badInteraction.status, text: text(badInteraction) });
    const badVerify = await wa.verify(`${base}/sec/wa`, { token: 'not-the-verify-token' });
    route('whatsapp verify, wrong token', { status: badVerify.status, text: badVerify.body });
    const badNotification = await wa.deliver(`${base}/sec/wa`, wa.notification({ messages: [wa.make.text(alice, 'forged')], users: [alice] }), { signature: 'wrong', retry: false });
    route('whatsapp notification, wrong signature', { status: Number(badNotification.attempts.at(-1)?.status) || 0, text: text(badNotification) });
    route('telegram webhook, wrong secret', await request(base).post('/sec/tg').set('x-telegram-bot-api-secret-token', 'wrong').send({ update_id: 1 }));
    route('agent callback, wrong signature', await request(base).post('/chatgate/agent/agentHmac/callback').set('x-chatgate-signature', signBody('nope', '{}')).send({ threadId: 't', text: 'forged' }));

    // The failing agents: a wrong API key (the server echoes it), an echoing server, nobody listening,
    // and an async agent that calls back signed.
    const bearer = await request(base).post('/sec/wh-bearer').set('authorization', `Bearer ${creds.whBearer.token}`).send({ userId: 'b1', text: 'to the failing agents', messageId: 'b-1' });
    route('webhook bearer', bearer);
    await until(() => model.requests.some((r) => String(r.headers.authorization).includes(creds.agentWrongKey.apiKey)), 5000, 'the wrong key sent');
    await until(() => hmacAgent.callbacks.length >= 1, 10000, 'the async agent called back');

    // Refused tokens: a 401 from Telegram, a revoked Slack token, a revoked Discord token, Meta's 190.
    tgA.inject.failNext('sendMessage', 5, { error_code: 401, description: 'Unauthorized' });
    tgA.pushUpdate(tgA.make.text('after the token was revoked'));
    slA.inject.revokeToken({ token: 'bot' });
    slA.deliver(slA.make.dm('after the slack token was revoked'));
    dc.inject.revokeToken({ only: 'rest' });
    dc.deliver(dc.make.dm('after the discord token was revoked'));
    wa.inject.revokeToken();
    await wa.userSends(`${base}/sec/wa`, alice, wa.make.text(alice, 'after the whatsapp token was revoked'));
    const errors = () => sinks.caught.length;
    await until(() => errors() >= 8, 20000, `errors at the Catch node (${errors()})`);
    await until(() => ['/bot', '/api/v', '/api/', '/v2', '/agent'].every((p) => echo.asked.some((a) => a.startsWith(p))), 5000, `every echoing API asked: ${echo.asked.join(' ')}`);
    await until(() => hostile.spoiled.length >= 1, 5000, 'the bad callback server asked');

    // --- the admin API and the sidebar ------------------------------------------------------------
    gatewayList = (await admin('get', '/chatgate/gateways')).body as typeof gatewayList;
    for (const gw of ['gw', 'gwBad']) {
      for (const p of ['channels', 'threads', 'log', 'chats', 'allowlist']) await admin('get', `/chatgate/gateways/${gw}/${p}`);
      const chats = (await admin('get', `/chatgate/gateways/${gw}/chats?limit=100`)).body as { items?: Array<{ chatJid: string }> };
      for (const c of chats.items ?? []) await admin('get', `/chatgate/gateways/${gw}/chats/${encodeURIComponent(c.chatJid)}/messages`);
      await admin('post', `/chatgate/gateways/${gw}/allowlist`, { jid: 'tg:4242', label: 'added' });
      await admin('delete', `/chatgate/gateways/${gw}/allowlist/${encodeURIComponent('tg:4242')}`);
    }
    // The operator's send through every out node, the refused tokens included.
    const chats = (await admin('get', '/chatgate/gateways/gw/chats?limit=100')).body as { items: Array<{ chatJid: string }> };
    assert.ok(chats.items.length >= 7, `chats in the history: ${text(chats)}`);
    for (const { chatJid } of chats.items) await admin('post', '/chatgate/gateways/gw/send', { chatJid, text: 'from the operator' });
    const threads = (await admin('get', '/chatgate/gateways/gw/threads')).body as { items: Array<{ id: string }> };
    if (threads.items[0]) await admin('delete', `/chatgate/gateways/gw/threads/${encodeURIComponent(threads.items[0].id)}`);
    await admin('post', '/chatgate/discord/dc/commands');
    await sleep(1500);

    // --- the flow export and the editor's credentials view ----------------------------------------
    flowsApi.init({ log: { audit: () => undefined }, flows: red._redNodes, nodes: red._redNodes });
    const exported = (await flowsApi.getFlows({})) as { flows: FlowNode[] };
    sinks.flowExport.push({ where: 'GET /flows', text: text(exported) });
    for (const n of exported.flows) {
      const shown = await flowsApi.getNodeCredentials({ type: n.type, id: n.id });
      sinks.flowExport.push({ where: `GET /credentials/${n.type}/${n.id}`, text: text(shown) });
    }

    await unload();
    await sleep(300);
    // For a reader chasing a failure: every sink as JSON.
    if (process.env.CHATGATE_SECRETS_DUMP) fs.writeFileSync(process.env.CHATGATE_SECRETS_DUMP, JSON.stringify({ sinks, secrets: [...secrets] }, null, 1));
  });

  after(async () => {
    for (const r of restore.splice(0).reverse()) r();
    await helper.stopServer();
    await Promise.all([tgA, tgB, slA, slB, dc, wa, model, hmacAgent, echo, hostile, receiver].map((s) => s?.close()));
    await redis?.stop();
  });

  function assertNoSecret(sink: Seen[]): void {
    assert.ok(sink.length > 0, 'the sink saw something');
    const leaks: string[] = [];
    for (const [name, secret] of secrets) {
      for (const form of forms(secret)) {
        const hit = sink.find((s) => s.text.includes(form));
        if (hit) leaks.push(`${name} (${form === secret ? 'as is' : `as ${form.slice(0, 12)}...`}) at ${hit.where}: ${hit.text.slice(Math.max(0, hit.text.indexOf(form) - 200), hit.text.indexOf(form) + form.length + 60)}`);
      }
    }
    assert.deepEqual(leaks, []);
  }

  it('every credential field of every node had its own secret, and the run met every failure', () => {
    const values = [...secrets.values()];
    assert.equal(new Set(values).size, values.length, 'distinct secrets');
    for (const [node, fields] of Object.entries({ tg1: ['token'], tg2: ['token'], tg3: ['token'], sl1: ['token', 'appToken', 'signingSecret'], sl2: ['token', 'appToken', 'signingSecret'], dc: ['token', 'publicKey'], wa: ['token', 'appSecret', 'verifyToken'], whBearer: ['token', 'secret', 'callbackSecret'], agent: ['apiKey', 'token', 'secret'], gw: ['redisUrl'] })) {
      for (const f of fields) assert.ok(creds[node]?.[f], `${node}.${f}`);
    }
    const statuses = sinks.routes.map((r) => r.where).join('\n');
    for (const refused of ['wrong signature -> 401', 'wrong token -> 401', 'bad signature -> 401', 'wrong secret -> 401']) assert.ok(statuses.includes(refused), `${refused} in\n${statuses}`);
    assert.match(statuses, /whatsapp verify, wrong token -> 403/);
    const caught = sinks.caught.map((c) => c.text).join('\n');
    for (const failure of ['Unauthorized|401|token', 'invalid_auth|refused', 'connect|ECONNREFUSED|reach', 'API key|401']) assert.match(caught, new RegExp(failure, 'i'));
    assert.ok(echo.asked.length >= 5, 'the echoing server was asked');
    // The credentials were in use: callbacks signed with the callback secret, Redis reached with its password.
    const signed = receiver.got.find((c) => c.body.includes('signed hello'))!;
    assert.equal(signed.signature, signBody(creds.whHmac.callbackSecret, signed.body));
    assert.equal(gatewayList.find((g) => g.id === 'gw')?.health, 'ready', text(gatewayList));
    assert.notEqual(gatewayList.find((g) => g.id === 'gwBad')?.health, 'ready', text(gatewayList));
  });

  for (const [sink, label] of [
    ['log', 'the Node-RED log, at every level'],
    ['status', 'any node status ever set'],
    ['messages', 'any message that left any node'],
    ['flowExport', 'the flow export (GET /flows) and the editor credentials view'],
    ['admin', 'the admin API and sidebar answers'],
    ['routes', 'the answers of the routes the nodes serve'],
    ['caught', 'the errors a Catch node saw'],
  ] as const) {
    it(`no secret in ${label}`, () => assertNoSecret(sinks[sink]));
  }
});
