/**
 * Photos and documents out: `msg.photo` / `msg.document` as a URL (or a Telegram file id) or as
 * the bytes (read by the kit's bytesOf, which also takes a Buffer that went through JSON).
 */
import { InputFile } from 'grammy';
import type { Result } from '../core/envelope';
import { bytesOf } from '../core/kit/out-bytes';

export type MediaKind = 'photo' | 'document';

export interface OutMedia {
  kind: MediaKind;
  /** What the Bot API method takes: a URL or file id as a string, or an upload. */
  file: string | InputFile;
}

/** Telegram's upload limits for bots: photos 10 MB, other files 50 MB. */
const MAX_BYTES: Record<MediaKind, number> = { photo: 10 * 1024 * 1024, document: 50 * 1024 * 1024 };

/** Longest caption Telegram accepts, counted on the visible text like a message. */
export const MAX_CAPTION = 1024;

function readOne(kind: MediaKind, value: unknown, filename: unknown): Result<OutMedia> {
  const field = `msg.${kind}`;
  if (typeof value === 'string') {
    if (!value.trim()) return { ok: false, error: `${field}: empty` };
    return { ok: true, value: { kind, file: value.trim() } };
  }
  const bytes = bytesOf(value);
  if (!bytes) return { ok: false, error: `${field}: expected a URL, a Telegram file id or a Buffer` };
  if (bytes.length === 0) return { ok: false, error: `${field}: the Buffer is empty` };
  if (bytes.length > MAX_BYTES[kind]) {
    return { ok: false, error: `${field}: ${bytes.length} bytes is over Telegram's ${MAX_BYTES[kind] / 1024 / 1024} MB upload limit` };
  }
  const name = typeof filename === 'string' && filename.trim() ? filename.trim() : kind === 'photo' ? 'photo.jpg' : 'document';
  return { ok: true, value: { kind, file: new InputFile(bytes, name) } };
}

/** Reads the photo or document of a reply; undefined when there is none. */
export function readMedia(msg: { photo?: unknown; document?: unknown; filename?: unknown }): Result<OutMedia | undefined> {
  const hasPhoto = msg.photo !== undefined && msg.photo !== null;
  const hasDocument = msg.document !== undefined && msg.document !== null;
  if (hasPhoto && hasDocument) return { ok: false, error: 'msg.photo and msg.document: send one per message' };
  if (hasPhoto) return readOne('photo', msg.photo, msg.filename);
  if (hasDocument) return readOne('document', msg.document, msg.filename);
  return { ok: true, value: undefined };
}
