/**
 * A V8 .cpuprofile as a table: self time per function and per package, in µs per message.
 *
 *   node --import tsx bench/cpuprofile-summary.ts PROFILE MESSAGES [TOP] [BASELINE_PROFILE]
 *
 * With a baseline profile (the other side, the same number of messages), each row also shows the
 * baseline's figure and the difference, sorted by the difference: where the extra time goes.
 * Packages: node_modules/<name>, chatgate's dist/nodes/<dir>, the emulators (test/), node's own
 * modules (node:), V8's (garbage collector), (idle) and (program).
 */
import * as fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function packageOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = /\/dist\/nodes\/([^/]+)/.exec(url);
  if (dist) return `chatgate dist/nodes/${dist[1]}`;
  if (url.includes('/test/')) return 'emulators (test/)';
  if (url.includes('/bench/')) return 'bench driver';
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const i = url.search(/\/(dist|test|bench|nodes)\//);
  return i >= 0 ? url.slice(i + 1) : url;
}

function keyOf(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const name = functionName || '(anonymous)';
  return url ? `${name}  ${shortUrl(url)}:${lineNumber + 1}` : name;
}

/** Self time (µs) per function key and per package; inclusive time per function key (each sample once). */
export function selfTimes(p: CpuProfile): { fn: Map<string, number>; pkg: Map<string, number>; incl: Map<string, number>; total: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    // The interval after a sample is the sample's.
    const dt = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1] : 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + Math.max(0, dt));
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const key = keyOf(n);
    fn.set(key, (fn.get(key) ?? 0) + us);
    const k = packageOf(n.callFrame.url, n.callFrame.functionName || '(anonymous)');
    pkg.set(k, (pkg.get(k) ?? 0) + us);
    total += us;
    // Inclusive: every distinct function on this node's stack gets the node's self time.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const kk = keyOf(byId.get(at)!);
      if (seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + us);
    }
  }
  return { fn, pkg, incl, total };
}

function main(): void {
  const [file, messagesArg, topArg, baseFile] = process.argv.slice(2);
  if (!file || !messagesArg) throw new Error('usage: cpuprofile-summary.ts PROFILE MESSAGES [TOP] [BASELINE_PROFILE]');
  const n = Number(messagesArg);
  const top = Number(topArg ?? 30);
  const a = selfTimes(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile);
  const b = baseFile ? selfTimes(JSON.parse(fs.readFileSync(baseFile, 'utf8')) as CpuProfile) : undefined;
  const per = (us: number | undefined) => ((us ?? 0) / n).toFixed(1).padStart(8);
  const busy = (t: { pkg: Map<string, number>; total: number }) => t.total - (t.pkg.get('(idle)') ?? 0);
  console.log(`${file}: ${(a.total / 1000).toFixed(0)} ms sampled, ${per(a.total)} µs/message wall, ${per(busy(a))} µs/message busy (not idle)`);
  if (b) console.log(`${baseFile}: ${(b.total / 1000).toFixed(0)} ms sampled, ${per(b.total)} µs/message wall, ${per(busy(b))} µs/message busy (not idle)`);
  const filter = process.env.INCLUSIVE_FILTER;
  for (const [title, ma, mb] of [
    ['package', a.pkg, b?.pkg],
    ['function', a.fn, b?.fn],
    ...(filter ? ([[`inclusive (functions matching ${filter})`, filtered(a.incl, filter), b ? filtered(b.incl, filter) : undefined]] as const) : []),
  ] as const) {
    const keys = new Set([...ma.keys(), ...(mb?.keys() ?? [])]);
    const rows = [...keys].map((k) => ({ k, x: ma.get(k) ?? 0, y: mb?.get(k) ?? 0 }));
    rows.sort((p, q) => (mb ? q.x - q.y - (p.x - p.y) : q.x - p.x));
    console.log(`\nself time by ${title}, µs/message${mb ? ' (subject, baseline, difference), by difference' : ''}`);
    for (const r of rows.slice(0, title === 'package' ? 40 : top)) console.log(`${per(r.x)}${mb ? `${per(r.y)}${per(r.x - r.y)}` : ''}  ${r.k}`);
  }
}

function filtered(m: Map<string, number>, re: string): Map<string, number> {
  const r = new RegExp(re);
  return new Map([...m].filter(([k]) => r.test(k)));
}

if (require.main === module) main();
