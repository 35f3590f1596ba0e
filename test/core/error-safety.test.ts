/**
 * The error path's own pieces: errorText never throws and always says something, the redactor
 * removes secrets by value and by shape, guard makes a throwing handler harmless.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GrammyError, HttpError } from 'grammy';
import { errorText, safeJson, truncate } from '../../nodes/core/error-text';
import { redact, safeError, SecretRegistry, secrets } from '../../nodes/core/redact';
import { guard, settle } from '../../nodes/core/guard';
import { describeSendError } from '../../nodes/telegram/send-errors';

const t = (key: string, params: Record<string, string | number> = {}) => `${key} ${JSON.stringify(params)}`;

/** Values a rejection can carry that break naive formatting. */
function hostileValues(): unknown[] {
  const circular: Record<string, unknown> = { message: undefined };
  circular.self = circular;
  const throwingGetter = Object.defineProperty({}, 'message', { get: () => { throw new Error('getter'); } });
  const proxy = new Proxy({}, { get: () => { throw new Error('trap'); }, getPrototypeOf: () => { throw new Error('proto trap'); } });
  const noProto = Object.create(null) as Record<string, unknown>;
  noProto.description = 42;
  const badToString = { toString: () => { throw new Error('toString'); }, toJSON: () => { throw new Error('toJSON'); } };
  return [undefined, null, '', 0, NaN, 10n, Symbol('s'), () => 1, [], [1, [2]], {}, circular, throwingGetter, proxy, noProto, badToString,
    new Error(), Object.assign(new Error('with cause'), { cause: circular }),
    new GrammyError('Call failed', { ok: false, error_code: undefined as never, description: undefined as never }, 'sendChatAction', {}),
    new GrammyError('Call failed', { ok: false, error_code: 500, description: { nested: true } as never, parameters: 'x' as never }, 'sendPhoto', {}),
    new HttpError('Network request failed', undefined as never),
    new HttpError('Network request failed', proxy as never)];
}

describe('errorText, the redactor and guard', () => {
  it('errorText never throws and always names something, for every hostile value and any generated one', () => {
    for (const v of hostileValues()) {
      const text = errorText(v);
      assert.equal(typeof text, 'string');
      assert.ok(text.length > 0 && text.length <= 500);
    }
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true, withMap: true, withSet: true, withTypedArray: true }), (v) => {
        const text = errorText(v);
        return typeof text === 'string' && text.length > 0 && text.length <= 500;
      }),
      { numRuns: 500 },
    );
  });

  it('describeSendError never throws on any rejection and names the unexpected shape', () => {
    for (const v of hostileValues()) assert.ok(describeSendError(v, t) instanceof Error);
    fc.assert(fc.property(fc.anything(), (v) => describeSendError(v, t).message.length > 0), { numRuns: 300 });
    const e = describeSendError(new GrammyError('Call failed', { ok: false } as never, 'sendChatAction', {}), t);
    assert.match(e.message, /telegram-out\.errors\.unexpected .*sendChatAction/);
  });

  it('prefers the platform sentence: description, message, error.message, error_description', () => {
    assert.equal(errorText({ description: 'Bad Request: chat not found' }), 'Bad Request: chat not found');
    assert.equal(errorText({ error: { message: 'model overloaded' } }), 'model overloaded');
    assert.equal(errorText({ error: 'invalid_auth' }), 'invalid_auth');
    assert.equal(errorText({ error_description: 'expired' }), 'expired');
    assert.equal(errorText(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNRESET', message: 'socket hang up' } })), 'fetch failed (socket hang up)');
  });

  it('safeJson and truncate cope with cycles, BigInt and surrogate pairs', () => {
    const a: Record<string, unknown> = { n: 1n };
    a.a = a;
    assert.equal(safeJson(a), '{"n":"1n","a":"[circular]"}');
    assert.equal(truncate('ab😀cd', 4), 'ab…');
  });

  it('removes every registered secret by value, in any node\'s text, and known token shapes without registration', () => {
    const reg = new SecretRegistry();
    reg.set('node-a', ['weird token value 42', 'short', undefined]);
    reg.set('node-b', ['hmac-secret-xyz']);
    assert.equal(reg.redact('sent weird token value 42 and hmac-secret-xyz and short'), 'sent *** and *** and short');
    assert.equal(reg.redact(`GET /x?k=${encodeURIComponent('weird token value 42')}`), 'GET /x?k=***');
    reg.delete('node-a');
    assert.equal(reg.redact('weird token value 42'), 'weird token value 42');
    assert.equal(reg.redact('POST /bot123456:AAabcdefghijklmnopqrstuvwxyz/sendMessage'), 'POST /bot<token>/sendMessage');
    assert.equal(reg.redact('token xoxb-1234567890-abcdefghij leaked'), 'token *** leaked');
    assert.equal(reg.redact('Authorization: Bearer sk-abcdefghijkl'), 'Authorization: Bearer ***');
    assert.equal(reg.redact('http://user:pa55word@host/x'), 'http://user:***@host/x');
  });

  it('safeError keeps no secret and no original object', () => {
    secrets.set('test-owner', ['registered-SECRET-123']);
    try {
      const e = safeError(Object.assign(new Error('failed with registered-SECRET-123'), { name: 'CallbackError' }));
      assert.equal(e.message, 'failed with ***');
      assert.equal(e.name, 'CallbackError');
      assert.equal(redact('x registered-SECRET-123 y'), 'x *** y');
    } finally {
      secrets.delete('test-owner');
    }
  });

  it('guard and settle swallow what a handler throws, sync or async', async () => {
    let last: unknown;
    guard(() => { throw new Error('boom'); })();
    guard(async () => { throw new Error('async boom'); })();
    settle(Promise.reject(new Error('nobody waits')), () => { throw new Error('handler boom'); });
    settle(Promise.reject(undefined), (e) => (last = e));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(last, undefined);
    // The suite's root hook fails this test if any of the above became an unhandled rejection.
  });
});
