/**
 * The parts of Slack's inbound payloads the mapping reads, validated at the edge (Socket Mode and
 * the Events API alike) before anything is built from them. Slack itself sends these right; a
 * forged or garbled request, a proxy or a bug upstream may not, and an id of the wrong type would
 * otherwise become "undefined" or "[object Object]" in the envelope: one user, one thread and one
 * de-duplication key for unrelated senders.
 *
 * Objects are z.object: fields Slack adds later, or that we do not read, are accepted and left out
 * of the parsed value, so the mapping only ever sees what was checked. Event types we do not read
 * (reactions, joins...) parse as `ignored`, not as malformed.
 */
import { z } from 'zod';
import { parseEdge, type Parsed } from '../core/kit/edge';
import type { RawInbound } from './connection';

/** Slack ids: U…, W…, B…, C…, D…, G…, T…, E…, F…, A… (upper-case letters and digits). */
const SlackId = z.string().regex(/^[A-Z0-9][A-Z0-9_-]{1,63}$/i, 'a Slack id');
/** Message timestamps, `1733050000.000100`: the id of a message within its channel. */
const Ts = z.string().regex(/^\d{1,12}\.\d{1,9}$/, 'a Slack ts');
/** Far above Slack's own limits (40,000 characters a message); a bound for whatever is sent. */
export const MAX_TEXT = 100_000;
const Text = z.string().max(MAX_TEXT);
const Name = z.string().max(256);

export const FileSchema = z.object({
  id: SlackId,
  name: z.string().max(1024).optional(),
  title: z.string().max(1024).optional(),
  mimetype: z.string().max(255).optional(),
  size: z.int().nonnegative().optional(),
  /** Kept only for the download (with the bot token); never put in a message. */
  url_private_download: z.string().max(4096).optional(),
  url_private: z.string().max(4096).optional(),
});
export type SlackFileInfo = z.infer<typeof FileSchema>;

const BotProfileSchema = z.object({ id: SlackId.optional(), app_id: SlackId.optional(), name: Name.optional() });

/** What a message (or the inner message of an edit) says. */
const MessageCore = {
  user: SlackId.optional(),
  bot_id: SlackId.optional(),
  app_id: SlackId.optional(),
  bot_profile: BotProfileSchema.optional(),
  username: Name.optional(),
  text: Text.optional(),
  ts: Ts,
  thread_ts: Ts.optional(),
  parent_user_id: SlackId.optional(),
  files: z.array(FileSchema).max(100).optional(),
  team: SlackId.optional(),
};

const EditedInnerSchema = z.object({ ...MessageCore, subtype: Name.optional(), edited: z.object({ ts: Ts }).optional() });

export const MessageEventSchema = z.object({
  type: z.enum(['message', 'app_mention']),
  subtype: Name.optional(),
  channel: SlackId,
  /** im, channel, group, mpim, app_home; a type Slack adds later is read as a channel. */
  channel_type: z.string().max(32).optional(),
  ...MessageCore,
  /** message_changed: the message as it is now. */
  message: EditedInnerSchema.optional(),
});
export type MessageEvent = z.infer<typeof MessageEventSchema>;

/** A subtype whose event carries no `ts` of a user's message (deletions, joins); read as ignored. */
const TS_OPTIONAL_SUBTYPES = new Set(['message_changed', 'message_deleted', 'message_replied']);

export const AssistantStartedSchema = z.object({
  type: z.literal('assistant_thread_started'),
  assistant_thread: z.object({
    user_id: SlackId,
    channel_id: SlackId,
    thread_ts: Ts,
    context: z.object({ channel_id: SlackId.optional(), team_id: SlackId.optional() }).optional(),
  }),
});
export type AssistantStarted = z.infer<typeof AssistantStartedSchema>;

export const CommandSchema = z.object({
  command: z.string().regex(/^\/[^\s]{1,64}$/, 'a slash command such as /ask'),
  text: z.string().max(MAX_TEXT).default(''),
  user_id: SlackId,
  user_name: Name.optional(),
  channel_id: SlackId,
  channel_name: Name.optional(),
  team_id: SlackId.optional(),
  trigger_id: z.string().min(1).max(256),
});
export type SlashCommand = z.infer<typeof CommandSchema>;

export const BlockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: SlackId, username: Name.optional(), name: Name.optional(), team_id: SlackId.optional() }),
  team: z.object({ id: SlackId }).nullable().optional(),
  channel: z.object({ id: SlackId }).optional(),
  container: z.object({ type: Name, channel_id: SlackId.optional(), message_ts: Ts.optional(), thread_ts: Ts.optional() }).optional(),
  message: z.object({ ts: Ts, thread_ts: Ts.optional() }).optional(),
  actions: z
    .array(
      z.object({
        action_id: z.string().min(1).max(255),
        type: Name,
        /** Slack allows 2,000 characters of button value. */
        value: z.string().max(4000).optional(),
        action_ts: Ts,
        text: z.object({ text: z.string().max(1024) }).optional(),
      }),
    )
    .min(1)
    .max(25),
});
export type BlockActions = z.infer<typeof BlockActionsSchema>;

export type SlackInbound =
  | { kind: 'message'; event: MessageEvent; teamId?: string }
  | { kind: 'assistantStarted'; event: AssistantStarted; teamId?: string }
  | { kind: 'command'; command: SlashCommand }
  | { kind: 'action'; action: BlockActions }
  | { kind: 'ignored' };

const EnvelopeSchema = z.object({ type: z.literal('event_callback'), team_id: SlackId.optional(), event: z.object({ type: Name }) });

export function parseInbound(raw: unknown): Parsed<SlackInbound> {
  const r = raw as Partial<RawInbound> | null;
  if (!r || typeof r !== 'object') return { ok: false, kind: 'inbound', problem: 'not an object' };
  if (r.kind === 'command') {
    const p = parseEdge(CommandSchema, r.body, 'command');
    return p.ok ? { ok: true, value: { kind: 'command', command: p.value } } : p;
  }
  if (r.kind === 'action') {
    const type = (r.body as { type?: unknown } | null)?.type;
    if (type !== 'block_actions') return { ok: true, value: { kind: 'ignored' } };
    const p = parseEdge(BlockActionsSchema, r.body, 'action');
    return p.ok ? { ok: true, value: { kind: 'action', action: p.value } } : p;
  }
  const envelope = parseEdge(EnvelopeSchema, r.body, 'body');
  if (!envelope.ok) return envelope;
  const teamId = envelope.value.team_id;
  const event = (r.body as { event: unknown }).event;
  const type = envelope.value.event.type;
  if (type === 'message' || type === 'app_mention') {
    const subtype = (event as { subtype?: unknown }).subtype;
    if (typeof subtype === 'string' && TS_OPTIONAL_SUBTYPES.has(subtype) && subtype !== 'message_changed') return { ok: true, value: { kind: 'ignored' } };
    const p = parseEdge(MessageEventSchema, event, 'event');
    return p.ok ? { ok: true, value: { kind: 'message', event: p.value, ...(teamId ? { teamId } : {}) } } : p;
  }
  if (type === 'assistant_thread_started') {
    const p = parseEdge(AssistantStartedSchema, event, 'event');
    return p.ok ? { ok: true, value: { kind: 'assistantStarted', event: p.value, ...(teamId ? { teamId } : {}) } } : p;
  }
  return { ok: true, value: { kind: 'ignored' } };
}
