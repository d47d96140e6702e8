/** `spool stats`: every queue with its depths, every topic with its size and each group's lag. */
import type { Command } from 'commander';
import { withBackend } from './support/backend.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { duration, out, printJson, table } from './support/output.js';

/** Adds `spool stats` to the program. */
export function registerStats(program: Command): void {
  withClientOptions(
    program.command('stats').description('queues with their depths, topics with consumer-group lag'),
  ).action((flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const [queues, topicConfigs] = await Promise.all([spool.queues.list(), spool.topics.list()]);
      const topics = await Promise.all(topicConfigs.map((topic) => spool.topics.get(topic.name)));
      if (flags.json) {
        printJson({ queues, topics });
        return;
      }
      out(
        queues.length === 0
          ? 'no queues'
          : table(
              ['queue', 'ready', 'delayed', 'in flight', 'dead', 'oldest', 'max depth'],
              queues.map((q) => [
                q.name,
                q.stats.ready,
                q.stats.delayed,
                q.stats.inFlight,
                q.stats.deadLettered,
                q.stats.oldestAgeMs > 0 ? duration(q.stats.oldestAgeMs) : '-',
                q.maxDepth ?? '-',
              ]),
            ),
      );
      out();
      const rows = topics.flatMap((topic) => {
        const events = topic.stats.partitions.reduce((sum, p) => sum + (p.endOffset - p.startOffset), 0);
        const base = [topic.name, topic.partitions, events];
        if (topic.stats.groups.length === 0) return [[...base, '-', '-', '-']];
        return topic.stats.groups.map((group) => [...base, group.group, group.members, group.totalLag]);
      });
      out(
        rows.length === 0
          ? 'no topics'
          : table(['topic', 'partitions', 'events', 'group', 'members', 'lag'], rows),
      );
    }),
  );
}
