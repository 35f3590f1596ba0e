/**
 * What the emulated WhatsApp knows: the users (a phone number `wa_id` when they share it, always a
 * business-scoped user id), each user's 24-hour window and pair-rate clock, what each phone shows,
 * every message id (theirs and the business's), and the media store (uploads and inbound media,
 * served behind the token).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { PhoneItem, UploadRecord, WhatsAppUser } from './types';

export const WINDOW_MS = 24 * 3600_000;

export interface UserRecord {
  user: WhatsAppUser;
  /** When the user last wrote (ms); undefined: never. */
  lastInboundAt?: number;
  /** When the last message to the user was accepted (ms). */
  lastAcceptedAt?: number;
  items: PhoneItem[];
}

export interface MessageRecord {
  id: string;
  direction: 'in' | 'out';
  userKey: string;
  /** For inbound ones: the sender's wa_id (context.from of a reply to it). */
  from?: string;
}

export interface MediaRecord extends UploadRecord {
  sha256: string;
  /** An upload through the API (false: media a user sent). */
  uploaded: boolean;
}

export class WhatsAppState {
  readonly users = new Map<string, UserRecord>();
  readonly messages = new Map<string, MessageRecord>();
  readonly media = new Map<string, MediaRecord>();
  baseUrl = '';
  private userSeq = 0;
  private mediaSeq = 0;
  private readonly urlKey = randomBytes(16);

  constructor(
    readonly phoneNumberId: string,
    readonly displayPhoneNumber: string,
  ) {}

  addUser(u: Partial<WhatsAppUser> & { withheld?: boolean } = {}): WhatsAppUser {
    const existing = (u.userId && this.users.get(u.userId)) || (u.waId && this.byWaId(u.waId));
    if (existing) {
      if (u.name) existing.user.name = u.name;
      if (u.username) existing.user.username = u.username;
      return existing.user;
    }
    this.userSeq += 1;
    const n = this.userSeq;
    const withheld = u.withheld === true;
    const waId = withheld ? undefined : (u.waId ?? `1555123${String(n).padStart(4, '0')}`);
    const user: WhatsAppUser = {
      name: u.name ?? `User ${n}`,
      ...(waId ? { waId } : {}),
      userId: u.userId ?? `US.${String(1000000000000000 + n)}`,
      ...(u.username !== undefined ? { username: u.username } : withheld ? { username: `user_${n}` } : {}),
    };
    this.users.set(user.userId, { user, items: [] });
    return user;
  }

  byWaId(waId: string): UserRecord | undefined {
    for (const r of this.users.values()) if (r.user.waId === waId) return r;
    return undefined;
  }

  /** The record of a user object a test holds (by BSUID, else by wa_id). */
  record(user: WhatsAppUser): UserRecord {
    const r = this.users.get(user.userId) ?? (user.waId ? this.byWaId(user.waId) : undefined);
    if (!r) throw new Error(`unknown WhatsApp user ${user.userId}${user.waId ? ` (${user.waId})` : ''}: add it with addUser()`);
    return r;
  }

  /** A number nobody added: Meta accepts any WhatsApp number; it has never written, so its window is closed. */
  stranger(waId: string): UserRecord {
    return this.record(this.addUser({ waId, name: `+${waId}` }));
  }

  messageId(seed: string): string {
    const digits = Buffer.from(seed);
    const body = Buffer.concat([Buffer.from([0x18, digits.length]), digits, Buffer.from([0x15, 0x02, 0x00, 0x11, 0x18, 0x12]), Buffer.from(randomBytes(9).toString('hex').toUpperCase()), Buffer.from([0x00])]);
    return `wamid.HB${body.toString('base64')}`;
  }

  mediaId(): string {
    this.mediaSeq += 1;
    return `${Math.floor(Date.now() / 1000)}${String(100000 + (this.mediaSeq % 900000)).padStart(6, '0')}`;
  }

  storeMedia(bytes: Buffer, mimeType: string, filename: string | undefined, uploaded: boolean): MediaRecord {
    const m: MediaRecord = { id: this.mediaId(), mimeType, ...(filename !== undefined ? { filename } : {}), bytes, sha256: createHash('sha256').update(bytes).digest('hex'), uploaded };
    this.media.set(m.id, m);
    return m;
  }

  /** The short-lived lookaside URL of a media (5 minutes, like Meta's). */
  mediaUrl(id: string, now = Date.now()): string {
    const ext = String(Math.floor(now / 1000) + 300);
    return `${this.baseUrl}/lookaside/${id}?ext=${ext}&hash=${this.urlHash(id, ext)}`;
  }

  urlHash(id: string, ext: string): string {
    return createHmac('sha256', this.urlKey).update(`${id}:${ext}`).digest('base64url').slice(0, 27);
  }
}
