/**
 * A remote job worker in its own process, speaking only HTTP: claims `echo` jobs (long poll),
 * reports progress, heartbeats, and completes them with their payload — or fails them when the
 * payload says so. Exits after `count` jobs. Used by jobs.test.ts.
 */
const [base, countArg] = process.argv.slice(2);
if (!base) throw new Error('usage: remote-worker <base-url> <count>');
const count = Number(countArg ?? 1);

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

interface Leased {
  job: { id: string; payload: { fail?: boolean; value: unknown } };
  lease: string;
}

let done = 0;
while (done < count) {
  const { jobs } = (await post('/v1/jobs/claim', {
    types: ['echo'],
    max: 1,
    waitMs: 5000,
    leaseMs: 5000,
  })) as {
    jobs: Leased[];
  };
  for (const { job, lease } of jobs) {
    await post(`/v1/jobs/${job.id}/progress`, { progress: 50, data: { pid: process.pid }, lease });
    await post(`/v1/jobs/${job.id}/heartbeat`, { lease, leaseMs: 5000 });
    if (job.payload.fail) {
      await post(`/v1/jobs/${job.id}/fail`, {
        lease,
        error: { name: 'EchoError', message: 'asked to fail' },
        retryable: false,
      });
    } else {
      await post(`/v1/jobs/${job.id}/complete`, {
        lease,
        result: { echoed: job.payload.value, pid: process.pid },
      });
    }
    done++;
  }
}
