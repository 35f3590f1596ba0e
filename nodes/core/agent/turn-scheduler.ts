/**
 * Ordered agent turns: one turn at a time per thread, threads in parallel up to a limit. A message
 * for a busy thread waits (followup), is merged into the thread's next turn (collect), or aborts
 * the running turn and goes next (interrupt). The queue is bounded per thread and overall; a message
 * that does not fit is refused to the caller, never dropped. No Node-RED in here.
 */

import { guard } from '../guard';
import { ReadyHeap } from './ready-heap';

export const QUEUE_MODES = ['followup', 'collect', 'interrupt'] as const;
export type QueueMode = (typeof QUEUE_MODES)[number];

export interface SchedulerOptions {
  /** Threads running a turn at the same time. */
  concurrency: number;
  mode: QueueMode;
  /** Messages waiting per thread (not counting the running turn). */
  maxQueue: number;
  /** Messages waiting across all threads. */
  maxTotalQueue: number;
}

export const DEFAULT_SCHEDULER_OPTIONS: SchedulerOptions = {
  concurrency: 8,
  mode: 'followup',
  maxQueue: 10,
  maxTotalQueue: 1000,
};

/** Why a turn's signal was aborted; `signal.reason` is one of these. */
export class TurnAborted extends Error {
  constructor(readonly why: 'interrupt' | 'closed') {
    super(why === 'interrupt' ? 'interrupted by a newer message' : 'the node is closing');
    this.name = 'TurnAborted';
  }
}

export interface Turn<T> {
  threadId: string;
  /** The messages of this turn, oldest first: one, or several merged in collect mode. */
  items: T[];
  /** Aborted with a TurnAborted reason on interrupt and close. */
  signal: AbortSignal;
}

export type SubmitResult =
  | { accepted: true; started: boolean; queued: number }
  | { accepted: false; reason: 'thread-queue-full' | 'queue-full' | 'closed' };

export interface SchedulerStats {
  /** Threads running a turn. */
  active: number;
  /** Messages waiting, across all threads. */
  queued: number;
}

interface Waiting<T> {
  item: T;
  /** Global arrival order, so threads waiting for a free slot start first come, first served. */
  seq: number;
}

interface ThreadState<T> {
  queue: Waiting<T>[];
  running?: AbortController;
}

export class TurnScheduler<T> {
  private readonly opts: SchedulerOptions;
  private readonly threads = new Map<string, ThreadState<T>>();
  private readonly running = new Set<Promise<void>>();
  private readonly ready = new ReadyHeap();
  private active = 0;
  private queued = 0;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly run: (turn: Turn<T>) => Promise<void>,
    options: Partial<SchedulerOptions> = {},
    /** Called whenever the active or queued count changes (for a node's status). */
    private readonly onChange: (stats: SchedulerStats) => void = () => {},
  ) {
    const o = { ...DEFAULT_SCHEDULER_OPTIONS, ...options };
    this.opts = {
      concurrency: Math.max(1, Math.floor(o.concurrency) || 1),
      mode: QUEUE_MODES.includes(o.mode) ? o.mode : 'followup',
      maxQueue: Math.max(1, Math.floor(o.maxQueue) || 1),
      maxTotalQueue: Math.max(1, Math.floor(o.maxTotalQueue) || 1),
    };
  }

  get stats(): SchedulerStats {
    return { active: this.active, queued: this.queued };
  }

  get mode(): QueueMode {
    return this.opts.mode;
  }

  /** Hands a message to its thread; it runs now, or waits, or is refused (the caller reports it). */
  submit(threadId: string, item: T): SubmitResult {
    if (this.closed) return { accepted: false, reason: 'closed' };
    const thread = this.threads.get(threadId) ?? { queue: [] };
    if (thread.queue.length >= this.opts.maxQueue) return { accepted: false, reason: 'thread-queue-full' };
    if (this.queued >= this.opts.maxTotalQueue) return { accepted: false, reason: 'queue-full' };
    this.threads.set(threadId, thread);
    const seq = this.seq++;
    thread.queue.push({ item, seq });
    this.queued++;
    // A thread becomes ready with its first waiting message (a running one, when its turn ends).
    if (!thread.running && thread.queue.length === 1) this.ready.push({ threadId, seq });
    if (thread.running && this.opts.mode === 'interrupt') thread.running.abort(new TurnAborted('interrupt'));
    this.pump();
    const started = !thread.queue.some((w) => w.item === item);
    this.onChange(this.stats);
    return { accepted: true, started, queued: thread.queue.length };
  }

  /**
   * Aborts every running turn and clears the queue; returns the messages that never ran, so the
   * caller can finish them. `settled()` then waits for the aborted turns to return.
   */
  close(): T[] {
    this.closed = true;
    const dropped: T[] = [];
    for (const thread of this.threads.values()) {
      dropped.push(...thread.queue.map((w) => w.item));
      thread.queue = [];
      thread.running?.abort(new TurnAborted('closed'));
    }
    this.queued = 0;
    this.ready.clear();
    this.onChange(this.stats);
    return dropped;
  }

  /** Resolves when every running turn has returned. */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.allSettled(Array.from(this.running));
  }

  /** Starts turns while there are free slots, oldest waiting message first. */
  private pump(): void {
    while (!this.closed && this.active < this.opts.concurrency) {
      const next = this.ready.pop();
      if (!next) return;
      const t = this.threads.get(next.threadId);
      // Stale: the thread is gone, running, or its head is not the message it was ready with.
      if (!t || t.running || !t.queue.length || t.queue[0].seq !== next.seq) continue;
      this.start(next.threadId, t);
    }
  }

  private start(threadId: string, thread: ThreadState<T>): void {
    const taken = this.opts.mode === 'collect' ? thread.queue.splice(0) : thread.queue.splice(0, 1);
    this.queued -= taken.length;
    const controller = new AbortController();
    thread.running = controller;
    this.active++;
    const turn: Turn<T> = { threadId, items: taken.map((w) => w.item), signal: controller.signal };
    const done = (async () => {
      try {
        await this.run(turn);
      } catch {
        // The runner reports its own failures; a throw must not stall the thread.
      }
    })().then(() => {
      this.running.delete(done);
      thread.running = undefined;
      this.active--;
      if (!thread.queue.length && this.threads.get(threadId) === thread) this.threads.delete(threadId);
      else if (thread.queue.length && !this.closed) this.ready.push({ threadId, seq: thread.queue[0].seq });
      // The next turn starts from here, a handler nobody awaits: a throw must not escape it.
      guard(() => this.pump())();
      guard(() => this.onChange(this.stats))();
    });
    this.running.add(done);
  }
}
