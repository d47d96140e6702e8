/**
 * What `spool/client` costs over the wire: 100 concurrent single sends through the client, next
 * to the same sends made with raw keep-alive `node:http` — same server build, same ~230-byte
 * order payload, same count, same concurrency — reported as a ratio (the target is ≥ 0.8).
 *
 *   npx tsx bench/client-transport.ts [--messages 20000] [--rounds 5] [--senders 100]
 *                                     [--durability full|process] [--modes client,raw-http,client-fetch]
 *                                     [--connections N]
 *
 * Modes: `client` is `new SpoolClient({ url })` as an application makes it (its default
 * transport); `raw-http` is `http.request` on an `http.Agent({ keepAlive: true })` that reads and
 * parses each answer; `client-fetch` (opt-in) is the client handed the global `fetch`, i.e. the
 * transport the client had before it got its own connection pool.
 *
 * Every measurement gets a fresh `spool serve` (a child process, so server and client do not
 * share an event loop) on a new data directory, a queue, 2,000 unmeasured warm-up sends, then
 * `--messages` timed sends from `--senders` loops each awaiting one send at a time. Each round
 * runs every mode once, in a rotating order, so drift on a shared machine does not always hit the
 * same mode; the report gives each mode's median and min – max over the rounds, the ratio of the
 * medians, and the per-round ratios (a round's modes ran back to back, so their ratio is the
 * steadier figure on a busy machine).
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SpoolClient } from '#spool/client/index';
import { order, payloadBytes } from './payload.js';
import { median } from './report/stats.js';
import { concurrently, secondsSince } from './scenarios/support.js';
import { startServer } from './systems/spool-http.js';

const allModes = ['client', 'raw-http', 'client-fetch'] as const;
type Mode = (typeof allModes)[number];

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    senders: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '2000' },
    durability: { type: 'string', default: 'full' },
    modes: { type: 'string', default: 'client,raw-http' },
    connections: { type: 'string' },
  },
});
const messages = Number(values.messages);
const rounds = Number(values.rounds);
const senders = Number(values.senders);
const warmup = Number(values.warmup);
const durability = values.durability as 'full' | 'process';
/** The client's `connections` option; its default when not given. */
const connections = values.connections === undefined ? undefined : Number(values.connections);
const modes = values.modes.split(',').map((mode) => mode.trim()) as Mode[];
for (const mode of modes) {
  if (!allModes.includes(mode)) throw new Error(`unknown mode ${mode}; modes: ${allModes.join(', ')}`);
}
if (durability !== 'full' && durability !== 'process') throw new Error('--durability is full or process');
if (!modes.includes('raw-http')) throw new Error('the ratio needs the raw-http mode');

interface Sender {
  send(seq: number): Promise<void>;
  close(): Promise<void>;
}

const queue = 'bench';
const sendPath = `/v1/queues/${queue}/messages`;

function clientSender(url: string, mode: 'client' | 'client-fetch'): Sender {
  const client = new SpoolClient({
    url,
    retries: { maxAttempts: 1 },
    ...(connections !== undefined && { connections }),
    ...(mode === 'client-fetch' && { fetch: globalThis.fetch.bind(globalThis) }),
  });
  return {
    send: async (seq) => void (await client.queues.send(queue, order(seq))),
    // `close()` is the client's way to let go of its pool, where it has one.
    close: async () => {
      const closable = client as unknown as { close?: () => Promise<void> };
      await closable.close?.();
    },
  };
}

/** Raw keep-alive `node:http`: the floor for a JSON-over-HTTP client of this server. */
function rawSender(url: string): Sender {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true });
  const send = (seq: number) =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ body: order(seq) });
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: sendPath,
          headers: {
            accept: 'application/json',
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string };
            if (res.statusCode !== 201 || typeof answer.id !== 'string') {
              reject(new Error(`send answered ${res.statusCode}: ${JSON.stringify(answer)}`));
            } else resolve();
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return {
    send,
    close: () => {
      agent.destroy();
      return Promise.resolve();
    },
  };
}

interface Measurement {
  /** Sends per second. */
  readonly rate: number;
  /** CPU time of this (the client's) process per send, user + system, µs. */
  readonly cpu: number;
}

async function measure(mode: Mode): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-client-bench-'));
  const server = await startServer(dir, durability);
  const admin = new SpoolClient({ url: server.url });
  const sender = mode === 'raw-http' ? rawSender(server.url) : clientSender(server.url, mode);
  try {
    await admin.queues.put(queue);
    await concurrently(warmup, senders, (seq) => sender.send(seq));
    const cpuStart = process.cpuUsage();
    const started = process.hrtime.bigint();
    const sent = await concurrently(messages, senders, (seq) => sender.send(warmup + seq));
    const seconds = secondsSince(started);
    const cpu = process.cpuUsage(cpuStart);
    const stored = (await admin.queues.get(queue)).stats.ready;
    if (stored !== warmup + sent) throw new Error(`${mode}: ${warmup + sent} sent, ${stored} stored`);
    return { rate: sent / seconds, cpu: (cpu.user + cpu.system) / sent };
  } finally {
    await sender.close();
    await (admin as unknown as { close?: () => Promise<void> }).close?.();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function range(xs: readonly number[], digits = 0): string {
  return `${Math.min(...xs).toFixed(digits)} – ${Math.max(...xs).toFixed(digits)}`;
}

const results = new Map<Mode, Measurement[]>(modes.map((mode) => [mode, []]));
console.log(
  `client transport: ${messages.toLocaleString('en-US')} sends of ${payloadBytes()} bytes from ${senders} concurrent senders, ` +
    `spool serve --durability ${durability}, ${rounds} rounds, modes ${modes.join(', ')}` +
    `${connections === undefined ? '' : `, client connections ${connections}`}; ` +
    `Node ${process.version}, load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
);
for (let round = 0; round < rounds; round++) {
  const sequence = modes.map((_, index) => modes[(index + round) % modes.length]!);
  for (const mode of sequence) {
    const result = await measure(mode);
    results.get(mode)!.push(result);
    console.log(
      `  round ${round + 1} ${mode.padEnd(13)} ${Math.round(result.rate).toString().padStart(6)} sends/s ${result.cpu
        .toFixed(0)
        .padStart(5)} µs client cpu/send`,
    );
  }
}

const raw = results.get('raw-http')!;
console.log(`\nmedian (min – max) over ${rounds} rounds; load average now ${loadavg()[0]!.toFixed(2)}`);
for (const mode of modes) {
  const runs = results.get(mode)!;
  const rates = runs.map((run) => run.rate);
  const cpus = runs.map((run) => run.cpu);
  const line = `  ${mode.padEnd(13)} ${Math.round(median(rates)).toString().padStart(6)} sends/s (${range(rates)})   ${median(cpus).toFixed(0).padStart(4)} µs cpu/send (${range(cpus)})`;
  if (mode === 'raw-http') {
    console.log(line);
    continue;
  }
  const perRound = runs.map((run, index) => run.rate / raw[index]!.rate);
  console.log(
    `${line}   ratio to raw-http: ${(median(rates) / median(raw.map((run) => run.rate))).toFixed(2)} of medians, ` +
      `per round ${median(perRound).toFixed(2)} (${range(perRound, 2)})`,
  );
}
if (results.has('client')) {
  const perRound = median(results.get('client')!.map((run, index) => run.rate / raw[index]!.rate));
  console.log(
    `\ntarget: client ≥ 0.80 × raw keep-alive node:http (per-round median): ${perRound.toFixed(2)}, ${perRound >= 0.8 ? 'met' : 'NOT met'}`,
  );
}
