/**
 * `spool schedules list|set|run|pause|resume|delete`: cron and interval schedules over HTTP or on
 * a data directory — what an operator does with them day to day: see when each fires next, add or
 * change one, fire one now to test it, pause one during an incident, delete one.
 *
 * `set` replaces the whole schedule (as `PUT /v1/schedules/{name}`), keeping a pause; `delete`
 * asks for confirmation (`--yes`), as every delete does.
 */
import { type Command, Option } from 'commander';
import type { Schedule, ScheduleOptions } from '../../client/index.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, usageError, withClientOptions } from './support/client-options.js';
import { confirm, type ConfirmFlags, yesHelp } from './support/confirm.js';
import { parseJson, wholeNumber } from './support/input.js';
import { duration, note, out, printJson, table } from './support/output.js';
import { registerPauseCommands } from './support/pause-commands.js';

/** When a schedule fires, in one short cell: `0 3 * * * (Europe/Berlin)` or `every 5m 0s`. */
function whenText(schedule: Schedule): string {
  if (schedule.cron !== null) return `${schedule.cron} (${schedule.timezone ?? 'UTC'})`;
  return `every ${duration(schedule.everyMs ?? 0)}`;
}

function stateText(schedule: Schedule): string {
  return schedule.paused ? 'PAUSED' : 'active';
}

interface SetFlags extends ClientFlags {
  type: string;
  cron?: string;
  timezone?: string;
  everyMs?: number;
  payload?: string;
  missed?: 'skip' | 'catch-up-once';
}

/** Adds `spool schedules …` to the program. */
export function registerSchedules(program: Command): void {
  const schedules = program
    .command('schedules')
    .description('list, set, run now, pause, resume and delete cron and interval schedules');

  withClientOptions(
    schedules.command('list').description('every schedule: when it fires, its job type, next and last run'),
  ).action((flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const items = await spool.schedules.list();
      if (flags.json) {
        printJson({ items });
        return;
      }
      if (items.length === 0) {
        note('no schedules: add one with `spool schedules set <name> --type <job type> --cron "<expr>"`');
        return;
      }
      out(
        table(
          ['name', 'when', 'type', 'state', 'next run', 'last run'],
          items.map((schedule) => [
            schedule.name,
            whenText(schedule),
            schedule.type,
            stateText(schedule),
            schedule.paused ? '-' : schedule.nextRunAt,
            schedule.lastRunAt,
          ]),
        ),
      );
    }),
  );

  withClientOptions(
    schedules
      .command('set')
      .description('create or replace a schedule (a paused one stays paused)')
      .argument('<name>', 'the schedule name')
      .requiredOption('--type <type>', 'the job type each firing adds')
      .option('--cron <expression>', 'a cron expression, 5 or 6 fields (give this or --every-ms)')
      .option('--timezone <zone>', 'IANA time zone the cron expression is read in (default UTC)')
      .option('--every-ms <ms>', 'a fixed interval instead of cron', wholeNumber(1, 2 ** 53 - 1))
      .option('--payload <json>', 'the payload of each job (JSON; default {})')
      .addOption(
        new Option('--missed <policy>', 'slots missed while nothing ran: skip them, or fire one job for all')
          .choices(['skip', 'catch-up-once'])
          .default(undefined),
      ),
  )
    .addHelpText(
      'after',
      `
Examples:
  spool schedules set nightly-report --type report.build --cron "0 3 * * *" --timezone Europe/Berlin
  spool schedules set heartbeat --type ping --every-ms 60000 --payload '{"source":"cron"}'`,
    )
    .action((name: string, flags: SetFlags) =>
      withBackend(flags, async (spool) => {
        if ((flags.cron === undefined) === (flags.everyMs === undefined))
          throw usageError('give --cron "<expression>" or --every-ms <ms> (one of them)');
        if (flags.timezone !== undefined && flags.cron === undefined)
          throw usageError('--timezone applies to --cron only');
        const options: ScheduleOptions = {
          type: flags.type,
          ...(flags.cron === undefined ? {} : { cron: flags.cron }),
          ...(flags.timezone === undefined ? {} : { timezone: flags.timezone }),
          ...(flags.everyMs === undefined ? {} : { everyMs: flags.everyMs }),
          ...(flags.payload === undefined ? {} : { payload: parseJson(flags.payload, '--payload') }),
          ...(flags.missed === undefined ? {} : { missed: flags.missed }),
        };
        const saved = await spool.schedules.put(name, options);
        if (flags.json) printJson(saved);
        else
          out(
            `schedule ${saved.name}: ${whenText(saved)}, adds ${saved.type}; ` +
              (saved.paused ? 'PAUSED (resume it to fire)' : `next run ${saved.nextRunAt}`),
          );
      }),
    );

  withClientOptions(
    schedules
      .command('run')
      .description("add the schedule's job now, without moving its slots (to test it)")
      .argument('<name>', 'the schedule name'),
  ).action((name: string, flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const accepted = await spool.schedules.runNow(name);
      if (flags.json) printJson(accepted);
      else out(`${accepted.id} ${accepted.status}`);
    }),
  );

  registerPauseCommands(schedules, {
    argument: ['<name>', 'the schedule name'],
    descriptions: {
      pause: 'pause a schedule: it fires nothing until resumed, in every process',
      resume: 'resume a schedule from its next slot (slots passed while paused are skipped)',
    },
    run: (spool, name, paused) => (paused ? spool.schedules.pause(name) : spool.schedules.resume(name)),
    line: (schedule) =>
      schedule.paused
        ? `paused schedule ${schedule.name}`
        : `resumed schedule ${schedule.name}: next run ${schedule.nextRunAt}`,
  });

  withClientOptions(
    schedules
      .command('delete')
      .description('delete a schedule (jobs it already added are left alone)')
      .argument('<name>', 'the schedule name')
      .option('-y, --yes', yesHelp),
  ).action((name: string, flags: ClientFlags & ConfirmFlags) =>
    withBackend(flags, async (spool) => {
      if (!(await confirm(`Delete schedule "${name}"?`, flags))) return;
      await spool.schedules.delete(name);
      if (flags.json) printJson({ deleted: name });
      else out(`deleted schedule ${name}`);
    }),
  );
}
