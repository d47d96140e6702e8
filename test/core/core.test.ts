import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../src/core/backoff.js';
import { TestClock } from '../../src/core/clock.js';
import { QueueFullError, errorCatalogue } from '../../src/core/errors.js';
import { boundStack, decodeBody, describeFailure, encodeBody, stackLimits } from '../../src/core/message.js';
import { resolveQueueConfig, resolveTopicConfig } from '../../src/core/options.js';
import { murmur2, partitionForKey } from '../../src/core/partitioner.js';
import { InvalidArgumentError } from '../../src/core/errors.js';

describe('partitioner', () => {
  it('matches Kafka murmur2 test vectors', () => {
    // From Kafka's UtilsTest.testMurmur2.
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [input, expected] of vectors)
      assert.equal(murmur2(new TextEncoder().encode(input)), expected, input);
  });

  it('maps a key to the same partition every time, within range', () => {
    for (const key of ['order-1', 'customer-42', 'é']) {
      const partition = partitionForKey(key, 12);
      assert.ok(partition >= 0 && partition < 12);
      assert.equal(partitionForKey(key, 12), partition);
    }
  });
});

describe('backoff', () => {
  it('grows exponentially up to the cap without jitter', () => {
    const options = { baseMs: 100, capMs: 1000, jitter: 'none' } as const;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, options)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });

  it('draws full jitter from [0, delay) and equal jitter from [delay/2, delay)', () => {
    assert.equal(
      backoffDelay(3, { baseMs: 100, capMs: 1000, jitter: 'full' }, () => 0.5),
      200,
    );
    assert.equal(
      backoffDelay(3, { baseMs: 100, capMs: 1000, jitter: 'equal' }, () => 0),
      200,
    );
    assert.equal(
      backoffDelay(3, { baseMs: 100, capMs: 1000, jitter: 'equal' }, () => 0.999),
      399,
    );
  });
});

describe('options', () => {
  it('applies defaults and freezes the result', () => {
    const config = resolveQueueConfig('orders', { maxAttempts: 3 });
    assert.equal(config.maxAttempts, 3);
    assert.equal(config.visibilityTimeoutMs, 30_000);
    assert.equal(config.backoff.jitter, 'full');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.backoff));
  });

  it('lists every invalid field in one typed error', () => {
    assert.throws(
      () => resolveQueueConfig('orders', { maxAttempts: 0, visibilityTimeoutMs: -5 }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        const fields = (error.details.errors as { field: string }[]).map((e) => e.field).sort();
        assert.deepEqual(fields, ['maxAttempts', 'visibilityTimeoutMs']);
        return true;
      },
    );
  });

  it('rejects names that would need escaping', () => {
    assert.throws(() => resolveTopicConfig('has space'), InvalidArgumentError);
    assert.throws(() => resolveQueueConfig(''), InvalidArgumentError);
    assert.throws(() => resolveQueueConfig('x'.repeat(201)), InvalidArgumentError);
  });

  it("refuses '.' and '..' alone, which a URL path cannot carry, and keeps other dotted names", () => {
    for (const name of ['.', '..']) {
      assert.throws(
        () => resolveQueueConfig(name),
        (error: InvalidArgumentError) => /not '\.' or '\.\.' alone/.test(error.message),
      );
      assert.throws(() => resolveTopicConfig(name), InvalidArgumentError);
    }
    for (const name of ['...', '.hidden', 'orders.v2', 'a..b']) {
      assert.equal(resolveQueueConfig(name).name, name);
    }
  });
});

describe('message encoding', () => {
  it('round-trips JSON values and bytes', () => {
    const body = { order: 1, items: ['a'], nested: { ok: true } };
    assert.deepEqual(decodeBody(encodeBody(body)), body);
    const bytes = new Uint8Array([0, 1, 255]);
    assert.deepEqual(decodeBody(encodeBody(bytes)), bytes);
  });

  it('refuses what JSON cannot hold', () => {
    assert.throws(() => encodeBody(undefined as never), InvalidArgumentError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => encodeBody(cyclic as never), InvalidArgumentError);
  });
});

describe('errors', () => {
  it('carry stable codes, HTTP statuses and retry hints', () => {
    const error = new QueueFullError('orders', 10, 1000);
    assert.equal(error.code, 'SPOOL_QUEUE_FULL');
    assert.equal(error.httpStatus, 429);
    assert.equal(error.retryable, true);
    assert.equal(error.retryAfterMs, 1000);
    const codes = Object.values(errorCatalogue).map((spec) => spec.code);
    assert.equal(new Set(codes).size, codes.length);
  });
});

describe('TestClock', () => {
  it('fires due timers in order as time advances, and no others', async () => {
    const clock = new TestClock(0);
    const fired: string[] = [];
    clock.setTimer(() => fired.push('b'), 200);
    clock.setTimer(() => fired.push('a'), 100);
    const late = clock.setTimer(() => fired.push('never'), 300);
    clock.clearTimer(late);
    await clock.advance(250);
    assert.deepEqual(fired, ['a', 'b']);
    assert.equal(clock.now(), 250);
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('failures keep a bounded stack', () => {
  it('keeps the frames without the head, and at most stackLimits of them', () => {
    const failure = describeFailure(new TypeError('no such field'));
    assert.deepEqual([failure.name, failure.message], ['TypeError', 'no such field']);
    assert.match(
      failure.stack ?? '',
      /^\s+at .*core\.test\.ts:\d+/,
      'the first frame is where it was thrown',
    );
    assert.doesNotMatch(failure.stack ?? '', /no such field/, 'the message is not repeated');

    const deep = [
      'RangeError: too deep',
      ...Array.from({ length: 5000 }, (_, i) => `    at f${i} (/a.ts:${i}:1)`),
    ];
    const bounded = boundStack(deep.join('\n'))!;
    assert.equal(bounded.split('\n').length, stackLimits.lines + 1);
    assert.match(bounded, /… 4970 more$/);
    assert.ok(bounded.length <= stackLimits.chars);
    const wide = boundStack(`Error: x\n    at ${'y'.repeat(10_000)}`)!;
    assert.equal(wide.length, stackLimits.chars);
  });

  it('has no stack for what is not an Error, or a stack without frames', () => {
    assert.deepEqual(describeFailure('plain string'), { name: 'Error', message: 'plain string' });
    assert.equal(boundStack('Error: no frames here'), undefined);
    assert.equal(boundStack(undefined), undefined);
  });
});
