/**
 * The headless Chromium the dashboard tests drive: where it is, why a test is skipped without
 * it (never in CI), and a fresh profile per suite, removed when it closes.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The `skip` of a Chromium suite: a reason on a machine without Chromium, except in CI. */
export const browserSkip: string | false =
  !existsSync(chromiumPath) && !process.env.CI
    ? `no Chromium at ${chromiumPath} (install the Debian "chromium" package or set CHROMIUM_PATH); CI runs these tests`
    : false;

export const screenshotDir = join('test-results', 'dashboard');

/** A browser on a fresh profile; `close()` ends it and removes the profile. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  mkdirSync(screenshotDir, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'spool-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
