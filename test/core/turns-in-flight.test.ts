/**
 * Turns in flight (core/turns-in-flight.ts): what an agent call took and has not finished is a row
 * of the gateway's state, so a crash leaves it for the restarted node to report. Here: the local
 * state, the snapshot, and the SQLite rows (the keys survive the binding, which cuts a text at NUL).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GatewayState } from '../../nodes/core/gateway-state';
import { openSqliteBackend } from '../../nodes/core/store/sqlite-backend';
import { turnFrom, turnKey, turnOwner, turnPrefix, TurnsInFlight, type TurnInFlight } from '../../nodes/core/turns-in-flight';
import { peerTimings } from '../../nodes/agent-call/turns-guard';

const turn = (threadId: string, at: number): TurnInFlight => ({
  threadId,
  chatJid: 'tg:1',
  replyTo: { platform: 'telegram', channelId: 'bot', chatId: '1', userId: '1' },
  text: 'hello',
  at,
});

describe('core/turns-in-flight', () => {
  it('keeps each node of each instance apart, oldest first, and forgets an ended turn', async () => {
    const state = new GatewayState();
    const changed: string[] = [];
    state.onChange = (table, key) => changed.push(`${table} ${key}`);
    state.beginTurn(turnKey('i1', 'n1', 'm2'), turn('t2', 2));
    state.beginTurn(turnKey('i1', 'n1', 'm1'), turn('t1', 1));
    state.beginTurn(turnKey('i1', 'n2', 'm3'), turn('t3', 3));
    state.beginTurn(turnKey('i2', 'n1', 'm4'), turn('t4', 4));
    state.endTurn(turnKey('i1', 'n1', 'm2'));
    state.endTurn(turnKey('i1', 'n1', 'never'));
    const found = await state.turnsWithPrefix(turnPrefix('i1', 'n1'));
    assert.deepEqual(found.map(([, t]) => t.threadId), ['t1']);
    assert.equal(changed.length, 5, 'an end of a turn that was not there changes nothing');
    assert.ok(changed.every((c) => c.startsWith('turns ')));
  });

  it('names the owner of a key; a local store claims a turn once', () => {
    assert.deepEqual(turnOwner(turnKey('i1', 'n1', 'm/with/slashes')), { instance: 'i1', nodeId: 'n1' });
    for (const bad of ['', 'i1', 'i1/', '/n1/m', 'i1//m']) assert.equal(turnOwner(bad), undefined, bad);
    const state = new GatewayState();
    state.beginTurn(turnKey('i', 'n', 'm'), turn('t', 1));
    assert.deepEqual([state.claimTurn(turnKey('i', 'n', 'm')), state.claimTurn(turnKey('i', 'n', 'm'))], [true, false]);
    // One instance's store has no heartbeat: nobody else is there to report its turns.
    assert.equal((state as { markAlive?: unknown }).markAlive, undefined);
  });

  it('peer timings: 30 s heartbeat, 15 s looks, changed by the environment above 100 ms only', () => {
    assert.deepEqual(peerTimings({}), { aliveMs: 30_000, scanMs: 15_000 });
    assert.deepEqual(peerTimings({ CHATGATE_PEER_ALIVE_MS: '900', CHATGATE_PEER_SCAN_MS: '300' }), { aliveMs: 900, scanMs: 300 });
    assert.deepEqual(peerTimings({ CHATGATE_PEER_ALIVE_MS: '5', CHATGATE_PEER_SCAN_MS: 'soon' }), { aliveMs: 30_000, scanMs: 15_000 });
  });

  it('comes back from a snapshot, and a foreign value is not a turn', () => {
    const a = new GatewayState();
    a.beginTurn(turnKey('i', 'n', 'm'), turn('t', 5));
    const b = new GatewayState();
    b.restore(JSON.parse(JSON.stringify(a.snapshot())));
    assert.deepEqual(b.turns.get(turnKey('i', 'n', 'm')), turn('t', 5));
    const book = new TurnsInFlight();
    book.restore([['k', { threadId: 1 }], ['k2', null], 'x', ['k3', { ...turn('t', 1), replyTo: 'tg:1' }]]);
    assert.equal(book.size, 0);
    assert.equal(turnFrom({ ...turn('t', 1), text: 'x'.repeat(500) })!.text.length, 80, 'a turn keeps only the start of the text');
  });

  it('is written to and read back from the SQLite rows whole, key and all', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-turns-'));
    try {
      const file = path.join(dir, 'g.sqlite');
      const key = turnKey('abc123', 'node1', 'msg1');
      let db = openSqliteBackend(file);
      db.write([{ table: 'turns', key, value: turn('t', 9) }], []);
      db.close();
      db = openSqliteBackend(file);
      const state = new GatewayState();
      for (const [k, v] of db.scan('turns', '', 100)) state.absorbRow('turns', k, v);
      db.close();
      assert.deepEqual(state.turns.withPrefix(turnPrefix('abc123', 'node1')), [[key, turn('t', 9)]]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
