/**
 * Screenshots of the dashboard for the README: builds the bundle, serves a fresh Spool with
 * demo data and live traffic, waits for the charts to fill, then captures every screen in
 * headless Chromium, light and dark.
 *
 *   npx tsx scripts/screenshot-dashboard.ts [outDir]      (default docs/images)
 *
 * Needs Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Page } from 'playwright-core';
import { AlertEvaluator } from '../src/observability/alerts-evaluator.js';
import { openSpool } from '../src/open-spool.js';
import { startServer } from '../src/server/serve.js';
import { seedDemo } from '../test/dashboard/fixtures.js';
import { tempDir } from '../test/helpers.js';
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
const server = await startServer({ spool, alerts, port: 0 });
const api = { url: server.url };
await seedDemo(api);

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
    await page.close();
  }
} finally {
  await browser.close();
  running = false;
  await producer;
  await consumer.close();
  await server.close();
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
