/**
 * The agent call's side of core/turns-in-flight.ts: every message it takes is written to the
 * gateway's store as a turn in flight and deleted when its `done` runs (answered, fallback, error
 * output, overflow, held for a person). When the node starts, turns of this node and this instance
 * still in the store were cut by a crash: each chat is told its message was not answered (through
 * output 1, so the reply router and the out node send it like any reply) and a Catch node gets the
 * error, once. Without this, messages waiting behind a running turn, or a turn cut mid-stream, were
 * lost at a kill -9 with no word to anyone.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as os from 'node:os';
import type { Chat, ThreadInfo } from '../core/envelope';
import { listenerAddress } from '../core/reply-listeners';
import { andThen, type StateOps } from '../core/store/state-ops';
import { QUOTE_CHARS, turnKey, turnPrefix, type TurnInFlight } from '../core/turns-in-flight';
import type { Done } from './turn-runner';

/** One instance of Node-RED: its host and user directory (the same after a restart, another on a second instance). */
export function instanceId(userDir: string | undefined): string {
  return createHash('sha256')
    .update(`${os.hostname()}\u0000${userDir ?? process.cwd()}`)
    .digest('hex')
    .slice(0, 12);
}

/**
 * This process. A turn a stop of this same process cut (the flows stopped and started again, a
 * test's load after an unload) is forgotten without a word: it was not a crash, and the node that
 * stopped it had its close handlers run. Only a turn of another process (the one before a crash or
 * a restart) is reported.
 */
export const PROCESS_ID = randomUUID();

export interface Stranded {
  key: string;
  turn: TurnInFlight;
}

export class TurnsGuard {
  /** Keys this node began (its own live turns are never reported as cut). */
  private readonly live = new Set<string>();
  /**
   * Set when the node closes and stays in the flow (a redeploy, or Node-RED stopping): the turns it
   * finishes from now on were cut, not answered, so they stay in the store. A redeploy's next node
   * takes them over (same keys); after Node-RED stops, the next process reports them.
   */
  private keeping = false;

  constructor(
    private readonly ops: StateOps,
    private readonly instance: string,
    private readonly nodeId: string,
    private readonly failed: (err: Error) => void,
  ) {}

  /** Records the turn and returns the `done` that ends it. */
  track(msg: object, chat: Chat, thread: ThreadInfo, text: string, done: Done): Done {
    const given = (msg as { _msgid?: unknown })._msgid;
    const id = typeof given === 'string' && given ? given : randomUUID();
    const key = turnKey(this.instance, this.nodeId, id);
    this.live.add(key);
    const turn: TurnInFlight = { threadId: thread.id, chatJid: chat.chatJid, replyTo: listenerAddress(chat.replyTo), text: text.slice(0, QUOTE_CHARS), at: Date.now(), proc: PROCESS_ID };
    andThen(this.ops.beginTurn(key, turn), () => undefined, this.failed);
    let ended = false;
    return (err) => {
      if (!ended && !this.keeping) {
        ended = true;
        this.live.delete(key);
        andThen(this.ops.endTurn(key), () => undefined, this.failed);
      }
      done(err);
    };
  }

  /** From now on, finished turns stay in the store (see `keeping`). */
  keep(): void {
    this.keeping = true;
  }

  /** The turns a crash cut (read once the store is warm), each handed to `report` and then forgotten. */
  reportStranded(report: (s: Stranded) => void): void {
    andThen(
      this.ops.turnsWithPrefix(turnPrefix(this.instance, this.nodeId)),
      (found) => {
        for (const [key, turn] of found) {
          if (this.live.has(key)) continue;
          if (turn.proc === PROCESS_ID) {
            andThen(this.ops.endTurn(key), () => undefined, this.failed);
            continue;
          }
          try {
            report({ key, turn });
          } finally {
            andThen(this.ops.endTurn(key), () => undefined, this.failed);
          }
        }
      },
      this.failed,
    );
  }
}
