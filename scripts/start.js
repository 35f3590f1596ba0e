#!/usr/bin/env node
// `npm start`: runs Node-RED with this package and the demo flow, on a user directory inside the
// repo (.demo/, git-ignored), at http://127.0.0.1:1880 (PORT overrides). The demo's state (threads,
// allowlist) lives in that directory, so it survives a restart.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startDemoAgent } = require('./demo-agent');

const root = path.resolve(__dirname, '..');
const DEMO_FLOW = path.join(root, 'examples', 'webchat-and-webhook-demo.json');

/** Makes `dir` a Node-RED user directory that loads this package and, on first start, the demo flow. */
function prepareUserDir(dir, { resetFlow = false } = {}) {
  const scope = path.join(dir, 'node_modules', '@chatgate');
  fs.mkdirSync(scope, { recursive: true });
  const link = path.join(scope, 'node-red');
  let current;
  try {
    current = fs.realpathSync(link);
  } catch {
    current = undefined;
  }
  if (current !== fs.realpathSync(root)) {
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(path.relative(scope, root), link, 'dir');
  }
  const flows = path.join(dir, 'flows.json');
  if (resetFlow || !fs.existsSync(flows)) fs.copyFileSync(DEMO_FLOW, flows);
  return dir;
}

function startNodeRed(dir, { port, settings = path.join(__dirname, 'demo-settings.js'), stdio = 'inherit', env = process.env } = {}) {
  const red = require.resolve('node-red/red.js');
  return spawn(process.execPath, [red, '--userDir', dir, '--port', String(port), '--settings', settings], {
    stdio,
    env,
  });
}

module.exports = { prepareUserDir, startNodeRed, DEMO_FLOW };

async function main() {
  const dir = process.env.CHATGATE_DEMO_DIR || path.join(root, '.demo');
  const port = Number(process.env.PORT) || 1880;
  prepareUserDir(dir, { resetFlow: process.argv.includes('--reset') });
  // The scripted demo model (scripts/demo-agent.js) runs in this process on a loopback port; the
  // demo flow's agent call reads its URL from the environment.
  const agent = await startDemoAgent({
    port: Number(process.env.CHATGATE_DEMO_AGENT_PORT) || 0,
    chunkDelayMs: Number(process.env.CHATGATE_DEMO_AGENT_CHUNK_MS) || undefined,
  });
  const child = startNodeRed(dir, { port, env: { ...process.env, CHATGATE_DEMO_AGENT_URL: agent.url } });
  console.log(`chatgate demo: web chat at http://127.0.0.1:${port}/chatgate/webchat, editor at http://127.0.0.1:${port}/`);
  console.log(`chatgate demo: scripted demo model (OpenAI-compatible, not an AI) at ${agent.url}`);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    agent.close().finally(() => process.exit(code ?? (signal ? 0 : 1)));
  });
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
