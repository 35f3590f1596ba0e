/**
 * One agent turn, apart from Node-RED: history in, provider call (with timeout, abort and, for the
 * HTTP agent, retries), typing signal, streamed parts, the final reply or the fallback, memory out.
 * The node hands it the scheduler's turns; everything it sends goes through the item's `send`.
 */
import { randomUUID } from 'node:crypto';
import type { Chat, ThreadInfo } from '../core/envelope';
import type { MemoryLimits, MemoryTurn } from '../core/memory';
import type { Maybe } from '../core/store/state-ops';
import { buildMessages, fillPrompt } from '../core/agent/prompt';
import { withRetry } from '../core/agent/retry';
import { StreamThrottle } from '../core/agent/stream-throttle';
import { TurnAborted, type Turn } from '../core/agent/turn-scheduler';
import { AgentError, type AgentProvider, type AgentRequest, type AgentResult } from '../core/agent/types';
import type { HandoffMarker } from '../core/operator/handoff-marker';

/** A message as the node passes it on: the incoming msg with its own properties kept. */
export type AgentMessage = {
  payload: unknown;
  chat?: unknown;
  thread?: unknown;
  stream?: { id: string; seq: number; done: boolean };
  event?: string;
  error?: AgentErrorInfo;
  [key: string]: unknown;
};

export interface AgentErrorInfo {
  message: string;
  kind: string;
  status?: number;
  source: { id: string; type: string; name?: string };
}

export type Send = (msgs: Array<AgentMessage | null>) => void;
export type Done = (err?: Error) => void;

/** One input message waiting for, or taking part in, a turn. */
export interface TurnItem {
  msg: AgentMessage;
  /** The model named by the message, when the node takes its model from msg. */
  model?: string;
  send: Send;
  done: Done;
  text: string;
  chat: Chat;
  thread: ThreadInfo;
  /** A turn picked up after a redeploy: its reply goes on in the stream the user already sees. */
  resume?: ResumedStream;
}

/** Where a stopped turn's stream stands: its id, and the seq its next part carries. */
export interface ResumedStream {
  streamId: string;
  seq: number;
}

export interface RunnerMemory {
  /** The thread's turns: at once from the local store, a promise from a shared one. */
  history(threadId: string): Maybe<MemoryTurn[]>;
  /** Keeps the turns (and persists them); a shared store that fails says so through `failed`. */
  append(threadId: string, turns: MemoryTurn[], limits: MemoryLimits): void;
}

export interface RunnerOptions {
  systemPrompt: string;
  stream: boolean;
  streamIntervalMs: number;
  typing: boolean;
  memory: MemoryLimits;
  /**
   * A backstop over the providers' own per-attempt timeouts, restarted by every streamed piece:
   * a provider that never settles still cannot hold its thread.
   */
  guardMs: number;
  /** Retries done here (the HTTP agent); 0 when the provider retries itself (the OpenAI SDK). */
  retries: number;
  /** Backoff base for those retries. */
  retryBaseMs?: number;
  fallback: string;
  /** Whether a deferred answer (the async HTTP agent's 202) has a callback route to come back on. */
  acceptDeferred: boolean;
  source: AgentErrorInfo['source'];
  /** The agent asks for a person with this marker (cut from what the user sees); the user is told `text`. */
  handoff?: { marker: HandoffMarker; text: string };
}

export interface RunnerHooks {
  /** A turn failed for good (after the user got the fallback); the message is already scrubbed. */
  failed(err: AgentError): void;
  succeeded(): void;
  /** The HTTP agent took the turn and will answer on the callback route. */
  deferred(threadId: string, text: string): void;
  /** Removes secrets from a text about to leave the node. */
  scrub(text: string): string;
  /**
   * The node is closing (a redeploy) and stopped this turn before its reply: the caller keeps the
   * items (and where the stream stands) for the next deploy and finishes them. Without it they
   * are finished as they are.
   */
  closed?(items: TurnItem[], stream: ResumedStream | undefined): void;
  /** The agent's reply asked for a person (after the user got the reply and the notice). */
  handoff?(item: TurnItem, text: string, reason: string | undefined): void;
}

function asAgentError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AgentError(message || 'agent call failed', 'connection');
}

/** A shallow clone of `msg` for a message of its own (typing, a part, the error): no stale stream or event. */
export function derived(msg: AgentMessage, extra: Partial<AgentMessage>): AgentMessage {
  const out: AgentMessage = { ...msg };
  delete out.stream;
  delete out.event;
  return Object.assign(out, extra);
}

export class TurnRunner {
  constructor(
    private readonly provider: AgentProvider,
    private readonly memory: RunnerMemory,
    private readonly options: RunnerOptions,
    private readonly hooks: RunnerHooks,
  ) {}

  /** Runs one scheduled turn; never throws (every outcome is sent and every message finished). */
  readonly run = async (turn: Turn<TurnItem>): Promise<void> => {
    const o = this.options;
    const items = turn.items;
    const last = items[items.length - 1];
    const { chat, thread } = last;
    const text = items.map((i) => i.text).join('\n\n');
    // Memory off (no turns or no characters kept): nothing is read, nor written after the turn.
    const remember = o.memory.maxTurns > 0 && o.memory.maxChars > 0;
    const finishOthers = () => items.slice(0, -1).forEach((i) => i.done());

    if (o.typing) last.send([derived(last.msg, { payload: '', event: 'typing' }), null]);

    const streamId = last.resume?.streamId ?? `st_${randomUUID()}`;
    const throttle = new StreamThrottle({
      id: streamId,
      firstSeq: last.resume?.seq ?? 0,
      intervalMs: o.streamIntervalMs,
      emit: (part) => {
        if (!part.done) last.send([derived(last.msg, { payload: part.text, stream: { id: part.id, seq: part.seq, done: false } }), null]);
      },
    });

    // The turn ends early when the scheduler aborts it (interrupt, close) or the backstop fires. The
    // provider gets the scheduler's signal as it is: the backstop ends the wait without aborting the
    // request (the providers' own per-attempt timeouts do that), which spares a second
    // AbortController on every turn (about 2 µs each on Node 20).
    let expired: AgentError | undefined;
    let end: (reason: unknown) => void = () => undefined;
    const ended = new Promise<never>((_resolve, reject) => {
      end = reject;
    });
    ended.catch(() => undefined);
    const stopped = () => turn.signal.aborted || expired !== undefined;
    const stopReason = (): unknown => (turn.signal.aborted ? turn.signal.reason : expired);
    const onTurnAbort = () => end(turn.signal.reason);
    if (turn.signal.aborted) onTurnAbort();
    else turn.signal.addEventListener('abort', onTurnAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const armTimeout = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        expired = new AgentError(`no answer from the agent within ${Math.round(o.guardMs / 1000)} s`, 'timeout');
        end(expired);
      }, o.guardMs);
    };
    armTimeout();

    // With a hand-off marker set, the stream shows the reply without it: a tail that may still
    // become a marker is held back until it is one (cut) or cannot be (let through).
    let raw = '';
    let shown = '';
    const marker = o.handoff?.marker;
    const onDelta = o.stream
      ? (delta: string) => {
          if (stopped()) return;
          // Silence is what times out: a long answer that keeps streaming is not cut off.
          armTimeout();
          if (!marker) return throttle.push(delta);
          raw += delta;
          const visible = marker.visible(raw);
          if (visible.length > shown.length && visible.startsWith(shown)) {
            throttle.push(visible.slice(shown.length));
            shown = visible;
          }
        }
      : undefined;

    try {
      // A shared store (Redis) answers with a promise; one that fails fails the turn like the agent would.
      const history = remember ? await this.memory.history(thread.id) : [];
      if (stopped()) throw stopReason();
      const request: AgentRequest = {
        messages: buildMessages(fillPrompt(o.systemPrompt, { chat, thread }), history, text),
        ...(last.model ? { model: last.model } : {}),
        text,
        chat,
        thread,
        history,
        signal: turn.signal,
      };
      const attempt = () => {
        // Past the backstop nothing is tried again (it does not wake a wait between attempts).
        if (expired) return Promise.reject(expired);
        const call = this.provider.complete(request, onDelta);
        call.catch(() => undefined);
        // A provider that ignores its signal must not hold the thread (or the node's close) hostage.
        return Promise.race([call, ended]);
      };
      let result: AgentResult;
      if (o.retries > 0) {
        const retried = withRetry(attempt, {
          retries: o.retries,
          baseMs: o.retryBaseMs,
          signal: turn.signal,
          canRetry: () => !expired && throttle.emitted === 0,
        });
        retried.catch(() => undefined);
        // The backstop also ends a wait between two attempts.
        result = await Promise.race([retried, ended]);
      } else {
        // One attempt (the OpenAI SDK retries by itself): it already races the backstop.
        result = await attempt();
      }
      if (stopped()) throw stopReason();

      if (result.kind === 'deferred') {
        // Without the callback route the reply would never be heard of: that is a failure.
        if (!o.acceptDeferred) throw new AgentError('the agent answered 202 (reply later) but async mode is off', 'client');
        throttle.cancel();
        this.hooks.deferred(thread.id, text);
        items.forEach((i) => i.done());
        return;
      }
      let reply = result.text;
      const asked = marker ? marker.strip(reply) : undefined;
      if (asked?.found) reply = asked.text ? `${asked.text}\n\n${o.handoff!.text}` : o.handoff!.text;
      const now = Date.now();
      if (remember) {
        this.memory.append(thread.id, [{ role: 'user', content: text, at: now }, { role: 'assistant', content: reply, at: now }], o.memory);
      }
      this.sendFinal(last, reply, o.stream ? throttle : undefined);
      if (asked?.found) this.hooks.handoff?.(last, text, asked.reason);
      this.hooks.succeeded();
      finishOthers();
      last.done();
    } catch (caught) {
      const reason: unknown = stopped() ? stopReason() : caught;
      if (reason instanceof TurnAborted) {
        this.stopped(reason, items, throttle, streamId);
        return;
      }
      const err = asAgentError(reason);
      const safe = new AgentError(this.hooks.scrub(err.message), err.kind, err.options);
      const errorMsg = derived(last.msg, {
        error: { message: safe.message, kind: safe.kind, ...(safe.options.status ? { status: safe.options.status } : {}), source: o.source },
      });
      // The user hears something; the flow and Catch nodes hear what went wrong.
      const seen = throttle.emitted > 0 ? `${throttle.current}\n\n` : '';
      this.sendFinal(last, seen + o.fallback, o.stream && throttle.emitted > 0 ? throttle : undefined, errorMsg);
      this.hooks.failed(safe);
      finishOthers();
      last.done(safe);
    } finally {
      clearTimeout(timer);
      turn.signal.removeEventListener('abort', onTurnAbort);
      throttle.cancel();
    }
  };

  /** The final reply reuses the incoming msg, with the stream closed when there was one. */
  private sendFinal(item: TurnItem, text: string, throttle: StreamThrottle | undefined, errorMsg: AgentMessage | null = null): void {
    const msg = item.msg;
    msg.payload = text;
    delete msg.event;
    const part = throttle?.finish(text);
    if (part) msg.stream = { id: part.id, seq: part.seq, done: true };
    else delete msg.stream;
    item.send([msg, errorMsg]);
  }

  /**
   * Interrupted: the user keeps what they saw (an open stream is closed with it) and memory keeps
   * the question, so the next turn has its context. Closing: nothing more leaves the node; the
   * `closed` hook keeps the turn for the next deploy.
   */
  private stopped(reason: TurnAborted, items: TurnItem[], throttle: StreamThrottle, streamId: string): void {
    const last = items[items.length - 1];
    if (reason.why === 'closed' && this.hooks.closed) {
      // Nothing was said yet, or the user sees the stream so far: the next deploy goes on from there.
      const stream = throttle.emitted > 0 || last.resume ? { streamId, seq: throttle.nextSeq } : undefined;
      this.hooks.closed(items, stream);
      return;
    }
    if (reason.why === 'interrupt') {
      const now = Date.now();
      const seen = throttle.emitted > 0 ? throttle.current : '';
      const text = items.map((i) => i.text).join('\n\n');
      const turns: MemoryTurn[] = [{ role: 'user', content: text, at: now }];
      if (seen) turns.push({ role: 'assistant', content: seen, at: now });
      this.memory.append(last.thread.id, turns, this.options.memory);
      if (seen) this.sendFinal(last, seen, throttle);
    }
    items.forEach((i) => i.done());
  }
}
