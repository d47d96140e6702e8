/** `spool jobs add|get|list|cancel|retry`: jobs over HTTP, or on a data directory (`--data`). */
import { type Command, Option } from 'commander';
import type { AddJobOptions, Job } from '../../client/index.js';
import { type JobBackend, withBackend } from './support/backend.js';
import { type ClientFlags, usageError, withClientOptions } from './support/client-options.js';
import { bodyFromArgOrStdin, parseJson, wholeNumber } from './support/input.js';
import { fields, note, out, printJson, table, text } from './support/output.js';

const statuses = ['waiting', 'scheduled', 'queued', 'active', 'retrying', 'completed', 'dead', 'cancelled'];

interface AddFlags extends ClientFlags {
  key?: string;
  priority?: number;
  delayMs?: number;
  runAt?: string;
  maxAttempts?: number;
  metadata?: string;
  callbackUrl?: string;
  idempotencyKey?: string;
  wait?: boolean;
  timeoutMs: number;
}

interface ListFlags extends ClientFlags {
  type?: string;
  status?: Job['status'];
  key?: string;
  limit: number;
  cursor?: string;
}

/** Adds `spool jobs add|get|list|cancel|retry` to the program. */
export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('add, inspect, list, cancel and retry jobs');

  withClientOptions(
    jobs
      .command('add')
      .description('add a job (answered at once with its id); --wait waits for the outcome')
      .argument('<type>', 'the job type')
      .argument('[payload]', 'the payload as JSON (default: stdin when it is not a terminal, else null)')
      .option('--key <key>', 'grouping key (search, per-key rate limits)')
      .option('--priority <n>', 'higher runs first', wholeNumber(-(2 ** 31 - 1)))
      .option('--delay-ms <ms>', 'run no earlier than this many ms from now', wholeNumber())
      .option('--run-at <time>', 'run no earlier than this ISO 8601 time')
      .option('--max-attempts <n>', 'attempts before the job is dead', wholeNumber(1, 1000))
      .option('--metadata <json>', 'your own data (a JSON object), returned with the job')
      .option('--callback-url <url>', 'receives a signed webhook when the job finishes')
      .option('--idempotency-key <key>', 'a repeat with the same key and payload answers the first job')
      .option('--wait', 'wait until the job is completed, dead or cancelled; exit 1 unless completed')
      .option('--timeout-ms <ms>', 'with --wait: give up after this long (exit 1)', wholeNumber(1), 60_000),
  ).action((type: string, payload: string | undefined, flags: AddFlags) =>
    withBackend(flags, async (spool) => {
      const value = await bodyFromArgOrStdin(payload, 'payload', { value: null });
      const options: AddJobOptions = {
        ...(flags.key === undefined ? {} : { key: flags.key }),
        ...(flags.priority === undefined ? {} : { priority: flags.priority }),
        ...(flags.delayMs === undefined ? {} : { delayMs: flags.delayMs }),
        ...(flags.runAt === undefined ? {} : { runAt: isoTime(flags.runAt) }),
        ...(flags.maxAttempts === undefined ? {} : { maxAttempts: flags.maxAttempts }),
        ...(flags.metadata === undefined ? {} : { metadata: metadataObject(flags.metadata) }),
        ...(flags.callbackUrl === undefined ? {} : { callbackUrl: flags.callbackUrl }),
        ...(flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey }),
      };
      const accepted = await spool.jobs.add(type, value, options);
      if (!flags.wait) {
        if (flags.json) printJson(accepted);
        else out(`${accepted.id} ${accepted.status}`);
        return;
      }
      if (!flags.json) note(`job ${accepted.id} ${accepted.status}; waiting…`);
      const job = await spool.jobs.wait(accepted.id, { timeoutMs: flags.timeoutMs });
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

  for (const [verb, description, act] of [
    [
      'cancel',
      'cancel a job: a waiting one never runs, a running one is told to stop',
      (jobs: JobBackend, id: string) => jobs.cancel(id),
    ],
    [
      'retry',
      'run a dead or cancelled job again from its first attempt',
      (jobs: JobBackend, id: string) => jobs.retry(id),
    ],
  ] as const) {
    withClientOptions(jobs.command(verb).description(description).argument('<id>', 'the job id')).action(
      (id: string, flags: ClientFlags) =>
        withBackend(flags, async (spool) => {
          const job = await act(spool.jobs, id);
          if (flags.json) printJson(job);
          else out(`${job.id} ${job.status}`);
        }),
    );
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
