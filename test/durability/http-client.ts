/**
 * A client process of the server-kill test: loops that send queue messages, receive and ack
 * them, add jobs, and claim and complete them over HTTP against `spool serve`, which the test
 * SIGKILLs and restarts underneath. Each outcome the test needs is one line on stdout, written
 * synchronously when the answer arrives (times are Date.now() in ms):
 *
 *   S <seq>                                         a send answered 201
 *   R <seq> <receipt> <requested> <answered> <attempt>  a delivery (receive answered 200)
 *   A <receipt>                                     its ack answered 204
 *   J <seq> <job id>                                a job add answered 202
 *   L <job id> <lease> <requested> <answered>       a claim delivered the job
 *   K <lease>                                       its completion answered 200
 *   F <receipt or lease> <status>                   an ack or completion answered an error
 *
 * A request that fails (the server is down, or answers an error) is not retried: a send or add is
 * abandoned (its number may or may not be stored), an ack or completion is left to the lease.
 * Writing "drain" on stdin stops the producers; the consumers go on until stdin closes.
 *
 * Usage: http-client <base url> <client number>
 */
import { writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const [base, clientArg] = process.argv.slice(2);
if (!base || clientArg === undefined) throw new Error('usage: http-client <base url> <client number>');
/** Sequence numbers are unique across clients: each has its own billion. */
let sequence = Number(clientArg) * 1_000_000_000;
const queueName = 'kill-test';
const jobType = 'kill-job';
const leaseMs = 5000;
let producing = true;
let running = true;

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  if (chunk.includes('drain')) producing = false;
});
process.stdin.on('end', () => {
  running = false;
});

function report(line: string): void {
  const bytes = Buffer.from(line + '\n');
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}

interface Answer {
  status: number;
  /** The parsed JSON body (the few fields this client reads). */
  body: {
    id?: string;
    messages?: { body: { seq: number }; receipt: string; attempt: number }[];
    jobs?: { job: { id: string }; lease: string }[];
  } | null;
}

/** POSTs JSON; resolves with the status and parsed body, or null if the request failed. */
async function post(path: string, body: unknown): Promise<Answer | null> {
  try {
    const response = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Answer['body']) : null };
  } catch {
    return null;
  }
}

/** After a failure, wait a little for the server to come back. */
const pause = () => sleep(20 + Math.random() * 30);

async function sender(): Promise<void> {
  while (running && producing) {
    const seq = sequence++;
    const result = await post(`/v1/queues/${queueName}/messages`, { body: { seq } });
    if (result?.status === 201) report(`S ${seq}`);
    else await pause();
  }
}

async function consumer(): Promise<void> {
  while (running) {
    const requested = Date.now();
    const result = await post(`/v1/queues/${queueName}/receive`, { max: 5, waitMs: 200 });
    const answered = Date.now();
    if (result?.status !== 200) {
      await pause();
      continue;
    }
    for (const message of result.body?.messages ?? []) {
      report(`R ${message.body.seq} ${message.receipt} ${requested} ${answered} ${message.attempt}`);
      const ack = await post(`/v1/queues/${queueName}/ack`, { receipt: message.receipt });
      if (ack?.status === 204) report(`A ${message.receipt}`);
      else if (ack) report(`F ${message.receipt} ${ack.status}`);
    }
  }
}

async function jobAdder(): Promise<void> {
  while (running && producing) {
    const seq = sequence++;
    const result = await post('/v1/jobs', { type: jobType, payload: { seq }, maxAttempts: 1000 });
    if (result?.status === 202) report(`J ${seq} ${result.body?.id}`);
    else await pause();
  }
}

async function jobWorker(): Promise<void> {
  while (running) {
    const requested = Date.now();
    const result = await post('/v1/jobs/claim', { types: [jobType], max: 4, waitMs: 200, leaseMs });
    const answered = Date.now();
    if (result?.status !== 200) {
      await pause();
      continue;
    }
    for (const { job, lease } of result.body?.jobs ?? []) {
      report(`L ${job.id} ${lease} ${requested} ${answered}`);
      const done = await post(`/v1/jobs/${encodeURIComponent(job.id)}/complete`, {
        lease,
        result: { ok: true },
      });
      if (done?.status === 200) report(`K ${lease}`);
      else if (done) report(`F ${lease} ${done.status}`);
    }
  }
}

report('ready');
await Promise.all([sender(), sender(), consumer(), jobAdder(), jobWorker()]);
process.exit(0);
