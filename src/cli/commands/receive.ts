/** `spool receive <queue>`: leases messages and prints them; `--ack` acknowledges them after printing. */
import type { Command } from 'commander';
import { withBackend } from './support/backend.js';
import { exitCodeOfCodes } from './support/exit-codes.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { wholeNumber } from './support/input.js';
import { note, out, preview, printJson, table } from './support/output.js';

interface ReceiveFlags extends ClientFlags {
  max: number;
  waitMs: number;
  visibilityMs?: number;
  ack?: boolean;
}

/** Adds `spool receive` to the program. */
export function registerReceive(program: Command): void {
  withClientOptions(
    program
      .command('receive')
      .description('receive (lease) messages from a queue and print them')
      .argument('<queue>', 'the queue')
      .option('--max <n>', 'at most this many messages', wholeNumber(1, 1000), 1)
      .option(
        '--wait-ms <ms>',
        'wait up to this long for a message when none is ready (at most 20000)',
        wholeNumber(0, 20_000),
        0,
      )
      .option(
        '--visibility-ms <ms>',
        "lease length (default: the queue's visibility timeout)",
        wholeNumber(1),
      )
      .option('--ack', 'acknowledge the messages after printing them (they are done)'),
  )
    .addHelpText(
      'after',
      `
Without --ack the messages stay leased and are delivered again when their lease ends; --json
prints their receipts for a later \`spool ack <queue> <receipt…>\` or \`spool nack\`.`,
    )
    .action((queue: string, flags: ReceiveFlags) =>
      withBackend(flags, async (spool) => {
        const messages = await spool.queues.receive(queue, {
          max: flags.max,
          waitMs: flags.waitMs,
          ...(flags.visibilityMs === undefined ? {} : { visibilityMs: flags.visibilityMs }),
        });
        if (flags.json) printJson({ messages });
        else if (messages.length === 0) note('no messages');
        else {
          out(
            table(
              ['id', 'attempt', 'key', 'body'],
              messages.map((m) => [m.id, m.attempt, m.key, preview(m)]),
            ),
          );
        }
        if (messages.length === 0) return;
        if (flags.ack) {
          const results = await spool.queues.ack(
            queue,
            messages.map((m) => m.receipt),
          );
          const failed = results.filter((r) => !r.ok);
          for (const failure of failed)
            note(`spool: ${failure.code ?? 'ERROR'}: ${failure.detail ?? 'not acknowledged'}`);
          if (failed.length > 0) process.exitCode = exitCodeOfCodes(failed.map((failure) => failure.code));
        } else if (!flags.json) {
          note(
            'not acknowledged: delivered again when the lease ends (use --ack, or --json for the receipts to `spool ack`)',
          );
        }
      }),
    );
}
