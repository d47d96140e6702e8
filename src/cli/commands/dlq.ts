/** `spool dlq list|redrive|purge <queue>`: a queue's dead-letter queue. */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { type SpoolBackend, withBackend } from './support/backend.js';
import { type ClientFlags, usageError, withClientOptions } from './support/client-options.js';
import { wholeNumber } from './support/input.js';
import { note, out, preview, printJson, table } from './support/output.js';

interface ListFlags extends ClientFlags {
  limit: number;
  cursor?: string;
}

interface PurgeFlags extends ClientFlags {
  yes?: boolean;
}

/** Adds `spool dlq list|redrive|purge` to the program. */
export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description("inspect, redrive and purge a queue's dead letters");

  withClientOptions(
    dlq
      .command('list')
      .description('list dead letters, oldest first, with why each failed')
      .argument('<queue>', 'the queue')
      .option('--limit <n>', 'at most this many', wholeNumber(1, 1000), 100)
      .option('--cursor <cursor>', 'continue a previous listing (its "next")'),
  ).action((queue: string, flags: ListFlags) =>
    withBackend(flags, async (spool) => {
      const page = await spool.queues.deadLetters(queue, {
        limit: flags.limit,
        ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
      });
      if (flags.json) {
        printJson(page);
        return;
      }
      if (page.items.length === 0) note(`no dead letters in ${queue}`);
      else {
        out(
          table(
            ['id', 'attempts', 'dead-lettered', 'last error', 'body'],
            page.items.map((item) => {
              const last = item.errors.at(-1);
              return [
                item.id,
                item.attempts,
                item.deadLetteredAt,
                last ? `${last.name}: ${last.message}` : '-',
                preview(item),
              ];
            }),
            50,
          ),
        );
      }
      if (page.next !== null) note(`more: --cursor ${page.next}`);
    }),
  );

  withClientOptions(
    dlq
      .command('redrive')
      .description('move dead letters back to the queue (all, or the given ids), attempts reset')
      .argument('<queue>', 'the queue')
      .argument('[ids...]', 'only these dead letters'),
  ).action((queue: string, ids: string[], flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const redriven = await spool.queues.redrive(queue, ids.length > 0 ? ids : undefined);
      if (flags.json) printJson({ queue, redriven });
      else out(`redrove ${redriven} dead letter${redriven === 1 ? '' : 's'} to ${queue}`);
    }),
  );

  withClientOptions(
    dlq
      .command('purge')
      .description('delete dead letters for good (all, or the given ids); asks first unless --yes')
      .argument('<queue>', 'the queue')
      .argument('[ids...]', 'only these dead letters')
      .option('-y, --yes', 'do not ask for confirmation'),
  )
    .addHelpText(
      'after',
      `
Without --yes the command asks on the terminal (answering no exits 1); when stdin is not a
terminal it refuses with exit code 2.`,
    )
    .action(async (queue: string, ids: string[], flags: PurgeFlags) => {
      // Refuse before opening anything.
      const what =
        ids.length > 0 ? `${ids.length} dead letter${ids.length === 1 ? '' : 's'}` : 'every dead letter';
      if (!flags.yes && !process.stdin.isTTY)
        throw usageError(`refusing to purge ${what} of ${queue} without --yes (stdin is not a terminal)`);
      await withBackend(flags, async (spool) => {
        if (!flags.yes) {
          const count = ids.length > 0 ? ids.length : await countDeadLetters(spool, queue);
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(
            `Delete ${ids.length > 0 ? what : `all ${count}${count >= 1000 ? '+' : ''} dead letters`} of ${queue} for good? [y/N] `,
          );
          rl.close();
          if (!/^y(es)?$/i.test(answer.trim())) {
            note('nothing purged');
            process.exitCode = 1;
            return;
          }
        }
        const purged = await spool.queues.purgeDeadLetters(queue, ids.length > 0 ? ids : undefined);
        if (flags.json) printJson({ queue, purged });
        else out(`purged ${purged} dead letter${purged === 1 ? '' : 's'} of ${queue}`);
      });
    });
}

async function countDeadLetters(spool: SpoolBackend, queue: string): Promise<number> {
  return (await spool.queues.get(queue)).stats.deadLettered;
}
