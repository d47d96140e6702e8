/**
 * `spool ack <queue> <receipt…>` and `spool nack <queue> <receipt…>`: settle messages leased
 * earlier (`spool receive --json` prints their receipts). Each receipt is settled on its own; a
 * receipt whose lease was lost (`SPOOL_STALE_RECEIPT`) is reported on stderr and the command
 * exits 1, the others are settled all the same.
 */
import type { Command } from 'commander';
import type { SettleResult } from '../../client/index.js';
import { withBackend } from './support/backend.js';
import { exitCodeOfCodes } from './support/exit-codes.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { wholeNumber } from './support/input.js';
import { note, out, printJson } from './support/output.js';

interface NackFlags extends ClientFlags {
  delayMs?: number;
  error?: string;
}

/** Adds `spool ack` and `spool nack` to the program. */
export function registerSettle(program: Command): void {
  withClientOptions(
    program
      .command('ack')
      .description('acknowledge leased messages by receipt: their work is done (they are deleted)')
      .argument('<queue>', 'the queue')
      .argument('<receipts...>', 'receipts, as `spool receive --json` prints them'),
  )
    .addHelpText(
      'after',
      `
Example:
  R=$(spool receive orders --json | node -p 'JSON.parse(fs.readFileSync(0, "utf8")).messages[0].receipt')
  spool ack orders "$R"`,
    )
    .action((queue: string, receipts: string[], flags: ClientFlags) =>
      withBackend(flags, async (spool) => {
        report('acknowledged', queue, await spool.queues.ack(queue, receipts), flags.json === true);
      }),
    );

  withClientOptions(
    program
      .command('nack')
      .description(
        'report failed deliveries by receipt: delivered again (after --delay-ms), or dead-lettered after the last attempt',
      )
      .argument('<queue>', 'the queue')
      .argument('<receipts...>', 'receipts, as `spool receive --json` prints them')
      .option(
        '--delay-ms <ms>',
        'deliver again no earlier than this many ms from now (default 0)',
        wholeNumber(),
      )
      .option('--error <text>', "why it failed: recorded in the message's errors"),
  ).action((queue: string, receipts: string[], flags: NackFlags) =>
    withBackend(flags, async (spool) => {
      const results = await spool.queues.nack(queue, receipts, {
        ...(flags.delayMs === undefined ? {} : { delayMs: flags.delayMs }),
        ...(flags.error === undefined ? {} : { error: flags.error }),
      });
      report('nacked', queue, results, flags.json === true);
    }),
  );
}

/**
 * Prints what happened to each receipt. When any failed, the exit code is their codes' (4 for
 * stale receipts), or 1 when they failed for different reasons.
 */
function report(done: string, queue: string, results: readonly SettleResult[], json: boolean): void {
  const failed = results.filter((result) => !result.ok);
  if (json) printJson({ queue, results });
  else {
    for (const failure of failed)
      note(`spool: ${failure.code ?? 'ERROR'}: ${failure.detail ?? `receipt ${failure.receipt} failed`}`);
    const settled = results.length - failed.length;
    out(`${done} ${settled} of ${results.length} message${results.length === 1 ? '' : 's'} of ${queue}`);
  }
  if (failed.length > 0) process.exitCode = exitCodeOfCodes(failed.map((failure) => failure.code));
}
