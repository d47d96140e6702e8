// The layers of src/, checked in CI (npm run lint): data flows one way, from core up to the
// doors (server, client, CLI), and nothing imports in a circle. docs/architecture.md draws the
// same picture; change both together.
//
//   core → store (the port) → stores (backends) ┐
//   core → telemetry (tracing, logs)            ├→ engine → webhooks → breakers → jobs → workflows → observability → server → cli
//                                               ┘                                client (wire types only)
const layer = (name, from, mayNotReach, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: mayNotReach },
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle (type-only imports included) means two modules are one; split or merge them.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    layer('core-is-the-floor', '^src/core/', '^src/(?!core/)', 'core imports nothing else of Spool'),
    layer('port-over-core', '^src/store/', '^src/(?!core/|store/)', 'the store port knows only core types'),
    layer(
      'telemetry-over-core',
      '^src/telemetry/',
      '^src/(?!core/|telemetry/)',
      'tracing and logs sit below the engine',
    ),
    layer(
      'backends-implement-the-port',
      '^src/stores/',
      '^src/(?!core/|store/|stores/|telemetry/)',
      'a backend implements the port and knows nothing above it',
    ),
    layer(
      'engine-below-jobs',
      '^src/engine/',
      '^src/(jobs|workflows|breakers|webhooks|observability|server|client|cli|testing|stores)/',
      'the engine reaches stores only through the port it is given',
    ),
    layer(
      'webhooks-below-jobs',
      '^src/webhooks/',
      '^src/(jobs|workflows|breakers|observability|server|client|cli|testing|stores)/',
      '',
    ),
    layer(
      'jobs-below-the-doors',
      '^src/jobs/',
      '^src/(workflows|observability|server|client|cli|testing|stores)/',
      '',
    ),
    layer(
      'breakers-on-the-engine',
      '^src/breakers/',
      '^src/(jobs|workflows|observability|server|client|cli|testing|stores)/',
      'circuit breakers use the engine and the store port only; jobs and workflows use them',
    ),
    layer(
      'workflows-on-jobs',
      '^src/workflows/',
      '^src/(observability|server|client|cli|testing|stores)/',
      'workflows are built on the jobs layer and the engine',
    ),
    layer(
      'monitoring-below-the-doors',
      '^src/observability/',
      '^src/(server|client|cli|testing|stores)/',
      '',
    ),
    layer(
      'server-through-the-engine',
      '^src/server/',
      '^src/(cli|client|testing|stores)/',
      'the server uses the engine, jobs and monitoring; it opens no backend itself',
    ),
    {
      name: 'client-stands-alone',
      comment:
        'spool/client runs in other processes and browsers: it may take wire types from the server schemas and job events, nothing at run time',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/(?!client/|core/|telemetry/)', dependencyTypesNot: ['type-only'] },
    },
    layer('only-tests-use-testing', '^src/(?!testing/)', '^src/testing/', 'spool/testing is for test suites'),
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
