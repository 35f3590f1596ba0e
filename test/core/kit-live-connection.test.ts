/**
 * The life cycle every platform connection shares, without an SDK: one run per key at a time in
 * the process (a redeploy's new connection waits for the old one to end), start and stop one
 * after another, a status heard once per change, ready() and the inbound handlers.
 */
import { strict as assert } from 'node:assert';
import { abortableSleep, LiveConnection, oneAtATime, Stopped, untilAborted, type StatusLike } from '../../nodes/core/kit/live-connection';

const tick = () => new Promise<void>((r) => setImmediate(r));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

interface Status extends StatusLike {
  key: 'stopped' | 'connecting' | 'waiting' | 'connected' | 'receiving';
}

/** Connections of one token share this: only one may run at a time. */
const running = new Map<string, Promise<void>>();

class FakeConnection extends LiveConnection<Status, { name: string }, string> {
  readonly failures: unknown[] = [];
  readonly handlerErrors: unknown[] = [];
  readonly statuses: string[] = [];
  /** Thrown by the next run once it is its turn. */
  refuse: Error | undefined;

  constructor(
    readonly name: string,
    private readonly token: string,
    private readonly log: string[],
  ) {
    super({ state: 'stopped', key: 'stopped', params: {} });
    this.on('status', (s: Status) => this.statuses.push(s.key));
  }

  listen(handler: (event: string) => void | Promise<void>): () => void {
    return this.subscribe(handler);
  }

  receive(event: string): Promise<void> {
    return this.dispatch(event, (err) => this.handlerErrors.push(err));
  }

  protected async run(receive: boolean, stop: AbortSignal): Promise<void> {
    await oneAtATime(running, this.token, stop, () => this.setStatus({ state: 'connecting', key: 'waiting', params: {} }), async () => {
      this.setStatus({ state: 'connecting', key: 'connecting', params: {} });
      this.setStatus({ state: 'connecting', key: 'connecting', params: {} }); // a retry says it again
      if (this.refuse) throw this.refuse;
      this.log.push(`${this.name} up${receive ? ' receiving' : ''}`);
      this.identified({ name: this.name });
      this.setStatus({ state: 'connected', key: receive ? 'receiving' : 'connected', params: {} });
      try {
        await untilAborted(stop);
      } finally {
        await tick(); // closing a socket takes a moment
        this.log.push(`${this.name} down`);
      }
    });
  }

  protected failed(error: unknown): void {
    this.failures.push(error);
  }
}

describe('core/kit live connection', () => {
  it('one at a time: a run with the same key waits until the one before has ended; other keys do not', async () => {
    const registry = new Map<string, Promise<void>>();
    const log: string[] = [];
    const first = deferred();
    const never = new AbortController().signal;
    const a = oneAtATime(registry, 'k', never, () => log.push('a waits'), async () => {
      log.push('a runs');
      await first.promise;
      log.push('a ends');
    });
    const b = oneAtATime(registry, 'k', never, () => log.push('b waits'), async () => {
      log.push('b runs');
      return 'b';
    });
    const c = oneAtATime(registry, 'other', never, () => log.push('c waits'), async () => void log.push('c runs'));
    await c;
    await tick();
    assert.deepEqual(log, ['a runs', 'b waits', 'c runs']);
    first.resolve();
    await a;
    assert.equal(await b, 'b', "resolves with the run's result");
    assert.deepEqual(log, ['a runs', 'b waits', 'c runs', 'a ends', 'b runs']);
    await tick();
    assert.equal(registry.size, 0, 'nothing left behind');
  });

  it('one at a time: a stop while waiting ends that run at once, and the next still waits for the first', async () => {
    const registry = new Map<string, Promise<void>>();
    const log: string[] = [];
    const first = deferred();
    const never = new AbortController().signal;
    const a = oneAtATime(registry, 'k', never, () => undefined, async () => {
      await first.promise;
      log.push('a ends');
    });
    const stopB = new AbortController();
    const b = oneAtATime(registry, 'k', stopB.signal, () => undefined, async () => void log.push('b runs'));
    const c = oneAtATime(registry, 'k', never, () => undefined, async () => void log.push('c runs'));
    stopB.abort();
    await assert.rejects(b, Stopped, 'b is stopped without waiting for a');
    await tick();
    assert.deepEqual(log, [], 'c did not overtake a');
    first.resolve();
    await Promise.all([a, c]);
    assert.deepEqual(log, ['a ends', 'c runs']);
  });

  it("a redeploy's new connection waits until the old one has really stopped", async () => {
    const log: string[] = [];
    const old = new FakeConnection('old', 'token', log);
    await old.start(true);
    await old.ready();
    const fresh = new FakeConnection('new', 'token', log);
    await fresh.start(true);
    await tick();
    assert.equal(fresh.status.key, 'waiting');
    await old.stop();
    await fresh.ready();
    assert.deepEqual(log, ['old up receiving', 'old down', 'new up receiving']);
    await fresh.stop();
  });

  it('a connection stopped while it waits for another stops at once, without waiting for the other', async () => {
    const log: string[] = [];
    const one = new FakeConnection('one', 'shared', log);
    await one.start(true);
    await one.ready();
    const two = new FakeConnection('two', 'shared', log);
    await two.start(true);
    await tick();
    await two.stop();
    assert.equal(two.status.key, 'stopped');
    assert.equal(one.status.key, 'receiving', 'the other goes on');
    await one.stop();
    assert.deepEqual(log, ['one up receiving', 'one down'], 'two never ran');
  });

  it('start and stop run one after another; start is idempotent and a change of receive restarts', async () => {
    const log: string[] = [];
    const c = new FakeConnection('c', 'solo', log);
    await Promise.all([c.start(false), c.start(false)]);
    assert.deepEqual(log, ['c up']);
    await c.start(true);
    assert.equal(c.status.key, 'receiving');
    // A stop asked before a start is finished before that start begins.
    const stopped = c.stop();
    const lastAtStop = stopped.then(() => log.at(-1));
    const started = c.start(false);
    assert.equal(await lastAtStop, 'c down');
    await started;
    await tick();
    assert.deepEqual(log, ['c up', 'c down', 'c up receiving', 'c down', 'c up']);
    await c.stop();
    assert.deepEqual(c.statuses, ['connecting', 'connected', 'stopped', 'connecting', 'receiving', 'stopped', 'connecting', 'connected', 'stopped'], 'each change heard once');
  });

  it('ready() resolves once the platform answered, for those who asked before and after', async () => {
    const c = new FakeConnection('me', 'ready', []);
    const early = c.ready();
    await c.start(false);
    assert.deepEqual(await early, { name: 'me' });
    assert.deepEqual(await c.ready(), { name: 'me' });
    await c.stop();
  });

  it('an error escaping run is a failure; a stop is not', async () => {
    const c = new FakeConnection('bad', 'refused', []);
    c.refuse = new Error('token refused');
    await c.start(true);
    await tick();
    assert.deepEqual(
      c.failures.map((e) => (e as Error).message),
      ['token refused'],
    );
    await c.stop();
    const ok = new FakeConnection('ok', 'fine', []);
    await ok.start(true);
    await ok.stop();
    assert.deepEqual(ok.failures, []);
  });

  it("hands each event to every handler in turn; a handler's failure goes to onError, not to the others", async () => {
    const c = new FakeConnection('h', 'handlers', []);
    const seen: string[] = [];
    c.listen((e) => void seen.push(`first ${e}`));
    c.listen(() => {
      throw new Error('broken handler');
    });
    const off = c.listen(async (e) => void seen.push(`third ${e}`));
    await c.receive('one');
    off();
    await c.receive('two');
    assert.deepEqual(seen, ['first one', 'third one', 'first two']);
    assert.deepEqual(
      c.handlerErrors.map((e) => (e as Error).message),
      ['broken handler', 'broken handler'],
    );
  });

  it('abortableSleep ends early with Stopped when the signal aborts', async () => {
    const ac = new AbortController();
    const sleeping = abortableSleep(60_000, ac.signal);
    ac.abort();
    await assert.rejects(sleeping, Stopped);
    await assert.rejects(abortableSleep(1, ac.signal), Stopped, 'an aborted signal stops at once');
    await abortableSleep(1, new AbortController().signal);
  });
});
