/**
 * The server's stats history: a sample every interval, the last hour kept, served at
 * `GET /v1/stats/history` so the dashboard's charts start from it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import type { StatsSnapshot } from '../../src/observability/stats.js';
import { StatsHistory } from '../../src/observability/stats-history.js';
import { StatsHistorySchema } from '../../src/observability/stats-schema.js';
import { startTestServer } from '../e2e/helpers.js';

describe('stats history', () => {
  it('samples every interval, keeps the window, and skips a sample that failed', async () => {
    const clock = new TestClock();
    let taken = 0;
    let failNext = false;
    const history = new StatsHistory(
      () => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('store busy'));
        }
        taken++;
        return Promise.resolve(snapshotOf(3));
      },
      clock,
      { intervalMs: 10_000, keepMs: 60_000 },
    );
    history.start();
    await clock.advance(0);
    await clock.advance(30_000);
    assert.equal(history.since(0).length, 4, 'at 0, 10, 20 and 30 s');
    failNext = true;
    await clock.advance(10_000);
    assert.equal(history.since(0).length, 4, 'the failed sample is a gap');
    await clock.advance(100_000);
    const kept = history.since(0);
    assert.equal(kept[0]!.at, clock.now() - 60_000, 'an hour here is a minute: older samples are dropped');
    assert.equal(kept.length, 7);
    assert.deepEqual(
      history.since(clock.now() - 15_000).map((sample) => sample.at),
      [clock.now() - 10_000, clock.now()],
    );
    history.close();
    const count = taken;
    await clock.advance(60_000);
    assert.equal(taken, count, 'no sample after close');
  });

  it('keeps at most maxEntries queues, topics and job types over its samples', async () => {
    const clock = new TestClock();
    let queues = 10;
    const history = new StatsHistory(() => Promise.resolve(snapshotOf(queues)), clock, {
      intervalMs: 10_000,
      maxEntries: 100,
    });
    history.start();
    await clock.advance(0);
    await clock.advance(200_000);
    assert.equal(history.since(0).length, 9, '9 samples of 11 entries fit in 100');
    queues = 199; // one sample alone is over the budget: the newest is kept
    await clock.advance(10_000);
    assert.equal(history.since(0).length, 1);
    history.close();
  });

  it('GET /v1/stats/history answers the samples of the window, each a whole stats document', async () => {
    const t = await startTestServer();
    try {
      await t.call('PUT', '/v1/queues/charted', { body: {} });
      const answer = await t.call('GET', '/v1/stats/history', { returns: StatsHistorySchema });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.intervalMs, 10_000);
      assert.ok(answer.body.samples.length >= 1, 'a sample is taken when the server starts');
      const narrow = await t.call('GET', '/v1/stats/history?windowMs=1000', { returns: StatsHistorySchema });
      assert.ok(narrow.body.samples.length <= answer.body.samples.length);
      const bad = await t.call('GET', '/v1/stats/history?windowMs=99999999');
      assert.equal(bad.status, 400);
    } finally {
      await t.dispose();
    }
  });
});

/** A stats document with `queues` queues (and nothing else). */
function snapshotOf(queues: number): StatsSnapshot {
  return {
    queues: Array.from({ length: queues }, (_, i) => ({ name: `q${i}` })),
    topics: [],
    jobs: { byType: [] },
  } as unknown as StatsSnapshot;
}
