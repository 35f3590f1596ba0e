// Preloaded (node --require) into the Node-RED process the soak runs: records every unhandled
// rejection and uncaught exception (as test/helpers/fail-on-unhandled.ts does in the test process)
// and answers the soak over IPC with the heap used after a full GC and what it recorded. Plain
// CommonJS, so it loads before Node-RED without a TypeScript loader.
'use strict';

const seen = [];

function describe(reason) {
  if (reason instanceof Error) return reason.stack || reason.message;
  try {
    return typeof reason === 'string' ? reason : JSON.stringify(reason) ?? String(reason);
  } catch {
    return String(reason);
  }
}

process.on('unhandledRejection', (reason) => {
  seen.push(`unhandled rejection: ${describe(reason)}`);
});
process.on('uncaughtExceptionMonitor', (error) => {
  seen.push(`uncaught exception: ${describe(error)}`);
});

process.on('message', (m) => {
  if (!m || typeof m !== 'object' || m.type !== 'soak:probe') return;
  const gc = globalThis.gc;
  if (typeof gc === 'function') {
    gc();
    gc();
  }
  const mem = process.memoryUsage();
  process.send?.({ type: 'soak:probe', id: m.id, heapUsed: mem.heapUsed, rss: mem.rss, gc: typeof gc === 'function', unhandled: seen.slice() });
});
