/**
 * Small HTTP helpers for the Slack emulator: bounded body reading, a multipart parser, and the
 * answers Slack's edge gives (JSON with a request id, an HTML 5xx page, the sign-in page a file
 * download without the token gets).
 */
import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import type { Json } from './types';

export const MAX_BODY = 60 * 1024 * 1024;

export const HTML_5XX = (status: number): string =>
  `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Slack | ${status === 503 ? 'Service Unavailable' : 'Server Error'}</title></head>` +
  `<body><h1>${status}</h1><p>Slack is having trouble right now. Please try again in a few moments.</p></body></html>\n`;

export const LOGIN_PAGE =
  '<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>' +
  '<body><div id="signin">Sign in to your workspace</div><form action="/signin" method="post"><input name="email"></form></body></html>\n';

export function parseMultipart(body: Buffer, boundary: string): Array<{ name?: string; filename?: string; data: Buffer }> {
  const parts: Array<{ name?: string; filename?: string; data: Buffer }> = [];
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delim, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2);
    const sep = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, sep).toString('utf8');
    parts.push({
      ...(/name="([^"]*)"/i.exec(head) ? { name: /name="([^"]*)"/i.exec(head)?.[1] } : {}),
      ...(/filename="([^"]*)"/i.exec(head) ? { filename: /filename="([^"]*)"/i.exec(head)?.[1] } : {}),
      data: Buffer.from(part.subarray(sep + 4)),
    });
    pos = next;
  }
  return parts;
}

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('aborted')));
  });
}

export function writeJson(res: http.ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-slack-req-id': randomBytes(16).toString('hex'), ...headers });
  res.end(text);
}

export function writeText(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
