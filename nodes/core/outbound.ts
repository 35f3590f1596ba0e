/**
 * What an out node reads from a reply message: the text, the address, and whether it is a
 * streamed part, a typing signal or the whole reply.
 */
import { z } from 'zod';
import { describeIssues, isCheckedReplyTo, ReplyToSchema, StreamSchema, type ReplyTo, type Result, type StreamInfo } from './envelope';

const OutboundSchema = z.object({
  chat: z.object({ replyTo: ReplyToSchema }, { error: 'missing (a reply needs msg.chat.replyTo; put a reply router before this node)' }),
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
  const replyTo = (msg.chat as { replyTo?: unknown } | undefined)?.replyTo;
  // A whole reply to a chat checked upstream needs no schema (see validateChat in the envelope).
  if (msg.stream === undefined && msg.event === undefined && isCheckedReplyTo(msg.chat, replyTo)) return withText(msg, replyTo, undefined, undefined);
  const parsed = OutboundSchema.safeParse({ chat: msg.chat, stream: msg.stream, event: msg.event });
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error) };
  const { chat, stream, event } = parsed.data;
  return withText(msg, chat.replyTo, stream, event);
}

function withText(msg: { payload?: unknown; thread?: unknown }, replyTo: ReplyTo, stream: StreamInfo | undefined, event: string | undefined): Result<Outbound> {
  const id = (msg.thread as { id?: unknown } | undefined)?.id;
  const threadId = typeof id === 'string' ? id : undefined;
  const text = event ? '' : replyText(msg.payload);
  if (text === undefined) return { ok: false, error: 'msg.payload: expected the reply text (a string or { text })' };
  return { ok: true, value: { replyTo, stream, event, threadId, text } };
}
