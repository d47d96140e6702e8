/**
 * The services the anchors need. Each is checked (a TCP connect to its port); one that is down
 * is started with the command this machine is known to start it with, then waited for. The
 * second Redis, with an append-only file fsynced every second, is always the harness's own: it
 * runs on port 6380 in a temp directory and is shut down when the run ends. Whatever cannot be
 * started is reported, and the systems that need it are skipped with that reason.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoints, ServiceName } from './types.js';

export const endpoints: Endpoints = {
  postgresUrl: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisPort: 6379,
  redisAofPort: 6380,
  amqpUrl: process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  natsServer: process.env.BENCH_NATS_SERVER ?? '127.0.0.1:4222',
};

/** True when something accepts TCP connections on the port within `timeoutMs`. */
export function isListening(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitForPort(port: number, seconds: number): Promise<boolean> {
  for (let waited = 0; waited < seconds * 4; waited++) {
    if (await isListening(port)) return true;
    await sleep(250);
  }
  return false;
}

function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${command}: ${stderr.trim() || error.message}`)) : resolve(),
    );
  });
}

interface MachineService {
  readonly port: number;
  readonly start: () => Promise<void>;
}

/** How this machine's own services start when they are down (the machine's documented commands). */
const machineServices: Record<Exclude<ServiceName, 'redis-aof'>, MachineService> = {
  postgres: {
    port: 5432,
    start: () => {
      const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql').sort() : [];
      const version = versions.at(-1);
      if (version === undefined)
        return Promise.reject(new Error('no PostgreSQL cluster under /etc/postgresql'));
      return run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
    },
  },
  redis: {
    port: 6379,
    start: () =>
      run('redis-server', [
        '--daemonize',
        'yes',
        '--bind',
        '127.0.0.1',
        '-::1',
        '--port',
        '6379',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        '/var/lib/redis',
        '--logfile',
        '/var/log/redis/ci.log',
      ]),
  },
  rabbitmq: { port: 5672, start: () => run('rabbitmq-server', ['-detached']) },
  nats: {
    port: 4222,
    start: () =>
      run('start-stop-daemon', [
        '--start',
        '--oknodo',
        '--background',
        '--exec',
        '/usr/sbin/nats-server',
        '--',
        '-a',
        '127.0.0.1',
        '-p',
        '4222',
        '-js',
        '-sd',
        '/var/lib/nats-server',
        '-l',
        '/var/log/nats-server.log',
      ]),
  },
};

/** The services of one run: which are up, why the others are not, and what to stop at the end. */
export class Services {
  readonly #down = new Map<ServiceName, string>();
  readonly #checked = new Set<ServiceName>();
  readonly notes: string[] = [];
  #stopAof: (() => Promise<void>) | undefined;

  /** Makes sure each service is up (starting it if needed); the reason is kept for those that are not. */
  async ensure(names: Iterable<ServiceName>): Promise<void> {
    for (const name of names) {
      if (this.#checked.has(name)) continue;
      this.#checked.add(name);
      try {
        if (name === 'redis-aof') await this.#startAofRedis();
        else await this.#ensureMachineService(name);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        this.#down.set(name, reason);
        this.notes.push(`${name}: not available (${reason})`);
      }
    }
  }

  /** Why a service is unavailable, or undefined when it is up. */
  unavailable(name: ServiceName): string | undefined {
    return this.#down.get(name);
  }

  async stop(): Promise<void> {
    await this.#stopAof?.();
    this.#stopAof = undefined;
  }

  async #ensureMachineService(name: Exclude<ServiceName, 'redis-aof'>): Promise<void> {
    const service = machineServices[name];
    if (await isListening(service.port)) {
      this.notes.push(`${name}: already running on 127.0.0.1:${service.port}`);
      return;
    }
    await service.start();
    // RabbitMQ takes the longest to boot (Erlang VM, then the AMQP listener).
    if (!(await waitForPort(service.port, name === 'rabbitmq' ? 90 : 30))) {
      throw new Error(`started, but nothing listens on port ${service.port}`);
    }
    this.notes.push(`${name}: was down, started by the harness`);
  }

  async #startAofRedis(): Promise<void> {
    const port = endpoints.redisAofPort;
    if (await isListening(port)) throw new Error(`port ${port} is already taken by another process`);
    const dir = mkdtempSync(join(tmpdir(), 'spool-bench-redis-aof-'));
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    if (!(await waitForPort(port, 15))) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error('redis-server with appendonly did not start');
    }
    this.notes.push(
      `redis-aof: started by the harness on 127.0.0.1:${port} (appendonly yes, appendfsync everysec, dir ${dir})`,
    );
    this.#stopAof = async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    };
  }
}
