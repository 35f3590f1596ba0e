/**
 * Loaded before every test file (.mocharc.json `require`): the suite fails on any unhandled promise
 * rejection or uncaught exception anywhere in it. In Node-RED either one exits the process, every
 * flow with it; mocha on its own only re-emits unhandled rejections, so without this hook they
 * would pass unnoticed.
 */
const seen: Array<{ kind: string; reason: unknown }> = [];

process.on('unhandledRejection', (reason) => {
  seen.push({ kind: 'unhandled rejection', reason });
});
process.on('uncaughtExceptionMonitor', (error) => {
  seen.push({ kind: 'uncaught exception', reason: error });
});

function describe(reason: unknown): string {
  if (reason instanceof Error) return reason.stack ?? reason.message;
  try {
    return typeof reason === 'string' ? reason : JSON.stringify(reason) ?? String(reason);
  } catch {
    return String(reason);
  }
}

/** Hands out (and forgets) what was seen since the last call; for tests that provoke one on purpose. */
export function takeUnhandled(): Array<{ kind: string; reason: unknown }> {
  return seen.splice(0);
}

export const mochaHooks = {
  afterEach(this: { currentTest?: { fullTitle(): string } }): void {
    if (!seen.length) return;
    const found = seen.splice(0);
    const where = this.currentTest ? ` during or before "${this.currentTest.fullTitle()}"` : '';
    throw new Error(`${found.length} ${found[0].kind}(s)${where}:\n${found.map((f) => `${f.kind}: ${describe(f.reason)}`).join('\n')}`);
  },
  afterAll(): void {
    if (!seen.length) return;
    const found = seen.splice(0);
    throw new Error(`${found.length} unhandled failure(s) after the last test:\n${found.map((f) => `${f.kind}: ${describe(f.reason)}`).join('\n')}`);
  },
};
