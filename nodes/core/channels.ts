/**
 * The channel registry: every channel node (in or out) registers here with a live status, so the
 * admin API and the editor can show which connections are up. Out nodes also register a sender,
 * which is how the gateway delivers a message it builds itself (the admin send API).
 */
import type { Platform, ReplyTo } from './envelope';

export type ChannelState = 'connecting' | 'connected' | 'error' | 'stopped';

export interface ChannelInfo {
  id: string;
  type: string;
  platform: Platform;
  direction: 'in' | 'out';
  name: string;
  state: ChannelState;
  message?: string;
  since: number;
}

/** What an out node does with a reply the gateway built: a reply message with an address. */
export interface OutboundReply {
  payload: string;
  chat: { replyTo: ReplyTo };
  thread?: { id: string };
}

export type Sender = (reply: OutboundReply) => Promise<void>;

export class ChannelRegistry {
  private readonly channels = new Map<string, ChannelInfo>();
  private readonly senders = new Map<string, { platform: Platform; send: Sender }>();

  register(info: Omit<ChannelInfo, 'state' | 'since'>, now = Date.now()): void {
    this.channels.set(info.id, { ...info, state: 'connecting', since: now });
  }

  setStatus(id: string, state: ChannelState, message?: string, now = Date.now()): void {
    const c = this.channels.get(id);
    if (!c) return;
    if (c.state !== state || c.message !== message) c.since = now;
    c.state = state;
    c.message = message;
  }

  unregister(id: string): void {
    this.channels.delete(id);
    this.senders.delete(id);
  }

  get(id: string): ChannelInfo | undefined {
    return this.channels.get(id);
  }

  list(): ChannelInfo[] {
    return Array.from(this.channels.values(), (c) => ({ ...c }));
  }

  addSender(id: string, platform: Platform, send: Sender): void {
    this.senders.set(id, { platform, send });
  }

  findSender(platform: Platform): Sender | undefined {
    for (const s of this.senders.values()) if (s.platform === platform) return s.send;
    return undefined;
  }

  /** An in node of the platform, whose id serves as channelId for an address built from a bare JID. */
  firstInbound(platform: Platform): ChannelInfo | undefined {
    for (const c of this.channels.values()) if (c.platform === platform && c.direction === 'in') return c;
    return undefined;
  }
}
