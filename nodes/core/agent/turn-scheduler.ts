/**
 * Ordered agent turns: one turn at a time per thread, threads in parallel up to a limit. A message
 * for a busy thread waits (followup), is merged into the thread's next turn (collect), or aborts
 * the running turn and goes next (interrupt). The queue is bounded per thread and overall; a message
 * that does not fit is refused to the caller, never dropped. Threads are grouped in lanes (a
 * chat): a freed slot goes to the lane with the fewest turns running, and within it to the oldest
 * waiting message, so a chat with a thousand threads waiting (a busy group, a thread per message)
 * cannot keep another chat's message waiting behind all of them. No Node-RED in here.
 */

import { guard } from '../guard';
import { Heap, ReadyHeap } from './ready-heap';

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
  /** The lane (chat) the message came from. */
  lane: string;
}

interface ThreadState<T> {
  queue: Waiting<T>[];
  running?: AbortController;
}

/** A lane's ready threads (oldest waiting message first) and the turns it has running. */
interface LaneState {
  ready: ReadyHeap;
  active: number;
  /** Bumped whenever the lane's place changes; older entries in the lane heap are stale. */
  version: number;
}

interface LaneEntry {
  lane: string;
  active: number;
  seq: number;
  version: number;
}

/** Lanes with a thread ready: fewest turns running first, then the oldest waiting message. */
const laneBefore = (a: LaneEntry, b: LaneEntry) => a.active < b.active || (a.active === b.active && a.seq < b.seq);

export class TurnScheduler<T> {
  private readonly opts: SchedulerOptions;
  private readonly threads = new Map<string, ThreadState<T>>();
  private readonly running = new Set<Promise<void>>();
  private readonly lanes = new Map<string, LaneState>();
  private readonly ready = new Heap<LaneEntry>(laneBefore);
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

  /**
   * Hands a message to its thread; it runs now, or waits, or is refused (the caller reports it).
   * `lane` is the chat it came from (default: a lane of its own thread).
   */
  submit(threadId: string, item: T, lane: string = threadId): SubmitResult {
    if (this.closed) return { accepted: false, reason: 'closed' };
    const thread = this.threads.get(threadId) ?? { queue: [] };
    if (thread.queue.length >= this.opts.maxQueue) return { accepted: false, reason: 'thread-queue-full' };
    if (this.queued >= this.opts.maxTotalQueue) return { accepted: false, reason: 'queue-full' };
    this.threads.set(threadId, thread);
    const seq = this.seq++;
    thread.queue.push({ item, seq, lane });
    this.queued++;
    // A thread becomes ready with its first waiting message (a running one, when its turn ends).
    if (!thread.running && thread.queue.length === 1) this.makeReady(threadId, thread);
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
    this.lanes.clear();
    this.onChange(this.stats);
    return dropped;
  }

  /** Resolves when every running turn has returned. */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.allSettled(Array.from(this.running));
  }

  /** The thread's head message waits in its lane for a free slot. */
  private makeReady(threadId: string, thread: ThreadState<T>): void {
    const head = thread.queue[0];
    let lane = this.lanes.get(head.lane);
    if (!lane) this.lanes.set(head.lane, (lane = { ready: new ReadyHeap(), active: 0, version: 0 }));
    lane.ready.push({ threadId, seq: head.seq });
    this.place(head.lane, lane);
  }

  /** Puts the lane back in the lane heap at its current place, or forgets it when it holds nothing. */
  private place(key: string, lane: LaneState): void {
    lane.version++;
    const head = lane.ready.peek();
    if (head) this.ready.push({ lane: key, active: lane.active, seq: head.seq, version: lane.version });
    else if (lane.active === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
  }

  /** Starts turns while there are free slots: the lane with the fewest running, its oldest message first. */
  private pump(): void {
    while (!this.closed && this.active < this.opts.concurrency) {
      const top = this.ready.pop();
      if (!top) return;
      const lane = this.lanes.get(top.lane);
      if (!lane || lane.version !== top.version) continue;
      for (let next = lane.ready.pop(); next; next = lane.ready.pop()) {
        const t = this.threads.get(next.threadId);
        // Stale: the thread is gone, running, or its head is not the message it was ready with.
        if (!t || t.running || !t.queue.length || t.queue[0].seq !== next.seq) continue;
        this.start(next.threadId, t, top.lane, lane);
        break;
      }
      this.place(top.lane, lane);
    }
  }

  private start(threadId: string, thread: ThreadState<T>, laneKey: string, lane: LaneState): void {
    const taken = this.opts.mode === 'collect' ? thread.queue.splice(0) : thread.queue.splice(0, 1);
    this.queued -= taken.length;
    const controller = new AbortController();
    thread.running = controller;
    lane.active++;
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
      const lane = this.lanes.get(laneKey);
      if (lane && !this.closed) {
        lane.active--;
        this.place(laneKey, lane);
      }
      if (!thread.queue.length && this.threads.get(threadId) === thread) this.threads.delete(threadId);
      else if (thread.queue.length && !this.closed) this.makeReady(threadId, thread);
      // The next turn starts from here, a handler nobody awaits: a throw must not escape it.
      guard(() => this.pump())();
      guard(() => this.onChange(this.stats))();
    });
    this.running.add(done);
  }
}
