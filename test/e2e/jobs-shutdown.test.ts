/**
 * `spool serve` stopped by SIGTERM while jobs are in flight: requests already in progress are
 * answered, the process exits 0, and after a restart on the same data directory every job that
 * was acknowledged (202) exists, and the job a remote worker had claimed but not finished runs
 * again once its lease expires.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers.js';

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly stderr: () => string;
}

async function serve(dir: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--port',
      '0',
      '--data',
      dir,
      '--shutdown-timeout',
      '5000',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited early (${code}): ${stderr}`)));
  });
  return { url, child, exited, stderr: () => stderr };
}

async function post(base: string, path: string, body: unknown) {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface Leased {
  job: { id: string; attempts: number; history: { error: { name: string } | null }[] };
  lease: string;
}

describe('spool serve: graceful shutdown with jobs in flight', () => {
  it('finishes in-flight requests, exits 0, and loses no acknowledged job', async () => {
    const { dir, cleanup } = tempDir('spool-shutdown-');
    const servers: Server[] = [];
    try {
      const first = await serve(dir);
      servers.push(first);
      const acknowledged: string[] = [];
      const add = async (n: number) => {
        const answer = await post(first.url, '/v1/jobs', { type: 'work', payload: { n } });
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
        acknowledged.push(answer.body.id as string);
      };
      for (let n = 0; n < 5; n++) await add(n);

      // A remote worker claims one job with a short lease and keeps it active.
      const claimed = await post(first.url, '/v1/jobs/claim', { types: ['work'], max: 1, leaseMs: 1000 });
      const [leased] = (claimed.body as unknown as { jobs: Leased[] }).jobs;
      assert.ok(leased, 'a job was claimed');
      assert.equal(
        (await post(first.url, `/v1/jobs/${leased.job.id}/heartbeat`, { lease: leased.lease, leaseMs: 1000 }))
          .status,
        200,
      );

      // In flight at SIGTERM: a long poll (answers at once, empty) and a burst of adds.
      const polling = post(first.url, '/v1/jobs/claim', { types: ['idle'], waitMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const burst = Array.from({ length: 20 }, async (_, i) => {
        try {
          const answer = await post(first.url, '/v1/jobs', { type: 'work', payload: { n: 100 + i } });
          if (answer.status === 202) acknowledged.push(answer.body.id as string);
          else assert.equal(answer.status, 503, JSON.stringify(answer.body));
        } catch {
          // Refused after the listener closed: never acknowledged.
        }
      });
      const started = Date.now();
      first.child.kill('SIGTERM');
      const poll = await polling;
      assert.equal(poll.status, 200);
      assert.deepEqual(poll.body, { jobs: [] });
      await Promise.all(burst);
      assert.equal(await first.exited, 0, first.stderr());
      assert.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms`);
      assert.match(first.stderr(), /"msg":"stopped"/);

      // Restart on the same data directory: every acknowledged job is there.
      const second = await serve(dir);
      servers.push(second);
      for (const id of acknowledged) {
        const response = await fetch(`${second.url}/v1/jobs/${encodeURIComponent(id)}`);
        assert.equal(response.status, 200, `acknowledged job ${id} exists after the restart`);
      }
      // The claimed job's lease expired while the server was down: it runs again, and completes.
      let again: Leased | undefined;
      const deadline = Date.now() + 5000;
      while (!again && Date.now() < deadline) {
        const answer = await post(second.url, '/v1/jobs/claim', {
          types: ['work'],
          max: 100,
          waitMs: 1000,
          leaseMs: 5000,
        });
        again = (answer.body as unknown as { jobs: Leased[] }).jobs.find(
          (entry) => entry.job.id === leased.job.id,
        );
      }
      assert.ok(again, 'the unfinished job was claimed again');
      assert.equal(again.job.attempts, 2);
      assert.equal(again.job.history[0]?.error?.name, 'LeaseExpired');
      const completed = await post(second.url, `/v1/jobs/${again.job.id}/complete`, {
        lease: again.lease,
        result: 'done',
      });
      assert.equal(completed.status, 200, JSON.stringify(completed.body));
      assert.equal(completed.body.status, 'completed');
      assert.equal(completed.body.result, 'done');

      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.stderr());
    } finally {
      for (const server of servers) server.child.kill('SIGKILL');
      cleanup();
    }
  });
});
