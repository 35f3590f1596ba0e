/**
 * Small HTTP helpers for the WhatsApp emulator: bounded body reading (what is over the bound is
 * drained and counted, so a too-big upload still gets Meta's JSON answer) and the answers with the
 * headers Graph puts on them.
 */
import type * as http from 'node:http';
import { fbtraceId } from './errors';

export function readBody(req: http.IncomingMessage, max: number): Promise<{ data: Buffer; size: number; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on('end', () => resolve({ data: Buffer.concat(chunks), size, truncated: size > max }));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('aborted')));
  });
}

export function writeJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': String(Buffer.byteLength(text)),
    'x-fb-trace-id': fbtraceId().slice(1, 12),
    'x-fb-request-id': fbtraceId(),
    ...headers,
  });
  res.end(text);
}

export function writeBytes(res: http.ServerResponse, status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}
