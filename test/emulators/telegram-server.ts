/**
 * A fake Telegram Bot API over real HTTP on 127.0.0.1, for real grammy to talk to through
 * `client.apiRoot`. It answers like Telegram does where our nodes depend on it: long-polled
 * getUpdates with offsets and 409 conflicts, webhooks (it POSTs updates with the secret token),
 * parse_mode HTML checked with Telegram's error texts, the 4096/1024 limits on the visible text,
 * "message is not modified", files and downloads. Tests build updates with `tg.make.*`, push them,
 * read back every call the bot made (`sent`, `calls`) and what the user sees (`chat(id)`), and
 * inject failures: error answers (429 with retry_after, 5xx, 401...), dropped sockets, stalled polls.
 *
 * Everything is bounded: held polls end at their timeout, and close() answers or destroys every
 * socket and clears every timer.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { CallbackQuery, Chat, Message, MessageEntity, Update, User } from 'grammy/types';

// ---------------------------------------------------------------------------------------------
// parse_mode HTML, as Telegram parses it
// ---------------------------------------------------------------------------------------------

export type HtmlParse = { ok: true; text: string; entities: MessageEntity[] } | { ok: false; error: string };

const SIMPLE_TAGS: Record<string, MessageEntity['type']> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  code: 'code',
  pre: 'pre',
  a: 'text_link',
  blockquote: 'blockquote',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
};

const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

function byteOffset(s: string, i: number): number {
  return Buffer.byteLength(s.slice(0, i), 'utf8');
}

function parseAttributes(raw: string): Map<string, string> | undefined {
  const attrs = new Map<string, string>();
  const re = /\s*([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/y;
  let pos = 0;
  while (pos < raw.length) {
    if (/^\s*$/.test(raw.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(raw);
    if (!m || m[0].length === 0) return undefined;
    attrs.set(m[1].toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
    pos = re.lastIndex;
  }
  return attrs;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return NAMED_ENTITIES[name.toLowerCase()] ?? whole; // Telegram leaves unknown named entities as they are
  });
}

/** Parses Telegram's HTML subset; the error texts follow Telegram's "can't parse entities" answers. */
export function parseTelegramHtml(html: string): HtmlParse {
  let text = '';
  const entities: MessageEntity[] = [];
  const stack: Array<{ tag: string; start: number; entity?: MessageEntity }> = [];
  let i = 0;
  while (i < html.length) {
    const ch = html[i];
    if (ch === '&') {
      const m = /^&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/.exec(html.slice(i, i + 16));
      if (m) {
        text += decodeEntities(m[0]);
        i += m[0].length;
      } else {
        text += '&';
        i += 1;
      }
      continue;
    }
    if (ch !== '<') {
      text += ch;
      i += 1;
      continue;
    }
    const end = html.indexOf('>', i);
    const at = byteOffset(html, i);
    if (end < 0) return { ok: false, error: `Can't find end of the tag starting at byte offset ${at}` };
    const inner = html.slice(i + 1, end);
    i = end + 1;
    if (inner.startsWith('/')) {
      const name = inner.slice(1).trim().toLowerCase();
      const open = stack.pop();
      if (!open) return { ok: false, error: `Unexpected end tag at byte offset ${at}` };
      if (open.tag !== name) {
        return { ok: false, error: `Unmatched end tag at byte offset ${at}, expected "</${open.tag}>", found "</${name}>"` };
      }
      if (open.entity) {
        open.entity.length = text.length - open.start;
        if (open.entity.length > 0) entities.push(open.entity);
      }
      continue;
    }
    const m = /^([a-zA-Z][-a-zA-Z0-9]*)([\s\S]*)$/.exec(inner);
    if (!m) return { ok: false, error: `Unsupported start tag "${inner.split(/\s/)[0]}" at byte offset ${at}` };
    const name = m[1].toLowerCase();
    const type = SIMPLE_TAGS[name];
    if (!type) return { ok: false, error: `Unsupported start tag "${name}" at byte offset ${at}` };
    const attrs = parseAttributes(m[2].replace(/\/\s*$/, ''));
    if (!attrs) return { ok: false, error: `Can't parse attributes of tag "${name}" at byte offset ${at}` };
    if (name === 'span' && attrs.get('class') !== 'tg-spoiler') {
      return { ok: false, error: `Tag "span" must have class "tg-spoiler" at byte offset ${at}` };
    }
    const entity = { type, offset: text.length, length: 0 } as MessageEntity;
    if (name === 'a') {
      const href = attrs.get('href');
      if (!href) {
        stack.push({ tag: name, start: text.length });
        continue;
      }
      (entity as MessageEntity.TextLinkMessageEntity).url = href;
    }
    stack.push({ tag: name, start: text.length, entity });
  }
  const open = stack.pop();
  if (open) return { ok: false, error: `Can't find end tag corresponding to start tag "${open.tag}"` };
  return { ok: true, text, entities: entities.sort((a, b) => a.offset - b.offset) };
}

// ---------------------------------------------------------------------------------------------
// public types
// ---------------------------------------------------------------------------------------------

export interface ApiError {
  error_code: number;
  description: string;
  retry_after?: number;
}

/** One call the bot made (everything except getUpdates lands here too, failed or not). */
export interface SentCall {
  method: string;
  params: Record<string, unknown>;
  chat_id?: string;
  text?: string;
  caption?: string;
  parse_mode?: string;
  message_id?: number;
  message_thread_id?: number;
  reply_to_message_id?: number;
  action?: string;
  reply_markup?: unknown;
  /** Uploaded file parts (multipart), by field name. */
  files?: Record<string, { filename: string; size: number; data: Buffer }>;
  ok: boolean;
  error?: ApiError;
  at: number;
}

/** A message as the user sees it in the chat, after edits. */
export interface VisibleMessage {
  messageId: number;
  fromBot: boolean;
  kind: 'text' | 'photo' | 'document' | 'media' | 'other';
  /** The visible text (entities parsed), or the caption for media. */
  text: string;
  /** The text exactly as the bot sent it (HTML source when parse_mode was HTML). */
  raw: string;
  parseMode?: string;
  entities: MessageEntity[];
  threadId?: number;
  replyTo?: number;
  replyMarkup?: unknown;
  edits: number;
  file?: { name?: string; size: number };
}

export interface WebhookState {
  url: string;
  secret_token?: string;
  allowed_updates?: string[];
}

export interface ChatRef {
  id: number;
  type: Chat['type'];
  title?: string;
  is_forum?: boolean;
}

export interface MessageOptions {
  /** Default: a private chat with the sender. */
  chat?: ChatRef;
  from?: Partial<User> & { id: number };
  /** Forum topic (sets is_topic_message and message_thread_id). */
  threadId?: number;
  /** A message id in the same chat, or a full message. */
  replyTo?: number | Message;
  messageId?: number;
  entities?: MessageEntity[];
  date?: number;
}

export interface MediaOptions extends MessageOptions {
  caption?: string;
  /** File bytes the emulator serves through getFile and the download URL. */
  data?: Buffer;
  fileName?: string;
  mimeType?: string;
}

export interface UpdateBuilders {
  /** A text message; bot_command and @mention entities are filled in from the text. */
  text(text: string, opts?: MessageOptions): Update;
  command(command: string, opts?: MessageOptions): Update;
  photo(opts?: MediaOptions): Update;
  document(opts?: MediaOptions): Update;
  voice(opts?: MediaOptions & { duration?: number }): Update;
  audio(opts?: MediaOptions & { duration?: number; title?: string }): Update;
  video(opts?: MediaOptions & { duration?: number }): Update;
  location(latitude: number, longitude: number, opts?: MessageOptions): Update;
  /** An inline-button press on one of the bot's messages (default: the latest bot message in the chat). */
  callback(data: string, opts?: MessageOptions & { message?: Message | number }): Update;
  /** An edit of an earlier user message. */
  edited(messageId: number, text: string, opts?: MessageOptions): Update;
}

export interface TelegramServerOptions {
  token: string;
  botUsername?: string;
  botId?: number;
  botName?: string;
  /** Delay before a failed webhook delivery is retried (ms, default 300). */
  webhookRetryMs?: number;
  /**
   * Answer every getUpdates at once, whatever its `timeout` asks, like a proxy or a server that
   * does not support long polling.
   */
  ignorePollTimeout?: boolean;
}

export interface Injector {
  /** The next `n` calls of `method` ('*' = any) answer with this error. */
  failNext(method: string, n: number, error: ApiError): void;
  /** The next `n` requests (of `method` when given) have their socket destroyed without an answer. */
  dropConnections(n: number, method?: string): void;
  /** The next `n` getUpdates requests (default 1) are held forever: no answer, no timeout. */
  stallGetUpdates(n?: number): void;
  /** Clears every pending injection. */
  reset(): void;
}

export interface TelegramServer {
  /** e.g. http://127.0.0.1:34567 (no trailing slash, as grammy's apiRoot needs). */
  readonly apiRoot: string;
  readonly token: string;
  readonly bot: User & { username: string };
  readonly make: UpdateBuilders;
  /** Queues an update (assigning update_id when missing) and returns its update_id. */
  pushUpdate(update: Update | Omit<Update, 'update_id'>): number;
  /**
   * Queues any JSON value exactly as given, as a broken server or proxy would deliver it (by
   * getUpdates or webhook). Returns its place in the queue: its update_id when that is a positive
   * safe integer, else the next free id, which a poller confirms by moving its offset past it.
   */
  pushRaw(body: unknown): number;
  /** Every call the bot made except getUpdates. */
  readonly sent: SentCall[];
  /** Every request, getUpdates included, with its outcome ('ok', 'error', 'dropped', 'stalled', 'aborted'). */
  readonly calls: Array<{ method: string; outcome: string; params: Record<string, unknown>; at: number }>;
  /** The visible message list of a chat (user and bot messages, after edits). */
  chat(chatId: number | string): VisibleMessage[];
  readonly inject: Injector;
  readonly webhook: WebhookState | undefined;
  readonly webhookDeliveries: Array<{ update_id: number; status: number }>;
  readonly stats: {
    /** getUpdates requests in flight now. */
    activePolls: number;
    /** The most getUpdates in flight at once on the bot's token. */
    maxActivePolls: number;
    /** 409 answers given because a second poller arrived or a webhook was set. */
    conflicts: number;
    /** Updates confirmed through getUpdates offsets. */
    confirmed: number;
  };
  /** Updates queued and not yet confirmed (raw pushes as they were pushed). */
  pending(): Update[];
  /** Resolves when a call matching `pred` has been recorded (checks earlier calls too). */
  waitFor(pred: (c: SentCall) => boolean, ms?: number): Promise<SentCall>;
  /** Resolves after the next getUpdates request arrives (counting from now). */
  nextPoll(ms?: number): Promise<Record<string, unknown>>;
  /** Registers bytes as a Telegram file and returns its file_id. */
  addFile(data: Buffer, opts?: { path?: string }): string;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// the server
// ---------------------------------------------------------------------------------------------

const TEXT_LIMIT = 4096;
const CAPTION_LIMIT = 1024;
const MAX_BODY = 60 * 1024 * 1024;

type Params = Record<string, unknown>;
type Answer = { ok: true; result: unknown } | ({ ok: false } & ApiError);

interface HeldPoll {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  offset: number;
  limit: number;
  timer?: NodeJS.Timeout;
  stalled: boolean;
  /** The socket 'close' listener, removed when the poll is answered (keep-alive sockets live on). */
  onClose?: () => void;
}

interface StoredFile {
  file_id: string;
  file_unique_id: string;
  file_path: string;
  data: Buffer;
}

class HttpError extends Error {
  constructor(readonly answer: ApiError) {
    super(answer.description);
  }
}

const bad = (description: string): HttpError => new HttpError({ error_code: 400, description: `Bad Request: ${description}` });

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** Form and multipart fields arrive as strings; JSON-looking ones are objects grammy serialized. */
function coerceField(v: string): unknown {
  if (/^[[{]/.test(v)) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

function parseMultipart(body: Buffer, boundary: string): { fields: Params; files: Record<string, { filename: string; size: number; data: Buffer }> } {
  const fields: Params = {};
  const files: Record<string, { filename: string; size: number; data: Buffer }> = {};
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const start = pos + delim.length;
    if (body.slice(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delim, start);
    if (next < 0) break;
    // part = \r\n headers \r\n\r\n content \r\n
    const part = body.slice(start + 2, next - 2);
    const sep = part.indexOf('\r\n\r\n');
    const head = part.slice(0, sep).toString('utf8');
    const content = part.slice(sep + 4);
    const name = /name="?([^";\r\n]+)"?/i.exec(head)?.[1];
    const filename = /filename="?([^";\r\n]+)"?/i.exec(head)?.[1];
    if (name) {
      if (filename !== undefined) files[name] = { filename, size: content.length, data: Buffer.from(content) };
      else fields[name] = coerceField(content.toString('utf8'));
    }
    pos = next;
  }
  return { fields, files };
}

export async function startTelegramServer(options: TelegramServerOptions): Promise<TelegramServer> {
  const token = options.token;
  const bot: User & { username: string } = {
    id: options.botId ?? 7000000001,
    is_bot: true,
    first_name: options.botName ?? 'Test Bot',
    username: options.botUsername ?? 'chatgate_test_bot',
  };
  const webhookRetryMs = options.webhookRetryMs ?? 300;
  const ignorePollTimeout = options.ignorePollTimeout === true;

  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const sent: SentCall[] = [];
  const calls: TelegramServer['calls'] = [];
  const sentWaiters: Array<{ pred: (c: SentCall) => boolean; resolve: (c: SentCall) => void }> = [];
  const pollWaiters: Array<(p: Params) => void> = [];
  /** `seq` orders the queue and is what offsets confirm: the update_id, or a stand-in for a raw body without one. */
  const queue: Array<{ seq: number; body: unknown }> = [];
  let nextUpdateId = 100001;
  const polls = new Set<HeldPoll>();
  const stats = { activePolls: 0, maxActivePolls: 0, conflicts: 0, confirmed: 0 };
  let webhook: WebhookState | undefined;
  const webhookDeliveries: TelegramServer['webhookDeliveries'] = [];
  let delivering = false;
  let closed = false;

  const chats = new Map<string, { ref: ChatRef; messages: VisibleMessage[]; nextId: number }>();
  const messagesById = new Map<string, Message>(); // `${chat}:${id}` -> message object as sent
  const files = new Map<string, StoredFile>();
  const callbackIds = new Set<string>();

  const failures: Array<{ method: string; n: number; error: ApiError }> = [];
  const drops: Array<{ method?: string; n: number }> = [];
  let stalls = 0;

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };

  function chatState(id: number | string, ref?: ChatRef) {
    const key = String(id);
    let c = chats.get(key);
    if (!c) {
      const n = Number(key);
      c = { ref: ref ?? { id: n, type: n > 0 ? 'private' : 'supergroup' }, messages: [], nextId: 1 };
      chats.set(key, c);
    } else if (ref) {
      c.ref = { ...c.ref, ...ref };
    }
    return c;
  }

  function chatObject(ref: ChatRef, user?: User): Chat {
    if (ref.type === 'private') return { id: ref.id, type: 'private', first_name: user?.first_name ?? 'User', ...(user?.username ? { username: user.username } : {}) };
    if (ref.type === 'supergroup') return { id: ref.id, type: 'supergroup', title: ref.title ?? 'Group', ...(ref.is_forum ? { is_forum: true } : {}) } as Chat;
    if (ref.type === 'group') return { id: ref.id, type: 'group', title: ref.title ?? 'Group' };
    return { id: ref.id, type: 'channel', title: ref.title ?? 'Channel' };
  }

  // --- recording ---------------------------------------------------------------------------

  function record(method: string, params: Params, answer: Answer, uploads?: SentCall['files']): void {
    const call: SentCall = {
      method,
      params,
      ok: answer.ok,
      at: Date.now(),
      ...(params.chat_id !== undefined ? { chat_id: String(params.chat_id) } : {}),
      ...(typeof params.text === 'string' ? { text: params.text } : {}),
      ...(typeof params.caption === 'string' ? { caption: params.caption } : {}),
      ...(typeof params.parse_mode === 'string' ? { parse_mode: params.parse_mode } : {}),
      ...(typeof params.action === 'string' ? { action: params.action } : {}),
      ...(params.reply_markup !== undefined ? { reply_markup: params.reply_markup } : {}),
      ...(uploads && Object.keys(uploads).length ? { files: uploads } : {}),
    };
    const mid = num(params.message_id) ?? (answer.ok ? (answer.result as { message_id?: number } | undefined)?.message_id : undefined);
    if (mid !== undefined) call.message_id = mid;
    const thread = num(params.message_thread_id);
    if (thread !== undefined) call.message_thread_id = thread;
    const replyTo = num((params.reply_parameters as { message_id?: unknown } | undefined)?.message_id) ?? num(params.reply_to_message_id);
    if (replyTo !== undefined) call.reply_to_message_id = replyTo;
    if (!answer.ok) call.error = { error_code: answer.error_code, description: answer.description, ...(answer.retry_after ? { retry_after: answer.retry_after } : {}) };
    sent.push(call);
    for (const w of [...sentWaiters]) {
      if (w.pred(call)) {
        sentWaiters.splice(sentWaiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
  }

  // --- updates -----------------------------------------------------------------------------

  function rememberUserMessage(m: Message): void {
    const c = chatState(m.chat.id, { id: m.chat.id, type: m.chat.type, ...('is_forum' in m.chat && m.chat.is_forum ? { is_forum: true } : {}) });
    c.nextId = Math.max(c.nextId, m.message_id + 1);
    messagesById.set(`${m.chat.id}:${m.message_id}`, m);
    const existing = c.messages.find((v) => v.messageId === m.message_id);
    const text = m.text ?? m.caption ?? '';
    if (existing) {
      existing.text = text;
      existing.raw = text;
      existing.edits += 1;
      return;
    }
    c.messages.push({
      messageId: m.message_id,
      fromBot: m.from?.is_bot === true && m.from.id === bot.id,
      kind: m.text !== undefined ? 'text' : m.photo ? 'photo' : m.document ? 'document' : 'other',
      text,
      raw: text,
      entities: m.entities ?? m.caption_entities ?? [],
      ...(m.message_thread_id !== undefined ? { threadId: m.message_thread_id } : {}),
      ...(m.reply_to_message ? { replyTo: m.reply_to_message.message_id } : {}),
      edits: 0,
    });
  }

  function pushUpdate(input: Update | Omit<Update, 'update_id'>): number {
    const update = { ...input } as Update;
    if (typeof update.update_id !== 'number') update.update_id = nextUpdateId++;
    else nextUpdateId = Math.max(nextUpdateId, update.update_id + 1);
    const m = update.message ?? update.edited_message;
    if (m) rememberUserMessage(m);
    if (update.callback_query) callbackIds.add(update.callback_query.id);
    return enqueue(update.update_id, update);
  }

  function pushRaw(body: unknown): number {
    const id = (body as { update_id?: unknown } | null)?.update_id;
    const seq = Number.isSafeInteger(id) && (id as number) > 0 ? (id as number) : nextUpdateId;
    nextUpdateId = Math.max(nextUpdateId, seq + 1);
    return enqueue(seq, body);
  }

  function enqueue(seq: number, body: unknown): number {
    queue.push({ seq, body });
    if (webhook) void deliverWebhook();
    else answerPolls();
    return seq;
  }

  function available(offset: number, limit: number): unknown[] {
    return queue
      .filter((q) => q.seq >= offset)
      .slice(0, limit)
      .map((q) => q.body);
  }

  function confirm(offset: number): void {
    // Telegram forgets every update below the offset the client confirms.
    for (let i = queue.length - 1; i >= 0; i--) {
      if (queue[i].seq < offset) {
        queue.splice(i, 1);
        stats.confirmed += 1;
      }
    }
  }

  function finishPoll(p: HeldPoll, answer: Answer, outcome: string): void {
    if (!polls.delete(p)) return;
    stats.activePolls = polls.size;
    if (p.onClose) p.req.socket.removeListener('close', p.onClose);
    if (p.timer) clearTimeout(p.timer);
    if (p.timer) timers.delete(p.timer);
    calls.push({ method: 'getUpdates', outcome, params: { offset: p.offset, limit: p.limit }, at: Date.now() });
    writeAnswer(p.res, answer);
  }

  function answerPolls(): void {
    for (const p of [...polls]) {
      if (p.stalled) continue;
      const ups = available(p.offset, p.limit);
      if (ups.length) finishPoll(p, { ok: true, result: ups }, 'ok');
    }
  }

  function conflict(p: HeldPoll, description: string): void {
    stats.conflicts += 1;
    finishPoll(p, { ok: false, error_code: 409, description }, 'error');
  }

  async function deliverWebhook(): Promise<void> {
    if (delivering || !webhook || closed) return;
    delivering = true;
    try {
      while (webhook && queue.length && !closed) {
        const { seq, body } = queue[0];
        const status = await postUpdate(webhook, body);
        webhookDeliveries.push({ update_id: seq, status });
        if (status >= 200 && status < 300) {
          queue.shift();
          stats.confirmed += 1;
        } else {
          later(webhookRetryMs, () => void deliverWebhook());
          break;
        }
      }
    } finally {
      delivering = false;
    }
  }

  function postUpdate(hook: WebhookState, update: unknown): Promise<number> {
    return new Promise((resolve) => {
      const body = JSON.stringify(update);
      let req: http.ClientRequest;
      try {
        req = http.request(hook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(hook.secret_token ? { 'x-telegram-bot-api-secret-token': hook.secret_token } : {}),
          },
          agent: false,
        });
      } catch {
        return resolve(0);
      }
      req.setTimeout(5000, () => req.destroy());
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end(body);
    });
  }

  // --- methods -----------------------------------------------------------------------------

  function checkText(params: Params, field: 'text' | 'caption', limit: number): { text: string; entities: MessageEntity[] } {
    const raw = params[field];
    if (raw === undefined || raw === null || raw === '') {
      if (field === 'text') throw bad('message text is empty');
      return { text: '', entities: [] };
    }
    const source = String(raw);
    const mode = params.parse_mode;
    let text = source;
    let entities: MessageEntity[] = [];
    if (mode === 'HTML') {
      const parsed = parseTelegramHtml(source);
      if (!parsed.ok) throw bad(`can't parse entities: ${parsed.error}`);
      ({ text, entities } = parsed);
    } else if (mode !== undefined && mode !== 'MarkdownV2' && mode !== 'Markdown') {
      throw bad(`unsupported parse_mode`);
    }
    if (field === 'text' && text.trim() === '') throw bad('message text is empty');
    if (text.length > limit) throw bad(field === 'text' ? 'message is too long' : 'message caption is too long');
    return { text, entities };
  }

  function chatIdOf(params: Params): string {
    const id = params.chat_id;
    if (id === undefined || id === null || id === '') throw bad('chat_id is empty');
    if (!/^-?\d+$/.test(String(id)) && !String(id).startsWith('@')) throw bad('chat not found');
    return String(id);
  }

  function replyTarget(chatKey: string, params: Params): Message | undefined {
    const rp = params.reply_parameters as { message_id?: unknown; allow_sending_without_reply?: boolean } | undefined;
    const id = num(rp?.message_id) ?? num(params.reply_to_message_id);
    if (id === undefined) return undefined;
    const m = messagesById.get(`${chatKey}:${id}`);
    if (!m && !(rp?.allow_sending_without_reply || params.allow_sending_without_reply)) throw bad('message to be replied not found');
    return m;
  }

  function newBotMessage(chatKey: string, params: Params, extra: Partial<Message>, visible: Omit<VisibleMessage, 'messageId' | 'fromBot' | 'edits' | 'threadId' | 'replyTo'>): Message {
    const c = chatState(chatKey);
    const reply = replyTarget(chatKey, params);
    const thread = num(params.message_thread_id);
    const message = {
      message_id: c.nextId++,
      date: now(),
      chat: chatObject(c.ref),
      from: bot,
      ...(thread !== undefined ? { message_thread_id: thread, is_topic_message: true } : {}),
      ...(reply ? { reply_to_message: reply } : {}),
      ...(params.reply_markup ? { reply_markup: params.reply_markup } : {}),
      ...extra,
    } as Message;
    messagesById.set(`${chatKey}:${message.message_id}`, message);
    c.messages.push({
      messageId: message.message_id,
      fromBot: true,
      edits: 0,
      ...(thread !== undefined ? { threadId: thread } : {}),
      ...(reply ? { replyTo: reply.message_id } : {}),
      ...visible,
    });
    return message;
  }

  function upload(params: Params, field: string, uploads: SentCall['files'], fallbackName: string): { size: number; name: string; data: Buffer } {
    const v = params[field];
    if (typeof v === 'string' && v.startsWith('attach://')) {
      const f = uploads?.[v.slice('attach://'.length)];
      if (!f) throw bad(`file must be non-empty`);
      return { size: f.size, name: f.filename, data: f.data };
    }
    if (typeof v === 'string' && v) {
      const known = files.get(v);
      if (known) return { size: known.data.length, name: known.file_path, data: known.data };
      if (/^https?:\/\//.test(v)) return { size: 0, name: v.split('/').pop() || fallbackName, data: Buffer.alloc(0) };
      throw bad('wrong file identifier/HTTP URL specified');
    }
    throw bad(`there is no ${field} in the request`);
  }

  function addFile(data: Buffer, opts: { path?: string } = {}): string {
    const id = `F${randomBytes(12).toString('hex')}`;
    files.set(id, { file_id: id, file_unique_id: `U${id.slice(1, 13)}`, file_path: opts.path ?? `documents/file_${files.size + 1}`, data });
    return id;
  }

  const methods: Record<string, (params: Params, uploads?: SentCall['files']) => unknown> = {
    getMe: () => ({ ...bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }),
    logOut: () => true,
    close: () => true,
    setWebhook: (params) => {
      const url = String(params.url ?? '');
      if (url === '') {
        webhook = undefined;
        return true;
      }
      if (!/^https?:\/\//.test(url)) throw bad('bad webhook: An HTTPS URL must be provided for webhook');
      if (params.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(params.secret_token))) {
        throw bad('bad webhook: secret token contains unallowed characters');
      }
      if (params.drop_pending_updates === true || params.drop_pending_updates === 'true') queue.length = 0;
      webhook = {
        url,
        ...(params.secret_token ? { secret_token: String(params.secret_token) } : {}),
        ...(Array.isArray(params.allowed_updates) ? { allowed_updates: params.allowed_updates as string[] } : {}),
      };
      for (const p of [...polls]) conflict(p, 'Conflict: terminated by setWebhook request');
      void deliverWebhook();
      return true;
    },
    deleteWebhook: (params) => {
      webhook = undefined;
      if (params.drop_pending_updates === true || params.drop_pending_updates === 'true') queue.length = 0;
      return true;
    },
    getWebhookInfo: () => ({
      url: webhook?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: queue.length,
      ...(webhook?.allowed_updates ? { allowed_updates: webhook.allowed_updates } : {}),
    }),
    sendMessage: (params) => {
      const chatKey = chatIdOf(params);
      const { text, entities } = checkText(params, 'text', TEXT_LIMIT);
      return newBotMessage(chatKey, params, { text, ...(entities.length ? { entities } : {}) }, {
        kind: 'text',
        text,
        raw: String(params.text),
        entities,
        ...(typeof params.parse_mode === 'string' ? { parseMode: params.parse_mode } : {}),
        ...(params.reply_markup ? { replyMarkup: params.reply_markup } : {}),
      });
    },
    editMessageText: (params) => {
      const chatKey = chatIdOf(params);
      const id = num(params.message_id);
      if (id === undefined) throw bad('message identifier is not specified');
      const m = messagesById.get(`${chatKey}:${id}`);
      const shown = chats.get(chatKey)?.messages.find((v) => v.messageId === id);
      if (!m || !shown) throw bad('message to edit not found');
      if (!shown.fromBot) throw bad("message can't be edited");
      if (shown.kind !== 'text') throw bad('there is no text in the message to edit');
      const { text, entities } = checkText(params, 'text', TEXT_LIMIT);
      const sameMarkup = JSON.stringify(params.reply_markup ?? null) === JSON.stringify(shown.replyMarkup ?? null);
      if (text === shown.text && JSON.stringify(entities) === JSON.stringify(shown.entities) && sameMarkup) {
        throw bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
      }
      shown.text = text;
      shown.raw = String(params.text);
      shown.entities = entities;
      shown.edits += 1;
      if (typeof params.parse_mode === 'string') shown.parseMode = params.parse_mode;
      else delete shown.parseMode;
      if (params.reply_markup) shown.replyMarkup = params.reply_markup;
      else delete shown.replyMarkup;
      const edited = { ...m, text, entities, edit_date: now(), ...(params.reply_markup ? { reply_markup: params.reply_markup } : {}) } as Message;
      messagesById.set(`${chatKey}:${id}`, edited);
      return edited;
    },
    sendChatAction: (params) => {
      chatIdOf(params);
      if (!params.action) throw bad('wrong parameter action in request');
      return true;
    },
    sendPhoto: (params, uploads) => {
      const chatKey = chatIdOf(params);
      const cap = checkText(params, 'caption', CAPTION_LIMIT);
      const f = upload(params, 'photo', uploads, 'photo.jpg');
      const fileId = addFile(f.data, { path: `photos/${f.name}` });
      const photo = [{ file_id: fileId, file_unique_id: `U${fileId.slice(1, 13)}`, width: 800, height: 600, file_size: f.size }];
      return newBotMessage(chatKey, params, { photo, ...(cap.text ? { caption: cap.text } : {}) }, {
        kind: 'photo',
        text: cap.text,
        raw: String(params.caption ?? ''),
        entities: cap.entities,
        file: { name: f.name, size: f.size },
      });
    },
    sendDocument: (params, uploads) => {
      const chatKey = chatIdOf(params);
      const cap = checkText(params, 'caption', CAPTION_LIMIT);
      const f = upload(params, 'document', uploads, 'document.dat');
      const fileId = addFile(f.data, { path: `documents/${f.name}` });
      const document = { file_id: fileId, file_unique_id: `U${fileId.slice(1, 13)}`, file_name: f.name, file_size: f.size };
      return newBotMessage(chatKey, params, { document, ...(cap.text ? { caption: cap.text } : {}) }, {
        kind: 'document',
        text: cap.text,
        raw: String(params.caption ?? ''),
        entities: cap.entities,
        file: { name: f.name, size: f.size },
      });
    },
    getFile: (params) => {
      const f = files.get(String(params.file_id ?? ''));
      if (!f) throw bad('invalid file_id');
      if (f.data.length > 20 * 1024 * 1024) throw bad('file is too big');
      return { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.data.length, file_path: f.file_path };
    },
    answerCallbackQuery: (params) => {
      const id = String(params.callback_query_id ?? '');
      if (!callbackIds.delete(id)) throw bad('query is too old and response timeout expired or query ID is invalid');
      return true;
    },
  };

  // --- HTTP --------------------------------------------------------------------------------

  function writeAnswer(res: http.ServerResponse, answer: Answer): void {
    if (res.writableEnded || res.destroyed) return;
    const body = answer.ok
      ? { ok: true, result: answer.result }
      : {
          ok: false,
          error_code: answer.error_code,
          description: answer.description,
          ...(answer.retry_after !== undefined ? { parameters: { retry_after: answer.retry_after } } : {}),
        };
    const text = JSON.stringify(body);
    res.writeHead(answer.ok ? 200 : answer.error_code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy();
        else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
      req.on('aborted', () => reject(new Error('aborted')));
    });
  }

  async function parseParams(req: http.IncomingMessage, url: URL): Promise<{ params: Params; uploads: SentCall['files'] }> {
    const params: Params = {};
    for (const [k, v] of url.searchParams) params[k] = coerceField(v);
    const body = await readBody(req);
    const type = String(req.headers['content-type'] ?? '');
    if (body.length === 0) return { params, uploads: {} };
    if (type.startsWith('application/json')) {
      const parsed = JSON.parse(body.toString('utf8')) as unknown;
      if (parsed && typeof parsed === 'object') Object.assign(params, parsed);
      return { params, uploads: {} };
    }
    if (type.startsWith('multipart/form-data')) {
      const boundary = /boundary=("?)([^";]+)\1/.exec(type)?.[2] ?? '';
      const { fields, files: parts } = parseMultipart(body, boundary);
      return { params: { ...params, ...fields }, uploads: parts };
    }
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = coerceField(v);
    return { params, uploads: {} };
  }

  function takeInjection<T extends { method?: string; n: number }>(list: T[], method: string): T | undefined {
    const i = list.findIndex((f) => f.method === undefined || f.method === '*' || f.method === method);
    if (i < 0) return undefined;
    const f = list[i];
    f.n -= 1;
    if (f.n <= 0) list.splice(i, 1);
    return f;
  }

  async function handleGetUpdates(req: http.IncomingMessage, res: http.ServerResponse, params: Params): Promise<void> {
    const offset = num(params.offset) ?? 0;
    const limit = Math.min(Math.max(num(params.limit) ?? 100, 1), 100);
    const timeout = Math.max(num(params.timeout) ?? 0, 0);
    for (const w of pollWaiters.splice(0)) w(params);
    if (webhook) {
      stats.conflicts += 1;
      calls.push({ method: 'getUpdates', outcome: 'error', params, at: Date.now() });
      return writeAnswer(res, { ok: false, error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" });
    }
    if (offset > 0) confirm(offset);
    // A poller whose client just aborted may not have had its socket 'close' processed yet; give
    // the event loop a moment so a stop-then-restart is not mistaken for a second poller.
    if ([...polls].some((p) => !p.req.socket.destroyed)) await new Promise((r) => later(25, () => r(undefined)));
    for (const p of [...polls]) {
      if (p.req.socket.destroyed) finishPoll(p, { ok: false, error_code: 499, description: 'aborted' }, 'aborted');
      else conflict(p, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
    }
    const poll: HeldPoll = { req, res, offset, limit, stalled: false };
    polls.add(poll);
    stats.activePolls = polls.size;
    stats.maxActivePolls = Math.max(stats.maxActivePolls, polls.size);
    poll.onClose = () => {
      if (polls.has(poll)) {
        polls.delete(poll);
        stats.activePolls = polls.size;
        if (poll.timer) clearTimeout(poll.timer);
        calls.push({ method: 'getUpdates', outcome: poll.stalled ? 'stalled' : 'aborted', params, at: Date.now() });
      }
    };
    req.socket.once('close', poll.onClose);
    if (stalls > 0) {
      stalls -= 1;
      poll.stalled = true;
      return;
    }
    const ups = available(offset, limit);
    if (ups.length || timeout === 0 || ignorePollTimeout) return finishPoll(poll, { ok: true, result: ups }, 'ok');
    poll.timer = later(timeout * 1000, () => finishPoll(poll, { ok: true, result: available(offset, limit) }, 'ok'));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (file && req.method === 'GET') {
      if (file[1] !== token) return writeAnswer(res, { ok: false, error_code: 401, description: 'Unauthorized' });
      const f = [...files.values()].find((x) => x.file_path === decodeURIComponent(file[2]));
      if (!f) return writeAnswer(res, { ok: false, error_code: 404, description: 'Not Found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.data.length });
      return void res.end(f.data);
    }
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!m) return writeAnswer(res, { ok: false, error_code: 404, description: 'Not Found' });
    const [, callToken, method] = m;

    const drop = takeInjection(drops, method);
    if (drop) {
      calls.push({ method, outcome: 'dropped', params: {}, at: Date.now() });
      req.socket.destroy();
      return;
    }
    if (callToken !== token) {
      req.resume();
      calls.push({ method, outcome: 'error', params: {}, at: Date.now() });
      return writeAnswer(res, { ok: false, error_code: 401, description: 'Unauthorized' });
    }
    let parsed: { params: Params; uploads: SentCall['files'] };
    try {
      parsed = await parseParams(req, url);
    } catch {
      if (!res.headersSent && !req.socket.destroyed) writeAnswer(res, { ok: false, error_code: 400, description: "Bad Request: can't parse request body" });
      return;
    }
    const { params, uploads } = parsed;
    const failure = takeInjection(failures, method);
    if (failure) {
      const answer: Answer = { ok: false, ...failure.error };
      calls.push({ method, outcome: 'error', params, at: Date.now() });
      if (method !== 'getUpdates') record(method, params, answer, uploads);
      return writeAnswer(res, answer);
    }
    if (method === 'getUpdates') return handleGetUpdates(req, res, params);
    const impl = methods[method];
    if (!impl) {
      calls.push({ method, outcome: 'error', params, at: Date.now() });
      return writeAnswer(res, { ok: false, error_code: 404, description: 'Not Found: method not found' });
    }
    let answer: Answer;
    try {
      answer = { ok: true, result: impl(params, uploads) };
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      answer = { ok: false, ...err.answer };
    }
    calls.push({ method, outcome: answer.ok ? 'ok' : 'error', params, at: Date.now() });
    record(method, params, answer, uploads);
    writeAnswer(res, answer);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => writeAnswer(res, { ok: false, error_code: 500, description: `Internal Server Error: ${err.message}` }));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  // --- update builders -----------------------------------------------------------------------

  let nextUserMessageId = 1000;
  const defaultUser: User = { id: 1001, is_bot: false, first_name: 'Alice', username: 'alice' };

  function baseMessage(opts: MessageOptions = {}): Message {
    const from: User = { ...defaultUser, ...opts.from } as User;
    const ref: ChatRef = opts.chat ?? { id: from.id, type: 'private' };
    const c = chatState(ref.id, ref);
    const id = opts.messageId ?? Math.max(nextUserMessageId++, c.nextId);
    c.nextId = Math.max(c.nextId, id + 1);
    const key = String(ref.id);
    const reply =
      opts.replyTo === undefined ? undefined : typeof opts.replyTo === 'number' ? messagesById.get(`${key}:${opts.replyTo}`) ?? ({ message_id: opts.replyTo, date: now(), chat: chatObject(ref) } as Message) : opts.replyTo;
    return {
      message_id: id,
      date: opts.date ?? now(),
      chat: chatObject(ref, from),
      from,
      ...(opts.threadId !== undefined ? { message_thread_id: opts.threadId, is_topic_message: true } : {}),
      ...(reply ? { reply_to_message: reply } : {}),
    } as Message;
  }

  /** bot_command and mention entities, as Telegram computes them from the text. */
  function autoEntities(text: string): MessageEntity[] {
    const out: MessageEntity[] = [];
    const cmd = /^\/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?/.exec(text);
    if (cmd) out.push({ type: 'bot_command', offset: 0, length: cmd[0].length });
    const re = /(^|[^A-Za-z0-9_/])@([A-Za-z0-9_]{5,32})/g;
    for (let m = re.exec(text); m; m = re.exec(text)) out.push({ type: 'mention', offset: m.index + m[1].length, length: m[2].length + 1 });
    return out;
  }

  function media(kind: 'photo' | 'document' | 'voice' | 'audio' | 'video', opts: MediaOptions & { duration?: number; title?: string } = {}): Update {
    const m = baseMessage(opts);
    const fields = m as unknown as Record<string, unknown>;
    const data = opts.data ?? randomBytes(kind === 'photo' ? 2048 : 512);
    const ext = { photo: 'jpg', document: 'pdf', voice: 'oga', audio: 'mp3', video: 'mp4' }[kind];
    const folder = { photo: 'photos', document: 'documents', voice: 'voice', audio: 'music', video: 'videos' }[kind];
    const id = addFile(data, { path: `${folder}/file_${files.size + 1}.${ext}` });
    const unique = `U${id.slice(1, 13)}`;
    if (kind === 'photo') {
      const small = addFile(data.subarray(0, Math.max(1, Math.floor(data.length / 8))), { path: `photos/thumb_${files.size + 1}.jpg` });
      m.photo = [
        { file_id: small, file_unique_id: `U${small.slice(1, 13)}`, width: 90, height: 67, file_size: Math.max(1, Math.floor(data.length / 8)) },
        { file_id: id, file_unique_id: unique, width: 1280, height: 960, file_size: data.length },
      ];
    } else {
      const mime = opts.mimeType ?? { document: 'application/pdf', voice: 'audio/ogg', audio: 'audio/mpeg', video: 'video/mp4' }[kind];
      fields[kind] = {
        file_id: id,
        file_unique_id: unique,
        file_size: data.length,
        mime_type: mime,
        ...(kind === 'document' || kind === 'audio' || kind === 'video' ? { file_name: opts.fileName ?? `${kind}.${ext}` } : {}),
        ...(kind !== 'document' ? { duration: opts.duration ?? 3 } : {}),
        ...(kind === 'video' ? { width: 640, height: 480 } : {}),
        ...(kind === 'audio' && opts.title ? { title: opts.title } : {}),
      };
    }
    if (opts.caption !== undefined) {
      m.caption = opts.caption;
      const ents = opts.entities ?? autoEntities(opts.caption);
      if (ents.length) m.caption_entities = ents;
    }
    return { update_id: 0, message: m } as Update;
  }

  const make: UpdateBuilders = {
    text(text, opts = {}) {
      const m = baseMessage(opts);
      m.text = text;
      const ents = opts.entities ?? autoEntities(text);
      if (ents.length) m.entities = ents;
      return { update_id: 0, message: m } as Update;
    },
    command(command, opts = {}) {
      return make.text(command.startsWith('/') ? command : `/${command}`, opts);
    },
    photo: (opts) => media('photo', opts),
    document: (opts) => media('document', opts),
    voice: (opts) => media('voice', opts),
    audio: (opts) => media('audio', opts),
    video: (opts) => media('video', opts),
    location(latitude, longitude, opts = {}) {
      const m = baseMessage(opts);
      m.location = { latitude, longitude };
      return { update_id: 0, message: m } as Update;
    },
    callback(data, opts = {}) {
      const from: User = { ...defaultUser, ...opts.from } as User;
      const ref: ChatRef = opts.chat ?? { id: from.id, type: 'private' };
      const key = String(ref.id);
      let message: Message | undefined;
      if (typeof opts.message === 'object') message = opts.message;
      else if (typeof opts.message === 'number') message = messagesById.get(`${key}:${opts.message}`);
      else {
        const last = [...(chats.get(key)?.messages ?? [])].reverse().find((v) => v.fromBot);
        message = last ? messagesById.get(`${key}:${last.messageId}`) : undefined;
      }
      message ??= { message_id: 1, date: now(), chat: chatObject(ref, from), from: bot, text: 'buttons' } as Message;
      const q: CallbackQuery = { id: randomBytes(8).toString('hex'), from, chat_instance: `ci${ref.id}`, data, message } as CallbackQuery;
      return { update_id: 0, callback_query: q } as Update;
    },
    edited(messageId, text, opts = {}) {
      const m = baseMessage({ ...opts, messageId });
      m.text = text;
      const ents = opts.entities ?? autoEntities(text);
      if (ents.length) m.entities = ents;
      (m as Message & { edit_date: number }).edit_date = now();
      return { update_id: 0, edited_message: m } as Update;
    },
  };

  // The builders leave update_id 0 so pushUpdate numbers them; strip it here to keep that contract.
  const wrap =
    <A extends unknown[]>(fn: (...a: A) => Update) =>
    (...a: A): Update => {
      const u = fn(...a);
      delete (u as Partial<Update>).update_id;
      return u;
    };
  for (const k of Object.keys(make) as Array<keyof UpdateBuilders>) {
    (make as unknown as Record<string, unknown>)[k] = wrap(make[k] as (...a: unknown[]) => Update);
  }

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    token,
    bot,
    make,
    pushUpdate,
    pushRaw,
    sent,
    calls,
    chat: (chatId) => chats.get(String(chatId))?.messages ?? [],
    inject: {
      failNext: (method, n, error) => void failures.push({ method, n, error }),
      dropConnections: (n, method) => void drops.push({ n, ...(method ? { method } : {}) }),
      stallGetUpdates: (n = 1) => void (stalls += n),
      reset: () => {
        failures.length = 0;
        drops.length = 0;
        stalls = 0;
      },
    },
    get webhook() {
      return webhook;
    },
    webhookDeliveries,
    stats,
    pending: () => queue.map((q) => q.body as Update),
    waitFor(pred, ms = 3000) {
      const found = sent.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (c: SentCall) => {
            clearTimeout(t);
            timers.delete(t);
            resolve(c);
          },
        };
        const t = later(ms, () => {
          sentWaiters.splice(sentWaiters.indexOf(w), 1);
          reject(new Error(`no matching call within ${ms} ms; calls: ${sent.map((c) => c.method).join(', ')}`));
        });
        sentWaiters.push(w);
      });
    },
    nextPoll(ms = 3000) {
      return new Promise((resolve, reject) => {
        const t = later(ms, () => reject(new Error(`no getUpdates within ${ms} ms`)));
        pollWaiters.push((p) => {
          clearTimeout(t);
          timers.delete(t);
          resolve(p);
        });
      });
    },
    addFile,
    async close() {
      closed = true;
      for (const p of [...polls]) finishPoll(p, { ok: true, result: [] }, 'ok');
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
