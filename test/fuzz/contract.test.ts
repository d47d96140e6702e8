/**
 * The HTTP API fuzzed from its own contract: `spool serve` (loopback, SQLite, API tokens) gets a
 * few thousand requests generated with fast-check from the schemas of `/openapi.json` — valid,
 * mutated, junk, and valid scenarios — and every answer is held to the properties listed in
 * `fuzzer.ts`. A fixed seed keeps CI reproducible; `SPOOL_FUZZ_SEED` and `SPOOL_FUZZ_REQUESTS`
 * change the run, and every failure prints its seed, its case numbers and a shrunk reproduction.
 * `npm run fuzz -- --requests 1000000` is the long mode (scripts/fuzz.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { advisoryKinds, type Finding, formatReport, type FuzzReport, Fuzzer } from './fuzzer.js';
import { type ServerUnderFuzz, startSpoolServe } from './server.js';

const seed = Number(process.env.SPOOL_FUZZ_SEED ?? 20_260_701);
const requests = Number(process.env.SPOOL_FUZZ_REQUESTS ?? 6000);

describe(`the HTTP API against /openapi.json, fuzzed (seed ${seed}, ${requests} requests)`, () => {
  let server: ServerUnderFuzz;
  let report: FuzzReport;
  let stopCode: number | null = null;

  before(async () => {
    server = await startSpoolServe();
    const fuzzer = await Fuzzer.create(server, {
      requests,
      seed,
      concurrency: 6,
      warmup: Math.min(1000, Math.floor(requests / 5)),
      shrinkMs: 15_000,
    });
    report = await fuzzer.run();
    stopCode = await server.stop();
    // The whole report once, for whoever reads the CI log after a failure.
    if (report.findings.length > 0) console.log(formatReport(report));
  });

  after(async () => {
    await server?.stop();
  });

  const failing = (...kinds: string[]): Finding[] =>
    report.findings.filter((finding) => kinds.includes(finding.kind) && !advisoryKinds.has(finding.kind));
  const explain = (findings: Finding[]) =>
    `seed ${seed} (rerun: SPOOL_FUZZ_SEED=${seed} SPOOL_FUZZ_REQUESTS=${requests} npm test -- test/fuzz, ` +
    `or npm run fuzz -- --seed ${seed} --requests ${requests}):\n` +
    formatReport({ ...report, findings });

  it('sends the requests and stays up (no crash, healthy at the end, clean SIGTERM exit)', () => {
    assert.ok(report.sent >= requests, `only ${report.sent} of ${requests} requests were sent`);
    assert.deepEqual(failing('fatal', 'unhealthy'), [], explain(failing('fatal', 'unhealthy')));
    assert.equal(report.healthy, true);
    assert.equal(stopCode, 0, 'spool serve exits 0 on SIGTERM after the run');
  });

  it('never answers 5xx', () => {
    assert.deepEqual(failing('server-error'), [], explain(failing('server-error')));
  });

  it('answers every error as problem+json with type, title, status, detail and code', () => {
    const found = failing('not-problem', 'problem-schema');
    assert.deepEqual(found, [], explain(found));
  });

  it('answers every request, in time (no reset, no hang; long polls get the wait they asked for)', () => {
    const found = failing('no-answer', 'hang', 'slow');
    assert.deepEqual(found, [], explain(found));
  });

  it('puts X-Request-Id on every answer, equal to the problem requestId', () => {
    assert.deepEqual(failing('request-id'), [], explain(failing('request-id')));
  });

  it('answers a documented status with a body matching its documented schema', () => {
    const found = failing('undocumented-status', 'response-schema', 'accepted-invalid');
    assert.deepEqual(found, [], explain(found));
  });

  it('runs the valid scenarios as documented (receipts, leases, cursors, idempotency)', () => {
    assert.deepEqual(failing('scenario'), [], explain(failing('scenario')));
  });

  it("brings the server's heap after GC back near its start", () => {
    assert.ok(report.memory.start && report.memory.end, 'the server reported its memory');
    assert.deepEqual(failing('memory'), [], explain(failing('memory')));
  });
});
