/**
 * The dashboard in a real browser: the test builds the bundle, starts a real server on a
 * loopback port (SQLite file in a temp dir), and drives headless Chromium through what an
 * operator does — read the overview, open a DLQ, redrive, purge behind a confirmation, search
 * jobs, seek a group, sign in with a token, all of it by keyboard too. Screenshots of each step
 * land in test-results/dashboard/ (git-ignored).
 *
 * Chromium comes from the system (`/usr/bin/chromium`, or CHROMIUM_PATH). Without it the browser
 * tests are skipped — except in CI (`CI` set), where a missing browser fails them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, type Locator, type Page } from 'playwright-core';
import { buildDashboard } from '../../scripts/build-dashboard.mjs';
import type { Spool } from '../../src/engine/spool.js';
import { AlertEvaluator } from '../../src/observability/alerts-evaluator.js';
import { openSpool } from '../../src/open-spool.js';
import { parseTokenList } from '../../src/server/auth.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { assertProblem, call, startTestServer, type TestServer } from '../e2e/helpers.js';
import { tempDir, until } from '../helpers.js';
import { Webhooks } from '../../src/webhooks/delivery.js';
import { generateSecret } from '../../src/webhooks/signature.js';
import { startReceiver } from '../webhooks/receiver.js';
import { browserSkip, launchBrowser, screenshotDir } from './browser.js';
import { addJob, addSchedule, deadLetter, fillQueue, fillTopic, runJob } from './fixtures.js';

let bundle: { files: string[] };
before(async () => {
  bundle = await buildDashboard();
});

describe('dashboard: serving the bundle', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ tokens: parseTokenList('reader:produce') });
  });
  after(() => t.dispose());

  it('answers the page at / and at client routes, without a token, with a strict CSP', async () => {
    for (const path of ['/', '/queues/orders/dlq', '/jobs?status=dead', '/topics/a.b']) {
      const response = await fetch(t.url + path);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(response.headers.get('cache-control'), 'no-cache');
      assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.match(await response.text(), /<div id="app">/);
    }
    assert.equal((await fetch(t.url, { method: 'HEAD' })).status, 200);
  });

  it('serves the hashed bundle files for good, and 404s files that do not exist', async () => {
    const script = bundle.files.find((name) => name.endsWith('.js'));
    const stylesheet = bundle.files.find((name) => name.endsWith('.css'));
    assert.ok(script && stylesheet, bundle.files.join(', '));
    const js = await fetch(`${t.url}/${script}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    const css = await fetch(`${t.url}/${stylesheet}`);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    const page = await (await fetch(t.url)).text();
    assert.ok(page.includes(`src="/${script}"`) && page.includes(`href="/${stylesheet}"`));
    assert.equal((await fetch(`${t.url}/app-NOTTHERE.js`)).status, 404);
    assert.equal((await fetch(`${t.url}/favicon.ico`)).status, 404);
    // The page itself always comes with its headers, whichever way it is asked for.
    const index = await fetch(`${t.url}/index.html`);
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  });

  it('leaves the API paths to the API: unknown ones stay problem+json 404, tokens still apply', async () => {
    assertProblem(await t.call('GET', '/v1/nothing-here', { token: 'reader' }), 404, 'SPOOL_ROUTE_NOT_FOUND');
    assertProblem(await t.call('GET', '/v1'), 404, 'SPOOL_ROUTE_NOT_FOUND');
    assertProblem(await t.call('GET', '/healthz/extra'), 404, 'SPOOL_ROUTE_NOT_FOUND');
    assertProblem(await t.call('GET', '/v1/queues'), 401, 'SPOOL_UNAUTHORIZED');
    assertProblem(await t.call('POST', '/queues/orders'), 404, 'SPOOL_ROUTE_NOT_FOUND');
    assert.equal((await t.call('GET', '/healthz')).status, 200);
  });

  it('keeps the dashboard out of the OpenAPI document', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body as { paths: Record<string, unknown> };
    const paths = Object.keys(doc.paths);
    assert.ok(paths.includes('/v1/queues'));
    assert.deepEqual(
      paths.filter((path) => path === '/' || path.includes('*')),
      [],
    );
  });
});

describe('dashboard in Chromium', { skip: browserSkip }, () => {
  let t: TestServer;
  let context: BrowserContext;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  const pageErrors: string[] = [];

  before(async () => {
    t = await startTestServer();
    browser = await launchBrowser();
    context = browser.context;
  });
  after(async () => {
    await browser?.close();
    await t?.dispose();
    assert.deepEqual(pageErrors, [], 'the page threw or logged errors');
  });

  /** A fresh tab (its own sessionStorage) that records script errors. */
  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${path}: ${error.message}`));
    page.on('console', (message) => {
      // 401s the auth test provokes on purpose are logged by Chromium as failed loads.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        pageErrors.push(`${path}: ${message.text()}`);
      }
    });
    await page.goto(t.url + path);
    return page;
  }

  const api = () => ({ url: t.url });

  it('the overview shows a queue with its depth, and follows it live', async () => {
    await fillQueue(api(), 'overview-orders', 7);
    const page = await open('/');
    const row = page.locator('tr[data-queue="overview-orders"]');
    await eventually(() => text(row.locator('[data-col="ready"]')), '7', 'the ready count');
    assert.equal(await text(row.locator('[data-col="dlq"]')), '0');
    await page.screenshot({ path: join(screenshotDir, 'overview.png'), fullPage: true });

    // The stats stream brings new messages without a reload.
    await fillQueue(api(), 'overview-orders', 5, 7);
    await eventually(() => text(row.locator('[data-col="ready"]')), '12', 'the ready count after more sends');
    assert.equal(await page.getByRole('status').filter({ hasText: 'Live' }).count(), 1);
    await page.close();
  });

  it("names dead letters of Spool's own queues on the overview, though those queues are hidden", async () => {
    // A webhook delivery given up on, as the webhook layer would leave it.
    const deliveries = await t.spool.queue('spool.webhooks', { maxAttempts: 1 });
    await deliveries.send({ url: 'https://hooks.example.com/x', event: 'job.completed' });
    const [delivery] = await deliveries.receive({ max: 1 });
    await delivery!.nack({ error: new Error('no signing secret') });
    const page = await open('/');
    const notice = page.locator('[data-system-dead]');
    await notice.waitFor();
    assert.match(await text(notice), /spool\.webhooks \(1\)/);
    assert.equal(
      await page.locator('tr[data-queue="spool.webhooks"]').count(),
      0,
      'the queue itself stays hidden',
    );
    await notice.getByRole('link', { name: 'spool.webhooks' }).click();
    await page.waitForURL(`${t.url}/queues/spool.webhooks/dlq`);
    await page.close();
  });

  it('creates a queue and a topic from the overview, and sends and publishes test messages to them', async () => {
    const page = await open('/');
    await page.getByText('Create a queue or topic').click();
    await page.getByLabel('Name').fill('made-in-ui');
    await page.getByLabel('Max attempts').fill('3');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(`${t.url}/queues/made-in-ui`);
    const queue = await t.call('GET', '/v1/queues/made-in-ui');
    assert.equal((queue.body as { maxAttempts: number }).maxAttempts, 3);

    await page.getByText('Send a test message').click();
    await page.getByLabel('Body (JSON, or text)').fill('{"hello": "from the dashboard"}');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByText('Sent a message to made-in-ui.').waitFor();
    const browsed = await t.call('GET', '/v1/queues/made-in-ui/messages');
    const [message] = (browsed.body as { items: { body: unknown }[] }).items;
    assert.deepEqual(message?.body, { hello: 'from the dashboard' });

    await page.goto(t.url + '/');
    await page.getByText('Create a queue or topic').click();
    await page.getByLabel('Kind').selectOption('topic');
    await page.getByLabel('Name').fill('made-in-ui-events');
    await page.getByLabel('Partitions').fill('2');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(`${t.url}/topics/made-in-ui-events`);
    await page.getByText('Publish a test event').click();
    await page.getByLabel(/^Key/).fill('customer-1');
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByText('Published an event to made-in-ui-events.').waitFor();
    const topic = await t.call('GET', '/v1/topics/made-in-ui-events');
    const partitions = (topic.body as { stats: { partitions: { endOffset: number }[] } }).stats.partitions;
    assert.equal(
      partitions.reduce((sum, p) => sum + p.endOffset, 0),
      1,
    );
    await page.close();
  });

  it('opens a DLQ from the overview, shows each error and attempts, and redrives messages out of it', async () => {
    const ids = await deadLetter(api(), 'payments', 3);
    const page = await open('/');
    await page.getByRole('link', { name: '3 dead letters in payments' }).click();
    await page.waitForURL(`${t.url}/queues/payments/dlq`);
    const rows = page.locator('tbody tr[data-message]');
    await eventually(() => rows.count(), 3, 'three dead letters');
    const first = page.locator(`tr[data-message="${ids[0]}"]`);
    assert.match(await text(first), /CardDeclined: insufficient funds/);
    assert.equal(await text(first.locator('td.num')), '2', 'attempts');
    await first.getByRole('button', { name: ids[0], exact: true }).click();
    const detail = page.locator('tr.detail-row');
    assert.match(await text(detail), /attempt 1.*PaymentGatewayTimeout/s);
    await page.screenshot({ path: join(screenshotDir, 'dlq.png'), fullPage: true });

    await page.getByRole('button', { name: `Redrive ${ids[0]}` }).click();
    await eventually(() => rows.count(), 2, 'the redriven message leaving the DLQ');
    await page.getByRole('status').filter({ hasText: 'Redrove 1 message to payments.' }).waitFor();
    const back = await t.call('GET', '/v1/queues/payments/messages');
    const items = (back.body as { items: { id: string; attempts: number; state: string }[] }).items;
    assert.deepEqual(
      items.map((item) => [item.id, item.state, item.attempts]),
      [[ids[0], 'ready', 0]],
    );

    // Select one and redrive the selection.
    await page.getByRole('checkbox', { name: `Select ${ids[2]}` }).check();
    await page.getByRole('button', { name: 'Redrive selected (1)' }).click();
    await eventually(() => rows.count(), 1, 'the selected message leaving the DLQ');
    assert.equal(await rows.first().getAttribute('data-message'), ids[1]);
    await page.screenshot({ path: join(screenshotDir, 'dlq-after-redrive.png'), fullPage: true });

    // All of them: after a confirmation.
    await page.getByRole('button', { name: 'Redrive all…' }).click();
    await page
      .getByRole('dialog', { name: 'Redrive every dead letter of payments?' })
      .getByRole('button', { name: 'Redrive all' })
      .click();
    await page.locator('[data-empty="dlq"]').waitFor();
    const queue = await t.call('GET', '/v1/queues/payments');
    assert.deepEqual((queue.body as { stats: { ready: number; deadLettered: number } }).stats, {
      ...(queue.body as { stats: object }).stats,
      ready: 3,
      deadLettered: 0,
    });
    await page.close();
  });

  it('says so when a queue or topic does not exist', async () => {
    const page = await open('/queues/no-such-queue');
    await page.getByRole('alert').filter({ hasText: 'no-such-queue' }).waitFor();
    assert.match(await text(page.getByRole('alert')), /SPOOL_QUEUE_NOT_FOUND/);
    await page.goto(`${t.url}/topics/no-such-topic`);
    await page.getByRole('alert').filter({ hasText: 'SPOOL_TOPIC_NOT_FOUND' }).waitFor();
    await page.goto(`${t.url}/not/a/screen/at/all`);
    await page.getByRole('heading', { name: 'Nothing here' }).waitFor();
    await page.close();
  });

  it('purges dead letters only after a confirmation, which Cancel and Escape decline', async () => {
    await deadLetter(api(), 'refunds', 2);
    const page = await open('/queues/refunds/dlq');
    const rows = page.locator('tbody tr[data-message]');
    await eventually(() => rows.count(), 2, 'two dead letters');

    const dialog = page.getByRole('dialog', { name: 'Purge dead letters of refunds?' });
    await page.getByRole('button', { name: 'Purge all…' }).click();
    await dialog.waitFor();
    assert.match(await text(dialog), /Delete all 2 dead letters of refunds for good/);
    await page.screenshot({ path: join(screenshotDir, 'purge-confirmation.png') });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Purge all…' }).click();
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 2);
    const kept = await t.call('GET', '/v1/queues/refunds/dlq');
    assert.equal(
      (kept.body as { items: unknown[] }).items.length,
      2,
      'nothing purged without a confirmation',
    );

    await page.getByRole('button', { name: 'Purge all…' }).click();
    await dialog.getByRole('button', { name: 'Purge all dead letters' }).click();
    await page.locator('[data-empty="dlq"]').waitFor();
    const purged = await t.call('GET', '/v1/queues/refunds/dlq');
    assert.equal((purged.body as { items: unknown[] }).items.length, 0);
    await page.close();
  });

  it('searches jobs by type and state, pages with the cursor, and retries a dead job', async () => {
    for (let i = 0; i < 3; i++) await addJob(api(), 'search.report', { n: i });
    await addJob(api(), 'search.email', { to: 'a@example.com' });
    const dead = await runJob(api(), 'search.report', {
      error: {
        name: 'QueryTimeout',
        message: 'the warehouse did not answer',
        stack:
          '    at runQuery (/app/reports/warehouse.ts:42:11)\n    at buildReport (/app/reports/report.ts:7:3)',
      },
    });
    for (let i = 0; i < 55; i++) await addJob(api(), 'search.bulk', { n: i });

    const page = await open('/jobs');
    await page.getByLabel('Type').fill('search.report');
    await page.getByLabel('State').selectOption('dead');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/jobs\?type=search.report&status=dead$/);
    const rows = page.locator('tbody tr[data-job]');
    await eventually(() => rows.count(), 1, 'one dead report job');
    assert.equal(await rows.first().getAttribute('data-job'), dead);
    // The error is in the list, not two clicks away.
    assert.match(
      await text(rows.first().locator('td.job-error')),
      /QueryTimeout the warehouse did not answer/,
    );
    await page.screenshot({ path: join(screenshotDir, 'jobs-search.png'), fullPage: true });

    // At phone width a row still shows the job's state without scrolling sideways.
    await page.setViewportSize({ width: 375, height: 800 });
    const badge = rows.first().locator('td').nth(1);
    const box = await badge.boundingBox();
    assert.ok(box && box.x + box.width <= 375, `the state is on screen at 375 px (${JSON.stringify(box)})`);
    assert.equal(
      await rows.first().locator('td.job-error').isVisible(),
      false,
      'the error column folds away',
    );
    const menu = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').last().boundingBox();
    assert.ok(menu && menu.x + menu.width <= 375, 'every section of the menu is on screen');
    await page.screenshot({ path: join(screenshotDir, 'jobs-phone.png') });
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByRole('link', { name: dead }).click();
    await page.waitForURL(`${t.url}/jobs/${dead}`);
    await page.locator('[data-job-status="dead"]').waitFor();
    assert.match(await text(page.locator('ol.timeline')), /Attempt 1 failed after .*QueryTimeout/);
    // What the handler logged, with its attempt and level.
    const log = page.locator('ol.job-log li');
    assert.equal(await log.count(), 2);
    assert.match(await text(log.nth(1)), /#1 WARN the warehouse is slow/);
    // Where it was thrown: open on the error panel, folded in the timeline.
    const outcome = page.locator('section[aria-labelledby="outcome-title"]');
    assert.match(
      await text(outcome.locator('details.stack pre')),
      /at runQuery \(\/app\/reports\/warehouse.ts:42:11\)/,
    );
    const folded = page.locator('ol.timeline details.stack');
    assert.equal(await folded.getAttribute('open'), null);
    await folded.locator('summary').focus();
    await page.keyboard.press('Enter');
    assert.match(await text(folded.locator('pre')), /buildReport/);
    await page.screenshot({ path: join(screenshotDir, 'job-dead.png'), fullPage: true });
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.locator('[data-job-status="queued"]').waitFor();

    // A time range: nothing was created in the future; everything since an hour ago.
    await page.goto(`${t.url}/jobs?type=search.report`);
    await eventually(() => rows.count(), 3, 'the three report jobs');
    await page.getByLabel('Created from').fill('2099-01-01T00:00:00');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/since=2099-01-01T/);
    await page.locator('[data-empty="jobs"]').waitFor();
    await page.getByLabel('Created from').fill(localInput(new Date(Date.now() - 3_600_000)));
    await page.getByRole('button', { name: 'Search' }).click();
    await eventually(() => rows.count(), 3, 'the jobs of the last hour');

    // Cursor pages: 55 jobs are two pages of 50.
    await page.goto(`${t.url}/jobs?type=search.bulk`);
    await eventually(() => rows.count(), 50, 'a first page of 50');
    await page.getByRole('button', { name: 'Next →' }).click();
    await eventually(() => rows.count(), 5, 'a second page of 5');
    await page.getByRole('button', { name: '← Previous' }).click();
    await eventually(() => rows.count(), 50, 'the first page again');
    await page.close();
  });

  it('retries every dead job matching the search after a confirmation that counts them', async () => {
    for (let i = 0; i < 3; i++) {
      await addJob(api(), 'bulk.report', { n: i });
      await runJob(api(), 'bulk.report', { error: { name: 'Outage', message: 'the database was down' } });
    }
    await addJob(api(), 'bulk.report', { n: 3 }, { delayMs: 3_600_000 }); // not dead: not retried
    const page = await open('/jobs?type=bulk.report&status=dead');
    const rows = page.locator('tbody tr[data-job]');
    await eventually(() => rows.count(), 3, 'three dead report jobs');
    assert.equal(
      await page.getByRole('button', { name: 'Cancel all matching' }).count(),
      0,
      'dead jobs cannot be cancelled',
    );
    await page.getByRole('button', { name: 'Retry all matching' }).click();
    const dialog = page.getByRole('dialog');
    assert.match(await text(dialog), /Retry 3 jobs\?/);
    await dialog.getByRole('button', { name: 'Retry 3 jobs' }).click();
    await page.getByText('Retried 3 of 3 jobs.').waitFor();
    await eventually(() => rows.count(), 0, 'none of them is dead any more');
    const page2 = await t.call('GET', '/v1/jobs?type=bulk.report&status=queued');
    assert.equal((page2.body as { items: unknown[] }).items.length, 3);

    // Delete all matching: finished jobs only, after a confirmation naming the count.
    for (const job of (page2.body as { items: { id: string }[] }).items)
      await t.call('DELETE', `/v1/jobs/${job.id}`);
    await page.goto(`${page.url().split('/jobs')[0]}/jobs?type=bulk.report&status=cancelled`);
    await eventually(() => rows.count(), 3, 'three cancelled report jobs');
    await page.getByRole('button', { name: 'Delete all matching' }).click();
    assert.match(await text(page.getByRole('dialog')), /Delete 3 jobs\?.*cannot be undone/);
    await page.getByRole('dialog').getByRole('button', { name: 'Delete 3 jobs' }).click();
    await page.getByText('Deleted 3 of 3 jobs.').waitFor();
    await eventually(() => rows.count(), 0, 'the deleted jobs are gone');
    const left = await t.call('GET', '/v1/jobs?type=bulk.report');
    assert.equal((left.body as { items: unknown[] }).items.length, 1, 'the scheduled one is left');
    await page.close();
  });

  it('lists failed webhook deliveries with their errors, and enables an endpoint that answered 410', async () => {
    const failing = await startReceiver((request) => ({
      status: request.body.includes('"n":2') ? 410 : 500,
    }));
    let webhooks: Webhooks | undefined;
    const hooked = await startTestServer({
      webhooks: async (spool) => {
        webhooks = new Webhooks(spool, {
          secret: generateSecret(),
          allowPrivateNetworks: true,
          maxAttempts: 2,
          backoff: { baseMs: 20, capMs: 50 },
        });
        await webhooks.start();
        return webhooks;
      },
    });
    try {
      await webhooks!.enqueue({ url: `${failing.url}/broken`, event: 'job.completed', payload: { n: 1 } });
      await webhooks!.enqueue({ url: `${failing.url}/gone`, event: 'job.dead', payload: { n: 2 } });
      await until(
        async () =>
          ((await hooked.call('GET', '/v1/webhooks/endpoints/disabled')).body as { items: unknown[] }).items
            .length === 1,
        10_000,
        'the 410 endpoint disabled',
      );
      // And the 500 endpoint's second attempt given up, before the page reads the log.
      await until(
        async () =>
          (
            (await hooked.call('GET', '/v1/webhooks/deliveries?outcome=dead-lettered')).body as {
              items: unknown[];
            }
          ).items.length === 2,
        10_000,
        'both deliveries dead-lettered',
      );
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(`/webhooks: ${error.message}`));
      await page.goto(`${hooked.url}/webhooks`);
      const rows = page.locator('tbody tr[data-delivery]');
      // Failures first: both endpoints' deliveries failed for good (a 410 is not retried).
      await eventually(() => rows.count(), 2, 'the two dead-lettered deliveries');
      assert.match(
        await text(rows.filter({ hasText: '/broken' })),
        /job\.completed.*2.*dead-lettered.*500.*endpoint answered 500/,
      );
      assert.match(await text(rows.filter({ hasText: '/gone' })), /job\.dead.*410/);
      await page.getByLabel('Outcome').selectOption('all');
      await page.waitForURL(/outcome=all/);
      await eventually(async () => (await rows.count()) >= 3, true, 'every attempt');
      await page.screenshot({ path: join(screenshotDir, 'webhooks.png'), fullPage: true });

      const gone = page.locator(`li[data-disabled="${failing.url}/gone"]`);
      assert.match(await text(gone), /410/);
      await gone.getByRole('button', { name: 'Enable' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Enable endpoint' }).click();
      await page.locator('[data-empty="disabled"]').waitFor();

      // A job's own page shows the attempts of its completion webhook.
      const added = await hooked.call('POST', '/v1/jobs', {
        body: { type: 'render', callbackUrl: `${failing.url}/render-done` },
      });
      const jobId = (added.body as { id: string }).id;
      const claimed = await hooked.call('POST', '/v1/jobs/claim', {
        body: { types: ['render'], waitMs: 2_000 },
      });
      const lease = (claimed.body as { jobs: { lease: string }[] }).jobs[0]!.lease;
      await hooked.call('POST', `/v1/jobs/${jobId}/complete`, { body: { lease, result: null } });
      await page.goto(`${hooked.url}/jobs/${jobId}`);
      const section = page.getByRole('region', { name: 'Completion webhook' });
      const attempts = section.locator('tbody tr[data-delivery]');
      await eventually(() => attempts.count(), 2, 'both attempts of the job’s webhook');
      assert.match(await text(attempts.last()), /job\.completed.*render-done.*2.*dead-lettered.*500/);
      await page.close();
    } finally {
      await hooked.dispose();
      await failing.close();
    }
  });

  it('shows a running job’s new log lines without a reload', async () => {
    const id = await addJob(api(), 'live.log', {});
    const claimed = await t.call('POST', '/v1/jobs/claim', { body: { types: ['live.log'] } });
    const { lease } = (claimed.body as { jobs: { lease: string }[] }).jobs[0]!;
    const page = await open(`/jobs/${id}`);
    await page.locator('[data-job-status="active"]').waitFor();
    const logged = await t.call('POST', `/v1/jobs/${id}/log`, {
      body: { lease, lines: [{ message: 'halfway through the warehouse' }] },
    });
    assert.equal(logged.status, 200);
    // No event announces a log line: the page looks again while the job runs.
    await page.getByText('halfway through the warehouse').waitFor({ timeout: 5_000 });
    await t.call('POST', `/v1/jobs/${id}/complete`, { body: { lease, result: null } });
    await page.locator('[data-job-status="completed"]').waitFor();
    await page.close();
  });

  it('cancels a waiting job after a confirmation, then deletes it', async () => {
    const id = await addJob(api(), 'cancel.me', {}, { delayMs: 3_600_000 });
    const page = await open(`/jobs/${id}`);
    await page.locator('[data-job-status="scheduled"]').waitFor();
    await page.getByRole('button', { name: 'Cancel job…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('[data-job-status="cancelled"]').waitFor();
    const job = await t.call('GET', `/v1/jobs/${id}`);
    assert.equal((job.body as { status: string }).status, 'cancelled');

    // A finished job can be deleted, after a confirmation; the page goes back to its type's jobs.
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete job' }).click();
    await page.getByText(`Deleted job ${id}.`).waitFor();
    await page.waitForURL(/\/jobs\?type=cancel\.me$/);
    assert.equal((await t.call('GET', `/v1/jobs/${id}`)).status, 404);
    await page.close();
  });

  it('shows a topic’s offsets, group lag and recent events, and seeks a group after a confirmation', async () => {
    await fillTopic(api(), 'clicks', 30, 'analytics');
    const page = await open('/topics/clicks');
    const group = page.locator('tr[data-group="analytics"]');
    await eventually(() => text(group.locator('.badge')), '15', 'the group lag');
    const ends = await page.locator('[data-col="end-offset"]').allTextContents();
    assert.equal(
      ends.reduce((sum, value) => sum + Number(value), 0),
      30,
    );
    await eventually(() => page.locator('tr[data-event]').count(), 30, 'the tail of recent events');
    const newest = await page.locator('tr[data-event]').first().locator('td.num').allTextContents();
    await page.getByRole('button', { name: `Event at partition ${newest[0]}, offset ${newest[1]}` }).click();
    assert.match(await text(page.locator('tr.detail-row')), /"orderId": \d+/);
    await page.screenshot({ path: join(screenshotDir, 'topic.png'), fullPage: true });

    await page.getByRole('button', { name: 'Seek group analytics' }).click();
    const dialog = page.getByRole('dialog', { name: 'Seek group analytics' });
    await dialog.getByLabel(/The end/).check();
    await dialog.getByRole('button', { name: 'Seek analytics' }).click();
    await dialog.waitFor({ state: 'detached' });
    await eventually(() => text(group.locator('.badge')), '0', 'no lag after seeking to the end');
    const lag = await t.call('GET', '/v1/topics/clicks/groups/analytics');
    assert.equal((lag.body as { totalLag: number }).totalLag, 0);

    // Pause and resume: the store says so, and the row shows it.
    await page.getByRole('button', { name: 'Pause group analytics' }).click();
    await eventually(() => group.locator('[data-paused-group="analytics"]').count(), 1, 'the paused badge');
    const paused = await t.call('GET', '/v1/topics/clicks/groups/analytics');
    assert.equal((paused.body as { paused: boolean }).paused, true);
    await page.getByRole('button', { name: 'Resume group analytics' }).click();
    await eventually(() => group.locator('[data-paused-group]').count(), 0, 'no paused badge after resume');
    const resumed = await t.call('GET', '/v1/topics/clicks/groups/analytics');
    assert.equal((resumed.body as { paused: boolean }).paused, false);

    // An event without a type header shows its body's `type`.
    await t.call('POST', '/v1/topics/clicks/events', { body: { body: { type: 'user.signup', userId: 7 } } });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await eventually(
      async () =>
        (await page.locator('tr[data-event]').first().locator('td.mono').nth(1).textContent())?.trim(),
      'user.signup',
      'the type from the body',
    );
    await page.close();
  });

  it('lists schedules with their next fire time', async () => {
    await addSchedule(api(), 'hourly-cleanup', 'cleanup.run');
    const page = await open('/schedules');
    const row = page.locator('tr[data-schedule="hourly-cleanup"]');
    await row.waitFor();
    assert.match(await text(row), /0 \* \* \* \* \(UTC\)/);
    assert.match(await text(row), /in \d+ (min|s|h)/);

    // Run now adds the schedule's job; Pause stops it and Resume starts it; Delete asks first.
    await row.getByRole('button', { name: 'Run now' }).click();
    await page.getByText(/Schedule hourly-cleanup ran now: job /).waitFor();
    const added = await t.call('GET', '/v1/jobs?type=cleanup.run');
    assert.equal((added.body as { items: unknown[] }).items.length, 1);
    await row.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Paused schedule hourly-cleanup.').waitFor();
    await row.getByRole('button', { name: 'Resume' }).waitFor();
    assert.match(await text(row), /paused/);
    assert.equal(
      ((await t.call('GET', '/v1/schedules/hourly-cleanup')).body as { paused: boolean }).paused,
      true,
    );
    await row.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('Resumed schedule hourly-cleanup.').waitFor();
    await row.getByRole('button', { name: 'Pause' }).waitFor();
    await row.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete schedule' }).click();
    await row.waitFor({ state: 'detached' });
    await page.close();
  });

  it('pauses and resumes a queue from its page, and a job type from the overview', async () => {
    await fillQueue(api(), 'held', 3);
    const page = await open('/queues/held');
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Paused queue held.').waitFor();
    await page.locator('[data-queue-paused]').waitFor();
    const queue = await t.call('GET', '/v1/queues/held');
    assert.equal((queue.body as { stats: { paused: boolean } }).stats.paused, true);
    await page.goto(page.url().replace(/\/queues\/held.*$/, '/'));
    await page.locator('[data-paused="held"]').waitFor();
    await page.goto(page.url().replace(/\/$/, '/queues/held'));
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('Resumed queue held.').waitFor();
    await page.locator('[data-queue-paused]').waitFor({ state: 'detached' });

    await addJob(api(), 'held.report', {}, { delayMs: 3_600_000 });
    await page.goto(page.url().replace(/\/queues\/held$/, '/'));
    await page.getByRole('button', { name: 'Pause job type held.report' }).click();
    await page.getByText('Paused job type held.report.').waitFor();
    await page.locator('[data-paused-type="held.report"]').waitFor();
    await page.getByRole('button', { name: 'Resume job type held.report' }).click();
    await page.locator('[data-paused-type="held.report"]').waitFor({ state: 'detached' });
    await page.close();
  });

  it('draws live charts of a queue from the stats stream', async () => {
    await fillQueue(api(), 'charted', 0);
    const page = await open('/queues/charted');
    const rates = page.getByRole('img', { name: /^Messages per second over/ });
    for (let i = 0; i < 4; i++) {
      await fillQueue(api(), 'charted', 10, i * 10);
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    await rates.waitFor({ timeout: 10_000 });
    await eventually(
      async () => /In \(sent\): now [\d.]+\/s/.test((await rates.getAttribute('aria-label')) ?? ''),
      true,
      'a send rate in the chart description',
    );
    const depth = page.getByRole('img', { name: /^Depth over/ });
    await eventually(
      async () => /Messages: now 40/.test((await depth.getAttribute('aria-label')) ?? ''),
      true,
      'depth 40',
    );
    await page.screenshot({ path: join(screenshotDir, 'queue-live.png'), fullPage: true });
    await page.close();
  });

  it('works from the keyboard: skip link, Tab to a queue, Enter opens it and focuses its heading', async () => {
    await fillQueue(api(), 'keyboard-q', 2);
    const page = await open('/');
    await page.locator('tr[data-queue="keyboard-q"]').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await focusedText(page), 'Skip to content');
    let reached = false;
    for (let i = 0; i < 60 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await focusedText(page)) === 'keyboard-q';
    }
    assert.ok(reached, 'Tab reaches the queue link');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${t.url}/queues/keyboard-q`);
    await eventually(() => page.evaluate('document.activeElement?.id'), 'page-title', 'focus on the heading');
    // On through the tabs to the messages browser.
    for (let i = 0; i < 20 && (await focusedText(page)) !== 'Messages'; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${t.url}/queues/keyboard-q/messages`);
    await eventually(() => page.locator('tbody tr[data-message]').count(), 2, 'two messages');
    await page.close();
  });

  describe('with alert rules', () => {
    let spool: Spool;
    let evaluator: AlertEvaluator;
    let server: RunningServer;
    let cleanup: () => void;
    before(async () => {
      const dir = tempDir('spool-dashboard-alerts-');
      cleanup = dir.cleanup;
      spool = await openSpool({ path: join(dir.dir, 'spool.db') });
      evaluator = new AlertEvaluator(spool, {
        interval: '250ms',
        rules: [{ name: 'backlog', kind: 'depth', queue: 'alerting', threshold: 5 }],
      });
      await evaluator.start();
      server = await startServer({ spool, alerts: evaluator, port: 0 });
    });
    after(async () => {
      await server?.close();
      await evaluator?.close();
      await spool?.close();
      cleanup?.();
    });

    it('shows a firing alert on the overview, with a link to its queue, and its end', async () => {
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(`alerts: ${error.message}`));
      await fillQueue({ url: server.url }, 'alerting', 8);
      await page.goto(server.url);
      const alert = page.locator('li.alert-item').filter({ hasText: 'backlog' });
      await alert.waitFor({ timeout: 10_000 });
      await alert.getByRole('link', { name: 'Open queue alerting' }).waitFor();
      await page.locator('tr[data-queue="alerting"] .badge').filter({ hasText: 'alert: backlog' }).waitFor();
      await page.screenshot({ path: join(screenshotDir, 'overview-alert.png'), fullPage: true });
      await call(server.url, 'POST', '/v1/queues/alerting/purge');
      await alert.waitFor({ state: 'detached', timeout: 10_000 });
      await page.getByText('No alert is firing.').waitFor();
      await page.close();
    });
  });

  describe('with API tokens', () => {
    let secured: TestServer;
    before(async () => {
      secured = await startTestServer({
        tokens: parseTokenList('viewer-token:read;admin-token:admin,produce'),
      });
      await fillQueue({ url: secured.url, token: 'admin-token' }, 'secured', 4);
    });
    after(() => secured.dispose());

    it('asks for a token, refuses a wrong one, then uses the right one for this tab', async () => {
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(`auth: ${error.message}`));
      await page.goto(secured.url);
      const prompt = page.getByRole('dialog', { name: 'Sign in' });
      await prompt.waitFor();
      const field = prompt.getByLabel('API token');
      assert.equal(await field.getAttribute('type'), 'password');
      await page.screenshot({ path: join(screenshotDir, 'token-prompt.png') });
      await field.fill('guessed');
      await field.press('Enter');
      await prompt.getByRole('alert').filter({ hasText: 'does not accept this token' }).waitFor();

      await field.fill('admin-token');
      await prompt.getByRole('button', { name: 'Sign in' }).click();
      await prompt.waitFor({ state: 'detached' });
      const row = page.locator('tr[data-queue="secured"]');
      await eventually(() => text(row.locator('[data-col="ready"]')), '4', 'the queue behind the token');

      // The token lasts for the tab: a reload needs no prompt; signing out forgets it.
      await page.reload();
      await eventually(() => text(row.locator('[data-col="ready"]')), '4', 'the queue after a reload');
      assert.equal(await prompt.count(), 0);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await prompt.waitFor();
      await page.close();
    });

    it('offers a read-only token no action it may not take; an admin token gets them', async () => {
      const page = await context.newPage();
      await page.goto(`${secured.url}/queues/secured/messages`);
      await page.getByLabel('API token').fill('viewer-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await eventually(() => page.locator('tbody tr[data-message]').count(), 4, 'the messages');
      await eventually(
        () => page.getByRole('button', { name: 'Purge queue…' }).count(),
        0,
        'no purge for a read token',
      );
      assert.equal(await page.getByText('Send a test message').count(), 0, 'no send without produce');
      await page.goto(`${secured.url}/`);
      await page.locator('tr[data-queue="secured"]').waitFor();
      assert.equal(await page.getByText('Create a queue or topic').count(), 0);
      await page.close();

      const admin = await context.newPage();
      await admin.goto(`${secured.url}/queues/secured/messages`);
      await admin.getByLabel('API token').fill('admin-token');
      await admin.getByRole('button', { name: 'Sign in' }).click();
      await admin.getByRole('button', { name: 'Purge queue…' }).waitFor();
      await admin.getByText('Send a test message').waitFor();
      await admin.close();
    });
  });
});

/** `date` as an `<input type="datetime-local">` value, in the browser's (and this process's) zone. */
function localInput(date: Date): string {
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}

async function text(locator: Locator): Promise<string> {
  return ((await locator.first().textContent()) ?? '').trim();
}

async function focusedText(page: Page): Promise<string> {
  return String(await page.evaluate('document.activeElement?.textContent?.trim() ?? ""'));
}

/** Waits until `read()` answers `expected` (the page updates asynchronously). */
async function eventually<T>(
  read: () => Promise<T>,
  expected: T,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  let last: T | undefined;
  try {
    await until(
      async () => {
        last = await read();
        return last === expected;
      },
      timeoutMs,
      what,
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}: last saw ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}`,
    );
  }
}
