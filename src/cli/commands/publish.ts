/**
 * `spool publish <topic> [body]`: appends one event (JSON body from the argument or stdin), or
 * with `--file` every line of an NDJSON file, with a progress bar on a terminal.
 */
import type { Command } from 'commander';
import type { OutgoingEvent } from '../../client/index.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, usageError, withClientOptions } from './support/client-options.js';
import { bodyFromArgOrStdin, collectHeader, readNdjson, wholeNumber } from './support/input.js';
import { out, printJson } from './support/output.js';
import { sendAll } from './send.js';

interface PublishFlags extends ClientFlags {
  key?: string;
  partition?: number;
  header?: Record<string, string>;
  file?: string;
  batchSize: number;
}

/** Adds `spool publish` to the program. */
export function registerPublish(program: Command): void {
  withClientOptions(
    program
      .command('publish')
      .description(
        'publish an event to a topic (JSON body from the argument or stdin), or a batch with --file',
      )
      .argument('<topic>', 'the topic')
      .argument('[body]', 'the event body as JSON (read from stdin when omitted)')
      .option('--key <key>', 'events with one key go to one partition, in order')
      .option('--partition <n>', 'an explicit partition (wins over --key)', wholeNumber(0, 1023))
      .option('--header <key=value>', 'an event header (repeatable)', collectHeader)
      .option('--file <ndjson>', "publish each line of this NDJSON file as one event body ('-' for stdin)")
      .option('--batch-size <n>', 'events per request with --file', wholeNumber(1, 1000), 500),
  )
    .addHelpText(
      'after',
      `
Examples:
  spool publish orders '{"id":42,"total":9.5}' --key customer-7
  spool publish orders --file events.ndjson`,
    )
    .action((topic: string, body: string | undefined, flags: PublishFlags) =>
      withBackend(flags, async (spool) => {
        const options = {
          ...(flags.key === undefined ? {} : { key: flags.key }),
          ...(flags.partition === undefined ? {} : { partition: flags.partition }),
          ...(flags.header === undefined ? {} : { headers: flags.header }),
        };
        if (flags.file === undefined) {
          const result = await spool.topics.publish(
            topic,
            await bodyFromArgOrStdin(body, 'event body'),
            options,
          );
          if (flags.json) printJson(result);
          else out(`${result.id} partition ${result.partition} offset ${result.offset}`);
          return;
        }
        if (body !== undefined) throw usageError('give either a body or --file, not both');
        const events: OutgoingEvent[] = (await readNdjson(flags.file)).map((value) => ({
          body: value,
          ...options,
        }));
        const ids = await sendAll(events, flags.batchSize, !flags.json, (batch) =>
          spool.topics.publishBatch(topic, batch),
        );
        if (flags.json) printJson({ topic, published: ids.length, ids });
        else out(`published ${ids.length} event${ids.length === 1 ? '' : 's'} to ${topic}`);
      }),
    );
}
