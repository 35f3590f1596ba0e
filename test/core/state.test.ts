import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DedupeWindow } from '../../nodes/core/dedupe';
import { ReplyListeners } from '../../nodes/core/reply-listeners';
import { checkAllowed, checkAllowedIn, indexEntries, Allowlists, parseEntries } from '../../nodes/core/allowlist';
import { FileSnapshotStore, Persister } from '../../nodes/core/persistence';
import { GatewayState, DEFAULT_SETTINGS } from '../../nodes/core/gateway-state';
import { parseJid, toJid, isValidJidPattern } from '../../nodes/core/jid';
import { parseCommand, buildChat } from '../../nodes/core/inbound';
import { validateInbound } from '../../nodes/core/envelope';
import { readOutbound } from '../../nodes/core/outbound';
import { routeReply } from '../../nodes/core/reply-routing';

const addr = { platform: 'webchat' as const, channelId: 'in1', chatId: 'c1', userId: 'u1' };

describe('core/dedupe', () => {
  it('answers a retried delivery once inside the window, again after it', () => {
    const d = new DedupeWindow(1000);
    assert.equal(d.checkAndRecord('k', 0), false);
    assert.equal(d.checkAndRecord('k', 500), true);
    assert.equal(d.checkAndRecord('k', 1501), false);
    d.checkAndRecord('old', 0);
    d.checkAndRecord('new', 3000);
    d.sweep(3000);
    assert.equal(d.size, 1);
  });
});

describe('core/reply-listeners', () => {
  it('finds a live address, says "expired" after the TTL and "unknown" later', () => {
    const l = new ReplyListeners(1000);
    l.register('t1', addr, 0);
    const hit = l.lookup('t1', 999);
    assert.ok(hit.ok && hit.address.chatId === 'c1');
    assert.deepEqual(l.lookup('t1', 1001), { ok: false, reason: 'expired' });
    assert.deepEqual(l.lookup('nope', 0), { ok: false, reason: 'unknown' });
    l.sweep(2001 + 1);
    assert.deepEqual(l.lookup('t1', 2002), { ok: false, reason: 'unknown' });
  });
  it('renews on register and restores only valid entries', () => {
    const l = new ReplyListeners(1000);
    l.register('t', addr, 0);
    l.register('t', addr, 900);
    assert.ok(l.lookup('t', 1500).ok);
    const r = new ReplyListeners(1000);
    r.restore([...l.snapshot(), ['bad', null], 'junk']);
    assert.equal(r.size, 1);
    assert.equal(r.findByChat('webchat', 'c1', 1500)?.userId, 'u1');
  });
});

describe('core/allowlist', () => {
  const human = { userJid: 'tg:1', chatJid: 'tg:-100', isBot: false };
  it('modes: open lets humans in, closed refuses all, allowlist needs an entry', () => {
    assert.ok(checkAllowed(human, [], 'open', 'either').allowed);
    assert.ok(!checkAllowed(human, [{ jid: 'tg:1' }], 'closed', 'either').allowed);
    assert.ok(!checkAllowed(human, [], 'allowlist', 'either').allowed);
    const v = checkAllowed(human, [{ jid: 'tg:1', label: 'Alice' }], 'allowlist', 'sender');
    assert.ok(v.allowed && v.entry?.label === 'Alice');
  });
  it('matches sender or chat as configured, with per-platform wildcards', () => {
    assert.ok(checkAllowed(human, [{ jid: 'tg:-100' }], 'allowlist', 'chat').allowed);
    assert.ok(!checkAllowed(human, [{ jid: 'tg:-100' }], 'allowlist', 'sender').allowed);
    assert.ok(checkAllowed(human, [{ jid: 'tg:*' }], 'allowlist', 'sender').allowed);
    assert.ok(!checkAllowed(human, [{ jid: 'slack:*' }], 'allowlist', 'sender').allowed);
    const refused = checkAllowed(human, [], 'allowlist', 'sender');
    assert.ok(!refused.allowed && /tg:1/.test(refused.reason));
  });
  it('refuses bots unless their own JID is listed (not by wildcard)', () => {
    const bot = { ...human, isBot: true };
    assert.ok(!checkAllowed(bot, [], 'open', 'either').allowed);
    assert.ok(!checkAllowed(bot, [{ jid: 'tg:*' }], 'allowlist', 'either').allowed);
    assert.ok(checkAllowed(bot, [{ jid: 'tg:1' }], 'open', 'either').allowed);
  });
  it('looks entries up in the flow\'s list and then the gateway\'s: exact before wildcard, live edits seen', () => {
    const flow = indexEntries([{ jid: 'tg:*', label: 'any telegram' }, { jid: 'tg:1', label: 'flow Alice' }]);
    const lists = new Allowlists();
    const runtime = lists.source('default');
    let v = checkAllowedIn(human, [flow, runtime], 'allowlist', 'sender');
    assert.ok(v.allowed && v.entry?.label === 'flow Alice', 'an exact entry wins over a wildcard written before it');
    lists.add('default', { jid: 'tg:1', label: 'runtime Alice' });
    v = checkAllowedIn(human, [flow, runtime], 'allowlist', 'sender');
    assert.ok(v.allowed && v.entry?.label === 'flow Alice', 'the flow\'s entry comes first');
    v = checkAllowedIn(human, [indexEntries([{ jid: 'tg:*' }]), runtime], 'allowlist', 'sender');
    assert.ok(v.allowed && v.entry?.label === 'runtime Alice', 'exact in any list before a wildcard in the first');
    assert.ok(!checkAllowedIn({ ...human, userJid: 'slack:U9', chatJid: 'slack:C9' }, [runtime], 'allowlist', 'either').allowed);
    lists.add('default', { jid: 'slack:*' });
    assert.ok(checkAllowedIn({ ...human, userJid: 'slack:U9', chatJid: 'slack:C9' }, [runtime], 'allowlist', 'either').allowed, 'a wildcard added later is seen');
    lists.remove('default', 'slack:*');
    assert.ok(!checkAllowedIn({ ...human, userJid: 'slack:U9', chatJid: 'slack:C9' }, [runtime], 'allowlist', 'either').allowed, 'and one removed is gone');
    lists.replace('default', Array.from({ length: 50_000 }, (_, i) => ({ jid: `tg:${1000 + i}` })));
    assert.ok(checkAllowedIn({ ...human, userJid: 'tg:50999' }, [runtime], 'allowlist', 'sender').allowed);
    assert.ok(!checkAllowedIn(human, [runtime], 'allowlist', 'sender').allowed);
  });
  it('keeps named lists and rejects invalid entries', () => {
    const a = new Allowlists();
    a.add('default', { jid: 'tg:1', label: 'A' });
    a.add('other', { jid: 'slack:U1' });
    assert.equal(a.entries('default').length, 1);
    assert.ok(a.remove('default', 'tg:1'));
    const r = new Allowlists();
    r.restore([['x', [{ jid: 'tg:2' }, { jid: 'nonsense' }]], ['__proto__', []]]);
    assert.deepEqual(r.entries('x'), [{ jid: 'tg:2' }]);
    const parsed = parseEntries([{ jid: 'tg:1' }, { jid: 'bad' }, null]);
    assert.equal(parsed.entries.length, 1);
    assert.equal(parsed.invalid.length, 2);
  });
});

describe('core/jid and inbound', () => {
  it('round-trips JIDs, ids with colons included', () => {
    assert.equal(toJid('telegram', '123'), 'tg:123');
    assert.deepEqual(parseJid('slack:C01:x'), { platform: 'slack', id: 'C01:x' });
    assert.equal(parseJid('zz:1'), undefined);
    assert.equal(parseJid('tg:'), undefined);
    assert.ok(isValidJidPattern('wa:*') && isValidJidPattern('*') && !isValidJidPattern('x:*'));
  });
  it('parses commands with a @botname suffix', () => {
    assert.deepEqual(parseCommand('/Reset@my_bot now'), { name: '/reset', args: 'now' });
    assert.equal(parseCommand('hello /reset'), undefined);
  });
  it('builds a valid envelope with a reply address', () => {
    const chat = buildChat({ platform: 'webhook', channelId: 'n1', chatId: 'c', chatType: 'group', userId: 'u', messageId: 'm' }, '/new');
    assert.equal(chat.userJid, 'webhook:u');
    assert.deepEqual(chat.command, { name: '/new', args: '' });
    assert.equal(chat.mentioned, false);
    assert.deepEqual(chat.replyTo, { platform: 'webhook', channelId: 'n1', chatId: 'c', messageId: 'm', userId: 'u' });
    assert.ok(validateInbound({ payload: 'x', chat }).ok);
    const bad = validateInbound({ payload: 'x', chat: { ...chat, userId: 5 } });
    assert.ok(!bad.ok && bad.error.startsWith('msg.chat.userId'));
  });
});

describe('core/outbound and reply routing', () => {
  it('reads text, streams and typing events; names a missing address', () => {
    const ok = readOutbound({ payload: { text: 'hi' }, chat: { replyTo: addr } });
    assert.ok(ok.ok && ok.value.text === 'hi');
    const typing = readOutbound({ event: 'typing', chat: { replyTo: addr } });
    assert.ok(typing.ok && typing.value.event === 'typing');
    const none = readOutbound({ payload: 'x' });
    assert.ok(!none.ok && none.error.includes('msg.chat'));
    const noText = readOutbound({ payload: {}, chat: { replyTo: addr } });
    assert.ok(!noText.ok && noText.error.includes('msg.payload'));
  });
  it('routes by address, then by listener, else says why', () => {
    const l = new ReplyListeners(1000);
    l.register('t1', { ...addr, platform: 'telegram' }, 0);
    const look = (id: string) => l.lookup(id, 10);
    const a = routeReply({ chat: { replyTo: addr } }, look);
    assert.ok(a.ok && a.output === 5);
    const b = routeReply({ thread: { id: 't1' } }, look);
    assert.ok(b.ok && b.output === 0 && b.from === 'listener');
    const c = routeReply({}, look);
    assert.ok(!c.ok && /no address/.test(c.reason));
    const d = routeReply({ thread: { id: 't1' } }, (id) => l.lookup(id, 5000));
    assert.ok(!d.ok && /expired/.test(d.reason));
    const e = routeReply({ chat: { replyTo: { platform: 'fax' } } }, look);
    assert.ok(!e.ok && /replyTo/.test(e.reason));
  });
});

describe('core/persistence', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-core-'));
  it('writes atomically and reads back the whole gateway state', async () => {
    const file = path.join(dir, 'state.json');
    const store = new FileSnapshotStore(file);
    assert.equal(await store.load(), undefined);
    const s = new GatewayState(DEFAULT_SETTINGS);
    const chat = buildChat({ platform: 'webchat', channelId: 'n', chatId: 'u', chatType: 'direct', userId: 'u' }, 'hi');
    const r = s.resolveThread(chat, 'per-user', 0, false);
    s.registerListener(r.record.id, chat.replyTo);
    s.isDuplicate('webchat', 'n', 'm1');
    s.allowlists.add('default', { jid: 'webchat:u' });
    const p = new Persister(store, () => s.snapshot(), 20);
    p.markDirty();
    await new Promise((res) => setTimeout(res, 60));
    assert.ok(fs.existsSync(file));
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');
    const t = new GatewayState(DEFAULT_SETTINGS);
    t.restore(await store.load());
    assert.equal(t.threads.resolve(chat, { strategy: 'per-user', sessionMs: 0, now: Date.now() }).record.id, r.record.id);
    assert.ok(t.lookupListener(r.record.id).ok);
    assert.equal(t.isDuplicate('webchat', 'n', 'm1'), true);
    assert.equal(t.allowlists.entries('default').length, 1);
  });
  it('coalesces many changes into few writes and flushes on close', async () => {
    let writes = 0;
    const p = new Persister({ description: 'mem', load: async () => undefined, save: async () => void writes++ }, () => ({}), 30);
    for (let i = 0; i < 1000; i++) p.markDirty();
    await new Promise((res) => setTimeout(res, 80));
    assert.equal(writes, 1);
    p.markDirty();
    await p.close();
    assert.equal(writes, 2);
  });
  it('a failed write stays dirty and is retried', async () => {
    let fail = true;
    let saved = 0;
    const errors: Error[] = [];
    const p = new Persister(
      { description: 'flaky', load: async () => undefined, save: async () => { if (fail) throw new Error('disk full'); saved++; } },
      () => ({}),
      10,
      (e) => errors.push(e),
    );
    p.markDirty();
    await p.flush();
    assert.equal(errors[0]?.message, 'disk full');
    fail = false;
    await p.flush();
    assert.equal(saved, 1);
  });
  it('restore ignores other versions and junk', () => {
    const s = new GatewayState(DEFAULT_SETTINGS);
    s.restore({ version: 99, threads: [{ id: 'x', key: 'k' }] });
    s.restore(null);
    s.restore(JSON.parse('{"version":2,"threads":{"__proto__":{"polluted":1},"ids":["x"]},"listeners":5}'));
    assert.equal(s.threads.size, 0);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  it('recognises reset commands with or without a parsed command', () => {
    const s = new GatewayState(DEFAULT_SETTINGS);
    assert.ok(s.isResetCommand({}, '/new'));
    assert.ok(s.isResetCommand({ command: { name: '/reset@bot', args: '' } }, ''));
    assert.ok(!s.isResetCommand({}, 'new'));
    assert.ok(!s.isResetCommand({}, '/help'));
  });
});

describe('core/memory', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ConversationMemory } = require('../../nodes/core/memory') as typeof import('../../nodes/core/memory');
  it('keeps the last N turns within a character budget, per thread', () => {
    const m = new ConversationMemory();
    for (let i = 0; i < 30; i++) {
      m.append('t1', [{ role: 'user', content: `q${i}`, at: i }, { role: 'assistant', content: `a${i}`, at: i }], { maxTurns: 5, maxChars: 1000 });
    }
    const h = m.history('t1');
    assert.equal(h.length, 10);
    assert.equal(h[0].content, 'q25');
    assert.deepEqual(m.history('t2'), []);
    m.append('big', [{ role: 'user', content: 'x'.repeat(60), at: 0 }, { role: 'assistant', content: 'y'.repeat(60), at: 0 }, { role: 'user', content: 'z', at: 1 }], { maxTurns: 20, maxChars: 100 });
    assert.deepEqual(m.history('big').map((t) => t.content), ['z'], 'budget drops oldest, never leaves a dangling reply first');
  });
  it('is cleared when its thread resets, and persisted with the gateway', () => {
    const s = new GatewayState(DEFAULT_SETTINGS);
    const chat = buildChat({ platform: 'webchat', channelId: 'n', chatId: 'u', chatType: 'direct', userId: 'u' }, 'hi');
    const r = s.resolveThread(chat, 'per-user', 0, false);
    s.memory.append(r.record.id, [{ role: 'user', content: 'hi', at: 0 }]);
    const copy = new GatewayState(DEFAULT_SETTINGS);
    copy.restore(JSON.parse(JSON.stringify(s.snapshot())));
    assert.equal(copy.memory.history(r.record.id).length, 1);
    s.resolveThread(chat, 'per-user', 0, true);
    assert.deepEqual(s.memory.history(r.record.id), []);
  });
});

describe('core/persistence pacing', () => {
  it('waits nine times as long as a slow save took before the next one', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Persister } = require('../../nodes/core/persistence') as typeof import('../../nodes/core/persistence');
    const saves: number[] = [];
    const p = new Persister({ description: 'slow', load: async () => undefined, save: async () => { saves.push(Date.now()); await new Promise((r) => setTimeout(r, 30)); } }, () => ({}), 10);
    p.markDirty();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(saves.length, 1);
    assert.ok(p.lastSaveMs >= 25);
    p.markDirty();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(saves.length, 1, 'the next save waits ~9 x 30 ms, not 10 ms');
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(saves.length, 2);
    await p.close();
  });
});
