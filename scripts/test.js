#!/usr/bin/env node
/**
 * The test suite in two mocha processes at once: test/core (platform-neutral logic, no Node-RED:
 * CPU-bound renderers and property tests) beside everything else (the Node-RED runtime, real
 * processes, Chromium, Redis — mostly waiting on sockets and timers). On a 2-core machine the
 * core suites then cost almost nothing of the wall time. The core run's report is printed after
 * the main one; the exit code is non-zero when either fails. Arguments go to the main run
 * (`--ignore <file>`, as the compatibility run uses).
 *
 * `npm run test:one -- <files>` still runs any file alone.
 */
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const mocha = path.join(root, 'node_modules/mocha/bin/mocha.js');
const CORE = 'test/core/**/*.test.ts';
const extra = process.argv.slice(2);

function run(args, capture) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mocha, ...args], { cwd: root, stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: process.env });
    const out = [];
    if (capture) {
      child.stdout.on('data', (d) => out.push(d));
      child.stderr.on('data', (d) => out.push(d));
    }
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output: Buffer.concat(out).toString() }));
  });
}

(async () => {
  // The core run takes the same hooks as .mocharc.json (tsx, fail on unhandled rejections, the fixed fast-check seed).
  const core = run(['--no-config', '-r', 'tsx/cjs', '-r', 'test/helpers/fail-on-unhandled.ts', '-r', 'test/helpers/fast-check-seed.ts', '--extension', 'ts', '--timeout', '15000', '--exit', CORE], true);
  const main = await run(['--ignore', CORE, ...extra], false);
  const side = await core;
  process.stdout.write(`\n== test/core (run beside the rest)\n${side.output}`);
  if (main.code || side.code) {
    console.error(`\ntests failed: ${[main.code ? 'the main run' : '', side.code ? 'test/core' : ''].filter(Boolean).join(' and ')}`);
    process.exit(1);
  }
})();
