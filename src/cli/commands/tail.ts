/**
 * `spool tail <topic>`: follows a topic, printing events as they come.
 *
 * By default it reads the partitions directly from their current end (`--from earliest`: from
 * the first kept event), as `kcat -C` without `-G` or an ephemeral NATS consumer does: no
 * consumer group, so nothing is left behind, no lag grows after it exits, and no group's
 * consumers are disturbed. It looks for new events every `--interval-ms` while idle, and a
 * signal (Ctrl-C, SIGTERM) stops it at once.
 *
 * With `--group <g>` it is a member of that durable group instead: it shares the partitions with
 * the group's other members and commits each printed batch, so the next `tail --group g` (or any
 * consumer of g) continues where it stopped. A signal stops it after the current long poll (at
 * most `--wait-ms`) and the member leaves the group, so its partitions move on at once; a second
 * signal quits at once (the member then times out of the group). The group itself stays: it is
 * yours (`spool groups delete` removes it). The poll is not aborted on the first signal: a poll
 * the server is still working on could heartbeat the member back into the group after it left.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Option, type Command } from 'commander';
import type { PollResult, TopicEvent } from '../../client/index.js';
import { type SpoolBackend, withBackend } from './support/backend.js';
import { type ClientFlags, usageError, withClientOptions } from './support/client-options.js';
import { wholeNumber } from './support/input.js';
import { note, out, preview } from './support/output.js';

interface TailFlags extends ClientFlags {
  group?: string;
  member?: string;
  from: 'earliest' | 'latest';
  maxEvents?: number;
  waitMs: number;
  intervalMs: number;
}

/** Stops a tail: `stopping` after the first signal, `signal` aborted at the second (or at once). */
interface Stop {
  readonly stopping: () => boolean;
  readonly signal: AbortSignal;
}

/** Adds `spool tail` to the program. */
export function registerTail(program: Command): void {
  withClientOptions(
    program
      .command('tail')
      .description('follow a topic: print events as they are published (Ctrl-C to stop)')
      .argument('<topic>', 'the topic')
      .option(
        '--group <group>',
        'read as a member of this durable consumer group, committing what is printed (default: no group)',
      )
      .option('--member <id>', 'with --group: this member id (default: <host>-<pid>-<random>)')
      .addOption(
        new Option(
          '--from <position>',
          'where to start: the end (latest) or the first kept event (earliest); with --group, only for a new group',
        )
          .choices(['earliest', 'latest'])
          .default('latest'),
      )
      .option('--max-events <n>', 'stop after this many events', wholeNumber(1))
      .option(
        '--interval-ms <ms>',
        'without --group: how often to look for new events while idle',
        wholeNumber(50, 60_000),
        500,
      )
      .option(
        '--wait-ms <ms>',
        'with --group: long-poll wait per request; Ctrl-C takes effect when it ends',
        wholeNumber(0, 20_000),
        2000,
      ),
  )
    .addHelpText(
      'after',
      `
Events print as "partition:offset  time  key  body" (--json: one JSON event per line).
Without --group, tail reads the partitions directly and leaves nothing behind: no consumer group
is created, so none lingers with a growing lag after it exits. Ctrl-C stops it at once.
With --group, tail is a member of that durable group: printed events are committed, so the next
tail (or consumer) of the group continues after them. Ctrl-C stops after the current poll
(--wait-ms) and leaves the group; a second Ctrl-C quits at once. The group stays until you
delete it (spool groups delete <topic> <group>).`,
    )
    .action((topic: string, flags: TailFlags) =>
      withBackend(flags, async (spool) => {
        if (flags.member !== undefined && flags.group === undefined)
          throw usageError('--member needs --group (without a group, tail is not a member of anything)');
        const controller = new AbortController();
        const grouped = flags.group !== undefined;
        let stopping = false;
        const stop = () => {
          // Without a group there is nothing to finish: stop at once.
          if (stopping || !grouped) controller.abort();
          else if (!flags.json) note('stopping after the current poll (Ctrl-C again to quit now)');
          stopping = true;
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        try {
          const halt = { stopping: () => stopping, signal: controller.signal };
          if (flags.group === undefined) await tailPartitions(spool, topic, flags, halt);
          else await tailGroup(spool, topic, flags.group, flags, halt);
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      }),
    );
}

/** Reads every partition from `--from`, without a group, until stopped or `--max-events`. */
async function tailPartitions(spool: SpoolBackend, topic: string, flags: TailFlags, halt: Stop) {
  const first = await spool.topics.get(topic);
  const positions = new Map(
    first.stats.partitions.map((p) => [p.partition, flags.from === 'earliest' ? p.startOffset : p.endOffset]),
  );
  if (!flags.json)
    note(
      `following ${topic} from the ${flags.from === 'earliest' ? 'first kept event' : 'end'} (Ctrl-C to stop)`,
    );
  let printed = 0;
  let offsets = first.stats.partitions;
  while (!halt.signal.aborted) {
    let read = 0;
    for (const { partition, endOffset } of offsets) {
      const from = positions.get(partition) ?? 0;
      if (endOffset <= from) continue;
      const result = await spool.topics.read(topic, partition, { from, limit: 100 });
      if (halt.signal.aborted) return;
      if (result.startOffset > from && !flags.json)
        note(
          `partition ${partition}: ${result.startOffset - from} events were deleted by retention before tail read them`,
        );
      const room = flags.maxEvents === undefined ? Infinity : flags.maxEvents - printed;
      const events = result.events.slice(0, room);
      for (const event of events) print(event, flags.json === true);
      printed += events.length;
      read += events.length;
      positions.set(partition, result.nextOffset);
      if (flags.maxEvents !== undefined && printed >= flags.maxEvents) return;
    }
    // Nothing new: wait before looking again. After a read, look again at once (there may be more).
    if (read === 0) {
      try {
        await sleep(flags.intervalMs, undefined, { signal: halt.signal });
      } catch {
        return;
      }
    }
    offsets = (await spool.topics.get(topic)).stats.partitions;
  }
}

/** Reads as a member of the durable group `group`, committing what it prints. */
async function tailGroup(spool: SpoolBackend, topic: string, group: string, flags: TailFlags, halt: Stop) {
  const random = randomBytes(4).toString('hex');
  const member = flags.member ?? `${hostname()}-${process.pid}-${random}`;
  if (!flags.json) note(`following ${topic} as member ${member} of group ${group} (Ctrl-C to stop)`);
  let cursor: string | undefined;
  let printed = 0;
  try {
    while (!halt.stopping()) {
      let result: PollResult;
      try {
        result = await spool.topics.poll(topic, group, {
          member,
          max: 100,
          waitMs: flags.waitMs,
          startFrom: flags.from,
          ...(cursor === undefined ? {} : { cursor }),
          signal: halt.signal,
        });
      } catch (error) {
        if (halt.signal.aborted) break;
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
    if (!halt.signal.aborted) await spool.topics.leave(topic, group, member).catch(() => undefined);
  }
}

function print(event: TopicEvent, json: boolean): void {
  if (json) out(JSON.stringify(event));
  else
    out([`${event.partition}:${event.offset}`, event.timestamp, event.key ?? '-', preview(event)].join('  '));
}
