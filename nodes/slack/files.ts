/**
 * Files in and out. In: a Slack file as an envelope attachment (its id and metadata, never
 * url_private: that URL is only useful with the bot token, and the envelope is copied to debug,
 * logs and stores), and the optional download of its bytes with the bot token — from Slack's own
 * file host only, so a forged event can never make us send the token elsewhere. Out: the file of
 * a reply (`msg.file` / `msg.document` / `msg.photo`: bytes, or text content) for files.uploadV2.
 */
import type { Attachment } from '../core/envelope';
import { fetchCapped, type DownloadedFile, type DownloadResult } from '../core/kit/capped-fetch';
import { bytesOf } from '../core/kit/out-bytes';
import type { Result } from '../core/envelope';
import type { SlackFileInfo } from './event-schema';

/** What Slack serves to a bot per file is large; the operator's limit decides, capped here. */
export const SLACK_DOWNLOAD_LIMIT = 100 * 1024 * 1024;
/** Slack accepts uploads up to 1 GB; a flow holding more than this in memory is a mistake. */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

function kindOf(f: SlackFileInfo): string {
  const mime = f.mimetype ?? '';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('video/')) return 'video';
  return 'file';
}

export function attachmentsOf(files: readonly SlackFileInfo[] | undefined): Attachment[] {
  return (files ?? []).map((f) => ({
    kind: kindOf(f),
    fileId: f.id,
    ...(f.name ? { name: f.name } : f.title ? { name: f.title } : {}),
    ...(f.mimetype ? { mimeType: f.mimetype } : {}),
    ...(f.size !== undefined ? { size: f.size } : {}),
  }));
}

/**
 * The origins a download may go to: Slack's file hosts for slack.com, or the API base's own host
 * (and its `files.` host) when the app talks to another Slack (GovSlack, an emulator).
 */
export function fileOrigins(apiRoot: string | undefined): string[] {
  if (!apiRoot) return ['https://files.slack.com'];
  try {
    const u = new URL(apiRoot);
    return [u.origin, `${u.protocol}//files.${u.host}`];
  } catch {
    return [];
  }
}

export function isAllowedFileUrl(url: string, origins: readonly string[]): boolean {
  try {
    return origins.includes(new URL(url).origin);
  } catch {
    return false;
  }
}

/** Downloads a file with the bot token; the URL and the token stay inside this call. */
export async function downloadFile(url: string, token: string, origins: readonly string[], maxBytes: number): Promise<DownloadResult> {
  if (!isAllowedFileUrl(url, origins)) return { ok: false, reason: 'failed', message: 'not a Slack file URL' };
  return fetchCapped(url, { maxBytes, headers: { Authorization: `Bearer ${token}` }, redirect: 'error' });
}

/**
 * Slack answers a download it refuses (no files:read scope, a revoked token) with its sign-in
 * page and status 200; an HTML answer for a file that is not HTML is that page.
 */
export function isSignInPage(result: DownloadResult & { ok: true }, expectedMime: string | undefined): boolean {
  return (result.contentType ?? '').startsWith('text/html') && !(expectedMime ?? '').startsWith('text/html');
}

/** A file to upload with a reply. */
export interface OutFile {
  filename: string;
  /** Bytes, or the text of a snippet. */
  data: Buffer;
  title?: string;
}

/** Reads the file of a reply: `msg.file` (or `msg.document` / `msg.photo`) as bytes or text, named by `msg.filename`. */
export function readOutFile(msg: { file?: unknown; document?: unknown; photo?: unknown; filename?: unknown; title?: unknown }): Result<OutFile | undefined> {
  const fields = (['file', 'document', 'photo'] as const).filter((k) => msg[k] !== undefined && msg[k] !== null);
  if (fields.length === 0) return { ok: true, value: undefined };
  if (fields.length > 1) return { ok: false, error: `msg.${fields.join(' and msg.')}: send one file per message` };
  const field = fields[0];
  const value = msg[field];
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : bytesOf(value);
  if (!data) return { ok: false, error: `msg.${field}: expected a Buffer (or the text of a file); a URL is not uploaded, put it in the text` };
  if (data.length === 0) return { ok: false, error: `msg.${field}: the file is empty` };
  if (data.length > MAX_UPLOAD_BYTES) return { ok: false, error: `msg.${field}: ${data.length} bytes is over the ${MAX_UPLOAD_BYTES / 1024 / 1024} MB chatgate uploads at most` };
  const given = typeof msg.filename === 'string' && msg.filename.trim() ? msg.filename.trim() : undefined;
  const filename = given ?? (field === 'photo' ? 'image.png' : typeof value === 'string' ? 'reply.txt' : 'file');
  const title = typeof msg.title === 'string' && msg.title.trim() ? msg.title.trim().slice(0, 255) : undefined;
  return { ok: true, value: { filename: filename.slice(0, 255), data, ...(title ? { title } : {}) } };
}

export type { DownloadedFile };
