/**
 * Every system the harness knows, in the order the report lists them.
 *
 * The anchors (the systems Spool is measured against) live in bench/anchors, a package of their
 * own: their client libraries are not part of Spool's install (`npm run bench:setup` installs
 * them). Each is loaded only when it runs, so the Spool rows run without them, and a missing
 * install skips an anchor with a message saying what to run.
 */
import type { BenchSystem, SystemContext, SystemEntry } from '../types.js';
import { SpoolPostgresSystem, SpoolSqliteSystem } from './spool-engine.js';
import { SpoolHttpSystem } from './spool-http.js';
import { SqliteLimitSystem } from './sqlite-limit.js';

export const systems: readonly SystemEntry[] = [
  {
    id: 'spool-full',
    label: 'Spool embedded (full)',
    spool: true,
    services: [],
    create: (context) => new SpoolSqliteSystem(context, 'full'),
  },
  {
    id: 'spool-process',
    label: 'Spool embedded (process)',
    spool: true,
    services: [],
    create: (context) => new SpoolSqliteSystem(context, 'process'),
  },
  {
    id: 'spool-http',
    label: 'Spool over HTTP (full)',
    spool: true,
    services: [],
    create: (context) => new SpoolHttpSystem(context),
  },
  {
    id: 'limit-sqlite',
    label: 'SQLite limit (raw loop, no Spool)',
    spool: false,
    services: [],
    create: (context) => new SqliteLimitSystem(context),
  },
  {
    id: 'spool-postgres',
    label: 'Spool on PostgreSQL',
    spool: true,
    services: ['postgres'],
    create: (context) => new SpoolPostgresSystem(context),
  },
  {
    id: 'bullmq-redis',
    label: 'BullMQ, Redis in memory',
    spool: false,
    services: ['redis'],
    create: async (context) => new (await anchor('bullmq')).BullMqSystem(context, 'none'),
  },
  {
    id: 'bullmq-redis-aof',
    label: 'BullMQ, Redis AOF everysec',
    spool: false,
    services: ['redis-aof'],
    create: async (context) => new (await anchor('bullmq')).BullMqSystem(context, 'aof'),
  },
  {
    id: 'nats',
    label: 'NATS JetStream',
    spool: false,
    services: ['nats'],
    create: async (context) => new (await anchor('nats')).NatsSystem(context),
  },
  {
    id: 'rabbitmq-quorum',
    label: 'RabbitMQ quorum queue',
    spool: false,
    services: ['rabbitmq'],
    create: async (context) => new (await anchor('rabbitmq')).RabbitMqSystem(context, 'quorum'),
  },
  {
    id: 'rabbitmq-classic',
    label: 'RabbitMQ classic queue',
    spool: false,
    services: ['rabbitmq'],
    create: async (context) => new (await anchor('rabbitmq')).RabbitMqSystem(context, 'classic'),
  },
  {
    id: 'pg-boss',
    label: 'pg-boss',
    spool: false,
    services: ['postgres'],
    create: async (context) => new (await anchor('pg-boss')).PgBossSystem(context),
  },
  {
    id: 'graphile-worker',
    label: 'graphile-worker',
    spool: false,
    services: ['postgres'],
    create: async (context) => new (await anchor('graphile-worker')).GraphileWorkerSystem(context),
  },
];

/** The anchor modules, each a file of bench/anchors exporting its system's class. */
interface AnchorModules {
  bullmq: { BullMqSystem: new (context: SystemContext, persistence: 'none' | 'aof') => BenchSystem };
  nats: { NatsSystem: new (context: SystemContext) => BenchSystem };
  rabbitmq: { RabbitMqSystem: new (context: SystemContext, kind: 'quorum' | 'classic') => BenchSystem };
  'pg-boss': { PgBossSystem: new (context: SystemContext) => BenchSystem };
  'graphile-worker': { GraphileWorkerSystem: new (context: SystemContext) => BenchSystem };
}

/**
 * Loads bench/anchors/<name>. The specifier is built at run time so that TypeScript does not
 * follow it into packages Spool's own install does not have (bench/anchors typechecks itself).
 */
async function anchor<K extends keyof AnchorModules>(name: K): Promise<AnchorModules[K]> {
  const specifier = `../anchors/${name}.js`;
  try {
    return (await import(specifier)) as AnchorModules[K];
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(
        `the anchors' client libraries are not installed (${(error as Error).message.split('\n')[0]}): run npm run bench:setup`,
        { cause: error },
      );
    }
    throw error;
  }
}

export function systemById(id: string): SystemEntry | undefined {
  return systems.find((entry) => entry.id === id);
}
