/**
 * The gateway's stored state across versions: each snapshot carries a `version`, and a store
 * written by an older chatgate is migrated step by step to the current one — small, pure, tested
 * functions, like the node `version` migrations of Node-RED's own core nodes — never dropped.
 * A snapshot from a NEWER chatgate (a downgrade) or one that is not a snapshot at all is refused,
 * so the caller sets it aside instead of overwriting it.
 *
 *  1 → 2: threads were an array of records, keys URI-encoded parts joined by ':'; now columns, keys
 *         joined by '|' with only parts holding '|' or '%' encoded (keys.ts). De-duplication keys
 *         were composed the same way.
 *  2 → 3: columns named each thread's platform (`platforms: string[]`) and its user JID; now a
 *         platform table (`platformNames`, `platforms: number[]`) and `null` where the user JID is
 *         the chat JID. Stores written by 0.1.0 under version 2 may hold either form.
 */
import { composeKey } from './keys';

export const SNAPSHOT_VERSION = 3;

type Snapshot = Record<string, unknown> & { version: number };
type Migration = (s: Snapshot) => Snapshot;

export type Upgrade =
  | { ok: true; snapshot: Snapshot; from: number }
  /** newer: written by a later chatgate; notASnapshot: no object with a version we know. */
  | { ok: false; reason: 'newer' | 'notASnapshot'; version?: unknown };

/** A v1 key (URI-encoded parts joined by ':') as today's composeKey writes it; a hashed key stays as it is. */
export function rekeyV1(key: string): string {
  if (key.startsWith('sha256:')) return key;
  try {
    return composeKey(key.split(':').map((p) => decodeURIComponent(p)));
  } catch {
    return key;
  }
}

interface RecordV1 {
  id?: unknown;
  key?: unknown;
  strategy?: unknown;
  createdAt?: unknown;
  lastActiveAt?: unknown;
  turn?: unknown;
  sessionMs?: unknown;
  platform?: unknown;
  chatJid?: unknown;
  userJid?: unknown;
}

const STRATEGIES_V1 = ['per-user', 'per-conversation', 'per-message', 'single'];

const v1ToV2: Migration = (s) => {
  const records = Array.isArray(s.threads) ? (s.threads as RecordV1[]) : [];
  const cols = { ids: [] as unknown[], keys: [] as unknown[], strategies: [] as number[], createdAt: [] as unknown[], lastActiveAt: [] as unknown[], turns: [] as unknown[], sessionMs: [] as unknown[], platforms: [] as unknown[], chatJids: [] as unknown[], userJids: [] as unknown[] };
  for (const r of records) {
    if (!r || typeof r !== 'object' || typeof r.id !== 'string' || typeof r.key !== 'string') continue;
    cols.ids.push(r.id);
    cols.keys.push(r.key === '' ? '' : rekeyV1(r.key));
    cols.strategies.push(STRATEGIES_V1.indexOf(String(r.strategy)));
    cols.createdAt.push(r.createdAt);
    cols.lastActiveAt.push(r.lastActiveAt);
    cols.turns.push(r.turn);
    cols.sessionMs.push(r.sessionMs);
    cols.platforms.push(r.platform);
    cols.chatJids.push(r.chatJid);
    cols.userJids.push(r.userJid);
  }
  const dedupe = Array.isArray(s.dedupe) ? (s.dedupe as unknown[]).map((e) => (Array.isArray(e) && typeof e[0] === 'string' ? [rekeyV1(e[0]), e[1]] : e)) : s.dedupe;
  return { ...s, version: 2, threads: cols, dedupe };
};

const v2ToV3: Migration = (s) => {
  const t = s.threads as Record<string, unknown> | undefined;
  // Already in today's form (0.1.0 wrote it under version 2 for a while): only the number changes.
  if (!t || typeof t !== 'object' || Array.isArray(t.platformNames) || !Array.isArray(t.platforms)) return { ...s, version: 3 };
  const platformNames: string[] = [];
  const index = new Map<string, number>();
  const platforms = (t.platforms as unknown[]).map((p) => {
    const name = String(p);
    let i = index.get(name);
    if (i === undefined) {
      i = platformNames.push(name) - 1;
      index.set(name, i);
    }
    return i;
  });
  const chatJids = Array.isArray(t.chatJids) ? (t.chatJids as unknown[]) : [];
  const userJids = Array.isArray(t.userJids) ? (t.userJids as unknown[]).map((u, i) => (u === chatJids[i] ? null : u)) : t.userJids;
  return { ...s, version: 3, threads: { ...t, platforms, platformNames, userJids } };
};

/** By the version they upgrade FROM. */
export const MIGRATIONS: Readonly<Record<number, Migration>> = { 1: v1ToV2, 2: v2ToV3 };

export function upgradeSnapshot(data: unknown): Upgrade {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return { ok: false, reason: 'notASnapshot' };
  const version = (data as { version?: unknown }).version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return { ok: false, reason: 'notASnapshot', version };
  if (version > SNAPSHOT_VERSION) return { ok: false, reason: 'newer', version };
  let s = data as Snapshot;
  for (let v = version; v < SNAPSHOT_VERSION; v++) s = MIGRATIONS[v](s);
  return { ok: true, snapshot: s, from: version };
}
