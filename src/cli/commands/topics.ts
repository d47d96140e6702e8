/**
 * `spool topics list|create|delete`: topic administration over HTTP (admin scope for create and
 * delete), or on a data directory (`--data`).
 *
 * `create` creates a topic with the options given and the defaults for the rest; one that
 * already exists is left as it is (`SPOOL_ALREADY_EXISTS`, exit 4) unless `--update` is given,
 * which changes the retention given (the partition count is fixed at creation: another count is
 * `SPOOL_CONFIG_CONFLICT`). `delete` asks first. `list` hides `spool.events` (and any other
 * `spool.*` / `jobs.*` topic) unless `--all`.
 */
import type { Command } from 'commander';
import type { TopicConfig, TopicOptions } from '../../client/index.js';
import { errorCatalogue, SpoolError } from '../../core/errors.js';
import { isInternalName } from '../../server/handles.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { confirm, type ConfirmFlags, plural, yesHelp } from './support/confirm.js';
import { orNull, wholeNumber, wholeNumberOrNone } from './support/input.js';
import { duration, fields, note, out, printJson, table } from './support/output.js';
import { hiddenNote } from './queues.js';

interface ListFlags extends ClientFlags {
  all?: boolean;
}

interface CreateFlags extends ClientFlags {
  partitions?: number;
  retentionMs?: number | 'none';
  retentionBytes?: number | 'none';
  update?: boolean;
}

/** Adds `spool topics list|create|delete` to the program. */
export function registerTopics(program: Command): void {
  const topics = program.command('topics').description('list, create and delete topics');

  withClientOptions(
    topics
      .command('list')
      .description('topics with their partitions, retention, events and consumer groups')
      .option('--all', "also Spool's own topics (spool.events)"),
  ).action((flags: ListFlags) =>
    withBackend(flags, async (spool) => {
      const all = await spool.topics.list();
      const shown = flags.all ? all : all.filter((topic) => !isInternalName(topic.name));
      const details = await Promise.all(shown.map((topic) => spool.topics.find(topic.name)));
      const items = details.filter((topic) => topic !== null);
      if (flags.json) {
        printJson({ items });
        return;
      }
      if (items.length === 0) note('no topics');
      else
        out(
          table(
            ['topic', 'partitions', 'retention', 'events', 'groups'],
            items.map((topic) => [
              topic.name,
              topic.partitions,
              retention(topic),
              topic.stats.partitions.reduce((sum, p) => sum + (p.endOffset - p.startOffset), 0),
              topic.stats.groups.length,
            ]),
          ),
        );
      hiddenNote(all.length - shown.length, flags, 'topic');
    }),
  );

  withClientOptions(
    topics
      .command('create')
      .description('create a topic (settings not given take their defaults)')
      .argument('<topic>', 'the topic name')
      .option(
        '--partitions <n>',
        'partitions (fixed at creation; events with one key keep their order in one) (default 4)',
        wholeNumber(1, 1024),
      )
      .option(
        '--retention-ms <ms>',
        'events older than this are deleted; none = kept by age for ever (default 604800000, 7 days)',
        wholeNumberOrNone(1),
      )
      .option(
        '--retention-bytes <n>',
        'per partition, the oldest events are deleted above this many payload bytes; none = no bound (default none)',
        wholeNumberOrNone(1),
      )
      .option(
        '--update',
        'if the topic exists, change the retention given (the other setting keeps its value) instead of failing',
      ),
  ).action((topic: string, flags: CreateFlags) =>
    withBackend(flags, async (spool) => {
      const options: TopicOptions = {
        ...(flags.partitions === undefined ? {} : { partitions: flags.partitions }),
        ...(flags.retentionMs === undefined ? {} : { retentionMs: orNull(flags.retentionMs) ?? null }),
        ...(flags.retentionBytes === undefined
          ? {}
          : { retentionBytes: orNull(flags.retentionBytes) ?? null }),
      };
      const existing = await spool.topics.find(topic);
      if (existing && !flags.update) {
        throw new SpoolError(
          errorCatalogue.ALREADY_EXISTS,
          `topic "${topic}" already exists (${plural(existing.partitions, 'partition')}, retention ${retention(existing)}); change its retention with --update`,
        );
      }
      const config = await spool.topics.put(
        topic,
        existing
          ? {
              partitions: options.partitions ?? existing.partitions,
              retentionMs: options.retentionMs === undefined ? existing.retentionMs : options.retentionMs,
              retentionBytes:
                options.retentionBytes === undefined ? existing.retentionBytes : options.retentionBytes,
            }
          : options,
      );
      if (flags.json) printJson(config);
      else {
        out(`${existing ? 'updated' : 'created'} topic ${topic}`);
        out(
          fields([
            ['partitions', config.partitions],
            ['retention', retention(config)],
          ]),
        );
      }
    }),
  );

  withClientOptions(
    topics
      .command('delete')
      .description('delete a topic with its events and consumer groups')
      .argument('<topic>', 'the topic name')
      .option('-y, --yes', yesHelp),
  ).action((topic: string, flags: ClientFlags & ConfirmFlags) =>
    withBackend(flags, async (spool) => {
      const { stats } = await spool.topics.get(topic);
      const events = stats.partitions.reduce((sum, p) => sum + (p.endOffset - p.startOffset), 0);
      const question = `Delete topic "${topic}" with ${plural(events, 'event')} and ${plural(stats.groups.length, 'consumer group')}?`;
      if (!(await confirm(question, flags))) return;
      await spool.topics.delete(topic);
      if (flags.json) printJson({ deleted: topic });
      else out(`deleted topic ${topic}`);
    }),
  );
}

/** `7d`, `2h 5m`, `forever`; with the byte bound when there is one. */
function retention(topic: TopicConfig): string {
  const age = topic.retentionMs === null ? 'forever' : duration(topic.retentionMs);
  return topic.retentionBytes === null ? age : `${age}, ${topic.retentionBytes} bytes/partition`;
}
