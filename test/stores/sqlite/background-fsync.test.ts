// Durability 'full' with the fsync of each group commit in the background (wal-sync.ts): a
// committed write is not handed out, nor is a read of it, before an fsync of the WAL that
// started after the commit has finished; one fsync covers every commit made while the previous
// one ran; and a failed fsync stops the store. The fsync is the real one, on the real WAL file,
// held back by a gate where a test needs to look between the COMMIT and the fsync.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { TestClock } from '../../../src/core/clock.js';
import { resolveQueueConfig } from '../../../src/core/options.js';
import { openDatabase } from '../../../src/stores/sqlite/connection.js';
import { openSqliteStore } from '../../../src/stores/sqlite/index.js';
import { SqliteStoreImpl } from '../../../src/stores/sqlite/sqlite-store.js';
import { type SyncFile, WalSync } from '../../../src/stores/sqlite/wal-sync.js';
import { message, tempDirectory } from './fixtures.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

function newFile(): string {
  const directory = tempDirectory();
  directories.push(directory);
  return path.join(directory, 'spool.db');
}

/** The real fdatasync, run only when the test lets it: each call waits in `held` until `release()`. */
function gatedSync() {
  const held: (() => void)[] = [];
  let calls = 0;
  let failWith: NodeJS.ErrnoException | null = null;
  const sync: SyncFile = (fd, callback) => {
    calls++;
    held.push(() => {
      if (failWith) callback(failWith);
      else fs.fdatasync(fd, callback);
    });
  };
  return {
    sync,
    get calls() {
      return calls;
    },
    get waiting() {
      return held.length;
    },
    release() {
      for (const run of held.splice(0)) run();
    },
    /** Lets only the most recently asked fsync run. */
    releaseNewest() {
      held.pop()?.();
    },
    failNext(error: NodeJS.ErrnoException) {
      failWith = error;
    },
  };
}

/** A store on `file` whose WAL syncs go through `sync`, wired as openSqliteStore wires it. */
function openGated(file: string, sync: SyncFile) {
  const db = openDatabase(file, 'full');
  db.pragma('synchronous = NORMAL');
  return new SqliteStoreImpl(db, new TestClock(), new WalSync(`${file}-wal`, sync));
}

/** Lets the batcher's flush (setImmediate) and the fsync callbacks run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Whether `promise` has settled by now. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await turn();
  return done;
}

void describe('sqlite store: background fsync (durability full)', () => {
  it('a write resolves only after the fsync of the WAL that follows its commit', async () => {
    const gate = gatedSync();
    const store = openGated(newFile(), gate.sync);
    await saveQueueReleasing(store, gate);
    const sent = store.enqueue('orders', [message()]);
    await turn();
    assert.equal(store.commitStats().commits, 2, 'the COMMIT ran');
    assert.equal(gate.waiting, 1, 'an fsync was asked for');
    assert.equal(await settled(sent), false, 'not resolved before the fsync finished');
    gate.release();
    const [result] = await sent;
    assert.equal(result?.duplicate, false);
    await closeReleasing(store, gate);
  });

  it('a read of state not yet on disk is held back until it is', async () => {
    const gate = gatedSync();
    const store = openGated(newFile(), gate.sync);
    await saveQueueReleasing(store, gate);
    void store.enqueue('orders', [message()]);
    await turn();
    const stats = store.queueStats('orders');
    assert.equal(await settled(stats), false, 'the read saw a commit whose fsync is pending');
    gate.release();
    assert.equal((await stats).ready, 1);
    // Once everything is on disk, a read answers at once.
    assert.equal(await settled(store.queueStats('orders')), true);
    await closeReleasing(store, gate);
  });

  it('a commit made during an fsync gets a second one at once; later ones share a third', async () => {
    const gate = gatedSync();
    const store = openGated(newFile(), gate.sync);
    await saveQueueReleasing(store, gate);
    const before = gate.calls;
    const writes = [store.enqueue('orders', [message()])];
    await turn();
    // Three more commits, each in its own turn, while the fsyncs are held.
    for (let n = 0; n < 3; n++) {
      writes.push(store.enqueue('orders', [message()]));
      await turn();
    }
    // A commit need not wait for an fsync that started before it (a slow fsync doubled the
    // p99 latency); two run at most, and the second covers the first's commits too.
    assert.equal(gate.calls - before, 2, 'a second fsync for the second commit, none for the others');
    gate.releaseNewest();
    await Promise.all([writes[0], writes[1]]);
    assert.equal(await settled(writes[2]!), false, 'the third commit waits for an fsync after it');
    await turn();
    assert.equal(gate.calls - before, 3, 'the next fsync covers the two later commits');
    gate.release();
    await Promise.all(writes);
    assert.equal((await store.queueStats('orders')).ready, 4);
    await closeReleasing(store, gate);
  });

  it('a close waiting for idleness hears the fsync that ends last even when it releases nobody', async () => {
    const gate = gatedSync();
    const store = openGated(newFile(), gate.sync);
    await saveQueueReleasing(store, gate);
    const first = store.enqueue('orders', [message()]);
    await turn();
    const second = store.enqueue('orders', [message()]);
    await turn();
    assert.equal(gate.waiting, 2);
    const closed = store.close();
    gate.releaseNewest(); // covers both commits: every waiter is released by it
    await Promise.all([first, second]);
    assert.equal(await settled(closed), false, 'the first fsync still runs');
    gate.release(); // ends last and releases nobody
    await closed;
  });

  it('a failed fsync refuses the writes waiting for it and every later call', async () => {
    const gate = gatedSync();
    const store = openGated(newFile(), gate.sync);
    await saveQueueReleasing(store, gate);
    const sent = store.enqueue('orders', [message()]);
    await turn();
    gate.failNext(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    gate.release();
    await assert.rejects(sent, (error: { code?: string; message: string }) => {
      assert.equal(error.code, 'SPOOL_STORE_UNAVAILABLE');
      assert.match(error.message, /could not make the write-ahead log .* durable/);
      return true;
    });
    await assert.rejects(store.enqueue('orders', [message()]), { code: 'SPOOL_STORE_UNAVAILABLE' });
    await assert.rejects(store.queueStats('orders'), { code: 'SPOOL_STORE_UNAVAILABLE' });
    await store.close();
  });

  it('a claim of durable messages settles without waiting for its own fsync; its acks do wait', async () => {
    const gate = gatedSync();
    const store = openGated(newFile(), gate.sync);
    await saveQueueReleasing(store, gate);
    const sent = store.enqueue('orders', [message(), message(), message()]);
    await turn();
    gate.release();
    await sent;
    const request = { max: 2, visibilityTimeoutMs: 30_000 };
    const claimed = store.claim('orders', request);
    await turn();
    assert.equal(await settled(claimed), true, 'the claimed messages are on disk: handed out at once');
    const [first, second] = await claimed;
    assert.equal(gate.waiting, 0, 'nobody waits for the claim’s own fsync');

    const round = store.ackAndClaim('orders', [first!.receipt, second!.receipt], request);
    await turn();
    assert.equal(await settled(round), true, 'the next claim comes before the acks are durable');
    const { stale, claimed: next, durable } = await round;
    assert.deepEqual(stale, []);
    assert.equal(next.length, 1);
    assert.ok(durable, 'the acks say when they are durable');
    assert.equal(await settled(durable), false, 'the acks wait for their fsync');
    gate.release();
    await durable;
    await closeReleasing(store, gate);
  });

  it('a claim waits while the messages it may read are not on disk yet', async () => {
    const gate = gatedSync();
    const store = openGated(newFile(), gate.sync);
    await saveQueueReleasing(store, gate);
    const request = { max: 5, visibilityTimeoutMs: 30_000 };
    // In one batch with a send: it may read the send, so it waits for that batch's fsync.
    const sameBatch = [store.enqueue('orders', [message()]), store.claim('orders', request)] as const;
    await turn();
    assert.equal(await settled(sameBatch[1]), false, 'claimed with a send not yet durable');
    gate.release();
    assert.equal((await sameBatch[1]).length, 1);
    // In a batch of its own after a send whose fsync is pending: waits for that fsync too.
    void store.enqueue('orders', [message()]);
    await turn();
    const later = store.claim('orders', request);
    await turn();
    assert.equal(await settled(later), false, 'the message it read is not on disk yet');
    gate.release();
    assert.equal((await later).length, 1);
    await closeReleasing(store, gate);
  });

  it('a transaction without synchronousCommit settles before its own fsync, unless one with it ran first', async () => {
    const gate = gatedSync();
    const store = openGated(newFile(), gate.sync);
    await saveQueueReleasing(store, gate);
    const sendIn = (synchronousCommit: boolean) =>
      store.transaction((tx) => tx.enqueue('orders', [message()]), { synchronousCommit });

    const early = sendIn(false);
    await turn();
    assert.equal(await settled(early), true, 'committed, the commits before it on disk: resolved');
    assert.equal(gate.waiting, 0, 'nobody waits for its fsync');

    // One chain: a synchronous transaction first, then one without; the second may have read
    // what the first wrote, so both wait for the chain's fsync.
    const chain = [sendIn(true), sendIn(false)] as const;
    await turn();
    assert.equal(await settled(chain[0]), false);
    assert.equal(await settled(chain[1]), false, 'ran after a synchronous one in its chain');
    gate.release();
    await Promise.all(chain);

    // After a commit whose fsync is pending, it waits for that fsync, not for its own.
    const pending = store.enqueue('orders', [message()]);
    await turn();
    const after = sendIn(false);
    await turn();
    assert.equal(await settled(after), false, 'the commit before it is not on disk yet');
    gate.releaseNewest();
    await pending;
    await after;
    // A read hands out only what is on disk: it asks for the fsync the early ones skipped.
    const stats = store.queueStats('orders');
    await turn();
    assert.equal(gate.waiting, 1);
    gate.release();
    assert.equal((await stats).ready, 5);
    await closeReleasing(store, gate);
  });

  it("openSqliteStore syncs in the background by default and inside COMMIT with fsync 'inline'", async () => {
    const background = await openSqliteStore({ path: newFile() });
    await background.saveQueue(resolveQueueConfig('orders'));
    await background.enqueue('orders', [message()]);
    assert.ok(background.commitStats().syncs >= 1);
    await background.close();

    const inline = await openSqliteStore({ path: newFile(), fsync: 'inline' });
    await inline.saveQueue(resolveQueueConfig('orders'));
    await inline.enqueue('orders', [message()]);
    assert.equal(inline.commitStats().syncs, 0, 'SQLite fsyncs inside COMMIT itself');
    await inline.close();

    await assert.rejects(openSqliteStore({ path: newFile(), fsync: 'never' as 'inline' }), {
      code: 'SPOOL_INVALID_ARGUMENT',
    });
  });

  it('close waits for the last fsync, and what it covered is there after reopening', async () => {
    const gate = gatedSync();
    const file = newFile();
    const store = openGated(file, gate.sync);
    await saveQueueReleasing(store, gate);
    const sent = store.enqueue('orders', [message(), message()]);
    await turn();
    const closed = store.close();
    assert.equal(await settled(closed), false, 'close waits for the pending fsync');
    gate.release();
    await sent;
    await closed;
    const reopened = await openSqliteStore({ path: file });
    assert.equal((await reopened.queueStats('orders')).ready, 2);
    await reopened.close();
  });
});

async function saveQueueReleasing(store: SqliteStoreImpl, gate: ReturnType<typeof gatedSync>) {
  const saved = store.saveQueue(resolveQueueConfig('orders'));
  await turn();
  gate.release();
  await saved;
}

async function closeReleasing(store: SqliteStoreImpl, gate: ReturnType<typeof gatedSync>) {
  const closed = store.close();
  let done = false;
  void closed.then(() => (done = true));
  // Each real fdatasync takes its time on the thread pool, and may be followed by another.
  while (!done) {
    gate.release();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await closed;
}
