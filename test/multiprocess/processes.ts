// Child processes and databases of the multi-process tests: a fresh PostgreSQL database per run
// (dropped afterwards, whatever the servers left connected to it), `spool serve` processes on
// fixed ports (so a killed server can come back where its workers look for it), and worker
// scripts started with tsx like the CLI.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { createSpool, type Spool } from '../../src/engine/spool.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { tempDir } from '../helpers.js';

export const adminUrl = process.env.SPOOL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A database of its own for one test run. */
export class FreshDatabase {
  readonly name = `spool_mp_${randomBytes(5).toString('hex')}`;
  readonly url: string;

  private constructor() {
    const url = new URL(adminUrl);
    url.pathname = `/${this.name}`;
    this.url = url.toString();
  }

  static async create(): Promise<FreshDatabase> {
    const database = new FreshDatabase();
    await admin((client) => client.query(`CREATE DATABASE ${database.name}`));
    return database;
  }

  /** Runs `work` on a connection to this database. */
  async query<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      return (await client.query<Row>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  async drop(): Promise<void> {
    await admin((client) => client.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`));
  }
}

async function admin(work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Every child still running, killed if this process ends first (a test that timed out). */
const living = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of living) child.kill('SIGKILL');
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => process.exit(1));
}

/** A child process whose output is kept (and shown when a test fails). */
export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  #output = '';

  constructor(args: string[], env: Record<string, string> = {}) {
    this.process = spawn(process.execPath, ['--import', 'tsx', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.process.stdout!, this.process.stderr!]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        // Keep the tail only: a server logs a line per request.
        this.#output = (this.#output + chunk).slice(-20_000);
      });
    }
    living.add(this.process);
    this.exited = once(this.process, 'exit').then(([code]) => {
      living.delete(this.process);
      return code as number | null;
    });
  }

  get output(): string {
    return this.#output;
  }

  /** Resolves when the output matches `pattern`; rejects if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    const started = Date.now();
    while (!pattern.test(this.#output)) {
      if (this.process.exitCode !== null) throw new Error(`exited early:\n${this.#output}`);
      if (Date.now() - started > timeoutMs)
        throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.#output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
  }
}

/** `spool serve` on PostgreSQL at `port`, resolved once it listens. */
export async function startServer(url: string, port: number): Promise<Child> {
  const child = new Child([
    'src/cli/main.ts',
    'serve',
    '--port',
    String(port),
    '--store',
    url,
    '--log-level',
    'warn',
  ]);
  await child.waitFor(/listening on http/);
  return child;
}

/**
 * Registers `run` twice: on a SQLite file that child processes open too (`it('on a shared SQLite
 * file')`), and on a fresh PostgreSQL database (`describe('on PostgreSQL')`, `it(postgresName)`).
 * `run` gets a Spool of this process and where the children find the store (path or URL).
 */
export function onSharedStores(
  postgresName: string,
  run: (spool: Spool, where: string) => Promise<void>,
): void {
  it('on a shared SQLite file', async () => {
    const dir = tempDir('spool-mp-');
    const path = join(dir.dir, 'spool.db');
    const spool = createSpool({ store: await openSqliteStore({ path }) });
    try {
      await run(spool, path);
    } finally {
      await spool.close();
      dir.cleanup();
    }
  });

  describe('on PostgreSQL', () => {
    let database: FreshDatabase | undefined;
    after(() => database?.drop());
    it(postgresName, async () => {
      database = await FreshDatabase.create();
      const spool = createSpool({ store: await openPostgresStore({ connectionString: database.url }) });
      try {
        await run(spool, database.url);
      } finally {
        await spool.close();
      }
    });
  });
}
