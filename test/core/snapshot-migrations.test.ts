/**
 * The gateway's stored state across versions: every migration step on its own, and a whole older
 * store restored into today's GatewayState — the same chat continues the same thread, with its
 * allowlist and de-duplication — while a newer or foreign store is refused (to be set aside).
 */
import assert from 'node:assert/strict';
import type { Platform } from '../../nodes/core/envelope';
import { DEFAULT_SETTINGS, GatewayState } from '../../nodes/core/gateway-state';
import { MIGRATIONS, rekeyV1, SNAPSHOT_VERSION, upgradeSnapshot } from '../../nodes/core/snapshot-migrations';

type Columns = { ids: string[]; keys: string[]; strategies: number[]; createdAt: number[]; lastActiveAt: number[]; turns: number[]; sessionMs: number[]; platforms: number[]; platformNames: string[]; chatJids: string[]; userJids: Array<string | null> };
const STRATEGIES = ['per-user', 'per-conversation', 'per-message', 'single'];

const chat = (userId: string, chatId = userId, platform: Platform = 'webchat') => ({ platform, channelId: 'n1', chatId, userId, chatJid: `${platform}:${chatId}`, userJid: `${platform}:${userId}` });

/** Today's state with two chats (one with a '|' in its id), an allowlist entry and a seen message. */
function today(): { state: GatewayState; ids: string[] } {
  const state = new GatewayState(DEFAULT_SETTINGS);
  const a = state.resolveThread(chat('ada'), 'per-user', 0, false).record;
  const b = state.resolveThread(chat('b|ob', 'room:1', 'slack'), 'per-conversation', 0, false).record;
  state.allowlists.add('default', { jid: 'webchat:ada', label: 'Ada' });
  state.isDuplicate('webchat', 'n1', 'm-1');
  return { state, ids: [a.id, b.id] };
}

/** The same state as chatgate 0.1.0's first release wrote it: version 1, threads as records, keys URI-encoded and ':'-joined. */
function asV1(snap: Record<string, unknown>): Record<string, unknown> {
  const c = snap.threads as Columns;
  const v1Key = (k: string) => (k ? k.split('|').map((p) => encodeURIComponent(decodeURIComponent(p))).join(':') : '');
  const threads = c.ids.map((id, i) => ({
    id,
    key: v1Key(c.keys[i]),
    strategy: STRATEGIES[c.strategies[i]],
    createdAt: c.createdAt[i],
    lastActiveAt: c.lastActiveAt[i],
    turn: c.turns[i],
    sessionMs: c.sessionMs[i],
    platform: c.platformNames[c.platforms[i]],
    chatJid: c.chatJids[i],
    userJid: c.userJids[i] ?? c.chatJids[i],
  }));
  const dedupe = (snap.dedupe as Array<[string, number]>).map(([k, at]) => [v1Key(k), at]);
  return { ...snap, version: 1, threads, dedupe };
}

/** As the first version-2 stores held it: columns with platform names and every user JID. */
function asEarlyV2(snap: Record<string, unknown>): Record<string, unknown> {
  const c = snap.threads as Columns;
  const { platformNames, ...rest } = c;
  return { ...snap, version: 2, threads: { ...rest, platforms: c.platforms.map((p) => platformNames[p]), userJids: c.userJids.map((u, i) => u ?? c.chatJids[i]) } };
}

function continues(restored: GatewayState, ids: string[]): void {
  const a = restored.resolveThread(chat('ada'), 'per-user', 0, false);
  assert.equal(a.record.id, ids[0], 'the same chat continues its thread');
  assert.equal(a.isNew, false);
  assert.equal(a.record.turn, 2);
  const b = restored.resolveThread(chat('b|ob', 'room:1', 'slack'), 'per-conversation', 0, false);
  assert.equal(b.record.id, ids[1], 'an id with | and : in it too');
  assert.deepEqual(restored.allowlists.entries('default'), [{ jid: 'webchat:ada', label: 'Ada' }]);
  assert.equal(restored.isDuplicate('webchat', 'n1', 'm-1'), true, 'de-duplication kept');
}

describe('core/snapshot migrations', () => {
  it('a version-1 store is migrated: threads, keys, allowlists and de-duplication all kept', () => {
    const { state, ids } = today();
    const v1 = asV1(state.snapshot() as unknown as Record<string, unknown>);
    const restored = new GatewayState(DEFAULT_SETTINGS);
    assert.deepEqual(restored.restore(JSON.parse(JSON.stringify(v1))), { kind: 'migrated', from: 1 });
    assert.equal(restored.threads.size, 2);
    continues(restored, ids);
  });

  it('an early version-2 store (platform names in every row) is migrated', () => {
    const { state, ids } = today();
    const restored = new GatewayState(DEFAULT_SETTINGS);
    assert.deepEqual(restored.restore(JSON.parse(JSON.stringify(asEarlyV2(state.snapshot() as unknown as Record<string, unknown>)))), { kind: 'migrated', from: 2 });
    continues(restored, ids);
  });

  it('a late version-2 store (already today\'s columns) is only renumbered', () => {
    const { state, ids } = today();
    const v2 = { ...(state.snapshot() as unknown as Record<string, unknown>), version: 2 };
    const up = upgradeSnapshot(JSON.parse(JSON.stringify(v2)));
    assert.ok(up.ok);
    assert.equal(up.snapshot.version, SNAPSHOT_VERSION);
    assert.deepEqual(up.snapshot.threads, JSON.parse(JSON.stringify(state.snapshot().threads)));
    const restored = new GatewayState(DEFAULT_SETTINGS);
    restored.restore(v2);
    continues(restored, ids);
  });

  it('today\'s store loads as it is', () => {
    const { state, ids } = today();
    const restored = new GatewayState(DEFAULT_SETTINGS);
    assert.deepEqual(restored.restore(JSON.parse(JSON.stringify(state.snapshot()))), { kind: 'loaded' });
    continues(restored, ids);
  });

  it('a newer store, or something that is not a store, is refused and nothing is restored', () => {
    const s = new GatewayState(DEFAULT_SETTINGS);
    assert.deepEqual(s.restore({ version: SNAPSHOT_VERSION + 1, threads: {} }), { kind: 'refused', reason: 'newer', version: SNAPSHOT_VERSION + 1 });
    assert.equal(s.restore([1, 2]).kind, 'refused');
    assert.equal(s.restore({ threads: [] }).kind, 'refused');
    assert.equal(s.restore({ version: '2' }).kind, 'refused');
    assert.equal(s.restore({ version: 0 }).kind, 'refused');
    assert.equal(s.restore(undefined).kind, 'empty');
    assert.equal(s.threads.size, 0);
  });

  it('every version below the current one has a step, and each step raises the version by one', () => {
    for (let v = 1; v < SNAPSHOT_VERSION; v++) {
      assert.equal(typeof MIGRATIONS[v], 'function', `a migration from ${v}`);
      assert.equal(MIGRATIONS[v]({ version: v, threads: v === 1 ? [] : {} }).version, v + 1);
    }
  });

  it('steps skip junk inside instead of trusting it', () => {
    const up = upgradeSnapshot({ version: 1, threads: [null, 5, { id: 1, key: 'k' }, { id: 'ok', key: 'webchat:a%7Cb', strategy: 'per-user', createdAt: 1, lastActiveAt: 2, turn: 1, sessionMs: 0, platform: 'webchat', chatJid: 'webchat:a', userJid: 'webchat:a' }], dedupe: 'x' });
    assert.ok(up.ok);
    assert.deepEqual((up.snapshot.threads as Columns).ids, ['ok']);
    assert.equal(rekeyV1('webchat:a%7Cb'), 'webchat|a%7Cb');
    assert.equal(rekeyV1('sha256:abc'), 'sha256:abc');
    assert.equal(rekeyV1('bad%E0%A4%A'), 'bad%E0%A4%A');
  });
});
