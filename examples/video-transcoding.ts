// Video transcoding over HTTP: the caller posts a transcode job and is answered at once with
// 202 Accepted, the job's id and its Location; it polls the Location for progress while a worker
// transcodes the upload rendition by rendition; and when the job is done Spool POSTs a signed
// completion webhook (Standard Webhooks) to the job's callbackUrl, whose receiver verifies the
// signature before it trusts the result. Everything is real: a Spool server on 127.0.0.1 on a
// temporary SQLite file, plain fetch for the caller, and a node:http server for the receiver.
// Run: npx tsx examples/video-transcoding.ts
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateSecret,
  Jobs,
  openSpool,
  verify,
  webhookHeaders,
  Webhooks,
  WebhookVerificationError,
} from '../src/index.js'; // in your app: 'spool'
import { startServer } from '../src/server/index.js'; // in your app: 'spool/server'

interface TranscodeRequest {
  videoId: string;
  source: string;
  durationSeconds: number;
}
interface Rendition {
  name: string;
  width: number;
  height: number;
  bytes: number;
  url: string;
}
interface TranscodeResult {
  videoId: string;
  renditions: Rendition[];
}
interface JobView {
  id: string;
  status: string;
  progress: number;
  progressData: { rendition?: string; chunk?: number; of?: number } | null;
  result: TranscodeResult | null;
}
interface CompletionWebhook {
  type: string;
  timestamp: string;
  data: { id: string; type: string; status: string; attempts: number; result: TranscodeResult | null };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const dir = mkdtempSync(join(tmpdir(), 'spool-video-transcoding-'));
const spool = await openSpool({ path: join(dir, 'spool.db') });

// 1. Webhook delivery. Spool signs every delivery with this secret; the receiver verifies with it.
//    By default it refuses to call loopback, private, link-local and cloud-metadata addresses (an
//    SSRF guard: a callbackUrl comes from an API caller, who must not be able to make the server
//    call services inside its network). The receiver below is on 127.0.0.1, so that one address
//    is allowed — `allowPrivateNetworks: true` would open every private range, which is more than
//    needed. With `spool serve`: SPOOL_WEBHOOK_SECRET=whsec_… SPOOL_WEBHOOK_ALLOW=127.0.0.1.
const secret = generateSecret();
const webhooks = new Webhooks(spool, { secret, allow: ['127.0.0.1'] });
await webhooks.open();
await webhooks.start();

// 2. The worker: "transcodes" the upload into three renditions, four chunks each, reporting
//    progress after every chunk, and returns the renditions as the job's result.
const ladder = [
  { name: '1080p', width: 1920, height: 1080, kbps: 5_000 },
  { name: '720p', width: 1280, height: 720, kbps: 2_800 },
  { name: '480p', width: 854, height: 480, kbps: 1_400 },
];
const chunks = 4;
const jobs = new Jobs(spool);
jobs.define<TranscodeRequest, TranscodeResult>(
  'video.transcode',
  async (job, context) => {
    const { videoId, durationSeconds } = job.payload;
    const renditions: Rendition[] = [];
    for (const [step, { name, width, height, kbps }] of ladder.entries()) {
      for (let chunk = 1; chunk <= chunks; chunk++) {
        await sleep(80); // ffmpeg at work
        const done = step * chunks + chunk;
        await context.progress(Math.round((100 * done) / (ladder.length * chunks)), {
          rendition: name,
          chunk,
          of: chunks,
        });
      }
      const bytes = Math.round((kbps * 1000 * durationSeconds) / 8);
      renditions.push({ name, width, height, bytes, url: `https://cdn.example.com/${videoId}/${name}.mp4` });
    }
    return { videoId, renditions };
  },
  { timeoutMs: 30 * 60_000, concurrency: 2 },
);
await jobs.start();

// 3. The Spool server (what `spool serve` runs), on a free port of 127.0.0.1.
const server = await startServer({ spool, jobs, webhooks, port: 0 });

// 4. The caller's webhook receiver: reads the raw body, verifies the signature, answers 204.
const readBody = async (request: IncomingMessage): Promise<string> => {
  let body = '';
  for await (const chunk of request.setEncoding('utf8')) body += chunk as string;
  return body;
};
let delivered: (webhook: CompletionWebhook, webhookId: string) => void;
const webhookArrived = new Promise<[CompletionWebhook, string]>(
  (resolve) => (delivered = (webhook, webhookId) => resolve([webhook, webhookId])),
);
const receiver = createServer((request, response) => {
  void readBody(request).then((body) => {
    try {
      // The raw body, exactly as received: re-serialised JSON would not verify.
      const { webhookId } = verify(body, request.headers, secret);
      response.writeHead(204).end(); // answer quickly; a non-2xx answer is retried with backoff
      delivered(JSON.parse(body) as CompletionWebhook, webhookId);
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      console.log(`receiver: refused a webhook (${error.reason})`);
      response.writeHead(401).end();
    }
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/transcoded`;

// 5. The caller: asks for the transcode and is answered at once.
const accepted = await fetch(`${server.url}/v1/jobs`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'idempotency-key': 'upload-v-42' },
  body: JSON.stringify({
    type: 'video.transcode',
    payload: { videoId: 'v-42', source: 's3://uploads/v-42.mov', durationSeconds: 90 },
    callbackUrl,
  }),
});
const { id } = (await accepted.json()) as { id: string; status: string };
const location = accepted.headers.get('location')!;
console.log(`accepted ${accepted.status}: job ${id}`);
console.log(`location: ${location}, retry-after: ${accepted.headers.get('retry-after')} s`);

// 6. It polls the Location. A real caller waits Retry-After seconds between polls (or follows
//    GET /v1/jobs/{id}/events, or waits for the webhook alone); this one polls every 30 ms so
//    that the example shows the steps of a job that lasts about a second.
let job: JobView;
let shown = -1;
for (;;) {
  job = (await (await fetch(`${server.url}${location}`)).json()) as JobView;
  if (job.progress !== shown && job.progressData?.rendition) {
    shown = job.progress;
    const { rendition, chunk, of } = job.progressData;
    console.log(`progress ${job.progress}% (${rendition}, chunk ${chunk} of ${of})`);
  }
  if (['completed', 'dead', 'cancelled'].includes(job.status)) break;
  await sleep(30);
}
console.log(`polled: ${job.status}`);

// 7. The completion webhook, signed and verified.
const giveUp = setTimeout(() => {
  console.error('no completion webhook within 10 s');
  process.exit(1);
}, 10_000).unref();
const [webhook, webhookId] = await webhookArrived;
clearTimeout(giveUp);
const { data } = webhook;
console.log(
  `webhook: ${data.status}, verified signature, ${data.result?.renditions.length ?? 0} renditions` +
    ` (${webhook.type}, webhook-id ${webhookId}, same job: ${data.id === id})`,
);
for (const { name, width, height, bytes, url } of data.result?.renditions ?? []) {
  console.log(`result: ${name} ${width}x${height} ${(bytes / 1e6).toFixed(1)} MB ${url}`);
}

// 8. Why the receiver verifies: the same body signed with another secret (a forgery, or a
//    webhook meant for someone else) is refused.
const forged = JSON.stringify(webhook);
const refused = await fetch(callbackUrl, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    ...webhookHeaders({
      webhookId: 'forged-1',
      timestamp: Math.floor(Date.now() / 1000),
      body: forged,
      secrets: generateSecret(),
    }),
  },
  body: forged,
});
console.log(`forged webhook: ${refused.status}`);

receiver.close();
await server.close();
await jobs.close();
await webhooks.close();
await spool.close();
rmSync(dir, { recursive: true, force: true });
