/**
 * Spool over HTTP: `spool serve` from source in a child process (so server and client do not
 * share an event loop), driven over loopback by the TypeScript client (`spool/client`, fetch with
 * keep-alive). A new server on a fresh data directory for every measurement.
 *
 * Consumers are remote consumers as the guides describe them: a queue consumer is the client's
 * streaming consumer (one WebSocket, messages pushed under credit, acks batched back); topic
 * group members poll with the cursor and commit the offsets they processed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SpoolClient } from '#spool/client/index';
import type { OrderEvent } from '../payload.js';
import type {
  BenchFanout,
  BenchQueue,
  BenchSystem,
  RunningConsumer,
  SystemContext,
  SystemInfo,
} from '../types.js';
import { spoolVersion } from './spool-engine.js';
import { packageVersion } from './versions.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Messages granted to the streaming consumer at once: leased ahead of its handlers. */
const streamPrefetch = 1000;
const flashPartitions = 4;

export interface RunningServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `spool serve --port 0` and resolves with the URL it prints once it listens. */
export async function startServer(dataDir: string, durability: 'full' | 'process'): Promise<RunningServer> {
  const child = spawn(
    process.execPath,
    [
      // Extra node flags for the server alone, e.g. to profile it: BENCH_SERVER_NODE_ARGS="--cpu-prof".
      ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      // The compiled CLI, as `npx spool serve` runs it (npm run bench builds it first).
      'dist/cli/main.js',
      'serve',
      '--data',
      dataDir,
      '--port',
      '0',
      '--durability',
      durability,
      '--log-level',
      'warn',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = /listening on (\S+)/.exec(line);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`spool serve exited with ${code}: ${stderr.trim()}`)));
  });
  return { url, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'SpoolNetworkError');
}

export class SpoolHttpSystem implements BenchSystem {
  constructor(private readonly context: SystemContext) {}

  setup(): Promise<SystemInfo> {
    return Promise.resolve({
      id: 'spool-http',
      label: 'Spool over HTTP (full)',
      version: `${spoolVersion()}, spool serve (Fastify ${packageVersion('fastify')}), Node ${process.version}`,
      durability: 'spool serve --durability full: SQLite WAL, synchronous=FULL, fsync before every answer',
      settings:
        `loopback HTTP/1.1 keep-alive via spool/client; consume: client.queues.consume (one WebSocket, ` +
        `prefetch ${streamPrefetch}, acks batched per event-loop turn); group members poll max 1000 and commit per poll`,
      spool: true,
      network: true,
    });
  }

  async #open(): Promise<{ client: SpoolClient; close: () => Promise<void> }> {
    const dir = mkdtempSync(join(this.context.workDir, 'http-'));
    const server = await startServer(dir, 'full');
    const client = new SpoolClient({ url: server.url, retries: { maxAttempts: 1 } });
    return {
      client,
      close: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  async openQueue(): Promise<BenchQueue> {
    const { client, close } = await this.#open();
    const name = 'bench';
    await client.queues.put(name);
    return {
      send: async (body) => void (await client.queues.send(name, body)),
      sendBatch: async (bodies) =>
        void (await client.queues.sendBatch(
          name,
          bodies.map((body) => ({ body })),
        )),
      consume: async (handler, options) => {
        // The streaming consume: one connection, the server pushing under credit, acks batched back.
        const consumer = await client.queues.consume(name, (message) => handler(message.body as OrderEvent), {
          concurrency: options.concurrency,
          prefetch: streamPrefetch,
        });
        return { stop: () => consumer.close() };
      },
      close,
    };
  }

  async openFanout(): Promise<BenchFanout> {
    const { client, close } = await this.#open();
    const name = 'orders';
    await client.topics.put(name, { partitions: flashPartitions });
    return {
      publish: async (body) => void (await client.topics.publish(name, body, { key: body.customerId })),
      publishBatch: async (bodies) =>
        void (await client.topics.publishBatch(
          name,
          bodies.map((body) => ({ body, key: body.customerId })),
        )),
      subscribe: (group, handler) => {
        const member = `${group}-bench`;
        const controller = new AbortController();
        const loop = (async () => {
          let cursor: string | undefined;
          while (!controller.signal.aborted) {
            let answer;
            try {
              answer = await client.topics.poll(name, group, {
                member,
                max: 1000,
                waitMs: 1000,
                startFrom: 'earliest',
                ...(cursor !== undefined && { cursor }),
                signal: controller.signal,
              });
            } catch (error) {
              if (controller.signal.aborted && isAbort(error)) break;
              throw error;
            }
            cursor = answer.cursor;
            if (answer.events.length === 0) continue;
            const offsets: Record<number, number> = {};
            for (const event of answer.events) {
              handler(event.body as OrderEvent);
              offsets[event.partition] = Math.max(offsets[event.partition] ?? 0, event.offset + 1);
            }
            await client.topics.commit(name, group, { member, offsets });
          }
          await client.topics.leave(name, group, member);
        })();
        return Promise.resolve(stopper(controller, [loop]));
      },
      close,
    };
  }

  teardown(): Promise<void> {
    return Promise.resolve();
  }
}

function stopper(controller: AbortController, loops: Promise<void>[]): RunningConsumer {
  // Surface a failed loop at stop() rather than as an unhandled rejection mid-measurement.
  const settled = Promise.allSettled(loops);
  return {
    stop: async () => {
      controller.abort();
      for (const result of await settled) if (result.status === 'rejected') throw result.reason;
    },
  };
}
