/**
 * The parts of a Telegram update the mapping reads, validated at the edge (polling and webhook
 * alike) before anything is built from them. Telegram itself always sends these right; a proxy, a
 * forged webhook request or a bug upstream may not, and an id of the wrong type would otherwise
 * become "undefined" or "[object Object]" in the envelope: one user, one thread and one
 * de-duplication key for unrelated senders.
 *
 * Objects are z.object: fields Telegram adds later, or that we do not read, are accepted and left
 * out of the parsed update, so the mapping only ever sees what was checked. What the mapping reads
 * must have the right type, or the whole update is rejected (the in node logs and drops it).
 */
import { z } from 'zod';
import { MAX_ID_LENGTH } from '../core/envelope';
import { parseEdge, RejectTally } from '../core/kit/edge';

/** Telegram's ids are integers below 2^52: a string of one is never made up. */
const TgId = z.int();
const Count = z.int().nonnegative();
/** Far above Telegram's own limits (4096 text, 1024 caption); a bound for whatever a proxy sends. */
export const MAX_UPDATE_TEXT = 100_000;
const Text = z.string().max(MAX_UPDATE_TEXT);
/** Telegram's names, usernames and titles are at most 128 characters. */
const Name = z.string().max(256);
const FileId = z.string().min(1).max(MAX_ID_LENGTH);

const CHAT_TYPES = ['private', 'group', 'supergroup', 'channel'] as const;

export const UserSchema = z.object({
  id: TgId,
  is_bot: z.boolean(),
  first_name: Name.optional(),
  last_name: Name.optional(),
  username: Name.optional(),
});

export const ChatSchema = z.object({
  id: TgId,
  type: z.enum(CHAT_TYPES),
  title: Name.optional(),
});
export type TgChatType = z.infer<typeof ChatSchema>['type'];

const EntitySchema = z.object({
  type: z.string().max(64),
  offset: Count,
  length: Count,
  /** Only text_mention entities carry one; gating compares its id with the bot's. */
  user: z.object({ id: TgId }).optional(),
});

const PhotoSizeSchema = z.object({ file_id: FileId, width: Count, height: Count, file_size: Count.optional() });

const FileSchema = z.object({
  file_id: FileId,
  file_size: Count.optional(),
  mime_type: z.string().max(255).optional(),
  file_name: z.string().max(1024).optional(),
});

/** Finite (z.number() refuses Infinity, which `1e999` in JSON becomes) and on the globe. */
const LocationSchema = z.object({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180) });

/** What gating and the reply info read of the message replied to. */
const RepliedSchema = z.object({
  message_id: TgId,
  from: UserSchema.optional(),
  text: Text.optional(),
  caption: Text.optional(),
  /** Its presence marks a forum topic's first message; only that is read. */
  forum_topic_created: z.object({ name: Name.optional() }).optional(),
});

export const MessageSchema = z.object({
  message_id: TgId,
  chat: ChatSchema,
  from: UserSchema.optional(),
  sender_chat: ChatSchema.optional(),
  text: Text.optional(),
  caption: Text.optional(),
  entities: z.array(EntitySchema).optional(),
  caption_entities: z.array(EntitySchema).optional(),
  reply_to_message: RepliedSchema.optional(),
  is_topic_message: z.boolean().optional(),
  message_thread_id: TgId.optional(),
  photo: z.array(PhotoSizeSchema).optional(),
  document: FileSchema.optional(),
  voice: FileSchema.optional(),
  audio: FileSchema.optional(),
  video: FileSchema.optional(),
  video_note: FileSchema.optional(),
  animation: FileSchema.optional(),
  sticker: FileSchema.optional(),
  location: LocationSchema.optional(),
  venue: z.object({ location: LocationSchema, title: Name, address: z.string().max(1024).optional() }).optional(),
});
export type TgMessage = z.infer<typeof MessageSchema>;
export type TgEntity = z.infer<typeof EntitySchema>;

/** The message a pressed button sits on; Telegram may send only its chat and id (an old message). */
const ButtonMessageSchema = z.object({
  message_id: TgId,
  chat: ChatSchema,
  is_topic_message: z.boolean().optional(),
  message_thread_id: TgId.optional(),
});

const CallbackQuerySchema = z.object({
  id: z.string().min(1).max(MAX_ID_LENGTH),
  from: UserSchema,
  message: ButtonMessageSchema.optional(),
  /** Telegram allows 64 bytes of button data. */
  data: z.string().max(4096).optional(),
  game_short_name: z.string().max(256).optional(),
});

export const UpdateSchema = z.object({
  update_id: z.int().nonnegative(),
  message: MessageSchema.optional(),
  edited_message: MessageSchema.optional(),
  channel_post: MessageSchema.optional(),
  edited_channel_post: MessageSchema.optional(),
  callback_query: CallbackQuerySchema.optional(),
});
export type TgUpdate = z.infer<typeof UpdateSchema>;

export type ParsedUpdate = { ok: true; update: TgUpdate } | { ok: false; kind: string; problem: string };

export function parseUpdate(raw: unknown): ParsedUpdate {
  const parsed = parseEdge(UpdateSchema, raw, 'update');
  return parsed.ok ? { ok: true, update: parsed.value } : parsed;
}

export { RejectTally };
