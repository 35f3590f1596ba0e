#!/usr/bin/env node
// The demo's agent: a SCRIPTED MODEL, not an AI. It speaks the OpenAI chat completions protocol
// (whole replies and server-sent-event streams) on loopback, so the demo runs the real agent call
// path with no network. Its reply counts the user turns in the history it was sent, which makes
// the per-thread memory visible: a new thread starts at turn 1 again.
'use strict';
const http = require('node:http');

const MODEL = 'chatgate-scripted-demo';

/** "I want a human", "can I talk to a person", "an operator please": the demo hands the chat to a person. */
const ASKS_FOR_PERSON = /\b(a|an|the|real)\s+(human|person|operator)\b/i;

function replyFor(messages) {
  const users = messages.filter((m) => m.role === 'user');
  const last = String(users[users.length - 1]?.content ?? '').slice(0, 400);
  // The agent call's hand-off marker (its default): cut from the reply, the thread flagged for a person.
  if (ASKS_FOR_PERSON.test(last)) return 'Of course, I am asking a person to take over. [[handoff: the user asked for a person]]';
  const system = messages.find((m) => m.role === 'system');
  const name = /user is called ([^.\n]+)/i.exec(system?.content ?? '')?.[1]?.trim();
  // The answer before this message, as memory holds it (the agent's, or an operator's after a takeover).
  const lastUser = messages.lastIndexOf(users[users.length - 1]);
  const before = messages.slice(0, lastUser).filter((m) => m.role === 'assistant').pop();
  const earlier = String(before?.content ?? '').split('\n')[0].slice(0, 60);
  return [
    `Hello${name ? ` ${name}` : ''}! I am the **scripted demo model** (no AI, no network).`,
    '',
    `You said: "${last}"`,
    '',
    `This is **turn ${users.length}** of this thread: I count ${users.length} user message${users.length === 1 ? '' : 's'} in the history I was sent.`,
    ...(earlier ? [`The last answer in my memory begins: "${earlier}"`] : []),
    'Send `/reset` to start a new thread.',
  ].join('\n');
}

function words(text) {
  return text.match(/\S+\s*|\s+/g) ?? [text];
}

function chunk(id, created, delta, finish) {
  return `data: ${JSON.stringify({
    id,
    object: 'chat.completion.chunk',
    created,
    model: MODEL,
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
}

function handle(req, res, { chunkDelayMs }) {
  if (req.method === 'GET' && req.url.endsWith('/models')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', owned_by: 'chatgate' }] }));
  }
  if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
    res.writeHead(404, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
  }
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (d) => {
    raw += d;
    if (raw.length > 1_000_000) req.destroy();
  });
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: 'body is not JSON', type: 'invalid_request_error' } }));
    }
    const text = replyFor(Array.isArray(body.messages) ? body.messages : []);
    const id = `chatcmpl-demo-${Date.now().toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model: MODEL,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        }),
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const pieces = words(text);
    let i = 0;
    res.write(chunk(id, created, { role: 'assistant', content: '' }, null));
    const timer = setInterval(() => {
      if (i < pieces.length) {
        res.write(chunk(id, created, { content: pieces[i++] }, null));
        return;
      }
      clearInterval(timer);
      res.write(chunk(id, created, {}, 'stop'));
      res.end('data: [DONE]\n\n');
    }, chunkDelayMs);
    res.on('close', () => clearInterval(timer));
  });
}

/** Starts the scripted model on 127.0.0.1; resolves with its base URL (ending in /v1) and a close function. */
function startDemoAgent({ port = 0, chunkDelayMs = 60 } = {}) {
  const server = http.createServer((req, res) => handle(req, res, { chunkDelayMs }));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolve({
        url: `http://127.0.0.1:${actual}/v1`,
        close: () => new Promise((r) => server.close(() => r())),
        server,
      });
    });
  });
}

module.exports = { startDemoAgent, replyFor, MODEL };

if (require.main === module) {
  startDemoAgent({ port: Number(process.env.PORT) || 0 }).then(({ url }) => console.log(`scripted demo model at ${url}`));
}
