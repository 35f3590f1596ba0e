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
import { gateways, type GatewayRuntime } from './gateway-runtime';
import { flowEntries } from './flow-allowlists';

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

let registeredOn: unknown;

function listName(req: Request): string {
  const q = req.query.list;
  return typeof q === 'string' && q ? q.slice(0, 100) : 'default';
}

async function withGateway(req: Request, res: Response, fn: (gw: GatewayRuntime) => unknown): Promise<void> {
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
    runtime: gw.state.allowlists.entries(list),
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
        store: gw.store.description,
        ...(gw.storeProblem ? { storeProblem: gw.storeProblem } : {}),
        threads: gw.state.threads.size,
        channels: gw.state.channels.list().length,
      })),
    );
  });

  app.get(`${BASE}/:id/channels`, read, (req, res) => withGateway(req, res, (gw) => res.json(gw.state.channels.list())));

  app.get(`${BASE}/:id/threads`, read, (req, res) =>
    withGateway(req, res, (gw) => {
      const offset = Number(req.query.offset ?? 0) || 0;
      const limit = Number(req.query.limit ?? 50) || 50;
      const q = typeof req.query.q === 'string' ? req.query.q : undefined;
      const page = gw.state.threads.list({ offset, limit, q });
      res.json({ offset, limit, total: page.total, items: page.items });
    }),
  );

  app.delete(`${BASE}/:id/threads/:threadId`, write, (req, res) =>
    withGateway(req, res, (gw) => {
      if (!gw.state.endThread(String(req.params.threadId))) res.status(404).json({ error: 'no such thread' });
      else res.json({ ok: true });
    }),
  );

  // The last messages in and out (text trimmed, JIDs only), for the editor's sidebar; ?since=<seq>.
  app.get(`${BASE}/:id/log`, read, (req, res) =>
    withGateway(req, res, (gw) => {
      const since = Math.max(0, Number(req.query.since ?? 0) || 0);
      const limit = Math.min(LOG_CAPACITY, Math.max(1, Number(req.query.limit ?? LOG_CAPACITY) || LOG_CAPACITY));
      res.json({ lastSeq: gw.state.log.lastSeq, items: gw.state.log.list(since, limit) });
    }),
  );

  app.get(`${BASE}/:id/allowlist`, read, (req, res) =>
    withGateway(req, res, (gw) => res.json(allowlistView(gw, listName(req)))),
  );

  app.post(`${BASE}/:id/allowlist`, write, (req, res) =>
    withGateway(req, res, (gw) => {
      const parsed = AddEntrySchema.safeParse(req.body);
      if (!parsed.success) return res.status(400).json({ error: describeIssues(parsed.error, 'body') });
      const list = parsed.data.list ?? listName(req);
      gw.state.allowlists.add(list, { jid: parsed.data.jid, label: parsed.data.label });
      gw.state.onChange();
      res.json(allowlistView(gw, list));
    }),
  );

  app.delete(`${BASE}/:id/allowlist/:jid`, write, (req, res) =>
    withGateway(req, res, (gw) => {
      const list = listName(req);
      const jid = String(req.params.jid);
      if (!gw.state.allowlists.remove(list, jid)) {
        const inFlow = flowEntries(gw.node.id, list).some((e) => e.jid === jid);
        return res
          .status(inFlow ? 409 : 404)
          .json({ error: inFlow ? `${jid} is set in the flow; edit the allowlist filter node` : `${jid} is not on list ${list}` });
      }
      gw.state.onChange();
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
        const found = gw.state.lookupListener(parsed.data.threadId, now);
        if (found.ok) address = found.address;
      }
      address ??= gw.state.listeners.findByChat(jid.platform, jid.id, now);
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
        return res.status(502).json({ error: (err as Error).message });
      }
      res.json({ ok: true, chatJid: parsed.data.chatJid });
    }),
  );
}
