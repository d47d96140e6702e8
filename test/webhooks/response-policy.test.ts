import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeResponse, parseRetryAfter } from '../../src/webhooks/response-policy.js';

const now = Date.UTC(2030, 0, 1, 12, 0, 0);

describe('webhook response policy', () => {
  it('maps statuses to delivered, gone, retry or reject', () => {
    for (const status of [200, 201, 204, 299])
      assert.deepEqual(judgeResponse(status, undefined, now), { kind: 'delivered' });
    assert.deepEqual(judgeResponse(410, undefined, now), { kind: 'gone' });
    for (const status of [408, 429, 500, 502, 503, 599]) {
      assert.deepEqual(
        judgeResponse(status, undefined, now),
        { kind: 'retry', retryAfterMs: null },
        String(status),
      );
    }
    for (const status of [101, 301, 302, 400, 401, 403, 404, 413, 422]) {
      assert.deepEqual(judgeResponse(status, undefined, now), { kind: 'reject' }, String(status));
    }
  });

  it('reads Retry-After as delay seconds or an HTTP-date', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Tue, 01 Jan 2030 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Tuesday, 01-Jan-30 12:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Tue, 01 Jan 2030 11:00:00 GMT', now), 0, 'a past date means now');
    for (const value of [undefined, '', '-5', '1.5', 'soon', '2030-01-01']) {
      assert.equal(parseRetryAfter(value, now), null, String(value));
    }
    assert.deepEqual(judgeResponse(503, '7', now), { kind: 'retry', retryAfterMs: 7000 });
  });
});
