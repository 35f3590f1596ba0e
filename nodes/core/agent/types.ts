/**
 * The contract between the agent call node and its providers (OpenAI-compatible, HTTP agent).
 * A provider turns one request into text, streaming deltas as they come; it knows nothing of
 * Node-RED, queues or memory.
 */
import type { Chat, ThreadInfo } from '../envelope';
import type { MemoryTurn } from '../memory';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface AgentRequest {
  /** System prompt (placeholders already filled), history, then this turn's user message(s). */
  messages: ChatMessage[];
  /** This turn's user text (several messages joined when the queue mode is "collect"). */
  text: string;
  chat: Chat;
  thread: ThreadInfo;
  /** The thread's history, oldest first (already in `messages`; HTTP agents may want it raw). */
  history: MemoryTurn[];
  /** A model for this request only (the agent call's model set from msg); else the configured one. */
  model?: string;
  /** Aborted on interrupt, timeout and node close: the provider must cancel its HTTP request. */
  signal: AbortSignal;
}

export type AgentResult =
  /** The whole reply text. */
  | { kind: 'reply'; text: string }
  /** HTTP agent in async mode: the reply comes later through the callback route. */
  | { kind: 'deferred' };

export interface AgentProvider {
  /** Name for status and errors, never containing a secret. */
  readonly label: string;
  /** Runs one request. `onDelta` receives text pieces in order when the provider streams. */
  complete(request: AgentRequest, onDelta?: (delta: string) => void): Promise<AgentResult>;
}

export type AgentErrorKind = 'timeout' | 'connection' | 'rate-limit' | 'server' | 'client' | 'malformed' | 'aborted';

/** A failure with what the caller needs to decide on a retry; its message never holds a secret. */
export class AgentError extends Error {
  constructor(
    message: string,
    readonly kind: AgentErrorKind,
    readonly options: { status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'AgentError';
  }

  /** Safe to send again: nothing reached the user and the agent did not take the request. */
  get retryable(): boolean {
    return this.kind === 'timeout' || this.kind === 'connection' || this.kind === 'rate-limit' || this.kind === 'server';
  }
}
