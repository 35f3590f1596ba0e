/**
 * WhatsApp users for the soak, on the Cloud API emulator: each user writes to the business number;
 * Meta posts the signed notification to the flow's webhook and retries it until answered 200 (here
 * for about half a minute, long enough to outlast a redeploy; Meta itself retries for days).
 * Status notifications (sent, delivered) go to the same webhook. Faults are the emulator's: the
 * number's throughput limit (130429), transient errors Meta answers (131000), a proxy's 502 page,
 * sends whose answer is lost after Meta accepted them, sends refused before, and slow answers.
 */
import { startWhatsAppServer, type WhatsAppServer, type WhatsAppUser } from '../../emulators/whatsapp-server';
import type { BotMessage, ChannelDriver, Fault, SoakUser } from '../types';

export const WHATSAPP_PATH = '/soak/wa';
export const WHATSAPP_VERIFY_TOKEN = 'soak-verify-token-0042';

interface WaSoakUser extends SoakUser {
  wa: WhatsAppUser;
}

export interface WhatsAppChannel extends ChannelDriver {
  readonly wa: WhatsAppServer;
  /** `scale`: fault sizes for this many users (1 = the bench's 8 users of each kind). */
  faults(scale?: number): Fault[];
}

export async function whatsappChannel(opts: { users: number }): Promise<WhatsAppChannel> {
  const wa = await startWhatsAppServer({ webhookRetryDelaysMs: [200, 500, 1000, 2000, 4000, 8000, 15000] });
  const users: WaSoakUser[] = [];
  for (let i = 0; i < opts.users; i++) {
    const u = wa.addUser({ name: `Soak ${i}`, waId: `1555990${String(i).padStart(4, '0')}` });
    users.push({ channel: 'whatsapp', key: `whatsapp/${i}`, wa: u, conversation: { chat: u.userId } });
  }
  const byUserId = new Map(users.map((u) => [u.wa.userId, u]));
  let url = '';
  let scanned = 0;
  const noted = { throughput130429: 0, transient131000: 0, html502: 0, droppedAnswers: 0, refused: 0, slow: 0, notAnswered: 0 };
  const channel: WhatsAppChannel = {
    name: 'whatsapp',
    wa,
    users,
    async start(base) {
      url = `${base}${WHATSAPP_PATH}`;
      wa.setWebhook(url);
    },
    async waitReady(ms) {
      const end = Date.now() + ms;
      for (;;) {
        const r = await wa.verify(url, { token: WHATSAPP_VERIFY_TOKEN, challenge: 'ready' }).catch(() => undefined);
        if (r?.status === 200) return;
        if (Date.now() > end) throw new Error('whatsapp: the webhook does not answer its verification');
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    async send(user, text) {
      const u = user as WaSoakUser;
      const message = wa.make.text(u.wa, text);
      const d = await wa.userSends(url, u.wa, message);
      if (!d.answered) noted.notAnswered++;
      return { accepted: d.answered, messageIds: [String(message.id)] };
    },
    drain() {
      const out: Array<{ user?: string; text: string }> = [];
      const sent = wa.sent;
      for (; scanned < sent.length; scanned++) {
        const c = sent[scanned];
        if (c.op !== 'send' || (c.outcome !== 'ok' && c.outcome !== 'dropped')) continue;
        const body = (c.body as { text?: { body?: unknown } } | undefined)?.text?.body;
        if (typeof body !== 'string') continue;
        out.push({ user: c.user ? byUserId.get(c.user.userId)?.key : undefined, text: body });
      }
      return out;
    },
    view() {
      const out: BotMessage[] = [];
      for (const u of users) for (const item of wa.phone(u.wa)) if (item.text !== undefined) out.push({ channel: 'whatsapp', conversation: { chat: u.wa.userId }, text: item.text });
      return out;
    },
    undelivered: () => [],
    toldFailed: () => [],
    trace: (token) => wa.sent.filter((c) => JSON.stringify(c.body ?? '').includes(token)).map((c) => `${c.at} ${c.op} ${c.outcome} ${c.status} ${c.errorCode ?? ''} "${JSON.stringify(c.body).slice(0, 120)}"`),
    notes: () => ({ ...noted }),
    faults(scale = 1) {
      const n = (count: number) => Math.max(1, Math.round(count * scale));
      return [
        {
          at: 0.24,
          name: 'whatsapp: throughput limit (130429) and transient errors (131000) on sends',
          fire: () => {
            wa.inject.error(130429, { times: n(8) });
            wa.inject.error(131000, { times: n(4) });
            noted.throughput130429 += n(8);
            noted.transient131000 += n(4);
          },
        },
        {
          at: 0.36,
          name: "whatsapp: a proxy's 502 page, a lost answer after Meta accepted, a refused send",
          fire: () => {
            wa.inject.html(n(2));
            wa.inject.drop(n(2));
            wa.inject.refuse(n(2));
            noted.html502 += n(2);
            noted.droppedAnswers += n(2);
            noted.refused += n(2);
          },
        },
        {
          at: 0.6,
          name: 'whatsapp: slow answers (1.5 s) on sends',
          fire: () => {
            wa.inject.slow(1500, n(10));
            noted.slow += n(10);
          },
        },
      ];
    },
    close: () => wa.close(),
  };
  return channel;
}
