/**
 * `spool send <queue> [body]`: sends one message (the body is JSON, from the argument or stdin),
 * or with `--file` every line of an NDJSON file as a batch, with a progress bar on a terminal.
 */
import type { Command } from 'commander';
import type { OutgoingMessage } from '../../client/index.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, usageError, withClientOptions } from './support/client-options.js';
import { batches, bodyFromArgOrStdin, collectHeader, readNdjson, wholeNumber } from './support/input.js';
import { note, out, printJson } from './support/output.js';
import { progressBar } from './support/progress.js';

interface SendFlags extends ClientFlags {
  key?: string;
  group?: string;
  priority?: number;
  delayMs?: number;
  ttlMs?: number;
  dedupId?: string;
  header?: Record<string, string>;
  file?: string;
  batchSize: number;
}

/** Adds `spool send` to the program. */
export function registerSend(program: Command): void {
  withClientOptions(
    program
      .command('send')
      .description('send a message to a queue (JSON body from the argument or stdin), or a batch with --file')
      .argument('<queue>', 'the queue')
      .argument('[body]', 'the message body as JSON (read from stdin when omitted)')
      .option('--key <key>', 'ordering key: messages with one key are delivered in order, one at a time')
      .option(
        '--group <group>',
        'fairness group (a tenant): the queue serves its groups round-robin, so no backlog starves another group',
      )
      .option('--priority <n>', 'higher is delivered first (default 0)', wholeNumber(-(2 ** 31 - 1)))
      .option('--delay-ms <ms>', 'not delivered before this many ms from now', wholeNumber())
      .option(
        '--ttl-ms <ms>',
        'expires this long after the send: never delivered after that, moved to the dead letters',
        wholeNumber(1),
      )
      .option('--dedup-id <id>', "a repeat within the queue's dedup window stores nothing")
      .option('--header <key=value>', 'a message header (repeatable)', collectHeader)
      .option('--file <ndjson>', "send each line of this NDJSON file as one message body ('-' for stdin)")
      .option('--batch-size <n>', 'messages per request with --file', wholeNumber(1, 1000), 500),
  )
    .addHelpText(
      'after',
      `
Examples:
  spool send emails '{"to":"ada@example.com"}' --key ada
  echo '{"to":"ada@example.com"}' | spool send emails
  spool send emails --file messages.ndjson     # one JSON body per line; batches are all or nothing`,
    )
    .action((queue: string, body: string | undefined, flags: SendFlags) =>
      withBackend(flags, async (spool) => {
        const options = {
          ...(flags.key === undefined ? {} : { key: flags.key }),
          ...(flags.group === undefined ? {} : { group: flags.group }),
          ...(flags.priority === undefined ? {} : { priority: flags.priority }),
          ...(flags.delayMs === undefined ? {} : { delayMs: flags.delayMs }),
          ...(flags.ttlMs === undefined ? {} : { ttlMs: flags.ttlMs }),
          ...(flags.header === undefined ? {} : { headers: flags.header }),
        };
        if (flags.file === undefined) {
          const value = await bodyFromArgOrStdin(body, 'message body');
          const result = await spool.queues.send(queue, value, {
            ...options,
            ...(flags.dedupId === undefined ? {} : { dedupId: flags.dedupId }),
          });
          if (flags.json) printJson(result);
          else out(result.duplicate ? `${result.id} (duplicate: nothing stored)` : result.id);
          return;
        }
        if (body !== undefined) throw usageError('give either a body or --file, not both');
        if (flags.dedupId !== undefined)
          throw usageError('--dedup-id names one message: it cannot go with --file');
        const messages: OutgoingMessage[] = (await readNdjson(flags.file)).map((value) => ({
          body: value,
          ...options,
        }));
        const sent = await sendAll(messages, flags.batchSize, !flags.json, (batch) =>
          spool.queues.sendBatch(queue, batch),
        );
        if (flags.json) printJson({ queue, sent: sent.length, ids: sent });
        else out(`sent ${sent.length} message${sent.length === 1 ? '' : 's'} to ${queue}`);
      }),
    );
}

/**
 * Sends `items` in batches with a progress bar; answers the ids. A failing batch stops the run:
 * the batches before it are stored (each batch is all or nothing), which stderr reports.
 */
export async function sendAll<T>(
  items: readonly T[],
  batchSize: number,
  showProgress: boolean,
  send: (batch: T[]) => Promise<Array<{ id: string }>>,
): Promise<string[]> {
  const ids: string[] = [];
  const bar = progressBar('sending', items.length, showProgress);
  try {
    for (const batch of batches(items, batchSize)) {
      const results = await send(batch);
      ids.push(...results.map((result) => result.id));
      bar.advance(batch.length);
    }
  } catch (error) {
    bar.done();
    if (ids.length > 0) note(`spool: ${ids.length} of ${items.length} were stored before the failure`);
    throw error;
  }
  bar.done();
  return ids;
}
