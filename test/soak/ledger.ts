/**
 * What every user sent and what their chats show, and the counts the soak is judged by, taken
 * from the users' side only (the emulators' views of each chat, the clients' own frames):
 *
 * - answered: the reply carrying the message's token shows up once, in the user's own chat and
 *   thread;
 * - fallback: the agent call's fallback text took its place (the agent failed after its retries);
 *   a fallback carries no token, so it is matched to the first unanswered message of its
 *   conversation after the reply before it (replies of one conversation come in order);
 * - reported failed: no reply, but the failure was reported where someone can act on it: a Catch
 *   node caught an error naming the message (its token or its platform message id), or the
 *   platform told the user (a sync webhook's 504);
 * - lost: the platform handed the message to the bot (acked, answered 200, confirmed) and none of
 *   the above came of it. A message the platform never handed over (it gave up retrying) is
 *   counted apart, as "not taken";
 * - truncated: a bot message showing only a part of a token's reply (a stream left unfinished)
 *   beside the whole reply, or in its place with no report of a failure (then it is lost too);
 * - doubled: every copy of a token's reply past the first; wrong chat / wrong thread: a token's
 *   reply in another user's chat, or in the right chat but another thread; order: a reply shown
 *   after the reply of a message sent later in the same conversation; stray: a bot message that
 *   is neither a reply, nor a fallback that can be matched.
 */
import { conversationKey, FALLBACK_TEXT, TOKEN_RE, WHOLE_REPLY_RE, type BotMessage, type ChannelName, type SoakUser } from './types';

export interface SentRecord {
  token: string;
  user: SoakUser;
  /** The user's n-th message (from 0). */
  idx: number;
  text: string;
  sentAt: number;
  /** true: handed to the bot; false: the platform gave up; undefined: not settled yet. */
  accepted?: boolean;
  /** Some bot text (a part, a fallback) has been seen for it: the user's window moves on. */
  seen: boolean;
  /** Platform ids of the message, as the nodes put them in msg.chat.messageId. */
  messageIds: string[];
}

/** A Catch node's report (or an unroutable reply), as the flow's reporter posts it. */
export interface Report {
  kind: 'error' | 'unroutable';
  source: string;
  message: string;
  text: string;
  messageId?: string;
  chat?: { platform?: string; chatId?: string; threadId?: string } | null;
}

export interface ChannelCounts {
  sent: number;
  accepted: number;
  notTaken: number;
  answered: number;
  fallback: number;
  reportedFailed: number;
  lost: number;
  doubled: number;
  truncated: number;
  wrongChat: number;
  wrongThread: number;
  orderViolations: number;
  stray: number;
}

export const ZERO: ChannelCounts = { sent: 0, accepted: 0, notTaken: 0, answered: 0, fallback: 0, reportedFailed: 0, lost: 0, doubled: 0, truncated: 0, wrongChat: 0, wrongThread: 0, orderViolations: 0, stray: 0 };

export interface Outcome {
  counts: Map<ChannelName, ChannelCounts>;
  /** Each message's outcome: answered, fallback, reportedFailed, lost, notTaken. */
  outcomes: Map<string, string>;
  /** Up to a few tokens per problem, for the report. */
  examples: Record<string, string[]>;
}

const isFallback = (text: string) => text.includes(FALLBACK_TEXT);
const tokensOf = (text: string) => text.match(TOKEN_RE) ?? [];
const wholeOf = (text: string) => new Set([...text.matchAll(WHOLE_REPLY_RE)].map((m) => m[1]));

export class Ledger {
  private readonly records = new Map<string, SentRecord>();
  private readonly byUser = new Map<string, SentRecord[]>();
  private readonly byMessageId = new Map<string, SentRecord>();
  private seq = 0;

  get size(): number {
    return this.records.size;
  }

  all(): SentRecord[] {
    return [...this.records.values()];
  }

  /** A new message for `user`, with the next token. */
  issue(user: SoakUser, format: (token: string) => string): SentRecord {
    const token = `T${String(++this.seq).padStart(6, '0')}`;
    const list = this.byUser.get(user.key) ?? [];
    this.byUser.set(user.key, list);
    const r: SentRecord = { token, user, idx: list.length, text: format(token), sentAt: Date.now(), seen: false, messageIds: [] };
    list.push(r);
    this.records.set(token, r);
    return r;
  }

  /** The platform's id of a sent message, so a Catch report naming it finds the message. */
  noteMessageId(r: SentRecord, id: string): void {
    r.messageIds.push(id);
    this.byMessageId.set(id, r);
  }

  byToken(token: string): SentRecord | undefined {
    return this.records.get(token);
  }

  /** A bot text seen on the way (a part, a final, a fallback): the user's window moves on. */
  sawBotText(userKey: string | undefined, text: string): void {
    let any = false;
    for (const t of tokensOf(text)) {
      const r = this.records.get(t);
      if (r) {
        r.seen = true;
        any = true;
      }
    }
    if (!any && userKey && isFallback(text)) {
      const oldest = this.byUser.get(userKey)?.find((r) => r.accepted !== false && !r.seen);
      if (oldest) oldest.seen = true;
    }
  }

  /** Messages of the user still waiting for any sign of a reply, younger than `patienceMs`. */
  waiting(userKey: string, now: number, patienceMs: number): number {
    const list = this.byUser.get(userKey) ?? [];
    let n = 0;
    for (let i = list.length - 1; i >= 0 && now - list[i].sentAt < patienceMs; i--) if (!list[i].seen && list[i].accepted !== false) n++;
    return n;
  }

  /** Accepted messages with no bot text seen for them yet. */
  unseen(): SentRecord[] {
    return this.all().filter((r) => r.accepted === true && !r.seen);
  }

  count(channels: ChannelName[], views: BotMessage[], reports: Report[], undelivered: Set<string>, toldFailed: Set<string>): Outcome {
    const counts = new Map<ChannelName, ChannelCounts>(channels.map((c) => [c, { ...ZERO }]));
    const examples: Record<string, string[]> = {};
    const example = (what: string, token: string) => {
      const list = (examples[what] ??= []);
      if (list.length < 8) list.push(token);
    };

    // The owner of each conversation (every user talks in a conversation of their own).
    const owner = new Map<string, string>();
    for (const [key, list] of this.byUser) {
      const u = list[0].user;
      owner.set(`${u.channel}|${conversationKey(u.conversation)}`, key);
    }

    const reply = new Map<string, number>(); // token -> copies in the right place
    const fallbackFor = new Set<string>();
    const partials = new Map<string, number>(); // token -> messages showing only a part of its reply
    const byConversation = new Map<string, BotMessage[]>();
    for (const m of views) {
      const k = `${m.channel}|${conversationKey(m.conversation)}`;
      const list = byConversation.get(k) ?? [];
      list.push(m);
      byConversation.set(k, list);
    }

    for (const [k, messages] of byConversation) {
      const channel = messages[0].channel;
      const c = counts.get(channel)!;
      const ownerKey = owner.get(k);
      const mine = ownerKey ? this.byUser.get(ownerKey)! : [];
      let last = -1;
      let highest = -1;
      for (const m of messages) {
        const tokens = [...new Set(tokensOf(m.text))];
        const fallback = isFallback(m.text);
        const own = tokens.map((t) => this.records.get(t)).filter((r): r is SentRecord => !!r && r.user.key === ownerKey);
        for (const t of tokens) {
          const r = this.records.get(t);
          if (!r) {
            c.stray++;
            example('stray', `${t} in ${k}`);
            continue;
          }
          if (r.user.key === ownerKey) continue;
          const rc = counts.get(r.user.channel)!;
          if (r.user.channel === channel && r.user.conversation.chat === m.conversation.chat) {
            rc.wrongThread++;
            example('wrongThread', `${t} in ${k}`);
          } else {
            rc.wrongChat++;
            example('wrongChat', `${t} in ${k}`);
          }
        }
        if (own.length) {
          const whole = wholeOf(m.text);
          for (const r of own) {
            if (r.idx < highest) {
              c.orderViolations++;
              example('order', `${r.token} after #${highest} in ${k}`);
            }
            highest = Math.max(highest, r.idx);
            last = Math.max(last, r.idx);
            if (fallback) fallbackFor.add(r.token);
            else if (whole.has(r.token)) reply.set(r.token, (reply.get(r.token) ?? 0) + 1);
            else partials.set(r.token, (partials.get(r.token) ?? 0) + 1);
          }
          continue;
        }
        if (fallback) {
          // The first message after the last reply shown that has nothing else to show for it.
          const candidate = mine.find((r) => r.idx > last && r.accepted !== false && !fallbackFor.has(r.token) && !this.hasTokenIn(r.token, messages));
          if (candidate) {
            fallbackFor.add(candidate.token);
            last = candidate.idx;
            highest = Math.max(highest, candidate.idx);
          } else {
            c.stray++;
            example('stray', `fallback in ${k}`);
          }
          continue;
        }
        if (!tokens.length) {
          c.stray++;
          example('stray', `"${m.text.slice(0, 60)}" in ${k}`);
        }
      }
    }

    const reportedTokens = new Set<string>();
    for (const rep of reports) {
      for (const t of tokensOf(rep.text)) reportedTokens.add(t);
      const byId = rep.messageId ? this.byMessageId.get(rep.messageId) : undefined;
      if (byId) reportedTokens.add(byId.token);
    }

    const outcomes = new Map<string, string>();
    for (const r of this.records.values()) {
      const c = counts.get(r.user.channel)!;
      c.sent++;
      const before = { ...c };
      const taken = r.accepted === true && !undelivered.has(r.text);
      if (!taken) {
        c.notTaken++;
        example('notTaken', r.token);
        outcomes.set(r.token, 'notTaken');
        continue;
      }
      c.accepted++;
      const copies = reply.get(r.token) ?? 0;
      const cut = partials.get(r.token) ?? 0;
      if (copies > 0) {
        c.answered++;
        if (copies > 1) {
          c.doubled += copies - 1;
          example('doubled', r.token);
        }
        if (cut) {
          // A part left beside the whole reply: the user sees the reply begun twice.
          c.truncated += cut;
          example('truncated', `${r.token} (a part beside the whole reply)`);
        }
      } else if (fallbackFor.has(r.token)) {
        c.fallback++;
      } else if (reportedTokens.has(r.token) || toldFailed.has(r.text)) {
        c.reportedFailed++;
        example('reportedFailed', `${r.token}${cut ? ' (a part shown)' : ''}`);
      } else {
        c.lost++;
        if (cut) {
          c.truncated += cut;
          example('truncated', `${r.token} (only a part, not reported)`);
        }
        example('lost', `${r.token} (${r.user.key} #${r.idx})`);
      }
      outcomes.set(r.token, (['answered', 'fallback', 'reportedFailed', 'lost'] as const).find((k) => c[k] > before[k]) ?? '');
    }
    return { counts, examples, outcomes };
  }

  private hasTokenIn(token: string, messages: BotMessage[]): boolean {
    return messages.some((m) => m.text.includes(token));
  }
}
