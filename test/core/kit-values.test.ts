/**
 * The small readings every platform shares: msg.buttons under a platform's limits, config node
 * values, the bytes of a file a reply carries, and downloads with a size cap that never say the URL.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readButtonRows, type ButtonRules } from '../../nodes/core/kit/buttons';
import { fetchCapped } from '../../nodes/core/kit/capped-fetch';
import { baseUrl, boundedNumber, routePath, downloadLimitBytes, isOff, isOn } from '../../nodes/core/kit/config-values';
import { bytesOf } from '../../nodes/core/kit/out-bytes';

const TELEGRAM: ButtonRules = { platform: 'Telegram', maxDataBytes: 64, url: /^(https?|tg):\/\/\S+$/i, urlHint: 'an http(s):// or tg:// URL' };
const LIMITED: ButtonRules = { platform: 'Slack', maxDataBytes: 2000, url: /^https?:\/\/\S+$/i, urlHint: 'an http(s):// URL', maxTextChars: 5, maxRows: 2, maxPerRow: 2 };

describe('core/kit values', () => {
  it('buttons: rows or a flat list (one per row); none is undefined', () => {
    assert.deepEqual(readButtonRows(undefined, TELEGRAM), { ok: true, value: undefined });
    assert.deepEqual(readButtonRows([{ text: 'A', data: 'a' }, { text: 'B', url: 'tg://resolve?domain=x' }], TELEGRAM), {
      ok: true,
      value: [[{ text: 'A', data: 'a' }], [{ text: 'B', url: 'tg://resolve?domain=x' }]],
    });
    const rows = [[{ text: 'A', data: 'a' }, { text: 'B', data: 'b' }]];
    assert.deepEqual(readButtonRows(rows, TELEGRAM), { ok: true, value: rows });
  });

  it("buttons: each platform's limits, named in the error; limits a platform leaves out are not checked", () => {
    const longData = readButtonRows([{ text: 'x', data: 'y'.repeat(65) }], TELEGRAM);
    assert.ok(!longData.ok && /msg\.buttons/.test(longData.error) && /64 bytes/.test(longData.error), JSON.stringify(longData));
    assert.ok(!longData.ok && !/allows/.test(longData.error), 'no row limits to name');
    const slackLink = readButtonRows([{ text: 'x', url: 'tg://resolve' }], LIMITED);
    assert.equal(slackLink.ok, false, "tg:// is Telegram's alone");
    const many = Array.from({ length: 30 }, (_, i) => ({ text: `b${i}`, data: `d${i}` }));
    assert.equal(readButtonRows(many, TELEGRAM).ok, true);
    const tooMany = readButtonRows(many, LIMITED);
    assert.ok(!tooMany.ok && tooMany.error.includes('Slack allows 2 rows of 2'), JSON.stringify(tooMany));
    assert.equal(readButtonRows([{ text: 'longer', data: 'd' }], LIMITED).ok, false);
    assert.equal(readButtonRows([[{ text: 'a', data: 'a' }, { text: 'b', data: 'b' }, { text: 'c', data: 'c' }]], LIMITED).ok, false);
    assert.equal(readButtonRows([{ text: '', data: 'd' }], TELEGRAM).ok, false, 'a button needs a label');
    assert.equal(readButtonRows('buttons', TELEGRAM).ok, false);
  });

  it('config values: bounded numbers from numbers or strings, routes and base URLs without stray slashes', () => {
    assert.equal(boundedNumber('2.5', 1, 0, 10), 2.5);
    assert.equal(boundedNumber(99, 1, 0, 10), 10);
    assert.equal(boundedNumber('', 1, 0, 10), 1);
    assert.equal(boundedNumber('soon', 1, 0, 10), 1);
    assert.equal(boundedNumber(Infinity, 1, 0, 10), 1);
    assert.equal(routePath(' //hooks/tg// ', '/chatgate/telegram', 'n1'), '/hooks/tg');
    assert.equal(routePath('', '/chatgate/telegram', 'a.b/c d'), '/chatgate/telegram/a.b_c_d');
    assert.equal(baseUrl(' https://api.example.com/// '), 'https://api.example.com');
    assert.equal(baseUrl('  '), undefined);
  });

  it('editor values: checkboxes from booleans or old strings, download limits in MB bounded by the platform', () => {
    assert.equal(isOn(true), true);
    assert.equal(isOn('true'), true);
    assert.equal(isOn(undefined), false);
    assert.equal(isOff(undefined), false, 'on unless unticked');
    assert.equal(isOff('false'), true);
    const MB = 1024 * 1024;
    assert.equal(downloadLimitBytes('2', 100 * MB), 2 * MB);
    assert.equal(downloadLimitBytes(500, 100 * MB), 100 * MB, 'never above the platform');
    assert.equal(downloadLimitBytes('', 100 * MB), 5 * MB);
    assert.equal(downloadLimitBytes(-1, 100 * MB, 8), 8 * MB);
    assert.equal(downloadLimitBytes('lots', 20 * MB), 5 * MB);
  });
  it('bytes: a Buffer, a Uint8Array or a Buffer that went through JSON; nothing else', () => {
    const b = Buffer.from('hi');
    assert.equal(bytesOf(b), b);
    assert.deepEqual(bytesOf(new Uint8Array([104, 105])), b);
    assert.deepEqual(bytesOf(JSON.parse(JSON.stringify(b))), b);
    assert.equal(bytesOf('hi'), undefined);
    assert.equal(bytesOf({ type: 'Buffer', data: 'x' }), undefined);
    assert.equal(bytesOf(null), undefined);
  });

  describe('capped downloads', () => {
    let server: Server;
    let base = '';
    before(async () => {
      server = createServer((req, res) => {
        if (req.url === '/small') return res.end('hello');
        if (req.url === '/declared') {
          res.writeHead(200, { 'content-length': '1000000' });
          return res.end();
        }
        if (req.url === '/streamed') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.write(Buffer.alloc(600));
          return res.end(Buffer.alloc(600));
        }
        if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2000).unref();
        res.writeHead(404);
        res.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => {
      server.closeAllConnections();
      server.close();
    });

    it('reads what fits, refuses what is larger (declared or streamed), and says what failed without the URL', async () => {
      const ok = await fetchCapped(`${base}/small`, { maxBytes: 100 });
      assert.ok(ok.ok && ok.data.toString() === 'hello');
      assert.deepEqual(await fetchCapped(`${base}/declared`, { maxBytes: 1000 }), { ok: false, reason: 'tooLarge' });
      assert.deepEqual(await fetchCapped(`${base}/streamed`, { maxBytes: 1000 }), { ok: false, reason: 'tooLarge' });
      assert.deepEqual(await fetchCapped(`${base}/missing`, { maxBytes: 1000 }), { ok: false, reason: 'failed', message: 'HTTP 404' });
      assert.deepEqual(await fetchCapped(`${base}/slow`, { maxBytes: 1000, timeoutMs: 100 }), { ok: false, reason: 'failed', message: 'timeout' });
      const refused = await fetchCapped('http://127.0.0.1:1/file/botSECRET/x', { maxBytes: 1000 });
      assert.ok(!refused.ok && !JSON.stringify(refused).includes('SECRET'), JSON.stringify(refused));
    });
  });
});
