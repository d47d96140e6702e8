/**
 * The dashboard's Workers page and the overview's registry flags, in headless Chromium against a
 * real server (SQLite file, loopback): the page lists live and stale workers with host, pid,
 * kind, what they serve, concurrency, in flight and last seen; a read token sees no Remove
 * button, an admin token removes a stale worker after a confirmation; the overview flags a queue
 * with ready messages and no live consumer, and a job type with queued jobs and no live worker.
 * Screenshots land in test-results/dashboard/ (workers.png is copied to docs/images by hand).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, type Page } from 'playwright-core';
import { buildDashboard } from '../../scripts/build-dashboard.mjs';
import type { QueueConsumer } from '../../src/engine/queue-consumer.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { parseTokenList } from '../../src/server/auth.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';
import { until } from '../helpers.js';
import { browserSkip, launchBrowser, screenshotDir } from './browser.js';
import { addJob, fillQueue } from './fixtures.js';

describe('dashboard: workers', { skip: browserSkip }, () => {
  let t: TestServer;
  let context: BrowserContext;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let consumer: QueueConsumer;
  const pageErrors: string[] = [];
  const admin = { url: '', token: 'admin-token' };

  before(async () => {
    await buildDashboard();
    t = await startTestServer({
      tokens: parseTokenList('viewer-token:read;admin-token:admin,produce'),
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('thumbnail', () => ({ ok: true }), { concurrency: 4 });
        jobs.define('resize', null);
        await jobs.start();
        return jobs;
      },
    });
    admin.url = t.url;
    // A live consumer of `emails`; `orphans` has ready messages and nobody consuming it.
    await fillQueue(admin, 'emails', 0);
    consumer = (await t.spool.queue('emails')).process(() => {}, { concurrency: 2 });
    await fillQueue(admin, 'orphans', 3);
    await addJob(admin, 'resize', { width: 100 });
    // A worker of a process that died: a 1 ms heartbeat interval makes it stale at once.
    await t.spool.store.saveWorkers([
      {
        id: 'dead-worker',
        kind: 'remote-worker',
        host: 'gone-host',
        pid: 4242,
        serves: { jobTypes: ['resize'] },
        concurrency: 8,
        inFlight: 2,
        processed: 310,
        startedAt: Date.now() - 3_600_000,
        heartbeatIntervalMs: 1,
      },
    ]);
    await t.spool.workers.heartbeat();
    browser = await launchBrowser();
    context = browser.context;
  });
  after(async () => {
    await browser?.close();
    await consumer?.close();
    await t?.dispose();
    assert.deepEqual(pageErrors, [], 'the page threw or logged errors');
  });

  async function signIn(path: string, token: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${path}: ${error.message}`));
    await page.goto(t.url + path);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    return page;
  }

  it('lists live and stale workers; a read token gets no Remove button', async () => {
    const page = await signIn('/workers', 'viewer-token');
    await page.getByRole('heading', { name: 'Workers', level: 1 }).waitFor();
    await page.locator('tr[data-worker="dead-worker"]').waitFor();
    const stale = page.locator('tr[data-worker="dead-worker"]');
    assert.equal(await stale.locator('[data-stale]').count(), 1);
    const cells = await stale.locator('th, td').allTextContents();
    assert.equal(cells[0], 'gone-host');
    assert.equal(cells[1], '4242');
    assert.equal(cells[2], 'remote-worker');
    assert.equal(cells[3], 'jobs: resize');
    assert.deepEqual(cells.slice(4, 7), ['8', '2', '310']);
    const live = page.locator('tbody tr', { hasText: 'queue-consumer' });
    assert.equal(await live.locator('td').nth(2).textContent(), 'emails');
    assert.equal(await live.locator('[data-stale]').count(), 0);
    assert.equal(
      await page.locator('tbody tr', { hasText: 'job-worker' }).locator('td').nth(2).textContent(),
      'jobs: thumbnail',
    );
    assert.equal(
      await page.getByRole('button', { name: 'Remove…' }).count(),
      0,
      'no remove for a read token',
    );
    // The menu links the page.
    assert.equal(
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Workers' })
        .getAttribute('aria-current'),
      'page',
    );
    await page.close();
  });

  it('flags on the overview a queue nobody consumes and a job type nobody works', async () => {
    const page = await signIn('/', 'viewer-token');
    await page.locator('tr[data-queue="orphans"]').waitFor();
    await page.locator('[data-unconsumed="orphans"]').waitFor();
    assert.equal(await page.locator('[data-unconsumed="emails"]').count(), 0, 'emails has a consumer');
    // The stale remote worker of `resize` does not count: nobody live serves it.
    const flag = page.locator('[data-unserved="resize"]');
    await flag.waitFor();
    assert.match((await flag.textContent()) ?? '', /no live worker registered/);
    await page.screenshot({ path: join(screenshotDir, 'overview-workers.png'), fullPage: true });
    await page.close();
  });

  it('an admin removes a stale worker after a confirmation', async () => {
    const page = await signIn('/workers', 'admin-token');
    const row = page.locator('tr[data-worker="dead-worker"]');
    await row.waitFor();
    await page.screenshot({ path: join(screenshotDir, 'workers.png'), fullPage: true });
    await row.getByRole('button', { name: 'Remove…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', /remote-worker on gone-host, pid 4242/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await row.count(), 1, 'Cancel removes nothing');
    await row.getByRole('button', { name: 'Remove…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove worker' }).click();
    await row.waitFor({ state: 'detached' });
    await until(
      async () => !(await t.spool.workers.list()).some((worker) => worker.id === 'dead-worker'),
      5_000,
      'the record removed',
    );
    await page.getByText('Removed worker dead-worker.').waitFor();
    await page.close();
  });
});
