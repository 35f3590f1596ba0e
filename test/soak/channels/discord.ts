/**
 * Discord users for the soak, on the Discord emulator (the real discord.js gateway client and
 * REST): DMs, and threads under #general, each user in a thread of their own, mentioning the bot.
 * A message is the bot's once the emulator dispatched it to a session (a session that is cut
 * keeps it for the RESUME replay). Discord sends a bot that has no session nothing (the bot is
 * offline), so users wait while the bot has none: across a redeploy only. Faults are the
 * emulator's: 429 (bucket and global) and 5xx answers, dropped sockets and lost answers on posts,
 * a gateway cut without a close frame, a deaf gateway (no heartbeat ACKs), op 7 RECONNECT.
 */
import { startDiscordServer, type DiscordServer } from '../../emulators/discord-server';
import type { BotMessage, ChannelDriver, Fault, SoakUser } from '../types';

interface DiscordUser extends SoakUser {
  userId: string;
  /** The channel its messages go to: its DM, or its thread. */
  channelId: string;
  inThread: boolean;
}

export interface DiscordChannel extends ChannelDriver {
  readonly discord: DiscordServer;
  /** `scale`: fault sizes for this many users (1 = the bench's 8 users of each kind). */
  faults(scale?: number): Fault[];
  /**
   * While on, users wait before they write (a redeploy replaces the bot's gateway session:
   * Discord delivers nothing to a bot between two sessions, and what it put on the closing one is
   * lost, see the soak's report).
   */
  hold(on: boolean): void;
}

const POSTS = ['createMessage', 'editMessage'];

export async function discordChannel(opts: { direct: number; threads: number }): Promise<DiscordChannel> {
  const discord = await startDiscordServer({ heartbeatIntervalMs: 1000 });
  const general = discord.fixtures.channel;
  const users: DiscordUser[] = [];
  for (let i = 0; i < opts.direct + opts.threads; i++) {
    const inThread = i >= opts.direct;
    const u = discord.addUser({ username: `soak${i}` });
    if (inThread) {
      // Present before the bot connects, so GUILD_CREATE carries it.
      const t = discord.addChannel({ type: 11, name: `soak-${i}`, parentId: general, thread: { ownerId: u.id, archived: false, locked: false, autoArchiveDuration: 1440, createdAt: Date.now() } });
      users.push({ channel: 'discord', key: `discord/thread-${i}`, userId: u.id, channelId: t.id, inThread, conversation: { chat: general, thread: t.id } });
    } else {
      const dm = discord.addChannel({ type: 1, recipient: u.id });
      users.push({ channel: 'discord', key: `discord/dm-${i}`, userId: u.id, channelId: dm.id, inThread, conversation: { chat: dm.id } });
    }
  }
  const byChannel = new Map(users.map((u) => [u.channelId, u]));
  const noted = { injected429: 0, injected5xx: 0, droppedPosts: 0, lostAnswers: 0, gatewayFaults: 0, heldWhileOffline: 0 };
  let scanned = 0;

  let held = false;
  const connected = () => discord.sessions().some((s) => s.connected);
  const online = () => !held && connected();

  return {
    name: 'discord',
    discord,
    users,
    hold(on) {
      held = on;
    },
    async waitReady(ms) {
      const end = Date.now() + ms;
      while (!connected()) {
        if (Date.now() > end) throw new Error('discord: no gateway session');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async send(user, text) {
      const u = user as DiscordUser;
      if (!online()) {
        noted.heldWhileOffline++;
        const end = Date.now() + 60_000;
        while (!online() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      }
      const payload = u.inThread ? discord.make.threadMessage(text, { channel: u.channelId, user: u.userId, mentionBot: true }) : discord.make.dm(text, { user: u.userId });
      const rec = discord.deliver(payload);
      return { accepted: rec.sessions.length > 0, messageIds: [String(payload.id)] };
    },
    drain() {
      const out: Array<{ user?: string; text: string }> = [];
      const sent = discord.sent;
      for (; scanned < sent.length; scanned++) {
        const c = sent[scanned];
        if (c.outcome !== 'ok' || !POSTS.includes(c.op)) continue;
        const content = (c.body as { content?: unknown } | undefined)?.content;
        if (typeof content !== 'string') continue;
        const channel = /\/channels\/(\d+)\//.exec(c.path)?.[1];
        out.push({ user: channel ? byChannel.get(channel)?.key : undefined, text: content });
      }
      return out;
    },
    view() {
      const out: BotMessage[] = [];
      const seen = new Set<string>();
      for (const u of users) {
        for (const id of u.inThread ? [u.channelId, general] : [u.channelId]) {
          if (seen.has(id)) continue;
          seen.add(id);
          for (const m of discord.channel(id)) {
            if (!m.fromBot) continue;
            const owner = byChannel.get(id);
            const conversation = owner?.inThread ? { chat: general, thread: id } : { chat: id };
            out.push({ channel: 'discord', conversation, text: m.content });
          }
        }
      }
      return out;
    },
    undelivered: () => [],
    toldFailed: () => [],
    trace: (token) => discord.sent.filter((c) => JSON.stringify(c.body ?? '').includes(token)).map((c) => `${c.at} ${c.op} ${c.outcome} ${c.status} ${c.path} "${JSON.stringify(c.body).slice(0, 120)}"`),
    notes: () => ({ ...noted, identifies: discord.stats.identifies, resumes: discord.stats.resumes, replayed: discord.stats.replayed, rateLimited: discord.stats.rateLimited }),
    faults(scale = 1) {
      const n = (count: number) => Math.max(1, Math.round(count * scale));
      return [
        {
          at: 0.2,
          name: 'discord: 429 storm on posts and edits (bucket and global, Retry-After 1 s)',
          fire: () => {
            discord.inject.failNext('createMessage', n(6), { status: 429, retryAfter: 1 });
            discord.inject.failNext('editMessage', n(4), { status: 429, retryAfter: 1 });
            discord.inject.failNext('createMessage', n(2), { status: 429, retryAfter: 1, global: true });
            noted.injected429 += n(6) + n(4) + n(2);
          },
        },
        {
          at: 0.34,
          name: 'discord: 5xx, reset sockets and lost answers on posts',
          fire: () => {
            discord.inject.failNext('createMessage', n(3), { status: 502 });
            discord.inject.dropConnections(n(2), 'createMessage', { reset: true });
            discord.inject.loseResponses(n(2), 'createMessage', { reset: true });
            noted.injected5xx += n(3);
            noted.droppedPosts += n(2);
            noted.lostAnswers += n(2);
          },
        },
        {
          at: 0.43,
          name: 'discord: gateway cut without a close frame (1006), resumed with a replay',
          fire: () => {
            noted.gatewayFaults++;
            discord.inject.closeGateway(1006);
          },
        },
        {
          at: 0.48,
          name: 'discord: deaf gateway (half-open: no heartbeat ACKs, dispatches swallowed)',
          fire: () => {
            noted.gatewayFaults++;
            discord.inject.zombie();
          },
        },
        {
          at: 0.82,
          name: 'discord: op 7 RECONNECT',
          fire: () => {
            noted.gatewayFaults++;
            discord.inject.reconnect();
          },
        },
      ];
    },
    close: () => discord.close(),
  };
}
