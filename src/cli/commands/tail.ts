/**
 * `spool tail <topic>`: follows a topic as a member of a consumer group, printing events as they
 * come. Each printed batch is committed. Ctrl-C (SIGINT) or SIGTERM stops after the current long
 * poll (at most `--wait-ms`, 2 s by default) and the member leaves the group, so its partitions
 * move on at once; a second Ctrl-C quits at once (the member then times out of the group).
 *
 * The poll is not aborted on the first signal: a poll the server is still working on could
 * heartbeat the member back into the group after it left.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import type { PollResult, TopicEvent } from '../../client/index.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { wholeNumber } from './support/input.js';
import { note, out, preview } from './support/output.js';

interface TailFlags extends ClientFlags {
  group?: string;
  member?: string;
  from: 'earliest' | 'latest';
  maxEvents?: number;
  waitMs: number;
}

/** Adds `spool tail` to the program. */
export function registerTail(program: Command): void {
  withClientOptions(
    program
      .command('tail')
      .description('follow a topic: print events as they are published (Ctrl-C to stop)')
      .argument('<topic>', 'the topic')
      .option('--group <group>', 'the consumer group (default: a new one, spool-tail-<random>)')
      .option('--member <id>', 'this member id (default: <host>-<pid>-<random>)')
      .addOption(
        new Option(
          '--from <position>',
          'where a new group starts (an existing group continues from its offsets)',
        )
          .choices(['earliest', 'latest'])
          .default('latest'),
      )
      .option('--max-events <n>', 'stop after this many events', wholeNumber(1))
      .option(
        '--wait-ms <ms>',
        'long-poll wait per request; Ctrl-C takes effect when it ends',
        wholeNumber(0, 20_000),
        2000,
      ),
  )
    .addHelpText(
      'after',
      `
Events print as "partition:offset  time  key  body" (--json: one JSON event per line).
Each printed batch is committed to the group. Ctrl-C stops after the current poll (--wait-ms)
and leaves the group; a second Ctrl-C quits at once.`,
    )
    .action((topic: string, flags: TailFlags) =>
      withBackend(flags, async (spool) => {
        const random = randomBytes(4).toString('hex');
        const group = flags.group ?? `spool-tail-${random}`;
        const member = flags.member ?? `${hostname()}-${process.pid}-${random}`;
        const controller = new AbortController();
        let stopping = false;
        const stop = () => {
          if (stopping) controller.abort();
          else if (!flags.json) note('stopping after the current poll (Ctrl-C again to quit now)');
          stopping = true;
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        if (!flags.json) note(`following ${topic} as group ${group} (Ctrl-C to stop)`);
        let cursor: string | undefined;
        let printed = 0;
        try {
          while (!stopping) {
            let result: PollResult;
            try {
              result = await spool.topics.poll(topic, group, {
                member,
                max: 100,
                waitMs: flags.waitMs,
                startFrom: flags.from,
                ...(cursor === undefined ? {} : { cursor }),
                signal: controller.signal,
              });
            } catch (error) {
              if (controller.signal.aborted) break;
              throw error;
            }
            cursor = result.cursor;
            const room = flags.maxEvents === undefined ? Infinity : flags.maxEvents - printed;
            const events = result.events.slice(0, room);
            for (const event of events) print(event, flags.json === true);
            printed += events.length;
            const offsets: Record<number, number> = {};
            for (const event of events) offsets[event.partition] = event.offset + 1;
            // Partitions moved to another member: it gets what we did not commit. Start over.
            if (events.length > 0 && !(await spool.topics.commit(topic, group, { member, offsets })))
              cursor = undefined;
            if (flags.maxEvents !== undefined && printed >= flags.maxEvents) break;
          }
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          if (!controller.signal.aborted)
            await spool.topics.leave(topic, group, member).catch(() => undefined);
        }
      }),
    );
}

function print(event: TopicEvent, json: boolean): void {
  if (json) out(JSON.stringify(event));
  else
    out([`${event.partition}:${event.offset}`, event.timestamp, event.key ?? '-', preview(event)].join('  '));
}
