/**
 * `spool jobs add|get|list|cancel|retry|delete`: jobs over HTTP, or on a data directory (`--data`).
 * `cancel`, `retry` and `delete` take ids, or a filter whose matches are counted and confirmed first.
 */
import { type Command, Option } from 'commander';
import type { AddJobOptions, Job } from '../../client/index.js';
import { exitCodes } from '../../core/errors.js';
import { type JobBackend, withBackend } from './support/backend.js';
import { type ClientFlags, usageError, withClientOptions } from './support/client-options.js';
import { bulkStatuses } from '../../jobs/bulk-actions.js';
import { confirm, type ConfirmFlags, plural, yesHelp } from './support/confirm.js';
import { exitCodeOfCodes } from './support/exit-codes.js';
import { bodyFromArgOrStdin, parseJson, wholeNumber } from './support/input.js';
import { fields, note, out, printJson, table, text } from './support/output.js';
import { registerPauseCommands } from './support/pause-commands.js';

const statuses = ['waiting', 'scheduled', 'queued', 'active', 'retrying', 'completed', 'dead', 'cancelled'];

interface AddFlags extends ClientFlags {
  key?: string;
  group?: string;
  priority?: number;
  delayMs?: number;
  runAt?: string;
  maxAttempts?: number;
  metadata?: string;
  callbackUrl?: string;
  idempotencyKey?: string;
  singleton?: boolean;
  uniqueMs?: number;
  uniqueBy?: 'key' | 'payload';
  debounceMs?: number;
  debounceMaxMs?: number;
  debounceLeading?: boolean;
  throttleMs?: number;
  wait?: boolean;
  timeoutMs: number;
}

interface RateLimitFlags extends ClientFlags {
  key?: string;
  limit?: number;
  intervalMs?: number;
  perKey?: boolean;
}

interface ListFlags extends ClientFlags {
  type?: string;
  status?: Job['status'];
  key?: string;
  limit: number;
  cursor?: string;
}

/** Adds `spool jobs add|get|list|pause|resume|rate-limit|cancel|retry|delete` to the program. */
export function registerJobs(program: Command): void {
  const jobs = program
    .command('jobs')
    .description(
      "add, inspect, list, cancel, retry and delete jobs; pause and resume job types, read a type's rate limit budget",
    );

  withClientOptions(
    jobs
      .command('add')
      .description('add a job (answered at once with its id); --wait waits for the outcome')
      .argument('<type>', 'the job type')
      .argument('[payload]', 'the payload as JSON (default: stdin when it is not a terminal, else null)')
      .option('--key <key>', 'grouping key (search, per-key rate limits)')
      .option(
        '--group <group>',
        'fairness group (a tenant): jobs of the type start round-robin across groups',
      )
      .option('--priority <n>', 'higher runs first', wholeNumber(-(2 ** 31 - 1)))
      .option('--delay-ms <ms>', 'run no earlier than this many ms from now', wholeNumber())
      .option('--run-at <time>', 'run no earlier than this ISO 8601 time')
      .option('--max-attempts <n>', 'attempts before the job is dead', wholeNumber(1, 1000))
      .option('--metadata <json>', 'your own data (a JSON object), returned with the job')
      .option('--callback-url <url>', 'receives a signed webhook when the job finishes')
      .option('--idempotency-key <key>', 'a repeat with the same key and payload answers the first job')
      .option('--singleton', 'while a job of this type and --key is not finished, answer it instead')
      .option(
        '--unique-ms <ms>',
        'answer the job of an add with the same --key within this window',
        wholeNumber(1),
      )
      .addOption(
        new Option('--unique-by <what>', 'with --unique-ms: the same key, or the same payload')
          .choices(['key', 'payload'])
          .default('key'),
      )
      .option(
        '--debounce-ms <ms>',
        'fold a burst of adds with this --key: run once it is quiet this long',
        wholeNumber(1),
      )
      .option(
        '--debounce-max-ms <ms>',
        'with --debounce-ms: the longest a burst can put the job off',
        wholeNumber(1),
      )
      .option(
        '--debounce-leading',
        'with --debounce-ms: run the first add at once and drop the rest of the burst',
      )
      .option(
        '--throttle-ms <ms>',
        'at most one start per --key in this interval; the rest fold into one',
        wholeNumber(1),
      )
      .option('--wait', 'wait until the job is completed, dead or cancelled; exit 1 unless completed')
      .option(
        '--timeout-ms <ms>',
        `with --wait: give up after this long (exit ${exitCodes.unavailable}; the job goes on)`,
        wholeNumber(1),
        60_000,
      ),
  ).action((type: string, payload: string | undefined, flags: AddFlags) =>
    withBackend(flags, async (spool) => {
      const value = await bodyFromArgOrStdin(payload, 'payload', { value: null });
      const options: AddJobOptions = {
        ...(flags.key === undefined ? {} : { key: flags.key }),
        ...(flags.group === undefined ? {} : { group: flags.group }),
        ...(flags.priority === undefined ? {} : { priority: flags.priority }),
        ...(flags.delayMs === undefined ? {} : { delayMs: flags.delayMs }),
        ...(flags.runAt === undefined ? {} : { runAt: isoTime(flags.runAt) }),
        ...(flags.maxAttempts === undefined ? {} : { maxAttempts: flags.maxAttempts }),
        ...(flags.metadata === undefined ? {} : { metadata: metadataObject(flags.metadata) }),
        ...(flags.callbackUrl === undefined ? {} : { callbackUrl: flags.callbackUrl }),
        ...(flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey }),
        ...addControl(flags),
      };
      const accepted = await spool.jobs.add(type, value, options);
      // The outcome only when the add did not simply create a job, so `<id> <status>` stays parseable.
      const outcome = accepted.outcome === 'created' ? '' : ` ${accepted.outcome}`;
      if (!flags.wait) {
        if (flags.json) printJson(accepted);
        else out(`${accepted.id} ${accepted.status}${outcome}`);
        return;
      }
      if (!flags.json) note(`job ${accepted.id} ${accepted.status}; waiting…`);
      const job = await whileHinting(spool.jobs, accepted.id, type, flags.timeoutMs, () =>
        spool.jobs.wait(accepted.id, { timeoutMs: flags.timeoutMs }),
      );
      if (flags.json) printJson(job);
      else printJob(job);
      if (job.status !== 'completed') {
        note(
          `spool: job ${job.id} is ${job.status}${job.error ? `: ${job.error.name}: ${job.error.message}` : ''}`,
        );
        process.exitCode = 1;
      }
    }),
  );

  withClientOptions(
    jobs
      .command('get')
      .description('show a job: status, attempts, progress, result or error')
      .argument('<id>', 'the job id'),
  ).action((id: string, flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const job = await spool.jobs.get(id);
      if (flags.json) printJson(job);
      else printJob(job);
    }),
  );

  withClientOptions(
    jobs
      .command('list')
      .description('search jobs, newest first')
      .option('--type <type>', 'only jobs of this type')
      .addOption(new Option('--status <status>', 'only jobs in this status').choices(statuses))
      .option('--key <key>', 'only jobs with this key')
      .option('--limit <n>', 'at most this many', wholeNumber(1, 1000), 20)
      .option('--cursor <cursor>', 'continue a previous listing (its "next")'),
  ).action((flags: ListFlags) =>
    withBackend(flags, async (spool) => {
      const page = await spool.jobs.list({
        limit: flags.limit,
        ...(flags.type === undefined ? {} : { type: flags.type }),
        ...(flags.status === undefined ? {} : { status: flags.status }),
        ...(flags.key === undefined ? {} : { key: flags.key }),
        ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
      });
      if (flags.json) {
        printJson(page);
        return;
      }
      if (page.items.length === 0) note('no jobs');
      else {
        out(
          table(
            ['id', 'type', 'status', 'attempts', 'progress', 'key', 'created'],
            page.items.map((job) => [
              job.id,
              job.type,
              job.status,
              `${job.attempts}/${job.maxAttempts}`,
              `${job.progress}%`,
              job.key,
              job.createdAt,
            ]),
          ),
        );
      }
      if (page.next !== null) note(`more: --cursor ${page.next}`);
    }),
  );

  registerPauseCommands(jobs, {
    argument: ['<type>', 'the job type'],
    descriptions: {
      pause: 'pause a job type: adds still land, no worker of any process gets its jobs until resumed',
      resume: 'resume a paused job type',
    },
    run: (spool, type, paused) => spool.jobs.pauseType(type, paused),
    line: (state, type) => (state.paused ? `paused job type ${type}` : `resumed job type ${type}`),
  });

  withClientOptions(
    jobs
      .command('rate-limit')
      .description(
        "the budget of a job type's globalRateLimit: how many may start now in every process, and when more may",
      )
      .argument('<type>', 'the job type')
      .option('--key <key>', 'a job key: its own budget, for a perKey limit')
      .option('--limit <n>', 'with --data: the starts per interval of the type (not stored)', wholeNumber(1))
      .option('--interval-ms <ms>', 'with --data: the interval of the type (not stored)', wholeNumber(1))
      .option('--per-key', 'with --data: the limit is perKey'),
  ).action((type: string, flags: RateLimitFlags) =>
    withBackend(flags, async (spool) => {
      const given = flags.limit !== undefined || flags.intervalMs !== undefined || flags.perKey === true;
      if (flags.data === undefined && given) {
        throw usageError(
          '--limit, --interval-ms and --per-key are for --data: a server answers with its own limit',
        );
      }
      if (flags.data !== undefined && (flags.limit === undefined || flags.intervalMs === undefined)) {
        throw usageError(
          "--data: give the type's globalRateLimit as --limit <n> --interval-ms <ms> [--per-key] (the data directory does not store it)",
        );
      }
      const budget = await spool.jobs.rateBudget(type, {
        ...(flags.key === undefined ? {} : { key: flags.key }),
        ...(flags.limit === undefined || flags.intervalMs === undefined
          ? {}
          : {
              globalRateLimit: {
                limit: flags.limit,
                intervalMs: flags.intervalMs,
                perKey: flags.perKey === true,
              },
            }),
      });
      if (flags.json) return printJson(budget);
      out(
        fields([
          ['type', budget.type],
          ['key', budget.perKey ? (budget.key ?? '(jobs without a key)') : '(one bucket for all keys)'],
          ['limit', `${budget.limit} per ${budget.intervalMs} ms`],
          ['remaining', budget.remaining],
          ['next start in', `${budget.nextTokenMs} ms`],
          ['full in', `${budget.resetMs} ms`],
        ]),
      );
    }),
  );

  registerBulk(jobs, {
    verb: 'cancel',
    done: 'cancelled',
    description:
      'cancel jobs by id, or every job matching a filter: a waiting one never runs, a running one is told to stop',
    statuses: cancellableStatuses,
    act: (backend, id) => backend.cancel(id),
    example: 'spool jobs cancel --type email --yes',
  });
  registerBulk(jobs, {
    verb: 'retry',
    done: 'retried',
    description:
      'run dead or cancelled jobs again from their first attempt: by id, or every job matching a filter',
    statuses: retryableStatuses,
    act: (backend, id) => backend.retry(id),
    example: 'spool jobs retry --type email --status dead --yes',
  });
  registerBulk(jobs, {
    verb: 'delete',
    done: 'deleted',
    description:
      'delete the records of finished jobs (completed, dead, cancelled): by id, or every job matching a filter',
    statuses: deletableStatuses,
    act: async (backend, id) => {
      await backend.delete(id);
      return { id, status: 'deleted' };
    },
    example: 'spool jobs delete --type import --status completed --yes',
  });
}

/** What a job in these statuses can be cancelled or retried from (the jobs layer's rule). */
const cancellableStatuses = bulkStatuses('cancel');
const retryableStatuses = bulkStatuses('retry');
const deletableStatuses = bulkStatuses('delete');

interface BulkFlags extends ClientFlags, ConfirmFlags {
  type?: string;
  status?: Job['status'];
  key?: string;
}

interface BulkAction {
  verb: 'cancel' | 'retry' | 'delete';
  done: string;
  description: string;
  /** The statuses the action applies to: the --status choices, all of them when it is not given. */
  statuses: readonly Job['status'][];
  /** Acts on one job by id: the job as it is now (for a delete, its id and `deleted`). */
  act: (jobs: JobBackend, id: string) => Promise<Job | { id: string; status: 'deleted' }>;
  example: string;
}

/**
 * `spool jobs cancel|retry|delete [ids...]`: by id, or by filter (`--type`, `--status`, `--key`) over the
 * jobs in the statuses the action applies to, after counting them and asking (`--yes` skips the
 * question and is required without a terminal). A job that left those statuses in the meantime
 * (finished, or already retried) is skipped, not a failure.
 */
function registerBulk(jobs: Command, action: BulkAction): void {
  const { verb, done, statuses } = action;
  withClientOptions(
    jobs
      .command(verb)
      .description(action.description)
      .argument('[ids...]', 'job ids (or give a filter instead)')
      .option('--type <type>', 'every job of this type')
      .addOption(
        new Option('--status <status>', `every job in this status (default: ${statuses.join(', ')})`).choices(
          statuses,
        ),
      )
      .option('--key <key>', 'every job with this key')
      .option('-y, --yes', yesHelp),
  )
    .addHelpText(
      'after',
      `
By id: spool jobs ${verb} <id> [<id>…] acts at once (--json: the job, or an array for several ids).
By filter: the matching jobs are counted and you are asked to confirm; --yes skips the question
(and is required when stdin is not a terminal). Filters combine: --type email --status dead.
Example: ${action.example}`,
    )
    .action((ids: string[], flags: BulkFlags) =>
      withBackend(flags, async (spool) => {
        const filtered = flags.type !== undefined || flags.status !== undefined || flags.key !== undefined;
        if (ids.length > 0 && filtered)
          throw usageError('give job ids or a filter (--type, --status, --key), not both');
        if (ids.length > 0) {
          const results: (Job | { id: string; status: 'deleted' })[] = [];
          for (const id of ids) {
            const job = await action.act(spool.jobs, id);
            results.push(job);
            if (!flags.json) out(`${job.id} ${job.status}`);
          }
          if (flags.json) printJson(results.length === 1 ? results[0] : results);
          return;
        }
        if (!filtered)
          throw usageError(
            `give job ids, or a filter: --type, --status or --key (e.g. spool jobs ${verb} --type email --status ${statuses[0]})`,
          );
        const filter = {
          ...(flags.type === undefined ? {} : { type: flags.type }),
          ...(flags.status === undefined ? {} : { status: flags.status }),
          ...(flags.key === undefined ? {} : { key: flags.key }),
        };
        const described = [
          flags.type === undefined ? [] : [`type ${flags.type}`],
          [`status ${flags.status ?? statuses.join('/')}`],
          flags.key === undefined ? [] : [`key ${flags.key}`],
        ]
          .flat()
          .join(', ');
        // Counted first (a dry run of the same bulk operation), so the question names the number.
        const counted = await spool.jobs.bulk(verb, filter, { dryRun: true });
        if (counted.matched === 0) {
          if (flags.json) printJson({ matched: 0, [done]: 0, skipped: [], failed: [] });
          else note(`no jobs match (${described}): nothing to ${verb}`);
          return;
        }
        const count = `${counted.more ? 'more than ' : ''}${plural(counted.matched, 'job')}`;
        const question = `${count} match (${described}). ${capitalised(verb)} ${counted.matched === 1 ? 'it' : 'them'}?`;
        if (!(await confirm(question, flags))) return;
        const result = await spool.jobs.bulk(verb, filter, {});
        const { skipped, failed } = result;
        if (flags.json) printJson({ matched: result.matched, [done]: result.changed, skipped, failed });
        else {
          for (const failure of failed.slice(0, 10)) note(`spool: job ${failure.id}: ${failure.message}`);
          if (failed.length > 10) note(`spool: … and ${failed.length - 10} more failures`);
          out(
            `${done} ${result.changed} of ${plural(result.matched, 'job')}` +
              (skipped.length === 0 ? '' : `; ${skipped.length} skipped (no longer ${statuses.join('/')})`) +
              (failed.length === 0 ? '' : `; ${failed.length} failed`) +
              (result.more ? '; more match: run it again for the rest' : ''),
          );
        }
        if (failed.length > 0) process.exitCode = exitCodeOfCodes(failed.map((failure) => failure.code));
      }),
    );
}

function capitalised(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** The add control the flags ask for; the engine refuses more than one, or one without a key. */
function addControl(flags: AddFlags): Pick<AddJobOptions, 'singleton' | 'unique' | 'debounce' | 'throttle'> {
  return {
    ...(flags.singleton ? { singleton: true } : {}),
    ...(flags.uniqueMs === undefined
      ? {}
      : { unique: { windowMs: flags.uniqueMs, by: flags.uniqueBy ?? 'key' } }),
    ...(flags.debounceMs === undefined
      ? {}
      : {
          debounce: {
            delayMs: flags.debounceMs,
            ...(flags.debounceMaxMs === undefined ? {} : { maxWaitMs: flags.debounceMaxMs }),
            mode: flags.debounceLeading ? ('leading' as const) : ('trailing' as const),
          },
        }),
    ...(flags.throttleMs === undefined ? {} : { throttle: { intervalMs: flags.throttleMs } }),
  };
}

/** How long `jobs add --wait` lets a job sit unclaimed before saying so. */
const unclaimedHintMs = 3000;

/**
 * Runs `wait`, and says on stderr when the job is still queued, never claimed, after
 * {@link unclaimedHintMs} (checked again every as long, until it says it once): the usual cause
 * is that no worker handles the type, and the wait would otherwise end silently at its timeout.
 */
async function whileHinting<T>(
  backend: JobBackend,
  id: string,
  type: string,
  timeoutMs: number,
  wait: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    backend
      .get(id)
      .then((job) => {
        if (job.status !== 'queued' || job.attempts > 0) return;
        clearInterval(timer);
        const waited = Math.round((Date.now() - started) / 1000);
        const left = Math.max(0, Math.round((timeoutMs - (Date.now() - started)) / 1000));
        note(
          `spool: no worker has claimed job ${id} after ${waited}s: is a worker running for type "${type}"? ` +
            `(still waiting, ${left}s left of --timeout-ms)`,
        );
      })
      .catch(() => undefined)
      .finally(() => (checking = false));
  }, unclaimedHintMs);
  try {
    return await wait();
  } finally {
    clearInterval(timer);
  }
}

function printJob(job: Job): void {
  out(
    fields([
      ['id', job.id],
      ['type', job.type],
      ['status', job.status],
      ['attempts', `${job.attempts}/${job.maxAttempts}`],
      ['progress', `${job.progress}%${job.progressData === null ? '' : ` ${text(job.progressData)}`}`],
      ['key', job.key],
      ['payload', JSON.stringify(job.payload)],
      ['created', job.createdAt],
      ['run at', job.runAt],
      ['started', job.startedAt],
      ['finished', job.finishedAt],
      ...(job.status === 'completed' ? [['result', JSON.stringify(job.result)] as const] : []),
      ...(job.error ? [['error', `${job.error.name}: ${job.error.message}`] as const] : []),
    ]),
  );
}

function isoTime(value: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw usageError(`--run-at: "${value}" is not a date and time (ISO 8601)`);
  return new Date(time).toISOString();
}

function metadataObject(value: string): Record<string, unknown> {
  const parsed = parseJson(value, '--metadata');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw usageError('--metadata must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}
