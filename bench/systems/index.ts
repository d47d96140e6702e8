/** Every system the harness knows, in the order the report lists them. */
import type { SystemEntry } from '../types.js';
import { BullMqSystem } from './bullmq.js';
import { GraphileWorkerSystem } from './graphile-worker.js';
import { NatsSystem } from './nats.js';
import { PgBossSystem } from './pg-boss.js';
import { RabbitMqSystem } from './rabbitmq.js';
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
    create: (context) => new BullMqSystem(context, 'none'),
  },
  {
    id: 'bullmq-redis-aof',
    label: 'BullMQ, Redis AOF everysec',
    spool: false,
    services: ['redis-aof'],
    create: (context) => new BullMqSystem(context, 'aof'),
  },
  {
    id: 'nats',
    label: 'NATS JetStream',
    spool: false,
    services: ['nats'],
    create: (context) => new NatsSystem(context),
  },
  {
    id: 'rabbitmq-quorum',
    label: 'RabbitMQ quorum queue',
    spool: false,
    services: ['rabbitmq'],
    create: (context) => new RabbitMqSystem(context, 'quorum'),
  },
  {
    id: 'rabbitmq-classic',
    label: 'RabbitMQ classic queue',
    spool: false,
    services: ['rabbitmq'],
    create: (context) => new RabbitMqSystem(context, 'classic'),
  },
  {
    id: 'pg-boss',
    label: 'pg-boss',
    spool: false,
    services: ['postgres'],
    create: (context) => new PgBossSystem(context),
  },
  {
    id: 'graphile-worker',
    label: 'graphile-worker',
    spool: false,
    services: ['postgres'],
    create: (context) => new GraphileWorkerSystem(context),
  },
];

export function systemById(id: string): SystemEntry | undefined {
  return systems.find((entry) => entry.id === id);
}
