/**
 * chatgate-webchat-in: serves the chat page on Node-RED's HTTP server and a WebSocket beside it;
 * each message a visitor types leaves this node as an envelope. Replies come back through a
 * webchat out node, which finds this node's sessions by its id (the messages' channelId); with a
 * gateway shared by several instances, through the instance that holds the visitor's page (relay.ts).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { buildChat } from '../core/inbound';
import { toJid } from '../core/jid';
import { linkChannel } from '../gateway/channel-link';
import { frameId, MAX_PAYLOAD_BYTES, parseClientFrame, USER_ID_PATTERN, type ClientMessage, type ServerFrame } from './frames';
import { DEFAULT_LIMITS, registerHub, send, unregisterHub, WebchatHub } from './hub';
import { WebchatRelay } from './relay';
import { claimPath, listenUpgrades, normalizePath, publicPath, releasePath, removeRoutes } from './mount';
import { ASSETS, PAGE_CSP, pageStrings, readAsset, renderIndex, type AssetName } from './page';
import { safeError } from '../core/redact';
import { handOverLateSends } from '../common/late-sends';
import { claim, park } from '../core/handover';

interface WebchatInDef extends NodeDef {
  gateway?: string;
  path?: string;
  title?: string;
}

const DEFAULT_PATH = '/chatgate/webchat';
const HEARTBEAT_MS = 30 * 1000;
/** Per socket: a burst of this many messages, then one a second; enough for a resend after reconnect. */
const RATE_BURST = 30;
const RATE_PER_SECOND = 1;

class TokenBucket {
  private tokens = RATE_BURST;
  private last = Date.now();
  take(now = Date.now()): boolean {
    this.tokens = Math.min(RATE_BURST, this.tokens + ((now - this.last) / 1000) * RATE_PER_SECOND);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export = function (RED: NodeAPI): void {
  function ChatgateWebchatInNode(this: Node, def: WebchatInDef) {
    RED.nodes.createNode(this, def);
    // A message taken just before a redeploy closes the node leaves from the next deploy's node.
    handOverLateSends(RED, this);
    const node = this;
    const link = linkChannel(RED, node, def.gateway, { platform: 'webchat', direction: 'in', name: def.name || 'webchat' });
    const title = def.title?.trim() || 'chatgate';
    const cleanups: Array<() => void> = [];
    let closed = false;
    let redeploy = false;

    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      redeploy = !removed;
      for (const cleanup of cleanups.reverse()) {
        try {
          cleanup();
        } catch (err) {
          node.warn((err as Error).message);
        }
      }
      link.close();
      done();
    });

    const fail = (message: string) => {
      link.status('error', message, message);
      node.error(message);
    };

    const gateway = link.gateway;
    if (!gateway) return fail(RED._('chatgate.errors.noGateway'));
    const routePath = normalizePath(def.path ?? DEFAULT_PATH);
    if (!routePath) return fail(RED._('webchat-in.errors.badPath', { path: String(def.path) }));
    const settings = RED.settings as unknown as { httpNodeRoot?: string | false };
    const server = RED.server as unknown as Server | undefined;
    if (settings.httpNodeRoot === false || !server || !RED.httpNode) return fail(RED._('webchat-in.errors.noHttp'));
    const fullPath = publicPath(settings.httpNodeRoot, routePath);
    if (!claimPath(fullPath, node.id)) return fail(RED._('webchat-in.errors.duplicatePath', { path: fullPath }));
    cleanups.push(() => releasePath(fullPath, node.id));

    let html: string;
    const assets = {} as Record<AssetName, string>;
    try {
      html = renderIndex(readAsset('index.html'), { title, base: fullPath, strings: pageStrings((k) => RED._(k)) });
      for (const name of Object.keys(ASSETS) as AssetName[]) assets[name] = readAsset(name);
    } catch (err) {
      return fail(RED._('chatgate.status.error', { message: (err as Error).message }));
    }

    // --- the page -------------------------------------------------------------------------
    const common = (res: Response) => {
      res.set('Cache-Control', 'no-cache');
      res.set('X-Content-Type-Options', 'nosniff');
      res.set('Referrer-Policy', 'no-referrer');
    };
    const servePage: RequestHandler = (_req: Request, res: Response) => {
      common(res);
      res.set('Content-Security-Policy', PAGE_CSP);
      res.type('text/html; charset=utf-8').send(html);
    };
    const handlers = new Set<RequestHandler>([servePage]);
    RED.httpNode.get(routePath, servePage);
    for (const name of Object.keys(ASSETS) as AssetName[]) {
      const serveAsset: RequestHandler = (_req: Request, res: Response) => {
        common(res);
        res.type(ASSETS[name]).send(assets[name]);
      };
      handlers.add(serveAsset);
      RED.httpNode.get(`${routePath}/${name}`, serveAsset);
    }
    cleanups.push(() => removeRoutes(RED.httpNode, handlers));

    // --- the sessions ---------------------------------------------------------------------
    const hub = new WebchatHub(node.id);
    const showUsers = (users: number) =>
      link.status('connected', RED._('webchat-in.status.users', { count: users, path: fullPath }));
    hub.onUsersChanged = showUsers;
    // Never dropped silently: the operator hears of every reply that gave way to a newer one.
    hub.onEvicted = (userId, count) =>
      node.warn(RED._('webchat-in.errors.evicted', { chat: toJid('webchat', userId), count: String(count), max: String(DEFAULT_LIMITS.maxQueued) }));
    registerHub(hub);
    // Other instances running this flow on the same gateway (Redis): replies reach a visitor's
    // page whichever instance it is connected to.
    const bus = gateway.bus;
    const relay = bus ? new WebchatRelay(hub, bus, (err) => node.warn(RED._('webchat-in.errors.relay', { message: safeError(err).message }))) : undefined;
    // Replies waiting for visitors with no page open (the redeploy itself closed every page's
    // socket) go to the next deploy's node of this id, which shows them when the pages reconnect.
    for (const [userId, frames] of claim<Array<[string, ServerFrame[]]>>(`webchat-waiting:${node.id}`) ?? []) for (const f of frames) hub.deliver(userId, f);
    cleanups.push(() => {
      relay?.close();
      unregisterHub(hub);
      if (redeploy) park(`webchat-waiting:${node.id}`, hub.takeAll());
      hub.clear();
    });

    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD_BYTES });
    const alive = new WeakSet<WebSocket>();
    const stopUpgrades = listenUpgrades(server, `${fullPath}/ws`, (req, socket, head) => {
      if (closed) return void socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
    });
    cleanups.push(stopUpgrades);

    // A page closed without a goodbye (laptop lid, lost network) would count as connected forever.
    const heartbeat = setInterval(() => {
      for (const ws of wss.clients) {
        if (!alive.has(ws)) {
          ws.terminate();
          continue;
        }
        alive.delete(ws);
        ws.ping();
      }
    }, HEARTBEAT_MS);
    heartbeat.unref?.();
    cleanups.push(() => {
      clearInterval(heartbeat);
      for (const ws of wss.clients) {
        ws.close(1001, 'closing');
        setTimeout(() => ws.terminate(), 1000).unref?.();
      }
      wss.close();
    });

    function onConnection(ws: WebSocket, req: IncomingMessage): void {
      let userId: string | undefined;
      const bucket = new TokenBucket();
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
      ws.on('error', () => undefined); // a protocol error (oversized frame) closes the socket; nothing else to do
      ws.on('close', () => {
        if (userId) hub.detach(userId, ws);
      });
      send(ws, { type: 'hello', title });

      // The page names its user when it connects, so replies that waited for it arrive at once.
      const asked = new URL(req.url ?? '/', 'http://localhost').searchParams.get('userId');
      if (asked !== null) {
        if (USER_ID_PATTERN.test(asked)) {
          userId = asked;
          hub.attach(userId, ws);
        } else {
          send(ws, { type: 'error', error: RED._('webchat-in.errors.badUser') });
        }
      }

      ws.on('message', (data: RawData, isBinary: boolean) => {
        if (isBinary) return send(ws, { type: 'error', error: RED._('webchat-in.errors.binary') });
        const raw = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
        const parsed = parseClientFrame(raw);
        if (!parsed.ok) {
          const id = frameId(raw);
          return send(ws, { type: 'error', error: RED._('webchat-in.errors.badFrame', { message: parsed.error }), ...(id ? { id } : {}) });
        }
        const m = parsed.value;
        if (userId === undefined) {
          userId = m.userId;
          hub.attach(userId, ws);
        } else if (m.userId !== userId) {
          return send(ws, { type: 'error', error: RED._('webchat-in.errors.otherUser'), id: m.id });
        }
        if (!bucket.take()) return send(ws, { type: 'error', error: RED._('webchat-in.errors.tooFast'), id: m.id });
        accept(ws, m).catch((err: unknown) => {
          node.error(RED._('chatgate.status.error', { message: safeError(err).message }));
          send(ws, { type: 'error', error: RED._('webchat-in.errors.internal'), id: m.id });
        });
      });
    }

    async function accept(ws: WebSocket, m: ClientMessage): Promise<void> {
      await gateway!.ready;
      if (closed) return;
      // Scoped by user, so one visitor cannot suppress another's message by reusing its id; the
      // page resends unacknowledged messages after a reconnect, which this turns into one.
      // A store that is down rejects here: the page hears an error, no ack, and sends the message again.
      if (!(await gateway!.ops.isDuplicate('webchat', node.id, `${m.userId}/${m.id}`))) {
        // Seen now, so it goes on even if the node closed meanwhile (a resend would be a duplicate):
        // a redeploy hands it to the next deploy's node.
        const chat = buildChat(
          {
            platform: 'webchat',
            channelId: node.id,
            chatId: m.userId,
            chatType: 'direct',
            userId: m.userId,
            ...(m.userName ? { userName: m.userName } : {}),
            messageId: m.id,
          },
          m.text,
        );
        node.send({ payload: m.text, chat } as NodeMessage);
      }
      send(ws, { type: 'ack', id: m.id });
    }

    showUsers(0);
  }

  RED.nodes.registerType('chatgate-webchat-in', ChatgateWebchatInNode as unknown as (this: Node, def: NodeDef) => void);
};
