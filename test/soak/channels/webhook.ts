/**
 * Webhook callers for the soak, as a platform's bridge would call the custom channel
 * (docs/webhook.md): sync callers POST and read the reply on the same response (a reply that comes
 * after the response is POSTed to the callback URL), async callers get 202 and every reply on the
 * callback URL. A caller resends with the same messageId when the answer is a 503 or 404 (a
 * redeploy under way: the route is gone until the new node is up) or the connection fails, as a
 * platform retries; the gateway's de-duplication makes that one message. The callback receiver stands in for the platform's side; its faults: 503
 * answers and sockets destroyed before answering (webhook out retries both).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BotMessage, ChannelDriver, ChannelName, Fault, SendResult, SoakUser } from '../types';

export const WEBHOOK_SYNC_PATH = '/soak/hook-sync';
export const WEBHOOK_ASYNC_PATH = '/soak/hook-async';

interface Shown {
  key: string;
  text: string;
  done: boolean;
  seq: number;
}

/** What one caller's side shows: replies in the order they arrived, a stream's parts in one place. */
class Inbox {
  readonly shown: Shown[] = [];
  private readonly byKey = new Map<string, Shown>();
  readonly fresh: string[] = [];

  add(key: string, text: string, seq: number, done: boolean): void {
    this.fresh.push(text);
    const known = this.byKey.get(key);
    if (known) {
      if (known.done || seq < known.seq) return;
      Object.assign(known, { text, seq, done });
      return;
    }
    const s = { key, text, seq, done };
    this.byKey.set(key, s);
    this.shown.push(s);
  }
}

interface Receiver {
  url: string;
  inboxes: Map<string, Inbox>;
  failNext(n: number): void;
  dropNext(n: number): void;
  stats: { received: number; failed: number; dropped: number };
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const inboxes = new Map<string, Inbox>();
  const stats = { received: 0, failed: 0, dropped: 0 };
  let fail = 0;
  let drop = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (drop > 0) {
        drop--;
        stats.dropped++;
        return req.socket.destroy();
      }
      if (fail > 0) {
        fail--;
        stats.failed++;
        res.writeHead(503).end();
        return;
      }
      stats.received++;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { chatId?: string; text?: string; messageId?: string; stream?: { id: string; seq: number; done: boolean } };
        const inbox = inboxes.get(String(body.chatId));
        if (inbox && typeof body.text === 'string') {
          if (body.stream) inbox.add(`s:${body.stream.id}`, body.text, body.stream.seq, body.stream.done);
          else inbox.add(`r:${stats.received}`, body.text, 0, true);
        }
      } catch {
        // a body that is not JSON shows nothing
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    inboxes,
    stats,
    failNext: (n) => void (fail += n),
    dropNext: (n) => void (drop += n),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface WebhookChannels {
  sync: ChannelDriver;
  async: ChannelDriver;
  /** Where the flow's webhook in nodes POST replies: `${url}/sync`, `${url}/async`. */
  callbackBase: string;
  /** `scale`: fault sizes for this many users (1 = the bench's 8 users of each kind). */
  faults(scale?: number): Fault[];
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function webhookChannels(opts: { users: number }): Promise<WebhookChannels> {
  const receiver = await startReceiver();
  let base = '';

  function make(name: ChannelName, path: string, sync: boolean): ChannelDriver {
    const users: SoakUser[] = [];
    const mode = sync ? 'sync' : 'async';
    for (let i = 0; i < opts.users; i++) {
      const chat = `soak-${mode}-${i}`;
      users.push({ channel: name, key: `${name}/${i}`, conversation: { chat } });
      receiver.inboxes.set(chat, new Inbox());
    }
    const told: string[] = [];
    const seqs = new Map<string, number>();
    const noted = { resent: 0, timeouts504: 0, duplicates: 0 };
    const inbox = (u: SoakUser) => receiver.inboxes.get(u.conversation.chat)!;

    return {
      name,
      users,
      async start(b) {
        base = b;
      },
      async waitReady(ms) {
        const end = Date.now() + ms;
        for (;;) {
          const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
          if (r && r.status === 400) return; // listening: an empty body is refused naming the field
          if (Date.now() > end) throw new Error(`${name}: ${path} is not listening`);
          await sleep(100);
        }
      },
      async send(user, text): Promise<SendResult> {
        const n = seqs.get(user.key) ?? 0;
        seqs.set(user.key, n + 1);
        const messageId = `${user.conversation.chat}-m${n}`;
        const body = JSON.stringify({ userId: user.conversation.chat, chatId: user.conversation.chat, text, messageId });
        for (let attempt = 0; attempt < 120; attempt++) {
          if (attempt > 0) {
            noted.resent++;
            await sleep(Math.min(250 * attempt, 1000));
          }
          let res: Response;
          try {
            res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          } catch {
            continue; // the connection failed: not known to have arrived, so again with the same id
          }
          const answer = (await res.json().catch(() => ({}))) as { text?: string; duplicate?: boolean; stream?: unknown };
          // 503 while a redeploy stops the node, 404 while the new one is not up yet: again, as platforms do.
          if (res.status === 503 || res.status === 502 || res.status === 404) continue;
          if (res.status === 200 && answer.duplicate) {
            noted.duplicates++;
            return { accepted: true, messageIds: [messageId] };
          }
          if (sync && res.status === 200 && typeof answer.text === 'string') {
            inbox(user).add(`sync:${messageId}`, answer.text, 0, true);
            return { accepted: true, messageIds: [messageId] };
          }
          if (sync && res.status === 504) {
            noted.timeouts504++;
            told.push(text);
            return { accepted: true, messageIds: [messageId] };
          }
          if (!sync && res.status === 202) return { accepted: true, messageIds: [messageId] };
          return { accepted: false, messageIds: [messageId] };
        }
        return { accepted: false, messageIds: [messageId] };
      },
      drain() {
        const out: Array<{ user?: string; text: string }> = [];
        for (const u of users) for (const text of inbox(u).fresh.splice(0)) out.push({ user: u.key, text });
        return out;
      },
      view() {
        const out: BotMessage[] = [];
        for (const u of users) for (const s of inbox(u).shown) out.push({ channel: name, conversation: u.conversation, text: s.text });
        return out;
      },
      undelivered: () => [],
      toldFailed: () => told,
      notes: () => ({ ...noted, ...(sync ? {} : { callbacksReceived: receiver.stats.received, callbacksAnswered503: receiver.stats.failed, callbackSocketsDropped: receiver.stats.dropped }) }),
      close: async () => undefined,
    };
  }

  return {
    sync: make('webhook-sync', WEBHOOK_SYNC_PATH, true),
    async: make('webhook-async', WEBHOOK_ASYNC_PATH, false),
    callbackBase: receiver.url,
    faults(scale = 1) {
      const n = (count: number) => Math.max(1, Math.round(count * scale));
      return [
        { at: 0.28, name: 'webhook: the callback receiver answers 503', fire: () => receiver.failNext(n(4)) },
        { at: 0.44, name: 'webhook: the callback receiver drops sockets', fire: () => receiver.dropNext(n(3)) },
      ];
    },
    close: () => receiver.close(),
  };
}
