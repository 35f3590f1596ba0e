/**
 * The Telegram emulator itself, driven by real grammy: if it drifts from Telegram's answers, every
 * Telegram node test built on it would prove the wrong thing.
 */
import assert from 'node:assert/strict';
import { Bot, GrammyError, InputFile } from 'grammy';
import { parseTelegramHtml, startTelegramServer, type TelegramServer } from '../emulators/telegram-server';

const TOKEN = '123456:EMULATOR-test-token';

describe('telegram emulator', () => {
  let tg: TelegramServer;
  let bot: Bot;

  beforeEach(async () => {
    tg = await startTelegramServer({ token: TOKEN, botUsername: 'emu_bot' });
    bot = new Bot(TOKEN, { client: { apiRoot: tg.apiRoot } });
  });
  afterEach(async () => {
    if (bot.isRunning()) await bot.stop();
    await tg.close();
  });

  it('parses HTML like Telegram and names the broken tag', () => {
    assert.deepEqual(parseTelegramHtml('<b>bold</b> &amp; <a href="https://x.y">link</a>'), {
      ok: true,
      text: 'bold & link',
      entities: [
        { type: 'bold', offset: 0, length: 4 },
        { type: 'text_link', offset: 7, length: 4, url: 'https://x.y' },
      ],
    });
    assert.match((parseTelegramHtml('<h1>x</h1>') as { error: string }).error, /Unsupported start tag "h1"/);
    assert.match((parseTelegramHtml('<b>x') as { error: string }).error, /Can't find end tag corresponding to start tag "b"/);
    assert.match((parseTelegramHtml('<b><i>x</b></i>') as { error: string }).error, /Unmatched end tag/);
    assert.match((parseTelegramHtml('1 < 2') as { error: string }).error, /Can't find end of the tag/);
    assert.match((parseTelegramHtml('1 < 2 > 0') as { error: string }).error, /Unsupported start tag ""/);
    assert.match((parseTelegramHtml('<span>x</span>') as { error: string }).error, /tg-spoiler/);
    assert.equal(parseTelegramHtml('<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>').ok, true);
  });

  it('long-polls: an update pushed during a held getUpdates arrives at once, and offsets confirm it', async () => {
    const got: string[] = [];
    bot.on('message:text', async (ctx) => {
      got.push(ctx.message.text);
      await ctx.reply(`echo ${ctx.message.text}`);
    });
    void bot.start({ timeout: 1 });
    await tg.nextPoll();
    tg.pushUpdate(tg.make.text('hello', { from: { id: 42 } }));
    const reply = await tg.waitFor((c) => c.method === 'sendMessage');
    assert.equal(reply.chat_id, '42');
    assert.equal(reply.text, 'echo hello');
    assert.deepEqual(got, ['hello']);
    assert.deepEqual(
      tg.chat(42).map((m) => [m.fromBot, m.text]),
      [
        [false, 'hello'],
        [true, 'echo hello'],
      ],
    );
    await tg.nextPoll();
    await tg.nextPoll(); // the following poll carries the offset past the update
    assert.equal(tg.pending().length, 0);
  });

  it('rejects bad HTML, over-long text and unchanged edits with Telegram descriptions', async () => {
    await assert.rejects(bot.api.sendMessage(1, '<b>x', { parse_mode: 'HTML' }), /can't parse entities/);
    await assert.rejects(bot.api.sendMessage(1, 'x'.repeat(4097)), /message is too long/);
    // 4096 visible characters are fine even when the HTML source is longer
    await bot.api.sendMessage(1, `<b>${'x'.repeat(4096)}</b>`, { parse_mode: 'HTML' });
    const m = await bot.api.sendMessage(1, 'one');
    await assert.rejects(bot.api.editMessageText(1, m.message_id, 'one'), /message is not modified/);
    await bot.api.editMessageText(1, m.message_id, 'two');
    assert.equal(tg.chat(1).at(-1)?.text, 'two');
    assert.equal(tg.chat(1).at(-1)?.edits, 1);
    await assert.rejects(bot.api.sendPhoto(1, new InputFile(Buffer.from('img')), { caption: 'c'.repeat(1025) }), /caption is too long/);
  });

  it('answers 401 to an unknown token and injected errors with retry_after', async () => {
    const wrong = new Bot('999:wrong', { client: { apiRoot: tg.apiRoot } });
    await assert.rejects(wrong.api.getMe(), (e: GrammyError) => e.error_code === 401 && /Unauthorized/.test(e.description));
    tg.inject.failNext('sendMessage', 1, { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
    await assert.rejects(bot.api.sendMessage(1, 'x'), (e: GrammyError) => e.error_code === 429 && e.parameters.retry_after === 1);
    await bot.api.sendMessage(1, 'x');
  });

  it('409: a second poller ends the first, and getUpdates is refused while a webhook is set', async () => {
    const first = bot.api.getUpdates({ timeout: 2 });
    await tg.nextPoll();
    const second = bot.api.getUpdates({ timeout: 0 });
    await assert.rejects(first, (e: GrammyError) => e.error_code === 409 && /terminated by other getUpdates/.test(e.description));
    await second;
    assert.equal(tg.stats.conflicts, 1);
    await bot.api.setWebhook('http://127.0.0.1:9/hook', { secret_token: 'abc' });
    await assert.rejects(bot.api.getUpdates({ timeout: 0 }), (e: GrammyError) => e.error_code === 409 && /webhook is active/.test(e.description));
    assert.equal(tg.webhook?.secret_token, 'abc');
    await bot.api.deleteWebhook();
    assert.equal(tg.webhook, undefined);
  });

  it('uploads photos and documents (multipart), serves files by getFile and download', async () => {
    const sent = await bot.api.sendDocument(5, new InputFile(Buffer.from('hello file'), 'a.txt'), { caption: '<i>doc</i>', parse_mode: 'HTML' });
    const call = tg.sent.at(-1)!;
    assert.equal(call.method, 'sendDocument');
    assert.equal(Object.values(call.files ?? {})[0]?.data.toString(), 'hello file');
    assert.equal(tg.chat(5).at(-1)?.text, 'doc');
    const file = await bot.api.getFile(sent.document!.file_id);
    const res = await fetch(`${tg.apiRoot}/file/bot${TOKEN}/${file.file_path}`);
    assert.equal(await res.text(), 'hello file');
    const upd = tg.make.voice({ data: Buffer.from('ogg!') });
    const f2 = await bot.api.getFile(upd.message!.voice!.file_id);
    assert.equal(f2.file_size, 4);
  });

  it('drops connections and stalls polls on request', async () => {
    tg.inject.dropConnections(1, 'getMe');
    await assert.rejects(bot.api.getMe());
    assert.equal((await bot.api.getMe()).username, 'emu_bot');
    tg.inject.stallGetUpdates();
    const ac = new AbortController();
    const stalled = bot.api.getUpdates({ timeout: 0 }, ac.signal as never);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(tg.stats.activePolls, 1);
    ac.abort();
    await assert.rejects(stalled);
  });

  it('queues raw bodies as given; an offset past one confirms it even when it has no update_id', async () => {
    const junk = tg.pushRaw({ message: { text: 'no id' } });
    const wrong = tg.pushRaw({ update_id: 'x', message: 5 });
    const valid = tg.pushUpdate(tg.make.text('fine'));
    assert.ok(junk < wrong && wrong < valid, 'raw bodies without a usable id get the next place in the queue');
    const got = await bot.api.getUpdates({ timeout: 0 });
    assert.deepEqual(got.slice(0, 2), [{ message: { text: 'no id' } }, { update_id: 'x', message: 5 }] as never);
    assert.equal(got[2].update_id, valid);
    await bot.api.getUpdates({ offset: valid + 1, timeout: 0 });
    assert.equal(tg.pending().length, 0);
    assert.equal(tg.pushRaw({ update_id: 900001 }), 900001, 'a raw body with an integer id keeps it');
  });

  it('ignorePollTimeout answers an empty getUpdates at once', async () => {
    const hasty = await startTelegramServer({ token: TOKEN, ignorePollTimeout: true });
    try {
      const api = new Bot(TOKEN, { client: { apiRoot: hasty.apiRoot } }).api;
      const started = Date.now();
      assert.deepEqual(await api.getUpdates({ timeout: 5 }), []);
      assert.ok(Date.now() - started < 500, 'did not hold the poll');
      const held = Date.now();
      await bot.api.getUpdates({ timeout: 1 });
      assert.ok(Date.now() - held >= 900, 'the ordinary emulator still holds it');
    } finally {
      await hasty.close();
    }
  });

  it('records callback queries and answers them once', async () => {
    await bot.api.sendMessage(7, 'pick', { reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] } });
    const u = tg.make.callback('a', { from: { id: 7 } });
    tg.pushUpdate(u);
    await bot.api.answerCallbackQuery(u.callback_query!.id);
    await assert.rejects(bot.api.answerCallbackQuery(u.callback_query!.id), /query is too old/);
    assert.equal(u.callback_query!.message?.message_id, tg.chat(7).at(-1)?.messageId);
  });
});
