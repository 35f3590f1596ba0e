/**
 * Web chat visitors for the soak: `ws` clients that behave as the page does (docs/webchat.md,
 * nodes/webchat/static/app.js): one socket per visitor named by `?userId=`, every message resent
 * after a reconnect until it is acked, reconnects after a short delay, one bubble per stream id
 * (a late part never overwrites a finished reply), an `error` frame for a message marks it "not
 * sent" (the visitor was told). Faults: sockets cut from the client side without a close frame
 * (the page's network dropping); the redeploy closes them from the server side.
 */
import WebSocket from 'ws';
import type { BotMessage, ChannelDriver, Fault, SoakUser } from '../types';

export const WEBCHAT_PATH = '/soak/chat';

interface Bubble {
  id: string;
  text: string;
  streaming: boolean;
}

interface Pending {
  id: string;
  text: string;
  settle: (accepted: boolean) => void;
}

class Visitor {
  private ws: WebSocket | undefined;
  private closed = false;
  readonly bubbles: Bubble[] = [];
  private readonly byId = new Map<string, Bubble>();
  readonly pending = new Map<string, Pending>();
  readonly told: string[] = [];
  readonly fresh: string[] = [];
  private seq = 0;
  reconnects = 0;

  constructor(
    readonly user: SoakUser,
    private readonly url: string,
  ) {}

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(`${this.url}?userId=${encodeURIComponent(this.id)}`, { handshakeTimeout: 3000 });
    this.ws = ws;
    ws.on('open', () => {
      for (const p of this.pending.values()) this.frame(p);
    });
    ws.on('message', (data) => this.onFrame(JSON.parse(String(data)) as Record<string, unknown>));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws !== ws || this.closed) return;
      this.reconnects++;
      setTimeout(() => this.connect(), 300 + Math.random() * 300);
    });
  }

  /** Cut without a close frame, as a lost network does; the visitor reconnects. */
  cut(): void {
    this.ws?.terminate();
  }

  get id(): string {
    return this.user.conversation.chat;
  }

  say(text: string): Promise<{ accepted: boolean; messageIds: string[] }> {
    const id = `${this.id}-m${this.seq++}`;
    return new Promise((resolve) => {
      const p: Pending = { id, text, settle: (accepted) => resolve({ accepted, messageIds: [id] }) };
      this.pending.set(id, p);
      this.frame(p);
    });
  }

  close(): void {
    this.closed = true;
    this.ws?.terminate();
  }

  private frame(p: Pending): void {
    if (this.open) this.ws!.send(JSON.stringify({ type: 'message', id: p.id, userId: this.id, text: p.text }));
  }

  private onFrame(f: Record<string, unknown>): void {
    if (f.type === 'ack' && typeof f.id === 'string') {
      const p = this.pending.get(f.id);
      this.pending.delete(f.id);
      p?.settle(true);
    } else if (f.type === 'error' && typeof f.id === 'string') {
      const p = this.pending.get(f.id);
      this.pending.delete(f.id);
      if (p) {
        this.told.push(p.text);
        p.settle(true);
      }
    } else if (f.type === 'reply' && typeof f.text === 'string') {
      const streamId = typeof f.streamId === 'string' ? f.streamId : undefined;
      const id = streamId ?? String(f.id);
      let b = this.byId.get(id);
      if (b && !b.streaming && streamId !== undefined && f.done !== true) return;
      if (!b) {
        b = { id, text: '', streaming: false };
        this.byId.set(id, b);
        this.bubbles.push(b);
      }
      b.text = f.text;
      b.streaming = streamId !== undefined && f.done !== true;
      this.fresh.push(f.text);
    }
  }
}

export interface WebchatChannel extends ChannelDriver {
  faults(): Fault[];
}

export function webchatChannel(opts: { users: number }): WebchatChannel {
  const visitors: Visitor[] = [];
  const users: SoakUser[] = [];
  for (let i = 0; i < opts.users; i++) users.push({ channel: 'webchat', key: `webchat/${i}`, conversation: { chat: `soak-visitor-${i}` } });
  const noted = { cuts: 0 };
  return {
    name: 'webchat',
    users,
    async start(base) {
      const url = `${base.replace(/^http/, 'ws')}${WEBCHAT_PATH}/ws`;
      for (const u of users) {
        const v = new Visitor(u, url);
        visitors.push(v);
        v.connect();
      }
    },
    async waitReady(ms) {
      const end = Date.now() + ms;
      while (!visitors.every((v) => v.open)) {
        if (Date.now() > end) throw new Error('webchat: visitors could not connect');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    send(user, text) {
      return visitors[users.indexOf(user)].say(text);
    },
    drain() {
      const out: Array<{ user?: string; text: string }> = [];
      for (const v of visitors) for (const text of v.fresh.splice(0)) out.push({ user: v.user.key, text });
      return out;
    },
    view() {
      const out: BotMessage[] = [];
      for (const v of visitors) for (const b of v.bubbles) out.push({ channel: 'webchat', conversation: { chat: v.id }, text: b.text });
      return out;
    },
    undelivered: () => visitors.flatMap((v) => [...v.pending.values()].map((p) => p.text)),
    toldFailed: () => visitors.flatMap((v) => v.told),
    notes: () => ({ ...noted, reconnects: visitors.reduce((n, v) => n + v.reconnects, 0), told: visitors.reduce((n, v) => n + v.told.length, 0) }),
    faults() {
      return [
        {
          at: 0.39,
          name: 'webchat: a third of the visitors lose their connection (no close frame) and reconnect',
          fire: () => {
            visitors.filter((_, i) => i % 3 === 0).forEach((v) => v.cut());
            noted.cuts += Math.ceil(visitors.length / 3);
          },
        },
        {
          at: 0.7,
          name: 'webchat: another third lose their connection',
          fire: () => {
            visitors.filter((_, i) => i % 3 === 1).forEach((v) => v.cut());
            noted.cuts += Math.ceil((visitors.length - 1) / 3);
          },
        },
      ];
    },
    async close() {
      for (const v of visitors) v.close();
    },
  };
}
