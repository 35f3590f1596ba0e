/**
 * Telegram users for the soak, on the Telegram emulator (real grammy long polling): private chats,
 * and a forum supergroup where each user talks in a topic of their own, mentioning the bot. An
 * update is the bot's once the poller confirms it (its offset moves past it); faults are the
 * emulator's: error answers (429 with retry_after, 5xx), dropped sockets, stalled polls.
 */
import { startTelegramServer, type TelegramServer } from '../../emulators/telegram-server';
import type { BotMessage, ChannelDriver, Fault, SoakUser } from '../types';

export const TELEGRAM_TOKEN = '123456789:AAsoak-SECRET-token_value';
const BOT_NAME = 'chatgate_soak_bot';
const GROUP = -1001987654321;

interface TelegramUser extends SoakUser {
  chatId: number;
  fromId: number;
  topic?: number;
}

export interface TelegramChannel extends ChannelDriver {
  readonly tg: TelegramServer;
  /** `scale`: fault sizes for this many users (1 = the bench's 8 users of each kind). */
  faults(scale?: number): Fault[];
}

export async function telegramChannel(opts: { direct: number; topics: number }): Promise<TelegramChannel> {
  const tg = await startTelegramServer({ token: TELEGRAM_TOKEN, botUsername: BOT_NAME });
  const users: TelegramUser[] = [];
  for (let i = 0; i < opts.direct; i++) {
    const id = 710000 + i;
    users.push({ channel: 'telegram', key: `telegram/dm-${i}`, chatId: id, fromId: id, conversation: { chat: String(id) } });
  }
  for (let i = 0; i < opts.topics; i++) {
    const topic = 300 + i;
    users.push({ channel: 'telegram', key: `telegram/topic-${i}`, chatId: GROUP, fromId: 720000 + i, topic, conversation: { chat: String(GROUP), thread: String(topic) } });
  }
  const byConversation = new Map(users.map((u) => [`${u.chatId}|${u.topic ?? ''}`, u.key]));
  const texts = new Map<number, string>(); // update_id -> text, for what is still unconfirmed
  let scanned = 0;
  const noted = { injected429: 0, injected5xx: 0, droppedSockets: 0, stalledPolls: 0 };

  return {
    name: 'telegram',
    tg,
    users,
    async waitReady(ms) {
      await tg.nextPoll(ms);
    },
    async send(user, text) {
      const u = user as TelegramUser;
      const body = u.topic === undefined ? text : `@${BOT_NAME} ${text}`;
      const update = tg.make.text(body, {
        chat: u.topic === undefined ? { id: u.chatId, type: 'private' } : { id: GROUP, type: 'supergroup', title: 'soak forum', is_forum: true },
        from: { id: u.fromId, first_name: `tg${u.fromId}` },
        ...(u.topic !== undefined ? { threadId: u.topic } : {}),
      });
      texts.set(tg.pushUpdate(update), text);
      return { accepted: true, messageIds: [String(update.message?.message_id)] };
    },
    drain() {
      const out: Array<{ user?: string; text: string }> = [];
      const sent = tg.sent;
      for (; scanned < sent.length; scanned++) {
        const c = sent[scanned];
        if (!c.ok || (c.method !== 'sendMessage' && c.method !== 'editMessageText') || typeof c.text !== 'string') continue;
        const thread = c.params.message_thread_id;
        out.push({ user: byConversation.get(`${c.chat_id}|${thread ?? ''}`), text: c.text });
      }
      return out;
    },
    view() {
      const out: BotMessage[] = [];
      const chats = new Set(users.map((u) => u.chatId));
      for (const chat of chats) {
        for (const m of tg.chat(chat)) {
          if (!m.fromBot) continue;
          out.push({ channel: 'telegram', conversation: { chat: String(chat), ...(m.threadId !== undefined ? { thread: String(m.threadId) } : {}) }, text: m.text });
        }
      }
      return out;
    },
    undelivered() {
      const pending = new Set(tg.pending().map((u) => u.update_id));
      return [...texts].filter(([id]) => pending.has(id)).map(([, text]) => text);
    },
    toldFailed: () => [],
    trace: (token) =>
      tg.calls
        .filter((c) => c.outcome === 'dropped' || c.outcome === 'stalled')
        .map((c) => `${c.at} ${c.method} ${c.outcome} (any chat)`)
        .concat(tg.sent.filter((c) => JSON.stringify(c.params).includes(token)).map((c) => `${c.at} ${c.method} ${c.ok ? 'ok' : `failed ${c.error?.error_code}`} chat ${c.chat_id} thread ${c.params.message_thread_id ?? '-'} msg ${c.params.message_id ?? '-'} "${String(c.text ?? '').slice(0, 50)}"`))
        .sort(),
    notes: () => ({ ...noted, conflicts: tg.stats.conflicts }),
    faults(scale = 1) {
      const n = (count: number) => Math.max(1, Math.round(count * scale));
      return [
        {
          at: 0.12,
          name: 'telegram: 429 storm on sends and edits (retry_after 1 s)',
          fire: () => {
            noted.injected429 += 2 * n(12);
            tg.inject.failNext('sendMessage', n(12), { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
            tg.inject.failNext('editMessageText', n(12), { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
          },
        },
        {
          at: 0.3,
          name: 'telegram: 5xx on sends and on a poll',
          fire: () => {
            noted.injected5xx += n(6) + n(3);
            tg.inject.failNext('sendMessage', n(6), { error_code: 502, description: 'Bad Gateway' });
            tg.inject.failNext('getUpdates', n(3), { error_code: 500, description: 'Internal Server Error' });
          },
        },
        {
          at: 0.38,
          name: 'telegram: dropped sockets on sends and on a poll',
          fire: () => {
            noted.droppedSockets += n(4) + n(2);
            tg.inject.dropConnections(n(4), 'sendMessage');
            tg.inject.dropConnections(n(2), 'getUpdates');
          },
        },
        {
          at: 0.46,
          name: 'telegram: a half-open poll (held with no answer, no close)',
          fire: () => {
            noted.stalledPolls += 1;
            tg.inject.stallGetUpdates(1);
          },
        },
      ];
    },
    close: () => tg.close(),
  };
}
