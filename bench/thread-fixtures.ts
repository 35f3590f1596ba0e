/** What the thread-store benchmarks share: the chats they resolve, and the plain-Map baseline. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { composeKey } from '../nodes/core/keys';
import { newThreadId, type ThreadChat } from '../nodes/core/threads';

/** n Telegram direct chats, one user each. */
export function chats(n: number): ThreadChat[] {
  const out: ThreadChat[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const id = String(100000000 + i);
    out[i] = { platform: 'telegram', channelId: 'bot-config-1', chatId: id, userId: id, chatJid: `tg:${id}`, userJid: `tg:${id}` };
  }
  return out;
}

/** The baseline: what a hand-rolled gateway would do with one Map. */
export class PlainMap {
  readonly m = new Map<string, string>();
  resolve(c: ThreadChat): string {
    const key = composeKey(['u', c.platform, c.channelId, c.userId]);
    let id = this.m.get(key);
    if (!id) this.m.set(key, (id = newThreadId()));
    return id;
  }
}

/**
 * Calls `each(i)` `rate` times a second for `ms`, catching up to the clock as arrivals would, and
 * returns the longest event-loop delay seen meanwhile (ms, perf_hooks.monitorEventLoopDelay).
 */
export async function serveAtRate(each: (i: number) => void, rate: number, ms: number): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const started = performance.now();
  let i = 0;
  await new Promise<void>((done) => {
    const tick = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      for (; i < due; i++) each(i);
      if (performance.now() - started >= ms) {
        clearInterval(tick);
        done();
      }
    }, 1000 / rate);
  });
  h.disable();
  return h.max / 1e6;
}
