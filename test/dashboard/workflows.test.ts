/**
 * The dashboard's Workflows and Breakers screens, in headless Chromium against a real server
 * (SQLite file, loopback) whose process defines the workflows, as a worker on the store would:
 * the runs list shows every workflow's runs with their statuses and filters them; a run's page
 * shows its step timeline with the compensations set apart; an event sent from the page
 * completes a waiting run, Cancel (confirmed) compensates and ends one, Retry resumes a failed
 * one from its failed step; a breaker opened by a failing call shows open (on the overview too)
 * and Reset (confirmed, admin only) closes it. Screenshots land in test-results/dashboard/.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, type Locator, type Page } from 'playwright-core';
import { buildDashboard } from '../../scripts/build-dashboard.mjs';
import { NonRetryableError } from '../../src/core/errors.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { parseTokenList } from '../../src/server/auth.js';
import { Workflows } from '../../src/workflows/index.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';
import { until } from '../helpers.js';
import { browserSkip, launchBrowser, screenshotDir } from './browser.js';

describe('dashboard: workflows and breakers', { skip: browserSkip }, () => {
  let t: TestServer;
  let jobs: Jobs;
  let workflows: Workflows;
  let context: BrowserContext;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  const pageErrors: string[] = [];
  const undone: string[] = [];
  /** The `fetch` step of `import` fails until this is set (the failed run's retry then completes). */
  let sourceBack = false;
  const runs = { shipped: '', declined: '', awaiting: '', abandoned: '', imported: '' };

  before(async () => {
    await buildDashboard();
    t = await startTestServer({
      tokens: parseTokenList('viewer-token:read;admin-token:admin,produce'),
      jobs: async (spool) => {
        jobs = new Jobs(spool);
        workflows = new Workflows(jobs);
        workflows.define<{ sku: string; card: string }>('order', async (ctx, order) => {
          const reservation = await ctx.step('reserve', () => `res-${order.sku}`, {
            compensate: (id) => void undone.push(id),
          });
          const charge = await ctx.step(
            'charge',
            () => {
              if (order.card === 'declined') throw new NonRetryableError('card declined by the issuer');
              return { chargeId: `ch-${order.sku}`, amount: 42 };
            },
            { compensate: () => void undone.push(`refund-${order.sku}`) },
          );
          return { reservation, charge };
        });
        workflows.define<{ doc: string }>('approval', async (ctx, { doc }) => {
          await ctx.step('prepare', () => ({ doc, pages: 3 }), {
            compensate: () => void undone.push(`discard-${doc}`),
          });
          const approval = await ctx.waitForEvent<{ by: string }>('approved');
          return { approvedBy: approval?.payload.by ?? null };
        });
        workflows.define<{ file: string }>('import', async (ctx, { file }) => {
          await ctx.step('download', () => ({ file, bytes: 2048 }));
          return ctx.step('parse', () => {
            if (!sourceBack) throw new NonRetryableError('the CSV has no header row');
            return { rows: 12 };
          });
        });
        jobs.breakers.define('sms', { failureThreshold: 1, openMs: 600_000 });
        jobs.breakers.define('email', { failureThreshold: 5 });
        await jobs.start();
        return jobs;
      },
    });
    const reached = (id: string, status: string) =>
      until(async () => (await workflows.get(id)).status === status, 10_000, `run ${id} ${status}`);
    runs.shipped = (await workflows.start('order', { sku: 'lamp', card: 'ok' })).id;
    await reached(runs.shipped, 'completed');
    runs.declined = (await workflows.start('order', { sku: 'desk', card: 'declined' })).id;
    await reached(runs.declined, 'compensated');
    runs.imported = (await workflows.start('import', { file: 'march.csv' })).id;
    await reached(runs.imported, 'failed');
    runs.awaiting = (await workflows.start('approval', { doc: 'budget' }, { key: 'budget-2026' })).id;
    await reached(runs.awaiting, 'waiting');
    runs.abandoned = (
      await workflows.start('approval', { doc: 'offsite' }, { metadata: { team: 'ops' } })
    ).id;
    await reached(runs.abandoned, 'waiting');
    // The SMS provider fails once: its breaker (threshold 1) opens; email's counts one failure.
    const down = () => Promise.reject(new Error('503 from the SMS provider'));
    await assert.rejects(jobs.breakers.get('sms').run(down), /503/);
    await assert.rejects(
      jobs.breakers.get('email').run(() => Promise.reject(new Error('SMTP timeout'))),
      /SMTP/,
    );
    browser = await launchBrowser();
    context = browser.context;
  });
  after(async () => {
    await browser?.close();
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

  const row = (page: Page, id: string) => page.locator(`tr[data-run="${id}"]`);

  /** The given attributes of every element `locator` matches, in order. */
  async function attributes(locator: Locator, names: readonly string[]): Promise<(string | null)[][]> {
    return Promise.all(
      (await locator.all()).map((element) => Promise.all(names.map((name) => element.getAttribute(name)))),
    );
  }

  it('lists the runs of every workflow, newest first, with their statuses; filters them', async () => {
    const page = await signIn('/workflows', 'viewer-token');
    await page.getByRole('heading', { name: 'Workflows', level: 1 }).waitFor();
    await row(page, runs.abandoned).waitFor();
    const listed = await attributes(page.locator('tbody tr[data-run]'), ['data-run', 'data-run-status']);
    assert.deepEqual(listed, [
      [runs.abandoned, 'waiting'],
      [runs.awaiting, 'waiting'],
      [runs.imported, 'failed'],
      [runs.declined, 'compensated'],
      [runs.shipped, 'completed'],
    ]);
    const declined = await row(page, runs.declined).locator('th, td').allTextContents();
    assert.equal(declined[1], 'order');
    assert.equal(declined[2], 'compensated');
    assert.match(
      (await row(page, runs.declined).locator('td.job-error').textContent()) ?? '',
      /card declined by the issuer/,
    );
    assert.equal(
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Workflows' })
        .getAttribute('aria-current'),
      'page',
    );
    await page.screenshot({ path: join(screenshotDir, 'workflows.png'), fullPage: true });

    // By status, then by workflow: the filters go to the URL and the list follows.
    await page.getByLabel('Status', { exact: true }).selectOption('compensated');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/workflows\?status=compensated$/);
    await until(async () => (await page.locator('tbody tr[data-run]').count()) === 1, 5000, 'one row');
    await row(page, runs.declined).waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await row(page, runs.shipped).waitFor();
    await page.getByLabel('Workflow', { exact: true }).fill('approval');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/workflows\?workflow=approval$/);
    await until(async () => (await page.locator('tbody tr[data-run]').count()) === 2, 5000, 'two rows');
    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('[data-empty="runs"]').waitFor();
    await page.close();
  });

  it("shows a run's step timeline with its compensations set apart; a read token gets no actions", async () => {
    const page = await signIn('/workflows?status=compensated', 'viewer-token');
    await row(page, runs.declined).getByRole('link', { name: runs.declined }).click();
    await page.waitForURL(new RegExp(`/workflow-runs/${runs.declined}$`));
    await page.getByRole('heading', { name: 'Steps' }).waitFor();
    const steps = await Promise.all(
      (await page.locator('tr[data-step]').all()).map(async (tr) => [
        await tr.getAttribute('data-step'),
        await tr.getAttribute('data-step-kind'),
        await tr.getAttribute('data-step-status'),
        ((await tr.getAttribute('class')) ?? '').split(' ').includes('compensation'),
        await tr.locator('th').textContent(),
      ]),
    );
    assert.deepEqual(steps, [
      ['reserve', 'step', 'completed', false, 'reserve'],
      ['charge', 'step', 'failed', false, 'charge'],
      ['#compensate.reserve', 'compensation', 'completed', true, '↶ undo reserve'],
    ]);
    // The failed step's error opens from its summary; the reserve step's output likewise.
    const charge = page.locator('tr[data-step="charge"]');
    assert.match((await charge.locator('summary').textContent()) ?? '', /NonRetryableError/);
    await page.locator('tr[data-step="reserve"] summary').click();
    await page.getByLabel('Output of reserve').waitFor();
    assert.equal(await page.getByLabel('Output of reserve').textContent(), '"res-desk"');
    assert.equal(await page.locator('[data-run-status]').textContent(), 'compensated');
    assert.match(
      (await page.getByRole('region', { name: 'Error' }).textContent()) ?? '',
      /StepFailedError step "charge" failed: NonRetryableError: card declined by the issuer/,
    );
    assert.match((await page.locator('pre[aria-label="Input"]').textContent()) ?? '', /"card": "declined"/);
    assert.deepEqual(
      await page.locator('.head-actions button').allTextContents(),
      [],
      'a read token sees no action',
    );
    await page.screenshot({ path: join(screenshotDir, 'workflow-run-compensated.png'), fullPage: true });
    await page.close();
  });

  it('sends an event from the page: the waiting run completes', async () => {
    const page = await signIn(`/workflow-runs/${runs.awaiting}`, 'admin-token');
    await page.locator('[data-run-status="waiting"]').waitFor();
    assert.equal(
      await page.locator('tr[data-step="#event.approved.1"]').getAttribute('data-step-status'),
      'waiting',
    );
    await page.getByRole('button', { name: 'Send event…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Event name').inputValue(), 'approved', 'the awaited event');
    await dialog.getByLabel('Payload (JSON)').fill('{"by": ');
    await dialog.getByRole('button', { name: 'Send event' }).click();
    await dialog.getByText(/The payload is not JSON/).waitFor();
    await dialog.getByLabel('Payload (JSON)').fill('{"by": "ada"}');
    await page.screenshot({ path: join(screenshotDir, 'workflow-send-event.png') });
    await dialog.getByRole('button', { name: 'Send event' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByText(`Sent event approved to run ${runs.awaiting}.`).waitFor();
    // The page polls the run while it is not finished: it shows the end without a reload.
    await page.locator('[data-run-status="completed"]').waitFor({ timeout: 10_000 });
    assert.match((await page.locator('pre[aria-label="Output"]').textContent()) ?? '', /"approvedBy": "ada"/);
    assert.equal(
      await page.locator('tr[data-step="#event.approved.1"]').getAttribute('data-step-status'),
      'completed',
    );
    assert.equal((await workflows.get(runs.awaiting)).status, 'completed');
    assert.equal(await page.getByRole('button', { name: 'Send event…' }).count(), 0, 'ended: no event');
    await page.close();
  });

  it('cancels a run after a confirmation: its compensations run and it ends cancelled', async () => {
    const page = await signIn(`/workflow-runs/${runs.abandoned}`, 'admin-token');
    await page.locator('[data-run-status="waiting"]').waitFor();
    await page.getByRole('button', { name: 'Cancel run…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await workflows.get(runs.abandoned)).status, 'waiting', 'Cancel cancels nothing');
    await page.getByRole('button', { name: 'Cancel run…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('[data-run-status="cancelled"]').waitFor({ timeout: 10_000 });
    await page.locator('tr[data-step="#compensate.prepare"].compensation').waitFor();
    assert.ok(undone.includes('discard-offsite'), 'the compensation ran');
    assert.equal(await page.getByRole('button', { name: 'Cancel run…' }).count(), 0);
    await page.screenshot({ path: join(screenshotDir, 'workflow-run-cancelled.png'), fullPage: true });
    await page.close();
  });

  it('retries a failed run from its failed step', async () => {
    const page = await signIn(`/workflow-runs/${runs.imported}`, 'admin-token');
    await page.locator('[data-run-status="failed"]').waitFor();
    const download = await workflows.get(runs.imported);
    const downloadedAt = download.steps.find((step) => step.id === 'download')?.finishedAt?.getTime();
    sourceBack = true;
    await page.getByRole('button', { name: 'Retry from failed step' }).click();
    await page.getByText(`Run ${runs.imported} resumes from its failed step.`).waitFor();
    await page.locator('[data-run-status="completed"]').waitFor({ timeout: 10_000 });
    const done = await workflows.get(runs.imported);
    assert.deepEqual(done.output, { rows: 12 });
    assert.equal(
      done.steps.find((step) => step.id === 'download')?.finishedAt?.getTime(),
      downloadedAt,
      'the completed step did not run again',
    );
    assert.equal(await page.locator('tr[data-step="parse"]').getAttribute('data-step-status'), 'completed');
    await page.close();
  });

  it('shows the breakers on their screen and the overview; a read token cannot reset', async () => {
    const page = await signIn('/', 'viewer-token');
    const summary = page.locator('[data-breakers-summary]');
    await summary.waitFor();
    assert.match((await summary.textContent()) ?? '', /open1half-open0closed1/);
    assert.match((await summary.textContent()) ?? '', /Not closed: sms open/);
    await summary.getByRole('link', { name: 'Circuit breakers' }).click();
    await page.getByRole('heading', { name: 'Circuit breakers', level: 1 }).waitFor();
    const sms = page.locator('[data-breaker="sms"]');
    await sms.waitFor();
    assert.equal(await sms.getAttribute('data-breaker-state'), 'open');
    assert.equal(await sms.locator('.badge').textContent(), 'open');
    assert.equal(await sms.locator('[data-col="failures"]').textContent(), '1');
    assert.match((await sms.locator('[data-col="probe"]').textContent()) ?? '', /^in \d+ min/);
    assert.match(
      (await sms.locator('[data-col="last-failure"]').textContent()) ?? '',
      /503 from the SMS provider/,
    );
    const email = page.locator('[data-breaker="email"]');
    assert.equal(await email.getAttribute('data-breaker-state'), 'closed');
    assert.equal(await email.locator('[data-col="failures"]').textContent(), '1');
    assert.equal(await page.getByRole('button', { name: 'Reset…' }).count(), 0, 'no reset for a read token');
    assert.equal(
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Breakers' })
        .getAttribute('aria-current'),
      'page',
    );
    await page.close();
  });

  it('an admin resets an open breaker after a confirmation: it closes', async () => {
    const page = await signIn('/breakers', 'admin-token');
    const sms = page.locator('[data-breaker="sms"]');
    await sms.waitFor();
    await page.screenshot({ path: join(screenshotDir, 'breakers.png'), fullPage: true });
    await sms.getByRole('button', { name: 'Reset…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', /Reset breaker sms\?/);
    await dialog.getByRole('button', { name: 'Reset breaker' }).click();
    await page.getByText('Reset breaker sms: closed.').waitFor();
    await page.locator('[data-breaker="sms"][data-breaker-state="closed"]').waitFor();
    const [view] = (await jobs.breakers.list()).filter((breaker) => breaker.name === 'sms');
    assert.equal(view?.state, 'closed');
    assert.equal(await sms.locator('[data-col="failures"]').textContent(), '0');
    // Calls go through again.
    assert.equal(await jobs.breakers.get('sms').run(() => 'sent'), 'sent');
    await page.close();
  });
});
