/**
 * `spool groups list|delete`: the consumer groups of topics, over HTTP or on a data directory.
 *
 * `list` shows each group's live members and lag (of one topic, or of every topic; Spool's own
 * topics only with `--all`). `delete` removes a group and its committed offsets, after asking;
 * as with Kafka's `kafka-consumer-groups --delete`, a group with a live member is refused
 * (`SPOOL_GROUP_NOT_EMPTY`): stop its consumers first, or wait for their sessions to expire.
 */
import type { Command } from 'commander';
import { errorCatalogue, SpoolError } from '../../core/errors.js';
import { isInternalName } from '../../server/handles.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { confirm, type ConfirmFlags, plural, yesHelp } from './support/confirm.js';
import { note, out, printJson, table } from './support/output.js';
import { hiddenNote } from './queues.js';

interface ListFlags extends ClientFlags {
  all?: boolean;
}

/** Adds `spool groups list|pause|resume|delete` to the program. */
export function registerGroups(program: Command): void {
  const groups = program
    .command('groups')
    .description('list, pause, resume and delete consumer groups of topics');

  withClientOptions(
    groups
      .command('list')
      .description('consumer groups with their members and lag')
      .argument('[topic]', 'only the groups of this topic (default: every topic)')
      .option('--all', "also the groups of Spool's own topics (spool.events)"),
  ).action((topic: string | undefined, flags: ListFlags) =>
    withBackend(flags, async (spool) => {
      let names: string[];
      let hidden = 0;
      if (topic !== undefined) names = [topic];
      else {
        const all = (await spool.topics.list()).map((config) => config.name);
        names = flags.all ? all : all.filter((name) => !isInternalName(name));
        hidden = all.length - names.length;
      }
      const topics =
        topic === undefined
          ? (await Promise.all(names.map((name) => spool.topics.find(name)))).filter((t) => t !== null)
          : [await spool.topics.get(topic)];
      const items = topics.flatMap((t) =>
        t.stats.groups.map((group) => ({
          topic: t.name,
          group: group.group,
          members: group.members,
          lag: group.totalLag,
          partitions: group.partitions,
        })),
      );
      if (flags.json) {
        printJson({ items });
        return;
      }
      if (items.length === 0) note('no consumer groups');
      else
        out(
          table(
            ['topic', 'group', 'members', 'lag'],
            items.map((item) => [item.topic, item.group, item.members, item.lag]),
          ),
        );
      hiddenNote(hidden, flags, 'topic');
    }),
  );

  for (const action of ['pause', 'resume'] as const) {
    withClientOptions(
      groups
        .command(action)
        .description(
          action === 'pause'
            ? 'pause a consumer group: no member of any process reads until it is resumed (offsets stay)'
            : 'resume a paused consumer group: its members read again',
        )
        .argument('<topic>', 'the topic')
        .argument('<group>', 'the group'),
    ).action((topic: string, group: string, flags: ClientFlags) =>
      withBackend(flags, async (spool) => {
        const answer = await spool.topics.pauseGroup(topic, group, action === 'pause');
        if (flags.json) printJson(answer);
        else
          out(
            answer.paused
              ? `paused consumer group ${group} of topic ${topic} (since ${answer.pausedAt})`
              : `resumed consumer group ${group} of topic ${topic}`,
          );
      }),
    );
  }

  withClientOptions(
    groups
      .command('delete')
      .description('delete a consumer group and its committed offsets (it must have no live member)')
      .argument('<topic>', 'the topic')
      .argument('<group>', 'the group')
      .option('-y, --yes', yesHelp),
  ).action((topic: string, group: string, flags: ClientFlags & ConfirmFlags) =>
    withBackend(flags, async (spool) => {
      const lag = (await spool.topics.get(topic)).stats.groups.find((g) => g.group === group);
      if (lag === undefined) {
        throw new SpoolError(
          errorCatalogue.GROUP_NOT_FOUND,
          `topic "${topic}" has no consumer group "${group}"`,
          { topic, group },
        );
      }
      const question = `Delete consumer group "${group}" of topic "${topic}" (${plural(lag.members, 'member')}, lag ${lag.totalLag}) and its committed offsets?`;
      if (!(await confirm(question, flags))) return;
      await spool.topics.deleteGroup(topic, group);
      if (flags.json) printJson({ deleted: { topic, group } });
      else out(`deleted consumer group ${group} of topic ${topic}`);
    }),
  );
}
