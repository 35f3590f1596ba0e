/**
 * `npm run soak`: the soak under faults at full size (test/soak/scenario.ts), counted from the
 * users' side; prints the table the README's soak figures come from and exits non-zero when a
 * count that must be zero is not, the heap did not come back, or anything was left unhandled.
 *
 *   node --expose-gc --import tsx bench/soak.ts [--messages N] [--seconds S] [--users-per-kind K] [--json FILE]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
// Installs the same unhandled-rejection and uncaught-exception hooks as the test suite.
import '../test/helpers/fail-on-unhandled';
import { runSoak } from '../test/soak/scenario';
import { formatSoak, problems } from '../test/soak/report';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const messages = Number(arg('messages') ?? 10_000);
  const seconds = arg('seconds') !== undefined ? Number(arg('seconds')) : undefined;
  const usersPerKind = Number(arg('users-per-kind') ?? 8);
  const t0 = Date.now();
  console.error(`soak: ${messages} messages${seconds ? ` or ${seconds} s` : ''}, ${usersPerKind} users per kind (${os.cpus().length} cpus, Node ${process.version})`);
  const skip = arg('skip-faults');
  const result = await runSoak({ messages, seconds, usersPerKind, ...(skip ? { skipFaults: new RegExp(skip) } : {}), log: (s) => console.error(`  ${s}`) });
  console.log(formatSoak(result));
  const json = arg('json');
  if (json) fs.writeFileSync(json, JSON.stringify({ when: new Date().toISOString(), command: process.argv.slice(2).join(' '), node: process.version, cpus: os.cpus().length, ...result }, null, 2) + '\n');
  const bad = problems(result);
  console.log(`\n${bad.length ? `FAILED:\n- ${bad.join('\n- ')}` : 'OK: nothing lost, doubled, cut, misplaced or out of order; heap back within the margin; nothing unhandled'} (${((Date.now() - t0) / 1000).toFixed(0)} s in all)`);
  process.exitCode = bad.length ? 1 : 0;
}

main().then(
  () => process.exit(),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
