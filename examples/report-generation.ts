// Report generation: a long job whose caller gets an id at once and polls for progress and the
// result — the request/acknowledge/poll pattern. Over HTTP it is `POST /v1/jobs` (202 + Location)
// and `GET /v1/jobs/{id}`, or `client.jobs.add` / `client.jobs.get` with spool/client.
// Run: npx tsx examples/report-generation.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jobs, openSpool } from '../src/index.js'; // in your app: 'spool'

interface ReportRequest {
  month: string;
  customers: number;
}
interface Report {
  month: string;
  rows: number;
  total: number;
}

const dir = mkdtempSync(join(tmpdir(), 'spool-report-generation-'));
const spool = await openSpool({ path: join(dir, 'spool.db') });

// The worker: reads the month's orders in pages, reporting progress as it goes.
const jobs = new Jobs(spool);
jobs.define<ReportRequest, Report>(
  'report.build',
  async (job, context) => {
    const pages = 5;
    let total = 0;
    for (let page = 1; page <= pages; page++) {
      await new Promise((resolve) => setTimeout(resolve, 60)); // a slow query
      total += page * job.payload.customers;
      await context.progress((100 * page) / pages, { page, of: pages });
    }
    await context.log(`built ${job.payload.month} from ${pages} pages`);
    return { month: job.payload.month, rows: pages * job.payload.customers, total };
  },
  { timeoutMs: 60_000 },
);
await jobs.start();

// The caller: asks for a report, is answered at once, then polls until it is done.
const { id, status } = await jobs.add('report.build', { month: '2026-11', customers: 40 });
console.log(`requested report ${id}: ${status}`);
let job = await jobs.get(id);
const seen = new Set<number>();
while (job.status !== 'completed' && job.status !== 'dead') {
  if (!seen.has(job.progress)) {
    seen.add(job.progress);
    console.log(`progress ${job.progress}%`);
  }
  await new Promise((resolve) => setTimeout(resolve, 25));
  job = await jobs.get(id);
}
const report = job.result as unknown as Report;
console.log(`report ${job.status}: ${report.rows} rows, total ${report.total}`);
console.log(`log: ${job.logs.map((line) => line.message).join('; ')}`);

await jobs.close();
await spool.close();
rmSync(dir, { recursive: true, force: true });
