/**
 * Running documentation blocks as a user would: the built package (`dist/`, as `npm run build`
 * makes it), a fresh `spool serve` per block on a free loopback port with its own data directory,
 * `spool` on the PATH, and each block in a fresh working directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt as ensureBuiltPackage } from '../../scripts/ensure-built.mjs';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');

export interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the run was killed for taking longer than its timeout. */
  readonly timedOut: boolean;
}

/**
 * Builds `dist/` when it is missing or older than its sources (`npm test` and CI build before the
 * tests; this covers a single test file run on its own after an edit).
 */
export function ensureBuilt(): void {
  if (!ensureBuiltPackage('doc tests')) throw new Error('npm run build failed (its output is above)');
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A scratch directory inside the project, where `import … from 'spool'` resolves to the package. */
export function projectScratch(): { dir: string; cleanup: () => void } {
  const parent = join(repoRoot, '.tmp', 'doc-tests');
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'run-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A directory with a `spool` command (the built CLI), for the PATH. */
export function spoolBin(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const shim = join(bin, 'spool');
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  chmodSync(shim, 0o755);
  return bin;
}

/**
 * The environment a block runs in: this process's, without any SPOOL_* setting (which would
 * point the block at another server or store), with `spool` and this node first on the PATH.
 */
export function blockEnv(bin: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('SPOOL_') && name !== 'SPOOL_TEST_POSTGRES_URL') continue;
    if (name.startsWith('NODE_TEST') || name === 'NODE_OPTIONS') continue;
    env[name] = value;
  }
  env.PATH = [bin, dirname(process.execPath), process.env.PATH ?? ''].join(':');
  return { ...env, ...extra };
}

export interface Server {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `spool serve` (the built CLI) on a free loopback port over a fresh data directory. */
export async function startServe(env: NodeJS.ProcessEnv): Promise<Server> {
  const { dir, cleanup } = tempDir('spool-docs-server-');
  const child = spawn(
    process.execPath,
    [cliPath, 'serve', '--port', '0', '--data', dir, '--log-level', 'warn'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  try {
    const url = await new Promise<string>((resolve, reject) => {
      // Generous: on a loaded 2-core machine a cold start has taken over 20 s.
      const timer = setTimeout(
        () => reject(new Error(`spool serve did not listen within 60 s: ${stderr}`)),
        60_000,
      );
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`spool serve exited before listening: ${stderr}`));
      });
    });
    return {
      url,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        cleanup();
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    cleanup();
    throw error;
  }
}

/** Runs a command to its end, or kills it (its whole process group) after `timeoutMs`. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a timeout takes its children too
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/**
 * Runs a block that serves until stopped: waits for "listening on <url>" on stdout, calls
 * `whileRunning` with the URL, then sends SIGTERM to its process group and waits for it to end.
 */
export function runServing(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
  whileRunning: (url: string) => Promise<void>,
): Promise<Run & { url: string | undefined; checkError: unknown }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let url: string | undefined;
    let checkError: unknown;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, options.timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = url === undefined ? /listening on (http:\/\/\S+)/.exec(stdout) : null;
      if (!match) return;
      url = match[1]!;
      whileRunning(url)
        .catch((error: unknown) => (checkError = error))
        .finally(() => killGroup(child, 'SIGTERM'));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, url, checkError });
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}
