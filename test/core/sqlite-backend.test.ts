import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import { DamagedStoreError } from '../../nodes/core/persistence';
import type { RowBackend } from '../../nodes/core/store/row-backend';
import type { HistoryEntry } from '../../nodes/core/store/rows';
import {
  DatabaseHeldError,
  SQLITE_SCHEMA_VERSION,
  SqliteUnavailableError,
  openSqliteBackend,
  setAsideDatabase,
} from '../../nodes/core/store/sqlite-backend';

const MODULE = path.resolve(__dirname, '../../nodes/core/store/sqlite-backend.ts');

function entry(chat: string, at: number, text: string, extra: Partial<HistoryEntry> = {}): HistoryEntry {
  return { at, direction: 'in', platform: chat.split(':')[0], chatJid: chat, text, ...extra };
}

/** Edits the file behind the backend's back, as a damaged disk or a hand with the sqlite3 CLI would. */
function raw(file: string, work: (db: Database) => void): void {
  const db = new Database(file);
  try {
    db.exec('PRAGMA locking_mode=EXCLUSIVE');
    work(db);
  } finally {
    db.close();
  }
}

/** A node process running `code` with the backend's source loaded as `backend` and the db path as `file`. */
function child(code: string, file: string): ChildProcess {
  const script = `const backend = require(${JSON.stringify(MODULE)}); const file = process.env.DB_FILE; ${code}`;
  return spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), '-e', script], {
    env: { ...process.env, DB_FILE: file },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Resolves with the first stdout line the predicate accepts; every complete line goes to `onLine`. */
function readLines(proc: ChildProcess, onLine: (line: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let done = false;
    proc.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!done && onLine(line)) {
          done = true;
          resolve();
        }
      }
    });
    proc.on('exit', (code, signal) => {
      if (!done) reject(new Error(`child exited (${code ?? signal}) before it was ready`));
    });
  });
}

function killAndWait(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

describe('core/store/sqlite-backend', () => {
  let dir: string;
  let file: string;
  const open: RowBackend[] = [];
  const children: ChildProcess[] = [];

  function openDb(f = file): RowBackend {
    const b = openSqliteBackend(f);
    open.push(b);
    return b;
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-sqlite-'));
    file = path.join(dir, 'state', 'gateway-x.sqlite');
  });
  afterEach(async () => {
    for (const b of open.splice(0)) b.close();
    await Promise.all(children.splice(0).map(killAndWait));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps rows of every table apart and brings them back after close and reopen', () => {
    const b = openDb();
    assert.equal(b.description, `sqlite ${file}`);
    const thread = ['th_abc123def456', 1, 1733000000000, 1733000000000, 3, 86400000, 'telegram', 'telegram:1234567', 'telegram:1234567'];
    b.write(
      [
        { table: 'threads', key: 'c|telegram|bot1|1234567', value: thread },
        { table: 'listeners', key: 'c|telegram|bot1|1234567', value: { other: 'table', n: null } },
        { table: 'dedupe', key: 'telegram|bot1|m1', value: 1733000000000 },
        { table: 'memory', key: 'th_1', value: 'text with "quotes" and ünïcödé' },
      ],
      [],
    );
    b.close();
    const again = openDb();
    assert.deepEqual(again.get('threads', 'c|telegram|bot1|1234567'), thread);
    assert.deepEqual(again.get('listeners', 'c|telegram|bot1|1234567'), { other: 'table', n: null });
    assert.equal(again.get('dedupe', 'telegram|bot1|m1'), 1733000000000);
    assert.equal(again.get('memory', 'th_1'), 'text with "quotes" and ünïcödé');
    assert.equal(again.get('allowlists', 'c|telegram|bot1|1234567'), undefined);
    assert.equal(again.get('threads', 'nope'), undefined);
    assert.equal(again.count('threads'), 1);
    assert.equal(again.count('allowlists'), 0);
  });

  it('a write that fails half way keeps none of it, and the next write goes through', () => {
    const b = openDb();
    b.write([{ table: 'threads', key: 'keep', value: 1 }, { table: 'threads', key: 'gone-later', value: 2 }], [entry('webchat:a', 1, 'first')]);
    const failing = () =>
      b.write(
        [
          { table: 'threads', key: 'new', value: { a: 1 } },
          { table: 'threads', key: 'keep', value: 99 },
          { table: 'threads', key: 'gone-later' },
          { table: 'threads', key: 'bad', value: { n: BigInt(1) } },
          { table: 'threads', key: 'after', value: 3 },
        ],
        [entry('webchat:a', 2, 'second')],
      );
    assert.throws(failing, /BigInt/);
    // A history entry the schema refuses, after the row changes went in, rolls those back too.
    assert.throws(() =>
      b.write([{ table: 'threads', key: 'new', value: 1 }], [{ ...entry('webchat:b', 3, 'x'), text: undefined as unknown as string }]),
    );
    const check = (db: RowBackend) => {
      assert.deepEqual(db.scan('threads', '', 100), [
        ['gone-later', 2],
        ['keep', 1],
      ]);
      assert.deepEqual(
        db.historyMessages('webchat:a', { limit: 10 }).map((e) => e.text),
        ['first'],
      );
      assert.deepEqual(
        db.historyChats({ limit: 10 }).map((c) => [c.chatJid, c.count]),
        [['webchat:a', 1]],
      );
    };
    check(b);
    b.write([{ table: 'threads', key: 'after', value: 3 }], []);
    assert.equal(b.get('threads', 'after'), 3);
    b.close();
    const again = openDb();
    assert.equal(again.get('threads', 'new'), undefined);
    assert.equal(again.get('threads', 'after'), 3);
  });

  it('deletes a key whose value is undefined, and a missing key is no error', () => {
    const b = openDb();
    b.write(
      ['a', 'b', 'c'].map((key) => ({ table: 'dedupe' as const, key, value: key })),
      [],
    );
    b.write([{ table: 'dedupe', key: 'b' }, { table: 'dedupe', key: 'never-there' }, { table: 'threads', key: 'a' }], []);
    assert.deepEqual(b.scan('dedupe', '', 10), [
      ['a', 'a'],
      ['c', 'c'],
    ]);
    assert.equal(b.count('dedupe'), 2);
    b.close();
    assert.equal(openDb().get('dedupe', 'b'), undefined);
  });

  it('scans 10,000 rows in chunks: each row once, in key order, nothing of another table', () => {
    const b = openDb();
    const keys = Array.from({ length: 10_000 }, (_, i) => `c|telegram|bot1|${(i * 7919) % 10_000}`);
    for (let i = 0; i < keys.length; i += 500) {
      b.write(
        keys.slice(i, i + 500).map((key) => ({ table: 'threads' as const, key, value: { key } })),
        [],
      );
    }
    b.write([{ table: 'listeners', key: 'c|telegram|bot1|5', value: 'other' }], []);
    const seen: string[] = [];
    let after = '';
    let pages = 0;
    for (;;) {
      const page = b.scan('threads', after, 777);
      pages++;
      for (const [key, value] of page) {
        assert.deepEqual(value, { key });
        seen.push(key);
      }
      if (page.length < 777) break;
      after = page[page.length - 1][0];
    }
    assert.equal(pages, Math.ceil(10_000 / 777));
    assert.equal(seen.length, 10_000);
    assert.equal(new Set(seen).size, 10_000);
    assert.deepEqual(seen, [...keys].sort());
    assert.equal(b.count('threads'), 10_000);
    assert.deepEqual(b.scan('threads', '', 0), []);
  });

  it('skips a row whose JSON does not parse, and still fills the page past it', () => {
    let b = openDb();
    b.write(
      ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'].map((key) => ({ table: 'memory' as const, key, value: [key] })),
      [],
    );
    b.close();
    open.length = 0;
    raw(file, (db) => db.run("UPDATE rows SET v = '{not json' WHERE k IN ('k2', 'k3')"));
    b = openDb();
    assert.equal(b.get('memory', 'k2'), undefined);
    assert.deepEqual(b.get('memory', 'k4'), ['k4']);
    assert.deepEqual(b.scan('memory', '', 3), [
      ['k1', ['k1']],
      ['k4', ['k4']],
      ['k5', ['k5']],
    ]);
    assert.deepEqual(b.scan('memory', 'k5', 3), [['k6', ['k6']]]);
  });

  it('keeps its own values (meta) across a reopen, and its schema version', () => {
    const b = openDb();
    assert.equal(b.getMeta('imported'), undefined);
    b.setMeta('imported', 'json-2026-01-01');
    b.setMeta('imported', 'json-2026-02-02');
    b.setMeta('other', '');
    b.close();
    const again = openDb();
    assert.equal(again.getMeta('imported'), 'json-2026-02-02');
    assert.equal(again.getMeta('other'), '');
    again.close();
    open.length = 0;
    raw(file, (db) => assert.equal((db.get('PRAGMA user_version') as { user_version: number }).user_version, SQLITE_SCHEMA_VERSION));
  });

  it('refuses a file of a newer schema and leaves it alone', () => {
    openDb().close();
    open.length = 0;
    raw(file, (db) => db.exec('PRAGMA user_version = 99'));
    const before = fs.readFileSync(file);
    assert.throws(() => openSqliteBackend(file), /schema version 99, newer/);
    assert.deepEqual(fs.readFileSync(file), before);
    assert.ok(!fs.existsSync(`${file}.lock`), 'no lock left behind');
  });

  it('pages a chat back newest first, leaving unset fields out', () => {
    const b = openDb();
    const batch: HistoryEntry[] = [];
    for (let i = 0; i < 25; i++) {
      batch.push(entry('telegram:1', 1000 + i, `t${i}`, i % 2 ? { direction: 'out', threadId: `th_${i}` } : { userJid: 'telegram:u1', userName: 'Ann' }));
      if (i % 5 === 0) batch.push(entry('slack:T1/C1', 1000 + i, `s${i}`));
    }
    b.write([], batch);
    const first = b.historyMessages('telegram:1', { limit: 10 });
    assert.deepEqual(
      first.map((e) => e.text),
      Array.from({ length: 10 }, (_, i) => `t${24 - i}`),
    );
    assert.deepEqual(first[0], {
      seq: first[0].seq,
      at: 1024,
      direction: 'in',
      platform: 'telegram',
      chatJid: 'telegram:1',
      userJid: 'telegram:u1',
      userName: 'Ann',
      text: 't24',
    });
    assert.deepEqual(Object.keys(first[1]).sort(), ['at', 'chatJid', 'direction', 'platform', 'seq', 'text', 'threadId']);
    assert.equal(first[1].direction, 'out');
    const texts: string[] = [];
    let before: number | undefined;
    for (;;) {
      const page = b.historyMessages('telegram:1', { limit: 7, before });
      texts.push(...page.map((e) => e.text));
      if (page.length < 7) break;
      before = page[page.length - 1].seq;
    }
    assert.deepEqual(
      texts,
      Array.from({ length: 25 }, (_, i) => `t${24 - i}`),
    );
    assert.deepEqual(
      b.historyMessages('slack:T1/C1', { limit: 100 }).map((e) => e.text),
      ['s20', 's15', 's10', 's5', 's0'],
    );
    assert.deepEqual(b.historyMessages('webchat:none', { limit: 10 }), []);
  });

  it('lists chats newest first, pages by time and matches a literal part of the JID', () => {
    const b = openDb();
    b.write([], [entry('telegram:1', 100, 'a'), entry('telegram:2', 300, 'b'), entry('slack:T1/C_x', 200, 'c'), entry('webchat:50%', 400, 'd')]);
    b.write([], [entry('telegram:1', 500, 'e'), entry('telegram:1', 450, 'late arrival')]);
    assert.deepEqual(b.historyChats({ limit: 10 }), [
      { chatJid: 'telegram:1', platform: 'telegram', lastAt: 500, count: 3 },
      { chatJid: 'webchat:50%', platform: 'webchat', lastAt: 400, count: 1 },
      { chatJid: 'telegram:2', platform: 'telegram', lastAt: 300, count: 1 },
      { chatJid: 'slack:T1/C_x', platform: 'slack', lastAt: 200, count: 1 },
    ]);
    const page1 = b.historyChats({ limit: 2 });
    const page2 = b.historyChats({ limit: 2, before: page1[1].lastAt });
    assert.deepEqual(
      [...page1, ...page2].map((c) => c.chatJid),
      ['telegram:1', 'webchat:50%', 'telegram:2', 'slack:T1/C_x'],
    );
    assert.deepEqual(b.historyChats({ limit: 2, before: 200 }), []);
    assert.deepEqual(
      b.historyChats({ limit: 10, q: 'telegram' }).map((c) => c.chatJid),
      ['telegram:1', 'telegram:2'],
    );
    assert.deepEqual(
      b.historyChats({ limit: 10, q: '%' }).map((c) => c.chatJid),
      ['webchat:50%'],
    );
    assert.deepEqual(
      b.historyChats({ limit: 10, q: '_' }).map((c) => c.chatJid),
      ['slack:T1/C_x'],
    );
    assert.deepEqual(
      b.historyChats({ limit: 10, q: 'telegram', before: 500 }).map((c) => c.chatJid),
      ['telegram:2'],
    );
  });

  it('trims by age and per chat, keeping the newest and the chat counts true', () => {
    const b = openDb();
    const batch: HistoryEntry[] = [];
    for (let i = 0; i < 30; i++) batch.push(entry('telegram:busy', 1000 + i, `b${i}`));
    for (let i = 0; i < 5; i++) batch.push(entry('telegram:old', 10 + i, `o${i}`));
    for (let i = 0; i < 4; i++) batch.push(entry('telegram:mixed', i < 2 ? 20 + i : 2000 + i, `m${i}`));
    b.write([], batch);
    const counted = () => Object.fromEntries(b.historyChats({ limit: 100 }).map((c) => [c.chatJid, [c.count, c.lastAt]]));
    const actual = (chat: string) => b.historyMessages(chat, { limit: 1000 }).length;

    assert.equal(b.trimHistory(500, 0), 7);
    assert.deepEqual(counted(), { 'telegram:busy': [30, 1029], 'telegram:mixed': [2, 2003] });
    assert.equal(actual('telegram:old'), 0);
    assert.equal(actual('telegram:mixed'), 2);

    assert.equal(b.trimHistory(0, 10), 20);
    assert.deepEqual(
      b.historyMessages('telegram:busy', { limit: 100 }).map((e) => e.text),
      Array.from({ length: 10 }, (_, i) => `b${29 - i}`),
    );
    assert.deepEqual(counted(), { 'telegram:busy': [10, 1029], 'telegram:mixed': [2, 2003] });
    assert.equal(b.trimHistory(500, 10), 0, 'nothing more to trim');

    // Both limits at once, and the counts still add up after more traffic.
    b.write([], [entry('telegram:busy', 3000, 'n1'), entry('telegram:busy', 3001, 'n2'), entry('telegram:mixed', 10, 'backdated')]);
    // Age takes b20..b24 and the backdated one; then busy keeps its newest 5 of the 7 left.
    assert.equal(b.trimHistory(1025, 5), 6 + 2);
    for (const [chat, [count]] of Object.entries(counted())) assert.equal(count, actual(chat), chat);
    assert.deepEqual(
      b.historyMessages('telegram:busy', { limit: 100 }).map((e) => e.text),
      ['n2', 'n1', 'b29', 'b28', 'b27'],
    );
    assert.deepEqual(counted()['telegram:mixed'], [2, 2003]);
  });

  for (const [name, bytes] of [
    ['garbage', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31 + 7) % 256))],
    ['an old JSON snapshot', Buffer.from(JSON.stringify({ version: 3, threads: [] }))],
    ['a truncated header', Buffer.from('SQLite format 3\0' + 'x'.repeat(40), 'latin1')],
    ['a header over garbage pages', Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(8176, 0xee)])],
  ] as const) {
    it(`refuses ${name} as damaged and leaves it byte for byte`, () => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, bytes);
      assert.throws(
        () => openSqliteBackend(file),
        (err: unknown) => err instanceof DamagedStoreError && err.message.includes(file) && (!name.includes('JSON') || /looks like JSON/.test(err.message)),
      );
      assert.deepEqual(fs.readFileSync(file), bytes);
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['gateway-x.sqlite'], 'no -wal, lock or marker made');
    });
  }

  it('sets a database and its leftovers aside under a dated name, and the next open starts fresh', async () => {
    const b = openDb();
    b.write([{ table: 'threads', key: 'k', value: 'v' }], []);
    b.close();
    open.length = 0;
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(`${file}-wal`, 'wal bytes');
    fs.writeFileSync(`${file}-shm`, 'shm bytes');
    fs.mkdirSync(`${file}.lock`);
    fs.writeFileSync(`${file}.owner`, JSON.stringify({ pid: 2 ** 31 - 2, host: os.hostname() }));
    const aside = await setAsideDatabase(file, 'damaged');
    assert.equal(path.dirname(aside), path.dirname(file));
    assert.match(path.basename(aside), /^gateway-x\.damaged-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.sqlite$/);
    assert.deepEqual(fs.readFileSync(aside), bytes);
    assert.equal(fs.readFileSync(`${aside}-wal`, 'utf8'), 'wal bytes');
    assert.equal(fs.readFileSync(`${aside}-shm`, 'utf8'), 'shm bytes');
    assert.ok(fs.statSync(`${aside}.lock`).isDirectory());
    for (const left of ['', '-wal', '-shm', '.lock', '.owner']) assert.ok(!fs.existsSync(file + left), `${left} moved`);
    const fresh = openDb();
    assert.equal(fresh.get('threads', 'k'), undefined);
    await assert.rejects(setAsideDatabase(file, 'again'), DatabaseHeldError, 'not while it is open');
  });

  it('says why when the binding cannot load, and touches nothing', () => {
    assert.throws(
      () =>
        openSqliteBackend(file, {
          load: () => {
            throw new Error('WebAssembly.instantiate(): Out of memory');
          },
        }),
      (err: unknown) =>
        err instanceof SqliteUnavailableError && /could not load/.test(err.message) && /Out of memory/.test(err.message),
    );
    assert.throws(() => openSqliteBackend(file, { load: () => ({}) }), SqliteUnavailableError);
    assert.ok(!fs.existsSync(path.dirname(file)));
  });

  it('refuses a second open in this process, and opens again after close', () => {
    const b = openDb();
    assert.throws(() => openSqliteBackend(path.join(dir, 'state', '.', 'gateway-x.sqlite')), (err: unknown) => err instanceof DatabaseHeldError && /already open in this process/.test(err.message));
    b.write([{ table: 'threads', key: 'k', value: 1 }], []);
    b.close();
    assert.equal(openDb().get('threads', 'k'), 1);
  });

  it('clears a lock folder whose owner marker is missing or names a dead process', () => {
    openDb().write([{ table: 'threads', key: 'k', value: 1 }], []);
    open.pop()!.close();
    fs.mkdirSync(`${file}.lock`);
    assert.equal(openDb().get('threads', 'k'), 1, 'no marker');
    open.pop()!.close();
    fs.mkdirSync(`${file}.lock`);
    fs.writeFileSync(`${file}.owner`, JSON.stringify({ pid: 2 ** 31 - 2, host: os.hostname() }));
    assert.equal(openDb().get('threads', 'k'), 1, 'dead pid');
    open.pop()!.close();
    fs.mkdirSync(`${file}.lock`);
    fs.writeFileSync(`${file}.owner`, 'not json');
    assert.equal(openDb().get('threads', 'k'), 1, 'unreadable marker');
    open.pop()!.close();
    // A restarted container gives the new process the old one's pid.
    fs.mkdirSync(`${file}.lock`);
    fs.writeFileSync(`${file}.owner`, JSON.stringify({ pid: process.pid, host: os.hostname(), started: 'earlier' }));
    assert.equal(openDb().get('threads', 'k'), 1, 'this pid, an earlier life');
  });

  it('trusts a marker from another host only while its heartbeat is fresh', () => {
    openDb().write([{ table: 'threads', key: 'k', value: 1 }], []);
    open.pop()!.close();
    fs.mkdirSync(`${file}.lock`);
    fs.writeFileSync(`${file}.owner`, JSON.stringify({ pid: 4242, host: 'other-host' }));
    assert.throws(
      () => openSqliteBackend(file),
      (err: unknown) => err instanceof DatabaseHeldError && /held by process 4242 on other-host/.test(err.message),
    );
    const silent = new Date(Date.now() - 5 * 60_000);
    fs.utimesSync(`${file}.owner`, silent, silent);
    assert.equal(openDb().get('threads', 'k'), 1);
  });

  it('keeps every row a process reported committed when it is killed with SIGKILL mid-loop', async function () {
    this.timeout(60_000);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const writer = child(
      `const b = backend.openSqliteBackend(file);
       let n = 0;
       const step = () => {
         const changes = [];
         for (let i = 0; i < 25; i++, n++) changes.push({ table: 'threads', key: 'k' + String(n).padStart(7, '0'), value: { n, pad: 'x'.repeat(200) } });
         b.write(changes, [{ at: n, direction: 'in', platform: 'webchat', chatJid: 'webchat:c', text: 'm' + n }]);
         process.stdout.write(n + '\\n');
         setImmediate(step);
       };
       step();`,
      file,
    );
    children.push(writer);
    let committed = 0;
    await readLines(writer, (line) => {
      committed = Number(line);
      return committed >= 6000; // well past the first WAL checkpoint (1000 pages)
    });
    await killAndWait(writer);
    assert.equal(writer.signalCode, 'SIGKILL');
    assert.ok(fs.statSync(`${file}.lock`).isDirectory(), 'the killed process left its lock behind');

    const b = openDb();
    const count = b.count('threads');
    assert.ok(count >= committed, `${count} rows kept, ${committed} reported`);
    for (let n = 0; n < committed; n++) {
      const value = b.get('threads', 'k' + String(n).padStart(7, '0')) as { n: number } | undefined;
      if (value?.n !== n) assert.fail(`row ${n} of ${committed} reported committed is ${JSON.stringify(value)}`);
    }
    const [chat] = b.historyChats({ limit: 1 });
    assert.ok(chat.count >= committed / 25 && chat.count === b.historyMessages('webchat:c', { limit: 1e6 }).length);
  });

  it('refuses a database a live process holds, naming it, and opens once that process is gone', async function () {
    this.timeout(30_000);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const holder = child(
      `const b = backend.openSqliteBackend(file);
       b.write([{ table: 'threads', key: 'from-child', value: process.pid }], []);
       process.stdout.write('open\\n');
       setInterval(() => {}, 1000);`,
      file,
    );
    children.push(holder);
    await readLines(holder, (line) => line === 'open');
    const before = fs.readFileSync(file);
    assert.throws(
      () => openSqliteBackend(file),
      (err: unknown) => err instanceof DatabaseHeldError && err.pid === holder.pid && err.message.includes(`held by process ${holder.pid}`),
    );
    await assert.rejects(setAsideDatabase(file, 'damaged'), DatabaseHeldError);
    assert.deepEqual(fs.readFileSync(file), before, 'the holder’s file untouched');
    await killAndWait(holder);
    assert.equal(openDb().get('threads', 'from-child'), holder.pid);
  });
});
