/**
 * The gateway's state in an embedded SQLite database file (node-sqlite3-wasm: SQLite compiled to
 * WebAssembly, so no native build on the user's machine). One connection per file, held for the
 * life of the gateway: WAL journal under an exclusive lock, every batch of changes one transaction.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Database, QueryResult, Statement } from 'node-sqlite3-wasm';
import { DamagedStoreError } from '../persistence';
import type { RowBackend } from './row-backend';
import type { ChatsQuery, ChatSummary, HistoryEntry, MessagesQuery, RowChange, StoredHistoryEntry, Table } from './rows';

/** The binding could not be loaded on this machine (missing package, WebAssembly refused, ...). */
export class SqliteUnavailableError extends Error {
  constructor(detail: string) {
    super(`SQLite is unavailable: the node-sqlite3-wasm binding could not load (${detail})`);
    this.name = 'SqliteUnavailableError';
  }
}

/** Another live process (or this one) has the database open: nothing was touched. */
export class DatabaseHeldError extends Error {
  constructor(
    detail: string,
    readonly pid?: number,
  ) {
    super(detail);
    this.name = 'DatabaseHeldError';
  }
}

export interface SqliteOptions {
  /** Returns the binding module; a test injects a failing one. Default: require('node-sqlite3-wasm'). */
  load?: () => unknown;
}

type DatabaseClass = new (file: string) => Database;

/** Files this process has open: the binding's lock cannot tell this process from a dead one. */
const openHere = new Set<string>();

const SQLITE_MAGIC = 'SQLite format 3\0';
/** How often an open database says its owner is alive, and when silence means it is gone. */
const HEARTBEAT_MS = 10_000;
const HEARTBEAT_STALE_MS = 60_000;
/** A lock folder without an owner marker this young may be another opener between its two steps. */
const UNMARKED_LOCK_GRACE_MS = 10_000;
const FAR_AHEAD = Number.MAX_SAFE_INTEGER;

/**
 * Ordered schema steps: index i brings user_version i to i + 1. Append, never edit a shipped one,
 * so an older file is migrated in place and nothing is dropped.
 */
const MIGRATIONS: ReadonlyArray<(db: Database) => void> = [
  (db) =>
    db.exec(`
      CREATE TABLE rows(t TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY(t, k)) WITHOUT ROWID;
      CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE history(
        seq INTEGER PRIMARY KEY AUTOINCREMENT, chat TEXT NOT NULL, platform TEXT NOT NULL,
        at INTEGER NOT NULL, dir TEXT NOT NULL, user TEXT, user_name TEXT, thread TEXT, text TEXT NOT NULL);
      CREATE INDEX history_chat ON history(chat, seq);
      CREATE INDEX history_at ON history(at);
      CREATE TABLE chats(chat TEXT PRIMARY KEY, platform TEXT NOT NULL, last_at INTEGER NOT NULL, count INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX chats_last ON chats(last_at);
    `),
];
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

const SQL = {
  get: 'SELECT v FROM rows WHERE t = ? AND k = ?',
  scan: 'SELECT k, v FROM rows WHERE t = ? AND k > ? ORDER BY k LIMIT ?',
  count: 'SELECT count(*) AS n FROM rows WHERE t = ?',
  upsert: 'INSERT INTO rows(t, k, v) VALUES (?, ?, ?) ON CONFLICT(t, k) DO UPDATE SET v = excluded.v',
  delete: 'DELETE FROM rows WHERE t = ? AND k = ?',
  getMeta: 'SELECT value FROM meta WHERE name = ?',
  setMeta: 'INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value',
  append: 'INSERT INTO history(chat, platform, at, dir, user, user_name, thread, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  chatSeen:
    'INSERT INTO chats(chat, platform, last_at, count) VALUES (?, ?, ?, 1) ON CONFLICT(chat) DO UPDATE SET ' +
    'platform = excluded.platform, last_at = max(last_at, excluded.last_at), count = count + 1',
  chats: 'SELECT chat, platform, last_at, count FROM chats WHERE last_at < ? ORDER BY last_at DESC, chat LIMIT ?',
  chatsMatching:
    'SELECT chat, platform, last_at, count FROM chats WHERE last_at < ? AND instr(lower(chat), ?) > 0 ORDER BY last_at DESC, chat LIMIT ?',
  messages:
    'SELECT seq, chat, platform, at, dir, user, user_name, thread, text FROM history WHERE chat = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
  agedByChat: 'SELECT chat, count(*) AS n FROM history WHERE at < ? GROUP BY chat',
  deleteAged: 'DELETE FROM history WHERE at < ?',
  uncount: 'UPDATE chats SET count = count - ? WHERE chat = ?',
  dropEmptyChat: 'DELETE FROM chats WHERE chat = ? AND count <= 0',
  chatsOver: 'SELECT chat FROM chats WHERE count > ?',
  perChatCut: 'SELECT seq FROM history WHERE chat = ? ORDER BY seq DESC LIMIT 1 OFFSET ?',
  deleteUpTo: 'DELETE FROM history WHERE chat = ? AND seq <= ?',
  recount:
    'UPDATE chats SET count = (SELECT count(*) FROM history WHERE chat = ?1), ' +
    'last_at = (SELECT max(at) FROM history WHERE chat = ?1) WHERE chat = ?1',
  begin: 'BEGIN IMMEDIATE',
  commit: 'COMMIT',
} as const;

/** A stored value that does not parse: skipped, never thrown (one bad row must not stop a restore). */
const UNREADABLE = Symbol('unreadable');

function parseValue(v: unknown): unknown {
  if (typeof v !== 'string') return UNREADABLE;
  try {
    return JSON.parse(v);
  } catch {
    return UNREADABLE;
  }
}

function encodeValue(change: RowChange): string {
  const text = JSON.stringify(change.value);
  if (typeof text !== 'string') throw new TypeError(`${change.table}/${change.key}: value is not JSON`);
  return text;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function loadBinding(load: () => unknown): DatabaseClass {
  let binding: unknown;
  try {
    binding = load();
  } catch (err) {
    throw new SqliteUnavailableError(reason(err));
  }
  const ctor = (binding as { Database?: unknown } | null | undefined)?.Database;
  if (typeof ctor !== 'function') throw new SqliteUnavailableError('the module has no Database class');
  return ctor as DatabaseClass;
}

/** Refuses, without writing a byte, a file SQLite would reject or (an empty header) re-initialise. */
function checkIsDatabase(file: string): void {
  let size: number;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error(`${file} is not a file`);
    size = stat.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (size === 0) return; // what SQLite itself creates before the first page: a new database
  const head = Buffer.alloc(100);
  const fd = fs.openSync(file, 'r');
  let read: number;
  try {
    read = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  const magic = head.subarray(0, SQLITE_MAGIC.length).toString('latin1');
  if (magic !== SQLITE_MAGIC) {
    const first = head.subarray(0, Math.min(read, 24)).toString('utf8').replace(/[^\x20-\x7e]/g, '.');
    const looks = /^\s*[[{]/.test(first) ? ' (it looks like JSON)' : '';
    throw new DamagedStoreError(`${file} is not a SQLite database${looks}: ${size} bytes starting "${first}"`);
  }
  if (read < 100) throw new DamagedStoreError(`${file} is truncated: ${size} bytes, a SQLite header alone is 100`);
}

function damagedOrHeld(err: unknown, file: string): unknown {
  const text = reason(err);
  if (/not a database|malformed|corrupt/i.test(text)) return new DamagedStoreError(`${file}: ${text}`);
  if (/database is locked|busy/i.test(text)) return new DatabaseHeldError(`${file} is held by another process (${text})`);
  return err;
}

// ---- the lock ----------------------------------------------------------------------------------
// The binding locks with a `<db>.lock` folder that a killed process leaves behind, and every later
// open then fails as busy. Beside it `<db>.owner` says who holds it, so a leftover is told from a
// live holder: a dead pid, or a pid now running another program, is a leftover.

interface Owner {
  pid: number;
  host: string;
  /** Linux: the process's start time, which tells a reused pid from the owner. */
  started?: string;
}

const ownerFile = (file: string): string => `${file}.owner`;
const lockDir = (file: string): string => `${file}.lock`;

function procStat(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function readOwner(file: string): { owner: Owner; ageMs: number } | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(ownerFile(file), 'utf8')) as Partial<Owner>;
    if (!Number.isSafeInteger(parsed.pid) || typeof parsed.host !== 'string') return undefined;
    const ageMs = Date.now() - fs.statSync(ownerFile(file)).mtimeMs;
    return { owner: { pid: parsed.pid as number, host: parsed.host, started: parsed.started }, ageMs };
  } catch {
    return undefined;
  }
}

function ownerAlive(owner: Owner, ageMs: number): boolean {
  // Another machine (or a recreated container) sharing the folder: only its heartbeat can tell.
  if (owner.host !== os.hostname()) return ageMs < HEARTBEAT_STALE_MS;
  // This pid without this file open here: an earlier life of this process (containers reuse pids).
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const stat = procStat(owner.pid);
  if (stat?.[0] === 'Z') return false;
  return !(owner.started && stat && stat[19] !== owner.started);
}

/** Linux: the processes with the file open (a holder always has). undefined when /proc cannot tell. */
function processesWithOpen(file: string): number[] | undefined {
  if (process.platform !== 'linux') return undefined;
  let target: string;
  let pids: string[];
  try {
    target = fs.realpathSync(file);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? [] : undefined;
  }
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const found: number[] = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === target) {
          found.push(Number(pid));
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return found;
}

function held(file: string, pid: number, host?: string): DatabaseHeldError {
  const where = host && host !== os.hostname() ? ` on ${host}` : '';
  return new DatabaseHeldError(`${file} is held by process ${pid}${where}: stop it, or give this gateway another file`, pid);
}

/** The live holder of the lock folder, as an error to throw; undefined when the folder is a leftover. */
function liveHolder(file: string, lockAgeMs: number): DatabaseHeldError | undefined {
  const marked = readOwner(file);
  if (marked && ownerAlive(marked.owner, marked.ageMs)) return held(file, marked.owner.pid, marked.owner.host);
  const holders = processesWithOpen(file);
  if (holders?.length) return held(file, holders[0]);
  if (!holders && !marked && lockAgeMs < UNMARKED_LOCK_GRACE_MS) {
    return new DatabaseHeldError(`${file} is locked by a process that has not said who it is yet; try again in a few seconds`);
  }
  return undefined;
}

function lockState(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(lockDir(file));
  } catch {
    return undefined;
  }
}

/** Removes a lock folder left by a process that is gone; throws when a live one holds it. */
function clearStaleLock(file: string): void {
  const lock = lockState(file);
  if (!lock) return;
  const holder = liveHolder(file, Date.now() - lock.mtimeMs);
  if (holder) throw holder;
  // Another opener may have cleared the leftover and locked anew meanwhile: that folder is not ours to remove.
  if (lockState(file)?.ino !== lock.ino) throw new DatabaseHeldError(`${file} was just locked by another process`);
  fs.rmSync(lockDir(file), { recursive: true, force: true });
}

function writeOwner(file: string): void {
  const owner: Owner = { pid: process.pid, host: os.hostname(), started: procStat(process.pid)?.[19] };
  fs.writeFileSync(ownerFile(file), JSON.stringify(owner));
}

function removeOwnerIfMine(file: string): void {
  const marked = readOwner(file);
  if (marked?.owner.pid === process.pid && marked.owner.host === os.hostname()) fs.rmSync(ownerFile(file), { force: true });
}

// ---- the backend -------------------------------------------------------------------------------

function migrate(db: Database, file: string): void {
  const version = Number((db.get('PRAGMA user_version') as { user_version: number }).user_version);
  if (version > MIGRATIONS.length) {
    throw new Error(`${file} has schema version ${version}, newer than this chatgate knows (${MIGRATIONS.length}): it was written by a newer version`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      MIGRATIONS[v](db);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }
}

function nullable(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : String(v);
}

function toEntry(r: QueryResult): StoredHistoryEntry {
  const entry: StoredHistoryEntry = {
    seq: Number(r.seq),
    at: Number(r.at),
    direction: r.dir === 'out' ? 'out' : 'in',
    platform: String(r.platform),
    chatJid: String(r.chat),
    text: String(r.text),
  };
  const userJid = nullable(r.user);
  const userName = nullable(r.user_name);
  const threadId = nullable(r.thread);
  if (userJid !== undefined) entry.userJid = userJid;
  if (userName !== undefined) entry.userName = userName;
  if (threadId !== undefined) entry.threadId = threadId;
  return entry;
}

class SqliteBackend implements RowBackend {
  readonly description: string;
  private readonly statements = new Map<string, Statement>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly file: string,
  ) {
    this.description = `sqlite ${file}`;
    this.heartbeat = setInterval(() => {
      try {
        const now = new Date();
        fs.utimesSync(ownerFile(file), now, now);
      } catch {
        // the marker is advisory; the lock itself still holds
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Prepared once per backend; `all()` runs each to its end, so no read stays open between calls. */
  private q(sql: string, params: Array<string | number | null>): QueryResult[] {
    return this.statement(sql).all(params);
  }

  private exec(sql: string, params: Array<string | number | null> = []): number {
    return this.statement(sql).run(params).changes;
  }

  private statement(sql: string): Statement {
    if (this.closed) throw new Error(`${this.description} is closed`);
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private transaction<T>(work: () => T): T {
    this.exec(SQL.begin);
    try {
      const out = work();
      this.exec(SQL.commit);
      return out;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  get(table: Table, key: string): unknown | undefined {
    const row = this.q(SQL.get, [table, key])[0];
    if (!row) return undefined;
    const value = parseValue(row.v);
    return value === UNREADABLE ? undefined : value;
  }

  scan(table: Table, afterKey: string, limit: number): Array<[string, unknown]> {
    const out: Array<[string, unknown]> = [];
    let from = afterKey;
    // An unreadable row is skipped and the page filled from beyond it: a short page means the end.
    while (out.length < limit) {
      const want = limit - out.length;
      const rows = this.q(SQL.scan, [table, from, want]);
      for (const row of rows) {
        const value = parseValue(row.v);
        if (value !== UNREADABLE) out.push([String(row.k), value]);
      }
      if (rows.length < want) break;
      from = String(rows[rows.length - 1].k);
    }
    return out;
  }

  count(table: Table): number {
    return Number(this.q(SQL.count, [table])[0].n);
  }

  write(changes: readonly RowChange[], history: readonly HistoryEntry[]): void {
    if (changes.length === 0 && history.length === 0) return;
    this.transaction(() => {
      for (const change of changes) {
        if (change.value === undefined) this.exec(SQL.delete, [change.table, change.key]);
        else this.exec(SQL.upsert, [change.table, change.key, encodeValue(change)]);
      }
      for (const e of history) {
        this.exec(SQL.append, [e.chatJid, e.platform, e.at, e.direction, e.userJid ?? null, e.userName ?? null, e.threadId ?? null, e.text]);
        this.exec(SQL.chatSeen, [e.chatJid, e.platform, e.at]);
      }
    });
  }

  getMeta(name: string): string | undefined {
    const row = this.q(SQL.getMeta, [name])[0];
    return row ? String(row.value) : undefined;
  }

  setMeta(name: string, value: string): void {
    this.exec(SQL.setMeta, [name, value]);
  }

  historyChats(query: ChatsQuery): ChatSummary[] {
    const before = query.before ?? FAR_AHEAD;
    const rows = query.q ? this.q(SQL.chatsMatching, [before, query.q.toLowerCase(), query.limit]) : this.q(SQL.chats, [before, query.limit]);
    return rows.map((r) => ({ chatJid: String(r.chat), platform: String(r.platform), lastAt: Number(r.last_at), count: Number(r.count) }));
  }

  historyMessages(chatJid: string, query: MessagesQuery): StoredHistoryEntry[] {
    return this.q(SQL.messages, [chatJid, query.before ?? FAR_AHEAD, query.limit]).map(toEntry);
  }

  trimHistory(olderThan: number, perChat: number): number {
    return this.transaction(() => {
      let removed = 0;
      if (olderThan > 0) {
        const aged = this.q(SQL.agedByChat, [olderThan]);
        if (aged.length > 0) {
          removed += this.exec(SQL.deleteAged, [olderThan]);
          // What is left of a chat is newer than what went, so its last_at stands.
          for (const r of aged) {
            this.exec(SQL.uncount, [Number(r.n), String(r.chat)]);
            this.exec(SQL.dropEmptyChat, [String(r.chat)]);
          }
        }
      }
      if (perChat > 0) {
        for (const r of this.q(SQL.chatsOver, [perChat])) {
          const chat = String(r.chat);
          const cut = this.q(SQL.perChatCut, [chat, perChat])[0];
          if (!cut) continue;
          removed += this.exec(SQL.deleteUpTo, [chat, Number(cut.seq)]);
          this.exec(SQL.recount, [chat]);
        }
      }
      return removed;
    });
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.heartbeat);
    // Every statement finalized first: the binding keeps the lock folder while one is alive.
    for (const st of this.statements.values()) st.finalize();
    this.statements.clear();
    this.closed = true;
    try {
      removeOwnerIfMine(this.file);
      this.db.close();
    } finally {
      openHere.delete(this.file);
    }
  }
}

/**
 * Opens (creating it and its folder when missing) the database of one gateway. Throws
 * SqliteUnavailableError when the binding cannot load, DamagedStoreError when the file is not a
 * readable SQLite database (left as it is), DatabaseHeldError when a live process holds it.
 */
export function openSqliteBackend(file: string, opts: SqliteOptions = {}): RowBackend {
  const Db = loadBinding(opts.load ?? (() => require('node-sqlite3-wasm') as unknown));
  const resolved = path.resolve(file);
  if (openHere.has(resolved)) throw new DatabaseHeldError(`${resolved} is already open in this process (pid ${process.pid})`, process.pid);
  checkIsDatabase(resolved);
  fs.mkdirSync(path.dirname(resolved), { recursive: true });
  clearStaleLock(resolved);

  const db = new Db(resolved);
  try {
    // The binding has no shared memory for WAL's index: WAL only works under an exclusive lock.
    db.exec('PRAGMA locking_mode=EXCLUSIVE');
    // Reads page 1 and the schema before anything is written: a damaged file fails here, untouched.
    // The read takes the lock; say whose it is at once, before the (maybe long) migrations.
    db.all('SELECT count(*) FROM sqlite_master');
    writeOwner(resolved);
    const mode = db.get('PRAGMA journal_mode=WAL') as { journal_mode?: string } | null;
    if (mode?.journal_mode !== 'wal') throw new Error(`${resolved}: could not switch to WAL (journal_mode ${mode?.journal_mode})`);
    // A checkpoint runs inside the commit that fills the WAL, and its cost grows with the pages it
    // copies (and fsyncs): at 500 pages, half the default, a 50-row write into a million rows stays
    // under ~15-18 ms at p99 where the default gave ~22-25 ms.
    db.exec('PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000; PRAGMA wal_autocheckpoint=500');
    migrate(db, resolved);
  } catch (err) {
    try {
      removeOwnerIfMine(resolved);
      db.close();
    } catch {
      // the first error is the one to report
    }
    throw damagedOrHeld(err, resolved);
  }
  openHere.add(resolved);
  return new SqliteBackend(db, resolved);
}

/** A file-name-safe time: 2026-12-01T17-05-00-123Z. */
function stamp(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

/**
 * Moves a database (closed) and its leftovers out of the way: `gateway-x.sqlite` ->
 * `gateway-x.damaged-2026-12-01T17-05-00-123Z.sqlite` (+ -wal, -shm, .lock, .owner), same folder,
 * so the next open starts fresh and the old file is kept for a look. Returns the new path.
 */
export async function setAsideDatabase(file: string, label: string): Promise<string> {
  const resolved = path.resolve(file);
  if (openHere.has(resolved)) throw new DatabaseHeldError(`${resolved} is open in this process: close it before setting it aside`, process.pid);
  const lock = lockState(resolved);
  const holder = lock && liveHolder(resolved, Date.now() - lock.mtimeMs);
  if (holder) throw holder;
  const ext = path.extname(resolved) || '.sqlite';
  const base = resolved.slice(0, resolved.length - path.extname(resolved).length);
  let aside = `${base}.${label}-${stamp()}${ext}`;
  for (let n = 2; fs.existsSync(aside); n++) aside = `${base}.${label}-${stamp()}-${n}${ext}`;
  await fs.promises.rename(resolved, aside);
  for (const suffix of ['-wal', '-shm', '-journal', '.lock', '.owner']) {
    try {
      await fs.promises.rename(resolved + suffix, aside + suffix);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return aside;
}
