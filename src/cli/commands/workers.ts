/**
 * `spool workers list|remove`: the workers registry — every queue consumer, subscription, job
 * worker and group member of every process sharing the store — over HTTP or on a data directory.
 *
 * `list` shows each worker's host, pid, kind, what it serves, concurrency, in-flight and processed
 * counts and when it was last seen, with stale ones (unseen for three heartbeat intervals: the
 * process died or lost the store) flagged. `remove` deletes a record, typically a stale one; it
 * only removes the registry's record (a live worker reappears at its next heartbeat), so it does
 * not ask for confirmation.
 */
import type { Command } from 'commander';
import type { WorkerRecord } from '../../client/index.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { duration, note, out, printJson, table } from './support/output.js';

/** What a worker serves, in one short cell: `emails`, `orders/billing`, `jobs: a, b`. */
export function servesText(serves: WorkerRecord['serves']): string {
  if (serves.jobTypes) return `jobs: ${serves.jobTypes.join(', ')}`;
  if (serves.topic !== undefined)
    return serves.group !== undefined ? `${serves.topic}/${serves.group}` : serves.topic;
  return serves.queue ?? '-';
}

/** Adds `spool workers list|remove` to the program. */
export function registerWorkers(program: Command): void {
  const workers = program
    .command('workers')
    .description('list the registered workers of every process, and remove stale ones');

  withClientOptions(
    workers
      .command('list')
      .description('every consumer, subscription, job worker and group member, stale ones flagged'),
  ).action((flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const items = await spool.workers.list();
      if (flags.json) {
        printJson({ items });
        return;
      }
      if (items.length === 0) {
        note('no workers registered');
        return;
      }
      const now = Date.now();
      out(
        table(
          ['id', 'kind', 'host', 'pid', 'serves', 'concurrency', 'in flight', 'processed', 'last seen'],
          items.map((worker) => [
            worker.id,
            worker.kind,
            worker.host,
            worker.pid,
            servesText(worker.serves),
            worker.concurrency,
            worker.inFlight,
            worker.processed,
            `${duration(Math.max(0, now - Date.parse(worker.lastSeenAt)))} ago${worker.stale ? ' (STALE)' : ''}`,
          ]),
        ),
      );
      const stale = items.filter((worker) => worker.stale).length;
      if (stale > 0) note(`${stale} stale: remove with \`spool workers remove <id>\``);
    }),
  );

  withClientOptions(
    workers
      .command('remove')
      .description("remove a worker's record (a stale one; a live worker reappears at its next heartbeat)")
      .argument('<id>', 'the worker id (see `spool workers list`)'),
  ).action((id: string, flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      await spool.workers.remove(id);
      if (flags.json) printJson({ removed: id });
      else out(`removed worker ${id}`);
    }),
  );
}
