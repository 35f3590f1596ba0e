/**
 * Reply routing: which output a reply leaves by, and where its address comes from (the reply
 * itself, or the reply listener of its thread).
 */
import { isCheckedReplyTo, PLATFORMS, ReplyToSchema, type Platform, type ReplyTo } from './envelope';
import type { ListenerLookup } from './reply-listeners';

/** One output per platform, in this order, then `unroutable`. */
export const ROUTER_OUTPUTS: readonly Platform[] = PLATFORMS;
export const UNROUTABLE_OUTPUT = ROUTER_OUTPUTS.length;

export type Route =
  | { ok: true; output: number; address: ReplyTo; from: 'message' | 'listener' }
  | { ok: false; reason: string };

/** The thread whose listener routing will need: set only when the reply carries no address of its own. */
export function listenerThreadId(msg: { chat?: unknown; thread?: unknown }): string | undefined {
  if ((msg.chat as { replyTo?: unknown } | undefined)?.replyTo !== undefined) return undefined;
  const threadId = (msg.thread as { id?: unknown } | undefined)?.id;
  return typeof threadId === 'string' && threadId ? threadId : undefined;
}

export function routeReply(
  msg: { chat?: unknown; thread?: unknown },
  lookup: ((threadId: string) => ListenerLookup) | undefined,
): Route {
  const replyTo = (msg.chat as { replyTo?: unknown } | undefined)?.replyTo;
  if (replyTo !== undefined) {
    // The address of a chat checked upstream (the common case: a reply to an inbound message).
    if (isCheckedReplyTo(msg.chat, replyTo)) return { ok: true, output: ROUTER_OUTPUTS.indexOf(replyTo.platform), address: replyTo, from: 'message' };
    const parsed = ReplyToSchema.safeParse(replyTo);
    if (parsed.success) return { ok: true, output: ROUTER_OUTPUTS.indexOf(parsed.data.platform), address: parsed.data, from: 'message' };
    return { ok: false, reason: `msg.chat.replyTo is not a reply address (${parsed.error.issues[0]?.path.join('.') || 'shape'}: ${parsed.error.issues[0]?.message})` };
  }
  const threadId = (msg.thread as { id?: unknown } | undefined)?.id;
  if (typeof threadId !== 'string' || !threadId) {
    return { ok: false, reason: 'no address: the reply has neither msg.chat.replyTo nor msg.thread.id' };
  }
  if (!lookup) return { ok: false, reason: `no gateway to look up thread ${threadId}` };
  const found = lookup(threadId);
  if (!found.ok) {
    return {
      ok: false,
      reason: found.reason === 'expired' ? `the reply listener of thread ${threadId} expired` : `no reply listener for thread ${threadId}`,
    };
  }
  return { ok: true, output: ROUTER_OUTPUTS.indexOf(found.address.platform), address: found.address, from: 'listener' };
}
