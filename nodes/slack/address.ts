/**
 * Where a reply goes on Slack, from the envelope's `msg.chat.replyTo`: the channel (a C…, G…, D…
 * id, or a user's U… id for a DM), the thread to post in (`thread_ts`), and what a native stream
 * in a channel needs to name its reader (recipient user and team).
 */
import type { ReplyTo, Result } from '../core/envelope';
import { keyOnly, type Translate } from './send-errors';

export interface SlackAddress {
  channel: string;
  /** The thread the reply goes in; undefined = the channel (or DM) itself. */
  threadTs?: string;
  /** The user the reply answers (recipient_user_id of a native stream). */
  userId?: string;
  teamId?: string;
  /** A thread in the app's DM: the AI-app surface (assistant status "is thinking…"). */
  assistantThread: boolean;
  /** One lane of the per-chat queue: Slack's rate limit (about one post a second) is per channel. */
  chatKey: string;
  /** The assistant status is per thread. */
  typingKey: string;
}

export interface AddressOptions {
  /** Top-level DM messages are answered in a thread under them (otherwise in the DM itself). */
  dmThreads: boolean;
}

const CHANNEL = /^[CDGUW][A-Z0-9]{2,40}$/;
export const TS = /^\d{1,12}\.\d{1,9}$/;

export function readAddress(replyTo: ReplyTo, opts: AddressOptions, t: Translate = keyOnly): Result<SlackAddress> {
  if (replyTo.platform !== 'slack') return { ok: false, error: t('slack-out.errors.wrongPlatform', { platform: replyTo.platform }) };
  const channel = replyTo.chatId.trim();
  if (!CHANNEL.test(channel)) return { ok: false, error: t('slack-out.errors.chatId', { value: JSON.stringify(channel) }) };
  let threadTs: string | undefined;
  if (replyTo.threadId !== undefined) {
    if (!TS.test(replyTo.threadId)) return { ok: false, error: t('slack-out.errors.threadId', { value: JSON.stringify(replyTo.threadId) }) };
    threadTs = replyTo.threadId;
  } else if (opts.dmThreads && channel.startsWith('D') && replyTo.messageId && TS.test(replyTo.messageId)) {
    threadTs = replyTo.messageId;
  }
  const teamId = typeof replyTo.teamId === 'string' && /^[A-Z0-9]{2,40}$/.test(replyTo.teamId) ? replyTo.teamId : undefined;
  const userId = /^[UW][A-Z0-9]{2,40}$/.test(replyTo.userId) ? replyTo.userId : undefined;
  return {
    ok: true,
    value: {
      channel,
      ...(threadTs ? { threadTs } : {}),
      ...(userId ? { userId } : {}),
      ...(teamId ? { teamId } : {}),
      assistantThread: channel.startsWith('D') && threadTs !== undefined,
      chatKey: channel,
      typingKey: threadTs ? `${channel}/${threadTs}` : channel,
    },
  };
}
