/**
 * Malformed Telegram updates, through the real grammy poller (the emulator's getUpdates) and the
 * real webhook route: none reaches the flow with a made-up id, none breaks Node-RED, none hides
 * the valid update after it. Then generated junk (fast-check) against the webhook route.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import request from 'supertest';
import type { Update } from 'grammy/types';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { captured, collect, getNode, helper, nextMessage, sleep, unload, useUserDir } from '../helpers/red';
import { BOT, botNode, loadFlow, TOKEN, until, type FlowNode } from '../helpers/telegram';

type Seen = { payload: string; chat: Record<string, unknown> };

const INTEGER_ID = /^-?\d+$/;

function flow(tg: TelegramServer, botOver: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'test gateway' },
    botNode(tg.apiRoot, botOver),
    { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', groups: 'always', edited: true, wires: [['h']] },
    { id: 'h', type: 'helper' },
  ];
}

const connected = () => getNode('bot')?.connection?.status.state === 'connected';

function warnings(): string[] {
  return helper
    .log()
    .args.map((a: unknown[]) => a[0] as { level: number; msg: unknown })
    .filter((e: { level: number }) => e.level === 30) // Node-RED's warn level
    .map((e: { msg: unknown }) => String(e.msg));
}

function handlerFailures(): string[] {
  return helper
    .log()
    .args.map((a: unknown[]) => String((a[0] as { msg: unknown }).msg))
    .filter((m: string) => /update handler failed/.test(m));
}

/** A well-formed private message from `from`, for junk to be made of. */
function message(text: string, from = 31, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { message_id: 7, date: 1700000000, chat: { id: from, type: 'private', first_name: 'M' }, from: { id: from, is_bot: false, first_name: 'Mallory' }, text, ...over };
}

/** Every id the envelope carries is Telegram's integer id as a string (or a button press's `cb<update_id>`). */
function assertRealIds(m: Seen): void {
  const c = m.chat;
  assert.match(String(c.userId), INTEGER_ID, `userId ${String(c.userId)}`);
  assert.match(String(c.chatId), INTEGER_ID, `chatId ${String(c.chatId)}`);
  assert.match(String(c.messageId), /^(-?\d+|cb\d+)$/, `messageId ${String(c.messageId)}`);
  assert.equal(c.userJid, `tg:${String(c.userId)}`);
  assert.equal(c.chatJid, `tg:${String(c.chatId)}`);
}

/**
 * One defect each: `junk(id)` gives the malformed updates (`id()` hands out fresh integer
 * update_ids), `marker` the update_id the valid update after them gets, `path` what the warning names.
 */
interface Defect {
  name: string;
  path: string;
  junk(id: () => number, marker: number): unknown[];
}

const DEFECTS: Defect[] = [
  {
    name: 'updates without an update_id (two of them: the second is no duplicate of the first)',
    path: 'update.update_id',
    junk: () => [{ message: message('no id one', 31) }, { message: message('no id two', 32) }],
  },
  {
    // Today its id "<marker>" lands in the de-duplication window and the real update <marker> is dropped.
    name: 'an update_id of the wrong type',
    path: 'update.update_id',
    junk: (_id, marker) => [{ update_id: String(marker), message: message('string id', 33) }, { update_id: { n: 1 }, message: message('object id', 34) }],
  },
  {
    name: 'a sender (from) of the wrong shape',
    path: 'update.message.from',
    junk: (id) => [
      { update_id: id(), message: message('from is text', 35, { from: 'alice' }) },
      { update_id: id(), message: message('from.id is an object', 36, { from: { id: { x: 1 }, is_bot: false, first_name: 'O' } }) },
    ],
  },
  {
    name: 'a chat of the wrong shape',
    path: 'update.message.chat',
    junk: (id) => [
      { update_id: id(), message: message('chat.id is an object', 37, { chat: { id: {}, type: 'private' } }) },
      { update_id: id(), message: message('chat is an array', 38, { chat: [38] }) },
      { update_id: id(), message: message('chat without a type', 39, { chat: { id: 39 } }) },
    ],
  },
  {
    name: 'a message_id that is missing or an object',
    path: 'update.message.message_id',
    junk: (id) => {
      const missing = message('no message_id', 40);
      delete missing.message_id;
      return [
        { update_id: id(), message: missing },
        { update_id: id(), message: message('message_id is an object', 41, { message_id: { id: 1 } }) },
      ];
    },
  },
  {
    name: 'a document or photo without a string file_id',
    path: 'update.message.',
    junk: (id) => [
      { update_id: id(), message: message('', 42, { text: undefined, caption: 'my report', document: { file_name: 'r.pdf', file_size: 10 } }) },
      { update_id: id(), message: message('', 43, { text: undefined, photo: [{ file_id: 5, file_unique_id: 'u', width: 1, height: 1 }] }) },
    ],
  },
  {
    name: 'a location that is not two numbers in range (the only content of its message)',
    path: 'update.message.location',
    junk: (id) => [
      { update_id: id(), message: message('', 44, { text: undefined, location: { latitude: 'north', longitude: 13.4 } }) },
      { update_id: id(), message: message('', 45, { text: undefined, location: { latitude: 95, longitude: 13.4 } }) },
    ],
  },
  {
    name: 'a button press with an id or sender of the wrong shape',
    path: 'update.callback_query.',
    junk: (id) => [
      { update_id: id(), callback_query: { id: 5, from: { id: 46, is_bot: false, first_name: 'P' }, data: 'x', chat_instance: '1' } },
      { update_id: id(), callback_query: { id: 'q47', from: [47], data: 'x', chat_instance: '1' } },
    ],
  },
];

describe('telegram in: malformed updates', function () {
  let tg: TelegramServer;
  let nextId = 300000;
  const id = () => nextId++;

  beforeEach(async () => {
    useUserDir();
    tg = await startTelegramServer({ token: TOKEN, botUsername: BOT });
  });
  afterEach(async () => {
    await unload();
    await tg.close();
  });

  /** Pushes the junk, then a valid DM as update `marker`; resolves with what reached the flow before it. */
  async function feed(junk: unknown[], marker = id()): Promise<Seen[]> {
    const seen = collect('h') as Seen[];
    for (const j of junk) tg.pushRaw(j);
    tg.pushUpdate({ ...tg.make.text('MARKER', { from: { id: 999 } }), update_id: marker } as Update);
    await until(() => seen.some((m) => m.payload === 'MARKER'), 4000, 'the valid update after the junk to reach the flow');
    await sleep(10);
    return seen.filter((m) => m.payload !== 'MARKER');
  }

  for (const mode of ['polling', 'webhook'] as const) {
    describe(`by ${mode}`, function () {
      if (mode === 'webhook') {
        before(async () => {
          await helper.startServer();
          // The helper's server serves its own express app; route it to whichever httpNode the current flow got.
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
        });
        after(() => helper.stopServer());
      }

      async function start(): Promise<void> {
        await loadFlow(flow(tg, mode === 'webhook' ? { mode: 'webhook', webhookUrl: helper.url(), webhookPath: '/tg/hook' } : {}));
        await until(connected, 3000, 'connected');
      }

      for (const d of DEFECTS) {
        it(`drops ${d.name}, says so once, and answers the next valid update`, async () => {
          await start();
          // The valid update comes after the junk, in the queue and in update_id order.
          const marker = nextId + 100;
          const junk = d.junk(id, marker);
          nextId = marker + 1;
          const seen = await feed(junk, marker);
          assert.deepEqual(
            seen.map((m) => m.payload),
            [],
            'nothing from a malformed update reaches the flow',
          );
          const said = warnings().filter((w) => /malformed/.test(w));
          assert.ok(said.some((w) => w.includes(d.path)), `a warning names ${d.path}: ${JSON.stringify(said)}`);
          assert.ok(said.length <= junk.length, 'at most one warning per kind');
          assert.deepEqual(handlerFailures(), []);
          if (mode === 'webhook') assert.ok(tg.webhookDeliveries.every((w) => w.status === 200), 'the route answers 200, so Telegram does not resend junk');
        });
      }

      it('logs each kind of problem once, counts the rest, and sums them up on close', async () => {
        await start();
        const badFrom = () => ({ update_id: id(), message: message('bad from', 50, { from: 'x' }) });
        const badChat = () => ({ update_id: id(), message: message('bad chat', 51, { chat: 'x' }) });
        await feed([badFrom(), badFrom(), badChat(), badFrom(), badChat()]);
        const said = warnings().filter((w) => /malformed/.test(w));
        assert.equal(said.length, 2, `one warning per kind: ${JSON.stringify(said)}`);
        // A redeploy closes the in node while the test helper still records the log.
        await helper.setFlows(flow(tg), 'full', { bot: { token: TOKEN } });
        const summary = warnings().find((w) => /dropped 5 malformed/.test(w));
        assert.ok(summary, `a summary on close: ${JSON.stringify(warnings())}`);
        assert.match(summary, /update\.message\.from: 3/);
        assert.match(summary, /update\.message\.chat: 2/);
      });
    });
  }

  it('a poll answer of nothing but junk (null, a number, a text, a negative id) confirms nothing made up and loses no update', async () => {
    await loadFlow(flow(tg));
    await until(connected, 3000, 'connected');
    const seen = await feed([null, 42, 'text', [], { update_id: -5, message: message('negative id') }]);
    assert.deepEqual(seen, []);
    const again = nextMessage('h');
    tg.pushUpdate(tg.make.text('and the one after'));
    assert.equal((await again).payload, 'and the one after');
    assert.deepEqual(handlerFailures(), []);
  });
});

// ---------------------------------------------------------------------------------------------
// generated junk against the webhook route
// ---------------------------------------------------------------------------------------------

/** Keys that are no part of an update; prototype names among them. */
const NOISE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'x_new_field', 'business_connection_id2'];

/** Sets an own property, even `__proto__` (plain assignment would set the prototype instead). */
function put(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}

type Json = Record<string, unknown>;
type Mutation = (u: Json) => void;

const notAnInteger = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constant(null),
  fc.boolean(),
  fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
  fc.constant(2 ** 60),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);
const notAnObject = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }));
const notAString = fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.string(), { maxKeys: 2 }));
const notALatitude = fc.oneof(notAString.filter((v) => typeof v !== 'number'), fc.double({ min: 90.0001, max: 1e300, noNaN: true }), fc.double({ min: -1e300, max: -90.0001, noNaN: true }), fc.constant('INFINITY'));

const msgOf = (u: Json) => (u.message ?? u.edited_message ?? u.channel_post) as Json | undefined;

/** Each makes a valid update invalid in one way the mapping would otherwise have trusted. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>((u) => delete u.update_id),
  notAnInteger.map<Mutation>((v) => (u) => (u.update_id = v)),
  fc.oneof(notAnInteger, fc.constant(undefined)).map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) m.message_id = v;
    else u.update_id = 'x';
  }),
  notAnObject.map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) m.from = v;
    else (u.callback_query as Json).from = v;
  }),
  fc.oneof(notAnObject, fc.record({ id: notAnInteger, type: fc.constant('private') }), fc.record({ id: fc.integer(), type: fc.string({ maxLength: 8 }).filter((t) => !['private', 'group', 'supergroup', 'channel'].includes(t)) })).map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) m.chat = v;
    else u.update_id = null;
  }),
  fc.record({ id: notAnInteger, is_bot: fc.boolean(), first_name: fc.string() }).map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) m.from = v;
    else (u.callback_query as Json).from = v;
  }),
  notAnObject.map<Mutation>((v) => (u) => {
    if (u.callback_query) u.callback_query = v;
    else u.message = v;
  }),
  notAString.map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) m.text = v;
    else (u.callback_query as Json).id = v;
  }),
  fc.integer({ min: 100_001, max: 300_000 }).map<Mutation>((n) => (u) => {
    const m = msgOf(u);
    if (m) m.text = 'JUNK '.padEnd(n, 'x');
    else (u.callback_query as Json).data = 'JUNK '.padEnd(n, 'x');
  }),
  fc.oneof(fc.constant({}), fc.record({ file_id: notAString }), fc.constant([]), fc.record({ file_id: fc.constant('') }), fc.record({ file_id: fc.constant('F1'), file_size: fc.constantFrom(-1, 'big', 1.5) })).chain((doc) =>
    fc.constantFrom('document', 'voice', 'audio', 'video', 'video_note', 'animation', 'sticker').map<Mutation>((kind) => (u) => {
      const m = msgOf(u);
      if (m) m[kind] = doc;
      else (u.callback_query as Json).message = { message_id: 'x' };
    }),
  ),
  fc.oneof(notAnObject.filter((v) => !Array.isArray(v)), fc.constant([{ file_id: 5, width: 1, height: 1 }]), fc.constant([{ width: 1, height: 1 }])).map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) m.photo = v;
    else u.update_id = [];
  }),
  fc.oneof(fc.record({ latitude: notALatitude, longitude: fc.double({ min: -180, max: 180, noNaN: true }) }), fc.record({ latitude: fc.double({ min: -90, max: 90, noNaN: true }), longitude: fc.oneof(fc.constant(181), fc.constant('east'), fc.constant(-1e10)) }), fc.constant({ latitude: 1 }), fc.constant([52.5, 13.4]), notAnObject).chain((loc) =>
    fc.boolean().map<Mutation>((asVenue) => (u) => {
      const m = msgOf(u);
      if (!m) return void (u.update_id = 'y');
      delete m.text;
      if (asVenue) m.venue = { location: loc, title: 'JUNK place', address: 'a' };
      else m.location = loc;
    }),
  ),
  fc.oneof(notAnObject, fc.record({ message_id: notAnInteger })).map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) m.reply_to_message = v;
    else (u.callback_query as Json).message = v;
  }),
  fc.oneof(notAnObject.filter((v) => !Array.isArray(v)), fc.constant([{ type: 'bot_command', offset: '0', length: 4 }]), fc.constant([{ type: 'text_mention', offset: 0, length: 4, user: { id: 'me' } }])).map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) m.entities = v;
    else (u.callback_query as Json).id = 7;
  }),
  fc.record({ is_topic_message: fc.constant('yes'), message_thread_id: notAnInteger }).map<Mutation>((v) => (u) => {
    const m = msgOf(u);
    if (m) Object.assign(m, v);
    else (u.callback_query as Json).from = 'nobody';
  }),
);

/** Unknown fields, prototype names, nested junk, big strings: none of it makes an update invalid, none may break anything. */
const noise: fc.Arbitrary<Mutation> = fc
  .array(
    fc.tuple(
      fc.constantFrom(...NOISE_KEYS),
      fc.constantFrom('top', 'message', 'from', 'chat'),
      fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.integer({ min: 0, max: 50_000 }).map((n) => 'y'.repeat(n)), fc.constant({ __proto__: null, polluted: true }), fc.constant({ isAdmin: true })),
    ),
    { maxLength: 4 },
  )
  .map<Mutation>((extras) => (u) => {
    for (const [key, where, value] of extras) {
      const m = msgOf(u);
      const target = where === 'top' || !m ? u : where === 'message' ? m : (m[where] as Json | undefined);
      if (target && typeof target === 'object' && !Array.isArray(target)) put(target, key, value);
    }
  });

/** A valid base update (message, edit, channel post or button press) with JUNK text, to be broken. */
const base: fc.Arbitrary<Json> = fc.constantFrom('message', 'edited_message', 'channel_post', 'callback_query').map((kind) => {
  if (kind === 'callback_query') return { callback_query: { id: 'cbq1', from: { id: 61, is_bot: false, first_name: 'C' }, chat_instance: 'ci', data: 'JUNK press', message: { message_id: 3, date: 1, chat: { id: 61, type: 'private' } } } };
  if (kind === 'channel_post') return { channel_post: { message_id: 4, date: 1, chat: { id: -1001, type: 'channel', title: 'Ch' }, text: 'JUNK post' } };
  return { [kind]: message('JUNK message', 62) };
});

/** A body that is not an update at all. */
const notAnUpdate: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '{', 'null', '[]', '[{"update_id":1}]', '"update"', '42', 'true', '{"update_id":', 'ÿþ{}'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
);

/** A malformed update as the body text of a webhook request; `update_id`, when an integer, is handed out fresh. */
function junkBody(freshId: () => number): fc.Arbitrary<string> {
  const broken = fc.tuple(base, mutation, noise).map(([b, mutate, addNoise]) => {
    const u: Json = { update_id: freshId(), ...structuredClone(b) };
    addNoise(u);
    mutate(u);
    // 1e999 is valid JSON and parses to Infinity; JSON.stringify cannot write it, so it goes in as text.
    return JSON.stringify(u).replace(/"INFINITY"/g, '1e999');
  });
  return fc.oneof({ weight: 5, arbitrary: broken }, { weight: 1, arbitrary: notAnUpdate });
}

describe('telegram in: generated junk on the webhook route', function () {
  this.timeout(60000);
  let tg: TelegramServer;

  before(async () => {
    useUserDir();
    tg = await startTelegramServer({ token: TOKEN, botUsername: BOT });
    await helper.startServer();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
  });
  after(async () => {
    await unload();
    await helper.stopServer();
    await tg.close();
  });

  it('none reaches the flow with a made-up id, the route always answers, and the next valid update is answered', async () => {
    await loadFlow(flow(tg, { mode: 'webhook', webhookUrl: helper.url(), webhookPath: '/tg/hook' }));
    await until(connected, 3000, 'webhook set');
    const secret = tg.webhook!.secret_token!;
    const seen = collect('h') as Seen[];
    let junkIds = 700000;
    let otherIds = 900000;
    let n = 0;
    const post = (body: string) => request(helper.url()).post('/tg/hook').set('content-type', 'application/json').set('x-telegram-bot-api-secret-token', secret).timeout(5000).send(body);

    const used = new Set<number>();
    const reusableId = (body: string): number | undefined => {
      let id: unknown;
      try {
        id = (JSON.parse(body) as { update_id?: unknown } | null)?.update_id;
      } catch {
        return undefined;
      }
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || used.has(id)) return undefined;
      used.add(id);
      return id;
    };

    await fc.assert(
      fc.asyncProperty(
        junkBody(() => ++junkIds),
        async (body) => {
          const answer = await post(body);
          assert.ok(answer.status === 200 || answer.status === 400, `the route answered ${answer.status}`);
          // The valid update reuses the junk's id where it had a usable one: a dropped update must
          // leave nothing in the de-duplication window.
          const text = `valid ${++n}`;
          const arriving = nextMessage('h', 3000);
          const valid = { ...tg.make.text(text, { from: { id: 100 + (n % 7) }, messageId: n }), update_id: reusableId(body) ?? ++otherIds };
          const ok = await post(JSON.stringify(valid));
          assert.equal(ok.status, 200);
          assert.equal((await arriving).payload, text);
        },
      ),
      { numRuns: 150 },
    );

    assert.equal(seen.length, n, 'only the valid updates reached the flow');
    for (const m of seen) {
      assert.match(m.payload, /^valid \d+$/);
      assertRealIds(m);
    }
    assert.deepEqual(handlerFailures(), [], 'no handler threw');
    const kinds = warnings()
      .filter((w) => /malformed/.test(w))
      .map((w) => /\((update[^\s:]*):/.exec(w)?.[1]);
    assert.ok(kinds.length >= 3, 'the drops were reported');
    assert.ok(kinds.every(Boolean), 'every warning names the field');
    assert.equal(new Set(kinds).size, kinds.length, 'each kind is logged once');
  });
});
