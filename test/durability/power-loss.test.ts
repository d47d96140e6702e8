/**
 * Power loss: a child process runs Spool on a SQLite file inside powercutfs, a FUSE filesystem
 * that keeps every write in memory until it is fsynced (see docs/durability.md), and reports each
 * write whose promise resolved. The test cuts the power (the filesystem forgets whatever was not
 * synced, or keeps a random part of it, and the child is SIGKILLed), boots the filesystem again
 * from what reached its disk, and checks the acknowledged writes against what survived:
 *
 * - durability 'full': nothing acknowledged is lost: every resolved send is still queued or was
 *   being acked, every resolved ack stays acked, every resolved publish is at its offset,
 *   committed offsets are never behind what a resolved commit set, every resolved job add
 *   exists and every resolved completion stays completed; `PRAGMA integrity_check` passes;
 * - durability 'process' (the control): the same workload loses acknowledged writes over the
 *   cycles; if it never did, the harness would not be simulating a power loss.
 *
 * SPOOL_POWERLOSS_CYCLES sets the cycles per mode (default 16); SPOOL_DURABILITY_LONG=1 runs 200.
 * On a machine without FUSE the test is skipped, except in CI, where it fails.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { decodeBody } from '../../src/core/message.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import type { SqliteStore } from '../../src/stores/sqlite/index.js';
import { tempDir } from '../helpers.js';
import { bundle } from './bundle.js';
import { type CutKind, PowercutMount, powercutfsUnavailable } from './powercut.js';

const long = process.env.SPOOL_DURABILITY_LONG === '1';
const cycles = Number(process.env.SPOOL_POWERLOSS_CYCLES ?? (long ? 200 : 16));
/** Long runs take hours (about 5 s a cycle on a busy machine); CI's runs stay in the suite's 5 min. */
const timeout = long || process.env.SPOOL_POWERLOSS_CYCLES ? 12 * 3600_000 : 300_000;
/** Cycles of the deliberately broken store: enough to lose something, not more. */
const brokenCycles = long ? 20 : 4;
const debug = process.env.SPOOL_DURABILITY_DEBUG === '1';
/** The worker, bundled once (see bundle.ts). */
let worker = '';
const unavailable = powercutfsUnavailable();

type Durability = 'full' | 'process';
/** A durability, or 'broken': 'full' with the store's fdatasync of the WAL made a no-op. */
type Mode = Durability | 'broken';

/** Acknowledged writes lost, by kind. */
interface Losses {
  sends: number;
  acks: number;
  publishes: number;
  commits: number;
  jobAdds: number;
  jobCompletions: number;
}

const noLosses = (): Losses => ({
  sends: 0,
  acks: 0,
  publishes: 0,
  commits: 0,
  jobAdds: 0,
  jobCompletions: 0,
});
const total = (l: Losses): number =>
  l.sends + l.acks + l.publishes + l.commits + l.jobAdds + l.jobCompletions;

/**
 * What the children reported, and what is still to be checked against the disk. A fact is
 * checked at the first boot after it was reported; once seen on the disk it stays there (the
 * checker's clean close checkpoints it into the database file), and a fact found lost is
 * counted once and dropped.
 */
class Ledger {
  /** Sends acknowledged and not yet checked. */
  sent = new Set<number>();
  /** Messages whose ack was started: their absence is explained. */
  ackStarted = new Set<number>();
  /** Acks acknowledged and not yet checked. */
  acked = new Set<number>();
  published: { seq: number; partition: number; offset: number }[] = [];
  /** Every publish found on disk, by partition and offset, for the final check. */
  kept = new Map<string, number>();
  /** The highest acknowledged commit per partition. */
  committed = new Map<number, number>();
  added = new Map<string, number>();
  completed = new Set<string>();
  /** Every completion found on disk, for the final check. */
  keptCompleted = new Set<string>();
  maxSeq = 0;
  /** Counts of acknowledged writes, by kind. */
  counts = noLosses();

  record(line: string): void {
    const [tag, a, b, c] = line.split(' ');
    const seq = Number(a);
    switch (tag) {
      case 'S':
        this.sent.add(seq);
        this.counts.sends++;
        break;
      case 'a':
        this.ackStarted.add(seq);
        break;
      case 'A':
        this.acked.add(seq);
        this.counts.acks++;
        break;
      case 'P':
        this.published.push({ seq, partition: Number(b), offset: Number(c) });
        this.counts.publishes++;
        break;
      case 'C':
        this.committed.set(seq, Math.max(this.committed.get(seq) ?? 0, Number(b)));
        this.counts.commits++;
        break;
      case 'J':
        this.added.set(b!, seq);
        this.counts.jobAdds++;
        break;
      case 'K':
        this.completed.add(a!);
        this.counts.jobCompletions++;
        break;
      case 'k':
      case 'ready':
        break;
      default:
        throw new Error(`unexpected report from the worker: ${line}`);
    }
    if (tag === 'S' || tag === 'P' || tag === 'J') this.maxSeq = Math.max(this.maxSeq, seq);
  }

  /** Checks the reports since the last boot against the store at `path`; returns the losses. */
  async verify(path: string): Promise<{ losses: Losses; integrity: string }> {
    const losses = noLosses();
    const store = await openSqliteStore({ path });
    try {
      const queued = await queuedSeqs(store);
      for (const seq of this.sent) {
        if (!queued.has(seq) && !this.ackStarted.has(seq)) losses.sends++;
      }
      this.sent.clear();
      for (const seq of this.acked) if (queued.has(seq)) losses.acks++;
      this.acked.clear();

      const events = await eventsAt(store, this.published);
      for (const fact of this.published) {
        const key = `${fact.partition}/${fact.offset}`;
        if (events.get(key) === fact.seq) this.kept.set(key, fact.seq);
        else losses.publishes++;
      }
      this.published = [];

      const state = await store.groupState('pl-events', 'pl-group').catch(() => null);
      const onDisk = new Map(state?.committed.map((c) => [c.partition, c.offset]));
      for (const [partition, offset] of this.committed) {
        const actual = onDisk.get(partition) ?? 0;
        if (actual < offset) {
          losses.commits++;
          this.committed.set(partition, actual);
        }
      }

      for (const [id] of this.added) {
        if (!(await store.getJob(id))) losses.jobAdds++;
      }
      this.added.clear();
      for (const id of this.completed) {
        if ((await store.getJob(id))?.status === 'completed') this.keptCompleted.add(id);
        else losses.jobCompletions++;
      }
      this.completed.clear();
    } finally {
      await store.close();
    }
    return { losses, integrity: integrityCheck(path) };
  }

  /** Everything once found on disk is still there: events at their offsets, completed jobs. */
  async verifyKept(path: string): Promise<{ events: number; completions: number }> {
    const store = await openSqliteStore({ path });
    let events = 0;
    let completions = 0;
    try {
      const facts = [...this.kept].map(([key, seq]) => {
        const [partition, offset] = key.split('/').map(Number) as [number, number];
        return { seq, partition, offset };
      });
      const found = await eventsAt(store, facts);
      for (const fact of facts) if (found.get(`${fact.partition}/${fact.offset}`) !== fact.seq) events++;
      for (const id of this.keptCompleted) {
        if ((await store.getJob(id))?.status !== 'completed') completions++;
      }
    } finally {
      await store.close();
    }
    return { events, completions };
  }
}

async function queuedSeqs(store: SqliteStore): Promise<Set<number>> {
  const seqs = new Set<number>();
  if (!(await store.getQueue('pl'))) return seqs;
  let after: string | null = null;
  do {
    const page = await store.listMessages('pl', { limit: 1000, after });
    for (const message of page.items) seqs.add(decodeBody<{ seq: number }>(message.payload).seq);
    after = page.next;
  } while (after);
  return seqs;
}

/** The seq of the event at each `partition/offset` among `facts` that exists. */
async function eventsAt(
  store: SqliteStore,
  facts: readonly { partition: number; offset: number }[],
): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  if (facts.length === 0 || !(await store.getTopic('pl-events'))) return found;
  const ranges = new Map<number, { from: number; to: number }>();
  for (const { partition, offset } of facts) {
    const range = ranges.get(partition) ?? { from: offset, to: offset };
    ranges.set(partition, { from: Math.min(range.from, offset), to: Math.max(range.to, offset) });
  }
  for (const [partition, { from, to }] of ranges) {
    let next = from;
    while (next <= to) {
      const { events } = await store.read('pl-events', partition, next, 1000);
      if (events.length === 0) break;
      for (const event of events) {
        found.set(`${partition}/${event.offset}`, decodeBody<{ seq: number }>(event.payload).seq);
      }
      next = events.at(-1)!.offset + 1;
    }
  }
  return found;
}

function integrityCheck(path: string): string {
  const db = new Database(path);
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

/** The worker, its reports fed to `ledger` as they arrive. */
function startWorker(path: string, mode: Mode, first: number, ledger: Ledger) {
  const durability: Durability = mode === 'broken' ? 'full' : mode;
  const child: ChildProcess = spawn(process.execPath, [worker, path, durability, String(first)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SPOOL_POWERLOSS_BREAK_FDATASYNC: mode === 'broken' ? '1' : '0' },
  });
  let partial = '';
  let stderr = '';
  let resolveReady: () => void;
  let rejectReady: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      ledger.record(line);
      if (line === 'ready') resolveReady();
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  // 'close' comes after the pipes are drained: every report written before the kill is read.
  const closed = once(child, 'close');
  child.once('exit', (code, signal) =>
    rejectReady(new Error(`worker exited (${code ?? signal}) before it was ready:\n${stderr}`)),
  );
  return { child, ready, closed, stderr: () => stderr };
}

interface ModeResult {
  cycles: number;
  acknowledged: Losses;
  lost: Losses;
  cyclesWithLoss: number;
  cuts: Record<CutKind, number>;
}

async function runCycles(durability: Mode, cycles: number): Promise<ModeResult> {
  const { dir, cleanup } = tempDir(`spool-powerloss-${durability}-`);
  const disk = join(dir, 'disk');
  const mountpoint = join(dir, 'mnt');
  const path = join(mountpoint, 'spool.db');
  const ledger = new Ledger();
  const lost = noLosses();
  const cuts: Record<CutKind, number> = { drop: 0, torn: 0 };
  let cyclesWithLoss = 0;
  let mount = await PowercutMount.mount(disk, mountpoint);
  try {
    for (let cycle = 0; cycle < cycles; cycle++) {
      const started = Date.now();
      const run = startWorker(path, durability, ledger.maxSeq + 100_000, ledger);
      await run.ready;
      const readyAt = Date.now();
      await sleep(300 + Math.random() * 1200);
      if (run.child.exitCode !== null) throw new Error(`the worker died under load:\n${run.stderr()}`);
      // Alternate: only synced data survives / synced data plus a random part of the rest.
      const kind: CutKind = cycle % 2 === 0 ? 'drop' : 'torn';
      await mount.cut(kind);
      cuts[kind]++;
      run.child.kill('SIGKILL');
      await run.closed;
      mount.detach();

      const cutAt = Date.now();
      const cutLog = mount.log.trim();
      mount = await PowercutMount.mount(disk, mountpoint);
      const { losses, integrity } = await ledger.verify(path);
      if (debug) {
        console.log(
          `cycle ${cycle}: ready ${readyAt - started} ms, cut at ${cutAt - readyAt} ms, checked in ${Date.now() - cutAt} ms; ` +
            `lost ${JSON.stringify(losses)} ${cutLog}`,
        );
      }
      assert.equal(integrity, 'ok', `integrity_check after cycle ${cycle} (${kind} cut)`);
      for (const key of Object.keys(lost) as (keyof Losses)[]) lost[key] += losses[key];
      if (total(losses) > 0) cyclesWithLoss++;
      if (durability === 'full') {
        assert.deepEqual(losses, noLosses(), `acknowledged writes lost at cycle ${cycle} (${kind} cut)`);
      }
    }
    const kept = await ledger.verifyKept(path);
    if (durability === 'full') {
      assert.deepEqual(
        kept,
        { events: 0, completions: 0 },
        'writes seen after one cut were lost at a later one',
      );
    }
    assert.ok(
      ledger.counts.sends > 0 && ledger.counts.acks > 0 && ledger.counts.publishes > 0,
      `the workload ran: ${JSON.stringify(ledger.counts)}`,
    );
    assert.ok(
      ledger.counts.commits > 0 && ledger.counts.jobAdds > 0 && ledger.counts.jobCompletions > 0,
      `the workload ran: ${JSON.stringify(ledger.counts)}`,
    );
    return { cycles, acknowledged: ledger.counts, lost, cyclesWithLoss, cuts };
  } finally {
    await mount.unmount();
    cleanup();
  }
}

function describeResult(durability: Mode, result: ModeResult): string {
  return (
    `power loss, ${durability === 'broken' ? "durability 'full' with fdatasync disabled" : `durability '${durability}'`}: ${result.cycles} cuts (${result.cuts.drop} drop, ${result.cuts.torn} torn); ` +
    `acknowledged ${JSON.stringify(result.acknowledged)}; lost ${JSON.stringify(result.lost)} ` +
    `(${total(result.lost)} in all, in ${result.cyclesWithLoss} of ${result.cycles} cuts)`
  );
}

describe('power loss (powercutfs)', { skip: unavailable && !process.env.CI ? unavailable : false }, () => {
  before(async () => {
    worker = await bundle('test/durability/power-loss-worker.ts', 'power-loss-worker');
  });

  it('can run here', () => {
    assert.equal(unavailable, null, `the power-loss harness cannot run: ${unavailable}`);
  });

  it(`durability 'full' loses no acknowledged write across ${cycles} power cuts`, { timeout }, async () => {
    const result = await runCycles('full', cycles);
    console.log(describeResult('full', result));
    assert.equal(total(result.lost), 0);
  });

  it(
    `durability 'process' (the control) loses acknowledged writes across ${cycles} power cuts`,
    { timeout },
    async () => {
      const result = await runCycles('process', cycles);
      console.log(describeResult('process', result));
      assert.ok(
        total(result.lost) > 0,
        'the harness never lost an acknowledged write: it does not cut power',
      );
    },
  );

  it(
    `catches a durability 'full' whose fdatasync does nothing (${brokenCycles} power cuts)`,
    { timeout },
    async () => {
      const result = await runCycles('broken', brokenCycles);
      console.log(describeResult('broken', result));
      assert.ok(total(result.lost) > 0, 'acknowledging unsynced writes went unnoticed');
    },
  );
});
