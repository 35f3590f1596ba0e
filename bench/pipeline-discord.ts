/**
 * Pipeline, Discord: what Node-RED and chatgate cost over a bare discord.js client doing the same work.
 *
 * Subject: direct messages from simulated Discord users enter through the Discord emulator over
 * its gateway (the real discord.js 14) and pass discord in -> allowlist filter -> thread resolver
 * -> agent call (fake OpenAI-compatible agent, fixed reply, loopback, memory off) -> reply router
 * -> discord out, inside the real Node-RED runtime. Baseline: a bare discord.js Client (intents
 * Guilds and DirectMessages, the Channel partial, `rest.api` pointed at its own emulator,
 * allowedMentions `{ parse: [] }`) in the same process with one messageCreate handler doing the
 * same work: the same fake agent, the same openai SDK call, the reply's Markdown rendered by the
 * same renderer in the format discord out renders with (DISCORD_MARKDOWN), and one
 * `channel.send` per part with the body discord out posts: content, allowed_mentions
 * `{ parse: [], replied_user: false }`, a random 24-hex `nonce` with `enforce_nonce`. (channel.send
 * also names `tts: false`, Discord's default; the comparison counts an absent tts and a false one
 * as the same.) Before anything is measured a batch of one message from every user checks that
 * both sides made the same REST calls (route, path and body, with channel ids mapped to users and
 * nonces masked), sent the agent the same requests, and made no other call (none at all but
 * message creates in the users' DMs once started, on either side, in any run); it throws otherwise.
 *
 * Rate limits: the emulator's own per-route buckets are set far above what is offered (on both
 * sides), but @discordjs/rest itself, on both sides (discord out's REST managers and the bare
 * client's), holds a bot to Discord's global 50 requests per second, in windows of a second that
 * start with the first request after the last one ended. A burst of at most 50 messages fits in
 * one window, so each throughput run is a burst of 50 started once both sides' last window is over
 * (an untimed wait): the figure is then the CPU each side spends, not the limiter. The latency
 * rows are measured at 40 msg/s offered, under the limit.
 *
 * Defaults on both sides otherwise: discord.js runs every messageCreate listener at once (no
 * per-user order), the gateway's agent call runs up to 8 threads at once, one message at a time
 * per thread (per-user strategy), its per-thread queue raised to 1000.
 *
 * Counted from the emulator's side: a reply is an ok createMessage in a user's DM; after each run
 * every DM must show the replies posted in it, none before the message it answers, and nobody
 * pinged. (The emulator's message lists cannot be emptied from outside; its per-post work, the
 * nonce look-up in the channel, grows with a DM's length alike on both sides.)
 *
 * Node-RED's runtime starts once per process, so `npm run bench -- pipeline` runs this file in a
 * child process after the Slack case (runPipelineDiscordInChild); alone:
 * `node --expose-gc --import tsx bench/pipeline-discord.ts`.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, GatewayIntentBits, Partials, type Message } from 'discord.js';
import OpenAI from 'openai';
import RED from 'node-red';
import { startOpenAIServer, type FakeOpenAIServer } from '../test/emulators/openai-server';
import { startDiscordServer, type DiscordServer, type RestCall } from '../test/emulators/discord-server';
import { median, percentile, row, table, type Row } from './lib';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareUserDir } = require('../scripts/start') as { prepareUserDir: (dir: string) => string };
// The baseline renders with the very code the gateway runs (dist/, what Node-RED loads), in the
// format discord out renders with.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderAndSplit, DISCORD_MARKDOWN } = require('../dist/nodes/core/delivery') as typeof import('../nodes/core/delivery');

const REPLY = 'Thanks, **noted**. Here is the fixed reply of the benchmark agent.';
const USERS = 100;
const RUNS = 5;
const LATENCY_RUNS = 3;
/** A burst that fits in one of @discordjs/rest's global windows (50 requests a second). */
const BURST = 50;
const WINDOW_MS = 1100;
/** Bursts each side handles in every measured shape before anything is measured. */
const WARM_BURSTS = 4;
const SHAPES = [1, 100] as const;
const RATE = 40;
const RATE_SECONDS = 2;
/** Far above anything offered: the emulator's buckets must not be what is measured. */
const EMULATOR_RATE_LIMIT = { limit: 1_000_000, windowMs: 1000 };

interface User {
  id: string;
  dm: string;
}

interface Subject {
  name: string;
  discord: DiscordServer;
  recordedAt: WeakMap<RestCall, number>;
  users: User[];
  dms: Map<string, number>;
  /** Replies posted per DM since the start (the emulator's lists keep everything). */
  posted: Map<string, number>;
  stop: () => Promise<void>;
  counted: { upTo: number; replies: number };
  /** When this side's last burst started (its REST's global window). */
  lastBurst: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function emulator(): Promise<{ discord: DiscordServer; users: User[] }> {
  const discord = await startDiscordServer({ rateLimit: EMULATOR_RATE_LIMIT });
  const users: User[] = [];
  for (let i = 0; i < USERS; i++) {
    const u = discord.addUser({ username: `user${i}` });
    users.push({ id: u.id, dm: discord.addChannel({ type: 1, recipient: u.id }).id });
  }
  return { discord, users };
}

async function connected(discord: DiscordServer, name: string): Promise<void> {
  await discord.waitForSockets((st) => st.openSockets === 1 && st.identifies >= 1, 15000);
  await sleep(300);
  const failed = discord.sent.find((c) => c.outcome !== 'ok');
  if (failed) throw new Error(`${name}: a failed call while starting: ${failed.op} ${failed.status}`);
}

function subject(name: string, discord: DiscordServer, users: User[], stop: () => Promise<void>): Subject {
  discord.sent.length = 0;
  const recordedAt = new WeakMap<RestCall, number>();
  const sent = discord.sent as RestCall[];
  sent.push = (...calls: RestCall[]) => {
    const now = performance.now();
    for (const c of calls) recordedAt.set(c, now);
    return Array.prototype.push.apply(sent, calls);
  };
  return { name, discord, recordedAt, users, dms: new Map(users.map((u, i) => [u.dm, i])), posted: new Map(), stop, counted: { upTo: 0, replies: 0 }, lastBurst: 0 };
}

/** The real Node-RED runtime, in this process, as an operator runs it (see pipeline.ts). */
async function startGateway(agent: FakeOpenAIServer): Promise<Subject> {
  const { discord, users } = await emulator();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-bench-discord-'));
  const flow = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'gw', type: 'chatgate-gateway', strategy: 'per-user' },
    // No slash commands: registering them is a startup call the bare client does not make.
    { id: 'bot', type: 'chatgate-discord-bot', name: 'bench', apiRoot: discord.baseUrl, receive: 'gateway', commands: [], registerOnDeploy: false },
    { id: 'in', z: 'tab', type: 'chatgate-discord-in', bot: 'bot', gateway: 'gw', wires: [['filter']] },
    { id: 'filter', z: 'tab', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'open', wires: [['resolver'], []] },
    { id: 'resolver', z: 'tab', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: 'per-user', wires: [['agent'], ['router']] },
    { id: 'agent', z: 'tab', type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', baseUrl: agent.url, model: 'bench', apiKeyEnv: 'CHATGATE_BENCH_NO_KEY', stream: false, typing: false, retries: 0, timeout: 30, maxQueue: 1000, memoryTurns: 0, wires: [['router'], []] },
    // The router's outputs are per platform (telegram, slack, discord, ...): Discord is the third.
    { id: 'router', z: 'tab', type: 'chatgate-reply-router', gateway: 'gw', wires: [[], [], ['out'], [], [], [], []] },
    { id: 'out', z: 'tab', type: 'chatgate-discord-out', bot: 'bot', gateway: 'gw', typing: false },
  ];
  fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flow));
  fs.writeFileSync(path.join(dir, 'flows_cred.json'), JSON.stringify({ bot: { token: discord.token } }));
  prepareUserDir(dir);
  const server = http.createServer();
  RED.init(server, {
    userDir: dir,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: '/',
    logging: { console: { level: process.env.CHATGATE_BENCH_LOG ?? 'off', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
  } as unknown as Parameters<typeof RED.init>[1]);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  await RED.start();
  await connected(discord, 'gateway');
  const s = subject('gateway', discord, users, async () => {
    await RED.stop();
    server.close();
    await discord.close();
  });
  await throughput(s, 1, 1);
  return s;
}

async function startBareClient(agent: FakeOpenAIServer): Promise<Subject> {
  const { discord, users } = await emulator();
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel],
    rest: { api: discord.apiUrl },
    allowedMentions: { parse: [] },
  });
  const openai = new OpenAI({ baseURL: agent.url, apiKey: 'not-needed', maxRetries: 0 });
  client.on('messageCreate', (m: Message) => {
    if (m.author.bot) return;
    void answer(m).catch(() => undefined);
  });
  async function answer(m: Message): Promise<void> {
    const r = await openai.chat.completions.create({ model: 'bench', messages: [{ role: 'user', content: m.content }], stream: false });
    for (const part of renderAndSplit(r.choices[0]?.message?.content ?? '', DISCORD_MARKDOWN)) {
      // The body discord out posts: nothing may ping, and a repeat would return the first message.
      if (!m.channel.isSendable()) return;
      await m.channel.send({ content: part.text, allowedMentions: { parse: [], repliedUser: false }, nonce: randomBytes(12).toString('hex'), enforceNonce: true });
    }
  }
  client.on('error', () => undefined);
  await client.login(discord.token);
  await connected(discord, 'bare discord.js');
  const s = subject('bare discord.js', discord, users, async () => {
    await client.destroy();
    await discord.close();
  });
  await throughput(s, 1, 1);
  return s;
}

/** Replies so far: ok message creates, each in one of the users' DMs. */
function replies(s: Subject): number {
  const c = s.counted;
  const sent = s.discord.sent;
  for (; c.upTo < sent.length; c.upTo++) {
    const call = sent[c.upTo];
    if (call.op !== 'createMessage' || call.outcome !== 'ok') throw new Error(`${s.name}: an unexpected call ${call.method} ${call.path} (${call.op}, ${call.outcome} ${call.status}${call.error ? ` ${JSON.stringify(call.error)}` : ''})`);
    if (!s.dms.has(call.channelId ?? '')) throw new Error(`${s.name}: a reply in the wrong place (${call.channelId})`);
    c.replies++;
  }
  return c.replies;
}

async function waitReplies(s: Subject, n: number, ms = 60000): Promise<void> {
  const end = Date.now() + ms;
  while (replies(s) < n) {
    if (Date.now() > end) throw new Error(`${s.name}: only ${replies(s)} of ${n} replies`);
    await sleep(2);
  }
}

/** After a run (not timed): every DM shows the replies posted in it, in order; nobody pinged. */
function settle(s: Subject): void {
  replies(s);
  for (const call of s.discord.sent) s.posted.set(call.channelId!, (s.posted.get(call.channelId!) ?? 0) + 1);
  for (const u of s.users) {
    let asked = 0;
    let shown = 0;
    for (const m of s.discord.channel(u.dm)) {
      if (m.fromBot) shown++;
      else asked++;
      if (shown > asked) throw new Error(`${s.name}: ${u.dm} shows a reply before the message it answers`);
    }
    if (shown !== (s.posted.get(u.dm) ?? 0)) throw new Error(`${s.name}: ${u.dm} shows ${shown} replies, ${s.posted.get(u.dm) ?? 0} were posted`);
  }
  if (s.discord.mentionsPinged.length) throw new Error(`${s.name}: somebody was pinged: ${JSON.stringify(s.discord.mentionsPinged[0])}`);
  s.discord.sent.length = 0;
  s.counted = { upTo: 0, replies: 0 };
}

function send(s: Subject, user: number, text: string): void {
  const u = s.users[user];
  s.discord.deliver(s.discord.make.dm(text, { user: u.id }));
}

/** Messages per second end to end: `total` messages from `users` users, all offered at once. */
async function throughput(s: Subject, users: number, total: number): Promise<number> {
  const before = replies(s);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) send(s, i % users, `message ${i}`);
  await waitReplies(s, before + total);
  const rate = total / (Number(process.hrtime.bigint() - t0) / 1e9);
  settle(s);
  return rate;
}

/** A burst of BURST messages once this side's last global window is over (the wait untimed). */
async function burst(s: Subject, users: number): Promise<number> {
  const wait = s.lastBurst + WINDOW_MS - performance.now();
  if (wait > 0) await sleep(wait);
  s.lastBurst = performance.now();
  return throughput(s, users, BURST);
}

/** Per-message latency (delivery to reply) at a fixed offered rate, matched per DM in order. */
async function latencies(s: Subject, users: number, rate: number, seconds: number): Promise<number[]> {
  const wait = s.lastBurst + WINDOW_MS - performance.now();
  if (wait > 0) await sleep(wait);
  const before = replies(s);
  const pushed = new Map<string, number[]>();
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    while (performance.now() < due) await sleep(Math.max(0, due - performance.now()));
    const dm = s.users[i % users].dm;
    (pushed.get(dm) ?? pushed.set(dm, []).get(dm)!).push(performance.now());
    send(s, i % users, `timed ${i}`);
  }
  await waitReplies(s, before + total);
  s.lastBurst = performance.now();
  const out: number[] = [];
  const seen = new Map<string, number>();
  for (const call of s.discord.sent) {
    const k = seen.get(call.channelId!) ?? 0;
    seen.set(call.channelId!, k + 1);
    const at = pushed.get(call.channelId!)?.[k];
    if (at !== undefined) out.push(s.recordedAt.get(call)! - at);
  }
  settle(s);
  return out;
}

/** JSON with every object's keys sorted. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  return JSON.stringify(v);
}

/** A REST call as the comparison sees it: channel ids as users, the nonce masked, tts false as absent. */
function callShape(s: Subject, c: RestCall): string {
  const user = (id: string) => (s.dms.has(id) ? `<dm of user ${s.dms.get(id)}>` : id);
  const body = { ...(c.body as Record<string, unknown>) };
  if (typeof body.nonce === 'string' && /^[0-9a-f]{24}$/.test(body.nonce)) body.nonce = '<nonce>';
  if (body.tts === false) delete body.tts;
  return canonical({ method: c.method, route: c.route, op: c.op, auth: c.auth, path: c.path.replace(/\d{17,20}/g, user), query: c.query, files: c.files.length, body });
}

/** One message from every user to each side: the same REST calls and agent requests, or the comparison is off. */
async function checkSameWork(agent: FakeOpenAIServer, a: Subject, b: Subject): Promise<void> {
  const shapes: string[][] = [];
  const asked: string[][] = [];
  for (const s of [a, b]) {
    const from = agent.requests.length;
    for (let i = 0; i < USERS; i++) send(s, i, `check ${i}`);
    await waitReplies(s, replies(s) + USERS);
    await sleep(200);
    shapes.push(s.discord.sent.map((c) => callShape(s, c)).sort());
    asked.push(agent.requests.slice(from).map((r) => JSON.stringify({ path: r.path, body: r.body })).sort());
    settle(s);
  }
  const diff = (x: string[], y: string[]) => x.findIndex((v, i) => v !== y[i]);
  if (shapes[0].length !== shapes[1].length || diff(shapes[0], shapes[1]) >= 0) {
    const i = Math.max(0, diff(shapes[0], shapes[1]));
    throw new Error(`the two sides call Discord differently: ${shapes[0][i]} vs ${shapes[1][i]}`);
  }
  if (asked[0].length !== asked[1].length || diff(asked[0], asked[1]) >= 0) {
    const i = Math.max(0, diff(asked[0], asked[1]));
    throw new Error(`the two sides ask the agent differently: ${asked[0][i]} vs ${asked[1][i]}`);
  }
}

export async function runPipelineDiscord(log: (s: string) => void): Promise<Row[]> {
  const started = Date.now();
  const agent = await startOpenAIServer({ behavior: { reply: () => REPLY } });
  const gateway = await startGateway(agent);
  const bare = await startBareClient(agent);
  const rows: Row[] = [];
  try {
    await checkSameWork(agent, gateway, bare);
    // Warm both paths (JIT, connections) in every shape before measuring, alternating sides.
    for (const users of SHAPES) {
      for (let i = 0; i < WARM_BURSTS; i++) {
        await burst(gateway, users);
        await burst(bare, users);
      }
    }
    await latencies(gateway, USERS, RATE, 0.5);
    await latencies(bare, USERS, RATE, 0.5);
    for (const users of SHAPES) {
      const subj: number[] = [];
      const base: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        subj.push(await burst(gateway, users));
        base.push(await burst(bare, users));
      }
      rows.push(row('pipeline', `discord, ${users} user${users > 1 ? 's' : ''}, ${BURST} messages`, 'throughput', 'msg/s', median(subj), median(base), '>= 0.9x'));
      const runs = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
      log(`pipeline discord ${users} users: gateway ${median(subj).toFixed(0)} msg/s (${runs(subj)}), bare ${median(base).toFixed(0)} msg/s (${runs(base)})`);
    }
    const g: number[][] = [];
    const b: number[][] = [];
    for (let r = 0; r < LATENCY_RUNS; r++) {
      g.push(await latencies(gateway, USERS, RATE, RATE_SECONDS));
      b.push(await latencies(bare, USERS, RATE, RATE_SECONDS));
    }
    for (const p of [50, 99]) {
      const gp = median(g.map((run) => percentile(run, p)));
      const bp = median(b.map((run) => percentile(run, p)));
      rows.push(row('pipeline', `discord, ${RATE} msg/s offered, ${USERS} users`, `latency p${p}`, 'ms', gp, bp));
      rows.push(row('pipeline', `discord, ${RATE} msg/s offered, ${USERS} users`, `added latency p${p}`, 'ms', gp - bp, null, p === 99 ? '< 5' : undefined));
    }
  } finally {
    await gateway.stop();
    await bare.stop();
    await agent.close();
  }
  log(`pipeline discord: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return rows;
}

/** The Discord case in its own process (Node-RED's runtime starts once per process): log lines passed up, the rows back. */
export function runPipelineDiscordInChild(log: (s: string) => void): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--child'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let rows: Row[] | undefined;
    let failure: string | undefined;
    child.on('message', (m: { log?: string; rows?: Row[]; error?: string }) => {
      if (m.log !== undefined) log(m.log);
      if (m.rows) rows = m.rows;
      if (m.error) failure = m.error;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (rows) resolve(rows);
      else reject(new Error(`the Discord pipeline case failed (exit ${code})${failure ? `: ${failure}` : ''}`));
    });
  });
}

if (require.main === module) {
  const child = process.argv[2] === '--child';
  const post = (m: unknown) => (process.send ? process.send(m) : undefined);
  runPipelineDiscord((s) => (child ? post({ log: s }) : console.error(`  ${s}`))).then(
    (rows) => {
      if (child) post({ rows });
      else console.log(table(rows));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      post({ error: String(err instanceof Error ? err.message : err) });
      process.exit(1);
    },
  );
}
