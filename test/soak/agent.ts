/**
 * The agent the soak's flow talks to: the fake OpenAI-compatible server (test/emulators/
 * openai-server.ts) answering every turn as a stream that echoes the user's token, and its faults
 * (the server's own options, each for the next N requests, whichever threads they belong to):
 * slow answers, 5xx, 429 with Retry-After, a broken stream, requests that never answer, and slow
 * streams.
 */
import { lastUserText, startOpenAIServer, type ChatCompletionBody, type FakeOpenAIServer, type OpenAIBehavior } from '../emulators/openai-server';
import { agentReply, type Fault } from './types';

const userTurns = (body: ChatCompletionBody) => (body.messages ?? []).filter((m) => m.role === 'user').length;

export const AGENT_BEHAVIOR: OpenAIBehavior = {
  reply: (body) => agentReply(lastUserText(body), userTurns(body)),
  chunks: 3,
  chunkDelayMs: 15,
};

export interface SoakAgent {
  server: FakeOpenAIServer;
  /** `scale`: fault sizes for this many users (1 = the bench's 8 users of each kind). */
  faults(scale?: number): Fault[];
  notes(): Record<string, number>;
}

export async function startSoakAgent(): Promise<SoakAgent> {
  const server = await startOpenAIServer({ model: 'soak-model', behavior: AGENT_BEHAVIOR });
  const noted = { slow: 0, failed5xx: 0, rateLimited: 0, malformed: 0, hung: 0, slowStreams: 0 };
  const next = (b: OpenAIBehavior, n: number, what: keyof typeof noted) => {
    server.setBehavior({ ...AGENT_BEHAVIOR, ...b }, n);
    noted[what] += n;
  };
  return {
    server,
    notes: () => ({ ...noted }),
    faults: (scale = 1) => {
      const n = (count: number) => Math.max(1, Math.round(count * scale));
      return [
        { at: 0.4, name: 'agent: slow answers (1.5 s before the first byte)', fire: () => next({ delayMs: 1500 }, n(30), 'slow') },
        { at: 0.62, name: 'agent: 500 on the next requests in a row (the SDK retries each turn twice)', fire: () => next({ fail: 500 }, n(12), 'failed5xx') },
        { at: 0.67, name: 'agent: 429 with Retry-After 1 s', fire: () => next({ rateLimit: { retryAfterSeconds: 1 } }, n(6), 'rateLimited') },
        { at: 0.72, name: 'agent: a broken stream (malformed SSE, not retried)', fire: () => next({ malformed: true }, n(2), 'malformed') },
        { at: 0.78, name: 'agent: no answer at all (timed out after 4 s, retried)', fire: () => next({ hang: true }, n(2), 'hung') },
        { at: 0.86, name: 'agent: slow streams (300 ms between pieces)', fire: () => next({ chunkDelayMs: 300 }, n(20), 'slowStreams') },
      ];
    },
  };
}
