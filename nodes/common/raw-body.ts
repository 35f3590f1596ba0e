/**
 * Reads a request body as raw bytes with a size cap, so a signature is checked over exactly the
 * bytes the sender signed and an oversized body is refused without being buffered.
 */
import type { IncomingMessage } from 'node:http';

export type RawBody = { ok: true; body: Buffer } | { ok: false; reason: 'too-large' | 'aborted' };

export function readRawBody(req: IncomingMessage & { body?: unknown }, maxBytes: number): Promise<RawBody> {
  // Middleware earlier in the chain (an httpNodeMiddleware, Node-RED's own raw capture) may already
  // have consumed the stream; its buffer is then the only copy of the raw bytes.
  if (req.readableEnded) {
    let body: Buffer;
    if (Buffer.isBuffer(req.body)) body = req.body;
    else if (typeof req.body === 'string') body = Buffer.from(req.body);
    // Parsed JSON from a parser we could not get ahead of: the nearest thing to the bytes sent
    // (an HMAC over it will not match unless the sender sent compact JSON).
    else if (req.body && typeof req.body === 'object') body = Buffer.from(JSON.stringify(req.body));
    else body = Buffer.alloc(0);
    return Promise.resolve(body.length > maxBytes ? { ok: false, reason: 'too-large' } : { ok: true, body });
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve({ ok: false, reason: 'too-large' });

  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: RawBody) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      if (!result.ok) req.resume(); // discard the rest; the response still goes out
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish({ ok: false, reason: 'too-large' });
      chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: Buffer.concat(chunks, size) });
    const onError = () => finish({ ok: false, reason: 'aborted' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}
