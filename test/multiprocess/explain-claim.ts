// Prints the query plans behind docs/postgres.md: the claim statement (as the store prepares
// it, with the generic plan a long-lived connection ends up using) on a queue with no history
// and on one with a large history, and the batched delete of finished jobs.
// Usage: npx tsx test/multiprocess/explain-claim.ts [history rows, default 1000000]
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { resolveQueueConfig } from '../../src/core/options.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { adminUrl } from './processes.js';

const history = Number(process.argv[2] ?? 1_000_000);
const schema = `spool_explain_${process.pid}`;
// One connection, so the statements the store prepares are visible to EXPLAIN EXECUTE.
const pool = new pg.Pool({ connectionString: adminUrl, max: 1 });
const store = await openPostgresStore({ pool, schema, vacuumEvery: null });
const q = (text: string, values: unknown[] = []) => pool.query(text, values);

async function explainClaim(label: string): Promise<void> {
  await store.claim('work', { max: 10, visibilityTimeoutMs: 30_000 });
  const { rows } = await q(
    `SELECT name FROM pg_prepared_statements WHERE statement LIKE '%FOR UPDATE SKIP LOCKED%' AND statement LIKE '%leased AS%'`,
  );
  const name = (rows[0] as { name: string }).name;
  await q('BEGIN');
  await q('SET LOCAL plan_cache_mode = force_generic_plan');
  const at = Date.now();
  const plan = await q(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE ${name}('work', ${at}, gen_random_uuid(), ${at + 30_000}, 10)`,
  );
  await q('ROLLBACK');
  console.log(`\n### claim of 10, ${label}\n`);
  for (const row of plan.rows as { 'QUERY PLAN': string }[]) console.log(row['QUERY PLAN']);
}

const now = Date.now();
await store.saveQueue(resolveQueueConfig('work', {}));
await store.saveQueue(resolveQueueConfig('other', {}));
const ready = Array.from({ length: 1_000 }, () => ({
  id: uuidv7(),
  payload: '{}',
  headers: {},
  key: null,
  priority: 0,
  availableAt: 0,
  dedupId: null,
}));
await store.enqueue('work', ready);
await explainClaim('no history');

// History: acked messages (deleted, then vacuumed as the store does every 10,000 claims),
// finished jobs, a backlog in another queue, and leased and delayed messages in this one.
const ids = await q(`SELECT name, id FROM ${schema}.queues`);
const queueId = (name: string) =>
  (ids.rows as { name: string; id: string }[]).find((r) => r.name === name)!.id;
const insert = (queue: string, count: number, visibleAt: string, leased: boolean) =>
  q(
    `INSERT INTO ${schema}.messages (queue_id, id, payload_text, headers, priority, enqueued_at, visible_at, key_head, lease_token, attempts)
     SELECT $1, gen_random_uuid()::text, '{}', '{}', 0, $2::bigint, ${visibleAt}, true, ${leased ? 'gen_random_uuid()' : 'NULL'}, ${leased ? 1 : 0}
     FROM generate_series(1, $3::int)`,
    [queueId(queue), now, count],
  );
console.time('history');
await insert('work', history, `$2::bigint`, false);
await q(`DELETE FROM ${schema}.messages WHERE queue_id = $1 AND id NOT IN (SELECT unnest($2::text[]))`, [
  queueId('work'),
  ready.map((m) => m.id),
]);
await insert('other', history / 5, `$2::bigint`, false);
await insert('work', history / 20, `$2::bigint + 3600000`, true);
await insert('work', history / 20, `$2::bigint + 3600000`, false);
await q(
  `INSERT INTO ${schema}.jobs (id, type, status, payload, priority, metadata, max_attempts, attempts, created_at, updated_at, run_at, started_at, finished_at, progress, history, pending_children, version)
   SELECT gen_random_uuid()::text, 'report', 'completed', '{}', 0, '{}', 3, 1, $1::bigint - i, $1::bigint - i, $1::bigint - i, $1::bigint - i, $1::bigint - i, 100, '[]', 0, 1
   FROM generate_series(1, $2::int) AS i`,
  [now - 86_400_000 * 30, history],
);
await q(`VACUUM ANALYZE ${schema}.messages`);
await q(`VACUUM ANALYZE ${schema}.jobs`);
console.timeEnd('history');
await explainClaim(
  `after ${history} acked messages, ${history / 5} waiting in another queue, ${history / 20} leased and ${history / 20} delayed in this one, ${history} finished jobs`,
);

const stmt = await q(
  `SELECT name FROM pg_prepared_statements WHERE statement LIKE '%DELETE FROM%jobs WHERE id = ANY%'`,
);
await store.deleteFinishedJobs({ finishedBefore: 0, limit: 1_000 });
const del = await q(
  `SELECT name FROM pg_prepared_statements WHERE statement LIKE '%DELETE FROM%jobs WHERE id = ANY%'`,
);
const name = ((del.rows[0] ?? stmt.rows[0]) as { name: string }).name;
await q('BEGIN');
await q('SET LOCAL plan_cache_mode = force_generic_plan');
const plan = await q(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE ${name}(${now}, NULL, 1000)`);
await q('ROLLBACK');
console.log(`\n### one batch of the finished-jobs delete (1,000 of ${history})\n`);
for (const row of plan.rows as { 'QUERY PLAN': string }[]) console.log(row['QUERY PLAN']);

await store.close();
await pool.query(`DROP SCHEMA ${schema} CASCADE`);
await pool.end();
