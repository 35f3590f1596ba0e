/**
 * WhatsApp's part of the out side (the kit's PlatformDelivery): how the parts of one reply become
 * Graph API calls, `POST /{phone-number-id}/messages`, one message per part, in order, inside the
 * chat's lane of the kit's queue:
 *
 *  - text parts rendered by the delivery engine's WhatsApp renderer (4,096 characters each), the
 *    first one quoting the user's message when the node is set to;
 *  - an image or document first (a link, or bytes uploaded to the media endpoint), with the text
 *    as its caption when it fits one (1,024 characters);
 *  - buttons under the last part as an interactive message (reply buttons or a list);
 *  - parts to one user paced (`paceMs`), and a 131056 (pair rate) or 130429 answer waited out and
 *    the same part sent again (graph-calls.ts): a part is never dropped, and one Meta may have
 *    taken is never sent twice;
 *  - outside the 24-hour window (131047): the operator's template instead, when one is set, else an
 *    error that names the window.
 *
 * WhatsApp has no edit: a streamed reply is shown when it is done (the kit then sends it whole).
 * While the agent works, the user's message is marked read and the typing indicator shown (it goes
 * with the reply or after 25 s; refreshed every 20 s). Every accepted message is noted in the
 * account's StatusBook, so Meta's later sent / delivered / read / failed reports find their chat.
 */
import { WHATSAPP_TEXT, type RenderedPart } from '../core/delivery';
import { ChannelSender, NoConnectionError, type Delivered, type ParkedStream, type PlatformDelivery, type StreamView } from '../core/kit/channel-sender';
import type { Outbound } from '../core/outbound';
import { recipientOf, type WhatsAppAddress } from './address';
import type { WhatsAppConnection } from './connection';
import { interactiveOf, INTERACTIVE_BODY_MAX, type Choices } from './interactive';
import type { OutMedia } from './media-out';
import { classify, UncertainError, WindowClosedError } from './send-errors';
import { templateBody, templateParam, type TemplateSpec } from './template';

export type { Delivered };

export interface WhatsAppReply {
  out: Outbound;
  address: WhatsAppAddress;
  choices?: Choices;
  media?: OutMedia;
  /** `msg.template`: sent as it is (a message outside the window, a notification). */
  template?: TemplateSpec;
}

export type TypingMode = 'typing' | 'read' | 'off';

export interface SenderOptions {
  /** The account's connection and phone number id; functions, since they may not exist yet when the node starts. */
  connection: () => WhatsAppConnection | undefined;
  phoneNumberId: () => string | undefined;
  /** The out node's id: whose messages a status report belongs to. */
  senderId: string;
  quote: boolean;
  typing: TypingMode;
  /** The list's button label, and the text above buttons when the reply's last part is too long to hold them. */
  listButton: string;
  choicePrompt: string;
  paceMs: number;
  /** The fallback outside the 24-hour window. */
  fallback?: { name: string; language: string; withText: boolean };
  /** A reply that went as the template, outside the window. */
  onTemplate?(address: WhatsAppAddress, template: string): void;
  typingIntervalMs?: number;
  onBackgroundError?: (error: unknown) => void;
}

/** The indicator shows for 25 s or until the reply; refreshed before it goes. */
const TYPING_INTERVAL_MS = 20000;
const CAPTION_MAX = 1024;

export class NoAccountError extends NoConnectionError {}

class WhatsAppDelivery implements PlatformDelivery<WhatsAppAddress, WhatsAppReply> {
  readonly format = WHATSAPP_TEXT;
  readonly typingInChat = true;
  readonly typingIntervalMs: number;
  /** When each user last got a message from this node (pacing); pruned as it grows. */
  private readonly lastSent = new Map<string, number>();

  constructor(private readonly o: SenderOptions) {
    // Read receipts alone need no refresh; once a day is never in practice.
    this.typingIntervalMs = o.typing === 'typing' ? (o.typingIntervalMs ?? TYPING_INTERVAL_MS) : 86_400_000;
  }

  hasExtra(reply: WhatsAppReply): boolean {
    return reply.media !== undefined || reply.template !== undefined || (reply.choices?.replies.length ?? 0) > 0;
  }

  private live(): { c: WhatsAppConnection; phone: string } {
    const c = this.o.connection();
    const phone = this.o.phoneNumberId();
    if (!c || !phone) throw new NoAccountError('no WhatsApp account');
    return { c, phone };
  }

  async sendWhole(reply: WhatsAppReply, parts: RenderedPart[]): Promise<number> {
    if (reply.template) return this.post(reply, { type: 'template', template: templateBody(reply.template) }, true);
    const texts = parts.map((p) => p.text);
    const links = reply.choices?.links ?? [];
    if (links.length) {
      const lines = links.map((l) => `${l.text}: ${l.url}`).join('\n');
      const last = texts.length - 1;
      if (last >= 0 && texts[last].length + 2 + lines.length <= this.format.maxLength) texts[last] = `${texts[last]}\n\n${lines}`;
      else texts.push(lines);
    }
    const replies = reply.choices?.replies ?? [];
    let choiceBody: string | undefined;
    if (replies.length) choiceBody = texts.length && texts[texts.length - 1].length <= INTERACTIVE_BODY_MAX ? texts.pop() : this.o.choicePrompt;
    const plain = parts.map((p) => p.plain).join('\n');

    const state: SendState = { sent: 0, plain };
    if (reply.media) {
      const caption = texts.length === 1 && texts[0].length <= CAPTION_MAX && reply.media.kind !== undefined ? texts.shift() : undefined;
      const media = await this.mediaObject(reply.media);
      if (caption) media.caption = caption;
      if (!(await this.send(reply, { type: reply.media.kind, [reply.media.kind]: media }, state))) return state.sent;
    }
    for (const text of texts) {
      if (!(await this.send(reply, { type: 'text', text: { body: text, preview_url: false } }, state))) return state.sent;
    }
    if (choiceBody !== undefined) await this.send(reply, { type: 'interactive', interactive: interactiveOf(choiceBody, replies, this.o.listButton) }, state);
    return state.sent;
  }

  /**
   * One message of a reply; false when the rest of the reply is not to be sent (it went as the
   * template instead). The first one quotes the user's message when asked.
   */
  private async send(reply: WhatsAppReply, content: Record<string, unknown>, state: SendState): Promise<boolean> {
    try {
      state.sent += await this.post(reply, content, state.sent === 0);
      return true;
    } catch (err) {
      if (classify(err).kind !== 'window') throw err;
      const detail = err instanceof Error ? err.message : 'outside the 24-hour window';
      const fb = this.o.fallback;
      // Only a reply that has shown nothing yet is replaced: a template after half a reply would say it twice.
      if (!fb || state.sent > 0) throw new WindowClosedError(detail);
      const template: TemplateSpec = { name: fb.name, language: fb.language, params: fb.withText ? [templateParam(state.plain || ' ')] : [] };
      try {
        state.sent += await this.post(reply, { type: 'template', template: templateBody(template) }, false);
      } catch (tplErr) {
        throw new WindowClosedError(detail, tplErr instanceof Error ? tplErr.message : String(tplErr));
      }
      this.o.onTemplate?.(reply.address, fb.name);
      return false;
    }
  }

  /** POSTs one message, paced per user; notes it in the status book; returns 1. */
  private async post(reply: WhatsAppReply, content: Record<string, unknown>, first: boolean): Promise<number> {
    const { c, phone } = this.live();
    const a = reply.address;
    await this.pace(a.chatKey);
    const body = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      ...recipientOf(a),
      ...(first && this.o.quote && a.messageId ? { context: { message_id: a.messageId } } : {}),
      ...content,
    };
    const r = (await c.calls.post(`${phone}/messages`, body, { kind: 'create', what: 'the message send', rateWait: true })) as { messages?: Array<{ id?: unknown }> };
    this.lastSent.set(a.chatKey, Date.now());
    const id = r?.messages?.[0]?.id;
    // A 200 that is not Meta's answer (a proxy's, a half-compatible server's) proves nothing either way.
    if (typeof id !== 'string' || !id) throw new UncertainError('the message send', 'answered 200 without a message id');
    c.noteSent(id, a.chatKey, this.o.senderId);
    return 1;
  }

  private async pace(chatKey: string): Promise<void> {
    if (this.o.paceMs <= 0) return;
    const now = Date.now();
    if (this.lastSent.size > 10_000) for (const [k, at] of this.lastSent) if (now - at > this.o.paceMs) this.lastSent.delete(k);
    const wait = (this.lastSent.get(chatKey) ?? 0) + this.o.paceMs - now;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  /** A link as it is; bytes uploaded to the media endpoint first (an upload repeated makes a second id, nothing more). */
  private async mediaObject(m: OutMedia): Promise<Record<string, unknown>> {
    const filename = m.kind === 'document' && m.filename ? { filename: m.filename } : {};
    if (m.link) return { link: m.link, ...filename };
    const { c, phone } = this.live();
    const form = new FormData();
    form.set('messaging_product', 'whatsapp');
    form.set('type', m.mimeType);
    form.set('file', new Blob([new Uint8Array(m.data!)], { type: m.mimeType }), m.filename ?? 'file');
    const r = (await c.calls.call('POST', `${phone}/media`, { kind: 'idempotent', form, what: 'the media upload', rateWait: true })) as { id?: unknown };
    if (typeof r?.id !== 'string') throw new Error('the media upload answered no id');
    return { id: r.id, ...filename };
  }

  stream(): never {
    throw new Error('WhatsApp has no edits');
  }

  /** No edits: nothing is shown until the final part, which the kit then sends whole. */
  openStream(): StreamView<WhatsAppReply> {
    return { update: () => undefined, finish: () => Promise.resolve(undefined), close: () => undefined };
  }

  typing(address: WhatsAppAddress): (() => Promise<unknown>) | undefined {
    if (this.o.typing === 'off' || !address.messageId) return undefined;
    const messageId = address.messageId;
    const withIndicator = this.o.typing === 'typing';
    return () => {
      const { c, phone } = this.live();
      const body = { messaging_product: 'whatsapp', status: 'read', message_id: messageId, ...(withIndicator ? { typing_indicator: { type: 'text' } } : {}) };
      return c.calls.post(`${phone}/messages`, body, { kind: 'idempotent', what: 'the read receipt', rateWait: false, retries: 1 });
    };
  }
}

interface SendState {
  sent: number;
  /** The reply as plain text, for a template's parameter. */
  plain: string;
}

export class WhatsAppSender {
  private readonly kit: ChannelSender<WhatsAppAddress, WhatsAppReply>;

  constructor(o: SenderOptions) {
    // A read receipt sent while typing is off would still be a typing signal; 'read' keeps the kit's keeper on.
    this.kit = new ChannelSender(new WhatsAppDelivery(o), {
      typing: o.typing !== 'off',
      ...(o.onBackgroundError ? { onBackgroundError: o.onBackgroundError } : {}),
    });
  }

  deliver(reply: WhatsAppReply): Promise<Delivered> {
    return this.kit.deliver(reply);
  }

  close(): void {
    this.kit.close();
  }

  /** A redeploy (see ChannelSender.handOver); WhatsApp has no streams by edits, so only sends under way matter. */
  handOver(waitMs: number): Promise<ParkedStream[]> {
    return this.kit.handOver(waitMs);
  }

  adopt(streams: ParkedStream[]): void {
    this.kit.adopt(streams);
  }
}
