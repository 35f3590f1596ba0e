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
import { QUOTE_CHARS, turnKey, turnOwner, turnPrefix, type TurnInFlight } from '../core/turns-in-flight';
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

/**
 * With a shared store (Redis, several instances): how long an instance's heartbeat lives unless
 * renewed (it is renewed at a third of it), and how often the peers look for turns of instances
 * without one. An instance is given up only when two looks in a row found no heartbeat, so one
 * that lost Redis for a while has renewed it before anyone takes its turns.
 * CHATGATE_PEER_ALIVE_MS / CHATGATE_PEER_SCAN_MS change them (tests, or a slower network).
 */
export function peerTimings(env: NodeJS.ProcessEnv = process.env): { aliveMs: number; scanMs: number } {
  const num = (v: string | undefined, d: number) => (v && Number(v) >= 100 ? Number(v) : d);
  return { aliveMs: num(env.CHATGATE_PEER_ALIVE_MS, 30_000), scanMs: num(env.CHATGATE_PEER_SCAN_MS, 15_000) };
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
  private timers: NodeJS.Timeout[] = [];
  /** Instances seen without a heartbeat at the last look, and when. */
  private readonly missing = new Map<string, number>();

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

  /**
   * The turns a crash cut (read once the store is warm), each claimed and then handed to `report`:
   * a peer that gave this instance up may be claiming the same turns, and only one of them tells.
   */
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
          this.claimAndReport(key, turn, report);
        }
      },
      this.failed,
    );
  }

  /**
   * With a shared store: keeps this instance's heartbeat and, every `scanMs`, reports the turns of
   * this node that instances gone for good left behind (killed, a host that never came back): two
   * looks in a row without their heartbeat. Without this their chats waited for ever — only the
   * same instance starting again told them.
   */
  watchPeers(report: (s: Stranded) => void, timings = peerTimings()): void {
    const { markAlive, instancesAlive } = this.ops;
    if (!markAlive || !instancesAlive) return;
    // A store that is down says so in the gateway's status; a heartbeat or a look that fails is
    // simply tried again at the next tick.
    const quiet = () => undefined;
    const beat = () => andThen(markAlive.call(this.ops, this.instance, timings.aliveMs), () => undefined, quiet);
    beat();
    this.timers.push(setInterval(beat, Math.max(50, Math.floor(timings.aliveMs / 3))));
    const look = () =>
      andThen(
        this.ops.turnsWithPrefix(''),
        (all) => {
          const theirs = new Map<string, Array<[string, TurnInFlight]>>();
          for (const [key, turn] of all) {
            const owner = turnOwner(key);
            if (!owner || owner.nodeId !== this.nodeId || owner.instance === this.instance) continue;
            theirs.set(owner.instance, [...(theirs.get(owner.instance) ?? []), [key, turn]]);
          }
          for (const gone of this.missing.keys()) if (!theirs.has(gone)) this.missing.delete(gone);
          const instances = [...theirs.keys()];
          if (!instances.length) return;
          andThen(
            instancesAlive.call(this.ops, instances),
            (alive) => {
              const now = Date.now();
              instances.forEach((instance, i) => {
                if (alive[i]) return void this.missing.delete(instance);
                const since = this.missing.get(instance);
                if (since === undefined) return void this.missing.set(instance, now);
                // Two misses a look apart in time: looks queued while Redis was away answer in a
                // burst when it returns, before the instance had a chance to renew its heartbeat.
                if (now - since < timings.scanMs * 0.9) return;
                for (const [key, turn] of theirs.get(instance)!) this.claimAndReport(key, turn, report);
              });
            },
            quiet,
          );
        },
        quiet,
      );
    this.timers.push(setInterval(look, timings.scanMs));
    for (const t of this.timers) t.unref?.();
  }

  /** Stops the heartbeat and the looks (the node closes; the next deploy's node starts its own). */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private claimAndReport(key: string, turn: TurnInFlight, report: (s: Stranded) => void): void {
    andThen(
      this.ops.claimTurn(key),
      (mine) => {
        if (mine) report({ key, turn });
      },
      this.failed,
    );
  }
}
