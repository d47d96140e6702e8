/**
 * The server under fuzz: `spool serve` as a child process on a loopback port over a fresh SQLite
 * file, with API tokens configured, exactly as an operator starts it (through tsx, from the
 * sources). The child runs with `--expose-gc` and `heap-probe.ts` preloaded, so its heap after
 * GC and its RSS can be read at any time; its error log lines are kept by request id, so a 5xx
 * can be reported with the stack the server logged for it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The tokens the server accepts, by what the fuzzer calls them. */
export const tokens = {
  all: 'fz-all-scopes',
  produce: 'fz-produce-only',
  consume: 'fz-consume-only',
  admin: 'fz-admin-only',
} as const;

export interface Memory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

export interface ServerUnderFuzz {
  readonly url: string;
  readonly pid: number;
  /** Heap after a forced GC and RSS of the server process; undefined if it did not answer. */
  memory(): Promise<Memory | undefined>;
  /** Why the process ended, while it should still run; undefined while it runs. */
  exited(): string | undefined;
  /** The error the server logged for a request id (message and stack), if any. */
  logFor(requestId: string): string | undefined;
  /** The last lines the server logged at warn or above. */
  tail(): string[];
  /** SIGTERM and wait; resolves the exit code (null when killed) and removes the data. */
  stop(): Promise<number | null>;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServeOptions {
  /** `full` fsyncs every commit (the default of spool serve); `process` is faster. */
  durability?: 'full' | 'process';
  /** Extra environment for the server. */
  env?: Record<string, string>;
}

export async function startSpoolServe(options: ServeOptions = {}): Promise<ServerUnderFuzz> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-fuzz-'));
  const probeFile = join(dir, 'memory.json');
  // Nothing of the caller's SPOOL_* settings: no webhook secret means no outbound delivery.
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('SPOOL_') && name !== 'NODE_OPTIONS') env[name] = value;
  }
  Object.assign(env, {
    SPOOL_TOKENS: `${tokens.all}:produce,consume,admin;${tokens.produce}:produce;${tokens.consume}:consume;${tokens.admin}:admin`,
    SPOOL_FUZZ_PROBE_FILE: probeFile,
    ...options.env,
  });
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      '--import',
      join(root, 'test/fuzz/heap-probe.ts'),
      join(root, 'src/cli/main.ts'),
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--data',
      dir,
      '--durability',
      options.durability ?? 'process',
      '--log-level',
      'warn',
      '--shutdown-timeout',
      '3000',
    ],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let exit: string | undefined;
  let stopping = false;
  const exitCode = new Promise<number | null>((done) =>
    child.on('exit', (code, signal) => {
      if (!stopping) exit = `the server exited (code ${code}, signal ${signal})`;
      done(code);
    }),
  );
  const errors = new Map<string, string>();
  const tail: string[] = [];
  let pending = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      tail.push(line.slice(0, 4000));
      if (tail.length > 200) tail.shift();
      try {
        const entry = JSON.parse(line) as {
          requestId?: string;
          level?: number | string;
          msg?: string;
          err?: { message?: string; stack?: string };
        };
        if (entry.requestId && entry.err) {
          errors.set(
            entry.requestId,
            `${entry.msg ?? ''}: ${entry.err.stack ?? entry.err.message ?? ''}`.slice(0, 3000),
          );
          if (errors.size > 5000) errors.delete(errors.keys().next().value!);
        }
      } catch {
        // Not JSON (a Node warning): kept in the tail only.
      }
    }
  });
  let stdout = '';
  child.stdout!.setEncoding('utf8');
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`spool serve did not start in 60 s: ${tail.join('\n')}`)),
      60_000,
    );
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        done(match[1]!);
      }
    });
    void exitCode.then((code) => {
      clearTimeout(timer);
      fail(new Error(`spool serve exited with ${code} before listening: ${tail.join('\n')}`));
    });
  });

  let lastSequence = 0;
  return {
    url,
    pid: child.pid!,
    async memory() {
      if (exit !== undefined) return undefined;
      child.kill('SIGUSR2');
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        await new Promise((done) => setTimeout(done, 50));
        try {
          const read = JSON.parse(readFileSync(probeFile, 'utf8')) as Memory & { sequence: number };
          if (read.sequence > lastSequence) {
            lastSequence = read.sequence;
            return { rss: read.rss, heapUsed: read.heapUsed, external: read.external };
          }
        } catch {
          // Not written yet, or half written.
        }
      }
      return undefined;
    },
    exited: () => exit,
    logFor: (requestId) => errors.get(requestId),
    tail: () => [...tail],
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exitCode;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
