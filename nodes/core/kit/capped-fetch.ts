/**
 * Downloads bytes with a size cap, refusing anything larger before and while reading, with a
 * timeout, and saying what failed without the URL (platform file URLs can carry a token, and a
 * fetch error's message can carry the URL). Every in node that downloads attachments uses it.
 */

/** A downloaded attachment as in nodes put it in `msg.files`. */
export interface DownloadedFile {
  kind: string;
  fileId: string;
  name?: string;
  mimeType?: string;
  size: number;
  data: Buffer;
}

export type DownloadFailure = { ok: false; reason: 'tooLarge' | 'failed'; message?: string };
export type DownloadResult = { ok: true; data: Buffer; contentType?: string } | DownloadFailure;

export interface CappedFetchOptions {
  maxBytes: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** 'error' for requests that carry a credential: it must never follow a redirect to another host. */
  redirect?: 'follow' | 'error';
}

export async function fetchCapped(url: string, opts: CappedFetchOptions): Promise<DownloadResult> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 30000), ...(opts.headers ? { headers: opts.headers } : {}), redirect: opts.redirect ?? 'follow' });
    if (!res.ok || !res.body) return { ok: false, reason: 'failed', message: `HTTP ${res.status}` };
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      await res.body.cancel().catch(() => undefined);
      return { ok: false, reason: 'tooLarge' };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > opts.maxBytes) return { ok: false, reason: 'tooLarge' };
      chunks.push(Buffer.from(chunk));
    }
    const contentType = res.headers.get('content-type') ?? undefined;
    return { ok: true, data: Buffer.concat(chunks, size), ...(contentType ? { contentType } : {}) };
  } catch (err) {
    return downloadFailure(err);
  }
}

/** A failed download as a reason that says less than the error: its message can hold the URL. */
export function downloadFailure(err: unknown): DownloadFailure {
  const name = (err as Error | null)?.name;
  return { ok: false, reason: 'failed', message: name === 'TimeoutError' ? 'timeout' : typeof name === 'string' && name ? name : 'error' };
}
