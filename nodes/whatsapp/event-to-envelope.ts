/**
 * A WhatsApp message as a chatgate message, or the reason it is not one. Pure: the in node adds
 * validation (event-schema.ts: this module only sees parsed messages), de-duplication by message
 * id (Meta redelivers for days) and downloads around it.
 *
 * Who the user is: the business-scoped user id (BSUID, `from_user_id` / the contact's `user_id`)
 * where Meta sends one — it is there for every user since 2026, and the only id of a user who
 * adopted a username and withholds the phone number — else the phone number (`from`, older
 * payloads). Every WhatsApp conversation with a business is one to one: the chat is the user.
 *
 * What the flow gets: text as the payload; a button or list choice as its id (the `data` of
 * `msg.buttons`, like every platform's button press) with the title beside it; media, locations
 * and contacts as attachments (the media id and metadata, never a URL: Meta's media URLs need the
 * token); reactions only when the operator wants them; nothing for types we cannot read.
 */
import type { Attachment, Chat } from '../core/envelope';
import { buildChat } from '../core/inbound';
import { MEDIA_TYPES, type Contact, type InboundEvent, type Media, type MediaType, type WhatsAppMessage } from './event-schema';

export interface MapOptions {
  /** The account config node's id: the envelope's channelId. */
  channelId: string;
  reactions: boolean;
}

/** WhatsApp details beside the envelope (no tokens, no media URLs). */
export interface WhatsAppExtras {
  type: string;
  messageId: string;
  /** The phone number, when Meta sends it. */
  waId?: string;
  /** The business-scoped user id. */
  userId?: string;
  username?: string;
  /** The message this one replies to (quotes), and who wrote it. */
  context?: { id: string; from?: string };
  choice?: { kind: 'button' | 'list' | 'template'; id: string; title: string; description?: string };
  media?: { kind: MediaType | 'voice'; id: string; mimeType?: string; sha256?: string; filename?: string; caption?: string };
  location?: { latitude: number; longitude: number; name?: string; address?: string; url?: string };
  contacts?: Array<{ name?: string; phones: string[] }>;
  reaction?: { messageId: string; emoji: string };
  timestamp?: number;
}

export type Mapped = { ok: true; payload: string; chat: Chat; whatsapp: WhatsAppExtras; dedupeKey: string } | { ok: false; reason: 'reaction' | 'unsupported' | 'empty' };

/** A BSUID: two capital letters (a country), a dot, then letters, digits and dots. */
export const BSUID = /^[A-Z]{2}\.[A-Za-z0-9.]{1,160}$/;
const PHONE = /^\d{5,20}$/;

function mediaOf(m: WhatsAppMessage): { kind: MediaType; media: Media } | undefined {
  for (const kind of MEDIA_TYPES) {
    const media = m[kind];
    if (m.type === kind && media) return { kind, media };
  }
  return undefined;
}

function attachmentOf(kind: MediaType | 'voice', media: Media): Attachment {
  return { kind, fileId: media.id, ...(media.filename ? { name: media.filename } : {}), ...(media.mime_type ? { mimeType: media.mime_type } : {}) };
}

export function mapMessage(e: InboundEvent, o: MapOptions): Mapped {
  const m = e.message;
  const contact: Contact | undefined = e.contact;
  const bsuid = m.from_user_id ?? contact?.user_id;
  const waId = m.from ?? contact?.wa_id;
  const userId = bsuid ?? waId!;
  const extras: WhatsAppExtras = { type: m.type, messageId: m.id };
  if (waId) extras.waId = waId;
  if (bsuid) extras.userId = bsuid;
  if (contact?.profile?.username) extras.username = contact.profile.username;
  if (m.context?.id) extras.context = { id: m.context.id, ...(m.context.from ? { from: m.context.from } : {}) };
  if (m.timestamp) extras.timestamp = Number(m.timestamp);

  let payload = '';
  const attachments: Attachment[] = [];
  const media = mediaOf(m);
  if (m.type === 'text' && m.text) payload = m.text.body;
  else if (m.type === 'interactive' && m.interactive) {
    const reply = m.interactive.button_reply ?? m.interactive.list_reply;
    if (!reply) return { ok: false, reason: 'unsupported' };
    extras.choice = { kind: m.interactive.button_reply ? 'button' : 'list', id: reply.id, title: reply.title, ...(reply.description ? { description: reply.description } : {}) };
    payload = reply.id;
  } else if (m.type === 'button' && m.button) {
    // A template's quick-reply button: its payload, or its text when it has none.
    const id = m.button.payload ?? m.button.text ?? '';
    extras.choice = { kind: 'template', id, title: m.button.text ?? id };
    payload = id;
  } else if (media) {
    const kind = media.kind === 'audio' && media.media.voice ? 'voice' : media.kind;
    extras.media = {
      kind,
      id: media.media.id,
      ...(media.media.mime_type ? { mimeType: media.media.mime_type } : {}),
      ...(media.media.sha256 ? { sha256: media.media.sha256 } : {}),
      ...(media.media.filename ? { filename: media.media.filename } : {}),
      ...(media.media.caption ? { caption: media.media.caption } : {}),
    };
    attachments.push(attachmentOf(kind, media.media));
    payload = media.media.caption ?? '';
  } else if (m.type === 'location' && m.location) {
    const l = m.location;
    extras.location = { latitude: l.latitude, longitude: l.longitude, ...(l.name ? { name: l.name } : {}), ...(l.address ? { address: l.address } : {}), ...(l.url ? { url: l.url } : {}) };
    const label = [l.name, l.address].filter(Boolean).join(', ');
    attachments.push({ kind: 'location', name: `${l.latitude},${l.longitude}${label ? ` ${label}` : ''}`.slice(0, 1024) });
  } else if (m.type === 'contacts' && m.contacts) {
    extras.contacts = m.contacts.map((c) => ({ ...(c.name?.formatted_name ? { name: c.name.formatted_name } : {}), phones: (c.phones ?? []).map((p) => p.phone ?? p.wa_id ?? '').filter(Boolean) }));
    for (const c of extras.contacts) attachments.push({ kind: 'contact', ...(c.name || c.phones[0] ? { name: (c.name ?? c.phones[0]).slice(0, 1024) } : {}) });
  } else if (m.type === 'reaction' && m.reaction) {
    if (!o.reactions) return { ok: false, reason: 'reaction' };
    extras.reaction = { messageId: m.reaction.message_id, emoji: m.reaction.emoji ?? '' };
    // An empty emoji is a removed reaction.
    payload = m.reaction.emoji ?? '';
  } else return { ok: false, reason: 'unsupported' };

  if (payload.trim() === '' && attachments.length === 0 && !extras.reaction) return { ok: false, reason: 'empty' };
  const userName = contact?.profile?.name ?? contact?.profile?.username;
  const chat = buildChat(
    {
      platform: 'whatsapp',
      channelId: o.channelId,
      chatId: userId,
      chatType: 'direct',
      userId,
      ...(userName ? { userName } : {}),
      messageId: m.id,
      isBot: false,
      mentioned: true,
      attachments,
      // The phone number, when known, addresses the reply as `to` (every Graph version takes it).
      ...(waId && PHONE.test(waId) ? { replyExtras: { waId } } : {}),
    },
    payload,
  );
  return { ok: true, payload, chat, whatsapp: extras, dedupeKey: m.id };
}
