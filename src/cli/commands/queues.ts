/**
 * `spool queues list|create|delete`: queue administration over HTTP (admin scope for create and
 * delete), or on a data directory (`--data`).
 *
 * `create` creates a queue with the options given and the defaults for the rest. A queue that
 * already exists is left as it is (`SPOOL_ALREADY_EXISTS`, exit 4) unless `--update` is given:
 * then the options given replace those settings and the others keep their current values. `delete` asks first (see
 * `support/confirm.ts`). `list` hides Spool's own queues (`spool.*`, `jobs.*`) unless `--all`.
 */
import { type Command, Option } from 'commander';
import type { QueueConfig, QueueOptions, QueueWithStats } from '../../client/index.js';
import { errorCatalogue, SpoolError } from '../../core/errors.js';
import { isInternalName } from '../../server/handles.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { confirm, type ConfirmFlags, plural, yesHelp } from './support/confirm.js';
import { orNull, wholeNumber, wholeNumberOrNone } from './support/input.js';
import { duration, fields, note, out, printJson, table } from './support/output.js';
import { registerPauseCommands } from './support/pause-commands.js';

interface ListFlags extends ClientFlags {
  all?: boolean;
}

interface CreateFlags extends ClientFlags {
  visibilityTimeoutMs?: number;
  maxAttempts?: number;
  maxDepth?: number | 'none';
  dedupWindowMs?: number;
  messageTtlMs?: number | 'none';
  globalConcurrency?: number | 'none';
  backoffBaseMs?: number;
  backoffCapMs?: number;
  backoffJitter?: 'full' | 'equal' | 'none';
  update?: boolean;
}

/** Adds `spool queues list|create|delete` to the program. */
export function registerQueues(program: Command): void {
  const queues = program.command('queues').description('list, create, pause, resume and delete queues');

  withClientOptions(
    queues
      .command('list')
      .description('queues with their depths and main settings')
      .option('--all', "also Spool's own queues (spool.*, jobs.*: job types, webhooks)"),
  ).action((flags: ListFlags) =>
    withBackend(flags, async (spool) => {
      const all = await spool.queues.list();
      const shown = flags.all ? all : all.filter((queue) => !isInternalName(queue.name));
      if (flags.json) {
        printJson({ items: shown });
        return;
      }
      if (shown.length === 0) note('no queues');
      else
        out(
          table(
            ['queue', 'ready', 'delayed', 'in flight', 'dead', 'max attempts', 'visibility', 'max depth'],
            shown.map((queue) => [
              queue.stats.paused ? `${queue.name} (PAUSED)` : queue.name,
              queue.stats.ready,
              queue.stats.delayed,
              queue.stats.inFlight,
              queue.stats.deadLettered,
              queue.maxAttempts,
              duration(queue.visibilityTimeoutMs),
              queue.maxDepth ?? '-',
            ]),
          ),
        );
      hiddenNote(all.length - shown.length, flags, 'queue');
    }),
  );

  withClientOptions(
    queues
      .command('create')
      .description('create a queue (settings not given take their defaults)')
      .argument('<queue>', 'the queue name')
      .option(
        '--visibility-timeout-ms <ms>',
        'lease: how long a received message stays hidden unless acked or extended (default 30000)',
        wholeNumber(1),
      )
      .option(
        '--max-attempts <n>',
        'deliveries before a message is dead-lettered; 1 = no retries (default 5)',
        wholeNumber(1, 1_000_000),
      )
      .option(
        '--max-depth <n>',
        'messages the queue may hold; sends beyond answer QUEUE_FULL; none = unbounded (default none)',
        wholeNumberOrNone(1),
      )
      .option(
        '--dedup-window-ms <ms>',
        'how long a --dedup-id is remembered (default 300000)',
        wholeNumber(0),
      )
      .option(
        '--message-ttl-ms <ms>',
        "messages expire this long after their send (a send's --ttl-ms wins) and go to the dead letters undelivered; none = never (default none)",
        wholeNumberOrNone(1),
      )
      .option(
        '--global-concurrency <n>',
        'the most messages leased at once by every consumer in every process together; none = no bound (default none)',
        wholeNumberOrNone(1),
      )
      .option('--backoff-base-ms <ms>', 'retry delay after the first failure (default 1000)', wholeNumber(0))
      .option('--backoff-cap-ms <ms>', 'longest retry delay (default 300000)', wholeNumber(0))
      .addOption(
        new Option('--backoff-jitter <kind>', 'randomises retry delays (default full)').choices([
          'full',
          'equal',
          'none',
        ]),
      )
      .option(
        '--update',
        'if the queue exists, change the settings given (the others keep their values) instead of failing',
      ),
  ).action((queue: string, flags: CreateFlags) =>
    withBackend(flags, async (spool) => {
      const options = queueOptions(flags);
      const existing = await spool.queues.find(queue);
      if (existing && !flags.update) {
        throw new SpoolError(
          errorCatalogue.ALREADY_EXISTS,
          `queue "${queue}" already exists (${settings(existing)}); change its settings with --update`,
        );
      }
      const config = await spool.queues.put(queue, existing ? merged(existing, options) : options);
      if (flags.json) printJson(config);
      else {
        out(`${existing ? 'updated' : 'created'} queue ${queue}`);
        out(
          fields([
            ['visibility timeout', `${config.visibilityTimeoutMs} ms`],
            ['max attempts', config.maxAttempts],
            ['backoff', config.backoff],
            ['max depth', config.maxDepth ?? 'unbounded'],
            ['dedup window', `${config.dedupWindowMs} ms`],
            ['message ttl', config.messageTtlMs == null ? 'none' : `${config.messageTtlMs} ms`],
            ['global concurrency', config.globalConcurrency ?? 'unbounded'],
          ]),
        );
      }
    }),
  );

  registerPauseCommands(queues, {
    argument: ['<queue>', 'the queue name'],
    descriptions: {
      pause: 'pause a queue: sends still land, no consumer of any process gets a message until resumed',
      resume: 'resume a paused queue: its consumers take messages again',
    },
    run: (spool, queue, paused) => spool.queues.pause(queue, paused),
    line: (answer, queue) =>
      answer.stats.paused
        ? `paused queue ${queue} (${plural(answer.stats.ready, 'message')} ready wait for a resume)`
        : `resumed queue ${queue}`,
  });

  withClientOptions(
    queues
      .command('delete')
      .description('delete a queue with its messages and dead letters')
      .argument('<queue>', 'the queue name')
      .option('-y, --yes', yesHelp),
  ).action((queue: string, flags: ClientFlags & ConfirmFlags) =>
    withBackend(flags, async (spool) => {
      const { stats } = await spool.queues.get(queue);
      const messages = stats.ready + stats.delayed + stats.inFlight;
      const question = `Delete queue "${queue}" with ${plural(messages, 'message')} and ${plural(stats.deadLettered, 'dead letter')}?`;
      if (!(await confirm(question, flags))) return;
      await spool.queues.delete(queue);
      if (flags.json) printJson({ deleted: queue });
      else out(`deleted queue ${queue}`);
    }),
  );
}

/** Notes on stderr how many of Spool's own queues, topics or groups a listing left out. */
export function hiddenNote(hidden: number, flags: { all?: boolean; json?: boolean }, thing: string): void {
  if (hidden > 0 && !flags.all && !flags.json)
    note(`(${plural(hidden, `internal ${thing}`)} of Spool not shown: --all shows them)`);
}

function queueOptions(flags: CreateFlags): QueueOptions {
  const backoff = {
    ...(flags.backoffBaseMs === undefined ? {} : { baseMs: flags.backoffBaseMs }),
    ...(flags.backoffCapMs === undefined ? {} : { capMs: flags.backoffCapMs }),
    ...(flags.backoffJitter === undefined ? {} : { jitter: flags.backoffJitter }),
  };
  return {
    ...(flags.visibilityTimeoutMs === undefined ? {} : { visibilityTimeoutMs: flags.visibilityTimeoutMs }),
    ...(flags.maxAttempts === undefined ? {} : { maxAttempts: flags.maxAttempts }),
    ...(flags.maxDepth === undefined ? {} : { maxDepth: orNull(flags.maxDepth) ?? null }),
    ...(flags.dedupWindowMs === undefined ? {} : { dedupWindowMs: flags.dedupWindowMs }),
    ...(flags.messageTtlMs === undefined ? {} : { messageTtlMs: orNull(flags.messageTtlMs) ?? null }),
    ...(flags.globalConcurrency === undefined
      ? {}
      : { globalConcurrency: orNull(flags.globalConcurrency) ?? null }),
    ...(Object.keys(backoff).length === 0 ? {} : { backoff }),
  };
}

/** The queue's current settings with `options` over them (PUT replaces the whole configuration). */
function merged(current: QueueConfig, options: QueueOptions): QueueOptions {
  return {
    visibilityTimeoutMs: options.visibilityTimeoutMs ?? current.visibilityTimeoutMs,
    maxAttempts: options.maxAttempts ?? current.maxAttempts,
    maxDepth: options.maxDepth === undefined ? current.maxDepth : options.maxDepth,
    dedupWindowMs: options.dedupWindowMs ?? current.dedupWindowMs,
    messageTtlMs: options.messageTtlMs === undefined ? (current.messageTtlMs ?? null) : options.messageTtlMs,
    globalConcurrency:
      options.globalConcurrency === undefined
        ? (current.globalConcurrency ?? null)
        : options.globalConcurrency,
    backoff: { ...current.backoff, ...options.backoff },
  };
}

function settings(queue: QueueWithStats): string {
  return `max attempts ${queue.maxAttempts}, visibility timeout ${queue.visibilityTimeoutMs} ms, max depth ${queue.maxDepth ?? 'unbounded'}`;
}
