/**
 * Pipeline, Slack: what Node-RED and chatgate cost over a bare Bolt app doing the same work.
 *
 * Subject: direct messages from simulated Slack users enter through the Slack emulator over Socket
 * Mode (the real @slack/bolt and @slack/socket-mode) and pass slack in -> allowlist filter ->
 * thread resolver -> agent call (fake OpenAI-compatible agent, fixed reply, loopback, memory off)
 * -> reply router -> slack out, inside the real Node-RED runtime. Baseline: a bare Bolt app
 * (`new App({ socketMode: true })`, one `app.message` handler) in the same process doing the same
 * work without Node-RED: its own emulator (same fixtures, same users), the same fake agent, the
 * same openai SDK call (`stream: false` named, as agent call names it), the reply's Markdown
 * rendered by the same renderer in the format slack out renders with (SLACK_MRKDWN), and the same
 * chat.postMessage call through its app's web client (`app.client`: the listener's `client` adds
 * `team_id` to every call, slack out's client does not): in the DM itself for a top-level DM
 * (slack out's default, `dmThreads` off; in its thread for a message in a DM thread), with the same
 * `metadata` as slack out's exactly-once id, so the emulator parses the same body on both sides.
 * Before anything is measured a batch of one message from every user checks that both sides made
 * the same postMessage calls (every parameter, the metadata's random id aside), sent the agent the
 * same requests, and made no other call (none at all but chat.postMessage once started, on either
 * side, in any run); it throws otherwise.
 *
 * Defaults on both sides: Bolt runs every event's listener at once (no per-user order), the
 * gateway's agent call runs up to 8 threads at once, one message at a time per thread (per-user
 * strategy: replies keep their order), with its per-thread queue raised to 1000 so a burst from
 * one user is queued, not refused. So at 1 user the gateway handles one message at a time while
 * Bolt handles the whole burst at once.
 *
 * Counted from the emulator's side: a reply is an ok chat.postMessage in the user's DM, top level
 * (a post anywhere else throws); after each run every DM must show exactly the replies posted in
 * it, then the emulator's channel lists are emptied (its per-post work grows with a channel's
 * length, and must not grow over the runs). Throughput: `total` messages from `users` users
 * offered at once, end to end (first delivery to the last reply). Latency: delivery to reply per
 * message at a fixed offered rate, matched per DM in order. Warm-up, alternation and medians as in
 * pipeline.ts.
 *
 * Node-RED's runtime starts once per process, so `npm run bench -- pipeline` runs this file in a
 * child process after the Telegram case (runPipelineSlackInChild); alone:
 * `node --expose-gc --import tsx bench/pipeline-slack.ts`. A CPU profile of one side (see profile()):
 * `node --expose-gc --import tsx bench/pipeline-slack.ts --profile gateway|bare MESSAGES USERS [OUT]`,
 * then `node --import tsx bench/cpuprofile-summary.ts OUT MESSAGES`.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as inspector from 'node:inspector';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, LogLevel } from '@slack/bolt';
import OpenAI from 'openai';
import RED from 'node-red';
import { startOpenAIServer, type FakeOpenAIServer } from '../test/emulators/openai-server';
import { startSlackServer, type SlackCall, type SlackServer } from '../test/emulators/slack-server';
import { median, percentile, row, table, type Row } from './lib';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareUserDir } = require('../scripts/start') as { prepareUserDir: (dir: string) => string };
// The baseline renders with the very code the gateway runs (dist/, what Node-RED loads), in the
// format slack out renders with.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderAndSplit, SLACK_MRKDWN } = require('../dist/nodes/core/delivery') as typeof import('../nodes/core/delivery');

const BOT_TOKEN = 'xoxb-1000000001-2000000001-benchGATEWAYtoken';
const APP_TOKEN = 'xapp-1-A0EM0000001-3000000001-benchGATEWAYapp';
const BARE_BOT_TOKEN = 'xoxb-1000000002-2000000002-benchBAREtoken';
const BARE_APP_TOKEN = 'xapp-1-A0EM0000001-3000000002-benchBAREapp';
const REPLY = 'Thanks, **noted**. Here is the fixed reply of the benchmark agent.';
const USERS = 100;
const RUNS = 5;
/** Messages each side handles in every measured shape before anything is measured. */
const WARM_MESSAGES = 1000;
const SHAPES = [
  [1, 300],
  [100, 1000],
] as const;
const RATE = 100;
const RATE_SECONDS = 2.5;

interface User {
  id: string;
  dm: string;
}

interface Subject {
  name: string;
  slack: SlackServer;
  /** When the emulator recorded each call (performance.now(): SlackCall.at has whole milliseconds). */
  recordedAt: WeakMap<SlackCall, number>;
  users: User[];
  dms: Set<string>;
  stop: () => Promise<void>;
  /** Scan position in slack.sent and the replies counted so far (reset with the emulator's lists). */
  counted: { upTo: number; replies: number };
}

async function emulator(botToken: string, appToken: string): Promise<{ slack: SlackServer; users: User[] }> {
  // No redelivery: a burst acked late must not become a second message (Bolt does not de-duplicate).
  const slack = await startSlackServer({ botToken, appToken, signingSecret: 'bench-signing-secret', ackTimeoutMs: 120000, maxRedeliveries: 0 });
  const users: User[] = [];
  for (let i = 0; i < USERS; i++) {
    const u = slack.addUser({ name: `user${i}`, real_name: `User ${i}` });
    users.push({ id: u.id, dm: slack.addChannel({ type: 'im', user: u.id }).id });
  }
  return { slack, users };
}

/** Once the socket is up: the calls of starting (identity, socket URL) are not counted. */
function subject(name: string, slack: SlackServer, users: User[], stop: () => Promise<void>): Subject {
  const startup = new Set(['auth.test', 'apps.connections.open']);
  const other = slack.sent.find((c) => !startup.has(c.method) || !c.ok);
  if (other) throw new Error(`${name}: an unexpected call while starting: ${other.method} (${other.outcome})`);
  slack.sent.length = 0;
  // The emulator records a call by pushing it onto `sent` (after applying it, before answering).
  const recordedAt = new WeakMap<SlackCall, number>();
  const sent = slack.sent as SlackCall[];
  sent.push = (...calls: SlackCall[]) => {
    const now = performance.now();
    for (const c of calls) recordedAt.set(c, now);
    return Array.prototype.push.apply(sent, calls);
  };
  return { name, slack, recordedAt, users, dms: new Set(users.map((u) => u.dm)), stop, counted: { upTo: 0, replies: 0 } };
}

/** The real Node-RED runtime, in this process, as an operator runs it (see pipeline.ts). */
async function startGateway(agent: FakeOpenAIServer): Promise<Subject> {
  const { slack, users } = await emulator(BOT_TOKEN, APP_TOKEN);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-bench-slack-'));
  const flow = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'gw', type: 'chatgate-gateway', strategy: 'per-user' },
    { id: 'app', type: 'chatgate-slack-app', name: 'bench', mode: 'socket', apiRoot: slack.baseUrl },
    { id: 'in', z: 'tab', type: 'chatgate-slack-in', app: 'app', gateway: 'gw', wires: [['filter']] },
    { id: 'filter', z: 'tab', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'open', wires: [['resolver'], []] },
    { id: 'resolver', z: 'tab', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: 'per-user', wires: [['agent'], ['router']] },
    { id: 'agent', z: 'tab', type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', baseUrl: agent.url, model: 'bench', apiKeyEnv: 'CHATGATE_BENCH_NO_KEY', stream: false, typing: false, retries: 0, timeout: 30, maxQueue: 1000, memoryTurns: 0, wires: [['router'], []] },
    // The router's outputs are per platform (telegram, slack, ...): Slack is the second.
    { id: 'router', z: 'tab', type: 'chatgate-reply-router', gateway: 'gw', wires: [[], ['out'], [], [], [], [], []] },
    { id: 'out', z: 'tab', type: 'chatgate-slack-out', app: 'app', gateway: 'gw', typing: false },
  ];
  fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flow));
  fs.writeFileSync(path.join(dir, 'flows_cred.json'), JSON.stringify({ app: { token: BOT_TOKEN, appToken: APP_TOKEN } }));
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
  await slack.waitForSockets((s) => s.openSockets === 1, 15000);
  const s = subject('gateway', slack, users, async () => {
    await RED.stop();
    server.close();
    await slack.close();
  });
  // The socket is up once the app answers a first message.
  await throughput(s, 1, 1);
  return s;
}

async function startBareApp(agent: FakeOpenAIServer): Promise<Subject> {
  const { slack, users } = await emulator(BARE_BOT_TOKEN, BARE_APP_TOKEN);
  const app = new App({ token: BARE_BOT_TOKEN, appToken: BARE_APP_TOKEN, socketMode: true, logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: slack.apiUrl } });
  const openai = new OpenAI({ baseURL: agent.url, apiKey: 'not-needed', maxRetries: 0 });
  // Diagnostic, not the baseline: CHATGATE_BENCH_BOLT_ORDERED=1 answers each DM's messages one at
  // a time, in order (a promise chain per DM), as the gateway answers each thread.
  const lanes = process.env.CHATGATE_BENCH_BOLT_ORDERED === '1' ? new Map<string, Promise<void>>() : undefined;
  const inLane = (key: string, task: () => Promise<void>): Promise<void> => {
    if (!lanes) return task();
    const next = (lanes.get(key) ?? Promise.resolve()).then(task);
    const tail = next.catch(() => undefined);
    lanes.set(key, tail);
    void tail.then(() => lanes.get(key) === tail && lanes.delete(key));
    return next;
  };
  app.message(async ({ message }) => {
    const m = message as { channel: string; text?: string; ts: string; thread_ts?: string };
    await inLane(m.channel, () => answer(m));
  });
  async function answer(m: { channel: string; text?: string; ts: string; thread_ts?: string }): Promise<void> {
    const r = await openai.chat.completions.create({ model: 'bench', messages: [{ role: 'user', content: m.text ?? '' }], stream: false });
    // Where slack out answers a DM: in its thread if it came in one, else in the DM itself.
    const thread = m.thread_ts && m.thread_ts !== m.ts ? { thread_ts: m.thread_ts } : {};
    // The agent answers in Markdown; the user must see it formatted, as slack out shows it.
    // app.client, as slack out's own web client: the listener's client adds team_id to every call.
    for (const part of renderAndSplit(r.choices[0]?.message?.content ?? '', SLACK_MRKDWN)) {
      await app.client.chat.postMessage({ channel: m.channel, text: part.text, ...thread, metadata: { event_type: 'chatgate_reply', event_payload: { id: randomUUID() } } });
    }
  }
  app.error(async () => undefined);
  await app.start();
  await slack.waitForSockets((st) => st.openSockets === 1, 15000);
  const s = subject(lanes ? 'bare bolt (in order per DM)' : 'bare bolt', slack, users, async () => {
    await app.stop();
    await slack.close();
  });
  await throughput(s, 1, 1);
  return s;
}

/** Replies so far: ok chat.postMessage calls, each in one of the users' DMs, top level. */
function replies(s: Subject): number {
  const c = s.counted;
  const sent = s.slack.sent;
  for (; c.upTo < sent.length; c.upTo++) {
    const call = sent[c.upTo];
    if (call.method !== 'chat.postMessage' || !call.ok) throw new Error(`${s.name}: an unexpected call ${call.method} (${call.outcome}${call.error ? ` ${call.error}` : ''})`);
    if (!s.dms.has(call.channel ?? '') || call.thread_ts !== undefined) throw new Error(`${s.name}: a reply in the wrong place (${call.channel} thread ${call.thread_ts})`);
    c.replies++;
  }
  return c.replies;
}

async function waitReplies(s: Subject, n: number, ms = 120000): Promise<void> {
  const end = Date.now() + ms;
  while (replies(s) < n) {
    if (Date.now() > end) throw new Error(`${s.name}: only ${replies(s)} of ${n} replies (${s.slack.acks.length} of ${s.slack.deliveries.length} envelopes acked, open sockets ${s.slack.stats.openSockets})`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * After a run (not timed): every DM shows exactly the replies posted in it, top level, each after
 * the user's message; then the emulator's records are emptied so its work per post stays the same.
 */
function settle(s: Subject): void {
  replies(s);
  const posted = new Map<string, number>();
  for (const call of s.slack.sent) posted.set(call.channel!, (posted.get(call.channel!) ?? 0) + 1);
  for (const u of s.users) {
    const list = s.slack.channel(u.dm);
    let asked = 0;
    let shown = 0;
    for (const m of list) {
      if (m.thread_ts !== undefined) throw new Error(`${s.name}: ${u.dm} shows a message in a thread`);
      if (m.fromBot) shown++;
      else asked++;
      if (shown > asked) throw new Error(`${s.name}: ${u.dm} shows a reply before the message it answers`);
    }
    if (shown !== (posted.get(u.dm) ?? 0)) throw new Error(`${s.name}: ${u.dm} shows ${shown} replies, ${posted.get(u.dm) ?? 0} were posted`);
    list.length = 0;
  }
  if (s.slack.mrkdwnErrors.length) throw new Error(`${s.name}: mrkdwn problems: ${JSON.stringify(s.slack.mrkdwnErrors[0])}`);
  if (s.slack.deliveries.some((d) => d.attempts.length > 1)) throw new Error(`${s.name}: an envelope was delivered twice`);
  s.slack.sent.length = 0;
  s.slack.deliveries.length = 0;
  s.slack.acks.length = 0;
  s.counted = { upTo: 0, replies: 0 };
}

function send(s: Subject, user: number, text: string): void {
  const u = s.users[user];
  s.slack.deliver(s.slack.make.dm(text, { user: u.id, channel: u.dm }));
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

/** Per-message latency (delivery to reply) at a fixed offered rate, matched per DM in order. */
async function latencies(s: Subject, users: number, rate: number, seconds: number): Promise<number[]> {
  const before = replies(s);
  const pushed = new Map<string, number[]>();
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    while (performance.now() < due) await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    const dm = s.users[i % users].dm;
    (pushed.get(dm) ?? pushed.set(dm, []).get(dm)!).push(performance.now());
    send(s, i % users, `timed ${i}`);
  }
  await waitReplies(s, before + total);
  const out: number[] = [];
  const seen = new Map<string, number>();
  for (const call of s.slack.sent) {
    const k = seen.get(call.channel!) ?? 0;
    seen.set(call.channel!, k + 1);
    const at = pushed.get(call.channel!)?.[k];
    if (at !== undefined) out.push(s.recordedAt.get(call)! - at);
  }
  settle(s);
  return out;
}

/** A postMessage call as the comparison sees it: every parameter, the metadata's random id masked. */
function callShape(c: SlackCall): string {
  const params = { ...c.params };
  if (typeof params.metadata === 'string') params.metadata = params.metadata.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');
  return JSON.stringify({ method: c.method, token: c.token, contentType: c.contentType, params: Object.fromEntries(Object.entries(params).sort(([a], [b]) => a.localeCompare(b))) });
}

/**
 * One message from every user to each side: the same postMessage calls (same channels, texts,
 * every parameter) and the same agent requests, or the comparison is off.
 */
async function checkSameWork(agent: FakeOpenAIServer, a: Subject, b: Subject): Promise<void> {
  const shapes: string[][] = [];
  const asked: string[][] = [];
  for (const s of [a, b]) {
    const from = agent.requests.length;
    for (let i = 0; i < USERS; i++) send(s, i, `check ${i}`);
    await waitReplies(s, replies(s) + USERS);
    shapes.push(s.slack.sent.map(callShape).sort());
    asked.push(agent.requests.slice(from).map((r) => JSON.stringify({ path: r.path, body: r.body })).sort());
    settle(s);
  }
  const diff = (x: string[], y: string[]) => x.findIndex((v, i) => v !== y[i]);
  if (shapes[0].length !== shapes[1].length || diff(shapes[0], shapes[1]) >= 0) {
    const i = Math.max(0, diff(shapes[0], shapes[1]));
    throw new Error(`the two sides post differently: ${shapes[0][i]} vs ${shapes[1][i]}`);
  }
  if (asked[0].length !== asked[1].length || diff(asked[0], asked[1]) >= 0) {
    const i = Math.max(0, diff(asked[0], asked[1]));
    throw new Error(`the two sides ask the agent differently: ${asked[0][i]} vs ${asked[1][i]}`);
  }
}

async function startBoth(agent: FakeOpenAIServer): Promise<{ gateway: Subject; bare: Subject }> {
  const gateway = await startGateway(agent);
  const bare = await startBareApp(agent);
  return { gateway, bare };
}

export async function runPipelineSlack(log: (s: string) => void): Promise<Row[]> {
  const started = Date.now();
  const agent = await startOpenAIServer({ behavior: { reply: () => REPLY } });
  const { gateway, bare } = await startBoth(agent);
  const rows: Row[] = [];
  try {
    // Warm both paths (JIT, connections) in every shape before measuring, alternating sides.
    for (const [users, total] of SHAPES) {
      for (let done = 0; done < WARM_MESSAGES; done += total) {
        await throughput(gateway, users, Math.min(total, WARM_MESSAGES - done));
        await throughput(bare, users, Math.min(total, WARM_MESSAGES - done));
      }
    }
    await latencies(gateway, USERS, RATE, 1);
    await latencies(bare, USERS, RATE, 1);
    await checkSameWork(agent, gateway, bare);
    for (const [users, total] of SHAPES) {
      const subj: number[] = [];
      const base: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        subj.push(await throughput(gateway, users, total));
        base.push(await throughput(bare, users, total));
      }
      rows.push(row('pipeline', `slack, ${users} user${users > 1 ? 's' : ''}, ${total} messages`, 'throughput', 'msg/s', median(subj), median(base), '>= 0.9x'));
      const runs = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
      log(`pipeline slack ${users} users: gateway ${median(subj).toFixed(0)} msg/s (${runs(subj)}), bare ${median(base).toFixed(0)} msg/s (${runs(base)})`);
    }
    const g: number[][] = [];
    const b: number[][] = [];
    for (let r = 0; r < RUNS; r++) {
      g.push(await latencies(gateway, USERS, RATE, RATE_SECONDS));
      b.push(await latencies(bare, USERS, RATE, RATE_SECONDS));
    }
    for (const p of [50, 99]) {
      const gp = median(g.map((run) => percentile(run, p)));
      const bp = median(b.map((run) => percentile(run, p)));
      rows.push(row('pipeline', `slack, ${RATE} msg/s offered, ${USERS} users`, `latency p${p}`, 'ms', gp, bp));
      rows.push(row('pipeline', `slack, ${RATE} msg/s offered, ${USERS} users`, `added latency p${p}`, 'ms', gp - bp, null, p === 99 ? '< 5' : undefined));
    }
  } finally {
    await gateway.stop();
    await bare.stop();
    await agent.close();
  }
  log(`pipeline slack: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return rows;
}

/**
 * The Slack case in its own process (Node-RED's runtime starts once per process, and the Telegram
 * case has started it): the same node flags, log lines passed up, the rows back.
 */
export function runPipelineSlackInChild(log: (s: string) => void): Promise<Row[]> {
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
      else reject(new Error(`the Slack pipeline case failed (exit ${code})${failure ? `: ${failure}` : ''}`));
    });
  });
}

/**
 * Profiling one side alone: both started and checked, `side` warmed, then `n` messages from
 * `users` users to it only, in batches of 1000, under V8's CPU profiler (through the inspector, so
 * the profile holds only those batches), written to `out` (a .cpuprofile for DevTools or
 * bench/cpuprofile-summary.ts).
 */
async function profile(side: 'gateway' | 'bare', n: number, users: number, out: string): Promise<void> {
  const agent = await startOpenAIServer({ behavior: { reply: () => REPLY } });
  const { gateway, bare } = await startBoth(agent);
  try {
    await checkSameWork(agent, gateway, bare);
    const s = side === 'gateway' ? gateway : bare;
    for (let done = 0; done < 3000; done += 1000) await throughput(s, users, 1000);
    const session = new inspector.Session();
    session.connect();
    const post = <T>(method: string, params?: object) => new Promise<T>((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r as T))));
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
    await post('Profiler.start');
    const t0 = performance.now();
    const rates: number[] = [];
    for (let done = 0; done < n; done += 1000) rates.push(await throughput(s, users, Math.min(1000, n - done)));
    const ms = performance.now() - t0;
    const { profile: prof } = await post<{ profile: unknown }>('Profiler.stop');
    session.disconnect();
    fs.writeFileSync(out, JSON.stringify(prof));
    console.error(`profile ${s.name}, ${users} user(s): ${n} messages in ${ms.toFixed(0)} ms (${((ms * 1000) / n).toFixed(0)} µs/message wall; batch median ${median(rates).toFixed(0)} msg/s); written to ${out}`);
  } finally {
    await gateway.stop();
    await bare.stop();
    await agent.close();
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const send = (m: unknown) => (process.send ? process.send(m) : undefined);
  const main = async (): Promise<void> => {
    if (args[0] === '--profile') {
      const side = args[1] === 'bare' ? 'bare' : 'gateway';
      return profile(side, Number(args[2] ?? 10000), Number(args[3] ?? USERS), args[4] ?? path.join(os.tmpdir(), `pipeline-slack-${side}.cpuprofile`));
    }
    const child = args[0] === '--child';
    const rows = await runPipelineSlack((s) => (child ? send({ log: s }) : console.error(`  ${s}`)));
    if (child) send({ rows });
    else console.log(table(rows));
  };
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      send({ error: String(err instanceof Error ? err.message : err) });
      process.exit(1);
    },
  );
}
