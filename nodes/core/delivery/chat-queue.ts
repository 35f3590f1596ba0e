/**
 * Per-chat FIFO: sends to one chat run one after another, in the order they were queued, while
 * different chats run in parallel. A failed task rejects its own promise and the chain moves on.
 * Rate limits and retry_after are not handled here: the platform glue's SDK plugins do that inside
 * each task, so a task that is retried still holds its place in the chat's order.
 */

export const DEFAULT_MAX_PENDING_PER_CHAT = 100;
/** Chats with sends queued or running at once: a ceiling on memory (each holds up to 101 sends). */
export const DEFAULT_MAX_CHATS = 10_000;

export class ChatQueueFullError extends Error {
  constructor(
    readonly chatKey: string,
    readonly limit: number,
    message = `chat queue full: ${limit} sends already waiting for chat ${chatKey}`,
  ) {
    super(message);
    this.name = 'ChatQueueFullError';
  }
}

export class ChatQueueClosedError extends Error {
  constructor() {
    super('chat queue closed before the send could run');
    this.name = 'ChatQueueClosedError';
  }
}

export interface ChatQueueOptions {
  /** Tasks waiting per chat (the running one not counted) before `run` rejects. */
  maxPending?: number;
  /** Chats with tasks queued or running before `run` rejects a task for one more chat. */
  maxChats?: number;
}

interface Job {
  task: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Lane {
  waiting: Job[];
  running: boolean;
}

export class ChatQueue {
  private readonly lanes = new Map<string, Lane>();
  private readonly maxPending: number;
  private readonly maxChats: number;
  private closed = false;

  constructor(opts: ChatQueueOptions = {}) {
    this.maxPending = Math.max(0, opts.maxPending ?? DEFAULT_MAX_PENDING_PER_CHAT);
    this.maxChats = Math.max(1, opts.maxChats ?? DEFAULT_MAX_CHATS);
  }

  /** Runs `task` after every earlier task for `chatKey` has settled. */
  run<T>(chatKey: string, task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ChatQueueClosedError());
    let lane = this.lanes.get(chatKey);
    if (!lane) {
      if (this.lanes.size >= this.maxChats) {
        return Promise.reject(new ChatQueueFullError(chatKey, this.maxChats, `too many chats at once: sends to ${this.maxChats} chats are already queued or running; the send to chat ${chatKey} was refused`));
      }
      lane = { waiting: [], running: false };
      this.lanes.set(chatKey, lane);
    }
    // Nothing waits while the lane is idle (pump starts at once), so only a busy lane can be full.
    if (lane.running && lane.waiting.length >= this.maxPending) return Promise.reject(new ChatQueueFullError(chatKey, this.maxPending));
    const queued = lane;
    return new Promise<T>((resolve, reject) => {
      queued.waiting.push({ task, resolve: resolve as (value: unknown) => void, reject });
      this.pump(chatKey, queued);
    });
  }

  /** Tasks queued or running for a chat. */
  pending(chatKey: string): number {
    const lane = this.lanes.get(chatKey);
    return lane ? lane.waiting.length + (lane.running ? 1 : 0) : 0;
  }

  /** Chats with work queued or running. */
  get size(): number {
    return this.lanes.size;
  }

  /** Rejects every waiting task; running ones finish on their own. Later `run` calls reject. */
  close(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const job of lane.waiting.splice(0)) job.reject(new ChatQueueClosedError());
    }
  }

  private pump(chatKey: string, lane: Lane): void {
    if (lane.running) return;
    const job = lane.waiting.shift();
    if (!job) {
      if (this.lanes.get(chatKey) === lane) this.lanes.delete(chatKey);
      return;
    }
    lane.running = true;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(job.task());
    } catch (error) {
      result = Promise.reject(error);
    }
    // The lane is free before the caller hears back, so a caller that awaits and sends again is not
    // counted against the limit by its own finished task.
    const next = (): void => {
      lane.running = false;
      this.pump(chatKey, lane);
    };
    result.then(
      (value) => {
        next();
        job.resolve(value);
      },
      (error: unknown) => {
        next();
        job.reject(error);
      },
    );
  }
}
