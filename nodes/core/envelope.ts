/**
 * The envelope: the one message shape every chatgate node reads and writes.
 * The zod schemas are the single source of truth; the TypeScript types are inferred from them.
 */
import { z } from 'zod';

export const PLATFORMS = ['telegram', 'slack', 'discord', 'whatsapp', 'webhook', 'webchat'] as const;
export const PlatformSchema = z.enum(PLATFORMS);
export type Platform = z.infer<typeof PlatformSchema>;

/** Ids come from outside; a cap keeps a hostile sender from bloating the thread map and the store. */
export const MAX_ID_LENGTH = 512;
const Id = z.string().min(1).max(MAX_ID_LENGTH);

export const ChatTypeSchema = z.enum(['direct', 'group', 'channel']);
export type ChatType = z.infer<typeof ChatTypeSchema>;

export const AttachmentSchema = z.object({
  kind: z.string().min(1).max(64),
  url: z.string().max(4096).optional(),
  fileId: z.string().max(MAX_ID_LENGTH).optional(),
  name: z.string().max(1024).optional(),
  mimeType: z.string().max(255).optional(),
  size: z.number().int().nonnegative().optional(),
});
export type Attachment = z.infer<typeof AttachmentSchema>;

/** Everything an out node needs to deliver a reply; platforms may add their own fields. */
export const ReplyToSchema = z.looseObject({
  platform: PlatformSchema,
  channelId: Id,
  chatId: Id,
  threadId: Id.optional(),
  messageId: Id.optional(),
  userId: Id,
});
export type ReplyTo = z.infer<typeof ReplyToSchema>;

export const CommandSchema = z.object({ name: z.string().min(1).max(128), args: z.string() });
export type Command = z.infer<typeof CommandSchema>;

export const ChatSchema = z.object({
  platform: PlatformSchema,
  channelId: Id,
  chatId: Id,
  chatJid: Id,
  chatType: ChatTypeSchema,
  threadId: Id.optional(),
  userId: Id,
  userJid: Id,
  userName: z.string().max(1024).optional(),
  isBot: z.boolean(),
  messageId: Id,
  mentioned: z.boolean(),
  command: CommandSchema.optional(),
  attachments: z.array(AttachmentSchema),
  receivedAt: z.string(),
  replyTo: ReplyToSchema,
});
export type Chat = z.infer<typeof ChatSchema>;

export const STRATEGIES = ['per-user', 'per-conversation', 'per-message', 'single'] as const;
export const StrategySchema = z.enum(STRATEGIES);
export type Strategy = z.infer<typeof StrategySchema>;

export const ThreadSchema = z.object({
  id: Id,
  key: z.string(),
  strategy: StrategySchema,
  isNew: z.boolean(),
  turn: z.number().int().nonnegative(),
  /** Set on the message that started this thread with a reset command. */
  reset: z.boolean().optional(),
});
export type ThreadInfo = z.infer<typeof ThreadSchema>;

export const StreamSchema = z.object({
  id: Id,
  seq: z.number().int().nonnegative(),
  done: z.boolean(),
});
export type StreamInfo = z.infer<typeof StreamSchema>;

/** A message as it enters routing nodes: text plus where it came from. */
export const InboundSchema = z.object({
  payload: z.string(),
  chat: ChatSchema,
});
export type Inbound = z.infer<typeof InboundSchema>;

/** A reply leaving the agent: text (Markdown) plus either an address or a thread id to find one. */
export const ReplySchema = z.object({
  payload: z.unknown(),
  chat: z.looseObject({ replyTo: ReplyToSchema.optional() }).optional(),
  thread: z.looseObject({ id: Id }).optional(),
  stream: StreamSchema.optional(),
});

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** Turns a zod issue list into one sentence that names the field, e.g. `msg.chat.userId: expected string`. */
export function describeIssues(error: z.ZodError, root = 'msg'): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].join('.');
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

export function validate<T>(schema: z.ZodType<T>, value: unknown, root = 'msg'): Result<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, error: describeIssues(parsed.error, root) };
}

/**
 * Chat objects that passed ChatSchema, each with the reply address it held then. One message passes
 * several chatgate nodes carrying the same `msg.chat` object, and each node checks it; only the
 * first pays for the schema. A new object is checked again: a `msg.chat` or `msg.chat.replyTo` that
 * was replaced, or a copy (Node-RED clones a message sent down more than one wire). A node that
 * edits fields of `msg.chat` in place must keep them valid.
 */
const checkedChats = new WeakMap<object, unknown>();

/** True when `chat` passed ChatSchema and still holds the reply address it had then. */
export function isCheckedChat(chat: unknown): chat is Chat {
  if (typeof chat !== 'object' || chat === null) return false;
  const replyTo = (chat as { replyTo?: unknown }).replyTo;
  return replyTo !== undefined && checkedChats.get(chat) === replyTo;
}

/** The reply address of a checked chat, when `replyTo` is that very object. */
export function isCheckedReplyTo(chat: unknown, replyTo: unknown): replyTo is ReplyTo {
  return isCheckedChat(chat) && chat.replyTo === replyTo;
}

function markChecked(chat: unknown): void {
  if (typeof chat === 'object' && chat !== null) checkedChats.set(chat, (chat as { replyTo?: unknown }).replyTo);
}

/**
 * Checks `chat` against ChatSchema (once per object, see checkedChats) and returns it as it is:
 * callers read fields and pass the message on, so they get the message's own object, not a copy.
 */
export function validateChat(chat: unknown, root = 'msg.chat'): Result<Chat> {
  if (isCheckedChat(chat)) return { ok: true, value: chat };
  const parsed = ChatSchema.safeParse(chat);
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error, root) };
  markChecked(chat);
  return { ok: true, value: chat as Chat };
}

/** Validates the parts of `msg` a routing node needs, leaving every other property untouched. */
export function validateInbound(msg: { payload?: unknown; chat?: unknown }): Result<Inbound> {
  if (typeof msg.payload === 'string' && validateChat(msg.chat).ok) return { ok: true, value: { payload: msg.payload, chat: msg.chat as Chat } };
  // The whole schema once more, for the same error text whichever part is wrong.
  return validate(InboundSchema, { payload: msg.payload, chat: msg.chat });
}
