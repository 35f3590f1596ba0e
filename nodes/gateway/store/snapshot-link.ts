/**
 * The JSON file and context stores: the whole state as one snapshot, rewritten (coalesced) after
 * changes. Small installs; no native module. Nothing stored is ever lost on load: an older version
 * is migrated (a copy kept beside it), a damaged or newer store is set aside and reported, and a
 * store that cannot be read at all is never written over.
 */
import { SNAPSHOT_VERSION, type RestoreOutcome } from '../../core/gateway-state';
import { DamagedStoreError, Persister, type SnapshotStore } from '../../core/persistence';
import { safeError } from '../../core/redact';
import { LocalLink, type LinkContext, type StoreHealth, type StoreLink } from './store-link';

export class SnapshotLink extends LocalLink implements StoreLink {
  private readonly persister: Persister;
  private holding = false;

  constructor(
    ctx: LinkContext,
    readonly store: SnapshotStore,
    flushMs: number,
    /** Only reads (an import into another store): never writes the snapshot back. */
    readOnly = false,
  ) {
    super(ctx);
    this.persister = new Persister(store, () => ctx.state.snapshot(), flushMs, (err) =>
      ctx.warn(ctx.t('gateway.errors.saveFailed', { message: safeError(err).message })),
    );
    if (readOnly) this.persister.hold();
  }

  get description(): string {
    return this.store.description;
  }
  health(): StoreHealth {
    return this.holding ? 'not saving' : 'ready';
  }


  async open(): Promise<void> {
    await this.load();
    this.ctx.state.onChange = () => this.persister.markDirty();
  }

  private hold(text: string): void {
    this.holding = true;
    this.persister.hold();
    this.ctx.problem(text);
  }

  private async load(): Promise<void> {
    const { t, state } = this.ctx;
    const where = this.store.description;
    let data: unknown;
    try {
      data = await this.store.load();
    } catch (err) {
      if (err instanceof DamagedStoreError) return this.setAside('damaged', safeError(err).message);
      return this.hold(t('gateway.errors.unreadable', { store: where, message: safeError(err).message }));
    }
    let outcome: RestoreOutcome;
    try {
      outcome = state.restore(data);
    } catch (err) {
      // A migration or restore that throws is a damaged store too: nothing half-restored is kept.
      state.restore(undefined);
      return this.setAside('damaged', safeError(err).message);
    }
    if (outcome.kind === 'refused') {
      const why = outcome.reason === 'newer' ? t('gateway.errors.newerStore', { version: String(outcome.version) }) : t('gateway.errors.notAStore', {});
      return this.setAside(outcome.reason === 'newer' ? `v${String(outcome.version)}` : 'damaged', why);
    }
    if (outcome.kind === 'migrated') {
      let copy = '';
      try {
        copy = await this.store.keepCopy(`v${outcome.from}`);
      } catch (err) {
        // Without a copy the old store would be gone with the next save: keep it, run without saving.
        return this.hold(t('gateway.errors.unreadable', { store: where, message: safeError(err).message }));
      }
      this.ctx.log(t('gateway.log.migrated', { from: String(outcome.from), to: String(SNAPSHOT_VERSION), copy }));
      // Written in the new version soon, so the migration runs once.
      this.persister.markDirty();
    }
  }

  private async setAside(label: string, reason: string): Promise<void> {
    try {
      const aside = await this.store.setAside(label);
      this.ctx.problem(this.ctx.t('gateway.errors.setAside', { store: this.store.description, reason, aside }));
    } catch (err) {
      this.hold(this.ctx.t('gateway.errors.unreadable', { store: this.store.description, message: `${reason}; ${safeError(err).message}` }));
    }
  }

  flush(): Promise<void> {
    return this.persister.flush();
  }

  close(): Promise<void> {
    return this.persister.close();
  }
}
