import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import {
  WebhookVerificationError,
  generateSecret,
  sign,
  verify,
  webhookHeaders,
} from '../../src/webhooks/signature.js';

const body = '{"type":"job.completed","timestamp":"2030-01-01T00:00:00.000Z","data":{"id":1}}';
const now = Date.UTC(2030, 0, 1);
const timestamp = Math.floor(now / 1000);

function headersFor(secrets: string | string[], overrides: Partial<Record<string, string>> = {}) {
  return { ...webhookHeaders({ webhookId: 'msg_1', timestamp, body, secrets }), ...overrides };
}

function failure(reason: string) {
  return (error: unknown) => error instanceof WebhookVerificationError && error.reason === reason;
}

describe('webhook signatures', () => {
  it('matches the Standard Webhooks reference vector', () => {
    const signature = sign({
      webhookId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
      body: '{"test": 2432232314}',
      secrets: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    });
    assert.equal(signature, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('generates whsec_ secrets of 32 random bytes', () => {
    const secret = generateSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32);
    assert.notEqual(generateSecret(), secret);
  });

  it('verifies what it signs, from Node, plain-object and Fetch headers', () => {
    const secret = generateSecret();
    const headers = headersFor(secret);
    assert.deepEqual(verify(body, headers, secret, { now }), { webhookId: 'msg_1', timestamp });
    assert.deepEqual(verify(Buffer.from(body), new Headers(headers), secret, { now }).webhookId, 'msg_1');
    const mixedCase = {
      'Webhook-Id': headers['webhook-id'],
      'Webhook-Timestamp': headers['webhook-timestamp'],
      'Webhook-Signature': headers['webhook-signature'],
    };
    assert.equal(verify(body, mixedCase, secret, { now }).timestamp, timestamp);
  });

  it('refuses a tampered body, id, timestamp or signature', () => {
    const secret = generateSecret();
    const headers = headersFor(secret);
    assert.throws(
      () => verify(body.replace('1}', '2}'), headers, secret, { now }),
      failure('no-matching-signature'),
    );
    assert.throws(
      () => verify(body, { ...headers, 'webhook-id': 'msg_2' }, secret, { now }),
      failure('no-matching-signature'),
    );
    assert.throws(
      () => verify(body, { ...headers, 'webhook-timestamp': String(timestamp + 1) }, secret, { now }),
      failure('no-matching-signature'),
    );
    const flipped = headers['webhook-signature'].replace(/,./, (m) => (m === ',A' ? ',B' : ',A'));
    assert.throws(
      () => verify(body, { ...headers, 'webhook-signature': flipped }, secret, { now }),
      failure('no-matching-signature'),
    );
    assert.throws(() => verify(body, headers, generateSecret(), { now }), failure('no-matching-signature'));
  });

  it('signs with every secret during a rotation, and accepts any matching one', () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const headers = headersFor([oldSecret, newSecret]);
    assert.equal(headers['webhook-signature'].split(' ').length, 2);
    assert.ok(verify(body, headers, oldSecret, { now }));
    assert.ok(verify(body, headers, newSecret, { now }));
    // A receiver mid-rotation accepts either of its own secrets.
    assert.ok(verify(body, headersFor(newSecret), [oldSecret, newSecret], { now }));
    assert.throws(() => verify(body, headers, [generateSecret()], { now }), WebhookVerificationError);
  });

  it('ignores signatures of unknown versions and malformed entries', () => {
    const secret = generateSecret();
    const headers = headersFor(secret);
    const signature = `v1a,${'A'.repeat(88)} v1,short ${headers['webhook-signature']}`;
    assert.ok(verify(body, { ...headers, 'webhook-signature': signature }, secret, { now }));
    assert.throws(
      () =>
        verify(
          body,
          { ...headers, 'webhook-signature': `v2,${headers['webhook-signature'].slice(3)}` },
          secret,
          { now },
        ),
      failure('no-matching-signature'),
    );
  });

  it('enforces the timestamp tolerance both ways (5 minutes by default)', () => {
    const secret = generateSecret();
    const headers = headersFor(secret);
    assert.ok(verify(body, headers, secret, { now: now + 300_000 }));
    assert.ok(verify(body, headers, secret, { now: now - 300_000 }));
    assert.throws(() => verify(body, headers, secret, { now: now + 301_000 }), failure('timestamp-too-old'));
    assert.throws(() => verify(body, headers, secret, { now: now - 301_000 }), failure('timestamp-too-new'));
    assert.ok(verify(body, headers, secret, { now: now + 3_600_000, toleranceSeconds: 3600 }));
    assert.throws(
      () => verify(body, { ...headers, 'webhook-timestamp': '17e8' }, secret, { now }),
      failure('invalid-timestamp'),
    );
  });

  it('requires all three headers', () => {
    const secret = generateSecret();
    const { 'webhook-id': _id, ...withoutId } = headersFor(secret);
    assert.throws(() => verify(body, withoutId, secret, { now }), failure('missing-header'));
  });

  it('refuses malformed secrets and webhook ids', () => {
    for (const secret of ['whsec_', 'whsec_not base64!', `whsec_${Buffer.alloc(8).toString('base64')}`]) {
      assert.throws(
        () => sign({ webhookId: 'msg_1', timestamp, body, secrets: secret }),
        InvalidArgumentError,
      );
    }
    assert.throws(() => sign({ webhookId: 'msg_1', timestamp, body, secrets: [] }), InvalidArgumentError);
    assert.throws(
      () => sign({ webhookId: 'bad\r\nid', timestamp, body, secrets: generateSecret() }),
      InvalidArgumentError,
    );
    // The prefix is optional, as in the reference libraries.
    const raw = generateSecret().slice('whsec_'.length);
    assert.ok(verify(body, headersFor(raw), `whsec_${raw}`, { now }));
  });
});
