/**
 * The gateway's state in Redis, shared by several Node-RED instances behind one load balancer:
 * threads, reply listeners, de-duplication, memory, allowlists and history, with the same meaning
 * as the local state (gateway-state.ts and the modules it uses), plus what only a shared state
 * needs — a message bus between the instances, leases, and the health of the connection.
 *
 * Every operation that must not race between instances is one command or one Lua script, so two
 * instances receiving the same message never fork a thread or answer it twice. Times that decide a
 * thread's meaning (idle, listener expiry) are the caller's `now`, as in the local state; the keys'
 * lifetimes in Redis (PEXPIRE) only clean up after them, a margin later.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { AllowEntrySchema, Allowlists, type AllowEntry } from '../allowlist';
import { dedupeKey } from '../dedupe';
import { STRATEGIES, type ReplyTo, type Strategy } from '../envelope';
import { errorText } from '../error-text';
import { clampLimit, DAY, historyText } from '../history';
import type { GatewaySettings } from '../gateway-state';
import { composeKey } from '../keys';
import { turnFrom, type TurnInFlight } from '../turns-in-flight';
import { DEFAULT_MEMORY_LIMITS, type MemoryLimits, type MemoryTurn } from '../memory';
import { redact } from '../redact';
import { listenerAddress, type ListenerLookup } from '../reply-listeners';
import { newThreadId, PER_MESSAGE_RETENTION_MS, threadKey, type ListQuery, type Resolution, type ThreadChat, type ThreadRecord } from '../threads';
import { RedisLease, type LeaseOptions } from './redis-lease';
import { DEFAULT_RETENTION, type ChatsQuery, type ChatSummary, type HistoryEntry, type HistoryRetention, type HistoryStore, type MessagesQuery, type StoredHistoryEntry } from './rows';
import type { StateOps } from './state-ops';

export type OutagePolicy = 'wait' | 'fail';
export type RedisHealth = 'ready' | 'connecting' | 'down';

/** Keys outlive what they hold by this much, so a message just after the idle time still finds (and replaces) its thread. */
export const EXPIRY_MARGIN_MS = 5 * 60 * 1000;
/** How long `start()` waits for a first connection when commands cannot queue (the `fail` policy). */
const START_TIMEOUT_MS = 10_000;
const RECONNECT_CAP_MS = 3_000;
const FAIL_COMMAND_TIMEOUT_MS = 10_000;
const SCAN_BATCH = 500;

/**
 * The key namespaces under the prefix. No name is a prefix of another one followed by free text
 * (`ls:t:` and `ls:c:`, `al:l:` and `al:names`), so a hostile thread id or list name cannot land on
 * another kind of key. The Lua scripts build the same names from these constants.
 */
const NS = {
  dedupe: 'dd:',
  thread: 'th:r:',
  threadKey: 'th:k:',
  active: 'th:active',
  expires: 'th:expires',
  listener: 'ls:t:',
  chatListener: 'ls:c:',
  memory: 'mem:',
  turns: 'turns',
  alive: 'alive:',
  allowlist: 'al:l:',
  allowlistNames: 'al:names',
  allowlistVersion: 'al:version',
  historyChat: 'h:c:',
  historyChats: 'h:chats',
  historyOldest: 'h:oldest',
  historySeq: 'h:seq',
  lease: 'lease:',
} as const;

/** Pub/sub channels under the prefix. */
const CHANNEL = { allowlists: 'allowlists', bus: 'bus:' } as const;

// ---------------------------------------------------------------------------------------------
// Client, errors and health

/** `redis://user:pass@host` → `redis://user:***@host` (also with no user, and rediss://). */
export function redactRedisUrl(text: string): string {
  return text.replace(/(rediss?:\/\/[^:@/\s]*:)[^@\s]*@/gi, '$1***@');
}

function secretsOf(client: Redis): string[] {
  const { password } = client.options;
  return typeof password === 'string' && password ? [password] : [];
}

/** What ioredis says when a command finds no connection and may not queue (the `fail` policy). */
const NOT_QUEUED = "Stream isn't writeable and enableOfflineQueue options is false";

/** An error safe to show: its text with the connection's password (and any URL user info) removed. */
export function safeRedisError(err: unknown, client?: Redis): Error {
  const text = errorText(err).replace(NOT_QUEUED, 'Redis is not connected (outage policy: fail)');
  const e = new Error(redactRedisUrl(redact(text, client ? secretsOf(client) : [])));
  if (err instanceof Error && err.name && err.name !== 'Error') e.name = err.name;
  return e;
}

/** Reconnect delays: 100 ms doubling up to 3 s, and never giving up. */
export function reconnectDelay(times: number): number {
  return Math.min(100 * 2 ** Math.min(Math.max(0, times - 1), 10), RECONNECT_CAP_MS);
}

/**
 * The ioredis client for a gateway. `wait`: commands queue while Redis is away and run when it is
 * back (messages are late, not lost). `fail`: commands reject at once while disconnected, so a node
 * can `done(err)` and a Catch node decide.
 */
export function createRedisClient(url: string, policy: OutagePolicy): Redis {
  const common: RedisOptions = { lazyConnect: false, retryStrategy: reconnectDelay, connectionName: 'chatgate' };
  const byPolicy: RedisOptions =
    policy === 'wait'
      ? { enableOfflineQueue: true, maxRetriesPerRequest: null }
      : { enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, commandTimeout: FAIL_COMMAND_TIMEOUT_MS };
  let client: Redis;
  try {
    client = new Redis(url, { ...common, ...byPolicy });
  } catch (err) {
    throw safeRedisError(err);
  }
  // ioredis prints an 'error' event nobody listens to; RedisState reports them through its status.
  client.on('error', () => {});
  return client;
}

function isWrongType(err: unknown): boolean {
  return err instanceof Error && /^WRONGTYPE/.test(err.message);
}

/** A read of a key that holds another type (a foreign value) reads as nothing. */
function orElse<T>(promise: Promise<T>, fallback: T): Promise<T> {
  return promise.catch((err: unknown) => {
    if (isWrongType(err)) return fallback;
    throw err;
  });
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type ScriptFn = (...args: Array<string | number>) => Promise<unknown>;

/** A Lua script as a method of the client (EVALSHA, and EVAL again after a server restart). */
function script(client: Redis, name: string, lua: string): ScriptFn {
  const methods = client as unknown as Record<string, ScriptFn | undefined>;
  if (typeof methods[name] !== 'function') client.defineCommand(name, { lua, numberOfKeys: 0 });
  const fn = methods[name] as ScriptFn;
  return (...args) => fn.apply(client, args);
}

// ---------------------------------------------------------------------------------------------
// Lua. Every script takes the prefix as ARGV[1] and builds its keys from NS.

const LUA_COMMON = `
local p = ARGV[1]
local function typeOf(k) return redis.call('TYPE', k).ok end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

const LUA_THREADS = `${LUA_COMMON}
-- The indexes are sorted sets; anything else under their names (a foreign value) is dropped.
for _, k in ipairs({ p .. '${NS.active}', p .. '${NS.expires}' }) do
  local t = typeOf(k)
  if t ~= 'zset' and t ~= 'none' then redis.call('DEL', k) end
end
local function readThread(id)
  local rkey = p .. '${NS.thread}' .. id
  if typeOf(rkey) ~= 'hash' then return nil end
  local flat = redis.call('HGETALL', rkey)
  local r = {}
  for i = 1, #flat, 2 do r[flat[i]] = flat[i + 1] end
  if r.id ~= id or not (r.key and r.strategy and r.platform and r.chatJid and r.userJid) then return nil end
  if not (tonumber(r.turn) and tonumber(r.lastActiveAt) and tonumber(r.sessionMs) and tonumber(r.createdAt)) then return nil end
  return r, flat
end
-- Drops index entries whose thread Redis has expired; an entry whose key lives on is rescored.
local function prune(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', p .. '${NS.expires}', '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local pttl = redis.call('PTTL', p .. '${NS.thread}' .. id)
    if pttl == -2 then
      redis.call('ZREM', p .. '${NS.active}', id)
      redis.call('ZREM', p .. '${NS.expires}', id)
    elseif pttl == -1 then
      redis.call('ZADD', p .. '${NS.expires}', '+inf', id)
    else
      redis.call('ZADD', p .. '${NS.expires}', now + pttl, id)
    end
  end
  return #ids
end
local function dropThread(id, key)
  redis.call('DEL', p .. '${NS.thread}' .. id, p .. '${NS.memory}' .. id)
  redis.call('ZREM', p .. '${NS.active}', id)
  redis.call('ZREM', p .. '${NS.expires}', id)
  if key ~= '' then
    local pkey = p .. '${NS.threadKey}' .. key
    if typeOf(pkey) == 'string' and redis.call('GET', pkey) == id then redis.call('DEL', pkey) end
  end
end
`;

/**
 * ARGV: prefix, key, newId, strategy, now, sessionMs, reset, platform, chatJid, userJid, margin,
 * perMessageMs. Returns {isNew, cause, record, replaced} with records as flat hash arrays.
 */
const LUA_RESOLVE = `${LUA_THREADS}
local key, newId, strategy, now, sessionMs = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local reset = ARGV[7] == '1'
local margin, perMessageMs = tonumber(ARGV[11]), tonumber(ARGV[12])
local wall = clock()
prune(wall, 20)

-- The lifetime in Redis: the idle time (per-message threads: their retention) plus the margin.
local function ttlOf(recKey, recSession)
  local ms = tonumber(recSession) or 0
  if recKey == '' and ms <= 0 then ms = perMessageMs end
  if ms <= 0 then return 0 end
  return ms + margin
end
local function keep(id, recKey, ttl, lastActiveAt)
  local ks = { p .. '${NS.thread}' .. id, p .. '${NS.memory}' .. id }
  if recKey ~= '' then ks[#ks + 1] = p .. '${NS.threadKey}' .. recKey end
  for _, k in ipairs(ks) do
    if ttl > 0 then redis.call('PEXPIRE', k, ttl) else redis.call('PERSIST', k) end
  end
  redis.call('ZADD', p .. '${NS.active}', lastActiveAt, id)
  if ttl > 0 then redis.call('ZADD', p .. '${NS.expires}', wall + ttl, id)
  else redis.call('ZADD', p .. '${NS.expires}', '+inf', id) end
end

local current, currentFlat
if key ~= '' then
  local pkey = p .. '${NS.threadKey}' .. key
  local pt = typeOf(pkey)
  if pt == 'string' then
    current, currentFlat = readThread(redis.call('GET', pkey))
    if current and current.key ~= key then current, currentFlat = nil, nil end
  elseif pt ~= 'none' then
    redis.call('DEL', pkey)
  end
end

if current and not reset then
  local s = tonumber(current.sessionMs)
  local idle = s > 0 and tonumber(now) - tonumber(current.lastActiveAt) > s
  if not idle then
    local rkey = p .. '${NS.thread}' .. current.id
    redis.call('HSET', rkey, 'turn', tostring(tonumber(current.turn) + 1), 'lastActiveAt', now, 'sessionMs', sessionMs)
    keep(current.id, key, ttlOf(key, sessionMs), now)
    return { 0, '', redis.call('HGETALL', rkey), {} }
  end
end

if current then dropThread(current.id, key) end
local rkey = p .. '${NS.thread}' .. newId
redis.call('DEL', rkey)
-- The reset command itself does not count as a turn of the new thread.
redis.call('HSET', rkey, 'id', newId, 'key', key, 'strategy', strategy, 'createdAt', now, 'lastActiveAt', now,
  'turn', reset and '0' or '1', 'sessionMs', sessionMs, 'platform', ARGV[8], 'chatJid', ARGV[9], 'userJid', ARGV[10])
if key ~= '' then redis.call('SET', p .. '${NS.threadKey}' .. key, newId) end
keep(newId, key, ttlOf(key, sessionMs), now)
local cause = 'first'
if reset then cause = 'reset' elseif current then cause = 'expired' end
return { 1, cause, redis.call('HGETALL', rkey), currentFlat or {} }
`;

/** ARGV: prefix, ids... Returns one flat record (or an empty array) per id. */
const LUA_READ_THREADS = `${LUA_THREADS}
local out = {}
for i = 2, #ARGV do
  local _, flat = readThread(ARGV[i])
  out[#out + 1] = flat or {}
end
return out
`;

/** ARGV: prefix, offset, limit ('-1' = only the count). Returns {total, records}. */
const LUA_LIST_THREADS = `${LUA_THREADS}
local wall = clock()
for i = 1, 100 do
  if prune(wall, 1000) < 1000 then break end
end
local total = redis.call('ZCARD', p .. '${NS.active}')
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local items = {}
if limit > 0 then
  for _, id in ipairs(redis.call('ZREVRANGE', p .. '${NS.active}', offset, offset + limit - 1)) do
    local _, flat = readThread(id)
    if flat then items[#items + 1] = flat end
  end
end
return { total, items }
`;

/** ARGV: prefix, id. Returns 1 when a thread was ended. */
const LUA_END_THREAD = `${LUA_THREADS}
local r = readThread(ARGV[2])
if not r then return 0 end
dropThread(r.id, r.key)
return 1
`;

/**
 * ARGV: prefix, threadId, maxEntries, maxChars ('inf' = no limit), fallbackTtl, entries...
 * Entries are JSON that starts with {"n":<UTF-16 length>,"role":"...", so the budget is counted
 * as the local memory counts it (JavaScript string length) without decoding the content.
 */
const LUA_APPEND_MEMORY = `${LUA_COMMON}
local id = ARGV[2]
local mkey = p .. '${NS.memory}' .. id
local mt = typeOf(mkey)
if mt ~= 'list' and mt ~= 'none' then redis.call('DEL', mkey) end
for i = 6, #ARGV do redis.call('RPUSH', mkey, ARGV[i]) end
local list = redis.call('LRANGE', mkey, 0, -1)
local n = #list
local lens, roles = {}, {}
for i = 1, n do
  local len, role = string.match(list[i], '^{"n":(%d+),"role":"(%a+)"')
  lens[i] = tonumber(len) or 0
  roles[i] = role
end
local drop = 0
if ARGV[3] ~= 'inf' and n > tonumber(ARGV[3]) then drop = n - tonumber(ARGV[3]) end
if ARGV[4] ~= 'inf' then
  local maxChars = tonumber(ARGV[4])
  local chars = 0
  for i = drop + 1, n do chars = chars + lens[i] end
  while drop < n and chars > maxChars do
    drop = drop + 1
    chars = chars - lens[drop]
  end
end
-- A history never starts with a dangling assistant reply (nor with an entry that does not read back).
while drop < n and roles[drop + 1] ~= 'user' do drop = drop + 1 end
if drop >= n then
  redis.call('DEL', mkey)
  return 0
end
if drop > 0 then redis.call('LTRIM', mkey, drop, -1) end
-- The memory goes when its thread goes.
local pttl = redis.call('PTTL', p .. '${NS.thread}' .. id)
if pttl == -1 then redis.call('PERSIST', mkey)
elseif pttl > 0 then redis.call('PEXPIRE', mkey, pttl)
else redis.call('PEXPIRE', mkey, ARGV[5]) end
return n - drop
`;

/** ARGV: prefix, list, jid, value, channel, change (without its version). Returns the version. */
const LUA_ALLOW_ADD = `${LUA_COMMON}
local k = p .. '${NS.allowlist}' .. ARGV[2]
local t = typeOf(k)
if t ~= 'hash' and t ~= 'none' then redis.call('DEL', k) end
local names = p .. '${NS.allowlistNames}'
t = typeOf(names)
if t ~= 'set' and t ~= 'none' then redis.call('DEL', names) end
local vkey = p .. '${NS.allowlistVersion}'
if typeOf(vkey) ~= 'string' then redis.call('DEL', vkey) end
local v = redis.call('INCR', vkey)
redis.call('HSET', k, ARGV[3], ARGV[4])
redis.call('SADD', names, ARGV[2])
redis.call('PUBLISH', ARGV[5], '{"v":' .. v .. ',' .. string.sub(ARGV[6], 2))
return v
`;

/** ARGV: prefix, list, jid, channel, change. Returns {removed, version}. */
const LUA_ALLOW_REMOVE = `${LUA_COMMON}
local k = p .. '${NS.allowlist}' .. ARGV[2]
if typeOf(k) ~= 'hash' or redis.call('HDEL', k, ARGV[3]) == 0 then return { 0, 0 } end
local vkey = p .. '${NS.allowlistVersion}'
if typeOf(vkey) ~= 'string' then redis.call('DEL', vkey) end
local v = redis.call('INCR', vkey)
redis.call('PUBLISH', ARGV[4], '{"v":' .. v .. ',' .. string.sub(ARGV[5], 2))
return { 1, v }
`;

/** ARGV: prefix, list, channel, change, then jid, value pairs. Returns the version. */
const LUA_ALLOW_REPLACE = `${LUA_COMMON}
local k = p .. '${NS.allowlist}' .. ARGV[2]
redis.call('DEL', k)
local names = p .. '${NS.allowlistNames}'
local t = typeOf(names)
if t ~= 'set' and t ~= 'none' then redis.call('DEL', names) end
local vkey = p .. '${NS.allowlistVersion}'
if typeOf(vkey) ~= 'string' then redis.call('DEL', vkey) end
local v = redis.call('INCR', vkey)
for i = 5, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('SADD', names, ARGV[2])
redis.call('PUBLISH', ARGV[3], '{"v":' .. v .. ',' .. string.sub(ARGV[4], 2))
return v
`;

/** ARGV: prefix. Returns {version, {name, {jid, value, ...}}, ...}: every list at one version. */
const LUA_ALLOW_SNAPSHOT = `${LUA_COMMON}
local vkey = p .. '${NS.allowlistVersion}'
local version = '0'
if typeOf(vkey) == 'string' then version = redis.call('GET', vkey) end
local out = { version }
local names = p .. '${NS.allowlistNames}'
if typeOf(names) ~= 'set' then return out end
for _, name in ipairs(redis.call('SMEMBERS', names)) do
  local k = p .. '${NS.allowlist}' .. name
  local flat = {}
  if typeOf(k) == 'hash' then flat = redis.call('HGETALL', k) end
  out[#out + 1] = { name, flat }
end
return out
`;

const LUA_HISTORY = `${LUA_COMMON}
-- Entries are JSON that starts with {"seq":<n>,"at":<ms>, (see RedisHistory.append).
local function atOf(member)
  return tonumber(string.match(member, '^{"seq":%d+,"at":([^,}]+)'))
end
-- Applies the retention to one chat (entries older than cutoff, oldest first, as a prefix; then
-- at most perChat; 0 = no limit) and keeps the chat's indexes right, or drops the chat.
local function trimChat(jid, cutoff, perChat)
  local ckey = p .. '${NS.historyChat}' .. jid
  local t = typeOf(ckey)
  if t == 'zset' then
    if cutoff > 0 then
      for round = 1, 100 do
        local oldest = redis.call('ZRANGE', ckey, 0, 99)
        local old = 0
        for _, m in ipairs(oldest) do
          local at = atOf(m)
          if at and at >= cutoff then break end
          old = old + 1
        end
        if old > 0 then redis.call('ZREMRANGEBYRANK', ckey, 0, old - 1) end
        if old < 100 then break end
      end
    end
    if perChat > 0 then redis.call('ZREMRANGEBYRANK', ckey, 0, -(perChat + 1)) end
  elseif t ~= 'none' then
    redis.call('DEL', ckey)
  end
  local first = {}
  if typeOf(ckey) == 'zset' then first = redis.call('ZRANGE', ckey, 0, 0) end
  if #first == 0 then
    redis.call('ZREM', p .. '${NS.historyChats}', jid)
    redis.call('ZREM', p .. '${NS.historyOldest}', jid)
  else
    redis.call('ZADD', p .. '${NS.historyOldest}', atOf(first[1]) or 0, jid)
  end
end
`;

/** ARGV: prefix, chatJid, entry JSON (an object, without seq), at, perChat, cutoff. Returns the seq. */
const LUA_HISTORY_APPEND = `${LUA_HISTORY}
local jid = ARGV[2]
local seqKey = p .. '${NS.historySeq}'
local st = typeOf(seqKey)
if st ~= 'string' and st ~= 'none' then redis.call('DEL', seqKey) end
local seq = redis.call('INCR', seqKey)
local ckey = p .. '${NS.historyChat}' .. jid
local t = typeOf(ckey)
if t ~= 'zset' and t ~= 'none' then redis.call('DEL', ckey) end
redis.call('ZADD', ckey, seq, '{"seq":' .. seq .. ',' .. string.sub(ARGV[3], 2))
-- A chat's time is its last message's (as the other stores list it).
redis.call('ZADD', p .. '${NS.historyChats}', ARGV[4], jid)
trimChat(jid, tonumber(ARGV[6]), tonumber(ARGV[5]))
return seq
`;

/** ARGV: prefix, cutoff, batch. Trims the chats whose oldest entry is older than the cutoff. */
const LUA_HISTORY_SWEEP_AGE = `${LUA_HISTORY}
local cutoff = tonumber(ARGV[2])
local chats = redis.call('ZRANGEBYSCORE', p .. '${NS.historyOldest}', '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, jid in ipairs(chats) do trimChat(jid, cutoff, 0) end
return #chats
`;

/** ARGV: prefix, perChat, jids... Applies the count limit to these chats (after a retention change). */
const LUA_HISTORY_BOUND = `${LUA_HISTORY}
local perChat = tonumber(ARGV[2])
for i = 3, #ARGV do trimChat(ARGV[i], 0, perChat) end
return #ARGV - 2
`;

/** ARGV: prefix, jids... Returns {count, oldest entry, ''} per chat ({0, ''} when it has none). */
const LUA_HISTORY_SUMMARIES = `${LUA_COMMON}
local out = {}
for i = 2, #ARGV do
  local ckey = p .. '${NS.historyChat}' .. ARGV[i]
  if typeOf(ckey) == 'zset' then
    local oldest = redis.call('ZRANGE', ckey, 0, 0)
    out[#out + 1] = { redis.call('ZCARD', ckey), oldest[1] or '' }
  else
    out[#out + 1] = { 0, '' }
  end
end
return out
`;

// ---------------------------------------------------------------------------------------------
// Reading back what the scripts return

function flatToObject(flat: unknown): Record<string, string> | undefined {
  if (!Array.isArray(flat) || flat.length < 2) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const [k, v] = [flat[i], flat[i + 1]];
    if (typeof k === 'string' && typeof v === 'string') out[k] = v;
  }
  return out;
}

function finite(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function threadFromFlat(flat: unknown): ThreadRecord | undefined {
  const r = flatToObject(flat);
  if (!r) return undefined;
  const strategy = STRATEGIES.find((s) => s === r.strategy);
  const createdAt = finite(r.createdAt);
  const lastActiveAt = finite(r.lastActiveAt);
  const turn = finite(r.turn);
  const sessionMs = finite(r.sessionMs);
  const { id, key, platform, chatJid, userJid } = r;
  if (!strategy || createdAt === undefined || lastActiveAt === undefined || turn === undefined || sessionMs === undefined) return undefined;
  if (typeof id !== 'string' || !id || typeof key !== 'string' || typeof platform !== 'string' || typeof chatJid !== 'string' || typeof userJid !== 'string') {
    return undefined;
  }
  return { id, key, strategy, createdAt, lastActiveAt, turn, sessionMs, platform, chatJid, userJid };
}

interface StoredListener {
  address: ReplyTo;
  expiresAt: number;
}

function listenerFrom(text: unknown): StoredListener | undefined {
  const v = parseJson(text);
  if (!isObject(v) || typeof v.expiresAt !== 'number' || !isObject(v.address)) return undefined;
  const a = v.address;
  if (typeof a.chatId !== 'string' || typeof a.platform !== 'string' || typeof a.channelId !== 'string' || typeof a.userId !== 'string') return undefined;
  return { address: a as ReplyTo, expiresAt: v.expiresAt };
}

function memoryTurnFrom(text: unknown): MemoryTurn | undefined {
  const v = parseJson(text);
  if (!isObject(v) || (v.role !== 'user' && v.role !== 'assistant') || typeof v.content !== 'string') return undefined;
  return { role: v.role, content: v.content, at: typeof v.at === 'number' ? v.at : 0 };
}

function allowEntryFrom(text: unknown): AllowEntry | undefined {
  const parsed = AllowEntrySchema.safeParse(parseJson(text));
  return parsed.success ? parsed.data : undefined;
}

/** As Allowlists.add keeps it: the JID and a non-empty label. */
function normalEntry(entry: AllowEntry): AllowEntry {
  return { jid: entry.jid, ...(entry.label ? { label: entry.label } : {}) };
}

function byJid(a: AllowEntry, b: AllowEntry): number {
  return a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0;
}

function historyEntryFrom(text: unknown): StoredHistoryEntry | undefined {
  const v = parseJson(text);
  if (!isObject(v)) return undefined;
  const { seq, at, direction, platform, chatJid, userJid, userName, threadId, text: body } = v;
  if (typeof seq !== 'number' || typeof at !== 'number' || (direction !== 'in' && direction !== 'out')) return undefined;
  if (typeof platform !== 'string' || typeof chatJid !== 'string' || typeof body !== 'string') return undefined;
  const optional = (x: unknown): x is string | undefined => x === undefined || typeof x === 'string';
  if (!optional(userJid) || !optional(userName) || !optional(threadId)) return undefined;
  return {
    seq,
    at,
    direction,
    platform,
    chatJid,
    ...(userJid !== undefined ? { userJid } : {}),
    ...(userName !== undefined ? { userName } : {}),
    ...(threadId !== undefined ? { threadId } : {}),
    text: body,
  };
}

// ---------------------------------------------------------------------------------------------
// History

export class RedisHistory implements HistoryStore {
  private retention: HistoryRetention;
  private readonly appendScript: ScriptFn;
  private readonly sweepAgeScript: ScriptFn;
  private readonly boundScript: ScriptFn;
  private readonly summaries: ScriptFn;
  private readonly pending = new Set<Promise<unknown>>();
  private sweeping: Promise<void> | undefined;
  private again: number | undefined;
  /** The count limit every chat was last trimmed to (appends keep it from then on). */
  private boundedTo: number | undefined;

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    retention: HistoryRetention = DEFAULT_RETENTION,
    private readonly onError: (err: Error) => void = () => {},
  ) {
    this.retention = { ...retention };
    this.appendScript = script(client, 'chatgateHistoryAppend', LUA_HISTORY_APPEND);
    this.sweepAgeScript = script(client, 'chatgateHistorySweepAge', LUA_HISTORY_SWEEP_AGE);
    this.boundScript = script(client, 'chatgateHistoryBound', LUA_HISTORY_BOUND);
    this.summaries = script(client, 'chatgateHistorySummaries', LUA_HISTORY_SUMMARIES);
  }

  get enabled(): boolean {
    return this.retention.enabled;
  }

  /** A new retention applies at once to what is kept: off forgets every text, a smaller count trims. */
  setRetention(retention: HistoryRetention): void {
    this.retention = { ...retention };
    this.sweep(Date.now());
  }

  append(entry: HistoryEntry): void {
    const r = this.retention;
    if (!r.enabled || typeof entry.chatJid !== 'string' || !entry.chatJid) return;
    const at = Number.isFinite(entry.at) ? entry.at : Date.now();
    const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
    // Field by field as MemoryHistory keeps them, `at` right after the `seq` the script splices in:
    // the retention reads it without decoding the text.
    const json = JSON.stringify({
      at,
      direction: entry.direction === 'out' ? 'out' : 'in',
      platform: entry.platform,
      chatJid: entry.chatJid,
      text: historyText(entry.text),
      userJid: text(entry.userJid),
      userName: text(entry.userName),
      threadId: text(entry.threadId),
    });
    const cutoff = r.days > 0 ? Date.now() - r.days * DAY : 0;
    this.track(this.appendScript(this.prefix, entry.chatJid, json, String(at), Math.max(0, Math.floor(r.perChat)), String(cutoff)));
  }

  async chats(query: ChatsQuery): Promise<ChatSummary[]> {
    try {
      const limit = clampLimit(query.limit);
      const max = query.before !== undefined && Number.isFinite(query.before) ? `(${query.before}` : '+inf';
      const q = query.q ? query.q.toLowerCase() : '';
      const found = new Map<string, ChatSummary>();
      // Newest first; with q the chats are scanned until the page is full (an admin call).
      for (let offset = 0; found.size < limit; ) {
        const want = q ? SCAN_BATCH : limit - found.size;
        const rows = await this.chatRange(max, '-inf', offset, want);
        offset += want;
        await this.summarise(q ? rows.filter(([jid]) => jid.toLowerCase().includes(q)) : rows, found);
        if (rows.length < want) break;
      }
      // Equal times are ordered by JID (as MemoryHistory orders them): the whole tie at the page's end is read.
      const sorted = [...found.values()].sort(byTimeThenJid);
      if (sorted.length >= limit) {
        const edge = sorted[limit - 1].lastAt;
        const tie = await this.chatRange(String(edge), String(edge), 0, -1);
        await this.summarise(q ? tie.filter(([jid]) => jid.toLowerCase().includes(q)) : tie, found);
      }
      return [...found.values()].sort(byTimeThenJid).slice(0, limit);
    } catch (err) {
      throw safeRedisError(err, this.client);
    }
  }

  async messages(chatJid: string, query: MessagesQuery): Promise<StoredHistoryEntry[]> {
    try {
      const limit = clampLimit(query.limit);
      const max = query.before !== undefined && Number.isFinite(query.before) ? `(${query.before}` : '+inf';
      const members = await orElse(this.client.zrevrangebyscore(this.key(NS.historyChat) + chatJid, max, '-inf', 'LIMIT', 0, limit), []);
      return members.flatMap((m) => historyEntryFrom(m) ?? []);
    } catch (err) {
      throw safeRedisError(err, this.client);
    }
  }

  sweep(now: number): void {
    // One sweep at a time; one asked for meanwhile runs after it (a retention changed in between).
    if (this.sweeping) {
      this.again = now;
      return;
    }
    this.sweeping = (async () => {
      for (let at: number | undefined = now; at !== undefined; at = this.again) {
        this.again = undefined;
        try {
          await this.sweepNow(at);
        } catch (err) {
          this.report(err);
        }
      }
      this.sweeping = undefined;
    })();
  }

  /** Resolves when every append and sweep started so far has been answered (tests, a graceful close). */
  async drain(): Promise<void> {
    while (this.pending.size || this.sweeping) await Promise.allSettled([...this.pending, this.sweeping]);
  }

  private async sweepNow(now: number): Promise<void> {
    const r = this.retention;
    if (!r.enabled) {
      // History turned off: what was kept before goes too (an operator who must not keep text).
      for (;;) {
        const jids = await orElse(this.client.zrange(this.key(NS.historyChats), '0', String(SCAN_BATCH - 1)), []);
        if (!jids.length) break;
        await this.client
          .multi()
          .del(...jids.map((j) => this.key(NS.historyChat) + j))
          .zrem(this.key(NS.historyChats), ...jids)
          .zrem(this.key(NS.historyOldest), ...jids)
          .exec();
      }
      await this.client.del(this.key(NS.historyOldest), this.key(NS.historyChats));
      this.boundedTo = undefined;
      return;
    }
    if (r.days > 0) {
      const cutoff = String(now - r.days * DAY);
      const batch = 200;
      for (let i = 0; i < 10_000; i++) if (Number(await this.sweepAgeScript(this.prefix, cutoff, batch)) < batch) break;
    }
    // Appends keep every chat to the count limit; a new (smaller) limit is applied to all chats once.
    const perChat = Math.max(0, Math.floor(r.perChat));
    if (perChat > 0 && perChat !== this.boundedTo) {
      for (let offset = 0; ; offset += SCAN_BATCH) {
        const jids = await orElse(this.client.zrange(this.key(NS.historyChats), String(offset), String(offset + SCAN_BATCH - 1)), []);
        if (jids.length) await this.boundScript(this.prefix, perChat, ...jids);
        if (jids.length < SCAN_BATCH) break;
      }
    }
    this.boundedTo = perChat;
  }

  private async chatRange(max: string, min: string, offset: number, count: number): Promise<Array<[string, number]>> {
    const flat = await orElse(this.client.zrevrangebyscore(this.key(NS.historyChats), max, min, 'WITHSCORES', 'LIMIT', offset, count), []);
    const rows: Array<[string, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) rows.push([flat[i], Number(flat[i + 1])]);
    return rows;
  }

  /** Adds the chats' summaries (count, and the platform of their first kept entry) to `found`. */
  private async summarise(rows: Array<[string, number]>, found: Map<string, ChatSummary>): Promise<void> {
    const todo = rows.filter(([jid]) => !found.has(jid));
    if (!todo.length) return;
    const sums = (await this.summaries(this.prefix, ...todo.map(([jid]) => jid))) as Array<[number, string]>;
    todo.forEach(([chatJid, lastAt], i) => {
      const [count, oldest] = sums[i] ?? [0, ''];
      const entry = historyEntryFrom(oldest);
      if (Number(count) > 0 && entry) found.set(chatJid, { chatJid, platform: entry.platform, lastAt, count: Number(count) });
    });
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.report(err)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private report(err: unknown): void {
    try {
      this.onError(safeRedisError(err, this.client));
    } catch {
      // nowhere left to report
    }
  }

  private key(ns: string): string {
    return this.prefix + ns;
  }
}

function byTimeThenJid(a: ChatSummary, b: ChatSummary): number {
  return b.lastAt - a.lastAt || (a.chatJid < b.chatJid ? -1 : a.chatJid > b.chatJid ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// State

export interface RedisStateOptions {
  client: Redis;
  /** e.g. `chatgate:<gatewayId>:` — every key and channel lives under it. */
  prefix: string;
  settings: GatewaySettings;
  /** What the history keeps; the settings' retention when left out. */
  retention?: HistoryRetention;
  /** Failures of work nobody awaits (history appends, subscriptions, a bus handler that throws). */
  onError?: (err: Error) => void;
  /** Keys outlive the idle time by this much (tests shorten it). */
  expiryMarginMs?: number;
}

type AllowChange =
  | { v: number; op: 'add'; list: string; jid: string; entry: AllowEntry }
  | { v: number; op: 'remove'; list: string; jid: string }
  | { v: number; op: 'replace'; list: string; entries: AllowEntry[] };

function allowChangeFrom(text: unknown): AllowChange | undefined {
  const c = parseJson(text);
  if (!isObject(c) || typeof c.v !== 'number' || typeof c.list !== 'string') return undefined;
  if (c.op === 'replace') {
    if (!Array.isArray(c.entries)) return undefined;
    const entries = c.entries.flatMap((e) => {
      const r = AllowEntrySchema.safeParse(e);
      return r.success ? [normalEntry(r.data)] : [];
    });
    return { v: c.v, op: 'replace', list: c.list, entries };
  }
  if (typeof c.jid !== 'string') return undefined;
  if (c.op === 'remove') return { v: c.v, op: 'remove', list: c.list, jid: c.jid };
  if (c.op !== 'add') return undefined;
  const entry = AllowEntrySchema.safeParse(c.entry);
  if (!entry.success || entry.data.jid !== c.jid) return undefined;
  return { v: c.v, op: 'add', list: c.list, jid: c.jid, entry: normalEntry(entry.data) };
}

type BusHandler = { fn: (message: unknown) => void };

export class RedisState implements StateOps {
  readonly client: Redis;
  readonly prefix: string;
  readonly settings: GatewaySettings;
  readonly history: RedisHistory;
  /**
   * The allowlists as a local mirror: the filter checks every message synchronously. Loaded by
   * start(), kept up to date from the change channel, reloaded whenever the subscription was away.
   */
  readonly allowlists = new Allowlists();

  private readonly marginMs: number;
  private readonly onError: (err: Error) => void;
  private readonly scripts: Record<'resolve' | 'readThreads' | 'listThreads' | 'endThread' | 'appendMemory' | 'allowAdd' | 'allowRemove' | 'allowReplace' | 'allowSnapshot', ScriptFn>;
  private subscriber: Redis | undefined;
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly bus = new Map<string, Set<BusHandler>>();
  /** Each subscribed channel's SUBSCRIBE, settled once Redis confirmed it (see subscribed). */
  private readonly busReady = new Map<string, Promise<void>>();
  private readonly leases = new Set<RedisLease>();
  /**
   * Versions of what the mirror holds: per list and JID (the last add or remove applied), per list
   * (the last replace) and for everything (the last snapshot loaded).
   */
  private readonly allowVersions = new Map<string, number>();
  private readonly listVersions = new Map<string, number>();
  private allowFloor = 0;
  private health: RedisHealth = 'connecting';
  private everReady = false;
  private lastErrorText: string | undefined;
  private readonly statusListeners = new Set<(status: RedisHealth) => void>();
  private readonly clientListeners: Array<[Redis, string, (...args: unknown[]) => void]> = [];

  constructor(options: RedisStateOptions) {
    this.client = options.client;
    this.prefix = options.prefix;
    this.settings = options.settings;
    this.marginMs = Math.max(0, options.expiryMarginMs ?? EXPIRY_MARGIN_MS);
    this.onError = options.onError ?? (() => {});
    this.history = new RedisHistory(this.client, this.prefix, options.retention ?? options.settings.retention ?? DEFAULT_RETENTION, (err) => this.report(err));
    const c = this.client;
    this.scripts = {
      resolve: script(c, 'chatgateResolveThread', LUA_RESOLVE),
      readThreads: script(c, 'chatgateReadThreads', LUA_READ_THREADS),
      listThreads: script(c, 'chatgateListThreads', LUA_LIST_THREADS),
      endThread: script(c, 'chatgateEndThread', LUA_END_THREAD),
      appendMemory: script(c, 'chatgateAppendMemory', LUA_APPEND_MEMORY),
      allowAdd: script(c, 'chatgateAllowAdd', LUA_ALLOW_ADD),
      allowRemove: script(c, 'chatgateAllowRemove', LUA_ALLOW_REMOVE),
      allowReplace: script(c, 'chatgateAllowReplace', LUA_ALLOW_REPLACE),
      allowSnapshot: script(c, 'chatgateAllowSnapshot', LUA_ALLOW_SNAPSHOT),
    };
    this.watch(c);
    this.updateHealth();
  }

  /**
   * Opens the subscriber connection and loads the allowlist mirror. With commands that cannot
   * queue (the `fail` policy) it first waits, a bounded time, for Redis to answer.
   */
  start(): Promise<void> {
    if (!this.started) {
      this.started = (async () => {
        if (!this.client.options.enableOfflineQueue) await this.whenReady(this.client, START_TIMEOUT_MS);
        const sub = this.openSubscriber();
        await sub.subscribe(this.channel(CHANNEL.allowlists));
        await this.reloadAllowlists();
      })().catch((err: unknown) => {
        this.started = undefined;
        throw safeRedisError(err, this.client);
      });
    }
    return this.started;
  }

  // --- health -------------------------------------------------------------------------------

  status(): RedisHealth {
    return this.health;
  }

  /** Called on every change of status(); returns the function that stops it. */
  onStatus(fn: (status: RedisHealth) => void): () => void {
    const entry = (s: RedisHealth) => fn(s);
    this.statusListeners.add(entry);
    return () => this.statusListeners.delete(entry);
  }

  /** The last connection error, redacted, for a status text. */
  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  // --- StateOps -------------------------------------------------------------------------------

  isDuplicate(platform: string, channelId: string, messageId: string, _now?: number): Promise<boolean> {
    const key = this.key(NS.dedupe) + dedupeKey(platform, channelId, messageId);
    const windowMs = Math.max(1, Math.ceil(this.settings.dedupeWindowMs));
    // One SET NX: of two instances given the same delivery, exactly one sees it first.
    return this.run(async () => (await this.client.set(key, '1', 'PX', windowMs, 'NX')) === null);
  }

  resolveThread(chat: ThreadChat, strategy: Strategy, sessionMs: number, reset: boolean, now = Date.now()): Promise<Resolution> {
    const key = threadKey(strategy, chat);
    return this.run(async () => {
      const reply = await this.scripts.resolve(
        this.prefix, key, newThreadId(), strategy, String(now), String(sessionMs), reset ? '1' : '0',
        chat.platform, chat.chatJid, chat.userJid, String(this.marginMs), String(PER_MESSAGE_RETENTION_MS),
      );
      const [isNew, cause, flat, replacedFlat] = Array.isArray(reply) ? reply : [];
      const record = threadFromFlat(flat);
      if (!record) throw new Error('Redis answered a thread that does not read back');
      if (Number(isNew) !== 1) return { record, isNew: false };
      const why = cause === 'reset' || cause === 'expired' ? cause : 'first';
      return { record, isNew: true, cause: why, replaced: threadFromFlat(replacedFlat) };
    });
  }

  registerListener(threadId: string, address: ReplyTo, now = Date.now()): Promise<void> {
    const ttl = Math.max(0, this.settings.listenerTtlMs);
    const value = JSON.stringify({ address: listenerAddress(address), expiresAt: now + ttl });
    // Kept a further TTL, only to tell "expired" from "unknown" (as ReplyListeners does).
    const keepMs = Math.max(1000, Math.ceil(2 * ttl));
    return this.run(async () => {
      await this.client
        .multi()
        .set(this.key(NS.listener) + threadId, value, 'PX', keepMs)
        .set(this.chatListenerKey(address.platform, address.chatId), value, 'PX', keepMs)
        .exec();
    });
  }

  lookupListener(threadId: string, now = Date.now()): Promise<ListenerLookup> {
    return this.run(async () => {
      const l = listenerFrom(await orElse(this.client.get(this.key(NS.listener) + threadId), null));
      if (!l) return { ok: false, reason: 'unknown' };
      if (now > l.expiresAt) return { ok: false, reason: 'expired' };
      return { ok: true, address: l.address, expiresAt: l.expiresAt };
    });
  }

  findListenerByChat(platform: string, chatId: string, now = Date.now()): Promise<ReplyTo | undefined> {
    return this.run(async () => {
      const l = listenerFrom(await orElse(this.client.get(this.chatListenerKey(platform, chatId)), null));
      if (!l || l.expiresAt < now || l.address.platform !== platform || l.address.chatId !== chatId) return undefined;
      return l.address;
    });
  }

  getThread(id: string): Promise<ThreadRecord | undefined> {
    return this.run(async () => {
      const [flat] = (await this.scripts.readThreads(this.prefix, id)) as unknown[];
      return threadFromFlat(flat);
    });
  }

  endThread(id: string): Promise<boolean> {
    return this.run(async () => Number(await this.scripts.endThread(this.prefix, id)) === 1);
  }

  listThreads(query: ListQuery): Promise<{ total: number; items: ThreadRecord[] }> {
    const whole = (n: number | undefined, fallback: number) => (Number.isFinite(n) ? Math.floor(n as number) : fallback);
    const offset = Math.max(0, whole(query.offset, 0));
    const limit = Math.min(500, Math.max(1, whole(query.limit, 50)));
    const q = query.q?.toLowerCase();
    return this.run(async () => {
      if (!q) {
        const [total, flats] = (await this.scripts.listThreads(this.prefix, offset, limit)) as [number, unknown[]];
        return { total: Number(total), items: flats.flatMap((f) => threadFromFlat(f) ?? []) };
      }
      // A search reads every thread, most recently active first (an admin call, in batches).
      await this.scripts.listThreads(this.prefix, 0, 0);
      const matching: ThreadRecord[] = [];
      for (let start = 0; ; start += SCAN_BATCH) {
        const ids = await orElse(this.client.zrevrange(this.key(NS.active), start, start + SCAN_BATCH - 1), []);
        if (!ids.length) break;
        const flats = (await this.scripts.readThreads(this.prefix, ...ids)) as unknown[];
        for (const f of flats) {
          const r = threadFromFlat(f);
          if (r && [r.id, r.key, r.chatJid, r.userJid].some((s) => s.toLowerCase().includes(q))) matching.push(r);
        }
        if (ids.length < SCAN_BATCH) break;
      }
      matching.sort((a, b) => b.lastActiveAt - a.lastActiveAt);
      return { total: matching.length, items: matching.slice(offset, offset + limit) };
    });
  }

  threadCount(): Promise<number> {
    return this.run(async () => {
      const [total] = (await this.scripts.listThreads(this.prefix, 0, 0)) as [number];
      return Number(total);
    });
  }

  memoryHistory(threadId: string): Promise<MemoryTurn[]> {
    return this.run(async () => {
      const items = await orElse(this.client.lrange(this.key(NS.memory) + threadId, 0, -1), []);
      return items.flatMap((t) => memoryTurnFrom(t) ?? []);
    });
  }

  appendMemory(threadId: string, turns: MemoryTurn[], limits: MemoryLimits = DEFAULT_MEMORY_LIMITS): Promise<void> {
    const maxEntries = Math.max(0, limits.maxTurns) * 2;
    const bound = (n: number) => (Number.isFinite(n) ? String(n) : 'inf');
    // The UTF-16 length goes first in each entry: the script trims by it without decoding the content.
    const entries = turns.map((t) => {
      const content = String(t.content);
      return JSON.stringify({ n: content.length, role: t.role, at: t.at, content });
    });
    return this.run(async () => {
      await this.scripts.appendMemory(this.prefix, threadId, bound(maxEntries), bound(limits.maxChars), String(PER_MESSAGE_RETENTION_MS + this.marginMs), ...entries);
    });
  }

  // Unfinished agent turns: one hash per gateway, a field per turn (turns-in-flight.ts). A field
  // holds a few hundred bytes and lives for one turn; a crash leaves at most the turns in flight.
  beginTurn(key: string, turn: TurnInFlight): Promise<void> {
    return this.run(async () => {
      await this.client.hset(this.key(NS.turns), key, JSON.stringify(turn));
    });
  }

  endTurn(key: string): Promise<void> {
    return this.run(async () => {
      await this.client.hdel(this.key(NS.turns), key);
    });
  }

  /** Deletes the turn and says whether this call did: of two instances claiming it, one wins. */
  claimTurn(key: string): Promise<boolean> {
    return this.run(async () => (await this.client.hdel(this.key(NS.turns), key)) === 1);
  }

  // An instance's heartbeat: a key that lives `ttlMs` unless renewed. A peer finding none for an
  // instance whose turns are in flight knows it is gone (turns-guard.ts).
  markAlive(instance: string, ttlMs: number): Promise<void> {
    return this.run(async () => {
      await this.client.set(this.key(NS.alive) + instance, String(Date.now()), 'PX', ttlMs);
    });
  }

  instancesAlive(instances: string[]): Promise<boolean[]> {
    if (!instances.length) return Promise.resolve([]);
    return this.run(async () => (await this.client.mget(...instances.map((i) => this.key(NS.alive) + i))).map((v) => v !== null));
  }

  turnsWithPrefix(prefix: string): Promise<Array<[string, TurnInFlight]>> {
    return this.run(async () => {
      const all = await orElse(this.client.hgetall(this.key(NS.turns)), {} as Record<string, string>);
      const found: Array<[string, TurnInFlight]> = [];
      for (const [k, v] of Object.entries(all)) {
        if (!k.startsWith(prefix)) continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(v);
        } catch {
          continue;
        }
        const t = turnFrom(parsed);
        if (t) found.push([k, t]);
      }
      return found.sort((a, b) => a[1].at - b[1].at);
    });
  }

  allowEntries(list: string): Promise<AllowEntry[]> {
    return this.run(async () => {
      // A hash keeps no order: entries come back by JID.
      const values = await orElse(this.client.hvals(this.key(NS.allowlist) + list), []);
      return values.flatMap((v) => allowEntryFrom(v) ?? []).sort(byJid);
    });
  }

  addAllowEntry(list: string, entry: AllowEntry): Promise<void> {
    const e = normalEntry(entry);
    return this.run(async () => {
      const change = JSON.stringify({ op: 'add', list, jid: e.jid, entry: e });
      const v = Number(await this.scripts.allowAdd(this.prefix, list, e.jid, JSON.stringify(e), this.channel(CHANNEL.allowlists), change));
      // Seen here at once; the channel brings it to the other instances (and back here, ignored by version).
      this.applyAllowChange({ v, op: 'add', list, jid: e.jid, entry: e });
    });
  }

  removeAllowEntry(list: string, jid: string): Promise<boolean> {
    return this.run(async () => {
      const change = JSON.stringify({ op: 'remove', list, jid });
      const [removed, v] = (await this.scripts.allowRemove(this.prefix, list, jid, this.channel(CHANNEL.allowlists), change)) as [number, number];
      if (Number(removed) !== 1) return false;
      this.applyAllowChange({ v: Number(v), op: 'remove', list, jid });
      return true;
    });
  }

  replaceAllowEntries(list: string, entries: AllowEntry[]): Promise<void> {
    // As a Map keeps them: the last entry of a JID wins.
    const byJid = new Map(entries.map((e) => [e.jid, normalEntry(e)]));
    const kept = [...byJid.values()];
    return this.run(async () => {
      const change = JSON.stringify({ op: 'replace', list, entries: kept });
      const pairs = kept.flatMap((e) => [e.jid, JSON.stringify(e)]);
      const v = Number(await this.scripts.allowReplace(this.prefix, list, this.channel(CHANNEL.allowlists), change, ...pairs));
      this.applyAllowChange({ v, op: 'replace', list, entries: kept });
    });
  }

  /**
   * For the gateway's sweep timer. Threads, listeners and de-duplication keys expire in Redis by
   * themselves; this drops the index entries of expired threads and applies the history's retention.
   */
  sweep(now = Date.now()): void {
    this.history.sweep(now);
    this.scripts.listThreads(this.prefix, 0, 0).catch((err: unknown) => this.report(err));
  }

  // --- bus --------------------------------------------------------------------------------------

  /** Sends `message` (as JSON) to every subscriber of `topic` on any instance; resolves with how many connections got it. */
  publish(topic: string, message: unknown): Promise<number> {
    return this.run(async () => this.client.publish(this.channel(CHANNEL.bus + topic), JSON.stringify(message ?? null)));
  }

  /**
   * Calls `handler` with each message published on `topic` (this instance's own included). A
   * payload that is not JSON is ignored; a handler that throws is reported and the others still run.
   */
  subscribe(topic: string, handler: (message: unknown) => void): () => void {
    const channel = this.channel(CHANNEL.bus + topic);
    let handlers = this.bus.get(channel);
    if (!handlers) {
      handlers = new Set();
      this.bus.set(channel, handlers);
      this.busReady.set(
        channel,
        this.openSubscriber()
          .subscribe(channel)
          .then(
            () => undefined,
            (err: unknown) => this.report(err),
          ),
      );
    }
    const entry: BusHandler = { fn: handler };
    handlers.add(entry);
    return () => {
      const set = this.bus.get(channel);
      if (!set?.delete(entry) || set.size) return;
      this.bus.delete(channel);
      this.busReady.delete(channel);
      this.subscriber?.unsubscribe(channel).catch((err: unknown) => this.report(err));
    };
  }

  /**
   * Resolves once Redis has confirmed the subscription to `topic` (at once when there is none): a
   * message published after that reaches this instance. The SUBSCRIBE goes on the subscriber's
   * connection, a PUBLISH on another, so without waiting the order of the two is not kept.
   */
  subscribed(topic: string): Promise<void> {
    return this.busReady.get(this.channel(CHANNEL.bus + topic)) ?? Promise.resolve();
  }

  // --- leases -----------------------------------------------------------------------------------

  /** A lease under this gateway's prefix, stopped by close(). Not started. */
  lease(name: string, options: LeaseOptions = {}): RedisLease {
    const lease = new RedisLease(this.client, this.key(NS.lease) + name, {
      ...options,
      onError: (err) => (options.onError ?? ((e: Error) => this.report(e)))(safeRedisError(err, this.client)),
    });
    this.leases.add(lease);
    return lease;
  }

  /** Stops the leases (releasing them) and closes both connections; never throws. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await Promise.allSettled([...this.leases].map((l) => l.stop()));
        this.leases.clear();
        // Appends still on their way get a moment (commands queued for a Redis that is away never answer).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          timer.unref?.();
          void this.history.drain().finally(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        const clients = [this.subscriber, this.client].filter((c): c is Redis => !!c);
        await Promise.allSettled(clients.map((c) => quit(c)));
        for (const [c, event, fn] of this.clientListeners) c.off(event, fn);
        this.clientListeners.length = 0;
        this.setHealth('down');
      })().catch(() => {});
    }
    return this.closing;
  }

  // --- internals --------------------------------------------------------------------------------

  private key(ns: string): string {
    return this.prefix + ns;
  }

  private channel(name: string): string {
    return this.prefix + name;
  }

  private chatListenerKey(platform: string, chatId: string): string {
    return this.key(NS.chatListener) + composeKey([platform, chatId]);
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    return fn().catch((err: unknown) => {
      throw safeRedisError(err, this.client);
    });
  }

  private report(err: unknown): void {
    try {
      this.onError(safeRedisError(err, this.client));
    } catch {
      // nowhere left to report
    }
  }

  private openSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    // Subscriptions always queue and come back by themselves, whatever the policy of the commands.
    const sub = this.client.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      autoResendUnfulfilledCommands: true,
      autoResubscribe: true,
      connectionName: 'chatgate-sub',
    });
    sub.on('error', () => {});
    this.subscriber = sub;
    this.watch(sub);
    let readies = 0;
    this.listen(sub, 'ready', () => {
      // After an outage changes may have been published while nobody listened: reload the mirror
      // once the subscription is back (a change arriving meanwhile is kept by its version).
      if (readies++ === 0 || this.closing || !this.started) return;
      sub
        .subscribe(this.channel(CHANNEL.allowlists))
        .then(() => this.reloadAllowlists())
        .catch((err: unknown) => this.report(err));
    });
    this.listen(sub, 'message', (channel, message) => {
      if (typeof channel === 'string') this.onMessage(channel, message);
    });
    return sub;
  }

  private onMessage(channel: string, raw: unknown): void {
    if (channel === this.channel(CHANNEL.allowlists)) {
      const change = allowChangeFrom(raw);
      if (change) this.applyAllowChange(change);
      return;
    }
    const handlers = this.bus.get(channel);
    if (!handlers) return;
    let message: unknown;
    try {
      if (typeof raw !== 'string') return;
      message = JSON.parse(raw) as unknown;
    } catch {
      return;
    }
    for (const h of [...handlers]) {
      try {
        h.fn(message);
      } catch (err) {
        this.report(err);
      }
    }
  }

  /**
   * Applies a change to the mirror unless a later one for the same entry (or a later snapshot) is
   * already in it: changes arrive from two connections (our own answer, the channel) and the
   * mirror ends as Redis is, whatever the order.
   */
  private applyAllowChange(c: AllowChange): void {
    const floor = Math.max(this.allowFloor, this.listVersions.get(c.list) ?? 0);
    if (c.v <= floor) return;
    const isNewer = (jid: string) => (this.allowVersions.get(composeKey([c.list, jid])) ?? 0) > c.v;
    if (c.op === 'replace') {
      const fromChange = c.entries.filter((e) => !isNewer(e.jid));
      const fromMirror = this.allowlists.entries(c.list).filter((e) => isNewer(e.jid));
      this.allowlists.replace(c.list, [...fromChange, ...fromMirror]);
      this.listVersions.set(c.list, c.v);
      return;
    }
    const k = composeKey([c.list, c.jid]);
    if (c.v <= (this.allowVersions.get(k) ?? 0)) return;
    this.allowVersions.set(k, c.v);
    if (c.op === 'add') this.allowlists.add(c.list, c.entry);
    else this.allowlists.remove(c.list, c.jid);
  }

  private async reloadAllowlists(): Promise<void> {
    const reply = (await this.scripts.allowSnapshot(this.prefix)) as unknown[];
    const version = Number(reply[0]) || 0;
    const lists = new Map<string, AllowEntry[]>();
    for (const item of reply.slice(1)) {
      if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
      const entries = Object.entries(flatToObject(item[1]) ?? {}).flatMap(([jid, v]) => {
        const e = allowEntryFrom(v);
        return e && e.jid === jid ? [normalEntry(e)] : [];
      });
      lists.set(item[0], entries.sort(byJid));
    }
    // What changed after the snapshot (a change already applied here) keeps its newer state.
    for (const name of new Set([...lists.keys(), ...this.allowlists.names()])) {
      if ((this.listVersions.get(name) ?? 0) > version) continue;
      const isNewer = (jid: string) => (this.allowVersions.get(composeKey([name, jid])) ?? 0) > version;
      const fromSnapshot = (lists.get(name) ?? []).filter((e) => !isNewer(e.jid));
      const fromMirror = this.allowlists.entries(name).filter((e) => isNewer(e.jid));
      this.allowlists.replace(name, [...fromSnapshot, ...fromMirror]);
    }
    for (const [k, v] of this.allowVersions) if (v <= version) this.allowVersions.delete(k);
    for (const [k, v] of this.listVersions) if (v <= version) this.listVersions.delete(k);
    this.allowFloor = Math.max(this.allowFloor, version);
  }

  private whenReady(client: Redis, timeoutMs: number): Promise<void> {
    if (client.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady);
        reject(new Error(`Redis did not answer within ${timeoutMs} ms${this.lastErrorText ? `: ${this.lastErrorText}` : ''}`));
      }, timeoutMs);
      timer.unref?.();
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('ready', onReady);
    });
  }

  private watch(client: Redis): void {
    const update = () => this.updateHealth();
    for (const event of ['ready', 'connect', 'close', 'reconnecting', 'end']) this.listen(client, event, update);
    this.listen(client, 'error', (err) => {
      this.lastErrorText = safeRedisError(err, this.client).message;
      update();
    });
  }

  private listen(client: Redis, event: string, fn: (...args: unknown[]) => void): void {
    client.on(event, fn);
    this.clientListeners.push([client, event, fn]);
  }

  private updateHealth(): void {
    if (this.closing) return;
    const clients = [this.client, this.subscriber].filter((c): c is Redis => !!c);
    if (this.client.status === 'ready') this.everReady = true;
    const ready = clients.every((c) => c.status === 'ready');
    this.setHealth(ready ? 'ready' : this.everReady ? 'down' : 'connecting');
  }

  private setHealth(next: RedisHealth): void {
    if (next === this.health) return;
    this.health = next;
    for (const fn of [...this.statusListeners]) {
      try {
        fn(next);
      } catch (err) {
        this.report(err);
      }
    }
  }
}

/** QUIT when connected (pending replies arrive), a plain disconnect otherwise or after a second. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      timer.unref?.();
      client.quit().then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        () => {
          clearTimeout(timer);
          resolve();
        },
      );
    });
  } finally {
    if ((client.status as string) !== 'end') client.disconnect();
  }
}
