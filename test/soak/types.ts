/**
 * The soak's shared shapes: the users each channel simulates, where their replies must show up,
 * and what a channel driver (the emulator of one platform plus the users on it) offers the
 * scenario.
 */

export const CHANNELS = ['telegram', 'slack', 'discord', 'whatsapp', 'webchat', 'webhook-sync', 'webhook-async'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/** Where a reply shows up, as the platform's user sees it: a chat, and a thread inside it. */
export interface Conversation {
  chat: string;
  thread?: string;
}

export function conversationKey(c: Conversation): string {
  return c.thread === undefined ? c.chat : `${c.chat}#${c.thread}`;
}

/** One simulated user, talking to the bot in one conversation of their own. */
export interface SoakUser {
  readonly channel: ChannelName;
  /** Unique across the soak, e.g. `telegram/topic-3`. */
  readonly key: string;
  /** Where this user's replies belong (a thread root may become known with the first message). */
  conversation: Conversation;
}

/** A message of the bot's as the user's chat shows it at the end (after every edit). */
export interface BotMessage {
  channel: ChannelName;
  conversation: Conversation;
  text: string;
}

/**
 * One platform: its emulator (or, for the credential-free channels, the clients and the callback
 * receiver that stand in for users) and the users on it.
 */
export interface ChannelDriver {
  readonly name: ChannelName;
  readonly users: SoakUser[];
  /** Node-RED is up at `base` (the HTTP channels and the web chat clients need its address). */
  start?(base: string): Promise<void>;
  /** Resolves once the bot is connected (a socket, a poll, a route answering). */
  waitReady(ms: number): Promise<void>;
  /**
   * The user sends `text`. Resolves with accepted true once the platform has handed it to the bot
   * (an ack, a 200, a dispatch), after the retries the platform itself makes; false when it gave
   * up. `messageIds`: the platform's ids of the message (what msg.chat.messageId holds).
   */
  send(user: SoakUser, text: string): Promise<SendResult>;
  /** Bot texts shown since the last call (partials included), with the user they went to when known. */
  drain(): Array<{ user?: string; text: string }>;
  /** Every bot message, per conversation in the order the user sees them. */
  view(): BotMessage[];
  /** Texts the platform took but still holds undelivered at the end (e.g. unconfirmed updates). */
  undelivered(): string[];
  /** Failures the user was told of by the platform itself (a sync webhook's 504), by text sent. */
  toldFailed(): string[];
  /** What the platform saw of one token (calls carrying it), for a problem's example. */
  trace?(token: string): string[];
  /** What this driver saw of its own faults and retries, for the report. */
  notes(): Record<string, number>;
  close(): Promise<void>;
}

export interface SendResult {
  accepted: boolean;
  messageIds?: string[];
}

/** A soak fault: fired once when the run's progress passes `at` (0..1), and `when` holds if given. */
export interface Fault {
  at: number;
  name: string;
  when?: () => boolean;
  fire(): void | Promise<unknown>;
}

export const FALLBACK_TEXT = 'SOAK-FALLBACK the agent could not answer';
/** `T` + six digits: the token each user message carries, which the fake agent echoes first. */
export const TOKEN_RE = /\bT\d{6}\b/g;
/** A whole reply of the fake agent; a streamed part that never got its end shows less. */
export const WHOLE_REPLY_RE = /\b(T\d{6}) ok turn \d+ done\b/g;

/** What the fake agent answers to a user text (the token first, so a streamed part shows it early). */
export function agentReply(userText: string, userTurns: number): string {
  const token = userText.match(TOKEN_RE)?.[0] ?? 'T------';
  return `${token} ok turn ${userTurns} done`;
}
