// One consumer-group member in its own process, on the topic `mp.events` of a PostgreSQL
// database. Each handled event is appended to the log file as
// "<partition> <offset> <member> <start> <end>" (times in ms on the machine's shared clock, with
// sub-millisecond precision), so the test can check that no two members ever worked on one
// partition at the same time. Usage: group-member.ts <database url> <log file> <member id>
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSpool } from '../../src/engine/spool.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';

const [url, logFile, memberId] = process.argv.slice(2) as [string, string, string];
const now = (): number => performance.timeOrigin + performance.now();
const spool = createSpool({ store: await openPostgresStore({ connectionString: url, maxConnections: 4 }) });
const topic = await spool.topic('mp.events');
const subscription = topic.subscribe(
  'mp.group',
  async (event) => {
    const start = now();
    // Long enough that overlapping work would show as overlapping intervals.
    await sleep(2);
    appendFileSync(logFile, `${event.partition} ${event.offset} ${memberId} ${start} ${now()}\n`);
  },
  { memberId, sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, batchSize: 20 },
);
process.stdout.write('member ready\n');
process.once('SIGTERM', () => {
  void subscription
    .close({ timeoutMs: 5_000 })
    .then(() => spool.close())
    .then(() => process.exit(0));
});
