import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { safeEqual, signBody, verifyBearer, verifySignature } from '../../nodes/core/signature';

describe('core/signature', () => {
  const body = '{"userId":"u1","text":"hi"}';
  const hex = createHmac('sha256', 's3cret').update(body).digest('hex');

  it('signs the raw body as sha256=<hex HMAC-SHA256>', () => {
    assert.equal(signBody('s3cret', body), `sha256=${hex}`);
    assert.equal(signBody('s3cret', Buffer.from(body)), `sha256=${hex}`);
  });

  it('verifies a good signature, in either hex case', () => {
    assert.equal(verifySignature('s3cret', body, `sha256=${hex}`), true);
    assert.equal(verifySignature('s3cret', Buffer.from(body), `sha256=${hex.toUpperCase()}`), true);
  });

  it('refuses a wrong, truncated, unprefixed or missing signature', () => {
    assert.equal(verifySignature('other', body, `sha256=${hex}`), false);
    assert.equal(verifySignature('s3cret', `${body} `, `sha256=${hex}`), false);
    assert.equal(verifySignature('s3cret', body, `sha256=${hex.slice(0, 10)}`), false);
    assert.equal(verifySignature('s3cret', body, hex), false);
    assert.equal(verifySignature('s3cret', body, undefined), false);
    assert.equal(verifySignature('s3cret', body, [`sha256=${hex}`]), false);
  });

  it('never verifies with an empty secret', () => {
    const unsigned = signBody('', body);
    assert.equal(verifySignature('', body, unsigned), false);
    assert.equal(verifySignature(undefined, body, unsigned), false);
  });

  it('checks bearer tokens and refuses other schemes, empty tokens and near misses', () => {
    assert.equal(verifyBearer('tok-1', 'Bearer tok-1'), true);
    assert.equal(verifyBearer('tok-1', 'bearer  tok-1'), true);
    assert.equal(verifyBearer('tok-1', 'Bearer tok-2'), false);
    assert.equal(verifyBearer('tok-1', 'Bearer tok-1x'), false);
    assert.equal(verifyBearer('tok-1', 'Basic tok-1'), false);
    assert.equal(verifyBearer('tok-1', 'tok-1'), false);
    assert.equal(verifyBearer('tok-1', undefined), false);
    assert.equal(verifyBearer('', 'Bearer '), false);
    assert.equal(verifyBearer(undefined, 'Bearer x'), false);
  });

  it('compares strings of different lengths without throwing', () => {
    assert.equal(safeEqual('a', 'a'), true);
    assert.equal(safeEqual('a', 'ab'), false);
    assert.equal(safeEqual('', ''), true);
  });
});
