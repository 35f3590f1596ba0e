/**
 * The image or document a reply carries: `msg.image` (or `msg.photo`) and `msg.document` (or
 * `msg.file`), each an https URL (sent as a link: Meta fetches it) or bytes (a Buffer, uploaded
 * through the media endpoint first), named by `msg.filename`. WhatsApp takes JPEG and PNG images
 * up to 5 MB and documents up to 100 MB.
 */
import type { Result } from '../core/envelope';
import { bytesOf } from '../core/kit/out-bytes';

export interface OutMedia {
  kind: 'image' | 'document';
  link?: string;
  data?: Buffer;
  filename?: string;
  mimeType: string;
}

const LIMITS = { image: 5 * 1024 * 1024, document: 100 * 1024 * 1024 } as const;
const FIELDS = [
  ['image', 'image'],
  ['photo', 'image'],
  ['document', 'document'],
  ['file', 'document'],
] as const;

const DOC_TYPES: Record<string, string> = {
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};

function imageType(b: Buffer): string | undefined {
  if (b.length > 3 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b.length > 2 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  return undefined;
}

export function readOutMedia(msg: Record<string, unknown>): Result<OutMedia | undefined> {
  const present = FIELDS.filter(([k]) => msg[k] !== undefined && msg[k] !== null);
  if (present.length === 0) return { ok: true, value: undefined };
  if (present.length > 1) return { ok: false, error: `msg.${present.map(([k]) => k).join(' and msg.')}: send one image or document per message` };
  const [name, kind] = present[0];
  const value = msg[name];
  const given = typeof msg.filename === 'string' && msg.filename.trim() ? msg.filename.trim().slice(0, 240) : undefined;
  if (typeof value === 'string') {
    if (!/^https:\/\/\S{1,2000}$/i.test(value.trim())) return { ok: false, error: `msg.${name}: expected an https:// URL (Meta fetches it) or a Buffer` };
    const ext = /\.([a-z0-9]{2,5})(?:[?#]|$)/i.exec(value)?.[1]?.toLowerCase();
    return { ok: true, value: { kind, link: value.trim(), mimeType: kind === 'image' ? 'image/jpeg' : (DOC_TYPES[ext ?? ''] ?? 'application/pdf'), ...(given ? { filename: given } : {}) } };
  }
  const data = bytesOf(value);
  if (!data) return { ok: false, error: `msg.${name}: expected an https:// URL or a Buffer` };
  if (data.length === 0) return { ok: false, error: `msg.${name}: the file is empty` };
  if (data.length > LIMITS[kind]) return { ok: false, error: `msg.${name}: ${data.length} bytes is over WhatsApp's ${LIMITS[kind] / 1024 / 1024} MB ${kind} limit` };
  if (kind === 'image') {
    const type = imageType(data);
    if (!type) return { ok: false, error: `msg.${name}: WhatsApp takes JPEG or PNG images` };
    return { ok: true, value: { kind, data, mimeType: type, filename: given ?? (type === 'image/png' ? 'image.png' : 'image.jpg') } };
  }
  const ext = /\.([a-z0-9]{2,5})$/i.exec(given ?? '')?.[1]?.toLowerCase();
  const explicit = typeof msg.mimeType === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(msg.mimeType) ? msg.mimeType : undefined;
  return { ok: true, value: { kind, data, mimeType: explicit ?? DOC_TYPES[ext ?? ''] ?? 'application/octet-stream', filename: given ?? 'file' } };
}
