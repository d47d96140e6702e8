/**
 * The limit row: what SQLite itself allows on this machine for a durable queue, with no Spool
 * code at all — a raw better-sqlite3 loop on a one-table queue (WAL, `synchronous=FULL`: every
 * COMMIT fsynced, as Spool's durability `full` promises). A send is one INSERT transaction, a
 * batch one transaction of INSERTs; consuming claims up to `concurrency` rows and deletes them
 * in one transaction per round, calling the handler for each. No leases, retries, keys,
 * priorities or metrics: the ceiling a queue on this disk cannot pass, which Spool's figures are
 * read against. It is not an anchor (no user runs it); the report keeps it out of the ratios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { OrderEvent } from '../payload.js';
import {
  type BenchFanout,
  type BenchQueue,
  type BenchSystem,
  NotSupported,
  type SystemContext,
  type SystemInfo,
} from '../types.js';
import { packageVersion } from './versions.js';

export class SqliteLimitSystem implements BenchSystem {
  constructor(private readonly context: SystemContext) {}

  setup(): Promise<SystemInfo> {
    const probe = new Database(':memory:');
    const sqlite = (probe.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    probe.close();
    return Promise.resolve({
      id: 'limit-sqlite',
      label: 'SQLite limit (raw loop, no Spool)',
      version: `better-sqlite3 ${packageVersion('better-sqlite3')}, SQLite ${sqlite}`,
      durability: 'SQLite WAL, synchronous=FULL: every COMMIT fsynced (what durability full asks of SQLite)',
      settings:
        'one table; send = INSERT per transaction; consume = claim up to concurrency rows and DELETE them in one transaction per round',
      spool: false,
      network: false,
      reference: true,
    });
  }

  openQueue(): Promise<BenchQueue> {
    const dir = mkdtempSync(join(this.context.workDir, 'limit-'));
    const db = new Database(join(dir, 'limit.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE q (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO q (body) VALUES (?)');
    const select = db.prepare('SELECT id, body FROM q ORDER BY id LIMIT ?');
    const remove = db.prepare('DELETE FROM q WHERE id = ?');
    const insertAll = db.transaction((bodies: readonly OrderEvent[]) => {
      for (const body of bodies) insert.run(JSON.stringify(body));
    });
    const claim = db.transaction((max: number) => {
      const rows = select.all(max) as { id: number; body: string }[];
      for (const row of rows) remove.run(row.id);
      return rows;
    });
    return Promise.resolve({
      send: (body) => {
        insert.run(JSON.stringify(body));
        return Promise.resolve();
      },
      sendBatch: (bodies) => {
        insertAll(bodies);
        return Promise.resolve();
      },
      consume: (handler, options) => {
        let stopped = false;
        const loop = (async () => {
          while (!stopped) {
            const rows = claim(options.concurrency);
            for (const row of rows) handler(JSON.parse(row.body) as OrderEvent);
            // A turn of the event loop per round, so the scenario's clock and counters run; an
            // empty queue is polled every millisecond.
            await new Promise((resolve) =>
              rows.length > 0 ? setImmediate(resolve) : setTimeout(resolve, 1),
            );
          }
        })();
        return Promise.resolve({
          stop: async () => {
            stopped = true;
            await loop;
          },
        });
      },
      close: () => {
        db.close();
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  }

  openFanout(): Promise<BenchFanout> {
    return Promise.reject(new NotSupported('the limit row measures a queue only'));
  }

  teardown(): Promise<void> {
    return Promise.resolve();
  }
}
