/**
 * What an out node reads from a reply message: the text, the address, and whether it is a
 * streamed part, a typing signal or the whole reply.
 */
import { z } from 'zod';
import { describeIssues, ReplyToSchema, StreamSchema, type ReplyTo, type Result, type StreamInfo } from './envelope';

const OutboundSchema = z.object({
  chat: z.looseObject({ replyTo: ReplyToSchema }, { error: 'missing (a reply needs msg.chat.replyTo; put a reply router before this node)' }),
  stream: StreamSchema.optional(),
  event: z.string().optional(),
});

export interface Outbound {
  /** Markdown text; empty for a typing event. */
  text: string;
  replyTo: ReplyTo;
  stream?: StreamInfo;
  /** 'typing' while the agent works; undefined for a reply. */
  event?: string;
  threadId?: string;
}

/** A reply's text: a string payload, or `{ text }`; numbers and booleans are shown as text. */
export function replyText(payload: unknown): string | undefined {
  if (typeof payload === 'string') return payload;
  if (typeof payload === 'number' || typeof payload === 'boolean') return String(payload);
  if (payload && typeof payload === 'object' && typeof (payload as { text?: unknown }).text === 'string') {
    return (payload as { text: string }).text;
  }
  return undefined;
}

export function readOutbound(msg: { payload?: unknown; chat?: unknown; stream?: unknown; event?: unknown; thread?: unknown }): Result<Outbound> {
  const parsed = OutboundSchema.safeParse({ chat: msg.chat, stream: msg.stream, event: msg.event });
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error) };
  const { chat, stream, event } = parsed.data;
  const threadId = (msg.thread as { id?: unknown } | undefined)?.id;
  const base = { replyTo: chat.replyTo, stream, event, threadId: typeof threadId === 'string' ? threadId : undefined };
  if (event) return { ok: true, value: { ...base, text: '' } };
  const text = replyText(msg.payload);
  if (text === undefined) return { ok: false, error: 'msg.payload: expected the reply text (a string or { text })' };
  return { ok: true, value: { ...base, text } };
}
