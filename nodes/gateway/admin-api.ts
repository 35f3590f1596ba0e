/**
 * The gateway's admin HTTP API on RED.httpAdmin. Every route carries RED.auth.needsPermission:
 * reads need `chatgate-gateway.read`, changes `chatgate-gateway.write`.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response, RequestHandler } from 'express';
import { z } from 'zod';
import { AllowEntrySchema } from '../core/allowlist';
import { describeIssues, MAX_ID_LENGTH, type ReplyTo } from '../core/envelope';
import { parseJid } from '../core/jid';
import { LOG_CAPACITY } from '../core/message-log';
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from '../core/history';
import type { ChatSummary, StoredHistoryEntry } from '../core/store/rows';
import { gateways, type GatewayRuntime } from './gateway-runtime';
import { flowEntries } from './flow-allowlists';
import { operatorFields, registerOperatorRoutes } from './operator-api';
import { registerPairingRoutes } from './pairing-api';
import { errorText } from '../core/error-text';
import { redact } from '../core/redact';

export const BASE = '/chatgate/gateways';
export const READ = 'chatgate-gateway.read';
export const WRITE = 'chatgate-gateway.write';

const SendSchema = z.object({
  chatJid: z.string().min(3).max(MAX_ID_LENGTH + 16),
  text: z.string().min(1).max(100_000),
  threadId: z.string().max(MAX_ID_LENGTH).optional(),
});

// The entry rule is the allowlist filter editor's (core/jid.ts isValidJidPattern): `*` included.
const AddEntrySchema = AllowEntrySchema.extend({ list: z.string().min(1).max(100).optional() });

// Query values arrive as strings; a repeated parameter (an array) or anything else is refused.
const PageLimit = z
  .string()
  .regex(/^\d+$/, `a whole number from 1 to ${HISTORY_PAGE_MAX}`)
  .transform(Number)
  .pipe(z.number().int().min(1).max(HISTORY_PAGE_MAX))
  .optional();
const Before = z.string().regex(/^\d+(\.\d+)?$/, 'a non-negative number').transform(Number).optional();
const ChatsQuerySchema = z.object({ limit: PageLimit, before: Before, q: z.string().max(200).optional() });
const MessagesQuerySchema = z.object({ limit: PageLimit, before: Before });
const ChatJidSchema = z.string().min(1).max(MAX_ID_LENGTH + 16);

/** Whether a store that may clamp its page to the maximum has more after `found`. */
function hasMore(found: unknown[], limit: number): boolean {
  return found.length > limit || (limit === HISTORY_PAGE_MAX && found.length === limit);
}

/**
 * A page of chats and the `before` of the next one. Chats page by last-activity time, and several
 * may share one millisecond: a page never ends inside such a run (it would cut the rest of the run
 * out of the next page), unless the whole page is one run.
 */
export function chatsPage(found: ChatSummary[], limit: number): { items: ChatSummary[]; next: number | null } {
  let items = found.slice(0, limit);
  if (!hasMore(found, limit) || !items.length) return { items, next: null };
  const boundary = found.length > limit ? found[limit].lastAt : items[items.length - 1].lastAt;
  let end = items.length;
  while (end > 0 && items[end - 1].lastAt === boundary) end--;
  if (end > 0) items = items.slice(0, end);
  return { items, next: items[items.length - 1].lastAt };
}

export function messagesPage(found: StoredHistoryEntry[], limit: number): { items: StoredHistoryEntry[]; next: number | null } {
  const items = found.slice(0, limit);
  return { items, next: hasMore(found, limit) && items.length ? items[items.length - 1].seq : null };
}

/** The gateway's history, or undefined when its retention is off (an empty page that says so). */
function historyOf(gw: GatewayRuntime) {
  return gw.state.settings.retention.enabled ? gw.history : undefined;
}

let registeredOn: unknown;

function listName(req: Request): string {
  const q = req.query.list;
  return typeof q === 'string' && q ? q.slice(0, 100) : 'default';
}

export async function withGateway(req: Request, res: Response, fn: (gw: GatewayRuntime) => unknown): Promise<void> {
  const gw = gateways.get(String(req.params.id));
  if (!gw) {
    res.status(404).json({ error: `no deployed gateway with id ${req.params.id}` });
    return;
  }
  try {
    await gw.ready;
    await fn(gw);
  } catch (err) {
    if (!res.headersSent) res.status(500).json({ error: (err as Error).message });
  }
}

export function allowlistView(gw: GatewayRuntime, list: string) {
  return {
    list,
    runtime: gw.allowlists.entries(list),
    flow: flowEntries(gw.node.id, list),
  };
}

export function registerAdminApi(RED: NodeAPI): void {
  // Node-RED loads a module once per runtime; guard against a second registration on the same app.
  if (registeredOn === RED.httpAdmin) return;
  registeredOn = RED.httpAdmin;
  const app = RED.httpAdmin;
  const read = RED.auth.needsPermission(READ) as RequestHandler;
  const write = RED.auth.needsPermission(WRITE) as RequestHandler;

  app.get(BASE, read, (_req, res) => {
    res.json(
      Array.from(gateways.values(), (gw) => ({
        id: gw.node.id,
        name: gw.name,
        store: gw.storeDescription,
        health: gw.health(),
        ...(gw.storeProblem ? { storeProblem: gw.storeProblem } : {}),
        threads: gw.threadCount(),
        channels: gw.state.channels.list().length,
      })),
    );
  });

  registerOperatorRoutes(app, read, write, withGateway, BASE);
  registerPairingRoutes(app, read, write, withGateway, BASE);

  app.get(`${BASE}/:id/channels`, read, (req, res) => withGateway(req, res, (gw) => res.json(gw.state.channels.list())));

  app.get(`${BASE}/:id/threads`, read, (req, res) =>
    withGateway(req, res, async (gw) => {
      const offset = Number(req.query.offset ?? 0) || 0;
      const limit = Number(req.query.limit ?? 50) || 50;
      const q = typeof req.query.q === 'string' ? req.query.q : undefined;
      const page = await gw.ops.listThreads({ offset, limit, q });
      res.json({ offset, limit, total: page.total, items: page.items.map((t) => ({ ...t, ...operatorFields(gw, t.id) })) });
    }),
  );

  app.delete(`${BASE}/:id/threads/:threadId`, write, (req, res) =>
    withGateway(req, res, async (gw) => {
      if (!(await gw.ops.endThread(String(req.params.threadId)))) res.status(404).json({ error: 'no such thread' });
      else res.json({ ok: true });
    }),
  );

  // The last messages in and out (text trimmed, JIDs only), for the editor's sidebar; ?since=<seq>
  // of the log named by `epoch` (a new gateway's log starts counting again).
  app.get(`${BASE}/:id/log`, read, (req, res) =>
    withGateway(req, res, (gw) => {
      const since = Math.max(0, Number(req.query.since ?? 0) || 0);
      const limit = Math.min(LOG_CAPACITY, Math.max(1, Number(req.query.limit ?? LOG_CAPACITY) || LOG_CAPACITY));
      res.json({ epoch: gw.state.log.epoch, lastSeq: gw.state.log.lastSeq, items: gw.state.log.list(since, limit) });
    }),
  );

  // Each chat's history, for the sidebar's history panel: chats by last activity, ?before=<time>.
  app.get(`${BASE}/:id/chats`, read, (req, res) =>
    withGateway(req, res, async (gw) => {
      const parsed = ChatsQuerySchema.safeParse(req.query);
      if (!parsed.success) return res.status(400).json({ error: describeIssues(parsed.error, 'query') });
      const history = historyOf(gw);
      if (!history) return res.json({ enabled: false, items: [], next: null });
      const limit = parsed.data.limit ?? HISTORY_PAGE_DEFAULT;
      const q = parsed.data.q?.trim() || undefined;
      const found = await history.chats({ limit: Math.min(limit + 1, HISTORY_PAGE_MAX), before: parsed.data.before, q });
      res.json({ enabled: true, ...chatsPage(found, limit) });
    }),
  );

  // One chat's messages, newest first; ?before=<seq> pages back.
  app.get(`${BASE}/:id/chats/:jid/messages`, read, (req, res) =>
    withGateway(req, res, async (gw) => {
      const jid = ChatJidSchema.safeParse(req.params.jid);
      if (!jid.success) return res.status(400).json({ error: describeIssues(jid.error, 'params.jid') });
      const parsed = MessagesQuerySchema.safeParse(req.query);
      if (!parsed.success) return res.status(400).json({ error: describeIssues(parsed.error, 'query') });
      const history = historyOf(gw);
      if (!history) return res.json({ enabled: false, items: [], next: null });
      const limit = parsed.data.limit ?? HISTORY_PAGE_DEFAULT;
      const found = await history.messages(jid.data, { limit: Math.min(limit + 1, HISTORY_PAGE_MAX), before: parsed.data.before });
      res.json({ enabled: true, ...messagesPage(found, limit) });
    }),
  );

  app.get(`${BASE}/:id/allowlist`, read, (req, res) =>
    withGateway(req, res, (gw) => res.json(allowlistView(gw, listName(req)))),
  );

  app.post(`${BASE}/:id/allowlist`, write, (req, res) =>
    withGateway(req, res, async (gw) => {
      const parsed = AddEntrySchema.safeParse(req.body);
      if (!parsed.success) return res.status(400).json({ error: describeIssues(parsed.error, 'body') });
      const list = parsed.data.list ?? listName(req);
      await gw.ops.addAllowEntry(list, { jid: parsed.data.jid, ...(parsed.data.label ? { label: parsed.data.label } : {}) });
      res.json(allowlistView(gw, list));
    }),
  );

  app.delete(`${BASE}/:id/allowlist/:jid`, write, (req, res) =>
    withGateway(req, res, async (gw) => {
      const list = listName(req);
      const jid = String(req.params.jid);
      if (!(await gw.ops.removeAllowEntry(list, jid))) {
        const inFlow = flowEntries(gw.node.id, list).some((e) => e.jid === jid);
        return res
          .status(inFlow ? 409 : 404)
          .json({ error: inFlow ? `${jid} is set in the flow; edit the allowlist filter node` : `${jid} is not on list ${list}` });
      }
      res.json(allowlistView(gw, list));
    }),
  );

  app.post(`${BASE}/:id/send`, write, (req, res) =>
    withGateway(req, res, async (gw) => {
      const parsed = SendSchema.safeParse(req.body);
      if (!parsed.success) return res.status(400).json({ error: describeIssues(parsed.error, 'body') });
      const jid = parseJid(parsed.data.chatJid);
      if (!jid) return res.status(400).json({ error: 'body.chatJid: not a chat JID like tg:123 or webchat:abc' });
      const now = Date.now();
      let address: ReplyTo | undefined;
      if (parsed.data.threadId) {
        const found = await gw.ops.lookupListener(parsed.data.threadId, now);
        if (found.ok) address = found.address;
      }
      address ??= await gw.ops.findListenerByChat(jid.platform, jid.id, now);
      if (!address) {
        const inbound = gw.state.channels.firstInbound(jid.platform);
        if (!inbound) return res.status(409).json({ error: `no ${jid.platform} channel is deployed on this gateway` });
        address = { platform: jid.platform, channelId: inbound.id, chatId: jid.id, userId: jid.id };
      }
      const send = gw.state.channels.findSender(jid.platform);
      if (!send) return res.status(409).json({ error: `no ${jid.platform} out node is deployed on this gateway` });
      try {
        await send({ payload: parsed.data.text, chat: { replyTo: address } });
      } catch (err) {
        // Whatever the platform rejected with (not always an Error), said as one line without secrets.
        return res.status(502).json({ error: redact(errorText(err)) });
      }
      res.json({ ok: true, chatJid: parsed.data.chatJid });
    }),
  );
}
