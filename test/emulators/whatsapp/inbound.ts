/**
 * What users send, as the Cloud API webhook carries it: builders for the `messages[]` objects
 * (`make.*`, with `from` omitted for a user who withholds the number and `from_user_id` always
 * there), the notification around them (`object: whatsapp_business_account`, entry, changes,
 * metadata, contacts) and the X-Hub-Signature-256 signer.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { WhatsAppState } from './state';
import type { Json, PhoneItem, WhatsAppUser } from './types';

export type MediaKind = 'image' | 'video' | 'audio' | 'voice' | 'document' | 'sticker';

export interface MessageOptions {
  /** The message it replies to (context.id). */
  contextId?: string;
  /** Its wamid (default a new one). */
  id?: string;
  /** Unix seconds (default now). */
  timestamp?: number;
}

export interface WhatsAppBuilders {
  text(user: WhatsAppUser, body: string, opts?: MessageOptions): Json;
  /** A press of a reply button; the context defaults to the latest button message on the user's phone. */
  buttonReply(user: WhatsAppUser, reply: { id: string; title: string }, contextId?: string): Json;
  /** A pick from a list; the context defaults to the latest list message on the user's phone. */
  listReply(user: WhatsAppUser, reply: { id: string; title: string; description?: string }, contextId?: string): Json;
  /** Media the user sent: the bytes are stored, `GET /{id}` and its URL serve them. Default: 256 random bytes. */
  media(user: WhatsAppUser, kind: MediaKind, opts?: { bytes?: Buffer; mimeType?: string; caption?: string; filename?: string }): Json;
  location(user: WhatsAppUser, loc: { latitude: number; longitude: number; name?: string; address?: string; url?: string }): Json;
  contacts(user: WhatsAppUser, contacts: Json[]): Json;
  reaction(user: WhatsAppUser, messageId: string, emoji: string): Json;
  /** A message type the Cloud API does not support (`unsupported` with error 131051). */
  unsupported(user: WhatsAppUser): Json;
  /** A template quick-reply press (`type: button`); the context defaults to the latest template with buttons. */
  button(user: WhatsAppUser, payload: string, text?: string, contextId?: string): Json;
}

export interface NotificationParts {
  messages?: Json[];
  statuses?: Json[];
  errors?: Json[];
  /** The contacts[] (default: the senders of `messages`). */
  users?: WhatsAppUser[];
}

export const DEFAULT_MIME: Record<MediaKind, string> = {
  image: 'image/jpeg',
  video: 'video/mp4',
  audio: 'audio/mpeg',
  voice: 'audio/ogg; codecs=opus',
  document: 'application/pdf',
  sticker: 'image/webp',
};

export function hubSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function contactOf(user: WhatsAppUser): Json {
  return { profile: { name: user.name, ...(user.username !== undefined ? { username: user.username } : {}) }, ...(user.waId ? { wa_id: user.waId } : {}), user_id: user.userId };
}

export function createInbound(state: WhatsAppState, meta: { wabaId: string }) {
  const seconds = (): number => Math.floor(Date.now() / 1000);

  function contextOf(contextId: string): Json {
    const m = state.messages.get(contextId);
    if (m?.direction === 'in') {
      const u = state.users.get(m.userKey)?.user;
      return { from: u?.waId ?? m.userKey, id: contextId };
    }
    return { from: state.displayPhoneNumber, id: contextId };
  }

  function base(user: WhatsAppUser, type: string, opts: MessageOptions = {}): Json {
    const rec = state.record(user);
    const u = rec.user;
    const id = opts.id ?? state.messageId(u.waId ?? u.userId);
    state.messages.set(id, { id, direction: 'in', userKey: u.userId, ...(u.waId ? { from: u.waId } : {}) });
    return {
      ...(opts.contextId ? { context: contextOf(opts.contextId) } : {}),
      ...(u.waId ? { from: u.waId } : {}),
      from_user_id: u.userId,
      id,
      timestamp: String(opts.timestamp ?? seconds()),
      type,
    };
  }

  function latest(user: WhatsAppUser, pred: (i: PhoneItem) => boolean, what: string): string {
    const item = [...state.record(user).items].reverse().find(pred);
    if (!item) throw new Error(`make: ${user.name} has no ${what} on the phone to answer (send one first, or pass contextId)`);
    return item.id;
  }

  const make: WhatsAppBuilders = {
    text: (user, body, opts = {}) => ({ ...base(user, 'text', opts), text: { body } }),
    buttonReply(user, reply, contextId) {
      const ctx = contextId ?? latest(user, (i) => i.type === 'interactive' && !!i.buttons, 'button message');
      return { ...base(user, 'interactive', { contextId: ctx }), interactive: { type: 'button_reply', button_reply: { id: reply.id, title: reply.title } } };
    },
    listReply(user, reply, contextId) {
      const ctx = contextId ?? latest(user, (i) => !!i.list, 'list message');
      return { ...base(user, 'interactive', { contextId: ctx }), interactive: { type: 'list_reply', list_reply: { id: reply.id, title: reply.title, ...(reply.description !== undefined ? { description: reply.description } : {}) } } };
    },
    media(user, kind, opts = {}) {
      const bytes = opts.bytes ?? randomBytes(256);
      const mimeType = opts.mimeType ?? DEFAULT_MIME[kind];
      const filename = kind === 'document' ? (opts.filename ?? 'document.pdf') : opts.filename;
      const m = state.storeMedia(bytes, mimeType, filename, false);
      const type = kind === 'voice' ? 'audio' : kind;
      const media: Json = {
        ...(opts.caption !== undefined ? { caption: opts.caption } : {}),
        ...(type === 'document' && filename !== undefined ? { filename } : {}),
        mime_type: mimeType,
        // The webhook carries the digest in base64 (GET /{media-id} answers it in hex).
        sha256: Buffer.from(m.sha256, 'hex').toString('base64'),
        id: m.id,
        ...(kind === 'voice' ? { voice: true } : {}),
      };
      return { ...base(user, type), [type]: media };
    },
    location: (user, loc) => ({ ...base(user, 'location'), location: { ...loc } }),
    contacts: (user, contacts) => ({ ...base(user, 'contacts'), contacts }),
    reaction: (user, messageId, emoji) => ({ ...base(user, 'reaction'), reaction: { message_id: messageId, emoji } }),
    unsupported: (user) => ({
      ...base(user, 'unsupported'),
      errors: [{ code: 131051, title: 'Message type unknown', message: 'Message type unknown', error_data: { details: 'Message type is currently not supported.' } }],
      unsupported: { type: 'unknown' },
    }),
    button(user, payload, text = payload, contextId) {
      const ctx = contextId ?? latest(user, (i) => i.type === 'template' && !!i.buttons, 'template with quick replies');
      return { ...base(user, 'button', { contextId: ctx }), button: { payload, text } };
    },
  };

  function notification(parts: NotificationParts): Json {
    const value: Json = { messaging_product: 'whatsapp', metadata: { display_phone_number: state.displayPhoneNumber, phone_number_id: state.phoneNumberId } };
    if (parts.messages) {
      const users: WhatsAppUser[] = parts.users ? [...parts.users] : [];
      if (!parts.users) {
        for (const m of parts.messages) {
          const u = typeof m.from_user_id === 'string' ? state.users.get(m.from_user_id)?.user : typeof m.from === 'string' ? state.byWaId(m.from)?.user : undefined;
          if (u && !users.includes(u)) users.push(u);
        }
      }
      value.contacts = users.map(contactOf);
      value.messages = parts.messages;
    }
    if (parts.statuses) value.statuses = parts.statuses;
    if (parts.errors) value.errors = parts.errors;
    return { object: 'whatsapp_business_account', entry: [{ id: meta.wabaId, changes: [{ value, field: 'messages' }] }] };
  }

  return { make, notification };
}
