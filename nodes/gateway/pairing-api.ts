/**
 * Pairing on the admin API: the pending codes, and approving or denying one. An approval puts the
 * sender on the allowlist the code was issued for, with a label (the given one, else the sender's
 * name, else the JID). An unknown and an expired code are the same 404.
 */
import type { Application, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { describeIssues } from '../core/envelope';
import type { PairingRequest } from '../core/pairing';
import { errorText } from '../core/error-text';
import { redact } from '../core/redact';
import type { GatewayRuntime } from './gateway-runtime';

type WithGateway = (req: Request, res: Response, fn: (gw: GatewayRuntime) => unknown) => Promise<void>;

const ApproveSchema = z.object({ label: z.string().trim().min(1).max(200).optional() });

const NO_CODE = 'no such pairing code';

/** The request as the API shows it: no reply address. */
export function pairingView(r: PairingRequest) {
  return {
    code: r.code,
    jid: r.jid,
    platform: r.platform,
    ...(r.userName ? { userName: r.userName } : {}),
    list: r.list,
    requestedAt: r.requestedAt,
    expiresAt: r.expiresAt,
  };
}

/**
 * Puts an approved request's sender on its list (the label is the given one, the sender's name or
 * the JID), then tells the sender through their platform's out node. `told` says whether that
 * went out: a sender that cannot be told is still in (the approval is not undone), and the
 * gateway's log says why.
 */
export async function admitPaired(gw: GatewayRuntime, r: PairingRequest, label?: string): Promise<{ jid: string; list: string; label: string; told: boolean }> {
  const chosen = (label || r.userName || r.jid).slice(0, 200);
  await gw.ops.addAllowEntry(r.list, { jid: r.jid, label: chosen });
  return { jid: r.jid, list: r.list, label: chosen, told: await tellPaired(gw, r) };
}

async function tellPaired(gw: GatewayRuntime, r: PairingRequest): Promise<boolean> {
  if (!r.welcome || !r.replyTo) return false;
  const sender = gw.state.channels.findSender(r.platform);
  if (!sender) {
    gw.node.warn(`pairing: ${r.jid} is on the list but was not told: no ${r.platform} out node is deployed`);
    return false;
  }
  try {
    await sender({ payload: r.welcome, chat: { replyTo: r.replyTo } });
    return true;
  } catch (err) {
    gw.node.warn(redact(`pairing: ${r.jid} is on the list but was not told: ${errorText(err)}`));
    return false;
  }
}

export function registerPairingRoutes(app: Application, read: RequestHandler, write: RequestHandler, withGateway: WithGateway, base: string): void {
  app.get(`${base}/:id/pairings`, read, (req, res) => withGateway(req, res, (gw) => res.json({ items: gw.pairings.list().map(pairingView) })));

  app.post(`${base}/:id/pairings/:code/approve`, write, (req, res) =>
    withGateway(req, res, async (gw) => {
      const parsed = ApproveSchema.safeParse(req.body ?? {});
      if (!parsed.success) return res.status(400).json({ error: describeIssues(parsed.error, 'body') });
      const code = String(req.params.code);
      const found = gw.pairings.get(code);
      if (!found) return res.status(404).json({ error: NO_CODE });
      // On the list first: a store that fails leaves the code pending, to approve again.
      const admitted = await admitPaired(gw, found, parsed.data.label);
      gw.pairings.approve(code);
      // Who let whom in, without the code (req.user is Node-RED's adminAuth user).
      const by = (req as Request & { user?: { username?: string } }).user?.username ?? 'admin';
      gw.node.log(`pairing: ${admitted.jid} joined list ${admitted.list}, approved by ${by}`);
      res.json(admitted);
    }),
  );

  app.delete(`${base}/:id/pairings/:code`, write, (req, res) =>
    withGateway(req, res, (gw) => {
      if (!gw.pairings.deny(String(req.params.code))) return res.status(404).json({ error: NO_CODE });
      res.json({ ok: true });
    }),
  );
}
