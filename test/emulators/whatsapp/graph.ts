/**
 * The Graph API routes a WhatsApp integration calls, as the Cloud API answers them:
 * `POST /{v}/{phone-number-id}/messages` (sends, and read receipts with a typing indicator),
 * `POST /{v}/{phone-number-id}/media` (multipart upload), `GET|DELETE /{v}/{media-id}`,
 * `GET /{v}/{phone-number-id}`, and the lookaside URL media downloads come from. It enforces the
 * bearer token (190), the 24-hour window (131047), the pair rate (131056) and throughput (130429)
 * and applies the injections, in this order: token, slow, then the first of error / html /
 * refuse / drop queued for the call.
 */
import type * as http from 'node:http';
import { checkSend, type SendContext } from './checks';
import { badToken, GraphError, HTML_502, invalid, metaError, required, revokedToken, unsupported } from './errors';
import { readBody, writeBytes, writeJson } from './http';
import { WINDOW_MS, type UserRecord, type WhatsAppState } from './state';
import type { ApiCall, CallOp, DownloadRecord, InjectTarget, Json, PhoneItem, ReadReceipt, TemplateSpec, UploadRecord, WhatsAppInjector } from './types';

const VERSION = /^v\d+\.\d+$/;
const BSUID = /^[A-Z]{2}\.[A-Za-z0-9]+$/;
/** What a send body may be besides media (Meta's own limit is far above any JSON a bot sends). */
const MAX_JSON = 4 * 1024 * 1024;

export interface GraphDeps {
  state: WhatsAppState;
  token: string;
  templates: TemplateSpec[];
  pairRateMs: number;
  throughputPerSecond: number;
  maxMediaBytes: number;
  record(call: ApiCall): void;
  readReceipts: ReadReceipt[];
  uploads: UploadRecord[];
  downloads: DownloadRecord[];
  accepted(rec: UserRecord, item: PhoneItem): void;
  /** A closeable wait (false when the emulator closed meanwhile). */
  sleep(ms: number): Promise<boolean>;
}

type Kind = 'error' | 'html' | 'drop' | 'refuse' | 'slow';
interface Injection {
  kind: Kind;
  on: InjectTarget;
  n: number;
  code?: number;
  details?: string;
  ms?: number;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  messageId?: string;
  user?: UserRecord;
}

const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

function targetOf(op: CallOp): InjectTarget | undefined {
  if (op === 'send') return 'messages';
  if (op === 'read') return 'read';
  if (op === 'upload' || op === 'media' || op === 'deleteMedia') return 'media';
  return undefined;
}

function bearer(req: http.IncomingMessage, url: URL): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1] ?? url.searchParams.get('access_token') ?? undefined;
}

export function createGraph(deps: GraphDeps) {
  const { state } = deps;
  const injections: Injection[] = [];
  const acceptedAt: number[] = [];
  let revoked = false;

  function take(kinds: Kind[], op: CallOp): Injection | undefined {
    const target = targetOf(op);
    const i = injections.findIndex((x) => kinds.includes(x.kind) && (x.on === 'any' || x.on === target));
    if (i < 0) return undefined;
    const f = injections[i];
    f.n -= 1;
    if (f.n <= 0) injections.splice(i, 1);
    return f;
  }

  // --- sends and read receipts -------------------------------------------------------------

  function recipientOf(body: Json): { rec: UserRecord; input: string; by: 'to' | 'recipient' } {
    if (body.to !== undefined && body.to !== null && body.to !== '') {
      if (typeof body.to !== 'string' && typeof body.to !== 'number') throw invalid('to', 'must be a string.');
      const input = String(body.to);
      const digits = input.replace(/[\s()+-]/g, '');
      if (!/^\d{7,15}$/.test(digits)) throw invalid('to', `(${input}) is not a valid phone number.`);
      if (digits === state.displayPhoneNumber) throw metaError(131021);
      return { rec: state.byWaId(digits) ?? state.stranger(digits), input, by: 'to' };
    }
    if (body.recipient !== undefined && body.recipient !== null && body.recipient !== '') {
      if (typeof body.recipient !== 'string' || !BSUID.test(body.recipient)) throw invalid('recipient', `(${String(body.recipient)}) is not a valid business-scoped user id.`);
      const rec = state.users.get(body.recipient);
      if (!rec) throw invalid('recipient', `(${body.recipient}) is not a user of this business.`);
      return { rec, input: body.recipient, by: 'recipient' };
    }
    throw required('to');
  }

  function send(body: Json): Answer {
    if (body.recipient_type !== undefined && body.recipient_type !== 'individual') throw invalid('recipient_type', 'must be individual.');
    const { rec, input, by } = recipientOf(body);
    const ctx: SendContext = {
      media: (id) => state.media.get(id),
      templates: deps.templates,
      knownMessage: (id) => state.messages.get(id)?.userKey === rec.user.userId,
    };
    const shown = checkSend(body, ctx);
    const now = Date.now();
    while (acceptedAt.length && acceptedAt[0] <= now - 1000) acceptedAt.shift();
    if (acceptedAt.length >= deps.throughputPerSecond) throw metaError(130429);
    if (deps.pairRateMs > 0 && rec.lastAcceptedAt !== undefined && now - rec.lastAcceptedAt < deps.pairRateMs) throw metaError(131056);
    if (shown.type !== 'template' && (rec.lastInboundAt === undefined || now - rec.lastInboundAt > WINDOW_MS)) throw metaError(131047);

    const u = rec.user;
    const id = state.messageId(u.waId ?? u.userId);
    const item: PhoneItem = { id, at: now, ...shown, status: 'sent', addressedBy: by };
    rec.items.push(item);
    rec.lastAcceptedAt = now;
    acceptedAt.push(now);
    state.messages.set(id, { id, direction: 'out', userKey: u.userId });
    deps.accepted(rec, item);
    return {
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        contacts: [{ input, ...(u.waId ? { wa_id: u.waId } : {}), user_id: u.userId }],
        messages: [{ id, ...(shown.type === 'template' ? { message_status: 'accepted' } : {}) }],
      },
      messageId: id,
      user: rec,
    };
  }

  function read(body: Json): Answer {
    if (body.status !== 'read') throw invalid('status', 'must be read.');
    if (typeof body.message_id !== 'string' || !body.message_id) throw required('message_id');
    const m = state.messages.get(body.message_id);
    if (!m || m.direction !== 'in') throw invalid('message_id', `(${body.message_id}) is not a message this number received.`);
    let typing = false;
    if (body.typing_indicator !== undefined) {
      if (!isObj(body.typing_indicator) || body.typing_indicator.type !== 'text') throw invalid('typing_indicator.type', 'must be text.');
      typing = true;
    }
    const rec = state.users.get(m.userKey);
    deps.readReceipts.push({ messageId: body.message_id, typing, at: Date.now(), ...(rec ? { user: rec.user } : {}) });
    return { status: 200, body: { success: true }, ...(rec ? { user: rec } : {}) };
  }

  // --- media -------------------------------------------------------------------------------

  async function upload(req: http.IncomingMessage, raw: { data: Buffer; size: number; truncated: boolean }, call: ApiCall): Promise<Answer> {
    const ct = String(req.headers['content-type'] ?? '');
    if (!ct.toLowerCase().startsWith('multipart/form-data')) throw invalid('file', 'must be sent as multipart/form-data.');
    if (raw.truncated) {
      call.body = { file: { size: raw.size } };
      throw invalid('file', `is too big: at most ${deps.maxMediaBytes} bytes (got about ${raw.size}).`);
    }
    let form: FormData;
    try {
      form = await new Request('http://x', { method: 'POST', headers: { 'content-type': ct }, body: Uint8Array.from(raw.data) }).formData();
    } catch {
      throw invalid('file', 'could not be read from the multipart body.');
    }
    const product = form.get('messaging_product');
    const type = form.get('type');
    const file = form.get('file');
    const fileInfo = file && typeof file !== 'string' ? { filename: file.name, size: file.size, type: file.type } : file;
    call.body = { messaging_product: product, type, file: fileInfo };
    if (product !== 'whatsapp') throw required('messaging_product');
    if (!file || typeof file === 'string') throw required('file');
    if (typeof type !== 'string' || !/^[\w.+-]+\/[\w.+-]+/.test(type)) throw required('type');
    if (file.size > deps.maxMediaBytes) throw invalid('file', `is too big: at most ${deps.maxMediaBytes} bytes (got ${file.size}).`);
    const bytes = Buffer.from(await file.arrayBuffer());
    const filename = file.name && file.name !== 'blob' ? file.name : undefined;
    const m = state.storeMedia(bytes, type, filename, true);
    deps.uploads.push({ id: m.id, mimeType: type, ...(filename !== undefined ? { filename } : {}), bytes });
    return { status: 200, body: { id: m.id } };
  }

  function mediaInfo(id: string): Answer {
    const m = state.media.get(id);
    if (!m) throw unsupported('GET', id);
    return { status: 200, body: { messaging_product: 'whatsapp', url: state.mediaUrl(id), mime_type: m.mimeType, sha256: m.sha256, file_size: m.bytes.length, id } };
  }

  function phoneInfo(): Answer {
    const d = state.displayPhoneNumber;
    const pretty = d.length === 11 && d.startsWith('1') ? `+1 ${d.slice(1, 4)}-${d.slice(4, 7)}-${d.slice(7)}` : `+${d}`;
    return {
      status: 200,
      body: { verified_name: 'Chatgate Test', code_verification_status: 'VERIFIED', display_phone_number: pretty, quality_rating: 'GREEN', platform_type: 'CLOUD_API', throughput: { level: 'STANDARD' }, id: state.phoneNumberId },
    };
  }

  function download(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    req.resume();
    const id = url.pathname.split('/')[2] ?? '';
    const authorized = bearer(req, url) === deps.token && !revoked;
    const m = state.media.get(id);
    const ext = url.searchParams.get('ext') ?? '';
    const good = !!m && url.searchParams.get('hash') === state.urlHash(id, ext) && Number(ext) * 1000 > Date.now();
    const status = !authorized ? 401 : good ? 200 : 404;
    deps.downloads.push({ mediaId: id, authorized, served: status === 200, status, at: Date.now() });
    if (status === 401) {
      const e = badToken();
      return writeJson(res, 401, e.body, e.headers);
    }
    if (!m || status === 404) return writeBytes(res, 404, 'URL signature mismatch', 'text/plain; charset=utf-8');
    writeBytes(res, 200, m.bytes, m.mimeType, { ...(m.filename ? { 'content-disposition': `inline; filename="${m.filename.replace(/"/g, '')}"` } : {}), 'cache-control': 'no-cache' });
  }

  // --- the router --------------------------------------------------------------------------

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname.startsWith('/lookaside/')) return download(req, res, url);
    const method = req.method ?? 'GET';
    const segs = url.pathname.split('/').filter(Boolean);
    const version = segs[0] && VERSION.test(segs[0]) ? segs.shift() : undefined;
    const call: ApiCall = { method, path: url.pathname, ...(version ? { version } : {}), body: undefined, status: 0, authorized: false, at: Date.now(), op: 'unknown', outcome: 'ok' };
    const raw = await readBody(req, segs[1] === 'media' ? deps.maxMediaBytes + 1024 * 1024 : MAX_JSON);

    let json: Json | undefined;
    let badJson = false;
    const phoneRoute = segs[0] === state.phoneNumberId && segs.length === 2;
    if (method === 'POST' && phoneRoute && segs[1] === 'messages') {
      try {
        const parsed: unknown = JSON.parse(raw.data.toString('utf8'));
        json = isObj(parsed) ? parsed : undefined;
        badJson = !json;
      } catch {
        badJson = true;
      }
      call.body = json ?? raw.data.toString('utf8');
      call.op = json?.status !== undefined ? 'read' : 'send';
    } else if (method === 'POST' && phoneRoute && segs[1] === 'media') call.op = 'upload';
    else if (segs.length === 1 && segs[0] === state.phoneNumberId && method === 'GET') call.op = 'phoneNumber';
    else if (segs.length === 1 && method === 'GET') call.op = 'media';
    else if (segs.length === 1 && method === 'DELETE') call.op = 'deleteMedia';
    if (call.op !== 'upload' && call.body === undefined && raw.data.length) {
      const t = raw.data.toString('utf8');
      try {
        call.body = JSON.parse(t);
      } catch {
        call.body = t;
      }
    }

    const answer = (a: Answer, outcome: ApiCall['outcome'] = 'ok'): void => {
      call.status = a.status;
      call.outcome = outcome;
      call.response = a.body;
      if (isObj(a.body) && isObj(a.body.error)) call.errorCode = Number(a.body.error.code);
      if (a.messageId) call.messageId = a.messageId;
      if (a.user) call.user = a.user.user;
      if (outcome === 'dropped') req.socket.destroy();
      else writeJson(res, a.status, a.body, { 'facebook-api-version': version ?? 'v21.0', ...a.headers });
      deps.record(call);
    };
    const fail = (e: GraphError, outcome: ApiCall['outcome'] = 'error'): void => answer({ status: e.status, body: e.body, headers: e.headers }, outcome);

    const token = bearer(req, url);
    call.authorized = token === deps.token && !revoked;
    if (token !== deps.token) return fail(badToken());
    if (revoked) return fail(revokedToken());

    const slow = take(['slow'], call.op);
    if (slow && !(await deps.sleep(slow.ms ?? 0))) return void req.socket.destroy();
    const inj = take(['error', 'html', 'refuse', 'drop'], call.op);
    if (inj?.kind === 'refuse') {
      call.outcome = 'refused';
      req.socket.destroy();
      return deps.record(call);
    }
    if (inj?.kind === 'html') {
      call.status = 502;
      call.outcome = 'html';
      call.response = HTML_502;
      writeBytes(res, 502, HTML_502, 'text/html; charset=utf-8');
      return deps.record(call);
    }
    if (inj?.kind === 'error') return fail(inj.code === 190 ? badToken() : metaError(inj.code ?? 131000, inj.details !== undefined ? { details: inj.details } : {}));
    const outcome = inj?.kind === 'drop' ? 'dropped' : 'ok';

    try {
      let a: Answer;
      if (call.op === 'send' || call.op === 'read') {
        if (badJson || !json) throw invalid('body', 'must be a JSON object.');
        if (json.messaging_product !== 'whatsapp') throw required('messaging_product');
        a = call.op === 'read' ? read(json) : send(json);
      } else if (call.op === 'upload') a = await upload(req, raw, call);
      else if (call.op === 'phoneNumber') a = phoneInfo();
      else if (call.op === 'media') a = mediaInfo(segs[0]);
      else if (call.op === 'deleteMedia') {
        if (!state.media.delete(segs[0])) throw unsupported('DELETE', segs[0]);
        a = { status: 200, body: { success: true } };
      } else throw unsupported(method, segs[0] ?? '');
      answer(a, outcome);
    } catch (err) {
      if (!(err instanceof GraphError)) throw err;
      fail(err, outcome === 'dropped' ? 'dropped' : 'error');
    }
  }

  const inject: WhatsAppInjector = {
    error: (code, opts = {}) => void injections.push({ kind: 'error', code, n: opts.times ?? 1, on: opts.on ?? 'messages', ...(opts.details !== undefined ? { details: opts.details } : {}) }),
    html: (times = 1, on = 'messages') => void injections.push({ kind: 'html', n: times, on }),
    drop: (times = 1, on = 'messages') => void injections.push({ kind: 'drop', n: times, on }),
    refuse: (times = 1, on = 'messages') => void injections.push({ kind: 'refuse', n: times, on }),
    slow: (ms, times = 1, on = 'messages') => void injections.push({ kind: 'slow', ms, n: times, on }),
    revokeToken: () => {
      revoked = true;
    },
    clear: () => {
      injections.length = 0;
      revoked = false;
    },
  };

  return { handle, inject };
}
