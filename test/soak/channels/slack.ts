/**
 * Slack users for the soak, on the Slack emulator over Socket Mode (the real Bolt client): DMs,
 * and channel threads in #general, each user in a thread of their own that starts with a mention
 * and goes on with mentions in the thread (Slack sends every mention twice: `message` and
 * `app_mention`). An event is the bot's once an envelope of it is acked; Slack redelivers
 * unacked envelopes. Faults are the emulator's: 429 and 5xx answers, dropped sockets and lost
 * answers on posts, dropped, refreshed and deaf Socket Mode connections.
 */
import { startSlackServer, type SlackServer } from '../../emulators/slack-server';
import type { BotMessage, ChannelDriver, Fault, SoakUser } from '../types';

export const SLACK_CREDENTIALS = {
  token: 'xoxb-1111111111-2222222222-SOAKbotSECRETvalue',
  appToken: 'xapp-1-A0EM0000001-3333333333-SOAKappSECRETvalue',
  signingSecret: 'soak-signing-secret-0123456789abcdef',
};

const POSTS = ['chat.postMessage', 'chat.startStream', 'chat.appendStream', 'chat.stopStream', 'chat.update'];
/** Envelopes are redelivered every 2 s, up to 20 times: longer than any outage the soak makes. */
const ACK_TIMEOUT_MS = 2000;
const MAX_REDELIVERIES = 20;

interface SlackUser extends SoakUser {
  userId: string;
  inThread: boolean;
  started: boolean;
}

export interface SlackChannel extends ChannelDriver {
  readonly slack: SlackServer;
  /** `scale`: fault sizes for this many users (1 = the bench's 8 users of each kind). */
  faults(scale?: number): Fault[];
}

export async function slackChannel(opts: { direct: number; threads: number }): Promise<SlackChannel> {
  const slack = await startSlackServer({ botToken: SLACK_CREDENTIALS.token, appToken: SLACK_CREDENTIALS.appToken, signingSecret: SLACK_CREDENTIALS.signingSecret, ackTimeoutMs: ACK_TIMEOUT_MS, maxRedeliveries: MAX_REDELIVERIES });
  const general = slack.fixtures.channel;
  const users: SlackUser[] = [];
  for (let i = 0; i < opts.direct + opts.threads; i++) {
    const inThread = i >= opts.direct;
    const u = slack.addUser({ name: `soak${i}`, real_name: `Soak User ${i}` });
    // A DM's channel id and a thread's root ts are known with the first message.
    users.push({ channel: 'slack', key: `slack/${inThread ? 'thread' : 'dm'}-${i}`, userId: u.id, inThread, started: false, conversation: { chat: inThread ? general : `pending-${u.id}` } });
  }
  const byConversation = new Map<string, string>();
  const noted = { injected429: 0, injected5xx: 0, droppedPosts: 0, lostAnswers: 0, socketFaults: 0 };
  let scanned = 0;
  let given = 0;

  return {
    name: 'slack',
    slack,
    users,
    async waitReady(ms) {
      await slack.waitForSockets((s) => s.openSockets >= 1, ms);
    },
    async send(user, text) {
      const u = user as SlackUser;
      let deliveries;
      let ts: string;
      if (!u.inThread) {
        const ev = slack.make.dm(text, { user: u.userId });
        ts = String(ev.ts);
        if (!u.started) {
          u.conversation = { chat: String(ev.channel) };
          byConversation.set(`${ev.channel}|`, u.key);
        }
        deliveries = [slack.deliver(ev)];
      } else {
        const twins = slack.make.mention(text, { user: u.userId, channel: general, ...(u.started ? { threadTs: u.conversation.thread } : {}) });
        ts = String(twins[0].ts);
        if (!u.started) {
          u.conversation = { chat: general, thread: String(twins[0].ts) };
          byConversation.set(`${general}|${twins[0].ts}`, u.key);
        }
        deliveries = slack.deliver(twins);
      }
      u.started = true;
      const ms = ACK_TIMEOUT_MS * (MAX_REDELIVERIES + 2);
      try {
        await Promise.any(deliveries.map((d) => d.waitAck(ms)));
        return { accepted: true, messageIds: [ts] };
      } catch {
        given++;
        return { accepted: false, messageIds: [ts] };
      }
    },
    drain() {
      const out: Array<{ user?: string; text: string }> = [];
      const sent = slack.sent;
      for (; scanned < sent.length; scanned++) {
        const c = sent[scanned];
        if (!c.ok || !POSTS.includes(c.method)) continue;
        const chunks = Array.isArray(c.params.chunks) ? (c.params.chunks as Array<{ text?: unknown }>).map((k) => String(k.text ?? '')).join('') : '';
        const text = `${c.text ?? ''}${chunks}`;
        if (!text) continue;
        out.push({ user: byConversation.get(`${c.channel}|${c.thread_ts ?? ''}`), text });
      }
      return out;
    },
    view() {
      const out: BotMessage[] = [];
      const chats = new Set(users.filter((u) => u.started).map((u) => u.conversation.chat));
      for (const chat of chats) {
        for (const m of slack.channel(chat)) {
          if (!m.fromBot) continue;
          const thread = m.thread_ts && m.thread_ts !== m.ts ? m.thread_ts : undefined;
          out.push({ channel: 'slack', conversation: { chat, ...(thread ? { thread } : {}) }, text: m.text });
        }
      }
      return out;
    },
    undelivered: () => [],
    toldFailed: () => [],
    trace: (token) =>
      slack.sent.filter((c) => JSON.stringify(c.params).includes(token)).map((c) => `${c.at} ${c.method} ${c.outcome} ${c.error ?? ''} ch ${c.channel} thread ${c.thread_ts ?? '-'} ts ${c.ts ?? '-'} "${JSON.stringify(c.params).slice(0, 160)}"`),
    notes: () => ({ ...noted, gaveUp: given, connections: slack.stats.connections, maxOpenSockets: slack.stats.maxOpenSockets }),
    faults(scale = 1) {
      const n = (count: number) => Math.max(1, Math.round(count * scale));
      return [
        {
          at: 0.16,
          name: 'slack: 429 storm on posts and stream calls (Retry-After 1 s)',
          fire: () => {
            for (const m of POSTS.slice(0, 3)) slack.inject.failNext(m, n(5), { status: 429, retryAfter: 1 });
            noted.injected429 += 3 * n(5);
          },
        },
        {
          at: 0.32,
          name: 'slack: 5xx, dropped sockets and lost answers on posts',
          fire: () => {
            slack.inject.failNext('chat.postMessage', n(3), { status: 503 });
            slack.inject.failNext('chat.startStream', n(3), { status: 500 });
            slack.inject.dropConnections(n(2), 'chat.postMessage');
            slack.inject.loseResponses(n(2), 'chat.postMessage');
            slack.inject.loseResponses(n(2), 'chat.startStream');
            noted.injected5xx += 2 * n(3);
            noted.droppedPosts += n(2);
            noted.lostAnswers += 2 * n(2);
          },
        },
        {
          at: 0.41,
          name: 'slack: Socket Mode connection dropped (no close frame)',
          fire: () => {
            noted.socketFaults++;
            slack.inject.dropSockets();
          },
        },
        {
          at: 0.47,
          name: 'slack: Socket Mode connection turns deaf (half-open: open, no pongs, envelopes swallowed)',
          fire: () => {
            noted.socketFaults++;
            slack.inject.zombieSockets();
          },
        },
        {
          at: 0.75,
          name: 'slack: disconnect frame (refresh_requested)',
          fire: () => {
            noted.socketFaults++;
            slack.inject.disconnect();
          },
        },
      ];
    },
    close: () => slack.close(),
  };
}
