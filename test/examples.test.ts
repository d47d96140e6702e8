/**
 * The examples are documentation that runs: each one is started as its own process, as a user
 * would, and must finish on its own with exit code 0 and print what its comments promise.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `examples/<file>` under tsx; kills it (and fails) if it has not exited after `timeoutMs`. */
function runExample(file: string, args: string[] = [], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('examples', file), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${file} did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function assertExitedCleanly(file: string, run: Run): void {
  assert.equal(
    run.code,
    0,
    `${file} exited with ${run.code ?? run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`,
  );
}

const num = (text: string) => Number(text.replaceAll(',', ''));

describe('examples', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spool-examples-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('flash-sale: every order reaches every group, none lost, in per-customer order', async () => {
    const path = join(dir, 'flash-sale.db');
    const run = await runExample('flash-sale.ts', ['--count', '3000', '--path', path]);
    assertExitedCleanly('flash-sale.ts', run);
    assert.doesNotMatch(run.stderr, /kept the process alive/);

    assert.match(run.stdout, /^published: 3,000 orders/m);
    const groups = new Map<string, Record<string, number>>();
    const line =
      /^\s+(\w+)\s+processed: ([\d,]+)\s+lost: ([\d,]+)\s+duplicates: ([\d,]+)\s+out-of-order: ([\d,]+)\s+committed lag: ([\d,]+)\s+errors: ([\d,]+)\s+done after/gm;
    for (const m of run.stdout.matchAll(line)) {
      groups.set(m[1]!, {
        processed: num(m[2]!),
        lost: num(m[3]!),
        duplicates: num(m[4]!),
        outOfOrder: num(m[5]!),
        committedLag: num(m[6]!),
        errors: num(m[7]!),
      });
    }
    assert.deepEqual([...groups.keys()].sort(), ['email', 'inventory', 'payment'], run.stdout);
    for (const [group, tally] of groups) {
      assert.deepEqual(
        tally,
        { processed: 3000, lost: 0, duplicates: 0, outOfOrder: 0, committedLag: 0, errors: 0 },
        `group ${group}`,
      );
    }
    assert.match(run.stdout, /^lost: 0$/m);
    assert.match(run.stdout, /^time to publish: [\d.]+ s \([\d,]+ events\/s\)$/m);
    assert.match(run.stdout, /^time until all groups done: [\d.]+ s$/m);
    assert.match(run.stdout, /^RESULT: OK/m);
    // Not a TTY here: progress comes as whole lines, at least the final one.
    assert.match(run.stderr, /published 3,000\/3,000 \| payment 3,000 \(lag 0\)/);
    assert.ok(existsSync(path), 'the database is kept at --path');
  });

  it('flash-sale: rejects a bad flag with exit code 2 and the usage', async () => {
    const run = await runExample('flash-sale.ts', ['--durability', 'sometimes']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--durability must be "full" or "process"/);
    assert.match(run.stderr, /usage:/);
  });

  it('queue-basics: dedup, delay, retry, dead letter, redrive, stats', async () => {
    const run = await runExample('queue-basics.ts');
    assertExitedCleanly('queue-basics.ts', run);
    const out = run.stdout;
    assert.match(out, /^dedup: duplicate=true, same id=true$/m);
    assert.match(out, /^sent "Welcome" to ada@example\.com \(attempt 1\)$/m);
    assert.match(out, /^sent "Your trial ends soon" to bob@example\.com \(attempt 1\)$/m);
    assert.match(out, /attempt 1 failed: Error: SMTP timeout/);
    assert.match(out, /^sent "Receipt" to flaky@example\.com \(attempt 2\)$/m);
    assert.match(out, /dead-lettered message to nobody@invalid/);
    assert.match(out, /^DLQ: nobody@invalid after 1 attempt\(s\): NonRetryableError: no such domain/m);
    assert.match(out, /^redriven: 1$/m);
    assert.match(out, /ready: 1,/);
    assert.match(out, /deadLettered: 0/);
    assert.doesNotMatch(
      out,
      /to ada@example\.com \(attempt 1\)[\s\S]*to ada@example\.com/,
      'dedup: sent once',
    );
  });

  it('topic-basics: keyed publish, two groups, partition read, seek and lag', async () => {
    const run = await runExample('topic-basics.ts');
    assertExitedCleanly('topic-basics.ts', run);
    const out = run.stdout;
    assert.equal(out.match(/^published to partition \d+ at offset \d+$/gm)?.length, 6);
    for (const group of ['billing', 'analytics']) {
      const received = out.match(new RegExp(`^${group}: o-\\d`, 'gm'));
      assert.equal(received?.length, 6, `${group} got every event`);
    }
    // ada's three orders come in the order they were published, in each group.
    for (const group of ['billing', 'analytics']) {
      const ada = [...out.matchAll(new RegExp(`^${group}: (o-\\d) of ada`, 'gm'))].map((m) => m[1]);
      assert.deepEqual(ada, ['o-1', 'o-3', 'o-6']);
    }
    assert.match(out, /^partition \d+ holds offsets 0\.\.\d+:$/m);
    assert.match(out, /^lag of billing: 0 /m);
    assert.match(out, /^lag of analytics: 6 /m);
  });

  it('order-saga: the order of a crashed worker resumes without a second charge; a declined one is compensated', async () => {
    const run = await runExample('order-saga.ts', [], 40_000);
    assertExitedCleanly('order-saga.ts', run);
    const out = run.stdout;
    assert.match(out, /^worker process ended by SIGKILL; order o-1 is running$/m);
    assert.match(out, /^order o-1: completed$/m);
    assert.match(out, /^order o-2: compensated$/m);
    assert.match(out, /^ {2}charge: failed after 1 attempt\(s\)$/m);
    assert.match(out, /^ {2}#compensate\.reserve: completed after 1 attempt\(s\)$/m);
    assert.match(out, /^ {2}release desk for o-2$/m);
    assert.match(out, /^ {2}ship lamp for o-1$/m);
    assert.doesNotMatch(out, /refund/, 'nothing was charged for o-2, so nothing is refunded');
    assert.match(out, /^o-1 charged 1 time\(s\)$/m);
  });

  it('notifications: fanned out per channel; the SMS breaker stops the calls while the provider is down', async () => {
    const run = await runExample('notifications.ts', [], 30_000);
    assertExitedCleanly('notifications.ts', run);
    const out = run.stdout;
    assert.match(out, /^email: 20 of 20 delivered$/m);
    assert.match(out, /^sms: 20 of 20 delivered, 0 dead-lettered$/m);
    const calls = /^provider called (\d+) times, (\d+) of them while it was down$/m.exec(out);
    assert.ok(calls, out);
    const breaker = /^breaker "sms" opened (\d+) time\(s\), refused (\d+) calls; now closed$/m.exec(out);
    assert.ok(breaker, out);
    assert.ok(Number(breaker[1]) >= 1, 'the breaker opened');
    assert.ok(Number(breaker[2]) > 0, 'calls were refused without reaching the provider');
    assert.ok(
      Number(calls[2]) < 20,
      `the provider was called ${calls[2]} times while down: not once per message`,
    );
  });

  it('report-generation: answered at once with an id; the caller polls progress, then the result', async () => {
    const run = await runExample('report-generation.ts');
    assertExitedCleanly('report-generation.ts', run);
    const out = run.stdout;
    assert.match(out, /^requested report [0-9a-f-]{36}: queued$/m);
    const progress = [...out.matchAll(/^progress (\d+)%$/gm)].map((m) => Number(m[1]));
    assert.ok(progress.length >= 2, `progress was seen moving: ${progress.join(', ')}`);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress only rises',
    );
    assert.match(out, /^report completed: 200 rows, total 600$/m);
    assert.match(out, /^log: built 2026-11 from 5 pages$/m);
  });

  it('video-transcoding: 202 with a job id and Location, rising progress, a verified completion webhook', async () => {
    const run = await runExample('video-transcoding.ts');
    assertExitedCleanly('video-transcoding.ts', run);
    const out = run.stdout;
    const accepted = /^accepted 202: job ([0-9a-f-]{36})$/m.exec(out);
    assert.ok(accepted, out);
    const id = accepted[1]!;
    assert.match(out, new RegExp(`^location: /v1/jobs/${id}, retry-after: 1 s$`, 'm'));
    const progress = [...out.matchAll(/^progress (\d+)% \((\w+), chunk \d of 4\)$/gm)].map((m) =>
      Number(m[1]),
    );
    assert.ok(progress.length >= 2, `progress was seen moving: ${progress.join(', ')}`);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress only rises',
    );
    assert.equal(progress.at(-1), 100, 'the last progress seen is 100%');
    assert.match(out, /^polled: completed$/m);
    assert.match(
      out,
      new RegExp(
        `^webhook: completed, verified signature, 3 renditions \\(job\\.completed, webhook-id ${id}\\.\\d+, same job: true\\)$`,
        'm',
      ),
    );
    assert.match(out, /^result: 1080p 1920x1080 56\.3 MB https:\/\/cdn\.example\.com\/v-42\/1080p\.mp4$/m);
    assert.match(out, /^result: 720p 1280x720 31\.5 MB https:\/\/cdn\.example\.com\/v-42\/720p\.mp4$/m);
    assert.match(out, /^result: 480p 854x480 15\.8 MB https:\/\/cdn\.example\.com\/v-42\/480p\.mp4$/m);
    assert.match(out, /^receiver: refused a webhook \(no-matching-signature\)$/m);
    assert.match(out, /^forged webhook: 401$/m);
    assert.equal(out.match(/^receiver: refused/gm)?.length, 1, 'only the forgery is refused');
  });
});
