/**
 * Where the PostgreSQL store reports its commits for metrics ({@link Store.observeCommits}).
 * PostgreSQL has no single group-commit point as SQLite's batcher is: a coalesced statement is
 * one autocommit carrying a whole batch, and a store transaction is one COMMIT. Both report
 * here. Inert (one null check) until someone observes.
 */
import { performance } from 'node:perf_hooks';
import type { CommitObserver, Store } from '../../store/port.js';

export class CommitMeter {
  observer: CommitObserver | null = null;

  /** Runs `commit`, then reports how long it took and that it carried `operations` writes. */
  async time<T>(operations: number, commit: () => Promise<T>): Promise<T> {
    const observer = this.observer;
    if (observer === null) return commit();
    const started = performance.now();
    const result = await commit();
    observer((performance.now() - started) / 1000, operations);
    return result;
  }

  /** The store's `observeCommits`: one observer at a time, as on SQLite. */
  observe(observer: CommitObserver): ReturnType<NonNullable<Store['observeCommits']>> {
    this.observer = observer;
    return () => {
      if (this.observer === observer) this.observer = null;
    };
  }
}
