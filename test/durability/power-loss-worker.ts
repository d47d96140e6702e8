/**
 * The child of the power-loss test: Spool on a SQLite file inside a powercutfs mount, under load
 * until the parent cuts the power. Every write whose promise resolved is reported on stdout, one
 * line each, the moment it resolves (a synchronous write to the pipe, so a line is in the pipe
 * before the next write starts):
 *
 *   S <seq>                      queue send resolved
 *   a <seq>                      about to ack a received message (the ack may land or not)
 *   A <seq>                      ack resolved
 *   P <seq> <partition> <offset> topic publish resolved
 *   C <partition> <offset>       consumer-group offset commit resolved
 *   J <seq> <job id>             job add resolved
 *   k <job id>                   about to complete a claimed job
 *   K <job id>                   job completion resolved
 *
 * Usage: power-loss-worker <db path> <full|process> <first sequence number>
 *
 * With SPOOL_POWERLOSS_BREAK_FDATASYNC=1 the store's own fdatasync of the WAL does nothing (a
 * deliberately broken durability 'full', acknowledging writes that were never synced): the test
 * uses it to show that its 'full' check catches exactly that bug.
 */
import fs, { writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { StaleReceiptError, SpoolError } from '../../src/core/errors.js';
import { Jobs } from '../../src/jobs/index.js';
import { openSpool } from '../../src/open-spool.js';

const [path, durability, firstArg] = process.argv.slice(2);
if (!path || (durability !== 'full' && durability !== 'process')) {
  throw new Error('usage: power-loss-worker <db path> <full|process> <first sequence number>');
}
let sequence = Number(firstArg ?? 0);

if (process.env.SPOOL_POWERLOSS_BREAK_FDATASYNC === '1') {
  // WalSync takes fs.fdatasync when the store opens (src/stores/sqlite/wal-sync.ts).
  const skipSync = (_fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
    setImmediate(() => callback(null));
  };
  fs.fdatasync = skipSync as unknown as typeof fs.fdatasync;
}

/** Writes one line to the pipe before returning (retrying while the pipe is full). */
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

/** Errors a loop shrugs off: a lease that ran out, a job completed by an earlier life. */
function expected(error: unknown): boolean {
  return error instanceof StaleReceiptError || error instanceof SpoolError;
}

const spool = await openSpool({ path, durability, safetyPollMs: 50 });
const queue = await spool.queue<{ seq: number }>('pl', { visibilityTimeoutMs: 1500, maxAttempts: 1_000_000 });
const topic = await spool.topic<{ seq: number }>('pl-events', { partitions: 2 });
const jobs = new Jobs(spool);
const topicName = 'pl-events';
const group = 'pl-group';
const memberId = 'pl-member';

async function sender(): Promise<never> {
  for (;;) {
    const seq = sequence++;
    await queue.send({ seq });
    report(`S ${seq}`);
  }
}

async function consumer(): Promise<never> {
  for (;;) {
    const messages = await queue.receive({ max: 8, waitMs: 200 });
    for (const message of messages) {
      report(`a ${message.body.seq}`);
      try {
        await message.ack();
        report(`A ${message.body.seq}`);
      } catch (error) {
        if (!expected(error)) throw error;
      }
    }
  }
}

async function publisher(): Promise<never> {
  for (;;) {
    const seq = sequence++;
    const result = await topic.publish({ seq }, { key: `k${seq % 7}` });
    report(`P ${seq} ${result.partition} ${result.offset}`);
  }
}

/** A consumer-group member that reads its partitions and commits what it read. */
async function committer(): Promise<never> {
  const store = spool.store;
  let membership = await store.joinGroup(topicName, group, {
    memberId,
    sessionTimeoutMs: 5000,
    startFrom: 'earliest',
  });
  for (;;) {
    membership = await store.heartbeat(topicName, group, memberId);
    const state = await store.groupState(topicName, group);
    const committed = new Map(state?.committed.map((c) => [c.partition, c.offset]));
    let progressed = false;
    for (const partition of membership.owned) {
      const from = committed.get(partition) ?? 0;
      const batch = await store.read(topicName, partition, from, 1 + Math.floor(Math.random() * 20));
      const last = batch.events.at(-1);
      if (!last) continue;
      try {
        await store.commitOffset(topicName, group, memberId, partition, last.offset + 1);
        report(`C ${partition} ${last.offset + 1}`);
        progressed = true;
      } catch (error) {
        if (!expected(error)) throw error;
      }
    }
    if (!progressed) await sleep(20);
  }
}

async function jobAdder(): Promise<never> {
  for (;;) {
    const seq = sequence++;
    const job = await jobs.add('pl-job', { seq });
    report(`J ${seq} ${job.id}`);
  }
}

async function jobWorker(): Promise<never> {
  for (;;) {
    const leased = await jobs.claim(['pl-job'], { max: 4, waitMs: 200, leaseMs: 2000 });
    for (const { job, lease } of leased) {
      report(`k ${job.id}`);
      try {
        await jobs.complete(job.id, lease, { done: true });
        report(`K ${job.id}`);
      } catch (error) {
        if (!expected(error)) throw error;
      }
    }
  }
}

report('ready');
await Promise.all([
  sender(),
  sender(),
  consumer(),
  publisher(),
  committer(),
  jobAdder(),
  jobAdder(),
  jobWorker(),
]);
