/**
 * The default store: one SQLite database per gateway in the Node-RED user directory. Rows are
 * written as they change (one transaction per ~100 ms, off the message path), the gateway serves
 * as soon as the database is open and warms its working set up in slices behind it, and a store
 * from before (the JSON file `gateway-<id>.json`) is imported on first start and kept under a
 * new name. When the binding cannot load on a machine the gateway says so and uses the JSON file.
 */
import { DamagedStoreError, type FileSnapshotStore } from '../../core/persistence';
import { safeError } from '../../core/redact';
import type { RowBackend } from '../../core/store/row-backend';
import { RowHistory } from '../../core/store/row-history';
import { RowPersister } from '../../core/store/row-persister';
import { TABLES } from '../../core/store/rows';
import { SqliteUnavailableError, openSqliteBackend, setAsideDatabase, type SqliteOptions } from '../../core/store/sqlite-backend';
import { warmUp } from '../../core/store/warm-up';
import { MemoryHistory } from '../../core/history';
import { SnapshotLink } from './snapshot-link';
import { LocalLink, type LinkContext, type StoreHealth, type StoreLink } from './store-link';

export interface EmbeddedOptions {
  /** The database file. */
  file: string;
  /** The JSON store of earlier versions, imported once; also the fallback when SQLite cannot load. */
  legacy: FileSnapshotStore;
  /** How long a change may wait before it is committed (ms). */
  flushMs: number;
  /** The JSON fallback's own delay. */
  fallbackFlushMs: number;
  sqlite?: SqliteOptions;
}

const IMPORTED = 'importedJson';

export class EmbeddedLink extends LocalLink implements StoreLink {
  private backend: RowBackend | undefined;
  private persister: RowPersister | undefined;
  /** Set when SQLite cannot load here: everything goes to the JSON file instead. */
  private fallback: SnapshotLink | undefined;
  private closed = false;
  private importing: Promise<void> | undefined;

  constructor(
    ctx: LinkContext,
    private readonly opts: EmbeddedOptions,
  ) {
    super(ctx);
  }

  get description(): string {
    return this.fallback ? this.fallback.description : `sqlite ${this.opts.file}`;
  }
  health(): StoreHealth {
    if (this.fallback) return this.fallback.health();
    if (!this.backend) return 'not saving';
    return this.ctx.state.warming || this.importing ? 'warming' : 'ready';
  }


  async open(): Promise<void> {
    const { t, state } = this.ctx;
    const backend = await this.openBackend();
    if (this.fallback) return this.fallback.open();
    if (!backend) return;
    this.backend = backend;
    const persister = new RowPersister(backend, state, this.opts.flushMs, (err) =>
      this.ctx.warn(t('gateway.errors.saveFailed', { message: safeError(err).message })),
    );
    this.persister = persister;
    if (backend.getMeta(IMPORTED) === undefined && (await this.importLegacy(persister))) {
      // The snapshot is in memory whole: its rows are written in slices behind the serving.
    } else {
      // Allowlists are small and checked on every message: whole before serving. The rest warms up.
      for (const [key, value] of backend.scan('allowlists', '', 100_000)) state.absorbRow('allowlists', key, value);
      state.beginWarmUp(backend, warmUp(backend, state, { skip: ['allowlists'], stopped: () => this.closed }));
    }
    state.history = new RowHistory(backend, persister, state.settings.retention);
    state.onChange = (table, key) => persister.mark(table, key);
  }

  /** The database, or undefined when the gateway must run without saving (said as a problem). */
  private async openBackend(): Promise<RowBackend | undefined> {
    const { t } = this.ctx;
    const file = this.opts.file;
    try {
      return openSqliteBackend(file, this.opts.sqlite);
    } catch (err) {
      if (err instanceof SqliteUnavailableError) {
        this.fallback = new SnapshotLink(this.ctx, this.opts.legacy, this.opts.fallbackFlushMs);
        this.ctx.problem(t('gateway.errors.sqliteFallback', { message: err.message, store: this.opts.legacy.description }));
        return undefined;
      }
      if (!(err instanceof DamagedStoreError)) {
        this.ctx.problem(t('gateway.errors.unreadable', { store: `sqlite ${file}`, message: safeError(err).message }));
        return undefined;
      }
      let aside: string;
      try {
        aside = await setAsideDatabase(file, 'damaged');
      } catch (moveErr) {
        this.ctx.problem(t('gateway.errors.unreadable', { store: `sqlite ${file}`, message: `${err.message}; ${safeError(moveErr).message}` }));
        return undefined;
      }
      this.ctx.problem(t('gateway.errors.setAside', { store: `sqlite ${file}`, reason: err.message, aside }));
      try {
        return openSqliteBackend(file, this.opts.sqlite);
      } catch (again) {
        this.ctx.problem(t('gateway.errors.unreadable', { store: `sqlite ${file}`, message: safeError(again).message }));
        return undefined;
      }
    }
  }

  /**
   * Brings the JSON store of an earlier version in (migrated like any snapshot), writes its rows
   * in slices, and only when all are committed marks the import done and moves the JSON file
   * aside (`gateway-x.imported-<time>.json`). A kill halfway imports again: rows are upserts.
   */
  private async importLegacy(persister: RowPersister): Promise<boolean> {
    const { state, t } = this.ctx;
    const legacy = this.opts.legacy;
    const link = new SnapshotLink(this.ctx, legacy, 60_000, true);
    let existed = false;
    try {
      existed = (await legacy.load()) !== undefined;
    } catch {
      existed = true; // damaged: the snapshot link sets it aside and says so
    }
    if (!existed) {
      this.backend!.setMeta(IMPORTED, 'none');
      return false;
    }
    // The snapshot link's load migrates, or sets a damaged / newer file aside and reports it.
    await link.open();
    state.onChange = () => undefined;
    let rows = 0;
    for (const table of TABLES) for (const key of state.rowKeys(table)) {
      persister.mark(table, key);
      rows++;
    }
    const kept = state.history;
    if (kept instanceof MemoryHistory) for (const entry of kept.allEntries()) persister.addHistory(entry);
    this.importing = persister.drained().then(async () => {
      if (this.closed) return;
      this.backend!.setMeta(IMPORTED, new Date().toISOString());
      let aside = '';
      try {
        aside = await legacy.setAside('imported');
      } catch {
        // gone already (set aside as damaged): nothing to move
      }
      this.ctx.log(t('gateway.log.imported', { rows: String(rows), from: legacy.description, aside }));
      this.importing = undefined;
    });
    return true;
  }

  async flush(): Promise<void> {
    if (this.fallback) return this.fallback.flush();
    this.persister?.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.fallback) return this.fallback.close();
    this.persister?.close();
    try {
      this.backend?.close();
    } catch (err) {
      this.ctx.warn(safeError(err).message);
    }
  }
}
