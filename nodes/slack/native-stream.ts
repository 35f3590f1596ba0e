/**
 * One streamed reply through Slack's native streaming (chat.startStream / appendStream /
 * stopStream, what web-api's `client.chatStream()` wraps): the message grows as the agent writes,
 * in standard Markdown that Slack renders itself. Each update carries the whole text so far (see
 * agent/stream-throttle); what is new since the last append is appended, at most once per
 * interval, one call at a time, each in the chat's lane so the stream and other replies to the
 * channel keep their order. slack-sender.ts plugs it into the kit as Slack's own stream view.
 *
 * Appending cannot be undone and a lost append cannot be known, so the final step makes the
 * message right whatever happened on the way: if everything appended is a prefix of the whole
 * reply, stopStream appends the rest; otherwise (an agent that revised its text, an append whose
 * answer was lost) the stream is stopped and the message replaced with chat.update. Either way
 * the message ends equal to the whole reply. A reply longer than one message holds is stopped,
 * the streamed message removed, and the whole reply sent as mrkdwn parts (`overflow`).
 */
import type { StreamKit } from '../core/kit/channel-sender';
import { classify, UncertainError } from './send-errors';
import type { SlackAddress } from './address';
import { recentMessages } from './post-once';
import type { WebCalls } from './web-calls';
import type { Block } from './blocks';

/** Slack's limit for Markdown in one message (markdown_text). */
export const NATIVE_MAX_CHARS = 12_000;

export interface NativeStreamDeps {
  calls: WebCalls;
  address: SlackAddress;
  /** The kit's chat lane (every call runs in it) and where failures of intermediate appends go. */
  lane: Pick<StreamKit<unknown>, 'inChat' | 'onError'>;
  intervalMs: number;
  /** The bot's ids, to recognise its own message after an uncertain start. */
  bot: () => { userId: string; botId: string } | undefined;
  /** Slack refused native streaming for this app: the caller streams by edits from here on. */
  unavailable(): void;
}

/** A native stream as a redeploy leaves it: the message it grows and what it appended so far. */
export interface NativeState {
  kind: 'slack-native';
  ts: string;
  appended: string;
  diverged: boolean;
}

export type NativeFinish =
  /** The stream message holds the whole reply; `buttonsLeft`: the buttons could not go with it (send them after). */
  | { kind: 'done'; ts: string; buttonsLeft: boolean }
  /** Nothing was streamed yet (or Slack refused to start one): send the reply another way. */
  | { kind: 'notStarted' }
  /** The reply is longer than one message: the stream message was removed; send the whole reply as parts. */
  | { kind: 'overflow' };

/** Slack would read `<!here>`, `<@U…>` and `<#C…>` in the agent's Markdown as live mentions; a zero-width space keeps them text. */
export function inertMarkdown(text: string): string {
  return text.replace(/<(?=[!@#])/g, '<\u200b');
}

/** Errors that mean this app or workspace cannot stream natively (older workspaces, no AI-app feature). */
const UNAVAILABLE = new Set(['unknown_method', 'not_allowed', 'method_deprecated', 'feature_not_enabled', 'not_allowed_token_type', 'team_not_allowed']);

export class NativeStream {
  private ts: string | undefined;
  private appended = '';
  private latest = '';
  /** An append may or may not have landed, or the text was revised: only chat.update can make it right. */
  private diverged = false;
  private refused = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSyncAt = -Infinity;
  private tail: Promise<void> = Promise.resolve();
  private finished = false;

  /** `resume`: the stream a view of the previous deploy parked (park), grown on from there. */
  constructor(
    private readonly d: NativeStreamDeps,
    resume?: NativeState,
  ) {
    if (resume) {
      this.ts = resume.ts;
      this.appended = resume.appended;
      this.diverged = resume.diverged;
    }
  }

  /** For a redeploy: where the stream stands; undefined when it never started. */
  park(): NativeState | undefined {
    return this.ts === undefined || this.refused ? undefined : { kind: 'slack-native', ts: this.ts, appended: this.appended, diverged: this.diverged };
  }

  get started(): boolean {
    return this.ts !== undefined;
  }

  /** Slack refused to start this stream: the caller shows it another way. */
  get isRefused(): boolean {
    return this.refused;
  }

  update(textSoFar: string): void {
    if (this.finished) return;
    this.latest = textSoFar;
    if (this.timer) return;
    const wait = this.lastSyncAt + this.d.intervalMs - Date.now();
    if (wait <= 0) this.kick();
    else this.timer = setTimeout(() => this.kick(), wait);
  }

  /** The final text; resolves once the message holds it (or says how the caller must send it). */
  async finish(whole: string, blocks?: Block[]): Promise<NativeFinish> {
    this.finished = true;
    this.stopTimer();
    await this.tail;
    if (this.refused || !this.ts) return { kind: 'notStarted' };
    const ts = this.ts;
    const { calls, address } = this.d;
    const md = inertMarkdown(whole);
    if (md.length > NATIVE_MAX_CHARS) {
      await this.d.lane.inChat(async () => {
        await this.stop(ts);
        await calls.call('chat.delete', { channel: address.channel, ts }, { idempotent: true }).catch((err: unknown) => {
          if (classify(err).kind !== 'refused') throw err;
        });
      });
      return { kind: 'overflow' };
    }
    const buttonsLeft = await this.d.lane.inChat(async () => {
      if (!this.diverged && md.startsWith(this.appended)) {
        const rest = md.slice(this.appended.length);
        try {
          await calls.call('chat.stopStream', { channel: address.channel, ts, ...(rest ? { markdown_text: rest } : {}), ...(blocks ? { blocks } : {}) });
          return false;
        } catch (err) {
          if (!(err instanceof UncertainError)) throw err;
          // Did the last piece land? Replacing the text below is right either way.
        }
      }
      await this.stop(ts);
      await calls.call('chat.update', { channel: address.channel, ts, markdown_text: md }, { idempotent: true });
      return blocks !== undefined;
    });
    return { kind: 'done', ts, buttonsLeft };
  }

  close(): void {
    this.finished = true;
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** stopStream with nothing more; a stream already stopped is fine. */
  private async stop(ts: string): Promise<void> {
    try {
      await this.d.calls.call('chat.stopStream', { channel: this.d.address.channel, ts });
    } catch (err) {
      const f = classify(err);
      if (f.kind === 'refused' || err instanceof UncertainError) return;
      throw err;
    }
  }

  private kick(): void {
    this.timer = undefined;
    if (this.finished) return;
    this.lastSyncAt = Date.now();
    const run = this.tail.then(() => (this.finished ? undefined : this.sync()));
    this.tail = run.catch((err: unknown) => this.d.lane.onError(err));
  }

  private async sync(): Promise<void> {
    if (this.refused || this.diverged) return;
    const md = inertMarkdown(this.latest);
    if (!md.startsWith(this.appended)) {
      this.diverged = true;
      return;
    }
    // Past one message's worth the stream only waits for its final part (finish says what then).
    const delta = md.slice(this.appended.length, NATIVE_MAX_CHARS);
    if (!delta.trim()) return;
    await this.d.lane.inChat(() => (this.ts ? this.append(this.ts, delta) : this.start(delta)));
  }

  private async start(delta: string): Promise<void> {
    const { calls, address } = this.d;
    const args = {
      channel: address.channel,
      thread_ts: address.threadTs,
      ...(address.userId ? { recipient_user_id: address.userId } : {}),
      ...(address.teamId ? { recipient_team_id: address.teamId } : {}),
      markdown_text: delta,
    };
    try {
      const r = await calls.call('chat.startStream', args);
      this.ts = String(r.ts);
      this.appended = delta;
    } catch (err) {
      if (err instanceof UncertainError) return this.adopt(delta);
      const f = classify(err);
      if (f.kind === 'refused' && UNAVAILABLE.has(f.error)) {
        this.refused = true;
        this.d.unavailable();
        return;
      }
      if (f.kind === 'refused' || f.kind === 'scope') {
        // This stream cannot start (a channel the bot is not in, a bad thread): the final part says so.
        this.refused = true;
        return;
      }
      throw err;
    }
  }

  /** After an uncertain start: the bot's newest message in the thread with exactly that text is ours. */
  private async adopt(delta: string): Promise<void> {
    const me = this.d.bot();
    const seen = await recentMessages(this.d.calls, this.d.address.channel, this.d.address.threadTs);
    const mine = seen?.filter((m) => (m.user === me?.userId || m.bot_id === me?.botId) && m.text === delta && m.ts !== this.d.address.threadTs);
    const found = mine?.at(-1);
    if (found && typeof found.ts === 'string') {
      this.ts = found.ts;
      this.appended = delta;
    }
    // Not found: it never started; the next sync starts it.
  }

  private async append(ts: string, delta: string): Promise<void> {
    try {
      await this.d.calls.call('chat.appendStream', { channel: this.d.address.channel, ts, markdown_text: delta });
      this.appended += delta;
    } catch (err) {
      if (err instanceof UncertainError) {
        this.diverged = true;
        return;
      }
      throw err;
    }
  }
}
