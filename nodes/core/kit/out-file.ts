/**
 * The file a reply carries, the same on every platform that uploads files: `msg.file` (or
 * `msg.document` / `msg.photo`) as bytes (read by bytesOf, which also takes a Buffer that went
 * through JSON) or as the text of a file, named by `msg.filename` and titled by `msg.title`. Each
 * platform gives its upload limit.
 */
import type { Result } from '../envelope';
import { bytesOf } from './out-bytes';

export interface OutFile {
  filename: string;
  /** Bytes, or the text of a snippet. */
  data: Buffer;
  title?: string;
}

export interface OutFileRules {
  /** The platform's name, for the error text. */
  platform: string;
  maxBytes: number;
}

const FIELDS = ['file', 'document', 'photo'] as const;

export function readOutFile(msg: { file?: unknown; document?: unknown; photo?: unknown; filename?: unknown; title?: unknown }, rules: OutFileRules): Result<OutFile | undefined> {
  const present = FIELDS.filter((k) => msg[k] !== undefined && msg[k] !== null);
  if (present.length === 0) return { ok: true, value: undefined };
  if (present.length > 1) return { ok: false, error: `msg.${present.join(' and msg.')}: send one file per message` };
  const name = present[0];
  const value = msg[name];
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : bytesOf(value);
  if (!data) return { ok: false, error: `msg.${name}: expected a Buffer (or the text of a file); a URL is not uploaded, put it in the text` };
  if (data.length === 0) return { ok: false, error: `msg.${name}: the file is empty` };
  if (data.length > rules.maxBytes) return { ok: false, error: `msg.${name}: ${data.length} bytes is over ${rules.platform}'s ${Math.round(rules.maxBytes / 1024 / 1024)} MB upload limit` };
  const given = typeof msg.filename === 'string' && msg.filename.trim() ? msg.filename.trim() : undefined;
  const filename = given ?? (name === 'photo' ? 'image.png' : typeof value === 'string' ? 'reply.txt' : 'file');
  const title = typeof msg.title === 'string' && msg.title.trim() ? msg.title.trim().slice(0, 255) : undefined;
  return { ok: true, value: { filename: filename.slice(0, 255), data, ...(title ? { title } : {}) } };
}
