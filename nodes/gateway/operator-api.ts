/**
 * The operator's admin routes: the desk (takeovers and hand-off requests), take a thread over,
 * answer in it, hand it back, dismiss a hand-off request. An operator's reply goes out through the
 * platform's out node (its renderer, splitting and threads, like the agent's), into the thread's
 * memory as the assistant's turn and into the chat's history as a message out.
 */
import type { Application, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { describeIssues, MAX_ID_LENGTH, type Platform, type ReplyTo } from '../core/envelope';
import { parseJid } from '../core/jid';
import type { GatewayRuntime } from './gateway-runtime';
import type { Takeover } from './operator-desk';
import { errorText } from '../core/error-text';
import { redact } from '../core/redact';

type WithGateway = (req: Request, res: Response, fn: (gw: GatewayRuntime) => unknown) => Promise<void>;

const ThreadIdSchema = z.string().min(1).max(MAX_ID_LENGTH);
const ReplySchema = z.object({ text: z.string().min(1).max(100_000) });

/** Who is asking: the Node-RED admin user, or `admin` when the editor has no login. */
export function operatorOf(req: Request): string {
  const user = (req as Request & { user?: { username?: unknown } }).user;
  return typeof user?.username === 'string' && user.username ? user.username : 'admin';
}

function threadId(req: Request, res: Response): string | undefined {
  const parsed = ThreadIdSchema.safeParse(req.params.threadId);
  if (parsed.success) return parsed.data;
  res.status(400).json({ error: describeIssues(parsed.error, 'params.threadId') });
  return undefined;
}

const takeoverView = (t: Takeover) => ({
  threadId: t.threadId,
  chatJid: t.chatJid,
  platform: t.platform,
  operator: t.operator,
  since: t.since,
  lastActivity: t.lastActivity,
  expiresAt: t.expiresAt,
});

/** The fields GET /threads adds to a thread that is taken over or waits for a person. */
export function operatorFields(gw: GatewayRuntime, id: string): Record<string, unknown> {
  const t = gw.operator.takeover(id);
  const f = gw.operator.handoff(id);
  return {
    ...(t ? { takeover: { operator: t.operator, since: t.since, expiresAt: t.expiresAt } } : {}),
    ...(f ? { handoff: { ...(f.reason ? { reason: f.reason } : {}), source: f.source, at: f.at } } : {}),
  };
}

/** Where a reply to the thread goes: its live reply listener, else the chat's last one, else the chat itself. */
async function addressOf(gw: GatewayRuntime, id: string, chatJid: string): Promise<ReplyTo | undefined> {
  const now = Date.now();
  const found = await gw.ops.lookupListener(id, now);
  if (found.ok) return found.address;
  const jid = parseJid(chatJid);
  if (!jid) return undefined;
  const byChat = await gw.ops.findListenerByChat(jid.platform, jid.id, now);
  if (byChat) return byChat;
  const inbound = gw.state.channels.firstInbound(jid.platform);
  return inbound ? { platform: jid.platform, channelId: inbound.id, chatId: jid.id, userId: jid.id } : undefined;
}

export function registerOperatorRoutes(app: Application, read: RequestHandler, write: RequestHandler, withGateway: WithGateway, base: string): void {
  app.get(`${base}/:id/operator`, read, (req, res) =>
    withGateway(req, res, (gw) => {
      const desk = gw.operator.list();
      res.json({
        idleMinutes: desk.idleMinutes,
        takeovers: desk.takeovers.map(takeoverView),
        handoffs: desk.handoffs.map((f) => ({ threadId: f.threadId, chatJid: f.chatJid, platform: f.platform, ...(f.reason ? { reason: f.reason } : {}), source: f.source, at: f.at })),
      });
    }),
  );

  app.post(`${base}/:id/threads/:threadId/takeover`, write, (req, res) =>
    withGateway(req, res, async (gw) => {
      const id = threadId(req, res);
      if (id === undefined) return;
      const thread = await gw.ops.getThread(id);
      if (!thread) return res.status(404).json({ error: 'no such thread' });
      const taken = gw.operator.take(id, operatorOf(req), { chatJid: thread.chatJid, platform: thread.platform });
      if (!taken.ok) return res.status(409).json({ error: `thread ${id} is taken over by ${taken.operator}`, operator: taken.operator });
      res.json({ takeover: takeoverView(taken.takeover) });
    }),
  );

  app.post(`${base}/:id/threads/:threadId/handback`, write, (req, res) =>
    withGateway(req, res, (gw) => {
      const id = threadId(req, res);
      if (id === undefined) return;
      const result = gw.operator.handBack(id, operatorOf(req));
      if (result === 'none') return res.status(404).json({ error: `thread ${id} is not taken over` });
      if (result !== 'ok') return res.status(409).json({ error: `thread ${id} is taken over by ${result.heldBy}`, operator: result.heldBy });
      res.json({ ok: true });
    }),
  );

  app.post(`${base}/:id/threads/:threadId/reply`, write, (req, res) =>
    withGateway(req, res, async (gw) => {
      const id = threadId(req, res);
      if (id === undefined) return;
      const parsed = ReplySchema.safeParse(req.body);
      if (!parsed.success) return res.status(400).json({ error: describeIssues(parsed.error, 'body') });
      const operator = operatorOf(req);
      const held = gw.operator.takeover(id);
      if (!held || held.operator !== operator) {
        return res.status(409).json({ error: held ? `thread ${id} is taken over by ${held.operator}` : `take thread ${id} over before replying`, ...(held ? { operator: held.operator } : {}) });
      }
      const address = await addressOf(gw, id, held.chatJid);
      if (!address) return res.status(409).json({ error: `no ${held.platform} channel is deployed on this gateway` });
      const send = gw.state.channels.findSender(address.platform as Platform);
      if (!send) return res.status(409).json({ error: `no ${address.platform} out node is deployed on this gateway` });
      const text = parsed.data.text;
      try {
        await send({ payload: text, chat: { replyTo: address }, thread: { id } });
      } catch (err) {
        // Whatever the platform rejected with (not always an Error), said as one line without secrets.
        return res.status(502).json({ error: redact(errorText(err)) });
      }
      gw.operator.touch(id);
      // The agent reads the operator's words as its own turn when the thread comes back to it.
      await gw.ops.appendMemory(id, [{ role: 'assistant', content: text, at: Date.now() }]);
      gw.state.logMessage({ direction: 'out', platform: address.platform, chatJid: held.chatJid, userName: operator, threadId: id, text });
      res.json({ ok: true });
    }),
  );

  app.delete(`${base}/:id/threads/:threadId/handoff`, write, (req, res) =>
    withGateway(req, res, (gw) => {
      const id = threadId(req, res);
      if (id === undefined) return;
      if (!gw.operator.dismiss(id)) return res.status(404).json({ error: `thread ${id} has no hand-off request` });
      res.json({ ok: true });
    }),
  );
}
