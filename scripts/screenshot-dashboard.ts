/**
 * Screenshots of the dashboard for the README: builds the bundle, serves a fresh Spool with
 * demo data and live traffic (and workflow runs and circuit breakers, defined in this process as
 * a worker would), waits for the charts to fill, then captures every screen in headless
 * Chromium, light and dark.
 *
 *   npx tsx scripts/screenshot-dashboard.ts [outDir]      (default docs/images)
 *
 * Needs Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Page } from 'playwright-core';
import { NonRetryableError } from '../src/core/errors.js';
import { Jobs } from '../src/jobs/jobs.js';
import { AlertEvaluator } from '../src/observability/alerts-evaluator.js';
import { openSpool } from '../src/open-spool.js';
import { startServer } from '../src/server/serve.js';
import { seedDemo } from '../test/dashboard/fixtures.js';
import { tempDir, until } from '../test/helpers.js';
import { Workflows } from '../src/workflows/index.js';
import { buildDashboard } from './build-dashboard.mjs';

const outDir = process.argv[2] ?? join('docs', 'images');
const warmupMs = Number(process.env.SCREENSHOT_WARMUP_MS ?? 45_000);

await buildDashboard();
mkdirSync(outDir, { recursive: true });
const { dir, cleanup } = tempDir('spool-screens-');
const spool = await openSpool({ path: join(dir, 'spool.db') });
// Two rules that the demo data breaks, so the overview has alerts to show.
const alerts = new AlertEvaluator(spool, {
  interval: '1s',
  rules: [
    { name: 'orders-backlog', kind: 'depth', queue: 'orders', threshold: 100 },
    {
      name: 'inventory-lag',
      kind: 'consumer-lag',
      topic: 'orders.events',
      group: 'inventory',
      threshold: 50,
    },
  ],
});
await alerts.start();
const jobs = new Jobs(spool);
const workflows = defineDemoWorkflows(jobs);
await jobs.start();
const server = await startServer({ spool, alerts, jobs, port: 0 });
const api = { url: server.url };
await seedDemo(api);
const sagaRun = await seedWorkflows(workflows, jobs);

// Live traffic: emails arrive ~25/s and a worker with a variable handler time drains them, so
// the charts have rates, depth and processing times to show.
const emails = await spool.queue<{ to: string }>('emails');
let running = true;
const producer = (async () => {
  for (let n = 0; running; n++) {
    const burst = 2 + Math.round(Math.abs(Math.sin(n / 20)) * 4);
    await emails.sendBatch(
      Array.from({ length: burst }, (_, i) => ({ body: { to: `user${n}-${i}@example.com` } })),
    );
    await sleep(150);
  }
})();
const consumer = emails.process(
  async () => {
    await sleep(5 + Math.random() * Math.random() * 60);
  },
  { concurrency: 2 },
);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  for (const colorScheme of ['light', 'dark'] as const) {
    const page = await browser.newPage({ viewport: { width: 1360, height: 860 }, colorScheme });
    const shot = async (name: string) => {
      await page.screenshot({
        path: join(outDir, `dashboard-${name}${colorScheme === 'dark' ? '-dark' : ''}.png`),
      });
    };
    // The queue page opened first collects the chart history while the others wait.
    await page.goto(`${server.url}/queues/emails`);
    if (colorScheme === 'light') await sleep(warmupMs);
    else await sleep(3000);
    await shot('queue');
    await visit(page, '/');
    await shot('overview');
    if (colorScheme === 'dark') continue;
    await visit(page, '/queues/orders/dlq');
    await page.locator('button.disclosure').first().click();
    await shot('dlq');
    await visit(page, '/topics/orders.events');
    await shot('topic');
    await visit(page, '/jobs');
    await shot('jobs');
    await visit(page, '/jobs?status=dead');
    await page.locator('tbody tr[data-job] a').first().click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await shot('job');
    await visit(page, '/schedules');
    await shot('schedules');
    await visit(page, '/workers');
    await shot('workers');
    await visit(page, '/workflows');
    await shot('workflows');
    await visit(page, `/workflow-runs/${sagaRun}`);
    await page.getByRole('heading', { name: 'Steps' }).waitFor();
    await shot('workflow-run');
    await visit(page, '/breakers');
    await shot('breakers');
    await page.close();
  }
} finally {
  await browser.close();
  running = false;
  await producer;
  await consumer.close();
  await server.close();
  await jobs.close({ timeoutMs: 2000 });
  await alerts.close();
  await spool.close();
  cleanup();
}
console.log(`screenshots in ${outDir}`);

async function visit(page: Page, path: string): Promise<void> {
  // In-app navigation keeps the live stats history (a reload would start it over).
  await page.evaluate(
    `history.pushState(null, '', ${JSON.stringify(path)}); dispatchEvent(new PopStateEvent('popstate'))`,
  );
  await page.locator('main h1').waitFor();
  await sleep(1500);
}

/** An order saga (reserve, charge, approval over a limit, ship) and a nightly import. */
function defineDemoWorkflows(jobs: Jobs): Workflows {
  const workflows = new Workflows(jobs);
  interface Order {
    orderId: number;
    total: number;
    card?: 'declined';
    address?: 'rejected';
    carrier?: 'down';
  }
  workflows.define<Order>('order', async (ctx, order) => {
    const reservation = await ctx.step(
      'reserve',
      () => ({ reservationId: `res-${order.orderId}`, items: 3 }),
      { compensate: () => undefined },
    );
    const charge = await ctx.step(
      'charge',
      () => {
        if (order.card === 'declined')
          throw new NonRetryableError('card declined by the issuer (insufficient funds)');
        return { chargeId: `ch_${order.orderId}`, amount: order.total, currency: 'EUR' };
      },
      { compensate: () => undefined },
    );
    if (order.total > 500) await ctx.waitForEvent('approved');
    const shipment = await ctx.step(
      'ship',
      () => {
        if (order.address === 'rejected')
          throw new NonRetryableError('the carrier rejected the address: no such street');
        if (order.carrier === 'down') throw new Error('carrier API answered 503 Service Unavailable');
        return { tracking: `1Z${order.orderId}X` };
      },
      { maxAttempts: 5, backoff: { baseMs: 600_000 } },
    );
    await ctx.sleep(3_600_000); // a follow-up mail an hour after shipping
    await ctx.step('follow-up', () => 'sent');
    return { reservation: reservation.reservationId, charge: charge.chargeId, shipment: shipment.tracking };
  });
  workflows.define<{ file: string }>('import', async (ctx, { file }) => {
    const rows = await ctx.step('download', () => ({ file, rows: 1200 }));
    await ctx.step('validate', () => {
      throw new NonRetryableError(`${file}: row 17 has 5 columns, the header 6`);
    });
    return rows;
  });
  jobs.breakers.define('sms', { failureThreshold: 1, openMs: 300_000 });
  jobs.breakers.define('payments', { failureThreshold: 5 });
  return workflows;
}

/** Runs in every state worth a look, and an open breaker; answers the run whose ship step failed. */
async function seedWorkflows(workflows: Workflows, jobs: Jobs): Promise<string> {
  const settled = async (id: string, statuses: readonly string[]) =>
    until(async () => statuses.includes((await workflows.get(id)).status), 10_000, `run ${id}`);
  const orders = [
    { orderId: 1041, total: 89.9 },
    { orderId: 1042, total: 25 },
    { orderId: 1043, total: 740 },
    { orderId: 1044, total: 60, card: 'declined' as const },
    { orderId: 1045, total: 120, carrier: 'down' as const },
    { orderId: 1046, total: 49.5, address: 'rejected' as const },
  ];
  let saga = '';
  for (const order of orders) {
    const run = await workflows.start('order', order, { key: `order-${order.orderId}` });
    await settled(run.id, ['sleeping', 'waiting', 'compensated', 'failed', 'completed']);
    if (order.address === 'rejected') saga = run.id;
  }
  const imported = await workflows.start('import', { file: 'customers-2026-03.csv' });
  await settled(imported.id, ['failed']);
  await jobs.breakers
    .get('sms')
    .run(() => Promise.reject(new Error('503 from the SMS gateway')))
    .catch(() => undefined);
  await jobs.breakers
    .get('payments')
    .run(() => Promise.reject(new Error('timeout after 10 s')))
    .catch(() => undefined);
  return saga;
}
