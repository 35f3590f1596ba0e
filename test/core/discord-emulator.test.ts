/**
 * The Discord emulator itself, driven by plain fetch, raw WebSockets, node:crypto and the REAL
 * discord.js 14: if it drifts from Discord's wire protocol, every Discord node test built on it
 * would prove the wrong thing. The discord.js cases also pin the SDK behaviours the nodes rely on
 * (what it retries, what it drops on a RESUME replay, what makes login reject).
 */
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActionRowBuilder, AttachmentBuilder, ButtonBuilder, ButtonStyle, Client, Events, GatewayIntentBits, HTTPError, MessageFlags, Partials, type ClientOptions, type Interaction, type Message, type TextChannel } from 'discord.js';
import WebSocket from 'ws';
import { Intents, startDiscordServer, type DiscordServer } from '../emulators/discord-server';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface FetchResult {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function api(d: DiscordServer, method: string, path: string, body?: unknown, opts: { auth?: string | false; form?: FormData } = {}): Promise<FetchResult> {
  const headers: Record<string, string> = {};
  if (opts.auth !== false) headers.authorization = opts.auth ?? `Bot ${d.token}`;
  let payload: string | FormData | undefined;
  if (opts.form) payload = opts.form;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${d.apiUrl}/v10${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const ALL = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages, GatewayIntentBits.MessageContent];

/** A raw gateway client: frames in order, `next(pred)` waits for the next matching one. */
async function rawGateway(d: DiscordServer, url = `${d.gatewayUrl}?v=10&encoding=json`) {
  const ws = new WebSocket(url);
  const frames: any[] = [];
  let seen = 0;
  const waiters: Array<{ pred: (f: any) => boolean; resolve: (f: any) => void }> = [];
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    frames.push(f);
    const w = waiters.find((x) => x.pred(f));
    if (w) {
      waiters.splice(waiters.indexOf(w), 1);
      seen = frames.length;
      w.resolve(f);
    }
  });
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return {
    ws,
    frames,
    closed,
    send: (f: unknown) => ws.send(JSON.stringify(f)),
    next(pred: (f: any) => boolean = () => true, ms = 2000): Promise<any> {
      const i = frames.slice(seen).findIndex(pred);
      if (i >= 0) {
        seen += i + 1;
        return Promise.resolve(frames[seen - 1]);
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(frames.map((x) => x.t ?? x.op))}`)), ms);
        waiters.push({ pred, resolve: (f) => (clearTimeout(t), resolve(f)) });
      });
    },
  };
}

const identifyFrame = (token: string, intents: number) => ({ op: 2, d: { token, intents, properties: { os: 'linux', browser: 'test', device: 'test' } } });

describe('discord emulator', function () {
  let discord: DiscordServer;
  const clients: Client[] = [];

  async function login(intents: number[] = ALL, extra: Partial<ClientOptions> = {}, on: DiscordServer = discord): Promise<Client> {
    const client = new Client({ intents, partials: [Partials.Channel], rest: { api: on.apiUrl }, ...extra });
    clients.push(client);
    const ready = new Promise((r) => client.once(Events.ClientReady, r));
    await client.login(on.token);
    await ready;
    return client;
  }

  beforeEach(async () => {
    discord = await startDiscordServer({ heartbeatIntervalMs: 100, commands: [{ name: 'foreign', description: 'Another integration’s command' }] });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.destroy();
    await discord.close();
  });

  describe('REST with plain fetch', () => {
    it('answers gateway/bot, users/@me and the application with a Bot token, 401 otherwise, rate-limit headers on every answer', async () => {
      const gw = await api(discord, 'GET', '/gateway/bot');
      assert.equal(gw.status, 200);
      assert.equal(gw.json.url, discord.gatewayUrl);
      assert.equal(gw.json.shards, 1);
      assert.equal(gw.json.session_start_limit.max_concurrency, 1);
      assert.ok(gw.json.session_start_limit.remaining > 0);
      for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-reset-after', 'x-ratelimit-bucket']) assert.ok(gw.headers.get(h), h);

      const me = await api(discord, 'GET', '/users/@me');
      assert.deepEqual([me.json.id, me.json.bot, me.json.username], [discord.bot.id, true, 'chatgate-bot']);
      assert.match(discord.bot.id, /^\d{17,19}$/, 'a real snowflake');
      const app = await api(discord, 'GET', '/applications/@me');
      assert.equal(app.json.id, discord.applicationId);
      assert.equal(app.json.verify_key, discord.publicKeyHex);
      assert.equal((await api(discord, 'GET', '/oauth2/applications/@me')).json.id, discord.applicationId);

      for (const auth of [false, 'Bot wrong.token.here', `Bearer ${discord.token}`, discord.token] as const) {
        const r = await api(discord, 'GET', '/users/@me', undefined, { auth });
        assert.equal(r.status, 401, String(auth));
        assert.deepEqual(r.json, { message: '401: Unauthorized', code: 0 });
        assert.ok(r.headers.get('x-ratelimit-bucket'));
      }
      assert.equal((await api(discord, 'GET', '/no/such/route')).json.message, '404: Not Found');
      assert.equal((await api(discord, 'PUT', '/users/@me')).status, 405);
      assert.equal((await api(discord, 'GET', `/channels/${discord.fixtures.channel}`)).json.name, 'general');
      assert.deepEqual((await api(discord, 'GET', '/channels/1234567890123456789')).json, { message: 'Unknown Channel', code: 10003 });
      assert.ok(discord.stats.invalidRequests >= 4, 'every 401 counts toward the invalid-request ban');
    });

    it('creates messages with Discord shapes and refuses what Discord refuses', async () => {
      const ch = discord.fixtures.channel;
      const ok = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'x'.repeat(2000), allowed_mentions: { parse: [] } });
      assert.equal(ok.status, 200);
      assert.match(ok.json.id, /^\d{18,19}$/);
      assert.deepEqual([ok.json.channel_id, ok.json.author.id, ok.json.author.bot, ok.json.type, ok.json.edited_timestamp], [ch, discord.bot.id, true, 0, null]);

      const long = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'x'.repeat(2001) });
      assert.equal(long.status, 400);
      assert.deepEqual(long.json, { message: 'Invalid Form Body', code: 50035, errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } } });
      assert.deepEqual((await api(discord, 'POST', `/channels/${ch}/messages`, { content: '   ' })).json, { message: 'Cannot send an empty message', code: 50006 });
      const embed = await api(discord, 'POST', `/channels/${ch}/messages`, { embeds: [{ description: 'd'.repeat(4097) }] });
      assert.equal(embed.json.errors.embeds[0].description._errors[0].code, 'BASE_TYPE_MAX_LENGTH');
      const total = await api(discord, 'POST', `/channels/${ch}/messages`, { embeds: [{ description: 'd'.repeat(4000) }, { description: 'd'.repeat(2001) }] });
      assert.equal(total.json.errors.embeds._errors[0].code, 'MAX_EMBED_SIZE_EXCEEDED');
      const ref = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'hi', message_reference: { message_id: '1234567890123456789' } });
      assert.equal(ref.json.errors.message_reference._errors[0].code, 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE');
      const soft = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'hi', message_reference: { message_id: '1234567890123456789', fail_if_not_exists: false }, allowed_mentions: { parse: [] } });
      assert.deepEqual([soft.status, soft.json.message_reference], [200, undefined]);
      const excl = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'hi', allowed_mentions: { parse: ['users'], users: [discord.fixtures.user] } });
      assert.equal(excl.json.errors.allowed_mentions.parse._errors[0].code, 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE');
      const buttons = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'pick', components: [{ type: 1, components: [{ type: 2, style: 1, label: 'A', custom_id: 'a' }, { type: 2, style: 1, label: 'B', custom_id: 'a' }] }] });
      assert.equal(buttons.json.errors.components[0].components[1].custom_id._errors[0].code, 'COMPONENT_CUSTOM_ID_DUPLICATED');

      const user = discord.make.guildMessage('question');
      const reply = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'answer', message_reference: { message_id: user.id }, allowed_mentions: { parse: [] } });
      assert.deepEqual([reply.json.type, reply.json.message_reference.message_id, reply.json.referenced_message.id], [19, user.id, user.id]);
      const visible = discord.channel(ch);
      assert.deepEqual(
        visible.map((m) => [m.fromBot, m.content.slice(0, 8), m.replyTo]),
        [
          [true, 'xxxxxxxx', undefined],
          [true, 'hi', undefined],
          [false, 'question', undefined],
          [true, 'answer', user.id],
        ],
      );
      assert.deepEqual(
        discord.sent.filter((c) => c.op === 'createMessage').map((c) => c.status),
        [200, 400, 400, 400, 400, 400, 200, 400, 400, 200],
      );
      assert.deepEqual(discord.mentionsPinged, []);
    });

    it('flags every message that would ping someone (no allowed_mentions, or parse letting it through)', async () => {
      const ch = discord.fixtures.channel;
      const { user, role, otherUser } = discord.fixtures;
      const text = `@everyone and @here, <@&${role}>, <@${user}> and <@!${otherUser}>`;
      await api(discord, 'POST', `/channels/${ch}/messages`, { content: text });
      assert.deepEqual(discord.mentionsPinged.at(-1)?.pinged, [{ kind: 'everyone' }, { kind: 'here' }, { kind: 'role', id: role }, { kind: 'user', id: user }, { kind: 'user', id: otherUser }]);
      const sent = discord.sent.at(-1)?.response as { mention_everyone: boolean; mentions: unknown[]; mention_roles: string[] };
      assert.deepEqual([sent.mention_everyone, sent.mentions.length, sent.mention_roles], [true, 2, [role]]);

      const before = discord.mentionsPinged.length;
      await api(discord, 'POST', `/channels/${ch}/messages`, { content: text, allowed_mentions: { parse: [] } });
      assert.equal(discord.mentionsPinged.length, before, 'parse: [] pings nobody');
      await api(discord, 'POST', `/channels/${ch}/messages`, { content: text, allowed_mentions: { parse: ['everyone'] } });
      assert.deepEqual(discord.mentionsPinged.at(-1)?.pinged, [{ kind: 'everyone' }, { kind: 'here' }]);
      await api(discord, 'POST', `/channels/${ch}/messages`, { content: text, allowed_mentions: { users: [user] } });
      assert.deepEqual(discord.mentionsPinged.at(-1)?.pinged, [{ kind: 'user', id: user }], 'only the user the bot allowed');

      const q = discord.make.guildMessage('a question');
      await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'plain answer', message_reference: { message_id: q.id } });
      assert.deepEqual(discord.mentionsPinged.at(-1)?.pinged, [{ kind: 'replied_user', id: user }], 'a reply without allowed_mentions pings its author');
      const n = discord.mentionsPinged.length;
      await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'plain answer', message_reference: { message_id: q.id }, allowed_mentions: { parse: [] } });
      assert.equal(discord.mentionsPinged.length, n, 'with allowed_mentions, replied_user defaults to false');

      // An edit that introduces a parsed mention counts too (via: 'edit').
      const m = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'streaming...', allowed_mentions: { parse: [] } });
      await api(discord, 'PATCH', `/channels/${ch}/messages/${m.json.id}`, { content: 'streaming... @everyone' });
      assert.deepEqual([discord.mentionsPinged.at(-1)?.via, discord.mentionsPinged.at(-1)?.messageId], ['edit', m.json.id]);
    });

    it('takes files as multipart files[n] + payload_json and serves them from signed CDN URLs', async () => {
      const form = new FormData();
      form.append('files[0]', new Blob([Buffer.from('hello file')], { type: 'text/plain' }), 'hello.txt');
      form.append('payload_json', JSON.stringify({ content: 'see attached', attachments: [{ id: 0, filename: 'renamed.txt', description: 'a file' }], allowed_mentions: { parse: [] } }));
      const r = await api(discord, 'POST', `/channels/${discord.fixtures.channel}/messages`, undefined, { form });
      assert.equal(r.status, 200);
      assert.deepEqual([r.json.attachments[0].filename, r.json.attachments[0].size, r.json.attachments[0].description], ['renamed.txt', 10, 'a file']);
      const call = discord.sent.at(-1);
      assert.deepEqual([call?.files[0].field, call?.files[0].filename, call?.files[0].data.toString()], ['files[0]', 'hello.txt', 'hello file']);
      const url = String(r.json.attachments[0].url);
      assert.equal((await (await fetch(url)).text()), 'hello file');
      assert.equal((await fetch(url.replace(/hm=[0-9a-f]+/, 'hm=00'))).status, 404, 'a tampered signature is refused');
      assert.equal((await fetch(url.split('?')[0])).status, 404, 'the bare path without its signature is refused');

      // A user's attachment is served the same way.
      const m = discord.make.dm('a picture', { attachments: [{ filename: 'cat.png', data: Buffer.from([1, 2, 3]) }] });
      const a = (m.attachments as Array<{ url: string; content_type: string; size: number }>)[0];
      assert.deepEqual([a.content_type, a.size], ['image/png', 3]);
      assert.deepEqual([...Buffer.from(await (await fetch(a.url)).arrayBuffer())], [1, 2, 3]);
      assert.deepEqual(discord.downloads.map((x) => x.served), [true, false, false, true]);
    });

    it('edits and deletes only what the bot may; typing answers 204 and is recorded', async () => {
      const ch = discord.fixtures.channel;
      const m = await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'v1', allowed_mentions: { parse: [] } });
      const e = await api(discord, 'PATCH', `/channels/${ch}/messages/${m.json.id}`, { content: 'v2' });
      assert.equal(e.status, 200);
      assert.ok(e.json.edited_timestamp);
      assert.deepEqual([discord.message(ch, m.json.id)?.content, discord.message(ch, m.json.id)?.edits], ['v2', 1]);
      assert.equal((await api(discord, 'PATCH', `/channels/${ch}/messages/${m.json.id}`, { content: 'y'.repeat(2001) })).json.code, 50035);
      const user = discord.make.guildMessage('mine');
      assert.deepEqual((await api(discord, 'PATCH', `/channels/${ch}/messages/${user.id}`, { content: 'hacked' })).json, { message: 'Cannot edit a message authored by another user', code: 50005 });
      assert.equal((await api(discord, 'DELETE', `/channels/${ch}/messages/${m.json.id}`)).status, 204);
      assert.equal((await api(discord, 'DELETE', `/channels/${ch}/messages/${m.json.id}`)).json.code, 10008);
      assert.equal(discord.message(ch, m.json.id), undefined);
      const t = await api(discord, 'POST', `/channels/${ch}/typing`);
      assert.deepEqual([t.status, t.text], [204, '']);
      assert.equal(discord.typing(ch).length, 1);
      const locked = discord.addChannel({ name: 'read-only', botCanSend: false });
      assert.deepEqual((await api(discord, 'POST', `/channels/${locked.id}/messages`, { content: 'x' })).json, { message: 'Missing Permissions', code: 50013 });
    });

    it('enforces a bucket per route and channel: a 429 with Retry-After (seconds) and the JSON retry_after', async () => {
      const tight = await startDiscordServer({ rateLimit: { limit: 2, windowMs: 1500 } });
      try {
        const post = (ch: string) => api(tight, 'POST', `/channels/${ch}/messages`, { content: 'x', allowed_mentions: { parse: [] } });
        const a1 = await post(tight.fixtures.channel);
        assert.deepEqual([a1.headers.get('x-ratelimit-limit'), a1.headers.get('x-ratelimit-remaining')], ['2', '1']);
        await post(tight.fixtures.channel);
        const limited = await post(tight.fixtures.channel);
        assert.equal(limited.status, 429);
        assert.equal(limited.headers.get('retry-after'), '2', 'the header is whole seconds, rounded up');
        assert.equal(limited.headers.get('x-ratelimit-scope'), 'user');
        assert.equal(limited.json.global, false);
        assert.ok(limited.json.retry_after > 0 && limited.json.retry_after <= 1.5);
        assert.equal((await post(tight.fixtures.otherChannel)).status, 200, 'another channel has its own bucket');
        assert.equal(a1.headers.get('x-ratelimit-bucket'), limited.headers.get('x-ratelimit-bucket'));
        assert.equal(tight.sent.filter((c) => c.rateLimited === 'bucket').length, 1);
        assert.equal(tight.channel(tight.fixtures.channel).length, 2, 'the refused call posted nothing');
      } finally {
        await tight.close();
      }
    });

    it('injects 429s (route and global), HTML 5xx, dropped and lost responses', async () => {
      const ch = discord.fixtures.channel;
      const body = { content: 'x', allowed_mentions: { parse: [] } };
      discord.inject.failNext('POST /channels/:id/messages', 1, { status: 429, retryAfter: 0.25 });
      const r = await api(discord, 'POST', `/channels/${ch}/messages`, body);
      assert.deepEqual([r.status, r.headers.get('retry-after'), r.headers.get('x-ratelimit-global'), r.json], [429, '0.25', null, { message: 'You are being rate limited.', retry_after: 0.25, global: false }]);
      discord.inject.failNext('*', 1, { status: 429, retryAfter: 2, global: true });
      const g = await api(discord, 'GET', '/users/@me');
      assert.deepEqual([g.headers.get('x-ratelimit-global'), g.headers.get('x-ratelimit-scope'), g.json.global], ['true', 'global', true]);
      discord.inject.failNext('createMessage', 1, { status: 502 });
      const five = await api(discord, 'POST', `/channels/${ch}/messages`, body);
      assert.equal(five.status, 502);
      assert.match(five.headers.get('content-type') ?? '', /text\/html/);
      assert.match(five.text, /<!DOCTYPE html>/);
      discord.inject.failNext('PATCH', 1, { status: 404, code: 10008, message: 'Unknown Message' });
      assert.equal((await api(discord, 'PATCH', `/channels/${ch}/messages/1234567890123456789`, body)).json.code, 10008);

      discord.inject.dropConnections(1, 'createMessage');
      await assert.rejects(api(discord, 'POST', `/channels/${ch}/messages`, body));
      discord.inject.loseResponses(1, `/channels/${ch}/messages`);
      await assert.rejects(api(discord, 'POST', `/channels/${ch}/messages`, { content: 'applied anyway', allowed_mentions: { parse: [] } }));
      assert.deepEqual(
        discord.sent.slice(-2).map((c) => c.outcome),
        ['dropped', 'lost'],
      );
      assert.deepEqual(discord.channel(ch).map((m) => m.content), ['applied anyway'], 'nothing of the failures was applied; the lost one was');
      assert.equal(discord.stats.rateLimited, 2);
    });

    it('enforce_nonce returns the earlier message instead of posting twice', async () => {
      const ch = discord.fixtures.channel;
      const body = { content: 'once', nonce: 'reply-42', enforce_nonce: true, allowed_mentions: { parse: [] } };
      const a = await api(discord, 'POST', `/channels/${ch}/messages`, body);
      const b = await api(discord, 'POST', `/channels/${ch}/messages`, body);
      assert.equal(a.json.id, b.json.id);
      assert.equal(a.json.nonce, 'reply-42');
      assert.equal(discord.sent.at(-1)?.deduplicated, true);
      await api(discord, 'POST', `/channels/${ch}/messages`, { ...body, enforce_nonce: false });
      assert.equal(discord.channel(ch).length, 2, 'without enforce_nonce the nonce does not de-duplicate');
    });

    it('keeps application commands: POST upserts by name, PUT replaces the whole set (recorded), guild scope, validation', async () => {
      const app = discord.applicationId;
      assert.deepEqual(discord.commands().map((c) => c.name), ['foreign']);
      const created = await api(discord, 'POST', `/applications/${app}/commands`, { name: 'ask', description: 'Ask the agent', options: [{ name: 'prompt', description: 'Your question', type: 3, required: true }] });
      assert.equal(created.status, 201);
      assert.match(created.json.id, /^\d{18,19}$/);
      const again = await api(discord, 'POST', `/applications/${app}/commands`, { name: 'ask', description: 'Ask it again' });
      assert.deepEqual([again.status, again.json.id, again.json.description], [200, created.json.id, 'Ask it again']);
      assert.deepEqual(discord.commands().map((c) => c.name), ['foreign', 'ask']);
      assert.equal(discord.commandOverwrites.length, 0, 'no bulk overwrite so far');

      const bad = await api(discord, 'POST', `/applications/${app}/commands`, { name: 'Ask Me', description: '' });
      assert.equal(bad.json.errors.name._errors[0].code, 'APPLICATION_COMMAND_INVALID_NAME');
      assert.equal(bad.json.errors.description._errors[0].code, 'BASE_TYPE_BAD_LENGTH');

      const g = discord.fixtures.guild;
      assert.equal((await api(discord, 'PUT', `/applications/${app}/guilds/${g}/commands`, [{ name: 'local', description: 'Guild only' }])).status, 200);
      assert.deepEqual(discord.commands(g).map((c) => [c.name, c.guild_id]), [['local', g]]);
      const put = await api(discord, 'PUT', `/applications/${app}/commands`, [{ name: 'ask', description: 'Only mine' }]);
      assert.equal(put.json[0].id, created.json.id, 'a PUT keeps the id of a command with the same name');
      assert.deepEqual(
        discord.commandOverwrites.map((o) => [o.scope, o.removed]),
        [
          [g, []],
          ['global', ['foreign']],
        ],
      );
      assert.equal((await api(discord, 'DELETE', `/applications/${app}/commands/${created.json.id}`)).status, 204);
      assert.equal((await api(discord, 'GET', `/applications/${app}/commands/${created.json.id}`)).json.code, 10063);
    });

    it('answers interactions without Authorization: callback, @original (URL-encoded), follow-ups, deadline and token expiry', async () => {
      const quick = await startDiscordServer({ interactionDeadlineMs: 150, interactionTokenTtlMs: 400 });
      try {
        const cmd = quick.make.slashCommand('ask', { options: { prompt: 'hi' } });
        quick.deliver(cmd);
        const cb = `/interactions/${cmd.id}/${cmd.token}/callback`;
        const deferred = await api(quick, 'POST', `${cb}?with_response=true`, { type: 5, data: { flags: 64 } }, { auth: false });
        assert.equal(deferred.status, 200);
        assert.deepEqual([deferred.json.resource.type, deferred.json.interaction.response_message_loading, deferred.json.interaction.response_message_ephemeral], [5, true, true]);
        assert.equal((await api(quick, 'POST', cb, { type: 4, data: { content: 'twice' } }, { auth: false })).json.code, 40060);
        const hook = `/webhooks/${quick.applicationId}/${cmd.token}`;
        const edit = await api(quick, 'PATCH', `${hook}/messages/%40original`, { content: 'the answer', allowed_mentions: { parse: [] } }, { auth: false });
        assert.equal(edit.status, 200);
        assert.equal(quick.sent.at(-1)?.path, `${hook}/messages/@original`);
        const follow = await api(quick, 'POST', `${hook}?wait=true`, { content: 'more', allowed_mentions: { parse: [] } }, { auth: false });
        assert.equal(follow.json.webhook_id, quick.applicationId);
        const visible = quick.channel(quick.fixtures.channel);
        assert.deepEqual(
          visible.map((m) => [m.content, m.ephemeral, m.interaction?.id, m.interaction?.original, m.loading, m.type]),
          [
            ['the answer', true, cmd.id, true, false, 20],
            ['more', false, cmd.id, false, false, 20],
          ],
        );
        assert.equal(visible[0].visibleTo, quick.fixtures.user);
        assert.deepEqual(quick.interaction(String(cmd.id))?.response && { type: quick.interaction(String(cmd.id))?.response?.type, ephemeral: quick.interaction(String(cmd.id))?.response?.ephemeral }, { type: 5, ephemeral: true });

        // Late: past the deadline the callback is an unknown interaction.
        const late = quick.make.slashCommand('ask');
        quick.deliver(late);
        await sleep(200);
        assert.deepEqual((await api(quick, 'POST', `/interactions/${late.id}/${late.token}/callback`, { type: 4, data: { content: 'too late' } }, { auth: false })).json, { message: 'Unknown interaction', code: 10062 });
        assert.equal(quick.interaction(String(late.id))?.failed, 'deadline');
        // Expired: the token works for `interactionTokenTtlMs` only.
        await sleep(250);
        assert.deepEqual((await api(quick, 'PATCH', `${hook}/messages/@original`, { content: 'after 15 min' }, { auth: false })).json, { message: 'Invalid Webhook Token', code: 50027 });
        assert.equal((await api(quick, 'POST', `/webhooks/${quick.applicationId}/not-a-token`, { content: 'x' }, { auth: false })).json.code, 10015);
      } finally {
        await quick.close();
      }
    });

    it('the first follow-up after a deferral fills the deferred original; components answer with 6/7', async () => {
      const ch = discord.fixtures.channel;
      const cmd = discord.make.slashCommand('ask');
      discord.deliver(cmd);
      await api(discord, 'POST', `/interactions/${cmd.id}/${cmd.token}/callback`, { type: 5 }, { auth: false });
      assert.equal(discord.channel(ch).at(-1)?.loading, true);
      await api(discord, 'POST', `/webhooks/${discord.applicationId}/${cmd.token}?wait=true`, { content: 'first part', allowed_mentions: { parse: [] } }, { auth: false });
      assert.deepEqual(discord.channel(ch).map((m) => [m.content, m.loading, m.interaction?.original]), [['first part', false, true]]);

      await api(discord, 'POST', `/channels/${ch}/messages`, { content: 'pick one', components: [{ type: 1, components: [{ type: 2, style: 1, label: 'Yes', custom_id: 'yes' }] }], allowed_mentions: { parse: [] } });
      const press = discord.make.component('yes');
      assert.equal((press.message as { id: string }).id, discord.channel(ch).at(-1)?.id);
      discord.deliver(press);
      assert.equal((await api(discord, 'POST', `/interactions/${press.id}/${press.token}/callback`, { type: 7, data: { content: 'chosen: yes', components: [] } }, { auth: false })).status, 204);
      assert.deepEqual([discord.channel(ch).at(-1)?.content, discord.channel(ch).at(-1)?.components], ['chosen: yes', []]);
      const wrong = discord.make.slashCommand('ask');
      discord.deliver(wrong);
      assert.equal((await api(discord, 'POST', `/interactions/${wrong.id}/${wrong.token}/callback`, { type: 7, data: {} }, { auth: false })).json.errors.type._errors[0].code, 'INTERACTION_CALLBACK_TYPE_INVALID');
    });
  });

  describe('interaction signing and the HTTP endpoint', () => {
    let endpoint: http.Server;
    let url: string;
    let behaviour: (body: any) => Promise<{ status: number; body: unknown }>;
    const received: any[] = [];

    /** A minimal interactions endpoint: node:crypto verification on the raw body, then `behaviour`. */
    beforeEach(async () => {
      received.length = 0;
      const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(discord.publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
      behaviour = async () => ({ status: 200, body: { type: 1 } });
      endpoint = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', async () => {
          const raw = Buffer.concat(chunks);
          const sig = String(req.headers['x-signature-ed25519'] ?? '');
          const ts = String(req.headers['x-signature-timestamp'] ?? '');
          const fresh = Math.abs(Date.now() / 1000 - Number(ts)) < 300;
          const good = /^[0-9a-f]{128}$/.test(sig) && fresh && verify(null, Buffer.concat([Buffer.from(ts), raw]), key, Buffer.from(sig, 'hex'));
          if (!good) {
            res.writeHead(401);
            return void res.end('invalid request signature');
          }
          const body = JSON.parse(raw.toString());
          received.push(body);
          const out = body.type === 1 ? { status: 200, body: { type: 1 } } : await behaviour(body);
          res.writeHead(out.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(out.body));
        });
      });
      await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/interactions`;
    });
    afterEach(async () => {
      await new Promise<void>((r) => endpoint.close(() => r()));
    });

    it('signs with Ed25519 over timestamp + raw body; node:crypto verifies it with the portal key', () => {
      assert.match(discord.publicKeyHex, /^[0-9a-f]{64}$/);
      const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(discord.publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
      const body = JSON.stringify({ type: 1 });
      const s = discord.signInteraction(body, { timestamp: 1700000000 });
      assert.equal(s.timestamp, '1700000000');
      assert.deepEqual(Object.keys(s.headers), ['X-Signature-Ed25519', 'X-Signature-Timestamp']);
      assert.ok(verify(null, Buffer.from(`1700000000${body}`), key, Buffer.from(s.signature, 'hex')));
      assert.ok(!verify(null, Buffer.from(`1700000001${body}`), key, Buffer.from(s.signature, 'hex')), 'the timestamp is signed');
      assert.ok(!verify(null, Buffer.from(`1700000000${body} `), key, Buffer.from(s.signature, 'hex')), 'the exact raw body is signed');
      assert.equal(discord.signInteraction({ type: 1 }).body, body, 'objects are signed as JSON.stringify gives them');
    });

    it('posts to an endpoint: PING→PONG, a deferred ephemeral answer then @original, bad or stale signatures refused and not registered', async () => {
      const ping = await discord.postInteraction(url, discord.make.ping());
      assert.deepEqual([ping.status, ping.json, ping.applied], [200, { type: 1 }, true]);

      behaviour = async () => ({ status: 200, body: { type: 5, data: { flags: 64 } } });
      const cmd = discord.make.slashCommand('ask', { options: { prompt: 'what is up', verbose: true, n: 3 } });
      const res = await discord.postInteraction(url, cmd);
      assert.deepEqual([res.status, res.applied, res.late], [200, true, false]);
      assert.deepEqual(received.at(-1).data.options, [
        { name: 'prompt', type: 3, value: 'what is up' },
        { name: 'verbose', type: 5, value: true },
        { name: 'n', type: 4, value: 3 },
      ]);
      const rec = discord.interaction(String(cmd.id));
      assert.deepEqual([rec?.via, rec?.response?.type, rec?.response?.via, rec?.response?.ephemeral], ['http', 5, 'http', true]);
      assert.equal(discord.sent.at(-1)?.op, 'interactionResponse');
      const patch = await api(discord, 'PATCH', `/webhooks/${discord.applicationId}/${cmd.token}/messages/@original`, { content: 'done', allowed_mentions: { parse: [] } }, { auth: false });
      assert.equal(patch.status, 200);
      assert.deepEqual(discord.channel(discord.fixtures.channel).map((m) => [m.content, m.ephemeral]), [['done', true]]);

      const n = received.length;
      const bad = await discord.postInteraction(url, discord.make.slashCommand('ask'), { badSignature: true });
      const stale = await discord.postInteraction(url, discord.make.slashCommand('ask'), { stale: true });
      assert.deepEqual([bad.status, stale.status, bad.applied], [401, 401, false]);
      assert.equal(received.length, n, 'nothing reached the handler');
      assert.equal(discord.interactions.filter((i) => i.via === 'http').length, 2, 'probes are not interactions');
    });

    it('an answer after the deadline is late: the interaction failed and later webhooks are refused', async () => {
      const quick = await startDiscordServer({ interactionDeadlineMs: 100 });
      try {
        const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(quick.publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
        const slow = http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            assert.ok(verify(null, Buffer.concat([Buffer.from(String(req.headers['x-signature-timestamp'])), Buffer.concat(chunks)]), key, Buffer.from(String(req.headers['x-signature-ed25519']), 'hex')));
            setTimeout(() => {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ type: 4, data: { content: 'slow answer' } }));
            }, 200);
          });
        });
        await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
        try {
          const cmd = quick.make.slashCommand('ask');
          const res = await quick.postInteraction(`http://127.0.0.1:${(slow.address() as AddressInfo).port}/`, cmd);
          assert.deepEqual([res.status, res.late, res.applied], [200, true, false]);
          assert.ok(res.ms >= 190);
          assert.equal(quick.interaction(String(cmd.id))?.failed, 'deadline');
          assert.deepEqual(quick.channel(quick.fixtures.channel), []);
          assert.equal((await api(quick, 'POST', `/webhooks/${quick.applicationId}/${cmd.token}`, { content: 'x' }, { auth: false })).json.code, 10015);
        } finally {
          await new Promise<void>((r) => slow.close(() => r()));
        }
      } finally {
        await quick.close();
      }
    });
  });

  describe('gateway over a raw WebSocket', () => {
    it('HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats ACKed, one sequence per session', async () => {
      const g = await rawGateway(discord);
      const hello = await g.next((f) => f.op === 10);
      assert.deepEqual([hello.d.heartbeat_interval, hello.s, hello.t], [100, null, null]);
      g.send({ op: 1, d: null });
      assert.equal((await g.next((f) => f.op === 11)).op, 11);
      g.send(identifyFrame(discord.token, Intents.Guilds | Intents.GuildMessages | Intents.DirectMessages | Intents.MessageContent));
      const ready = await g.next((f) => f.t === 'READY');
      assert.equal(ready.s, 1);
      assert.deepEqual([ready.d.v, ready.d.user.id, ready.d.user.bot, ready.d.application.id, ready.d.guilds], [10, discord.bot.id, true, discord.applicationId, [{ id: discord.fixtures.guild, unavailable: true }]]);
      assert.equal(ready.d.resume_gateway_url, discord.gatewayUrl.replace('/gateway', '/resume'));
      assert.match(ready.d.session_id, /^[0-9a-f]{32}$/);
      assert.equal(ready.d.application.flags & (1 << 19), 1 << 19, 'GATEWAY_MESSAGE_CONTENT_LIMITED: the portal toggle of a bot in < 100 servers');
      const guild = await g.next((f) => f.t === 'GUILD_CREATE');
      assert.equal(guild.s, 2);
      assert.deepEqual(guild.d.channels.map((c: any) => [c.name, c.type, c.guild_id]), [['general', 0, undefined], ['random', 0, undefined]]);
      assert.deepEqual(guild.d.threads.map((c: any) => [c.name, c.type, c.parent_id]), [['help-thread', 11, discord.fixtures.channel]]);
      assert.deepEqual(guild.d.members.map((m: any) => m.user.id), [discord.bot.id], 'without GUILD_MEMBERS only the bot itself');
      discord.deliver(discord.make.dm('hi'));
      const dm = await g.next((f) => f.t === 'MESSAGE_CREATE');
      assert.deepEqual([dm.s, dm.d.channel_type, dm.d.guild_id, dm.d.content], [3, 1, undefined, 'hi']);
      const rec = discord.dispatches.at(-1);
      assert.deepEqual(rec?.sessions.map((s) => [s.s, s.sent]), [[3, true]]);
      assert.equal(discord.identifies[0].intents, Intents.Guilds | Intents.GuildMessages | Intents.DirectMessages | Intents.MessageContent);
      g.ws.close(1000);
      await g.closed;
      await discord.waitForSockets((s) => s.openSockets === 0);
      assert.equal(discord.sessions()[0].resumable, false, 'a clean close ends the session');
    });

    it('closes with 4004 on a wrong token, 4014 on a privileged intent the portal did not allow, 4013 on unknown bits, 4005 on a second IDENTIFY', async () => {
      const cases: Array<[string, number, number]> = [
        ['not-the-token', Intents.Guilds, 4004],
        [discord.token, Intents.Guilds | Intents.GuildMembers, 4014],
        [discord.token, Intents.Guilds | Intents.GuildPresences, 4014],
        [discord.token, 1 << 30, 4013],
      ];
      for (const [token, intents, code] of cases) {
        const g = await rawGateway(discord);
        g.send(identifyFrame(token, intents));
        const closed = await g.closed;
        assert.equal(closed.code, code);
        assert.equal(closed.reason, { 4004: 'Authentication failed.', 4014: 'Disallowed intent(s).', 4013: 'Invalid intent(s).' }[code]);
      }
      const g = await rawGateway(discord);
      g.send(identifyFrame(discord.token, Intents.Guilds));
      await g.next((f) => f.t === 'READY');
      g.send(identifyFrame(discord.token, Intents.Guilds));
      assert.equal((await g.closed).code, 4005);
      assert.deepEqual(discord.identifies.map((i) => i.refused), [4004, 4014, 4014, 4013, undefined, 4005]);
      const bad = await rawGateway(discord, `${discord.gatewayUrl}?v=9&encoding=json`);
      assert.equal((await bad.closed).code, 4012);
    });

    it('sends only what the intents ask for; without MESSAGE_CONTENT guild text is empty unless it mentions the bot', async () => {
      const g = await rawGateway(discord);
      g.send(identifyFrame(discord.token, Intents.Guilds | Intents.GuildMessages));
      await g.next((f) => f.t === 'GUILD_CREATE');
      const dm = discord.deliver(discord.make.dm('private'));
      assert.equal(dm.filtered.length, 1, 'no DIRECT_MESSAGES intent: not sent');
      discord.deliver(discord.make.guildMessage('plain', { attachments: 1 }));
      discord.deliver(discord.make.mention('for the bot'));
      discord.deliver(discord.make.threadMessage('in the thread'));
      const plain = await g.next((f) => f.t === 'MESSAGE_CREATE');
      const mention = await g.next((f) => f.t === 'MESSAGE_CREATE');
      const thread = await g.next((f) => f.t === 'MESSAGE_CREATE');
      assert.deepEqual([plain.d.content, plain.d.attachments, plain.s], ['', [], 3]);
      assert.equal(mention.d.content, `<@${discord.bot.id}> for the bot`);
      assert.deepEqual(mention.d.mentions.map((u: any) => u.id), [discord.bot.id]);
      assert.deepEqual([thread.d.channel_id, thread.d.guild_id, thread.d.content], [discord.fixtures.thread, discord.fixtures.guild, '']);
      assert.ok(plain.d.member && plain.d.member.roles, 'guild messages carry the member');

      // A reply to the bot pings it (unless the user switched the ping off), so its text is visible.
      const bot = await api(discord, 'POST', `/channels/${discord.fixtures.channel}/messages`, { content: 'ask me', allowed_mentions: { parse: [] } });
      await g.next((f) => f.t === 'MESSAGE_CREATE' && f.d.author.id === discord.bot.id);
      discord.deliver(discord.make.guildMessage('a reply', { replyTo: bot.json.id }));
      discord.deliver(discord.make.guildMessage('a silent reply', { replyTo: bot.json.id, replyPing: false }));
      const reply = await g.next((f) => f.t === 'MESSAGE_CREATE');
      const silent = await g.next((f) => f.t === 'MESSAGE_CREATE');
      assert.deepEqual([reply.d.type, reply.d.content, reply.d.message_reference.message_id, reply.d.referenced_message.author.id], [19, 'a reply', bot.json.id, discord.bot.id]);
      assert.equal(silent.d.content, '');
    });

    it('RESUME replays what was missed and, with replayOnResume, what the dead connection carried; an unknown session gets op 9 false', async () => {
      const g = await rawGateway(discord);
      g.send(identifyFrame(discord.token, Intents.Guilds | Intents.GuildMessages | Intents.MessageContent));
      const ready = await g.next((f) => f.t === 'READY');
      const handled = discord.deliver(discord.make.mention('handled before the drop'));
      const seen = await g.next((f) => f.t === 'MESSAGE_CREATE');
      discord.inject.closeGateway(4000);
      assert.equal((await g.closed).code, 4000);
      discord.deliver(discord.make.mention('missed while away'));
      const r = await rawGateway(discord, `${ready.d.resume_gateway_url}?v=10&encoding=json`);
      r.send({ op: 6, d: { token: discord.token, session_id: ready.d.session_id, seq: seen.s } });
      const again = await r.next((f) => f.t === 'MESSAGE_CREATE');
      const missed = await r.next((f) => f.t === 'MESSAGE_CREATE');
      const resumed = await r.next((f) => f.t === 'RESUMED');
      assert.deepEqual([again.d.id, again.s], [handled.d.id, seen.s], 'sent again with its old sequence number');
      assert.deepEqual([missed.s, resumed.s], [seen.s + 1, seen.s + 2]);
      assert.deepEqual(
        discord.resumes[0].replayed.map((x) => [x.t, x.alreadyDelivered]),
        [
          ['MESSAGE_CREATE', true],
          ['MESSAGE_CREATE', false],
        ],
      );
      assert.equal(discord.resumes[0].path, '/resume');

      discord.inject.replayOnResume = false;
      r.ws.terminate();
      await discord.waitForSockets((s) => s.openSockets === 0);
      const strict = await rawGateway(discord);
      strict.send({ op: 6, d: { token: discord.token, session_id: ready.d.session_id, seq: resumed.s } });
      await strict.next((f) => f.t === 'RESUMED');
      assert.deepEqual(discord.resumes[1].replayed, [], 'strict: nothing after the client seq, nothing replayed');

      const unknown = await rawGateway(discord);
      unknown.send({ op: 6, d: { token: discord.token, session_id: 'f'.repeat(32), seq: 1 } });
      assert.deepEqual(await unknown.next((f) => f.op === 9), { op: 9, d: false, s: null, t: null });
    });
  });

  describe('with the real discord.js', () => {
    it('logs in to ready with the guild, its channels and the thread cached, identifying with the intents asked', async () => {
      const started = Date.now();
      const client = await login();
      assert.ok(Date.now() - started < 2000, 'no 15 s wait for unavailable guilds: GUILD_CREATE came');
      assert.equal(client.user?.id, discord.bot.id);
      assert.equal(client.application?.id, discord.applicationId);
      assert.deepEqual([...client.guilds.cache.keys()], [discord.fixtures.guild]);
      for (const id of [discord.fixtures.channel, discord.fixtures.otherChannel, discord.fixtures.thread]) assert.ok(client.channels.cache.has(id), id);
      assert.equal(discord.identifies[0].intents, ALL.reduce((a, b) => a | b, 0));
      assert.equal(discord.stats.openSockets, 1);
      assert.deepEqual(
        discord.sent.map((c) => c.op),
        ['getGatewayBot'],
      );
    });

    it('receives a DM (Partials.Channel + channel_type 1) and a guild mention; reply and send show up in the emulator', async () => {
      const client = await login();
      const got: Message[] = [];
      client.on(Events.MessageCreate, (m) => {
        if (!m.author.bot) got.push(m);
      });
      discord.deliver(discord.make.dm('hello in private'));
      const mention = discord.make.mention('hello in public');
      discord.deliver(mention);
      while (got.length < 2) await sleep(5);
      assert.deepEqual(
        got.map((m) => [m.content, m.channel.isDMBased(), m.guildId, m.author.id]),
        [
          ['hello in private', true, null, discord.fixtures.user],
          [`<@${discord.bot.id}> hello in public`, false, discord.fixtures.guild, discord.fixtures.user],
        ],
      );
      assert.ok(got[1].mentions.users.has(discord.bot.id));
      await got[0].reply({ content: 'private answer', allowedMentions: { parse: [], repliedUser: false } });
      await (got[1].channel as TextChannel).send({ content: 'public answer', allowedMentions: { parse: [] } });
      await (got[1].channel as TextChannel).sendTyping();
      assert.deepEqual(discord.channel(discord.fixtures.dm).map((m) => [m.fromBot, m.content, m.replyTo]), [
        [false, 'hello in private', undefined],
        [true, 'private answer', got[0].id],
      ]);
      assert.deepEqual(discord.channel(discord.fixtures.channel).map((m) => [m.fromBot, m.content]), [
        [false, `<@${discord.bot.id}> hello in public`],
        [true, 'public answer'],
      ]);
      assert.equal(discord.typing(discord.fixtures.channel).length, 1);
      assert.deepEqual(discord.mentionsPinged, []);

      const updates: Array<[string | null, string]> = [];
      client.on(Events.MessageUpdate, (before, after) => updates.push([before.content, after.content ?? '']));
      discord.deliver(discord.make.edited(String(mention.id), `<@${discord.bot.id}> hello, edited`));
      while (!updates.length) await sleep(5);
      assert.deepEqual(updates, [[`<@${discord.bot.id}> hello in public`, `<@${discord.bot.id}> hello, edited`]]);
      assert.equal(discord.message(discord.fixtures.channel, String(mention.id))?.edits, 1);
    });

    it('emits the bot’s own messages back (echo), which a bot filter has to drop', async () => {
      const client = await login();
      const own: string[] = [];
      client.on(Events.MessageCreate, (m) => {
        if (m.author.id === client.user?.id) own.push(m.content);
      });
      const ch = client.channels.cache.get(discord.fixtures.channel) as TextChannel;
      await ch.send({ content: 'my own words', allowedMentions: { parse: [] } });
      while (!own.length) await sleep(5);
      assert.deepEqual(own, ['my own words']);
    });

    it('drops a message in a thread it never heard of, even with Partials.Channel; THREAD_CREATE fixes it', async () => {
      const client = await login();
      const got: string[] = [];
      client.on(Events.MessageCreate, (m) => got.push(`${m.channel.isThread() ? 'thread' : 'channel'}:${m.content}`));
      const thread = discord.make.thread('late-thread');
      discord.deliver(discord.make.guildMessage('lost in an unknown thread', { channel: String(thread.id) }));
      discord.deliver(discord.make.threadMessage('in the known thread'));
      await sleep(100);
      assert.deepEqual(got, ['thread:in the known thread']);
      discord.deliver(thread);
      discord.deliver(discord.make.guildMessage('after THREAD_CREATE', { channel: String(thread.id) }));
      while (got.length < 2) await sleep(5);
      assert.equal(got[1], 'thread:after THREAD_CREATE');
      const t = client.channels.cache.get(String(thread.id));
      assert.equal(t?.isThread() && t.parentId, discord.fixtures.channel);
    });

    it('without MESSAGE_CONTENT, guild text arrives empty unless it mentions the bot (DMs keep it)', async () => {
      const client = await login([GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages]);
      const got: string[] = [];
      client.on(Events.MessageCreate, (m) => got.push(`${m.channel.isDMBased() ? 'dm' : 'guild'}:${m.content}:${m.attachments.size}`));
      discord.deliver(discord.make.guildMessage('hidden', { attachments: 1 }));
      discord.deliver(discord.make.mention('visible', { attachments: 1 }));
      discord.deliver(discord.make.dm('private', { attachments: 1 }));
      while (got.length < 3) await sleep(5);
      assert.deepEqual(got, ['guild::0', `guild:<@${discord.bot.id}> visible:1`, 'dm:private:1']);
    });

    it('message.reply without allowedMentions pings the replied user; the client-wide allowedMentions stops every ping', async () => {
      const loose = await login();
      const q = discord.make.mention('a question');
      discord.deliver(q);
      const ch = loose.channels.cache.get(discord.fixtures.channel) as TextChannel;
      while (!ch.messages.cache.has(String(q.id))) await sleep(5);
      await ch.messages.cache.get(String(q.id))?.reply('an answer with @everyone in it');
      assert.deepEqual(discord.mentionsPinged.map((p) => p.pinged), [[{ kind: 'everyone' }, { kind: 'replied_user', id: discord.fixtures.user }]]);
      const body = discord.sent.at(-1)?.body as Record<string, unknown>;
      assert.deepEqual([body.content, body.allowed_mentions, body.message_reference], ['an answer with @everyone in it', undefined, { message_id: q.id, fail_if_not_exists: true }]);

      await loose.destroy();
      const strict = await login(ALL, { allowedMentions: { parse: [], repliedUser: false } });
      const ch2 = strict.channels.cache.get(discord.fixtures.channel) as TextChannel;
      const msg = await ch2.send(`@everyone <@&${discord.fixtures.role}> <@${discord.fixtures.otherUser}>`);
      await msg.reply('and a reply');
      await msg.edit('edited @here');
      assert.equal(discord.mentionsPinged.length, 1, 'nothing more pinged');
      assert.deepEqual((discord.sent.at(-1)?.body as { allowed_mentions: unknown }).allowed_mentions, { parse: [], replied_user: false });
    });

    it('sends files (AttachmentBuilder) as multipart files[0] with payload_json', async () => {
      const client = await login();
      const ch = client.channels.cache.get(discord.fixtures.channel) as TextChannel;
      const m = await ch.send({ content: 'report', files: [new AttachmentBuilder(Buffer.from('a,b\n1,2\n'), { name: 'report.csv', description: 'numbers' })], allowedMentions: { parse: [] } });
      const call = discord.sent.at(-1);
      assert.deepEqual([call?.files.length, call?.files[0].field, call?.files[0].filename], [1, 'files[0]', 'report.csv']);
      assert.deepEqual(discord.channel(discord.fixtures.channel)[0].attachments.map((a) => [a.filename, a.size, a.description]), [['report.csv', 8, 'numbers']]);
      assert.equal(await (await fetch(String(m.attachments.first()?.url))).text(), 'a,b\n1,2\n');
    });

    it('retries a 429 after its Retry-After header (route or global), never reading the JSON retry_after', async () => {
      const client = await login();
      const ch = client.channels.cache.get(discord.fixtures.channel) as TextChannel;
      discord.inject.failNext('createMessage', 1, { status: 429, retryAfter: 0.3 });
      let t = Date.now();
      await ch.send({ content: 'after a 429', allowedMentions: { parse: [] } });
      assert.ok(Date.now() - t >= 300, `waited ${Date.now() - t} ms`);
      discord.inject.failNext('createMessage', 1, { status: 429, retryAfter: 0.2, global: true });
      t = Date.now();
      await ch.send({ content: 'after a global 429', allowedMentions: { parse: [] } });
      assert.ok(Date.now() - t >= 200);
      // Retry-After 0 with a JSON retry_after of 1 s: retried after ~50 ms (the offset), JSON ignored.
      discord.inject.failNext('createMessage', 2, { status: 429, retryAfter: 0, body: { message: 'You are being rate limited.', retry_after: 1, global: false } });
      t = Date.now();
      await ch.send({ content: 'after two header-less 429s', allowedMentions: { parse: [] } });
      assert.ok(Date.now() - t < 800, `took ${Date.now() - t} ms`);
      assert.deepEqual(
        discord.sent.filter((c) => c.op === 'createMessage').map((c) => c.status),
        [429, 200, 429, 200, 429, 429, 200],
      );
      assert.equal(discord.channel(discord.fixtures.channel).length, 3, 'nothing doubled');
    });

    it('retries a 5xx at once, three times, then throws an HTTPError', async () => {
      const client = await login();
      const ch = client.channels.cache.get(discord.fixtures.channel) as TextChannel;
      discord.inject.failNext('createMessage', 3, { status: 502 });
      await ch.send({ content: 'third time lucky', allowedMentions: { parse: [] } });
      discord.inject.failNext('createMessage', 4, { status: 500 });
      await assert.rejects(ch.send({ content: 'never', allowedMentions: { parse: [] } }), (e: unknown) => e instanceof HTTPError && e.status === 500);
      assert.deepEqual(
        discord.sent.filter((c) => c.op === 'createMessage').map((c) => c.status),
        [502, 502, 502, 200, 500, 500, 500, 500],
      );
    });

    it('retries ECONNRESET (a lost response posts twice unless enforceNonce) but not a clean close', async () => {
      const client = await login();
      const ch = client.channels.cache.get(discord.fixtures.channel) as TextChannel;
      discord.inject.loseResponses(1, 'createMessage', { reset: true });
      await ch.send({ content: 'doubled', allowedMentions: { parse: [] } });
      assert.equal(discord.channel(discord.fixtures.channel).filter((m) => m.content === 'doubled').length, 2, 'discord.js posted it again');
      discord.inject.loseResponses(1, 'createMessage', { reset: true });
      await ch.send({ content: 'once', nonce: '8230000000000000001', enforceNonce: true, allowedMentions: { parse: [] } });
      assert.equal(discord.channel(discord.fixtures.channel).filter((m) => m.content === 'once').length, 1, 'Discord returned the first one');
      discord.inject.dropConnections(1, 'createMessage');
      await assert.rejects(ch.send({ content: 'cut', allowedMentions: { parse: [] } }), /other side closed/);
      assert.deepEqual(
        discord.sent.filter((c) => c.op === 'createMessage').map((c) => c.outcome),
        ['lost', 'ok', 'lost', 'ok', 'dropped'],
      );
    });

    it('paces itself by X-RateLimit-*: a burst to two channels gets no 429, keeps per-channel order, and the channels do not wait on each other', async () => {
      const client = await login();
      const a = client.channels.cache.get(discord.fixtures.channel) as TextChannel;
      const b = client.channels.cache.get(discord.fixtures.otherChannel) as TextChannel;
      const t = Date.now();
      await Promise.all([...Array.from({ length: 15 }, (_, i) => a.send({ content: `a${i}`, allowedMentions: { parse: [] } })), ...Array.from({ length: 15 }, (_, i) => b.send({ content: `b${i}`, allowedMentions: { parse: [] } }))]);
      const took = Date.now() - t;
      assert.ok(took >= 900 && took < 2500, `took ${took} ms for two buckets of 10/s in parallel`);
      assert.equal(discord.stats.rateLimited, 0);
      assert.deepEqual(discord.channel(discord.fixtures.channel).map((m) => m.content), Array.from({ length: 15 }, (_, i) => `a${i}`));
      assert.deepEqual(discord.channel(discord.fixtures.otherChannel).map((m) => m.content), Array.from({ length: 15 }, (_, i) => `b${i}`));
    });

    it('a 401 on any REST call wipes the client’s token: every later call fails without reaching Discord', async () => {
      const client = await login();
      const ch = client.channels.cache.get(discord.fixtures.channel) as TextChannel;
      discord.inject.revokeToken({ only: 'rest' });
      await assert.rejects(ch.send('x'), (e: { status?: number; code?: number }) => e.status === 401 && e.code === 0);
      discord.inject.reset();
      const calls = discord.sent.length;
      await assert.rejects(ch.send('y'), /Expected token to be set/);
      assert.equal(discord.sent.length, calls);
    });

    it('a zombie connection (no ACK) closes 4200 and RESUMEs; the replay: a cached user message is dropped, the bot’s own message and the interaction come again', async () => {
      const client = await login();
      const messages: string[] = [];
      const interactions: string[] = [];
      client.on(Events.MessageCreate, (m) => messages.push(`${m.author.bot ? 'bot' : 'user'}:${m.content}`));
      client.on(Events.InteractionCreate, (i) => interactions.push(i.id));
      const user = discord.make.mention('handled once');
      discord.deliver(user);
      const cmd = discord.make.slashCommand('ask');
      discord.deliver(cmd);
      await (client.channels.cache.get(discord.fixtures.channel) as TextChannel).send({ content: 'bot said', allowedMentions: { parse: [] } });
      while (messages.length < 2 || !interactions.length) await sleep(5);
      discord.inject.zombie();
      discord.deliver(discord.make.mention('sent while deaf'));
      await discord.waitForSockets((s) => s.resumes === 1, 5000);
      while (!messages.some((m) => m.endsWith('sent while deaf'))) await sleep(5);
      assert.deepEqual(discord.closes.map((c) => [c.code, c.by, c.reason]), [[4200, 'client', 'Zombie connection']]);
      assert.deepEqual(messages, [`user:<@${discord.bot.id}> handled once`, 'bot:bot said', 'bot:bot said', `user:<@${discord.bot.id}> sent while deaf`]);
      assert.deepEqual(interactions, [cmd.id, cmd.id], 'discord.js emits a replayed interaction again: de-duplicate by id');
      assert.deepEqual(discord.resumes[0].replayed.map((r) => [r.t, r.alreadyDelivered]), [
        ['MESSAGE_CREATE', true],
        ['INTERACTION_CREATE', true],
        ['MESSAGE_CREATE', true],
        ['MESSAGE_CREATE', false],
      ]);
      assert.deepEqual([discord.stats.identifies, discord.stats.openSockets], [1, 1]);
    });

    it('resumes (no new IDENTIFY) after a 4000 or 1006 close, op 7 RECONNECT and op 9 INVALID_SESSION(true)', async () => {
      const client = await login();
      const seen: string[] = [];
      client.on(Events.MessageCreate, (m) => seen.push(m.content));
      const steps: Array<() => void> = [() => discord.inject.closeGateway(4000), () => discord.inject.closeGateway(1006), () => discord.inject.reconnect(), () => discord.inject.invalidSession(true)];
      for (const [i, step] of steps.entries()) {
        step();
        discord.deliver(discord.make.guildMessage(`after step ${i}`));
        await discord.waitForSockets((s) => s.resumes === i + 1, 3000);
        while (!seen.includes(`after step ${i}`)) await sleep(5);
      }
      assert.equal(discord.stats.identifies, 1);
      assert.deepEqual(discord.closes.map((c) => `${c.code}/${c.by}`), ['4000/server', '1006/server', '4200/client']);
      assert.equal(discord.sent.filter((c) => c.op === 'getGatewayBot').length, 1, 'gateway/bot is cached');
      assert.deepEqual(discord.resumes.map((r) => r.path), ['/resume', '/resume', '/resume', '/resume']);
    });

    it('4004 makes login reject at once and never retries; a token REST refuses rejects before any gateway connection', async () => {
      discord.inject.revokeToken({ only: 'gateway' });
      const client = new Client({ intents: ALL, partials: [Partials.Channel], rest: { api: discord.apiUrl } });
      clients.push(client);
      const disconnects: number[] = [];
      client.on(Events.ShardDisconnect, (e) => disconnects.push(e.code));
      client.on(Events.ShardError, () => undefined);
      await assert.rejects(client.login(discord.token), /Authentication failed/);
      await sleep(700);
      assert.deepEqual([discord.stats.connections, discord.stats.identifies, disconnects], [1, 1, [4004]]);

      discord.inject.reset();
      const wrong = new Client({ intents: ALL, rest: { api: discord.apiUrl } });
      clients.push(wrong);
      await assert.rejects(wrong.login('MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.wrongwrongwrongwrongwrongwrongwrongwrong'), (e: { code?: string }) => e.code === 'TokenInvalid');
      assert.equal(discord.stats.connections, 1, 'no gateway connection for a token REST refused');
    });

    it('4014 (a privileged intent the portal did not allow) makes login reject, no retry', async () => {
      const client = new Client({ intents: [...ALL, GatewayIntentBits.GuildMembers], rest: { api: discord.apiUrl } });
      clients.push(client);
      client.on(Events.ShardError, () => undefined);
      await assert.rejects(client.login(discord.token), /Used disallowed intents/);
      await sleep(700);
      assert.deepEqual([discord.stats.identifies, discord.identifies[0].refused], [1, 4014]);
    });

    it('client.destroy() closes the socket (openSockets 0) and ends the session', async () => {
      const client = await login();
      assert.equal(discord.stats.openSockets, 1);
      await client.destroy();
      await discord.waitForSockets((s) => s.openSockets === 0);
      assert.deepEqual(discord.closes.map((c) => [c.code, c.by]), [[1000, 'client']]);
      assert.equal(discord.sessions()[0].resumable, false);
      assert.equal(discord.deliver(discord.make.dm('nobody home')).sessions.length, 0);
    });

    it('answers interactions: deferReply(ephemeral) → editReply → followUp, buttons with deferUpdate, reply withResponse in a DM', async () => {
      const client = await login();
      const errors: string[] = [];
      client.on(Events.InteractionCreate, async (i: Interaction) => {
        try {
          if (i.isChatInputCommand() && i.inGuild()) {
            await i.deferReply({ flags: MessageFlags.Ephemeral });
            await i.editReply(`you asked: ${i.options.getString('prompt')}`);
            await i.followUp({ content: 'part two', flags: MessageFlags.Ephemeral });
            const row = new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId('more').setLabel('More').setStyle(ButtonStyle.Primary));
            await i.followUp({ content: 'want more?', components: [row] });
          } else if (i.isChatInputCommand()) {
            const r = await i.reply({ content: 'straight answer', withResponse: true });
            assert.equal(r.resource?.message?.content, 'straight answer');
          } else if (i.isButton()) {
            await i.deferUpdate();
            await i.editReply({ content: 'here is more', components: [] });
          }
        } catch (err) {
          errors.push((err as Error).message);
        }
      });
      const cmd = discord.make.slashCommand('ask', { options: { prompt: 'why' } });
      discord.deliver(cmd);
      await discord.waitForMessage(discord.fixtures.channel, (m) => m.content === 'want more?');
      assert.deepEqual(discord.channel(discord.fixtures.channel).map((m) => [m.content, m.ephemeral, m.interaction?.original]), [
        ['you asked: why', true, true],
        ['part two', true, false],
        ['want more?', false, false],
      ]);
      assert.ok((discord.interaction(String(cmd.id))?.response?.ms ?? 9999) < 500, 'deferred well inside 3 s');
      assert.ok(discord.sent.filter((c) => c.op === 'interactionCallback' || c.op === 'editOriginal' || c.op === 'followup').every((c) => c.auth === 'none'));
      discord.deliver(discord.make.component('more'));
      await discord.waitForMessage(discord.fixtures.channel, (m) => m.content === 'here is more');
      discord.deliver(discord.make.slashCommand('ask', { dm: true }));
      await discord.waitForMessage(discord.fixtures.dm, (m) => m.content === 'straight answer');
      assert.deepEqual(errors, []);
      assert.deepEqual(discord.interactions.map((i) => [i.type, i.response?.type, i.via]), [
        [2, 5, 'gateway'],
        [3, 6, 'gateway'],
        [2, 4, 'gateway'],
      ]);
    });

    it('registers commands through client.application.commands: create() leaves the foreign one, set() overwrites it (recorded)', async () => {
      const client = await login();
      await client.application?.commands.create({ name: 'ask', description: 'Ask the agent', options: [{ name: 'prompt', description: 'Your question', type: 3, required: true }] });
      assert.deepEqual(discord.commands().map((c) => c.name), ['foreign', 'ask']);
      assert.equal(discord.commandOverwrites.length, 0);
      await client.application?.commands.set([{ name: 'ask', description: 'Ask the agent' }]);
      assert.deepEqual(discord.commandOverwrites.map((o) => o.removed), [['foreign']], 'set() is a PUT: it wiped the foreign command');
      await client.application?.commands.create({ name: 'local', description: 'Guild only' }, discord.fixtures.guild);
      assert.deepEqual(discord.commands(discord.fixtures.guild).map((c) => c.name), ['local']);
      const app = await client.application?.fetch();
      assert.equal(app?.id, discord.applicationId);
    });
  });
});
