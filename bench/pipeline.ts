/**
 * Pipeline: what Node-RED and chatgate cost over a hand-written bot doing the same work.
 *
 * Subject: messages from simulated Telegram users enter through the Telegram emulator (real
 * polling) and pass telegram in -> allowlist filter -> thread resolver -> agent call (fake
 * OpenAI-compatible agent, fixed reply, loopback) -> reply router -> telegram out, inside the real
 * Node-RED runtime. Baseline: a bare grammy bot in the same process doing the same work without
 * Node-RED: the same emulator program, the same fake agent, the same openai SDK call, the reply's
 * Markdown rendered to Telegram HTML by the same renderer, and the same sendMessage call (checked
 * before measuring: same text, same parameters). Everything (emulators, agent, both sides) shares
 * one process and one event loop, so a throughput is set mostly by the CPU each side spends per
 * message, emulator work included (the same on both sides).
 *
 * Both run with their defaults: grammy's bot.start handles updates one at a time; the agent call
 * runs up to 8 threads at once (its per-thread queue is raised to 1000 so a burst from one user is
 * queued, not refused as overflow), and its per-thread memory is off so both sides send the agent
 * the same request (with memory on, each request also carries the thread's history).
 *
 * Throughput: `total` messages from `users` users offered at once, end to end (push to the last
 * sendMessage). Latency: push to sendMessage per message at a fixed offered rate. Each side is
 * warmed with the same number of messages in every measured shape first (the JIT would otherwise
 * measure the side with more code, Node-RED, as slower than it runs); runs alternate between the
 * sides and each figure is the median of the runs. (No forced GC between runs: a full GC leaves
 * both sides slower for the next run than they run in service.)
 *
 * The Slack case (pipeline-slack.ts: slack in ... slack out over Socket Mode beside a bare Bolt
 * app) runs after this one, in a child process of its own: Node-RED's runtime starts once per
 * process. The Discord case (pipeline-discord.ts: discord in ... discord out beside a bare discord.js
 * client) runs after the Slack one, in a child process of its own likewise.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Bot } from 'grammy';
import OpenAI from 'openai';
import * as http from 'node:http';
import RED from 'node-red';
import { startTelegramServer, type TelegramServer } from '../test/emulators/telegram-server';
import { startOpenAIServer, type FakeOpenAIServer } from '../test/emulators/openai-server';
import { median, percentile, row, type Row } from './lib';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareUserDir } = require('../scripts/start') as { prepareUserDir: (dir: string) => string };
// The baseline renders with the very code the gateway runs (dist/, what Node-RED loads).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderAndSplit, TELEGRAM_HTML } = require('../dist/nodes/core/delivery') as typeof import('../nodes/core/delivery');

const TOKEN = '123456789:AAbench-token';
const BASE_TOKEN = '987654321:AAbench-baseline';
const REPLY = 'Thanks, **noted**. Here is the fixed reply of the benchmark agent.';
const RUNS = 5;
/** Messages each side handles in every measured shape before anything is measured. */
const WARM_MESSAGES = 1500;

type Subject = { name: string; tg: TelegramServer; stop: () => Promise<void>; counted?: { upTo: number; replies: number } };

/**
 * The real Node-RED runtime, in this process, as an operator runs it (not the test helper, whose
 * spies on every node call would be measured too): a user directory with this package linked in,
 * the flow and the bot token (credentials) written before start.
 */
async function startGateway(agent: FakeOpenAIServer): Promise<Subject> {
  const tg = await startTelegramServer({ token: TOKEN, botUsername: 'bench_bot' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-bench-'));
  const flow = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'gw', type: 'chatgate-gateway', strategy: 'per-user' },
    { id: 'bot', type: 'chatgate-telegram-bot', apiRoot: tg.apiRoot, pollTimeout: 1, throttle: false },
    { id: 'in', z: 'tab', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [['filter']] },
    { id: 'filter', z: 'tab', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'open', wires: [['resolver'], []] },
    { id: 'resolver', z: 'tab', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: 'per-user', wires: [['agent'], ['router']] },
    { id: 'agent', z: 'tab', type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', baseUrl: agent.url, model: 'bench', apiKeyEnv: 'CHATGATE_BENCH_NO_KEY', stream: false, typing: false, retries: 0, timeout: 30, maxQueue: 1000, memoryTurns: 0, wires: [['router'], []] },
    { id: 'router', z: 'tab', type: 'chatgate-reply-router', gateway: 'gw', wires: [['out'], [], [], [], [], [], []] },
    { id: 'out', z: 'tab', type: 'chatgate-telegram-out', bot: 'bot', typing: false },
  ];
  fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flow));
  fs.writeFileSync(path.join(dir, 'flows_cred.json'), JSON.stringify({ bot: { token: TOKEN } }));
  prepareUserDir(dir);
  const server = http.createServer();
  RED.init(server, {
    userDir: dir,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: '/',
    logging: { console: { level: 'off', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
  } as unknown as Parameters<typeof RED.init>[1]);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  await RED.start();
  // Wait for the poller: the bot answers a first message.
  await throughput({ name: 'gateway', tg, stop: async () => {} }, 1, 1);
  return {
    name: 'gateway',
    tg,
    stop: async () => {
      await RED.stop();
      server.close();
      await tg.close();
    },
  };
}

async function startBareBot(agent: FakeOpenAIServer): Promise<Subject> {
  const tg = await startTelegramServer({ token: BASE_TOKEN, botUsername: 'bare_bot' });
  const bot = new Bot(BASE_TOKEN, { client: { apiRoot: tg.apiRoot } });
  const openai = new OpenAI({ baseURL: agent.url, apiKey: 'not-needed', maxRetries: 0 });
  bot.on('message:text', async (ctx) => {
    const r = await openai.chat.completions.create({ model: 'bench', messages: [{ role: 'user', content: ctx.message.text }] });
    // The agent answers in Markdown; the user must see it formatted, as telegram out shows it.
    for (const part of renderAndSplit(r.choices[0]?.message?.content ?? '', TELEGRAM_HTML)) {
      await ctx.api.sendMessage(ctx.chat.id, part.text, { parse_mode: 'HTML' });
    }
  });
  bot.catch(() => {});
  void bot.start({ timeout: 1 });
  await new Promise((r) => setTimeout(r, 300));
  return { name: 'bare grammy', tg, stop: async () => { await bot.stop(); await tg.close(); } };
}

function userUpdate(tg: TelegramServer, user: number, text: string): number {
  const id = 500000 + user;
  return tg.pushUpdate(tg.make.text(text, { chat: { id, type: 'private' }, from: { id, first_name: `u${user}` } }));
}

/** Successful sendMessage calls so far; counted on from where the last count stopped, so polling stays cheap. */
function replies(s: Subject): number {
  const c = (s.counted ??= { upTo: 0, replies: 0 });
  const sent = s.tg.sent;
  for (; c.upTo < sent.length; c.upTo++) if (sent[c.upTo].method === 'sendMessage' && sent[c.upTo].ok) c.replies++;
  return c.replies;
}

async function waitReplies(s: Subject, n: number, ms = 120000): Promise<void> {
  const end = Date.now() + ms;
  while (replies(s) < n) {
    if (Date.now() > end) throw new Error(`only ${replies(s)} of ${n} replies`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The last sendMessage of each side: the same call (text, parse mode, every other parameter), or the comparison is off. */
function checkSameReply(a: Subject, b: Subject): void {
  const last = (s: Subject) => {
    const call = [...s.tg.sent].reverse().find((c) => c.method === 'sendMessage' && c.ok);
    return JSON.stringify({ ...call?.params, chat_id: undefined });
  };
  if (last(a) !== last(b)) throw new Error(`the two sides send different replies: ${last(a)} vs ${last(b)}`);
}

/** Messages per second end to end: `total` messages from `users` users, all offered at once. */
async function throughput(s: Subject, users: number, total: number): Promise<number> {
  const before = replies(s);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) userUpdate(s.tg, i % users, `message ${i}`);
  await waitReplies(s, before + total);
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Per-message latency (push to sendMessage) at a fixed offered rate, matched per chat in order. */
async function latencies(s: Subject, users: number, rate: number, seconds: number): Promise<number[]> {
  const start = s.tg.sent.length;
  const before = replies(s);
  const pushed = new Map<number, number[]>();
  const total = rate * seconds;
  const t0 = Date.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    while (Date.now() < due) await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    const chat = 500000 + (i % users);
    userUpdate(s.tg, i % users, `timed ${i}`);
    (pushed.get(chat) ?? pushed.set(chat, []).get(chat)!).push(Date.now());
  }
  await waitReplies(s, before + total);
  const out: number[] = [];
  const seen = new Map<number, number>();
  for (const sent of s.tg.sent.slice(start)) {
    if (sent.method !== 'sendMessage' || !sent.ok) continue;
    const chat = Number(sent.chat_id);
    const k = seen.get(chat) ?? 0;
    seen.set(chat, k + 1);
    const at = pushed.get(chat)?.[k];
    if (at !== undefined) out.push(sent.at - at);
  }
  return out;
}

export async function runPipeline(log: (s: string) => void): Promise<Row[]> {
  const agent = await startOpenAIServer({ behavior: { reply: () => REPLY } });
  const gateway = await startGateway(agent);
  const bare = await startBareBot(agent);
  const rows: Row[] = [];
  try {
    const shapes = [[1, 400], [100, 1500], [1000, 2000]] as const;
    // Warm both paths (JIT, connections) in every shape before measuring, alternating sides.
    for (const [users, total] of shapes) {
      for (let done = 0; done < WARM_MESSAGES; done += total) {
        await throughput(gateway, users, Math.min(total, WARM_MESSAGES - done));
        await throughput(bare, users, Math.min(total, WARM_MESSAGES - done));
      }
    }
    checkSameReply(gateway, bare);
    for (const [users, total] of shapes) {
      const subj: number[] = [];
      const base: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        subj.push(await throughput(gateway, users, total));
        base.push(await throughput(bare, users, total));
      }
      rows.push(row('pipeline', `${users} user${users > 1 ? 's' : ''}, ${total} messages`, 'throughput', 'msg/s', median(subj), median(base), '>= 0.9x'));
      log(`pipeline ${users} users: gateway ${median(subj).toFixed(0)} msg/s, bare ${median(base).toFixed(0)} msg/s`);
    }
    // Alternating runs; each percentile is the median over the runs, so one stray pause of the
    // shared machine (it hits either side) does not decide the figure.
    const rate = 200;
    const g: number[][] = [];
    const b: number[][] = [];
    for (let r = 0; r < RUNS; r++) {
      g.push(await latencies(gateway, 100, rate, 4));
      b.push(await latencies(bare, 100, rate, 4));
    }
    for (const p of [50, 99]) {
      const gp = median(g.map((run) => percentile(run, p)));
      const bp = median(b.map((run) => percentile(run, p)));
      rows.push(row('pipeline', `${rate} msg/s offered, 100 users`, `latency p${p}`, 'ms', gp, bp));
      rows.push(row('pipeline', `${rate} msg/s offered, 100 users`, `added latency p${p}`, 'ms', gp - bp, null, p === 99 ? '< 5' : undefined));
    }
  } finally {
    await gateway.stop();
    await bare.stop();
    await agent.close();
  }
  // Loaded only now: this process need not load Bolt for the Telegram case.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runPipelineSlackInChild } = require('./pipeline-slack') as typeof import('./pipeline-slack');
  rows.push(...(await runPipelineSlackInChild(log)));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runPipelineDiscordInChild } = require('./pipeline-discord') as typeof import('./pipeline-discord');
  rows.push(...(await runPipelineDiscordInChild(log)));
  return rows;
}

/** For profiling one side alone (node --cpu-prof): not part of the benchmark's API. */
export const __startGateway = startGateway;
export const __startBareBot = startBareBot;
export const __throughput = throughput;
