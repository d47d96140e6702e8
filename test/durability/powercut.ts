/**
 * The power-loss harness: powercutfs (scripts/powercutfs/powercutfs.c), a FUSE filesystem that
 * keeps every write in memory until fsync/fdatasync (files) or a directory fsync (names), and
 * forgets what was not synced when it is told to cut the power. See docs/durability.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const source = join(root, 'scripts/powercutfs/powercutfs.c');
/** Where the test builds the binary (and scripts/ensure-powercutfs.sh too). */
export const powercutfsBinary = join(root, '.tmp/powercutfs/powercutfs');

/**
 * Null when this machine can run the harness (building the binary if it is missing or older than
 * its source), otherwise why not.
 */
export function powercutfsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'powercutfs needs Linux (FUSE)';
  if (!existsSync('/dev/fuse')) return '/dev/fuse does not exist';
  if (process.getuid?.() !== 0 && !existsSync('/usr/bin/fusermount3')) {
    return 'mounting FUSE needs root or fusermount3';
  }
  const stale =
    !existsSync(powercutfsBinary) || statSync(powercutfsBinary).mtimeMs < statSync(source).mtimeMs;
  if (stale) {
    if (!existsSync('/usr/include/fuse3/fuse_lowlevel.h')) {
      return 'libfuse3 headers are missing: run `bash scripts/ensure-powercutfs.sh` (Debian: fuse3 libfuse3-dev)';
    }
    mkdirSync(join(root, '.tmp/powercutfs'), { recursive: true });
    const built = spawnSync(
      'gcc',
      ['-O2', '-Wall', '-o', powercutfsBinary, source, '-I/usr/include/fuse3', '-lfuse3', '-lpthread'],
      { encoding: 'utf8' },
    );
    if (built.status !== 0) return `building powercutfs failed: ${built.stderr || built.error?.message}`;
  }
  return null;
}

export type CutKind = 'drop' | 'torn';

/** Mounts still up, taken down if this process ends first (a test that timed out). */
const living = new Set<PowercutMount>();
process.once('exit', () => {
  for (const mount of living) {
    mount.kill();
    try {
      mount.detach();
    } catch {
      // Already gone.
    }
  }
});

/** A mounted powercutfs: `disk` is the surviving state, `mountpoint` what programs use. */
export class PowercutMount {
  readonly #daemon: ChildProcess;
  readonly #exited: Promise<unknown>;
  #stderr = '';

  private constructor(
    readonly disk: string,
    readonly mountpoint: string,
    daemon: ChildProcess,
  ) {
    this.#daemon = daemon;
    this.#exited = once(daemon, 'exit').then(() => living.delete(this));
    living.add(this);
    daemon.stderr!.setEncoding('utf8');
    daemon.stderr!.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
  }

  /** Boots a filesystem from `disk` (created empty if new) on `mountpoint`. */
  static async mount(disk: string, mountpoint: string): Promise<PowercutMount> {
    mkdirSync(disk, { recursive: true });
    mkdirSync(mountpoint, { recursive: true });
    const daemon = spawn(powercutfsBinary, [disk, mountpoint], { stdio: ['ignore', 'pipe', 'pipe'] });
    const mount = new PowercutMount(disk, mountpoint, daemon);
    let output = '';
    daemon.stdout.setEncoding('utf8');
    await new Promise<void>((resolvePromise, reject) => {
      daemon.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('mounted')) resolvePromise();
      });
      daemon.once('exit', (code) =>
        reject(new Error(`powercutfs exited (${code}) before mounting: ${mount.#stderr}`)),
      );
    });
    return mount;
  }

  /** What the daemon printed on stderr (the torn cut says what it wrote). */
  get log(): string {
    return this.#stderr;
  }

  /**
   * Cuts the power: the daemon finishes the request it serves, then exits, keeping on disk only
   * what was synced (`drop`), or that plus a random part of the rest (`torn`). Every later
   * operation on the mount fails. Kill the programs using it, then call {@link detach}.
   */
  async cut(kind: CutKind): Promise<void> {
    if (this.#daemon.exitCode === null) {
      this.#daemon.kill(kind === 'drop' ? 'SIGUSR1' : 'SIGUSR2');
      await this.#exited;
    }
  }

  /** Stops the daemon at once (synchronously: for exit handlers). */
  kill(): void {
    if (this.#daemon.exitCode === null && this.#daemon.signalCode === null) this.#daemon.kill('SIGUSR1');
  }

  /** Removes the dead mount (lazily: the kernel lets go once the last user is gone). */
  detach(): void {
    const result =
      process.getuid?.() === 0
        ? spawnSync('umount', ['-l', this.mountpoint], { encoding: 'utf8' })
        : spawnSync('fusermount3', ['-u', '-z', this.mountpoint], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`unmounting ${this.mountpoint} failed: ${result.stderr}`);
  }

  /** A clean shutdown for the end of a test: cut, then detach. */
  async unmount(): Promise<void> {
    await this.cut('drop');
    this.detach();
  }
}
