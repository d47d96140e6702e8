// Commit observation on PostgreSQL (the store-commit metrics): every coalesced statement is one
// commit carrying its batch, and a store transaction one commit; nothing is reported once the
// observer is detached.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SchemaJanitor, message, openStore, saveQueue } from './fixtures.js';

describe('postgres store: commit observation', () => {
  const janitor = new SchemaJanitor();
  after(() => janitor.end());

  it('reports each commit with the writes it carried, until detached', async () => {
    const store = await openStore(janitor.schema());
    try {
      await saveQueue(store, 'orders');
      const commits: Array<{ seconds: number; operations: number }> = [];
      const observe = store.observeCommits?.bind(store);
      assert.ok(observe, 'the PostgreSQL store observes commits');
      const stop = observe((seconds, operations) => commits.push({ seconds, operations }));

      await Promise.all(Array.from({ length: 20 }, () => store.enqueue('orders', [message()])));
      await store.transaction((tx) => tx.enqueue('orders', [message(), message()]));

      assert.ok(commits.length >= 2, `${commits.length} commits`);
      // 20 coalesced sends and one transaction: every send is counted in exactly one commit.
      assert.equal(
        commits.reduce((sum, commit) => sum + commit.operations, 0),
        21,
      );
      assert.ok(commits.every((commit) => commit.seconds >= 0 && commit.seconds < 30));

      stop();
      await store.enqueue('orders', [message()]);
      assert.equal(
        commits.reduce((sum, commit) => sum + commit.operations, 0),
        21,
      );
    } finally {
      await store.close();
    }
  });
});
