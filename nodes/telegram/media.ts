/**
 * Telegram media as envelope attachments (file id and metadata, never a URL: Telegram's download
 * URLs carry the bot token), and the optional download of the bytes, capped in size (the kit's
 * fetchCapped).
 */
import type { Attachment } from '../core/envelope';
import { downloadFailure, fetchCapped, type DownloadedFile, type DownloadFailure } from '../core/kit/capped-fetch';
import type { TgMessage } from './update-schema';

/** Telegram's Bot API serves at most 20 MB per file (a self-hosted server serves more). */
export const TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024;

/** From a parsed message (update-schema.ts): every file here has a string file_id, every location is on the globe. */
export function attachmentsOf(m: TgMessage): Attachment[] {
  const out: Attachment[] = [];
  if (m.photo && m.photo.length) {
    // Telegram lists the sizes smallest first; the last is the original.
    const p = m.photo.reduce((a, b) => (b.width * b.height >= a.width * a.height ? b : a));
    out.push({ kind: 'photo', fileId: p.file_id, mimeType: 'image/jpeg', ...(p.file_size !== undefined ? { size: p.file_size } : {}) });
  }
  const files: Array<['document' | 'voice' | 'audio' | 'video' | 'video_note' | 'animation' | 'sticker', { file_id: string; file_size?: number; mime_type?: string; file_name?: string } | undefined]> = [
    ['animation', m.animation],
    ['document', m.animation ? undefined : m.document], // an animation also comes as a document
    ['voice', m.voice],
    ['audio', m.audio],
    ['video', m.video],
    ['video_note', m.video_note],
    ['sticker', m.sticker],
  ];
  for (const [kind, f] of files) {
    if (!f) continue;
    out.push({
      kind,
      fileId: f.file_id,
      ...(f.file_name ? { name: f.file_name } : {}),
      ...(f.mime_type ? { mimeType: f.mime_type } : kind === 'sticker' ? { mimeType: 'image/webp' } : {}),
      ...(f.file_size !== undefined ? { size: f.file_size } : {}),
    });
  }
  const loc = m.venue?.location ?? m.location;
  if (loc) out.push({ kind: 'location', url: `geo:${loc.latitude},${loc.longitude}`, ...(m.venue ? { name: m.venue.title } : {}) });
  return out;
}

export type { DownloadedFile };

/** What the in node needs to fetch a file; the URL never leaves this module's caller. */
export interface FileSource {
  getFile(fileId: string): Promise<{ file_path?: string; file_size?: number }>;
  fileUrl(filePath: string): string;
}

export type DownloadResult = { ok: true; file: DownloadedFile } | DownloadFailure;

/** Downloads one attachment's bytes, refusing anything over `maxBytes` before and while reading. */
export async function download(a: Attachment, source: FileSource, maxBytes: number, timeoutMs = 30000): Promise<DownloadResult> {
  if (!a.fileId) return { ok: false, reason: 'failed', message: 'no file id' };
  if (a.size !== undefined && a.size > maxBytes) return { ok: false, reason: 'tooLarge' };
  try {
    const info = await source.getFile(a.fileId);
    if (info.file_size !== undefined && info.file_size > maxBytes) return { ok: false, reason: 'tooLarge' };
    if (!info.file_path) return { ok: false, reason: 'failed', message: 'no file_path' };
    // The URL holds the token: it goes to fetchCapped and nowhere else.
    const r = await fetchCapped(source.fileUrl(info.file_path), { maxBytes, timeoutMs });
    if (!r.ok) return r;
    const file = { kind: a.kind, fileId: a.fileId, ...(a.name ? { name: a.name } : {}), ...(a.mimeType ? { mimeType: a.mimeType } : {}), size: r.data.length, data: r.data };
    return { ok: true, file };
  } catch (err) {
    return downloadFailure(err);
  }
}
