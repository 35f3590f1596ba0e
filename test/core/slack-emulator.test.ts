/**
 * The Slack emulator itself, driven by plain HTTP/WebSocket clients and by the real @slack/web-api,
 * @slack/socket-mode and @slack/bolt: if it drifts from Slack's wire protocol, every Slack node
 * test built on it would prove the wrong thing.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, ExpressReceiver, LogLevel, SocketModeReceiver } from '@slack/bolt';
import { ErrorCode, WebClient, type Logger } from '@slack/web-api';
import WebSocket from 'ws';
import { checkMrkdwn, mrkdwnToText, startSlackServer, type SlackServer } from '../emulators/slack-server';
import { takeUnhandled } from '../helpers/fail-on-unhandled';

const BOT = 'xoxb-1111-2222-emulatortoken';
const APP = 'xapp-1-A0EM0000001-3333-emulatorapptoken';
const SECRET = 'emulator-signing-secret';

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

async function api(slack: SlackServer, method: string, body: Record<string, unknown>, opts: { json?: boolean; token?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let payload: string;
  if (opts.json) {
    headers['content-type'] = opts.contentType ?? 'application/json; charset=utf-8';
    payload = JSON.stringify(body);
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(Object.entries(body).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString();
  }
  const res = await fetch(`${slack.apiUrl}${method}`, { method: 'POST', headers, body: payload });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: (text.startsWith('{') ? JSON.parse(text) : undefined) as Record<string, unknown> | undefined };
}

function client(slack: SlackServer, extra: ConstructorParameters<typeof WebClient>[1] = {}): WebClient {
  return new WebClient(BOT, { slackApiUrl: slack.apiUrl, logger: silent, retryConfig: { retries: 0 }, ...extra });
}

async function rejects(p: Promise<unknown>): Promise<Error & { code?: string; data?: Record<string, unknown>; statusCode?: number; retryAfter?: number }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** A raw Socket Mode client: connects through apps.connections.open and collects frames. */
async function rawSocket(slack: SlackServer): Promise<{ ws: WebSocket; frames: Array<Record<string, unknown>>; next(type?: string, ms?: number): Promise<Record<string, unknown>> }> {
  const open = await api(slack, 'apps.connections.open', {}, { token: APP });
  assert.equal(open.json?.ok, true);
  const ws = new WebSocket(String(open.json?.url));
  const frames: Array<Record<string, unknown>> = [];
  const waiters: Array<{ type?: string; resolve: (f: Record<string, unknown>) => void }> = [];
  let seen = 0;
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as Record<string, unknown>;
    frames.push(f);
    const i = waiters.findIndex((w) => !w.type || w.type === f.type);
    if (i >= 0) {
      seen = frames.length;
      waiters.splice(i, 1)[0].resolve(f);
    }
  });
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return {
    ws,
    frames,
    next(type, ms = 2000) {
      const found = frames.slice(seen).find((f) => !type || f.type === type);
      if (found) {
        seen = frames.indexOf(found) + 1;
        return Promise.resolve(found);
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${type ?? 'frame'} within ${ms} ms`)), ms);
        waiters.push({ type, resolve: (f) => (clearTimeout(t), resolve(f)) });
      });
    },
  };
}

const closeWs = (ws: WebSocket): Promise<void> =>
  new Promise((r) => {
    if (ws.readyState === WebSocket.CLOSED) return r();
    ws.once('close', () => r());
    ws.close();
  });

describe('slack emulator', () => {
  let slack: SlackServer;
  const sockets: WebSocket[] = [];

  beforeEach(async () => {
    slack = await startSlackServer({ botToken: BOT, appToken: APP, signingSecret: SECRET, ackTimeoutMs: 150 });
  });
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await slack.close();
  });

  describe('Web API', () => {
    it('takes form and JSON bodies, the token as a bearer header or a form field, and always answers HTTP 200 JSON', async () => {
      const form = await api(slack, 'auth.test', { token: BOT });
      assert.equal(form.status, 200);
      assert.deepEqual(
        { ok: form.json?.ok, user_id: form.json?.user_id, team_id: form.json?.team_id, bot_id: form.json?.bot_id, url: form.json?.url },
        { ok: true, user_id: slack.bot.userId, team_id: slack.team.id, bot_id: slack.bot.botId, url: 'https://emulated.slack.com/' },
      );
      const json = await api(slack, 'chat.postMessage', { channel: slack.fixtures.channel, text: 'hello' }, { json: true, token: BOT });
      assert.equal(json.json?.ok, true);
      assert.match(String(json.json?.ts), /^\d{10}\.\d{6}$/);
      assert.equal((json.json?.message as { bot_id: string }).bot_id, slack.bot.botId);
      assert.equal(json.json?.warning, undefined);
      const noCharset = await api(slack, 'chat.postMessage', { channel: slack.fixtures.channel, text: 'again' }, { json: true, token: BOT, contentType: 'application/json' });
      assert.equal(noCharset.json?.warning, 'missing_charset');

      // A JSON body cannot carry the token; neither can nothing.
      assert.equal((await api(slack, 'auth.test', { token: BOT }, { json: true })).json?.error, 'not_authed');
      assert.equal((await api(slack, 'auth.test', {})).json?.error, 'not_authed');
      const wrong = await api(slack, 'auth.test', {}, { token: 'xoxb-wrong' });
      assert.deepEqual([wrong.status, wrong.json?.ok, wrong.json?.error], [200, false, 'invalid_auth']);
      assert.equal((await api(slack, 'chat.postMessage', { channel: slack.fixtures.channel, text: 'x' }, { token: APP })).json?.error, 'not_allowed_token_type');
      assert.equal((await api(slack, 'apps.connections.open', {}, { token: BOT })).json?.error, 'not_allowed_token_type');
      assert.equal((await api(slack, 'no.such.method', {}, { token: BOT })).json?.error, 'unknown_method');

      assert.deepEqual(
        slack.channel(slack.fixtures.channel).map((m) => [m.fromBot, m.text]),
        [
          [true, 'hello'],
          [true, 'again'],
        ],
      );
      assert.deepEqual(
        slack.sent.map((c) => [c.method, c.contentType, c.token, c.ok]),
        [
          ['auth.test', 'form', 'bot', true],
          ['chat.postMessage', 'json', 'bot', true],
          ['chat.postMessage', 'json', 'bot', true],
          ['auth.test', 'json', 'none', false],
          ['auth.test', 'query', 'none', false],
          ['auth.test', 'query', 'other', false],
          ['chat.postMessage', 'form', 'app', false],
          ['apps.connections.open', 'query', 'bot', false],
          ['no.such.method', 'query', 'bot', false],
        ],
      );
    });

    it('posts, threads, updates and deletes through the real WebClient, with Slack limits and errors', async () => {
      const web = client(slack);
      const ch = slack.fixtures.channel;
      const parent = await web.chat.postMessage({ channel: ch, text: 'parent *bold*', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'parent *bold*' } }] });
      assert.equal(parent.ok, true);
      const reply = await web.chat.postMessage({ channel: ch, text: 'a reply', thread_ts: parent.ts as string, reply_broadcast: true });
      assert.equal(reply.message?.thread_ts, parent.ts);
      const updated = await web.chat.update({ channel: ch, ts: reply.ts as string, text: 'the reply, edited' });
      assert.equal(updated.text, 'the reply, edited');

      // chat.update counts bytes (4,000); chat.postMessage counts characters (40,000).
      const e1 = await rejects(web.chat.update({ channel: ch, ts: reply.ts as string, text: 'é'.repeat(2001) }));
      assert.equal(e1.code, ErrorCode.PlatformError);
      assert.equal(e1.data?.error, 'msg_too_long');
      await web.chat.update({ channel: ch, ts: reply.ts as string, text: 'a'.repeat(4000) });
      assert.equal((await rejects(web.chat.postMessage({ channel: ch, text: 'x'.repeat(40001) }))).data?.error, 'msg_too_long');
      await web.chat.postMessage({ channel: ch, text: 'x'.repeat(40000) });
      assert.equal((await rejects(web.chat.postMessage({ channel: ch, text: '' }))).data?.error, 'no_text');
      assert.equal((await rejects(web.chat.postMessage({ channel: 'C0NOSUCH001', text: 'x' }))).data?.error, 'channel_not_found');
      assert.equal((await rejects(web.chat.update({ channel: ch, ts: '1.000001', text: 'x' }))).data?.error, 'message_not_found');
      const blocks = await rejects(web.chat.postMessage({ channel: ch, text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(3001) } }] }));
      assert.equal(blocks.data?.error, 'invalid_blocks');
      assert.match(String((blocks.data?.errors as string[])[0]), /must be less than 3001 characters/);
      assert.equal((await rejects(web.chat.postMessage({ channel: ch, text: 'x', markdown_text: '**x**' } as never))).data?.error, 'markdown_text_conflict');

      // A user's message cannot be edited by the bot.
      const user = slack.make.channelMessage('from alice');
      slack.deliver(user);
      assert.equal((await rejects(web.chat.update({ channel: ch, ts: String(user.ts), text: 'x' }))).data?.error, 'cant_update_message');

      await web.reactions.add({ channel: ch, timestamp: parent.ts as string, name: 'eyes' });
      assert.equal((await rejects(web.reactions.add({ channel: ch, timestamp: parent.ts as string, name: 'eyes' }))).data?.error, 'already_reacted');
      await web.chat.delete({ channel: ch, ts: parent.ts as string });

      const visible = slack.channel(ch);
      assert.equal(slack.message(ch, parent.ts as string), undefined);
      const shownReply = visible.find((m) => m.ts === reply.ts);
      assert.equal(shownReply?.text, 'a'.repeat(4000));
      assert.equal(shownReply?.edits, 2);
      assert.equal(shownReply?.reply_broadcast, true);
      assert.deepEqual(slack.thread(ch, parent.ts as string).map((m) => m.ts), [reply.ts]);

      // conversations.info / users.info / a post to a user id lands in the DM.
      const info = await web.conversations.info({ channel: slack.fixtures.dm });
      assert.deepEqual([info.channel?.is_im, (info.channel as { user?: string }).user], [true, slack.fixtures.user]);
      const u = await web.users.info({ user: slack.fixtures.user });
      assert.equal(u.user?.name, 'alice');
      assert.equal((await rejects(web.users.info({ user: 'U0NOSUCH001' }))).data?.error, 'user_not_found');
      const toUser = await web.chat.postMessage({ channel: slack.fixtures.user, text: 'psst' });
      assert.equal(toUser.channel, slack.fixtures.dm);
      const eph = await web.chat.postEphemeral({ channel: ch, user: slack.fixtures.user, text: 'only you' });
      assert.ok(eph.message_ts);
      assert.deepEqual(slack.ephemeral(ch).map((e) => [e.user, e.text]), [[slack.fixtures.user, 'only you']]);
    });

    it('answers missing_scope with needed and provided, and invalid_auth once the token is revoked', async () => {
      await slack.close();
      slack = await startSlackServer({ botToken: BOT, appToken: APP, signingSecret: SECRET, scopes: ['channels:read', 'users:read'] });
      const web = client(slack);
      const err = await rejects(web.chat.postMessage({ channel: slack.fixtures.channel, text: 'x' }));
      assert.deepEqual([err.data?.error, err.data?.needed, err.data?.provided], ['missing_scope', 'chat:write', 'channels:read,users:read']);
      const ok = await web.users.info({ user: slack.fixtures.user });
      assert.deepEqual(ok.response_metadata?.scopes, ['channels:read', 'users:read']);
      slack.inject.revokeToken();
      assert.equal((await rejects(web.users.info({ user: slack.fixtures.user }))).data?.error, 'invalid_auth');
      assert.equal((await api(slack, 'apps.connections.open', {}, { token: APP })).json?.error, 'invalid_auth');
      slack.inject.reset();
      assert.equal((await web.auth.test()).ok, true);
    });

    it('answers 429 with Retry-After: the web client waits it out, and a rate-limited send is never visible', async () => {
      slack.inject.failNext('chat.postMessage', 1, { error: 'ratelimited', status: 429, retryAfter: 1 });
      const raw = await api(slack, 'chat.postMessage', { channel: slack.fixtures.channel, text: 'x' }, { token: BOT });
      assert.deepEqual([raw.status, raw.headers.get('retry-after'), raw.json], [429, '1', { ok: false, error: 'ratelimited' }]);

      // rejectRateLimitedCalls gives retryAfter; the default waits Retry-After and sends again.
      slack.inject.failNext('chat.postMessage', 1, { error: 'ratelimited', status: 429, retryAfter: 1 });
      const limited = await rejects(client(slack, { rejectRateLimitedCalls: true }).chat.postMessage({ channel: slack.fixtures.channel, text: 'x' }));
      assert.deepEqual([limited.code, limited.retryAfter], [ErrorCode.RateLimitedError, 1]);

      slack.inject.failNext('chat.postMessage', 1, { error: 'ratelimited', status: 429, retryAfter: 1 });
      const started = Date.now();
      const posted = await client(slack, { retryConfig: { retries: 2, minTimeout: 10, maxTimeout: 20 } }).chat.postMessage({ channel: slack.fixtures.channel, text: 'after the wait' });
      assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`);
      assert.equal(posted.ok, true);
      assert.deepEqual(
        slack.channel(slack.fixtures.channel).map((m) => m.text),
        ['after the wait'],
      );
      assert.deepEqual(
        slack.sent.map((c) => [c.status, c.outcome]),
        [
          [429, 'error'],
          [429, 'error'],
          [429, 'error'],
          [200, 'ok'],
        ],
      );
    });

    it('answers 5xx with an HTML or empty body and drops connections without applying them; a lost response was applied', async () => {
      const web = client(slack);
      slack.inject.failNext('chat.postMessage', 1, { status: 503 });
      const e503 = await rejects(web.chat.postMessage({ channel: slack.fixtures.channel, text: 'a' }));
      assert.deepEqual([e503.code, e503.statusCode], [ErrorCode.HTTPError, 503]);
      assert.match(String((e503 as unknown as { body: string }).body), /<html/);
      slack.inject.failNext('*', 1, { status: 500, body: '' });
      assert.equal((await rejects(web.chat.postMessage({ channel: slack.fixtures.channel, text: 'b' }))).statusCode, 500);
      slack.inject.dropConnections(1, 'chat.postMessage');
      assert.equal((await rejects(web.chat.postMessage({ channel: slack.fixtures.channel, text: 'c' }))).code, ErrorCode.RequestError);
      assert.deepEqual(slack.channel(slack.fixtures.channel), []);

      slack.inject.loseResponses(1, 'chat.postMessage');
      assert.equal((await rejects(web.chat.postMessage({ channel: slack.fixtures.channel, text: 'd' }))).code, ErrorCode.RequestError);
      assert.deepEqual(slack.channel(slack.fixtures.channel).map((m) => m.text), ['d']);
      assert.deepEqual(slack.sent.map((c) => c.outcome), ['error', 'error', 'dropped', 'lost']);

      slack.inject.delayNext('auth.test', 1, 200);
      const t0 = Date.now();
      await web.auth.test();
      assert.ok(Date.now() - t0 >= 190);
    });

    it('streams natively: a stream is a thread reply, needs a recipient in channels, and cannot be updated while streaming', async () => {
      const web = client(slack);
      const question = slack.make.dm('explain');
      slack.deliver(question);
      const streamer = web.chatStream({ channel: slack.fixtures.dm, thread_ts: String(question.ts), buffer_size: 1 });
      await streamer.append({ markdown_text: 'Hello ' });
      const ts = streamer.ts as string;
      const live = slack.message(slack.fixtures.dm, ts);
      assert.deepEqual([live?.streaming, live?.text, live?.thread_ts, live?.markdown], ['in_progress', 'Hello ', question.ts, true]);
      assert.equal((await rejects(web.chat.update({ channel: slack.fixtures.dm, ts, text: 'x' }))).data?.error, 'streaming_state_conflict');
      await streamer.append({ markdown_text: '**world**' });
      await streamer.stop();
      assert.deepEqual([live?.streaming, live?.text], ['completed', 'Hello **world**']);
      // web-api sends every piece as chunks, never as a markdown_text field.
      const calls = slack.sent.filter((c) => c.method.endsWith('Stream'));
      assert.deepEqual(
        calls.map((c) => [c.method, typeof c.params.chunks, c.params.markdown_text]),
        [
          ['chat.startStream', 'string', undefined],
          ['chat.appendStream', 'string', undefined],
          ['chat.stopStream', 'string', undefined],
        ],
      );
      assert.deepEqual(JSON.parse(String(calls[0].params.chunks)), [{ type: 'markdown_text', text: 'Hello ' }]);
      assert.equal((await rejects(web.chat.appendStream({ channel: slack.fixtures.dm, ts, markdown_text: 'more' }))).data?.error, 'message_not_in_streaming_state');
      await web.chat.update({ channel: slack.fixtures.dm, ts, text: 'now editable' });

      const ch = slack.fixtures.channel;
      assert.equal((await rejects(web.chat.startStream({ channel: ch, thread_ts: String(question.ts) }))).data?.error, 'missing_recipient_user_id');
      assert.equal((await rejects(web.chat.startStream({ channel: ch, thread_ts: String(question.ts), recipient_user_id: slack.fixtures.user }))).data?.error, 'missing_recipient_team_id');
      assert.equal((await rejects(web.chat.startStream({ channel: slack.fixtures.dm } as never))).data?.error, 'invalid_arguments');
      const s2 = await web.chat.startStream({ channel: ch, thread_ts: String(question.ts), recipient_user_id: slack.fixtures.user, recipient_team_id: slack.team.id, markdown_text: 'a' });
      assert.equal((await rejects(web.chat.appendStream({ channel: ch, ts: s2.ts as string, chunks: [{ type: 'markdown_text', text: 'b' }] }))).data?.error, 'streaming_mode_mismatch');
      assert.equal((await rejects(web.chat.appendStream({ channel: ch, ts: s2.ts as string } as never))).data?.error, 'markdown_text_or_chunks_required');
    });

    it('keeps assistant thread status, prompts and title; the bot reply clears the status', async () => {
      const web = client(slack);
      const started = slack.make.assistantThreadStarted();
      slack.deliver(started);
      const t = started.assistant_thread as { channel_id: string; thread_ts: string };
      await web.assistant.threads.setStatus({ channel_id: t.channel_id, thread_ts: t.thread_ts, status: 'is thinking...' });
      await web.assistant.threads.setSuggestedPrompts({ channel_id: t.channel_id, thread_ts: t.thread_ts, prompts: [{ title: 'Summarise', message: 'Summarise this channel' }] });
      await web.assistant.threads.setTitle({ channel_id: t.channel_id, thread_ts: t.thread_ts, title: 'Summaries' });
      let a = slack.assistantThread(t.channel_id, t.thread_ts);
      assert.deepEqual([a?.status, a?.title, a?.prompts?.[0].title, (a?.context as { channel_id: string }).channel_id], ['is thinking...', 'Summaries', 'Summarise', slack.fixtures.channel]);
      await web.chat.postMessage({ channel: t.channel_id, thread_ts: t.thread_ts, text: 'Here you go' });
      a = slack.assistantThread(t.channel_id, t.thread_ts);
      assert.deepEqual(a?.statusHistory, ['is thinking...', '']);
      assert.equal((await rejects(web.assistant.threads.setStatus({ channel_id: 'D0NOSUCH001', thread_ts: t.thread_ts, status: 'x' }))).data?.error, 'channel_not_found');
    });

    it('uploads through files.uploadV2 (getUploadURLExternal, the upload URL, completeUploadExternal) and serves files only with the bot token', async () => {
      const web = client(slack);
      const bytes = Buffer.from('%PDF-1.4 emulated report\n');
      const question = slack.make.dm('send me the report');
      slack.deliver(question);
      const res = await web.filesUploadV2({ channel_id: slack.fixtures.dm, thread_ts: String(question.ts), file: bytes, filename: 'report.pdf', initial_comment: 'Here it is' });
      assert.equal(res.ok, true);
      assert.deepEqual(
        slack.sent.map((c) => c.method),
        ['files.getUploadURLExternal', 'upload', 'files.completeUploadExternal'],
      );
      const shown = slack.thread(slack.fixtures.dm, String(question.ts)).find((m) => m.fromBot);
      assert.equal(shown?.text, 'Here it is');
      const file = shown?.files?.[0];
      assert.equal(file?.name, 'report.pdf');
      assert.deepEqual(slack.file(String(file?.id))?.data, bytes);
      const info = await web.files.info({ file: String(file?.id) });
      assert.equal(info.file?.size, bytes.length);

      // A file a user shared: url_private needs the bot token, or Slack answers its sign-in page.
      const share = slack.make.fileShare({ name: 'notes.txt', mimetype: 'text/plain', data: Buffer.from('user notes') });
      slack.deliver(share);
      const url = String((share.files as Array<{ url_private: string }>)[0].url_private);
      const authed = await fetch(url, { headers: { authorization: `Bearer ${BOT}` } });
      assert.deepEqual([authed.status, authed.headers.get('content-type'), await authed.text()], [200, 'text/plain', 'user notes']);
      const anon = await fetch(url);
      assert.equal(anon.status, 200);
      assert.match(String(anon.headers.get('content-type')), /text\/html/);
      assert.match(await anon.text(), /Sign in/);
      assert.deepEqual(slack.downloads.map((d) => d.authorized), [true, false]);
      assert.equal((await rejects(web.files.completeUploadExternal({ files: [{ id: 'F0NOSUCH001' }] }))).data?.error, 'file_not_found');
    });
  });

  describe('mrkdwn', () => {
    it('accepts escaped text, links, mentions and dates', () => {
      for (const ok of [
        'plain *bold* _it_ ~strike~ `code`',
        'a &amp; b &lt;c&gt;',
        'see <https://example.com/a?b=1&amp;c=2|the docs> or <https://example.com>',
        'mail <mailto:a@example.com|me>',
        'hi <@U0EM0000001> in <#C0EM0000001|general> and <#C0EM0000001>',
        'on <!date^1392734382^{date_short}|Feb 18, 2014>',
      ]) {
        assert.deepEqual(checkMrkdwn(ok), [], ok);
      }
    });

    it('flags unescaped <, > and &, broken tokens, and any live special mention', () => {
      assert.deepEqual(
        checkMrkdwn('1 < 2').map((f) => [f.problem, f.token]),
        [['unescaped', '<']],
      );
      assert.deepEqual(
        checkMrkdwn('a > b & c').map((f) => [f.problem, f.token, f.index]),
        [
          ['unescaped', '>', 2],
          ['unescaped', '&', 6],
        ],
      );
      assert.deepEqual(checkMrkdwn('<b>html</b>').map((f) => f.token), ['<b>', '</b>']);
      assert.deepEqual(checkMrkdwn('Tom &co;').map((f) => f.token), ['&']);
      for (const ping of ['<!channel>', '<!here>', '<!everyone>', '<!here|here>', '<!subteam^S0123ABCD|@team>']) {
        assert.deepEqual(checkMrkdwn(`hey ${ping}`).map((f) => f.problem), ['ping'], ping);
      }
      assert.deepEqual(checkMrkdwn('@here look'), []);
      assert.deepEqual(checkMrkdwn('@here look', { linkNames: true }).map((f) => [f.problem, f.token]), [['ping', '@here']]);
      // Standard Markdown (markdown_text, streams): `<` and `&` are plain, pings are still pings.
      assert.deepEqual(checkMrkdwn('1 < 2 & 3 <!channel>', { markdown: true }).map((f) => f.token), ['<!channel>']);
    });

    it('turns mrkdwn into what the user reads', () => {
      assert.equal(mrkdwnToText('see <https://x.example/a|the docs> &amp; <https://y.example> &lt;3'), 'see the docs & https://y.example <3');
      assert.equal(mrkdwnToText('<mailto:a@b.example> <@U1AB|alice> <@U2CD> <#C1|general> <!here>', { users: { U2CD: 'bob' } }), 'a@b.example @alice @bob #general @here');
      assert.equal(mrkdwnToText('*bold* stays'), '*bold* stays');
    });

    it('records every bad text the bot posts, and refuses it only when told to', async () => {
      const web = client(slack);
      await web.chat.postMessage({ channel: slack.fixtures.channel, text: 'x <!channel> & y', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'a < b' } }] });
      await web.chat.postMessage({ channel: slack.fixtures.channel, text: 'ping @everyone', link_names: true });
      assert.deepEqual(
        slack.mrkdwnErrors.map((e) => [e.method, e.field, e.problem, e.token]),
        [
          ['chat.postMessage', 'text', 'ping', '<!channel>'],
          ['chat.postMessage', 'text', 'unescaped', '&'],
          ['chat.postMessage', 'blocks[0].text.text', 'unescaped', '<'],
          ['chat.postMessage', 'text', 'ping', '@everyone'],
        ],
      );
      assert.equal(slack.channel(slack.fixtures.channel)[0].visibleText, 'x @channel & y');
      await slack.close();
      slack = await startSlackServer({ botToken: BOT, appToken: APP, signingSecret: SECRET, rejectBadMrkdwn: true });
      const strict = client(slack);
      assert.equal((await rejects(strict.chat.postMessage({ channel: slack.fixtures.channel, text: 'hi <!here>' }))).data?.error, 'invalid_mrkdwn');
      assert.equal((await rejects(strict.chat.postMessage({ channel: slack.fixtures.channel, text: 'ok', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '<b>' } }] }))).data?.error, 'invalid_blocks');
      assert.deepEqual(slack.channel(slack.fixtures.channel), []);
    });
  });

  describe('Socket Mode (plain ws client)', () => {
    it('issues a single-use URL for the app token and says hello', async () => {
      const s = await rawSocket(slack);
      sockets.push(s.ws);
      const hello = await s.next('hello');
      assert.equal(hello.num_connections, 1);
      assert.deepEqual(hello.connection_info, { app_id: slack.bot.appId });
      assert.ok((hello.debug_info as { host: string }).host);
      assert.deepEqual([slack.stats.openSockets, slack.stats.connections], [1, 1]);
      const url = String(slack.sent.find((c) => c.method === 'apps.connections.open')?.response?.url);
      assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/socket\?ticket=/);
      const reuse = new WebSocket(url);
      reuse.on('error', () => undefined);
      const status = await new Promise<number>((r) => reuse.on('unexpected-response', (_req, res) => r(res.statusCode ?? 0)));
      assert.equal(status, 401);
      // Pings are answered with pongs.
      const pong = new Promise<Buffer>((r) => s.ws.once('pong', r));
      s.ws.ping(Buffer.from('are you there'));
      assert.equal((await pong).toString(), 'are you there');
    });

    it('delivers an events_api envelope, records the ack, and redelivers an unacked one with retry_attempt and reason', async () => {
      const s = await rawSocket(slack);
      sockets.push(s.ws);
      await s.next('hello');
      const d = slack.deliver(slack.make.dm('hi'));
      const env = await s.next('events_api');
      assert.deepEqual(
        { type: env.type, accepts_response_payload: env.accepts_response_payload, retry_attempt: env.retry_attempt, retry_reason: env.retry_reason },
        { type: 'events_api', accepts_response_payload: false, retry_attempt: 0, retry_reason: '' },
      );
      const payload = env.payload as { type: string; team_id: string; api_app_id: string; event_id: string; event_time: number; event: Record<string, unknown> };
      assert.deepEqual([payload.type, payload.team_id, payload.api_app_id], ['event_callback', slack.team.id, slack.bot.appId]);
      assert.match(payload.event_id, /^Ev/);
      assert.deepEqual([payload.event.type, payload.event.channel_type, payload.event.text, payload.event.user], ['message', 'im', 'hi', slack.fixtures.user]);
      s.ws.send(JSON.stringify({ envelope_id: env.envelope_id, payload: {} }));
      const ack = await d.waitAck();
      assert.equal(ack.envelope_id, env.envelope_id);
      assert.deepEqual(slack.channel(slack.fixtures.dm).map((m) => [m.user, m.text]), [[slack.fixtures.user, 'hi']]);

      // Not acked: delivered again (new envelope id, retry_attempt + 1, 'timeout'), three times, then dropped.
      const lost = slack.deliver(slack.make.dm('anyone?'));
      const first = await s.next('events_api');
      const second = await s.next('events_api');
      assert.notEqual(second.envelope_id, first.envelope_id);
      assert.deepEqual([second.retry_attempt, second.retry_reason], [1, 'timeout']);
      assert.deepEqual((second.payload as { event_id: string }).event_id, (first.payload as { event_id: string }).event_id);
      await s.next('events_api');
      const fourth = await s.next('events_api');
      assert.equal(fourth.retry_attempt, 3);
      await assert.rejects(lost.waitAck(1000), /never acked/);
      assert.equal(lost.gaveUp, true);
      assert.equal(lost.attempts.length, 4);
      // An ack of a late redelivery still counts.
      const late = slack.deliver(slack.make.dm('late'));
      await s.next('events_api');
      const retry = await s.next('events_api');
      s.ws.send(JSON.stringify({ envelope_id: retry.envelope_id, payload: {} }));
      assert.equal((await late.waitAck()).envelope_id, retry.envelope_id);
    });

    it('sends slash commands and block actions, and gives each envelope to one socket in turn', async () => {
      const a = await rawSocket(slack);
      const b = await rawSocket(slack);
      sockets.push(a.ws, b.ws);
      await a.next('hello');
      assert.equal((await b.next('hello')).num_connections, 2);
      slack.deliver(slack.make.slashCommand('/ask', 'what is up'));
      slack.deliver(slack.make.blockAction('approve', { value: 'yes' }));
      const cmd = await a.next('slash_commands');
      const act = await b.next('interactive');
      const cp = cmd.payload as Record<string, string>;
      assert.deepEqual([cp.command, cp.text, cp.user_id, cp.channel_id, cmd.accepts_response_payload], ['/ask', 'what is up', slack.fixtures.user, slack.fixtures.channel, true]);
      assert.match(cp.response_url, /^http:\/\/127\.0\.0\.1:\d+\/response\//);
      assert.ok(cp.trigger_id);
      const ap = act.payload as { type: string; actions: Array<{ action_id: string; value: string; block_id: string }>; user: { id: string }; channel: { id: string }; container: { channel_id: string } };
      assert.deepEqual([ap.type, ap.actions[0].action_id, ap.actions[0].value, ap.user.id, ap.channel.id, ap.container.channel_id], ['block_actions', 'approve', 'yes', slack.fixtures.user, slack.fixtures.channel, slack.fixtures.channel]);
      // Acking a command with a text shows it to the user; posting to response_url too.
      a.ws.send(JSON.stringify({ envelope_id: cmd.envelope_id, payload: { text: 'thinking about it' } }));
      await slack.deliveries[0].waitAck();
      const r = await fetch(cp.response_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response_type: 'in_channel', text: 'It is up.' }) });
      assert.equal(r.status, 200);
      assert.deepEqual(slack.ephemeral().map((e) => [e.via, e.text]), [['ack', 'thinking about it']]);
      assert.equal(slack.channel(slack.fixtures.channel).at(-1)?.text, 'It is up.');
      assert.deepEqual(slack.deliveries.map((d) => d.attempts[0].socket), [1, 2]);
    });

    it('echoes the bot own posts as events and pings the sockets when told to', async () => {
      await slack.close();
      slack = await startSlackServer({ botToken: BOT, appToken: APP, signingSecret: SECRET, echoOwnMessages: true, pingIntervalMs: 50 });
      const s = await rawSocket(slack);
      sockets.push(s.ws);
      await s.next('hello');
      const pinged = new Promise<void>((r) => s.ws.once('ping', () => r()));
      const posted = await client(slack).chat.postMessage({ channel: slack.fixtures.channel, text: 'my post' });
      const echo = await s.next('events_api');
      const ev = (echo.payload as { event: Record<string, unknown> }).event;
      assert.deepEqual([ev.type, ev.subtype, ev.user, ev.bot_id, ev.ts, ev.text], ['message', undefined, slack.bot.userId, slack.bot.botId, posted.ts, 'my post']);
      await pinged;
      assert.equal(slack.channel(slack.fixtures.channel).length, 1);
    });

    it('sends disconnect frames, counts sockets, drops them, and turns them into zombies', async () => {
      const a = await rawSocket(slack);
      sockets.push(a.ws);
      await a.next('hello');
      slack.inject.disconnect();
      assert.deepEqual(await a.next('disconnect'), { type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'applink-emu-1' } });
      await closeWs(a.ws);
      await slack.waitForSockets((s) => s.openSockets === 0);
      const b = await rawSocket(slack);
      const c = await rawSocket(slack);
      sockets.push(b.ws, c.ws);
      assert.deepEqual([slack.stats.openSockets, slack.stats.maxOpenSockets, slack.stats.connections], [2, 2, 3]);
      slack.inject.zombieSockets();
      const noPong = new Promise<string>((r) => {
        const t = setTimeout(() => r('no pong'), 200);
        b.ws.once('pong', () => (clearTimeout(t), r('pong')));
      });
      b.ws.ping();
      assert.equal(await noPong, 'no pong');
      const swallowed = slack.deliver(slack.make.dm('into the void'));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(b.frames.filter((f) => f.type === 'events_api').length + c.frames.filter((f) => f.type === 'events_api').length, 0);
      assert.equal(swallowed.acked, undefined);
      const closed = Promise.all([new Promise((r) => b.ws.once('close', r)), new Promise((r) => c.ws.once('close', r))]);
      slack.inject.dropSockets();
      await closed;
      await slack.waitForSockets((s) => s.openSockets === 0);
    });
  });

  describe('Events API signer', () => {
    let server: http.Server;
    let url: string;
    const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];

    beforeEach(async () => {
      received.length = 0;
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          received.push({ headers: req.headers, body });
          const parsed = req.headers['content-type'] === 'application/json' ? (JSON.parse(body) as { type: string; challenge?: string }) : undefined;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(parsed?.type === 'url_verification' ? JSON.stringify({ challenge: parsed.challenge }) : '');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    });
    afterEach(() => new Promise<void>((r) => server.close(() => r())));

    it('signs like Slack (checked against an independent HMAC)', async () => {
      const body = '{"type":"event_callback"}';
      const h = slack.signedRequest(body, { timestamp: 1733050000 });
      const expected = `v0=${createHmac('sha256', SECRET).update(`v0:1733050000:${body}`).digest('hex')}`;
      assert.deepEqual(h, { 'X-Slack-Signature': expected, 'X-Slack-Request-Timestamp': '1733050000' });
      assert.notEqual(slack.signedRequest(body, { timestamp: 1733050000, secret: 'other' })['X-Slack-Signature'], expected);
    });

    it('posts events as JSON and commands/actions as exact form bodies, with retry headers when asked', async () => {
      const challenge = await slack.postEvent(url, slack.make.urlVerification('abc123'));
      assert.deepEqual(JSON.parse(challenge.body), { challenge: 'abc123' });
      const ev = slack.wrapEvent(slack.make.dm('hello over http'));
      await slack.postEvent(url, ev);
      await slack.postEvent(url, ev, { retryNum: 1, retryReason: 'http_timeout' });
      await slack.postEvent(url, slack.make.slashCommand('/ask', 'a b&c'));
      await slack.postEvent(url, slack.make.blockAction('approve', { value: 'v' }));
      for (const r of received) {
        const ts = String(r.headers['x-slack-request-timestamp']);
        const sig = `v0=${createHmac('sha256', SECRET).update(`v0:${ts}:${r.body}`).digest('hex')}`;
        assert.equal(r.headers['x-slack-signature'], sig);
      }
      assert.deepEqual(
        received.map((r) => r.headers['content-type']),
        ['application/json', 'application/json', 'application/json', 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
      );
      assert.equal(received[1].body, received[2].body);
      assert.deepEqual([received[1].headers['x-slack-retry-num'], received[2].headers['x-slack-retry-num'], received[2].headers['x-slack-retry-reason']], [undefined, '1', 'http_timeout']);
      const form = new URLSearchParams(received[3].body);
      assert.deepEqual([form.get('command'), form.get('text'), form.get('user_id')], ['/ask', 'a b&c', slack.fixtures.user]);
      const action = JSON.parse(String(new URLSearchParams(received[4].body).get('payload'))) as { type: string };
      assert.equal(action.type, 'block_actions');
      assert.equal(received[4].body.startsWith('payload='), true);
      assert.deepEqual(slack.channel(slack.fixtures.dm).map((m) => m.text), ['hello over http']);
    });
  });

  describe('event builders', () => {
    it('builds realistic events: mention twins, threads, bots, edits, files', () => {
      const [message, mention] = slack.make.mention('what is new?');
      assert.deepEqual([message.type, mention.type, message.ts === mention.ts, message.channel, message.channel_type, mention.channel_type], ['message', 'app_mention', true, slack.fixtures.channel, 'channel', undefined]);
      assert.equal(message.text, `<@${slack.bot.userId}> what is new?`);
      const [d1, d2] = slack.deliver([message, mention]);
      assert.notEqual(d1.payload.event_id, d2.payload.event_id);
      assert.equal(slack.channel(slack.fixtures.channel).length, 1);

      const reply = slack.make.threadReply(String(message.ts), 'more');
      assert.equal(reply.thread_ts, message.ts);
      assert.ok(String(reply.ts) > String(message.ts));
      assert.match(String(reply.ts), /^\d{10}\.\d{6}$/);
      const bot = slack.make.botMessage('beep');
      assert.deepEqual([bot.subtype, bot.bot_id, bot.user], ['bot_message', 'B0OTHERBOT1', undefined]);
      const appBot = slack.make.botMessage('boop', { appBot: true });
      assert.deepEqual([appBot.subtype, typeof appBot.user, appBot.bot_id], [undefined, 'string', 'B0OTHERBOT1']);
      const self = slack.make.selfMessage('my own');
      assert.deepEqual([self.user, self.bot_id], [slack.bot.userId, slack.bot.botId]);
      slack.deliver(reply);
      slack.deliver(slack.make.edited(String(reply.ts), 'more, edited'));
      assert.deepEqual(slack.thread(slack.fixtures.channel, String(message.ts)).map((m) => [m.text, m.edits]), [
        [`<@${slack.bot.userId}> what is new?`, 0],
        ['more, edited', 1],
      ]);
      const share = slack.make.fileShare();
      const f = (share.files as Array<Record<string, unknown>>)[0];
      assert.deepEqual([share.subtype, share.channel, share.channel_type, f.name, f.mimetype, typeof f.size], ['file_share', slack.fixtures.dm, 'im', 'report.pdf', 'application/pdf', 'number']);
      assert.match(String(f.id), /^F/);
      const group = slack.make.channelMessage('psst', { channel: slack.fixtures.group });
      assert.equal(group.channel_type, 'group');
    });
  });

  describe('with the real @slack/bolt in Socket Mode', () => {
    let app: App | undefined;
    afterEach(async () => {
      await app?.stop().catch(() => undefined);
      app = undefined;
    });

    function boltApp(receiverOpts: { clientPingTimeout?: number } = {}): App {
      const receiver = new SocketModeReceiver({
        appToken: APP,
        logger: silent,
        clientPingTimeout: receiverOpts.clientPingTimeout ?? 500,
        installerOptions: { clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } } },
      });
      return new App({
        token: BOT,
        receiver,
        logger: silent,
        deferInitialization: true,
        clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 }, logger: silent },
      });
    }

    it('receives a DM and answers with say, visible in the channel; app.stop() closes the socket', async () => {
      app = boltApp();
      const seen: Array<{ text: string; retryNum?: number }> = [];
      app.message(async ({ message, say, context }) => {
        seen.push({ text: String((message as { text?: string }).text), ...(context.retryNum !== undefined ? { retryNum: context.retryNum } : {}) });
        await say(`echo: ${(message as { text?: string }).text}`);
      });
      await app.init();
      await app.start();
      assert.equal(slack.stats.openSockets, 1);
      const d = slack.deliver(slack.make.dm('hello bolt'));
      await d.waitAck();
      const reply = await slack.waitForMessage(slack.fixtures.dm, (m) => m.fromBot);
      assert.equal(reply.text, 'echo: hello bolt');
      // Bolt puts the envelope's retry_attempt into context.retryNum: 0 on a first delivery, not undefined.
      assert.deepEqual(seen, [{ text: 'hello bolt', retryNum: 0 }]);
      assert.deepEqual(
        slack.sent.map((c) => [c.method, c.token]),
        [
          ['auth.test', 'bot'],
          ['apps.connections.open', 'app'],
          ['chat.postMessage', 'bot'],
        ],
      );
      await app.stop();
      app = undefined;
      await slack.waitForSockets((s) => s.openSockets === 0);
    });

    it('gets both twins of a mention, handles a redelivery again, ignores itself, and reconnects after a disconnect frame', async () => {
      app = boltApp({ clientPingTimeout: 300 });
      const got: string[] = [];
      app.event('app_mention', async ({ event }) => void got.push(`app_mention ${event.ts}`));
      app.message(async ({ message, context }) => void got.push(`message ${(message as { ts: string }).ts}${context.retryNum ? ` retry ${context.retryNum} ${context.retryReason}` : ''}`));
      await app.init();
      await app.start();
      const [message, mention] = slack.make.mention('hi');
      await Promise.all(slack.deliver([message, mention]).map((d) => d.waitAck()));
      await slack.deliver(slack.make.selfMessage('my own post')).waitAck();
      await slack.deliver(slack.make.botMessage('another bot')).waitAck();
      // A lost ack: Slack delivers again, and the handler runs again with retryNum/retryReason.
      slack.inject.ignoreAcks(1);
      const d = slack.deliver(slack.make.dm('again'));
      const ack = await d.waitAck();
      assert.deepEqual(d.attempts.map((a) => a.retry_attempt), [0, 1]);
      assert.equal(ack.envelope_id, d.attempts[1].envelope_id);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(got.slice(0, 2).sort(), [`app_mention ${message.ts}`, `message ${message.ts}`]);
      const dmTs = String((d.payload.event as { ts: string }).ts);
      assert.deepEqual(got.slice(2), ['message ' + slack.channel(slack.fixtures.channel).find((m) => m.bot_id === 'B0OTHERBOT1')?.ts, `message ${dmTs}`, `message ${dmTs} retry 1 timeout`]);

      slack.inject.disconnect();
      await slack.waitForSockets((s) => s.connections === 2 && s.openSockets === 1, 4000);
      await slack.deliver(slack.make.dm('after reconnect')).waitAck(2000);
      await app.stop();
      app = undefined;
      await slack.waitForSockets((s) => s.openSockets === 0);
    });

    it('acks a slash command with a text, responds through response_url, and handles a block action', async () => {
      app = boltApp();
      app.command('/ask', async ({ command, ack, respond }) => {
        await ack(`looking up ${command.text}`);
        await respond({ response_type: 'in_channel', text: `*${command.text}* is fine` });
      });
      app.action('approve', async ({ ack, body, client: web }) => {
        await ack();
        const b = body as { channel?: { id: string }; message?: { ts: string } };
        await web.chat.update({ channel: String(b.channel?.id), ts: String(b.message?.ts), text: 'approved', blocks: [] });
      });
      await app.init();
      await app.start();
      await slack.deliver(slack.make.slashCommand('/ask', 'the weather')).waitAck();
      const shown = await slack.waitForMessage(slack.fixtures.channel, (m) => m.text === '*the weather* is fine');
      assert.equal(shown.fromBot, true);
      assert.deepEqual(slack.ephemeral().map((e) => [e.via, e.user, e.text]), [['ack', slack.fixtures.user, 'looking up the weather']]);
      const web = client(slack);
      const withButton = await web.chat.postMessage({
        channel: slack.fixtures.channel,
        text: 'Approve?',
        blocks: [{ type: 'actions', block_id: 'b1', elements: [{ type: 'button', action_id: 'approve', value: 'yes', text: { type: 'plain_text', text: 'Yes' } }] }],
      });
      const press = slack.make.blockAction('approve', { value: 'yes' });
      assert.equal((press.actions as Array<{ block_id: string }>)[0].block_id, 'b1');
      await slack.deliver(press).waitAck();
      await slack.waitForMessage(slack.fixtures.channel, (m) => m.ts === withButton.ts && m.text === 'approved');
    });

    it('ten redeploys (stop, then a new app) leave exactly one open socket', async () => {
      const mk = (): App =>
        new App({ token: BOT, appToken: APP, socketMode: true, logger: silent, deferInitialization: true, clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } } });
      app = mk();
      await app.init();
      await app.start();
      for (let i = 0; i < 10; i++) {
        await app.stop();
        app = mk();
        await app.init();
        await app.start();
      }
      await slack.waitForSockets((s) => s.openSockets === 1 && s.connections === 11);
      assert.equal(slack.stats.maxOpenSockets, 1);
      await slack.deliver(slack.make.dm('still one')).waitAck();
    });
    // These pin two @slack/socket-mode 3.1 bugs the Slack nodes must guard against, and show the
    // emulator can drive them; if an SDK upgrade fixes one, its assertion here fails: update the notes.
    it('reproduces the SDK stop-while-reconnecting races: a ghost socket after stop, an unhandled rejection before hello', async () => {
      app = boltApp({ clientPingTimeout: 100 });
      await app.init();
      await app.start();
      // stop() while apps.connections.open is in flight: the client still connects afterwards.
      slack.inject.delayNext('apps.connections.open', 1, 600);
      slack.inject.disconnect();
      await new Promise((r) => setTimeout(r, 300));
      await app.stop();
      app = undefined;
      await slack.waitForSockets((s) => s.connections === 2 && s.openSockets === 1, 2000);
      slack.inject.dropSockets();
      await slack.waitForSockets((s) => s.openSockets === 0);
      assert.deepEqual(takeUnhandled(), []);

      // stop() after the socket opened but before hello: an unhandled rejection with reason undefined.
      app = boltApp({ clientPingTimeout: 100 });
      await app.init();
      await app.start();
      slack.inject.delayHello(500);
      slack.inject.disconnect();
      await slack.waitForSockets((s) => s.connections === 4, 2000);
      await app.stop();
      app = undefined;
      await new Promise((r) => setTimeout(r, 50));
      const unhandled = takeUnhandled();
      assert.ok(unhandled.length >= 1);
      assert.deepEqual(new Set(unhandled.map((u) => `${u.kind}: ${String(u.reason)}`)), new Set(['unhandled rejection: undefined']));
    });
  });

  describe('with the real @slack/bolt over the HTTP Events API (ExpressReceiver)', () => {
    let server: http.Server | undefined;
    afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

    it('verifies the emulator signature, answers the challenge, and gets events, retries, commands and actions', async () => {
      const receiver = new ExpressReceiver({ signingSecret: SECRET, logger: silent, endpoints: '/slack/events' });
      const app = new App({ token: BOT, receiver, logger: silent, deferInitialization: true, clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } } });
      const got: string[] = [];
      app.message(async ({ message, say, context }) => {
        got.push(`message ${(message as { text: string }).text} retry=${context.retryNum ?? '-'}/${context.retryReason ?? '-'}`);
        await say('heard you');
      });
      app.command('/ask', async ({ ack, command }) => {
        got.push(`command ${command.text}`);
        await ack();
      });
      app.action('approve', async ({ ack, action }) => {
        got.push(`action ${(action as { value: string }).value}`);
        await ack();
      });
      await app.init();
      server = http.createServer(receiver.app);
      await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;

      const challenge = await slack.postEvent(url, slack.make.urlVerification('xyz'));
      assert.deepEqual([challenge.status, JSON.parse(challenge.body)], [200, { challenge: 'xyz' }]);
      const ev = slack.wrapEvent(slack.make.dm('over http'));
      assert.equal((await slack.postEvent(url, ev)).status, 200);
      assert.equal((await slack.postEvent(url, ev, { retryNum: 1, retryReason: 'http_timeout' })).status, 200);
      assert.equal((await slack.postEvent(url, slack.make.slashCommand('/ask', 'x y'))).status, 200);
      assert.equal((await slack.postEvent(url, slack.make.blockAction('approve', { value: 'v1' }))).status, 200);
      assert.equal((await slack.postEvent(url, ev, { secret: 'wrong' })).status, 401);
      const stale = Math.floor(Date.now() / 1000) - 6 * 60;
      assert.equal((await slack.postEvent(url, ev, { timestamp: stale })).status, 401);
      await slack.waitFor((c) => c.method === 'chat.postMessage' && slack.sent.filter((x) => x.method === 'chat.postMessage').length === 2);
      assert.deepEqual(got.sort(), ['action v1', 'command x y', 'message over http retry=-/-', 'message over http retry=1/http_timeout']);
    });
  });
});
