/**
 * Posting a message exactly once when the answer to a post can be lost. Slack has no idempotency
 * key for chat.postMessage: a post whose answer never came (the socket closed after the request
 * went out, a timeout, a 5xx) may or may not be in the channel. Calling again blindly posts the
 * reply twice when it was; giving up loses it when it was not. So each post carries a random id
 * in its message metadata, and after an uncertain failure we LOOK: the channel's history (or the
 * thread's replies) either holds a message with that id — then it was posted, and that is its
 * ts — or it does not, and only then is it posted again. A lookup that fails itself ends in the
 * uncertain error: a reply the operator is told about beats a reply shown twice.
 */
import { randomUUID } from 'node:crypto';
import { field, textField } from '../core/error-text';
import { UncertainError } from './send-errors';
import type { WebCalls } from './web-calls';

export const REPLY_EVENT_TYPE = 'chatgate_reply';

export interface PostOnceOptions {
  /** Posts again at most this often after an uncertain failure (every uncertain post is looked for, the last one too). */
  attempts: number;
  /** Pause before a lookup, so a post that is still being processed has landed. */
  settleMs: number;
}

export const POST_ONCE_DEFAULTS: PostOnceOptions = { attempts: 3, settleMs: 300 };

export interface Posted {
  channel: string;
  ts: string;
}

type Message = Record<string, unknown>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function metadataId(m: Message): string | undefined {
  const meta = field(m, 'metadata');
  if (textField(meta, 'event_type') !== REPLY_EVENT_TYPE) return undefined;
  return textField(field(meta, 'event_payload'), 'id');
}

/** The recent messages of a channel (or of one thread), newest and oldest alike; undefined when the lookup fails. */
export async function recentMessages(calls: WebCalls, channel: string, threadTs: string | undefined): Promise<Message[] | undefined> {
  try {
    const r = threadTs
      ? await calls.call('conversations.replies', { channel, ts: threadTs, limit: 200, include_all_metadata: true }, { idempotent: true, optional: true })
      : await calls.call('conversations.history', { channel, limit: 50, include_all_metadata: true }, { idempotent: true, optional: true });
    const list = field(r, 'messages');
    return Array.isArray(list) ? (list.filter((m) => m && typeof m === 'object') as Message[]) : undefined;
  } catch {
    return undefined;
  }
}

/** chat.postMessage, once: see the module comment. `args` must name `channel`; `thread_ts` when in a thread. */
export async function postOnce(calls: WebCalls, args: Record<string, unknown> & { channel: string; thread_ts?: string }, opts: PostOnceOptions = POST_ONCE_DEFAULTS): Promise<Posted> {
  const id = randomUUID();
  const body = { ...args, metadata: { event_type: REPLY_EVENT_TYPE, event_payload: { id } } };
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await calls.call('chat.postMessage', body);
      return { channel: textField(r, 'channel') ?? args.channel, ts: textField(r, 'ts') ?? '' };
    } catch (err) {
      if (!(err instanceof UncertainError)) throw err;
      // Looked for after the last post too: a reply said to be missing must not be in the channel.
      await sleep(opts.settleMs);
      const seen = await recentMessages(calls, args.channel, args.thread_ts);
      if (!seen) throw err;
      const found = seen.find((m) => metadataId(m) === id);
      const ts = found && textField(found, 'ts');
      if (ts) return { channel: args.channel, ts };
      // Not in the channel: that post never happened, so posting again cannot double it.
      if (attempt >= opts.attempts) throw err;
    }
  }
}
