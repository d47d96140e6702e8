// One consumer group, its members in separate processes on one PostgreSQL database, while
// events are being published: members join, one leaves gracefully (SIGTERM) and one is killed
// (SIGKILL, found dead by its session timeout). Every member logs what it handled with
// start/end times on the machine's shared clock; the test polls the committed offsets.
//
// Asserted: every event was handled at least once; no partition was ever worked on by two
// members at overlapping times; no committed offset ever went backwards; the group ends with
// every partition committed to its end.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSpool } from '../../src/engine/spool.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { Child, FreshDatabase } from './processes.js';

const partitions = 6;
const eventCount = Number(process.env.SPOOL_MP_EVENTS ?? 3_000);

interface Handled {
  partition: number;
  offset: number;
  member: string;
  start: number;
  end: number;
}

void describe('a consumer group across processes on PostgreSQL', () => {
  let database: FreshDatabase;
  let logDir: string;
  const children: Child[] = [];

  before(async () => {
    database = await FreshDatabase.create();
    logDir = mkdtempSync(join(tmpdir(), 'spool-group-'));
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map((child) => child.exited));
    await database.drop();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('keeps one member per partition and offsets moving forward while members come and go', async (t) => {
    const spool = createSpool({
      store: await openPostgresStore({ connectionString: database.url, maxConnections: 4 }),
    });
    const topic = await spool.topic('mp.events', { partitions });
    const logs: string[] = [];
    const members = new Map<string, Child>();
    const startMember = async (name: string): Promise<void> => {
      const log = join(logDir, `${name}.log`);
      logs.push(log);
      const child = new Child(['test/multiprocess/group-member.ts', database.url, log, name]);
      children.push(child);
      members.set(name, child);
      await child.waitFor(/member ready/);
    };

    // Committed offsets, sampled all along: none may go backwards.
    const committed = new Map<number, number>();
    let backwards = '';
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const rows = await database.query<{ partition: number; committed_offset: string }>(
          `SELECT partition, committed_offset FROM spool.group_offsets WHERE group_name = 'mp.group'`,
        );
        for (const row of rows) {
          const offset = Number(row.committed_offset);
          const before = committed.get(row.partition) ?? -1;
          if (offset < before) backwards ||= `partition ${row.partition}: ${before} → ${offset}`;
          committed.set(row.partition, Math.max(before, offset));
        }
        await sleep(50);
      }
    })();

    await startMember('a');
    await startMember('b');
    // Publish in slices, changing the membership between them.
    const steps: (() => Promise<void>)[] = [
      () => startMember('c'),
      async () => {
        members.get('a')!.kill('SIGTERM');
        await members.get('a')!.exited;
      },
      async () => {
        members.get('b')!.kill('SIGKILL');
        await members.get('b')!.exited;
      },
      () => startMember('d'),
      () => startMember('e'),
    ];
    const slice = Math.ceil(eventCount / (steps.length + 1));
    let published = 0;
    for (let step = 0; step <= steps.length; step++) {
      for (const end = Math.min(eventCount, published + slice); published < end;) {
        const batch = Array.from({ length: Math.min(50, end - published) }, (_, i) => ({
          body: { n: published + i },
          key: `k${(published + i) % 97}`,
        }));
        await topic.publishBatch(batch);
        published += batch.length;
        await sleep(20);
      }
      await steps[step]?.();
    }

    // Wait until the group has committed every partition to its end.
    const ends = new Map(
      (await spool.store.partitionOffsets('mp.events')).map((p) => [p.partition, p.endOffset]),
    );
    const deadline = Date.now() + 120_000;
    while ([...ends].some(([partition, end]) => (committed.get(partition) ?? -1) < end)) {
      assert.ok(Date.now() < deadline, `not caught up: ${JSON.stringify([...committed])}`);
      await sleep(200);
    }
    sampling = false;
    await sampler;
    for (const [name, child] of members) if (name !== 'a' && name !== 'b') child.kill('SIGTERM');
    await Promise.all(children.map((child) => child.exited));
    await spool.close();

    assert.equal(backwards, '', 'a committed offset went backwards');
    const handled: Handled[] = logs.flatMap((log) => {
      let text = '';
      try {
        text = readFileSync(log, 'utf8');
      } catch {
        // A member that got no partition handled nothing.
      }
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [partition, offset, member, start, end] = line.split(' ');
          return {
            partition: Number(partition),
            offset: Number(offset),
            member: member!,
            start: Number(start),
            end: Number(end),
          };
        });
    });

    // Every event at least once.
    const seen = new Set(handled.map((h) => `${h.partition}:${h.offset}`));
    let total = 0;
    for (const [partition, end] of ends) {
      total += end;
      for (let offset = 0; offset < end; offset++) {
        assert.ok(seen.has(`${partition}:${offset}`), `event ${partition}:${offset} never handled`);
      }
    }
    assert.equal(total, eventCount);

    // One member at a time per partition: sorted by start, each member's work on a partition
    // ends before a different member's work on it begins.
    let handovers = 0;
    for (let partition = 0; partition < partitions; partition++) {
      const work = handled.filter((h) => h.partition === partition).sort((x, y) => x.start - y.start);
      let latest: Handled | undefined;
      for (const h of work) {
        if (latest && latest.member !== h.member) {
          handovers++;
          assert.ok(
            latest.end <= h.start,
            `partition ${partition}: ${latest.member} worked until ${latest.end}, ${h.member} started at ${h.start}`,
          );
        }
        if (!latest || h.end > latest.end) latest = h;
      }
    }
    const workers = new Set(handled.map((h) => h.member));
    assert.ok(workers.size >= 4, `work was spread over ${[...workers].join(', ')}`);
    t.diagnostic(
      `${eventCount} events in ${partitions} partitions, ${handled.length} handled (${handled.length - eventCount} ` +
        `repeats after the kill), ${handovers} partition hand-overs between members ${[...workers].sort().join(', ')}`,
    );
  });
});
