/**
 * What an operator installs: the packed tarball holds what an installed copy needs and nothing
 * else; installed into a fresh Node-RED user directory it loads every node set, the subflow
 * module, the sidebar plugin and the examples with no error (asked of Node-RED's own loader over
 * its admin API); the examples deploy and answer; the Flow Library scorecard's offline checks hold.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, postJson } from '../helpers/demo';
import { nodeRedReady } from '../helpers/node-red-ready';

const ROOT = path.resolve(__dirname, '../..');
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startDemoAgent } = require('../../scripts/demo-agent') as {
  startDemoAgent: (o: { port?: number; chunkDelayMs?: number }) => Promise<{ url: string; close: () => Promise<void> }>;
};

/** Dependencies declared but not required by dist code (none: every dependency must be used). */
const DECLARED_NOT_YET_REQUIRED: string[] = [];

type Flow = Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

function npm(args: string[], cwd: string): string {
  return execFileSync(NPM, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** Node types registered in the editor files, with whether each is a config node. */
function editorTypes(): Map<string, { config: boolean; file: string }> {
  const types = new Map<string, { config: boolean; file: string }>();
  for (const file of walk(path.join(ROOT, 'dist/nodes')).filter((f) => f.endsWith('.html'))) {
    const html = fs.readFileSync(file, 'utf8');
    for (const m of html.matchAll(/RED\.nodes\.registerType\(\s*'([^']+)'\s*,\s*\{([\s\S]*?)category:\s*'([^']+)'/g)) {
      assert.ok(!types.has(m[1]), `${m[1]} is registered twice`);
      types.set(m[1], { config: m[3] === 'config', file });
    }
  }
  return types;
}

function examples(): Map<string, Flow> {
  const dir = path.join(ROOT, 'examples');
  return new Map(fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => [f, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))]));
}

describe('packaging', function () {
  this.timeout(60000);

  describe('the Flow Library scorecard, offline checks', () => {
    it('license, repository, the node-red keyword and node-red.version', () => {
      assert.equal(PKG.license, 'Apache-2.0');
      assert.ok(fs.existsSync(path.join(ROOT, 'LICENSE')));
      assert.match(PKG.repository?.url ?? '', /^(git\+)?https:\/\/github\.com\/.+\.git$/);
      assert.ok(PKG.keywords.includes('node-red'));
      assert.match(PKG['node-red'].version, /^>=\s*\d/);
      assert.ok(Number(PKG['node-red'].version.replace(/[^\d.]/g, '').split('.')[0]) >= 4);
    });

    it('every node file exists, type names are unique, prefixed and not core types', () => {
      const types = editorTypes();
      const listed = Object.entries(PKG['node-red'].nodes as Record<string, string>);
      for (const [, file] of listed) assert.ok(fs.existsSync(path.join(ROOT, file)), `${file} exists (built)`);
      for (const [name] of listed) assert.match(name, /^chatgate-/);
      for (const type of types.keys()) assert.match(type, /^chatgate-/, `${type} is prefixed`);
      const core = new Set(['inject', 'debug', 'function', 'change', 'switch', 'template', 'delay', 'http in', 'http response', 'http request', 'comment', 'link in', 'link out', 'websocket in', 'websocket out', 'mqtt in', 'mqtt out']);
      for (const type of types.keys()) assert.ok(!core.has(type));
      const sub = JSON.parse(fs.readFileSync(path.join(ROOT, 'flows/agent-pipeline.json'), 'utf8'));
      assert.equal(sub.meta.type, 'chatgate-agent-pipeline');
      assert.ok(!types.has(sub.meta.type), 'the subflow type is its own');
    });

    it('examples: every non-config node type is used; each has a comment and a gateway, and no credentials', () => {
      const types = editorTypes();
      const all = examples();
      const used = new Set<string>();
      for (const [file, flow] of all) {
        assert.ok(Array.isArray(flow), file);
        for (const n of flow) used.add(n.type);
        assert.ok(flow.some((n) => n.type === 'comment' && n.name && n.info), `${file} has a comment node saying what it shows and what to configure`);
        assert.ok(flow.some((n) => /^chatgate-.*(gateway)$/.test(n.type)), `${file} has a gateway config node`);
        for (const n of flow) assert.equal(n.credentials, undefined, `${file}: ${n.id} carries no credentials`);
        const ids = flow.map((n) => n.id);
        assert.equal(new Set(ids).size, ids.length, `${file}: ids are unique`);
      }
      // The node sets package.json lists (a node still being written elsewhere is not yet packaged).
      const listedHtml = new Set(Object.values(PKG['node-red'].nodes as Record<string, string>).map((f) => path.join(ROOT, f.replace(/\.js$/, '.html'))));
      const needed = [...types]
        .filter(([, t]) => !t.config && listedHtml.has(t.file))
        .map(([type]) => type)
        .concat('chatgate-agent-pipeline');
      const missing = needed.filter((t) => !used.has(t));
      assert.deepEqual(missing, [], 'every node appears in at least one example');
      // Paths of the web chat and webhook in nodes never clash between examples, so any of them can be deployed together.
      const paths = [...all.values()].flat().filter((n) => n.type === 'chatgate-webchat-in' || n.type === 'chatgate-webhook-in').map((n) => `${n.type} ${n.path}`);
      assert.equal(new Set(paths).size, paths.length, `paths are unique: ${paths.join(', ')}`);
    });

    it('declared dependencies are exactly the packages the built code requires', () => {
      const required = new Set<string>();
      for (const file of walk(path.join(ROOT, 'dist/nodes')).filter((f) => f.endsWith('.js')).concat(path.join(ROOT, 'flows/agent-pipeline.js'))) {
        for (const m of fs.readFileSync(file, 'utf8').matchAll(/require\("([^".][^"]*)"\)|require\('([^'.][^']*)'\)/g)) {
          const spec = m[1] ?? m[2];
          if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
          required.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
        }
      }
      const declared = Object.keys(PKG.dependencies);
      assert.deepEqual([...required].filter((d) => !declared.includes(d)), [], 'every package the code requires is declared');
      assert.deepEqual(
        declared.filter((d) => !required.has(d)),
        DECLARED_NOT_YET_REQUIRED.filter((d) => !required.has(d)),
        'every declared dependency is required by the built code',
      );
      assert.equal(PKG.dependencies['node-red'], undefined, 'node-red is not a dependency');
    });
  });

  describe('the tarball', () => {
    let files: string[];
    before(() => {
      const out = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT));
      files = out[0].files.map((f: { path: string }) => f.path);
    });

    it('holds the built nodes, their editor files, catalogs and static assets, examples, flows and the docs', () => {
      for (const f of ['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json', 'flows/agent-pipeline.json', 'flows/agent-pipeline.js', 'dist/nodes/sidebar/chatgate-sidebar.js', 'dist/nodes/sidebar/chatgate-sidebar.html', 'dist/nodes/sidebar/locales/en-US/chatgate-sidebar.json', 'dist/nodes/webchat/static/app.js']) {
        assert.ok(files.includes(f), `${f} is packed`);
      }
      for (const ex of examples().keys()) assert.ok(files.includes(`examples/${ex}`), `examples/${ex} is packed`);
      for (const file of Object.values(PKG['node-red'].nodes as Record<string, string>)) {
        assert.ok(files.includes(file), `${file} is packed`);
        if (file.startsWith('dist/')) {
          assert.ok(files.includes(file.replace(/\.js$/, '.html')), `${file}'s editor file is packed`);
          const name = path.basename(file, '.js');
          assert.ok(files.includes(path.join(path.dirname(file), 'locales/en-US', `${name}.json`)), `${name}'s catalog is packed`);
        }
      }
    });

    it('holds nothing else: no tests, emulators, scripts, TypeScript sources or source maps', () => {
      const allowed = /^(dist\/nodes\/.+\.(js|html|json|css|svg|png)|examples\/[^/]+\.json|flows\/[^/]+\.(json|js)|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/;
      assert.deepEqual(files.filter((f) => !allowed.test(f)), []);
      assert.deepEqual(files.filter((f) => /(^|\/)(test|tests|emulators|scripts|bench|\.ci)\//.test(f) || f.endsWith('.ts') || f.endsWith('.map')), []);
    });
  });

  describe('installed into a fresh Node-RED user directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-pack-'));
    const userDir = path.join(dir, 'user');
    let red: ChildProcess | undefined;
    let base = '';
    const log: string[] = [];
    let agent: { url: string; close: () => Promise<void> } | undefined;

    before(async function () {
      this.timeout(60000);
      npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
      const tarball = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'));
      assert.ok(tarball, 'npm pack made a tarball');
      fs.mkdirSync(userDir);
      fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
      npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', path.join(dir, tarball!)], userDir);
      fs.writeFileSync(
        path.join(userDir, 'settings.js'),
        `module.exports = { uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: 'pack-test',
           logging: { console: { level: 'info', metrics: false, audit: false } },
           editorTheme: { tours: false, projects: { enabled: false } }, diagnostics: { enabled: false }, telemetry: { enabled: false } };`,
      );
      agent = await startDemoAgent({ port: 0, chunkDelayMs: 5 });
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--port', String(port), '--settings', path.join(userDir, 'settings.js')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Node-RED did not start:\n${log.join('')}`)), 30000);
        const onData = (d: Buffer) => {
          log.push(d.toString());
          if (nodeRedReady(log.join(''))) {
            clearTimeout(timer);
            resolve();
          }
        };
        red!.stdout!.on('data', onData);
        red!.stderr!.on('data', onData);
        red!.on('exit', (code) => reject(new Error(`Node-RED exited with ${code}:\n${log.join('')}`)));
      });
    });

    after(async () => {
      if (red && red.exitCode === null) {
        const exited = new Promise((r) => red!.once('exit', r));
        red.kill('SIGINT');
        await exited;
      }
      await agent?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const getJson = async (route: string) => {
      const res = await fetch(base + route, { headers: { accept: 'application/json' } });
      assert.equal(res.status, 200, route);
      return res.json() as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    };

    it("Node-RED's loader lists every node set, the subflow module and the sidebar plugin, with no error", async () => {
      assert.ok(fs.existsSync(path.join(userDir, 'node_modules/@chatgate/node-red/package.json')), 'installed from the tarball');
      assert.ok(!fs.lstatSync(path.join(userDir, 'node_modules/@chatgate/node-red')).isSymbolicLink());
      const sets = ((await getJson('/nodes')) as Array<{ id: string; module: string; types: string[]; err?: string; enabled: boolean }>).filter((s) => s.module === PKG.name);
      const byName = new Map(sets.map((s) => [s.id.slice(PKG.name.length + 1), s]));
      for (const name of Object.keys(PKG['node-red'].nodes)) {
        const set = byName.get(name);
        assert.ok(set, `node set ${name} is loaded`);
        assert.equal(set!.err, undefined, `${name}: ${set!.err}`);
        assert.ok(set!.enabled);
        assert.ok(set!.types.includes(name), `${name} registers its type (${set!.types})`);
      }
      const plugins = ((await getJson('/plugins')) as Array<{ id: string; module: string; err?: string }>).filter((p) => p.module === PKG.name);
      assert.deepEqual(plugins.map((p) => [p.id, p.err]), [[`${PKG.name}/chatgate-sidebar`, undefined]]);
      const catalogs = await getJson('/plugins/messages?lng=en-US');
      assert.equal(catalogs[`${PKG.name}/chatgate-sidebar`]?.sidebar?.label, 'chat gateway');
      assert.deepEqual(problems(log), []);
    });

    it('lists every example under Import > Examples', async () => {
      const modules = await getJson('/library/examples/flows/');
      assert.ok(JSON.stringify(modules).includes(PKG.name), JSON.stringify(modules));
      const listing = await getJson(`/library/examples/flows/${PKG.name}/`);
      const names = (listing as Array<string | { fn: string }>).map((e) => (typeof e === 'string' ? e : e.fn));
      for (const file of examples().keys()) assert.ok(names.includes(file.replace(/\.json$/, '')), `${file} is listed (${names})`);
    });

    it('every example deploys together; the sync webhook and the agent pipeline answer', async () => {
      const flows: Flow = [];
      for (const [file, flow] of examples()) {
        if (file === 'webchat-and-webhook-demo.json') continue; // deployed by the demo tests
        // Platform examples need a bot token and the platform's network; their own tests cover them.
        if (flow.some((n) => /^chatgate-(telegram|slack|discord|whatsapp)-/.test(n.type))) continue;
        for (const n of flow) {
          // The pipeline example points at Ollama; here it talks to the scripted demo model.
          if (n.type === 'chatgate-agent-pipeline') Object.assign(n, { baseUrl: agent!.url, model: 'chatgate-scripted-demo', apiKeyEnv: 'CHATGATE_PACK_TEST_KEY', stream: false });
          // What reaches the pipeline's tenth output (human) is kept where the test can read it.
          if (n.type === 'debug' && n.z === 'c9a7b60001' && n.name === 'for a person (hand-off, takeover)') {
            Object.assign(n, { type: 'change', rules: [{ t: 'set', p: 'human', pt: 'global', to: '{"payload": payload, "handoff": handoff, "thread": thread}', tot: 'jsonata' }], wires: [[]] });
          }
          flows.push(n);
        }
      }
      const res = await fetch(`${base}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
        body: JSON.stringify(flows),
      });
      assert.equal(res.status, 204, await res.text());
      const sync = await waitFor(() => postJson(base, { userId: 'u1', text: 'hello' }, '/chatgate/example/sync')).catch((err) => {
        throw new Error(`${err.message}\n${log.join('')}`);
      });
      assert.equal(sync.status, 200, JSON.stringify(sync.body));
      assert.match(sync.body.text, /You said: "hello" \(thread th_\S+, turn 1\)/);
      const piped = await postJson(base, { userId: 'u1', text: 'through the pipeline' }, '/chatgate/example/pipeline');
      assert.equal(piped.status, 200, JSON.stringify(piped.body));
      assert.match(piped.body.text, /You said: "through the pipeline"/);
      assert.match(piped.body.text, /turn 1\b/);
      const again = await postJson(base, { userId: 'u1', text: 'and again' }, '/chatgate/example/pipeline');
      assert.equal(again.body.thread.id, piped.body.thread.id, 'the pipeline keeps the thread');
      assert.match(again.body.text, /turn 2\b/);
      // Asked for a person: the user is told, and the pipeline's tenth output (human) says so.
      const handed = await postJson(base, { userId: 'u2', text: 'I want a human' }, '/chatgate/example/pipeline');
      assert.equal(handed.body.text, 'Of course, I am asking a person to take over.\n\nA person will answer you here shortly.');
      // Node-RED's context API: `{msg, format}`, format 'undefined' until the key is set.
      let human: { msg?: string; format?: string } = {};
      for (let i = 0; i < 50 && human.format !== 'Object'; i++) {
        human = (await getJson('/context/global/human')) as { msg?: string; format?: string };
        if (human.format !== 'Object') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(human.format, 'Object', `the human output's message: ${JSON.stringify(human)}`);
      const page = JSON.parse(human.msg!) as { payload?: string; handoff?: { source?: string; reason?: string }; thread?: { id?: string } };
      assert.deepEqual([page.payload, page.handoff?.source, page.handoff?.reason, page.thread?.id], ['I want a human', 'agent', 'the user asked for a person', handed.body.thread.id]);
      const allowed = await postJson(base, { userId: 'alice', text: 'hi' }, '/chatgate/example/allowlist');
      assert.match(allowed.body.text, /You said: "hi"/);
      const refused = await postJson(base, { userId: 'mallory', text: 'hi' }, '/chatgate/example/allowlist');
      assert.match(refused.body.text, /not on the list/);
      const async_ = await postJson(base, { userId: 'u1', text: 'later please' }, '/chatgate/example/async');
      assert.equal(async_.status, 202);
      assert.deepEqual(problems(log), []);
    });
  });
});

/** Error and warning lines, less the ones Node-RED always prints for a fresh user directory. */
function problems(log: string[]): string[] {
  return log
    .join('')
    .split('\n')
    .filter((l) => /\[(error|warn)\]/.test(l) && !/Projects disabled|Encrypted credentials|flow credentials file|^\s*$/.test(l));
}

async function waitFor<T extends { status: number }>(fn: () => Promise<T>, ms = 10000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await fn().catch(() => undefined);
    if (r && r.status !== 404) return r;
    if (Date.now() > deadline) throw new Error(`no answer: ${r ? r.status : 'no response'}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
