/**
 * `npm run bench`: every benchmark, each subject beside its baseline in the same run; prints a
 * table and writes bench/results.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runDelivery } from './delivery';
import { runPipeline } from './pipeline';
import { runThreadStore } from './thread-store';
import { table, type Row } from './lib';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const benches: Array<[string, (log: (s: string) => void) => Promise<Row[]>]> = [
    ['pipeline', runPipeline],
    ['delivery', runDelivery],
    ['thread-store', runThreadStore],
  ];
  const rows: Row[] = [];
  const started = Date.now();
  for (const [name, run] of benches) {
    if (only.length && !only.includes(name)) continue;
    const t0 = Date.now();
    rows.push(...(await run((s) => console.error(`  ${s}`))));
    console.error(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const out = {
    when: new Date().toISOString(),
    command: 'npm run bench',
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.arch()}` },
    seconds: Math.round((Date.now() - started) / 1000),
    rows,
  };
  if (!only.length) fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(table(rows));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
