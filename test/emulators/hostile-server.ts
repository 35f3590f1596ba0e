/**
 * A server that is not ours: it answers calls with the error bodies real proxies, gateways and
 * half-compatible servers produce — no `description`, HTML, empty bodies, truncated JSON, `null`,
 * fields of the wrong type, a socket closed mid-answer. In front of a real emulator it forwards
 * the calls it is not told to spoil, so a bot can connect and then meet the bad answers where
 * they hurt (typing, media, edits, callbacks).
 */
import * as http from 'node:http';

export interface BadAnswer {
  name: string;
  status: number;
  contentType?: string;
  /** The body as sent; 'drop' closes the socket without an answer. */
  body: string | 'drop';
}

/** Every request echoes its Authorization header into one of them, as some gateways do. */
export const BAD_ANSWERS: readonly BadAnswer[] = [
  { name: '500 with {message}', status: 500, contentType: 'application/json', body: '{"message":"upstream exploded"}' },
  { name: '502 HTML page', status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' },
  { name: '200 {ok:false} alone', status: 200, contentType: 'application/json', body: '{"ok":false}' },
  { name: '400 with wrong-typed fields', status: 400, contentType: 'application/json', body: '{"ok":false,"error_code":"400","description":{"nested":true},"parameters":"none"}' },
  { name: '200 null', status: 200, contentType: 'application/json', body: 'null' },
  { name: '503 empty body', status: 503, body: '' },
  { name: '200 array', status: 200, contentType: 'application/json', body: '[1,2,3]' },
  { name: '429 with retry_after text', status: 429, contentType: 'application/json', body: '{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":"soon"}}' },
  { name: 'truncated JSON', status: 200, contentType: 'application/json', body: '{"ok":tr' },
  { name: 'socket closed', status: 0, body: 'drop' },
  { name: 'echoes the credentials', status: 401, contentType: 'application/json', body: 'ECHO' },
];

export interface HostileServer {
  readonly url: string;
  /** Requests answered badly so far, by the answer's name. */
  readonly spoiled: Array<{ path: string; answer: string }>;
  close(): Promise<void>;
}

export interface HostileOptions {
  /** Forward requests `spoil` does not match to this server (an emulator). */
  target?: string;
  /** Which requests get a bad answer (default: all). */
  spoil?: (path: string) => boolean;
  answers?: readonly BadAnswer[];
}

export async function startHostileServer(opts: HostileOptions = {}): Promise<HostileServer> {
  const answers = opts.answers ?? BAD_ANSWERS;
  const spoiled: Array<{ path: string; answer: string }> = [];
  let next = 0;
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks);
      if (opts.target && opts.spoil && !opts.spoil(path)) return forward(opts.target, req, body, res);
      const answer = answers[next++ % answers.length];
      spoiled.push({ path, answer: answer.name });
      if (answer.body === 'drop') return req.socket.destroy();
      const text = answer.body === 'ECHO' ? JSON.stringify({ error: { message: `refused credentials ${req.headers.authorization ?? ''} for ${path}` } }) : answer.body;
      res.writeHead(answer.status, answer.contentType ? { 'content-type': answer.contentType } : {});
      res.end(text);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spoiled,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function forward(target: string, req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', target);
  const headers = { ...req.headers, host: url.host, 'content-length': String(body.length) };
  const up = http.request(url, { method: req.method, headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  // A long poll held by the target is cut when the client goes away.
  res.on('close', () => up.destroy());
  up.end(body);
}
