/**
 * Whether a message in a group is addressed to the bot, as Telegram's privacy mode defines it: a
 * command (for us, not `/cmd@otherbot`), an @mention of the bot, a text_mention of it, or a reply to
 * one of its messages. Pure, so the rules are tested without Telegram; it reads a parsed message
 * (update-schema.ts), so an entity's offsets are integers and a text_mention's user has an id.
 */
import type { TgEntity, TgMessage } from './update-schema';

export interface BotIdentity {
  id: number;
  username: string;
}

function entityText(text: string, e: TgEntity): string {
  return text.slice(e.offset, e.offset + e.length);
}

function textAndEntities(m: TgMessage): { text: string; entities: TgEntity[] } {
  if (m.text !== undefined) return { text: m.text, entities: m.entities ?? [] };
  return { text: m.caption ?? '', entities: m.caption_entities ?? [] };
}

/** The leading bot command, with the bot it names (`/start@other_bot` names other_bot). */
export function leadingCommand(m: TgMessage): { name: string; target?: string } | undefined {
  const { text, entities } = textAndEntities(m);
  const e = entities.find((x) => x.type === 'bot_command' && x.offset === 0);
  if (!e) return undefined;
  const [name, target] = entityText(text, e).split('@');
  return { name, ...(target ? { target } : {}) };
}

export function isCommandForBot(m: TgMessage, bot: BotIdentity): boolean {
  const c = leadingCommand(m);
  return c !== undefined && (c.target === undefined || c.target.toLowerCase() === bot.username.toLowerCase());
}

export function mentionsBot(m: TgMessage, bot: BotIdentity): boolean {
  const { text, entities } = textAndEntities(m);
  const handle = `@${bot.username}`.toLowerCase();
  return entities.some(
    (e) =>
      (e.type === 'mention' && entityText(text, e).toLowerCase() === handle) ||
      (e.type === 'text_mention' && e.user?.id === bot.id),
  );
}

/**
 * A reply to one of the bot's messages. In forum topics every message carries the topic's first
 * message as reply_to_message; that is not a reply to the bot even when the bot opened the topic.
 */
export function repliesToBot(m: TgMessage, bot: BotIdentity): boolean {
  const r = m.reply_to_message;
  if (!r || r.from?.id !== bot.id) return false;
  if (r.forum_topic_created !== undefined) return false;
  if (m.is_topic_message && m.message_thread_id === r.message_id) return false;
  return true;
}

/** Addressed to the bot: a command for it, a mention, or a reply to it. */
export function addressesBot(m: TgMessage, bot: BotIdentity): boolean {
  return isCommandForBot(m, bot) || mentionsBot(m, bot) || repliesToBot(m, bot);
}

/** Removes a leading `@botname` (and the separator after it), so the agent reads the question itself. */
export function stripLeadingMention(text: string, bot: BotIdentity): string {
  const handle = `@${bot.username}`;
  if (text.slice(0, handle.length).toLowerCase() !== handle.toLowerCase()) return text;
  const rest = text.slice(handle.length);
  if (rest !== '' && !/^[\s,:;.!?-]/.test(rest)) return text; // @botname_other is someone else
  return rest.replace(/^[\s,:;-]+/, '');
}
