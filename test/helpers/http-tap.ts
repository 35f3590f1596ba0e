/**
 * A pass-through HTTP proxy in the test process that notes each request it forwards: put one
 * between each Node-RED process and an emulator (its apiRoot pointing at the tap), and the test
 * knows which process made which call — e.g. which one long-polls Telegram. A request whose
 * client goes away (a process killed in the middle of a long poll) is cut upstream too, as the
 * platform would see it.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface TappedRequest {
  method: string;
  /** The last segment of the path (a Bot API method: never the token that comes before it). */
  call: string;
  at: number;
}

export interface HttpTap {
  /** e.g. http://127.0.0.1:34567 */
  readonly url: string;
  readonly requests: TappedRequest[];
  /** Requests of this call since `since` (ms timestamp). */
  count(call: string, since?: number): number;
  close(): Promise<void>;
}

export async function startHttpTap(target: string): Promise<HttpTap> {
  const upstream = new URL(target);
  const requests: TappedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://tap').pathname;
    requests.push({ method: req.method ?? 'GET', call: path.slice(path.lastIndexOf('/') + 1), at: Date.now() });
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (call, since = 0) => requests.filter((r) => r.call === call && r.at >= since).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
