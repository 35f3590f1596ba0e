/**
 * The web chat wire protocol: JSON frames over one WebSocket per page. Client frames come from
 * the open internet, so they are validated with zod before anything else reads them.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { describeIssues, type Result } from '../core/envelope';
import type { Outbound } from '../core/outbound';

/** Ids the page makes itself (crypto.randomUUID); anything else is refused, not cleaned up. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const MAX_TEXT_LENGTH = 8000;
export const MAX_PAYLOAD_BYTES = 64 * 1024;

const ClientId = z.string().regex(USER_ID_PATTERN, { error: 'expected 1-128 letters, digits, _ or -' });

export const ClientMessageSchema = z.object({
  type: z.literal('message'),
  id: ClientId,
  userId: ClientId,
  userName: z.string().trim().min(1).max(128).optional(),
  text: z
    .string()
    .max(MAX_TEXT_LENGTH)
    .refine((t) => t.trim().length > 0, { error: 'empty message' }),
});
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export type ServerFrame =
  | { type: 'hello'; title: string }
  | { type: 'ack'; id: string }
  | { type: 'reply'; id: string; text: string; streamId?: string; seq?: number; done?: boolean }
  | { type: 'typing' }
  | { type: 'error'; error: string; id?: string };

/** Parses one text frame; the error names the field (`frame.text: ...`) so the page can show it. */
export function parseClientFrame(raw: string): Result<ClientMessage> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'frame: not JSON' };
  }
  const parsed = ClientMessageSchema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, error: describeIssues(parsed.error, 'frame') };
}

/** The client id of a frame that failed validation, when it has a usable one, so the page can mark that message. */
export function frameId(raw: string): string | undefined {
  try {
    const id = (JSON.parse(raw) as { id?: unknown } | null)?.id;
    return typeof id === 'string' && USER_ID_PATTERN.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The frame a reply becomes; undefined for an event the page has no use for. */
export function frameFor(out: Outbound): ServerFrame | undefined {
  if (out.event) return out.event === 'typing' ? { type: 'typing' } : undefined;
  if (out.stream) {
    const { id, seq, done } = out.stream;
    return { type: 'reply', id, text: out.text, streamId: id, seq, done };
  }
  return { type: 'reply', id: randomUUID(), text: out.text };
}
