/**
 * What the nodes ask of the gateway's shared state. The local state (GatewayState: memory, with the
 * JSON, context or SQLite stores behind it) answers at once; the Redis state, shared by several
 * Node-RED instances, answers with promises. Callers take both with `andThen`, so the local hot path
 * never waits for a promise and keeps its order.
 */
import type { ReplyTo, Strategy } from '../envelope';
import type { AllowEntry } from '../allowlist';
import type { MemoryLimits, MemoryTurn } from '../memory';
import type { ListenerLookup } from '../reply-listeners';
import type { TurnInFlight } from '../turns-in-flight';
import type { ListQuery, Resolution, ThreadChat, ThreadRecord } from '../threads';

export type Maybe<T> = T | Promise<T>;

export interface StateOps {
  /** True when this message was already seen inside the window — on any instance sharing the state. */
  isDuplicate(platform: string, channelId: string, messageId: string, now?: number): Maybe<boolean>;
  /** The thread of this message, created or continued atomically (two instances never fork a thread). */
  resolveThread(chat: ThreadChat, strategy: Strategy, sessionMs: number, reset: boolean, now?: number): Maybe<Resolution>;
  registerListener(threadId: string, address: ReplyTo, now?: number): Maybe<void>;
  lookupListener(threadId: string, now?: number): Maybe<ListenerLookup>;
  /** Most recent live address of a chat (platform + chat id), for a reply that names only a chat. */
  findListenerByChat(platform: string, chatId: string, now?: number): Maybe<ReplyTo | undefined>;
  getThread(id: string): Maybe<ThreadRecord | undefined>;
  endThread(id: string): Maybe<boolean>;
  listThreads(query: ListQuery): Maybe<{ total: number; items: ThreadRecord[] }>;
  threadCount(): Maybe<number>;
  memoryHistory(threadId: string): Maybe<MemoryTurn[]>;
  appendMemory(threadId: string, turns: MemoryTurn[], limits?: MemoryLimits): Maybe<void>;
  allowEntries(list: string): Maybe<AllowEntry[]>;
  addAllowEntry(list: string, entry: AllowEntry): Maybe<void>;
  removeAllowEntry(list: string, jid: string): Maybe<boolean>;
  /** Replaces a whole list (an empty array empties it). */
  replaceAllowEntries(list: string, entries: AllowEntry[]): Maybe<void>;
  /** An agent turn accepted (turns-in-flight.ts): kept until endTurn, so a crash cannot lose it silently. */
  beginTurn(key: string, turn: TurnInFlight): Maybe<void>;
  endTurn(key: string): Maybe<void>;
  /** Ends the turn and says whether this call ended it (of two callers, one gets true). */
  claimTurn(key: string): Maybe<boolean>;
  /**
   * A shared store's heartbeat of one instance, renewed while it runs (Redis). Stores of one
   * instance have none: no peer is there to miss it.
   */
  markAlive?(instance: string, ttlMs: number): Maybe<void>;
  /** For each instance, whether its heartbeat is there. */
  instancesAlive?(instances: string[]): Maybe<boolean[]>;
  /** The unfinished turns whose keys start with `prefix`, oldest first. */
  turnsWithPrefix(prefix: string): Maybe<Array<[string, TurnInFlight]>>;
}

function isPromise<T>(v: Maybe<T>): v is Promise<T> {
  return !!v && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Runs `next` with the value: at once when it is one, after the promise otherwise. A throw or a
 * rejection goes to `failed` (never both, never an unhandled rejection).
 */
export function andThen<T>(value: Maybe<T>, next: (v: T) => void, failed: (err: Error) => void): void {
  if (isPromise(value)) {
    value.then(
      (v) => {
        try {
          next(v);
        } catch (err) {
          failed(err as Error);
        }
      },
      (err) => failed(err instanceof Error ? err : new Error(String(err))),
    );
    return;
  }
  try {
    next(value);
  } catch (err) {
    failed(err as Error);
  }
}
