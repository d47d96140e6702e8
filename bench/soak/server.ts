/**
 * The server under soak: `spool serve` from source in a child process on a fresh data directory,
 * with the event-loop probe preloaded (server-probe.ts), and what the soak reads about it from
 * outside: RSS and open file descriptors from /proc, database size on disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ProbeSample } from './server-probe.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const probe = pathToFileURL(fileURLToPath(new URL('./server-probe.ts', import.meta.url))).href;

export interface SoakServerOptions {
  readonly dataDir: string;
  readonly durability: 'full' | 'process';
  /** Extra environment (webhook secret, allow-list). */
  readonly env: Readonly<Record<string, string>>;
}

/** Log lines the server wrote at warn or above, counted and the last few kept. */
export interface ServerLog {
  warnings: number;
  errors: number;
  readonly last: string[];
}

export class SoakServer {
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #pendingProbe: ((sample: ProbeSample) => void) | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
    readonly log: ServerLog,
  ) {
    child.on('message', (message: ProbeSample) => {
      if (message?.type !== 'soak:probe') return;
      const resolve = this.#pendingProbe;
      this.#pendingProbe = undefined;
      resolve?.(message);
    });
    child.once('exit', (code, signal) => (this.#exit = { code, signal }));
  }

  static async start(options: SoakServerOptions): Promise<SoakServer> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        probe,
        'src/cli/main.ts',
        'serve',
        '--data',
        options.dataDir,
        '--port',
        '0',
        '--durability',
        options.durability,
        '--log-level',
        'warn',
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    const log: ServerLog = { warnings: 0, errors: 0, last: [] };
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (level !== undefined && Number(level) >= 50) log.errors++;
      else log.warnings++;
      log.last.push(line.slice(0, 600));
      if (log.last.length > 20) log.last.shift();
    });
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const match = /listening on (\S+)/.exec(line);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) =>
        reject(new Error(`spool serve exited with ${code}: ${log.last.join('\n').trim()}`)),
      );
    });
    return new SoakServer(child, url, options.dataDir, log);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Exit code and signal once the child has exited; undefined while it runs. */
  get exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.#exit;
  }

  /** The probe's answer for the time since the last call; rejects after `timeoutMs`. */
  probe(timeoutMs = 10_000): Promise<ProbeSample> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pendingProbe = undefined;
        reject(new Error(`the server's probe did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pendingProbe = (sample) => {
        clearTimeout(timer);
        resolve(sample);
      };
      this.child.send('soak:sample');
    });
  }

  /** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
  rss(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? NaN : Number(kb) * 1024;
  }

  /** Open file descriptors: the entries of /proc/<pid>/fd. */
  fds(): number {
    return readdirSync(`/proc/${this.pid}/fd`).length;
  }

  /** The open fds by what they are: socket, pipe, anon_inode (epoll, eventfd…), file. */
  fdKinds(): Record<string, number> {
    const kinds: Record<string, number> = {};
    for (const fd of readdirSync(`/proc/${this.pid}/fd`)) {
      let kind = 'gone';
      try {
        const target = readlinkSync(`/proc/${this.pid}/fd/${fd}`);
        kind = /^(socket|pipe|anon_inode):/.exec(target)?.[1] ?? 'file';
      } catch {
        // closed between the listing and the readlink
      }
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    return kinds;
  }

  /** Bytes of spool.db plus its WAL and shared-memory files. */
  databaseBytes(): number {
    let total = 0;
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        total += statSync(join(this.dataDir, `spool.db${suffix}`)).size;
      } catch {
        // not there (yet)
      }
    }
    return total;
  }

  /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`); answers the exit code. */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.#exit) return this.#exit;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    if (this.child.connected) this.child.disconnect();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await exited;
    clearTimeout(timer);
    return result;
  }
}
