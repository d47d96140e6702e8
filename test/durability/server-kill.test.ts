/**
 * kill -9 of `spool serve` under HTTP load: client processes (http-client.ts) send queue
 * messages, receive and ack them, add jobs and complete them through remote claims, while this
 * test SIGKILLs the server and restarts it on the same SQLite file, again and again. Then:
 *
 * - every send answered 201 was received (and, the queue being empty at the end, acked);
 * - every job add answered 202 exists and ends completed;
 * - every duplicate delivery (a message or job delivered again) is explained by a lease in
 *   flight at a kill: the earlier delivery's ack or completion never got its 2xx, and a kill fell
 *   between the receive request and the end of its lease; nothing is delivered again after its
 *   ack or completion was answered;
 * - `PRAGMA integrity_check` passes.
 *
 * SPOOL_KILL_CYCLES sets the number of kills (default: 50, or as many as fit in 175 s, at least
 * 10); SPOOL_DURABILITY_LONG=1 runs 300.
 * The server is dist/cli/main.js when it is newer than every file in src/ (CI builds first),
 * otherwise an esbuild bundle of src/cli/main.ts (see bundle.ts).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { tempDir } from '../helpers.js';
import { bundle } from './bundle.js';

const long = process.env.SPOOL_DURABILITY_LONG === '1';
const kills = Number(process.env.SPOOL_KILL_CYCLES ?? (long ? 300 : 50));
/**
 * The default run stops killing after this long even if it has not reached `kills` (a server
 * start takes about 2 s of CPU, more on a busy machine), so it fits the suite's 5 min; it needs
 * at least `minimumKills`. An explicit SPOOL_KILL_CYCLES or a long run always does them all.
 */
const killBudgetMs = long || process.env.SPOOL_KILL_CYCLES ? Infinity : 175_000;
const minimumKills = 10;
const clientCount = 3;
/** Long runs take long; CI's run stays in the suite's 5 min. */
const timeout = long || process.env.SPOOL_KILL_CYCLES ? 12 * 3600_000 : 300_000;
const root = resolve(import.meta.dirname, '../..');
const queueName = 'kill-test';
const jobType = 'kill-job';
/** The leases the clients take (http-client.ts), and the queue's visibility timeout. */
const leaseMs = 5000;

function newestMtime(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    }),
  );
}

/** `spool serve`: the build when it is up to date, else a bundle of the sources. */
async function serverScript(): Promise<string> {
  const built = join(root, 'dist/cli/main.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(root, 'src'))) return built;
  return bundle('src/cli/main.ts', 'spool-serve');
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

class Server {
  readonly process: ChildProcess;
  readonly exited: Promise<unknown>;
  output = '';

  constructor(args: string[]) {
    this.process = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.process.stdout!, this.process.stderr!]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        this.output = (this.output + chunk).slice(-8000);
      });
    }
    this.exited = once(this.process, 'exit');
  }

  async listening(): Promise<void> {
    const started = Date.now();
    while (!/listening on http/.test(this.output)) {
      if (this.process.exitCode !== null) throw new Error(`spool serve exited:\n${this.output}`);
      if (Date.now() - started > 60_000) throw new Error(`spool serve did not listen:\n${this.output}`);
      await sleep(10);
    }
  }
}

interface Delivery {
  key: string;
  /** receipt or lease */
  token: string;
  requested: number;
  answered: number;
}

/** What the clients reported. */
class Ledger {
  sent = new Set<number>();
  deliveries = new Map<string, Delivery[]>();
  settled = new Set<string>();
  added = new Map<string, number>();
  jobDeliveries = new Map<string, Delivery[]>();
  completed = new Set<string>();
  /** Acks and completions the server refused (with the status), by receipt or lease. */
  refused = new Map<string, number>();

  record(line: string): void {
    const [tag, a, b, c, d] = line.split(' ');
    switch (tag) {
      case 'S':
        this.sent.add(Number(a));
        break;
      case 'R':
        push(this.deliveries, { key: a!, token: b!, requested: Number(c), answered: Number(d) });
        break;
      case 'A':
        this.settled.add(a!);
        break;
      case 'J':
        this.added.set(b!, Number(a));
        break;
      case 'L':
        push(this.jobDeliveries, { key: a!, token: b!, requested: Number(c), answered: Number(d) });
        break;
      case 'K':
        this.completed.add(a!);
        break;
      case 'F':
        this.refused.set(a!, Number(b));
        break;
      case 'ready':
        break;
      default:
        throw new Error(`unexpected report from a client: ${line}`);
    }
  }
}

function push(map: Map<string, Delivery[]>, delivery: Delivery): void {
  const list = map.get(delivery.key);
  if (list) list.push(delivery);
  else map.set(delivery.key, [delivery]);
}

interface Judgement {
  duplicates: number;
  /** Delivered again although the previous delivery's ack/completion was answered 2xx. */
  afterSettle: string[];
  /** Delivered again with no kill during the previous lease, and no refusal to explain it. */
  unexplained: string[];
  /** Explained by a kill while the previous lease was in flight. */
  byKill: number;
  /** Explained otherwise: the server answered the ack/completion 409 (the lease had run out). */
  byExpiry: number;
}

/**
 * Judges every delivery after the first of each message or job: the one before it must not have
 * been settled, and a kill must fall between that one's request and the end of its lease (or the
 * server refused its settlement with 409: the lease ran out while a client was slow, which is
 * at-least-once delivery without a kill, counted apart).
 */
function judgeDuplicates(
  deliveries: Map<string, Delivery[]>,
  settled: Set<string>,
  refused: Map<string, number>,
  killTimes: readonly number[],
): Judgement {
  let duplicates = 0;
  let byKill = 0;
  let byExpiry = 0;
  const afterSettle: string[] = [];
  const unexplained: string[] = [];
  for (const [key, list] of deliveries) {
    for (let index = 1; index < list.length; index++) {
      duplicates++;
      const previous = list[index - 1]!;
      if (settled.has(previous.token)) {
        afterSettle.push(key);
        continue;
      }
      const killed = killTimes.some((at) => at >= previous.requested && at <= previous.answered + leaseMs);
      if (killed) byKill++;
      else if (refused.get(previous.token) === 409) byExpiry++;
      else unexplained.push(key);
    }
  }
  return { duplicates, afterSettle, unexplained, byKill, byExpiry };
}

function startClient(client: string, base: string, index: number, ledger: Ledger) {
  const child = spawn(process.execPath, [client, base, String(index)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) ledger.record(line);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return { child, closed: once(child, 'close'), stderr: () => stderr };
}

async function get<T>(base: string, path: string): Promise<T> {
  const response = await fetch(base + path);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface QueueAnswer {
  stats: { ready: number; delayed: number; inFlight: number };
}
interface JobsAnswer {
  items: unknown[];
}

describe('kill -9 of spool serve under HTTP load', () => {
  it(
    `loses no acknowledged request across ${kills} SIGKILLs of the server (fewer if time runs out)`,
    { timeout },
    async () => {
      const { dir, cleanup } = tempDir('spool-kill-');
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const client = await bundle('test/durability/http-client.ts', 'http-client');
      const args = [
        await serverScript(),
        'serve',
        '--port',
        String(port),
        '--data',
        dir,
        '--log-level',
        'error',
      ];
      const ledger = new Ledger();
      const killTimes: number[] = [];
      let server = new Server(args);
      const clients: ReturnType<typeof startClient>[] = [];
      let downMs = 0;
      try {
        await server.listening();
        const put = await fetch(`${base}/v1/queues/${queueName}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ visibilityTimeoutMs: leaseMs, maxAttempts: 1000 }),
        });
        assert.ok(put.ok, `PUT queue: ${put.status} ${await put.text()}`);
        for (let index = 0; index < clientCount; index++)
          clients.push(startClient(client, base, index, ledger));
        // Load before the first kill: the clients are up and the server is busy.
        while (ledger.sent.size < 50 || ledger.added.size < 20) {
          for (const c of clients) {
            if (c.child.exitCode !== null) throw new Error(`a client exited:\n${c.stderr()}`);
          }
          await sleep(50);
        }

        const killing = Date.now();
        for (let cycle = 0; cycle < kills && Date.now() - killing < killBudgetMs; cycle++) {
          await sleep(200 + Math.random() * 600);
          killTimes.push(Date.now());
          server.process.kill('SIGKILL');
          await server.exited;
          const down = Date.now();
          server = new Server(args);
          await server.listening();
          downMs += Date.now() - down;
        }

        // Drain: producers stop; consumers take what is left, leases of the last kill included.
        for (const c of clients) c.child.stdin.write('drain\n');
        const deadline = Date.now() + 60_000;
        for (;;) {
          const { stats } = await get<QueueAnswer>(base, `/v1/queues/${queueName}`);
          const queued = await get<JobsAnswer>(base, `/v1/jobs?type=${jobType}&status=queued&limit=1`);
          const active = await get<JobsAnswer>(base, `/v1/jobs?type=${jobType}&status=active&limit=1`);
          const left =
            stats.ready + stats.delayed + stats.inFlight + queued.items.length + active.items.length;
          if (left === 0) break;
          assert.ok(Date.now() < deadline, `the clients did not drain: ${JSON.stringify(stats)}`);
          await sleep(200);
        }
        for (const c of clients) c.child.stdin.end();
        await Promise.all(clients.map((c) => c.closed));
        server.process.kill('SIGTERM');
        await server.exited;

        const delivered = new Set(ledger.deliveries.keys());
        const lostSends = [...ledger.sent].filter((seq) => !delivered.has(String(seq)));
        const store = await openSqliteStore({ path: join(dir, 'spool.db') });
        const lostJobs: string[] = [];
        try {
          for (const id of ledger.added.keys()) {
            if ((await store.getJob(id))?.status !== 'completed') lostJobs.push(id);
          }
          const stats = await store.queueStats(queueName);
          assert.equal(stats.deadLettered, 0, 'no message was dead-lettered');
        } finally {
          await store.close();
        }
        const db = new Database(join(dir, 'spool.db'), { readonly: true });
        try {
          assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        } finally {
          db.close();
        }
        const messages = judgeDuplicates(ledger.deliveries, ledger.settled, ledger.refused, killTimes);
        const jobs = judgeDuplicates(ledger.jobDeliveries, ledger.completed, ledger.refused, killTimes);
        console.log(
          `server kill test: ${killTimes.length} SIGKILLs (server down ${Math.round(downMs / killTimes.length)} ms per restart on average); ` +
            `${ledger.sent.size} sends answered 201, ${delivered.size} messages received, ${lostSends.length} lost, ` +
            `${messages.duplicates} duplicate deliveries (${messages.byKill} by a kill during the lease, ${messages.byExpiry} by a lease that ran out, ` +
            `${messages.unexplained.length} unexplained, ${messages.afterSettle.length} after an ack); ` +
            `${ledger.added.size} job adds answered 202, ${lostJobs.length} not completed, ` +
            `${jobs.duplicates} duplicate claims (${jobs.byKill} by a kill during the lease, ${jobs.byExpiry} by a lease that ran out, ` +
            `${jobs.unexplained.length} unexplained, ${jobs.afterSettle.length} after a completion)`,
        );
        assert.ok(
          killTimes.length >= Math.min(kills, minimumKills),
          `only ${killTimes.length} kills in the time given`,
        );
        assert.ok(
          ledger.sent.size >= killTimes.length && ledger.added.size >= killTimes.length / 2,
          'the workload ran',
        );
        assert.deepEqual(lostSends, [], 'sends answered 201 that were never received');
        assert.deepEqual(lostJobs, [], 'jobs answered 202 that did not end completed');
        assert.deepEqual(
          messages.afterSettle,
          [],
          'messages delivered again after their ack was answered 204',
        );
        assert.deepEqual(jobs.afterSettle, [], 'jobs claimed again after their completion was answered 200');
        assert.deepEqual(messages.unexplained, [], 'duplicate deliveries with no kill during the lease');
        assert.deepEqual(jobs.unexplained, [], 'duplicate claims with no kill during the lease');
      } finally {
        for (const c of clients) c.child.kill('SIGKILL');
        server.process.kill('SIGKILL');
        await server.exited;
        cleanup();
      }
    },
  );
});
