/**
 * The parts of Discord's dispatch payloads the mapping reads (MESSAGE_CREATE, INTERACTION_CREATE
 * over the gateway or the interactions endpoint), validated at the edge before anything is built
 * from them. Discord sends these right; a proxy, a forged request that passed no signature check
 * (the gateway has none) or a bug upstream may not, and an id of the wrong type would otherwise
 * become "undefined" in the envelope: one user, one thread and one de-duplication key for
 * unrelated senders, or a path segment of a REST call.
 *
 * Objects are z.object: fields Discord adds later, or that we do not read, are accepted and left
 * out of the parsed value. Interactions we do not answer (autocomplete, modals, select menus) parse
 * as `ignored`, not as malformed.
 */
import { z } from 'zod';
import { parseEdge, type Parsed } from '../core/kit/edge';
import type { ChannelInfo, RawInbound } from './connection';

export const Snowflake = z.string().regex(/^\d{17,20}$/, 'a Discord id (snowflake)');
/** Far above Discord's own limits (4,000 characters for Nitro); a bound for whatever is sent. */
export const MAX_TEXT = 100_000;
const Name = z.string().max(256);

const UserSchema = z.object({
  id: Snowflake,
  username: Name.optional(),
  global_name: Name.nullable().optional(),
  bot: z.boolean().optional(),
});
export type DiscordUser = z.infer<typeof UserSchema>;

const MemberSchema = z.object({ nick: Name.nullable().optional() });

export const AttachmentSchema = z.object({
  id: Snowflake,
  filename: z.string().max(1024),
  content_type: z.string().max(255).optional(),
  size: z.int().nonnegative().optional(),
  /** A signed CDN URL; the envelope keeps it without its signature (event-to-envelope.ts). */
  url: z.string().max(4096).optional(),
});
export type DiscordAttachment = z.infer<typeof AttachmentSchema>;

export const MessageSchema = z.object({
  id: Snowflake,
  channel_id: Snowflake,
  guild_id: Snowflake.optional(),
  author: UserSchema,
  member: MemberSchema.optional(),
  /** Empty for guild messages without the MESSAGE_CONTENT intent (unless they mention the bot). */
  content: z.string().max(MAX_TEXT).default(''),
  type: z.int().nonnegative().optional(),
  webhook_id: Snowflake.optional(),
  mentions: z.array(z.object({ id: Snowflake })).max(1000).default([]),
  attachments: z.array(AttachmentSchema).max(100).default([]),
  message_reference: z.object({ message_id: Snowflake.optional(), channel_id: Snowflake.optional() }).optional(),
  referenced_message: z.object({ id: Snowflake, author: z.object({ id: Snowflake }) }).nullable().optional(),
});
export type DiscordMessage = z.infer<typeof MessageSchema>;

export const ChannelSchema = z.object({ id: Snowflake, type: z.int().nonnegative(), parentId: Snowflake.optional() });

export interface CommandOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: CommandOption[];
}

const OptionSchema: z.ZodType<CommandOption> = z.lazy(() =>
  z.object({
    name: z.string().min(1).max(32),
    type: z.int().min(1).max(11),
    value: z.union([z.string().max(6000), z.number(), z.boolean()]).optional(),
    options: z.array(OptionSchema).max(25).optional(),
  }),
);

const InteractionChannelSchema = z.object({ id: Snowflake, type: z.int().nonnegative(), parent_id: Snowflake.nullable().optional() });

const InteractionBase = {
  id: Snowflake,
  application_id: Snowflake,
  token: z.string().min(1).max(1000),
  channel_id: Snowflake.optional(),
  channel: InteractionChannelSchema.optional(),
  guild_id: Snowflake.optional(),
  /** In a guild: the member (with the user); in a DM: the user. */
  member: z.object({ user: UserSchema, nick: Name.nullable().optional() }).optional(),
  user: UserSchema.optional(),
};

export const CommandInteractionSchema = z.object({
  ...InteractionBase,
  type: z.literal(2),
  data: z.object({
    id: Snowflake.optional(),
    name: z.string().min(1).max(32),
    /** 1 chat input (slash), 2 user, 3 message (context menu commands). */
    type: z.int().min(1).max(4).default(1),
    options: z.array(OptionSchema).max(25).default([]),
  }),
});
export type CommandInteraction = z.infer<typeof CommandInteractionSchema>;

export const ComponentInteractionSchema = z.object({
  ...InteractionBase,
  type: z.literal(3),
  data: z.object({ custom_id: z.string().min(1).max(100), component_type: z.int() }),
  message: z.object({ id: Snowflake, channel_id: Snowflake.optional() }).optional(),
});
export type ComponentInteraction = z.infer<typeof ComponentInteractionSchema>;

export type DiscordInbound =
  | { kind: 'message'; source: 'gateway'; message: DiscordMessage; channel?: ChannelInfo }
  | { kind: 'command'; source: 'gateway' | 'http'; interaction: CommandInteraction }
  | { kind: 'component'; source: 'gateway' | 'http'; interaction: ComponentInteraction }
  | { kind: 'ignored' };

/** A button press (component type 2); select menus and the like are not ours. */
const BUTTON = 2;

export function parseInbound(raw: unknown): Parsed<DiscordInbound> {
  const r = raw as Partial<RawInbound> | null;
  if (!r || typeof r !== 'object') return { ok: false, kind: 'inbound', problem: 'not an object' };
  const source = r.source === 'http' ? 'http' : 'gateway';
  if (r.type === 'MESSAGE_CREATE') {
    const p = parseEdge(MessageSchema, r.data, 'message');
    if (!p.ok) return p;
    const channel = r.channel === undefined ? undefined : ChannelSchema.safeParse(r.channel);
    return { ok: true, value: { kind: 'message', source: 'gateway', message: p.value, ...(channel?.success ? { channel: channel.data } : {}) } };
  }
  if (r.type !== 'INTERACTION_CREATE') return { ok: true, value: { kind: 'ignored' } };
  const type = (r.data as { type?: unknown } | null)?.type;
  if (type === 2) {
    const p = parseEdge(CommandInteractionSchema, r.data, 'interaction');
    if (!p.ok) return p;
    if (!p.value.member?.user && !p.value.user) return { ok: false, kind: 'interaction.user', problem: 'no user or member.user' };
    return { ok: true, value: { kind: 'command', source, interaction: p.value } };
  }
  if (type === 3) {
    const componentType = (r.data as { data?: { component_type?: unknown } }).data?.component_type;
    if (componentType !== BUTTON) return { ok: true, value: { kind: 'ignored' } };
    const p = parseEdge(ComponentInteractionSchema, r.data, 'interaction');
    if (!p.ok) return p;
    if (!p.value.member?.user && !p.value.user) return { ok: false, kind: 'interaction.user', problem: 'no user or member.user' };
    return { ok: true, value: { kind: 'component', source, interaction: p.value } };
  }
  return { ok: true, value: { kind: 'ignored' } };
}
