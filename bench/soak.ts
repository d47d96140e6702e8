/**
 * Soak: a steady load through `spool serve` for a long time, watching for what only time shows —
 * memory and file descriptors that creep up, an event loop that gets slower, a tail latency that
 * grows — and checking that nothing was lost on the way.
 *
 *   npm run soak -- [--minutes 60] [--rate 2000] [--json FILE] [--sample-seconds 10]
 *                   [--job-share 0.1] [--senders 20] [--batch 1] [--consumers 4] [--workers 2]
 *                   [--warmup-seconds N] [--phase-minutes N] [--drain-seconds 120]
 *                   [--durability full|process] [--keep-data]
 *
 * One `spool serve` child (from source, on a fresh data directory, durability `full` unless told)
 * carries for `--minutes`:
 * - **messages**: `--senders` producers on one `SpoolClient` send ~230-byte order events to a
 *   queue, paced by one token bucket at `rate × (1 − job-share)` per second (a sender takes up to
 *   `--batch` tokens and sends them in one request; 1 = one message per request); `--consumers`
 *   loops on another client long-poll `receive` (max 100) and ack each batch in one call;
 * - **jobs**: `rate × job-share` per second `jobs.add` with a `callbackUrl` pointing at a webhook
 *   receiver in this process (signatures verified with the server's `SPOOL_WEBHOOK_SECRET`),
 *   run by `--workers` remote `Worker`s (concurrency 50 each) that return the job's stamp.
 *
 * Every `--sample-seconds` it records the server's RSS and open fds (/proc/<pid>), its JS heap and
 * event-loop lag (a probe preloaded into the server, `monitorEventLoopDelay` at 10 ms resolution
 * as prom-client's default metrics use it: `spool serve` does not expose those metrics), CPU,
 * database size, the p99 of send→handler, of the send request, of the job add request and of job
 * add→completion webhook, throughput, backlog and the machine's load average.
 *
 * The first phase (after a warm-up: 1 min, or 10 % of shorter runs) is compared with the last:
 * 10 minutes each for runs of 30 minutes or more, else a sixth of the run. Each metric gets a
 * verdict — flat, or GREW beyond its threshold (RSS and heap +20 %, fds +10 %, p99s and lag ×1.5).
 * Then the producers stop and a drain checks that every acknowledged send was received and every
 * added job was run and its completion webhook delivered (at least once; duplicates are counted).
 * The exit code is 1 when a metric grew, anything was lost, a request failed, the server did not
 * stop cleanly or the offered rate was not reached (< 90 %).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SpoolClient, Worker } from '#spool/client/index';
import { generateSecret, verify } from '#spool/webhooks/index';
import { now, order, payloadBytes, type OrderEvent } from './payload.js';
import { LatencyHistogram, SeqCounter, TokenBucket } from './soak/measure.js';
import {
  compare,
  percentiles,
  type Phase,
  type Sample,
  type SampleHistograms,
  verdictTable,
} from './soak/report.js';
import { SoakServer } from './soak/server.js';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    rate: { type: 'string', default: '2000' },
    'job-share': { type: 'string', default: '0.1' },
    senders: { type: 'string', default: '20' },
    batch: { type: 'string', default: '1' },
    consumers: { type: 'string', default: '4' },
    workers: { type: 'string', default: '2' },
    'sample-seconds': { type: 'string' },
    'warmup-seconds': { type: 'string' },
    'phase-minutes': { type: 'string' },
    'drain-seconds': { type: 'string', default: '120' },
    durability: { type: 'string', default: 'full' },
    json: { type: 'string' },
    'keep-data': { type: 'boolean', default: false },
  },
});

function numberFlag(name: keyof typeof flags, minimum: number, maximum = Infinity): number {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < minimum || value > maximum) {
    throw new Error(`--${name} must be a number from ${minimum} to ${maximum}, not ${String(flags[name])}`);
  }
  return value;
}

const durationSeconds = numberFlag('minutes', 0.1) * 60;
const rate = numberFlag('rate', 1);
const jobShare = numberFlag('job-share', 0, 1);
const senders = Math.round(numberFlag('senders', 1));
const batch = Math.round(numberFlag('batch', 1, 1000));
const consumerCount = Math.round(numberFlag('consumers', 1));
const workerCount = Math.round(numberFlag('workers', jobShare > 0 ? 1 : 0));
const drainSeconds = numberFlag('drain-seconds', 1);
const sampleSeconds =
  flags['sample-seconds'] === undefined
    ? Math.min(10, Math.max(2, durationSeconds / 60))
    : numberFlag('sample-seconds', 0.5);
const warmupSeconds =
  flags['warmup-seconds'] === undefined
    ? Math.min(60, durationSeconds / 10)
    : numberFlag('warmup-seconds', 0, durationSeconds / 2);
const phaseSeconds =
  flags['phase-minutes'] === undefined
    ? durationSeconds >= 30 * 60
      ? 600
      : durationSeconds / 6
    : numberFlag('phase-minutes', 0.05) * 60;
if (warmupSeconds + phaseSeconds > durationSeconds - phaseSeconds) {
  throw new Error('the warm-up and the two phases do not fit in --minutes without overlapping');
}
const durability = flags.durability as 'full' | 'process';
if (durability !== 'full' && durability !== 'process') throw new Error('--durability is full or process');

const queue = 'soak';
const jobType = 'soak.job';
const messageRate = rate * (1 - jobShare);
const jobRate = rate * jobShare;
const jobSenders = jobRate > 0 ? Math.max(1, Math.round(senders / 5)) : 0;
const receiveMax = 100;
const workerConcurrency = 50;

// --- counting --------------------------------------------------------------------------------------

const counts = {
  sent: 0,
  sendRequests: 0,
  received: 0,
  duplicateDeliveries: 0,
  receivedUnacknowledgedSend: 0,
  staleAcks: 0,
  jobsAdded: 0,
  jobRuns: 0,
  duplicateJobRuns: 0,
  webhooks: 0,
  duplicateWebhooks: 0,
  otherWebhookEvents: 0,
  badSignatures: 0,
};
const errors = { send: 0, receive: 0, ack: 0, add: 0, worker: 0, sample: 0 };
const lastErrors: string[] = [];
function noteError(kind: keyof typeof errors, error: unknown): void {
  errors[kind]++;
  const text = `${kind}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  if (lastErrors.length < 20) lastErrors.push(text);
}
const totalErrors = () => Object.values(errors).reduce((sum, n) => sum + n, 0);

/** Per message seq: was its send acknowledged (0/1), how often was it received. */
const sendAcknowledged = new SeqCounter();
const receivedTimes = new SeqCounter();
/** Acknowledged sends not received yet. */
let pendingMessages = 0;
/** Per job seq: add acknowledged, worker runs, completion webhooks. */
const jobAcknowledged = new SeqCounter();
const jobRunTimes = new SeqCounter();
const webhookTimes = new SeqCounter();
/** Acknowledged adds whose completion webhook has not arrived, with their ids (for the report). */
const pendingJobs = new Map<number, string>();

let windows = newWindows();
function newWindows(): SampleHistograms & { jobAddRequest: LatencyHistogram } {
  return {
    sendToHandler: new LatencyHistogram(),
    sendRequest: new LatencyHistogram(),
    jobAddRequest: new LatencyHistogram(),
    jobAddToWebhook: new LatencyHistogram(),
  };
}

// --- the server, the webhook receiver and the clients ------------------------------------------------

const loadAtStart = loadavg();
const dataDir = mkdtempSync(join(tmpdir(), 'spool-soak-'));
const secret = generateSecret();

interface JobStamp {
  seq: number;
  addedAt: number;
}

function isJobStamp(value: unknown): value is JobStamp {
  const stamp = value as JobStamp | null;
  return typeof stamp?.seq === 'number' && typeof stamp.addedAt === 'number';
}

const receiver = createServer((request: IncomingMessage, response: ServerResponse) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      verify(body, request.headers, secret);
    } catch {
      counts.badSignatures++;
      response.writeHead(401).end();
      return;
    }
    const event = JSON.parse(body) as { type: string; data: { status: string; result: unknown } };
    if (event.type !== 'job.completed' || !isJobStamp(event.data.result)) {
      counts.otherWebhookEvents++;
      if (lastErrors.length < 20) lastErrors.push(`webhook: unexpected ${body.slice(0, 300)}`);
      response.writeHead(204).end();
      return;
    }
    const { seq, addedAt } = event.data.result;
    const before = webhookTimes.increment(seq);
    if (before === 0) {
      counts.webhooks++;
      windows.jobAddToWebhook.record(now() - addedAt);
      // When it arrives before the add's answer is read, the add does not count it as pending.
      pendingJobs.delete(seq);
    } else counts.duplicateWebhooks++;
    response.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/jobs`;

const server = await SoakServer.start({
  dataDir,
  durability,
  env: {
    SPOOL_WEBHOOK_SECRET: secret,
    SPOOL_WEBHOOK_ALLOW: '127.0.0.1/32',
  },
});
const clientOptions = { url: server.url };
const admin = new SpoolClient(clientOptions);
const producer = new SpoolClient(clientOptions);
const consumer = new SpoolClient(clientOptions);
const workerClient = new SpoolClient(clientOptions);
await admin.queues.put(queue);

const gitCommit = (() => {
  try {
    const head = readFileSync(new URL('../.git/HEAD', import.meta.url), 'utf8').trim();
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    return (ref ? readFileSync(new URL(`../.git/${ref}`, import.meta.url), 'utf8') : head).trim().slice(0, 7);
  } catch {
    return 'unknown';
  }
})();

const fmtLoad = (load: readonly number[]) => load.map((n) => n.toFixed(2)).join(' ');
console.log(
  `soak: ${(durationSeconds / 60).toFixed(durationSeconds % 60 === 0 ? 0 : 1)} min at ${rate.toLocaleString('en-US')} msg/s ` +
    `(${Math.round(messageRate)} queue messages/s of ${payloadBytes()} bytes from ${senders} senders, batch ≤ ${batch}; ` +
    `${Math.round(jobRate)} jobs/s with completion webhooks, ${workerCount} remote workers × ${workerConcurrency}; ` +
    `${consumerCount} consumers × receive ${receiveMax}), spool serve --durability ${durability} (pid ${server.pid}, ${server.url}), ` +
    `samples every ${sampleSeconds} s, warm-up ${warmupSeconds} s, phases of ${(phaseSeconds / 60).toFixed(1)} min`,
);
console.log(
  `machine: ${cpus().length} cores, Node ${process.version}, commit ${gitCommit}, load average at start ${fmtLoad(loadAtStart)}`,
);

// --- load ------------------------------------------------------------------------------------------

const stopConsumers = new AbortController();
// A second's worth of burst: a sender stalled by a slow answer (or a CPU taken by someone else)
// catches up afterwards, so the offered rate holds; a server slower than the rate for longer than
// that sees its own pace instead of an ever-growing burst.
const messageBucket = new TokenBucket(messageRate, Math.max(1, messageRate));
const jobBucket = new TokenBucket(Math.max(jobRate, 1e-9), Math.max(1, jobRate));
let nextMessage = 0;
let nextJob = 0;

async function sendLoop(): Promise<void> {
  for (;;) {
    const tokens = await messageBucket.take(batch);
    if (tokens === 0) return;
    const first = nextMessage;
    nextMessage += tokens;
    const bodies = Array.from({ length: tokens }, (_, i) => order(first + i));
    const started = performance.now();
    try {
      if (tokens === 1) await producer.queues.send(queue, bodies[0]);
      else
        await producer.queues.sendBatch(
          queue,
          bodies.map((body) => ({ body })),
        );
    } catch (error) {
      noteError('send', error);
      continue;
    }
    windows.sendRequest.record(performance.now() - started);
    counts.sendRequests++;
    counts.sent += tokens;
    for (let seq = first; seq < first + tokens; seq++) {
      sendAcknowledged.increment(seq);
      if (receivedTimes.get(seq) === 0) pendingMessages++;
    }
  }
}

async function consumeLoop(): Promise<void> {
  const signal = stopConsumers.signal;
  while (!signal.aborted) {
    let messages;
    try {
      messages = await consumer.queues.receive(queue, { max: receiveMax, waitMs: 1000, signal });
    } catch (error) {
      if (signal.aborted) return;
      noteError('receive', error);
      await sleep(200);
      continue;
    }
    if (messages.length === 0) continue;
    const at = now();
    for (const message of messages) {
      const body = message.body as OrderEvent;
      windows.sendToHandler.record(at - body.sentAt);
      const before = receivedTimes.increment(body.seq);
      if (before > 0) counts.duplicateDeliveries++;
      else {
        counts.received++;
        if (sendAcknowledged.get(body.seq) > 0) pendingMessages--;
        else counts.receivedUnacknowledgedSend++;
      }
    }
    try {
      const results = await consumer.queues.ack(
        queue,
        messages.map((message) => message.receipt),
      );
      counts.staleAcks += results.filter((result) => !result.ok).length;
    } catch (error) {
      noteError('ack', error);
    }
  }
}

async function addLoop(): Promise<void> {
  for (;;) {
    const tokens = await jobBucket.take(1);
    if (tokens === 0) return;
    const seq = nextJob++;
    const stamp: JobStamp = { seq, addedAt: now() };
    const started = performance.now();
    let id: string;
    try {
      ({ id } = await producer.jobs.add(jobType, stamp, { callbackUrl }));
    } catch (error) {
      noteError('add', error);
      continue;
    }
    windows.jobAddRequest.record(performance.now() - started);
    counts.jobsAdded++;
    jobAcknowledged.increment(seq);
    if (webhookTimes.get(seq) === 0) pendingJobs.set(seq, id);
  }
}

const workers = Array.from(
  { length: jobRate > 0 ? workerCount : 0 },
  () =>
    new Worker(workerClient, {
      types: [jobType],
      concurrency: workerConcurrency,
      handler: (job) => {
        const stamp = job.payload;
        if (!isJobStamp(stamp)) throw new Error(`job ${job.id} without a stamp`);
        if (jobRunTimes.increment(stamp.seq) === 0) counts.jobRuns++;
        else counts.duplicateJobRuns++;
        return stamp;
      },
      onError: (error) => noteError('worker', error),
    }),
);

// --- sampling --------------------------------------------------------------------------------------

const samples: Sample[] = [];
const sampleHistograms: SampleHistograms[] = [];
const clockTicks = 100; // USER_HZ on Linux
function serverCpuSeconds(): number {
  const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat; fields here start at field 3.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

let loadStarted = performance.now();
let lastSampleAt = loadStarted;
let lastCounts = { ...counts };
let lastServerCpu = serverCpuSeconds();
let lastSoakCpu = process.cpuUsage();

async function backlog(name: string): Promise<number> {
  const { stats } = await admin.queues.get(name);
  return stats.ready + stats.delayed + stats.inFlight;
}

async function takeSample(): Promise<void> {
  const probe = await server.probe();
  const at = performance.now();
  const seconds = (at - lastSampleAt) / 1000;
  const histograms = windows;
  windows = newWindows();
  const serverCpu = serverCpuSeconds();
  const soakCpu = process.cpuUsage(lastSoakCpu);
  const perSecond = (key: keyof typeof counts) => (counts[key] - lastCounts[key]) / seconds;
  let queueBacklog = NaN;
  let webhookBacklog = NaN;
  try {
    [queueBacklog, webhookBacklog] = await Promise.all([backlog(queue), backlog('spool.webhooks')]);
  } catch (error) {
    noteError('sample', error);
  }
  const sample: Sample = {
    t: Math.round((at - loadStarted) / 100) / 10,
    seconds: Math.round(seconds * 100) / 100,
    rssMb: server.rss() / 1e6,
    heapUsedMb: probe.heapUsed / 1e6,
    heapAfterGcMb: probe.heapAfterMajorGc === null ? NaN : probe.heapAfterMajorGc / 1e6,
    gcPausePercent: (probe.gcPauseMs / 1000 / seconds) * 100,
    fds: server.fds(),
    fdKinds: server.fdKinds(),
    lagP50Ms: probe.lagP50,
    lagP99Ms: probe.lagP99,
    lagMaxMs: probe.lagMax,
    serverCpuPercent: ((serverCpu - lastServerCpu) / seconds) * 100,
    soakCpuPercent: ((soakCpu.user + soakCpu.system) / 1e6 / seconds) * 100,
    databaseMb: server.databaseBytes() / 1e6,
    sentPerSecond: perSecond('sent'),
    receivedPerSecond: perSecond('received'),
    jobsAddedPerSecond: perSecond('jobsAdded'),
    webhooksPerSecond: perSecond('webhooks'),
    sendToHandler: percentiles(histograms.sendToHandler),
    sendRequest: percentiles(histograms.sendRequest),
    jobAddRequest: percentiles(histograms.jobAddRequest),
    jobAddToWebhook: percentiles(histograms.jobAddToWebhook),
    queueBacklog,
    webhookBacklog,
    errors: totalErrors(),
    loadAverage: loadavg()[0]!,
  };
  lastSampleAt = at;
  lastCounts = { ...counts };
  lastServerCpu = serverCpu;
  lastSoakCpu = process.cpuUsage();
  samples.push(sample);
  sampleHistograms.push(histograms);
  const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '—');
  console.log(
    `t=${sample.t.toFixed(0).padStart(5)}s rss ${sample.rssMb.toFixed(1)} MB heap ${sample.heapUsedMb.toFixed(1)} (gc'd ${ms(sample.heapAfterGcMb)}) MB ` +
      `fds ${sample.fds} lag p99 ${sample.lagP99Ms.toFixed(1)} ms cpu ${sample.serverCpuPercent.toFixed(0)}%+${sample.soakCpuPercent.toFixed(0)}% | ` +
      `msgs ${sample.sentPerSecond.toFixed(0)}/${sample.receivedPerSecond.toFixed(0)} per s ` +
      `s→h p99 ${ms(sample.sendToHandler.p99)} send p99 ${ms(sample.sendRequest.p99)} ms | ` +
      `jobs ${sample.jobsAddedPerSecond.toFixed(0)}/${sample.webhooksPerSecond.toFixed(0)} per s add→hook p99 ${ms(sample.jobAddToWebhook.p99)} ms | ` +
      `backlog ${queueBacklog}+${webhookBacklog} db ${sample.databaseMb.toFixed(0)} MB err ${sample.errors} load ${sample.loadAverage.toFixed(2)}`,
  );
}

// --- run -------------------------------------------------------------------------------------------

const serverDied = new Promise<never>((_, reject) =>
  server.child.once('exit', (code, signal) =>
    reject(new Error(`spool serve exited during the run (code ${code}, signal ${signal})`)),
  ),
);
serverDied.catch(() => undefined);

let failure: unknown;
const consumerLoops = Array.from({ length: consumerCount }, () => consumeLoop());
for (const worker of workers) worker.start();
loadStarted = performance.now();
lastSampleAt = loadStarted;
lastServerCpu = serverCpuSeconds();
lastSoakCpu = process.cpuUsage();
const producerLoops = [
  ...Array.from({ length: senders }, () => sendLoop()),
  ...Array.from({ length: jobSenders }, () => addLoop()),
];

try {
  const endAt = loadStarted + durationSeconds * 1000;
  for (let next = loadStarted + sampleSeconds * 1000; next <= endAt + 1; next += sampleSeconds * 1000) {
    await Promise.race([sleep(Math.max(0, next - performance.now())), serverDied]);
    await Promise.race([takeSample(), serverDied]);
  }
} catch (error) {
  failure = error;
  console.error(`\nsoak stopped: ${error instanceof Error ? error.message : String(error)}`);
}
const loadSeconds = (performance.now() - loadStarted) / 1000;

// --- drain -----------------------------------------------------------------------------------------

messageBucket.stop();
jobBucket.stop();
await Promise.all(producerLoops);
const drainStarted = performance.now();
const drainDeadline = drainStarted + drainSeconds * 1000;
while (
  failure === undefined &&
  server.exited === undefined &&
  (pendingMessages > 0 || pendingJobs.size > 0) &&
  performance.now() < drainDeadline
) {
  await sleep(250);
}
const drainedIn = (performance.now() - drainStarted) / 1000;
const afterDrain = {
  seconds: drainedIn,
  rssMb: server.exited ? NaN : server.rss() / 1e6,
  fds: server.exited ? NaN : server.fds(),
  queue: NaN,
  webhookQueue: NaN,
  deadLettered: NaN,
  webhookDeadLetters: NaN,
};
if (!server.exited) {
  try {
    const [soakQueue, webhookQueue] = await Promise.all([
      admin.queues.get(queue),
      admin.queues.get('spool.webhooks'),
    ]);
    afterDrain.queue = soakQueue.stats.ready + soakQueue.stats.delayed + soakQueue.stats.inFlight;
    afterDrain.deadLettered = soakQueue.stats.deadLettered;
    afterDrain.webhookQueue =
      webhookQueue.stats.ready + webhookQueue.stats.delayed + webhookQueue.stats.inFlight;
    afterDrain.webhookDeadLetters = webhookQueue.stats.deadLettered;
  } catch (error) {
    noteError('sample', error);
  }
}
stopConsumers.abort();
await Promise.all([...consumerLoops, ...workers.map((worker) => worker.close({ timeoutMs: 5000 }))]);

// Which jobs are missing, as the server sees them (a few, for the report).
const missingJobs: { seq: number; id: string; status: string }[] = [];
for (const [seq, id] of [...pendingJobs].slice(0, 10)) {
  let status = 'unknown';
  try {
    status = server.exited ? 'server gone' : (await admin.jobs.get(id)).status;
  } catch (error) {
    status = `get failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  missingJobs.push({ seq, id, status });
}
await Promise.all([admin.close(), producer.close(), consumer.close(), workerClient.close()]);
const exit = await server.stop();
await new Promise<void>((resolve) => receiver.close(() => resolve()));
receiver.closeAllConnections();

// --- losses ----------------------------------------------------------------------------------------

let lostMessages = 0;
for (let seq = 0; seq < nextMessage; seq++) {
  if (sendAcknowledged.get(seq) > 0 && receivedTimes.get(seq) === 0) lostMessages++;
}
let jobsNotRun = 0;
let webhooksMissing = 0;
for (let seq = 0; seq < nextJob; seq++) {
  if (jobAcknowledged.get(seq) === 0) continue;
  if (jobRunTimes.get(seq) === 0) jobsNotRun++;
  if (webhookTimes.get(seq) === 0) webhooksMissing++;
}

// --- report ----------------------------------------------------------------------------------------

const firstPhase: Phase = {
  name: `first ${fmtMinutes(warmupSeconds)}–${fmtMinutes(warmupSeconds + phaseSeconds)}`,
  from: warmupSeconds,
  to: warmupSeconds + phaseSeconds,
};
const lastPhase: Phase = {
  name: `last ${fmtMinutes(durationSeconds - phaseSeconds)}–${fmtMinutes(durationSeconds)}`,
  from: durationSeconds - phaseSeconds,
  to: durationSeconds,
};
function fmtMinutes(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${(seconds / 60).toFixed(1)} min`;
}

const verdicts = compare(samples, sampleHistograms, firstPhase, lastPhase);
const whole = LatencyHistogram.merged(sampleHistograms.map((h) => h.sendToHandler));
const achievedRate = (counts.sent + counts.jobsAdded) / loadSeconds;
const loadAtEnd = loadavg();

console.log(
  `\nran ${fmtMinutes(Math.round(loadSeconds))} of load: ${counts.sent.toLocaleString('en-US')} messages in ` +
    `${counts.sendRequests.toLocaleString('en-US')} send requests and ${counts.jobsAdded.toLocaleString('en-US')} jobs, ` +
    `${Math.round(achievedRate).toLocaleString('en-US')} msg/s of ${rate.toLocaleString('en-US')} offered; ` +
    `send→handler over the whole run p50 ${whole.percentile(50).toFixed(1)} ms p99 ${whole.percentile(99).toFixed(1)} ms max ${whole.max.toFixed(0)} ms; ` +
    `load average at start ${fmtLoad(loadAtStart)}, at end ${fmtLoad(loadAtEnd)}\n`,
);
console.log(verdictTable(verdicts, firstPhase, lastPhase));

const checks: { name: string; ok: boolean; detail: string }[] = [
  {
    name: 'messages',
    ok: lostMessages === 0,
    detail:
      `${counts.sent.toLocaleString('en-US')} acknowledged sends, ${lostMessages} never received; ` +
      `${counts.duplicateDeliveries} duplicate deliveries, ${counts.staleAcks} stale acks, ` +
      `${counts.receivedUnacknowledgedSend} received from failed sends`,
  },
  {
    name: 'jobs',
    ok: jobsNotRun === 0 && webhooksMissing === 0,
    detail:
      `${counts.jobsAdded.toLocaleString('en-US')} acknowledged adds, ${jobsNotRun} never run, ${webhooksMissing} without a ` +
      `completion webhook; ${counts.duplicateJobRuns} duplicate runs, ${counts.duplicateWebhooks} duplicate webhooks, ` +
      `${counts.otherWebhookEvents} other events, ${counts.badSignatures} bad signatures`,
  },
  {
    name: 'drain',
    ok: pendingMessages === 0 && pendingJobs.size === 0,
    detail:
      `${drainedIn.toFixed(1)} s (limit ${drainSeconds} s); after it the queue held ${afterDrain.queue}, ` +
      `spool.webhooks ${afterDrain.webhookQueue}, dead letters ${afterDrain.deadLettered} + ${afterDrain.webhookDeadLetters} webhooks`,
  },
  {
    name: 'dead letters',
    ok: afterDrain.deadLettered === 0 && afterDrain.webhookDeadLetters === 0,
    detail: `${afterDrain.deadLettered} in the queue's DLQ, ${afterDrain.webhookDeadLetters} failed webhook deliveries`,
  },
  {
    name: 'request errors',
    ok: totalErrors() === 0,
    detail: Object.entries(errors)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', '),
  },
  {
    name: 'server',
    ok: failure === undefined && exit.code === 0,
    detail:
      `exit code ${exit.code}${exit.signal ? ` (signal ${exit.signal})` : ''} after SIGTERM; ` +
      `${server.log.errors} error and ${server.log.warnings} other log lines at warn or above`,
  },
  {
    name: 'rate',
    ok: achievedRate >= 0.9 * rate,
    detail: `${Math.round(achievedRate)} of ${rate} msg/s offered (${((achievedRate / rate) * 100).toFixed(1)} %)`,
  },
  {
    name: 'flat',
    ok: verdicts.every((v) => v.verdict !== 'GREW' && v.verdict !== 'DROPPED' && v.verdict !== 'no data'),
    detail: verdicts
      .filter((v) => v.verdict !== 'info')
      .map((v) => `${v.key} ${v.verdict}`)
      .join(', '),
  },
];
console.log('');
for (const check of checks) console.log(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
if (missingJobs.length > 0) console.log(`missing jobs (server status): ${JSON.stringify(missingJobs)}`);
if (lastErrors.length > 0) console.log(`first errors:\n  ${lastErrors.join('\n  ')}`);
if (server.log.last.length > 0)
  console.log(`last server log lines:\n  ${server.log.last.slice(-5).join('\n  ')}`);

if (flags.json !== undefined) {
  writeFileSync(
    flags.json,
    `${JSON.stringify(
      {
        startedAt: new Date(Date.now() - loadSeconds * 1000).toISOString(),
        config: {
          minutes: durationSeconds / 60,
          rate,
          jobShare,
          senders,
          jobSenders,
          batch,
          consumers: consumerCount,
          receiveMax,
          workers: workers.length,
          workerConcurrency,
          durability,
          sampleSeconds,
          warmupSeconds,
          phaseSeconds,
          payloadBytes: payloadBytes(),
        },
        machine: { cores: cpus().length, node: process.version, commit: gitCommit, loadAtStart, loadAtEnd },
        loadSeconds,
        achievedRate,
        counts,
        errors,
        losses: { lostMessages, jobsNotRun, webhooksMissing },
        afterDrain,
        phases: { first: firstPhase, last: lastPhase },
        verdicts,
        checks,
        samples,
        firstErrors: lastErrors,
        serverLog: server.log,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwrote ${flags.json}`);
}

if (flags['keep-data']) console.log(`data directory kept: ${dataDir}`);
else rmSync(dataDir, { recursive: true, force: true });
const ok = checks.every((check) => check.ok);
console.log(`\nsoak ${ok ? 'passed' : 'FAILED'}`);
process.exitCode = ok ? 0 : 1;
