// Leadership across processes (a session-level advisory lock) and the database clock, on the
// machine's PostgreSQL. "Processes" are stores with their own pools: each has its own database
// sessions, which is all the advisory lock can tell apart.
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../../src/core/clock.js';
import { createSpool } from '../../../src/engine/spool.js';
import { DatabaseClock, type PostgresStore } from '../../../src/stores/postgres/index.js';
import { SchemaJanitor, message, openStore, saveQueue } from './fixtures.js';

const retryMs = 200;

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!predicate()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
  return performance.now() - started;
}

void describe('postgres leadership', () => {
  const janitor = new SchemaJanitor();
  const stores: PostgresStore[] = [];
  const open = async (schema: string): Promise<PostgresStore> => {
    const store = await openStore(schema, { leadershipRetryMs: retryMs });
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await janitor.dropAll();
  });
  after(() => janitor.end());

  /** The backend pid holding the advisory lock of role `name` on `schema`, if any. */
  async function lockHolder(schema: string, name: string): Promise<number | null> {
    // A bigint advisory key shows in pg_locks as its high (classid) and low (objid) 32 bits.
    const { rows } = await janitor.admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks, (SELECT hashtextextended($1, 0) AS k) AS key
       WHERE locktype = 'advisory' AND granted AND objsubid = 1
         AND classid::bigint = (key.k >> 32) & 4294967295 AND objid::bigint = key.k & 4294967295`,
      [`spool leader ${schema} ${name}`],
    );
    return rows[0]?.pid ?? null;
  }

  it('exactly one of several processes leads a role; roles and schemas are independent', async () => {
    const schema = janitor.schema();
    const [a, b, c] = await Promise.all([open(schema), open(schema), open(schema)]);
    const leaders = [a, b, c].map((store) => store.leadership('scheduler'));
    await until(() => leaders.some((l) => l.held), 5_000, 'a leader');
    await sleep(retryMs * 3);
    assert.equal(leaders.filter((l) => l.held).length, 1, 'one leader, even after several rounds');

    const other = a.leadership('retention');
    await until(() => other.held, 5_000, 'the leader of a second role');
    const elsewhere = (await open(janitor.schema())).leadership('scheduler');
    await until(() => elsewhere.held, 5_000, 'the leader of another schema');
  });

  it('moves to another process within the retry interval when the leader’s session is killed', async () => {
    const schema = janitor.schema();
    const [a, b] = await Promise.all([open(schema), open(schema)]);
    const first = a.leadership('spool');
    await until(() => first.held, 5_000, 'the first leader');
    const second = b.leadership('spool');
    await sleep(retryMs * 2);
    assert.equal(second.held, false, 'the follower waits');

    const changes: boolean[] = [];
    first.onChange((held) => changes.push(held));
    const pid = await lockHolder(schema, 'spool');
    assert.ok(pid !== null, 'the leader holds an advisory lock');
    await janitor.admin.query('SELECT pg_terminate_backend($1)', [pid]);
    const tookMs = await until(() => second.held, retryMs * 5, 'the follower to take over');
    assert.ok(tookMs <= retryMs * 3, `took over in ${tookMs.toFixed(0)} ms (retry every ${retryMs} ms)`);
    await until(() => !first.held, retryMs * 3, 'the old leader to notice');
    assert.deepEqual(changes, [false]);

    // The old leader reconnects as a follower, and leads again once the new leader closes.
    await sleep(retryMs * 3);
    assert.equal(first.held, false, 'one leader after the old one reconnected');
    await second.close();
    await until(() => first.held, retryMs * 5, 'the old leader to lead again');
  });

  it('closing the store gives leadership up at once', async () => {
    const schema = janitor.schema();
    const [a, b] = await Promise.all([open(schema), open(schema)]);
    const first = a.leadership('spool');
    await until(() => first.held, 5_000, 'the first leader');
    const second = b.leadership('spool');
    await a.close();
    assert.equal(first.held, false);
    await until(() => second.held, retryMs * 3, 'the follower to take over');
    assert.throws(() => a.leadership('spool'), { name: 'ClosedError' });
  });

  it('a Spool runs maintenance only while it leads', async () => {
    const schema = janitor.schema();
    const [a, b] = await Promise.all([open(schema), open(schema)]);
    const spoolA = createSpool({ store: a, maintenanceIntervalMs: 50 });
    await until(() => spoolA.leadership.held, 5_000, 'spool A to lead');
    const spoolB = createSpool({ store: b, maintenanceIntervalMs: 50 });
    let maintainedByB = 0;
    const maintain = b.maintain.bind(b);
    b.maintain = (options) => {
      maintainedByB++;
      return maintain(options);
    };
    await sleep(300);
    assert.equal(maintainedByB, 0, 'the follower does not sweep');
    await spoolA.close();
    await until(() => spoolB.leadership.held, retryMs * 5, 'spool B to lead');
    await until(() => maintainedByB > 0, 2_000, 'spool B to sweep');
    stores.splice(stores.indexOf(a), 1);
    await spoolB.close();
    stores.splice(stores.indexOf(b), 1);
  });
});

void describe('postgres database clock', () => {
  const janitor = new SchemaJanitor();
  afterEach(() => janitor.dropAll());
  after(() => janitor.end());

  it('follows the server clock to within its round trip, monotonically', async () => {
    const clock = await DatabaseClock.start(janitor.admin, { refreshMs: null });
    assert.ok(clock.uncertaintyMs < 50, `uncertainty ${clock.uncertaintyMs} ms`);
    for (let i = 0; i < 5; i++) {
      const before = clock.now();
      const { rows } = await janitor.admin.query<{ ms: string }>(
        'SELECT extract(epoch FROM clock_timestamp()) * 1000 AS ms',
      );
      const afterwards = clock.now();
      const server = Number(rows[0]!.ms);
      const slack = clock.uncertaintyMs + 2;
      assert.ok(
        server >= before - slack && server <= afterwards + slack,
        `${before} ≤ ${server} ≤ ${afterwards}`,
      );
    }
    let last = clock.now();
    for (let i = 0; i < 1_000; i++) {
      const now = clock.now();
      assert.ok(now >= last);
      last = now;
    }
    await clock.resync();
    assert.ok(clock.now() >= last, 'a re-measure never moves time backwards');
  });

  it('is the default clock, so a process whose own clock is an hour fast still respects leases', async () => {
    const schema = janitor.schema();
    const honest = await openStore(schema);
    assert.ok(honest.clock instanceof DatabaseClock);
    const realNow = Date.now;
    Date.now = () => realNow() + 3_600_000;
    let fast: PostgresStore | undefined;
    try {
      fast = await openStore(schema);
      await saveQueue(honest, 'leases');
      await honest.enqueue('leases', [message()]);
      const [leased] = await honest.claim('leases', { max: 1, visibilityTimeoutMs: 30_000 });
      assert.ok(leased);
      assert.ok(Math.abs(leased.leaseExpiresAt - (realNow() + 30_000)) < 1_000);
      assert.deepEqual(await fast.claim('leases', { max: 1, visibilityTimeoutMs: 30_000 }), []);
      assert.ok(Math.abs(fast.clock.now() - honest.clock.now()) < 50, 'both on the server timeline');

      // The same process on its own clock would have stolen the lease.
      const local = await openStore(schema, { clock: systemClock });
      try {
        const stolen = await local.claim('leases', { max: 1, visibilityTimeoutMs: 30_000 });
        assert.equal(stolen.length, 1, 'a skewed local clock judges the lease expired');
      } finally {
        await local.close();
      }
    } finally {
      Date.now = realNow;
      await fast?.close();
      await honest.close();
    }
  });
});
