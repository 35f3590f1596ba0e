/**
 * The parts of Meta's webhook notifications the account and the in node read, validated at the
 * edge before anything is built from them: the notification around the updates (read by the
 * account's connection, which hands each message on with its contact) and each message (read by
 * the in node through the kit). A signed body comes from Meta, but a bug upstream, a new type or a
 * proxy may not send what the docs say, and an id of the wrong type would otherwise become one
 * user, one thread and one de-duplication key for unrelated senders.
 *
 * Objects are z.object: fields Meta adds later are accepted and left out of the parsed value.
 */
import { z } from 'zod';
import { parseEdge, type Parsed } from '../core/kit/edge';

const Id = z.string().min(1).max(512);
/** Far above WhatsApp's own limits (4,096 characters); a bound for whatever is sent. */
const MAX_TEXT = 65_536;
const Text = z.string().max(MAX_TEXT);
const Name = z.string().max(1024);

// ---------------------------------------------------------------- the notification (connection)

const ChangeSchema = z.object({
  field: z.string().max(128),
  value: z.object({
    metadata: z.object({ phone_number_id: Id, display_phone_number: z.string().max(64).optional() }).optional(),
    contacts: z.array(z.unknown()).max(1000).optional(),
    messages: z.array(z.unknown()).max(1000).optional(),
    statuses: z.array(z.unknown()).max(1000).optional(),
    errors: z.array(z.unknown()).max(100).optional(),
  }),
});

export const NotificationSchema = z.object({
  object: z.string().max(128),
  entry: z.array(z.object({ id: Id.optional(), changes: z.array(ChangeSchema).max(100) })).max(100),
});
export type Notification = z.infer<typeof NotificationSchema>;

export function parseNotification(raw: unknown): Parsed<Notification> {
  return parseEdge(NotificationSchema, raw, 'notification');
}

export const ContactSchema = z.object({
  wa_id: z.string().max(64).optional(),
  /** The business-scoped user id (BSUID): always there since 2026; the phone number may be withheld. */
  user_id: Id.optional(),
  profile: z.object({ name: Name.optional(), username: Name.optional() }).optional(),
});
export type Contact = z.infer<typeof ContactSchema>;

export const StatusSchema = z.object({
  id: Id,
  status: z.enum(['sent', 'delivered', 'read', 'failed', 'deleted', 'warning']),
  timestamp: z.string().max(32).optional(),
  recipient_id: z.string().max(512).optional(),
  recipient_user_id: z.string().max(512).optional(),
  errors: z
    .array(z.object({ code: z.number().optional(), title: z.string().max(1024).optional(), message: z.string().max(1024).optional(), error_data: z.object({ details: z.string().max(2048).optional() }).optional() }))
    .max(10)
    .optional(),
});
export type DeliveryStatus = z.infer<typeof StatusSchema>;

export function parseStatus(raw: unknown): Parsed<DeliveryStatus> {
  return parseEdge(StatusSchema, raw, 'status');
}

// ---------------------------------------------------------------- one message (in node)

export const MediaSchema = z.object({
  id: Id,
  mime_type: z.string().max(255).optional(),
  sha256: z.string().max(256).optional(),
  caption: Text.optional(),
  filename: Name.optional(),
  /** An audio message recorded as a voice note. */
  voice: z.boolean().optional(),
});
export type Media = z.infer<typeof MediaSchema>;

export const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

const Choice = z.object({ id: Id, title: Name, description: Name.optional() });

export const MessageSchema = z
  .object({
    id: Id,
    /** The user's phone number; absent when a username user withholds it. */
    from: z.string().max(64).optional(),
    from_user_id: Id.optional(),
    timestamp: z.string().regex(/^\d{1,12}$/, 'unix seconds').optional(),
    type: z.string().min(1).max(64),
    context: z.object({ id: Id.optional(), from: z.string().max(512).optional() }).optional(),
    text: z.object({ body: Text }).optional(),
    interactive: z.object({ type: z.string().max(64), button_reply: Choice.optional(), list_reply: Choice.optional() }).optional(),
    button: z.object({ payload: Text.optional(), text: Text.optional() }).optional(),
    image: MediaSchema.optional(),
    video: MediaSchema.optional(),
    audio: MediaSchema.optional(),
    document: MediaSchema.optional(),
    sticker: MediaSchema.optional(),
    location: z.object({ latitude: z.number(), longitude: z.number(), name: Name.optional(), address: Name.optional(), url: z.string().max(4096).optional() }).optional(),
    contacts: z
      .array(z.object({ name: z.object({ formatted_name: Name.optional() }).optional(), phones: z.array(z.object({ phone: z.string().max(64).optional(), wa_id: z.string().max(64).optional() })).max(50).optional() }))
      .max(50)
      .optional(),
    reaction: z.object({ message_id: Id, emoji: z.string().max(64).optional() }).optional(),
  })
  .refine((m) => m.from !== undefined || m.from_user_id !== undefined, { message: 'a sender (from or from_user_id)', path: ['from'] })
  .refine((m) => !(m.type in BODY_OF) || m[BODY_OF[m.type]] !== undefined, { message: 'the object its type names', path: ['type'] });
export type WhatsAppMessage = z.infer<typeof MessageSchema>;

/** Each type whose content lives in the field of its name. */
const BODY_OF: Record<string, 'text' | 'interactive' | 'button' | MediaType | 'location' | 'contacts' | 'reaction'> = {
  text: 'text',
  interactive: 'interactive',
  button: 'button',
  image: 'image',
  video: 'video',
  audio: 'audio',
  document: 'document',
  sticker: 'sticker',
  location: 'location',
  contacts: 'contacts',
  reaction: 'reaction',
};

/** One message as the connection hands it on: the message, its sender's contact, the number it came to. */
export interface RawInbound {
  message: unknown;
  contact?: unknown;
  phoneNumberId: string;
}

export interface InboundEvent {
  message: WhatsAppMessage;
  contact?: Contact;
}

const InboundSchema = z.object({ message: MessageSchema, contact: ContactSchema.optional(), phoneNumberId: Id });

export function parseInbound(raw: unknown): Parsed<InboundEvent> {
  const p = parseEdge(InboundSchema, raw, 'update');
  if (!p.ok) return p;
  return { ok: true, value: { message: p.value.message, ...(p.value.contact ? { contact: p.value.contact } : {}) } };
}
