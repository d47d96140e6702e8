// A workflow worker in its own process, on the PostgreSQL database of the test: runs the
// `mp.order` saga and logs every side effect of its steps and compensations, with the attempt
// it ran in, so the test can tell a step that ran again after its completion was recorded (a
// bug) from one interrupted by a SIGKILL and run again (at-least-once per step).
// Usage: workflow-worker.ts <database url> <effects log> <name>
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NonRetryableError } from '../../src/core/errors.js';
import { createSpool } from '../../src/engine/spool.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { Workflows } from '../../src/workflows/workflows.js';

const [url, effectsLog, name] = process.argv.slice(2) as [string, string, string];
const spool = createSpool({
  store: await openPostgresStore({ connectionString: url, maxConnections: 6 }),
  safetyPollMs: 200,
});
const jobs = new Jobs(spool);
const workflows = new Workflows(jobs);

const effect = (runId: string, what: string, attempt: number): void => {
  appendFileSync(effectsLog, `${runId} ${what} ${attempt} ${name}\n`);
};
/** A step's work: the side effect, then a little time in which a kill may land. */
const work = (runId: string, what: string) => async (info: { attempt: number }) => {
  effect(runId, what, info.attempt);
  await sleep(20 + Math.random() * 80);
  return `${what}-done`;
};

workflows.define<{ n: number; declined: boolean }, { n: number; steps: string[] }>(
  'mp.order',
  async (ctx, input) => {
    const { runId } = ctx;
    const undo = (what: string) => () => effect(runId, `undo-${what}`, 0);
    const reserved = await ctx.step('reserve', work(runId, 'reserve'), { compensate: undo('reserve') });
    const [a, b] = await Promise.all([
      ctx.step('price', work(runId, 'price')),
      ctx.step('fraud-check', work(runId, 'fraud-check')),
    ]);
    await ctx.sleep(30);
    const charged = await ctx.step(
      'charge',
      async (info) => {
        await work(runId, 'charge')(info);
        if (input.declined) throw new NonRetryableError('card declined');
        return 'charge-done';
      },
      { compensate: undo('charge') },
    );
    const shipped = await ctx.step('ship', work(runId, 'ship'));
    return { n: input.n, steps: [reserved, a, b, charged, shipped] };
  },
  { concurrency: 4, leaseMs: 1_500, backoff: { baseMs: 100, capMs: 500 } },
);
await jobs.start();
process.stdout.write('worker ready\n');
process.once('SIGTERM', () => {
  void jobs
    .close()
    .then(() => spool.close())
    .then(() => process.exit(0));
});
