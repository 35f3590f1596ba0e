/** A web chat visitor's page reduced to its socket and the frames it received (for flows with a webchat in node). */
import WebSocket from 'ws';
import { helper } from './red';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = Record<string, any>;

export class Visitor {
  readonly frames: Frame[] = [];
  /** Every frame ever received, kept (next() takes frames out of `frames`). */
  readonly all: Frame[] = [];
  private readonly waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private constructor(
    readonly ws: WebSocket,
    readonly userId: string | undefined,
  ) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      this.all.push(frame);
      for (const w of [...this.waiters]) {
        if (w.pred(frame)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(frame);
        }
      }
    });
  }

  /** A page that has received its hello frame. */
  static async open(path: string, userId: string): Promise<Visitor> {
    const v = await Visitor.connect(path, userId);
    await v.next('hello');
    return v;
  }

  /**
   * The socket only, open (no wait for the hello frame; no userId: the server makes one up). An
   * upgrade nobody answers hangs, so a connection that must fail gets a short handshake timeout.
   */
  static connect(path: string, userId?: string, handshakeTimeout = 2000): Promise<Visitor> {
    const ws = new WebSocket(`${helper.url().replace(/^http/, 'ws')}${path}${userId ? `?userId=${userId}` : ''}`, { handshakeTimeout });
    const v = new Visitor(ws, userId);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(v));
      ws.once('error', reject);
    });
  }

  /** The first frame (received or to come) of this type that matches; taken out of `frames`. */
  next(type: string, pred: (f: Frame) => boolean = () => true, ms = 3000): Promise<Frame> {
    const match = (f: Frame) => f.type === type && pred(f);
    const seen = this.frames.find(match);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} frame within ${ms} ms; got ${JSON.stringify(this.frames)}`)), ms);
      this.waiters.push({
        pred: match,
        resolve: (f) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
      });
    });
  }

  /** The final reply: a whole one, or the last part of a stream. */
  reply(ms?: number): Promise<Frame> {
    return this.next('reply', (f) => !f.streamId || f.done === true, ms);
  }

  say(id: string, text: string): void {
    this.ws.send(JSON.stringify({ type: 'message', id, userId: this.userId, text }));
  }

  /** A message frame naming its own user (which the server checks against the socket's). */
  sayAs(id: string, userId: string, text: string, extra: Frame = {}): void {
    this.ws.send(JSON.stringify({ type: 'message', id, userId, text, ...extra }));
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
