/**
 * The contract fuzzer's long mode: starts `spool serve` (loopback, a fresh SQLite file, API
 * tokens), fuzzes it from its own /openapi.json, and prints the figures and every finding with
 * a reproduction. Exits 1 when anything was found.
 *
 *   npm run fuzz -- --requests 1000000                  a long run (seed printed, random)
 *   npm run fuzz -- --requests 100000 --seed 42 --concurrency 16 --json fuzz-report.json
 *   npm run fuzz -- --seed 42 --replay 1234             send case 1234 of seed 42 and show the exchange
 *
 * The short, fixed-seed run in CI is test/fuzz/contract.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Fuzzer, formatReport } from '../test/fuzz/fuzzer.js';
import { startSpoolServe } from '../test/fuzz/server.js';

const usage = `usage: npm run fuzz -- [options]

  --requests N       requests to send (default 100000)
  --seed N           the run's seed (default: random, printed)
  --concurrency N    requests in flight (default 8)
  --slow-ms N        answers slower than this are findings (default 3000; long polls get their wait on top)
  --durability MODE  spool serve --durability: process (default) or full
  --json FILE        also write the report as JSON
  --replay INDEX     send only case INDEX of --seed against a fresh server and print the exchange
  --help`;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'slow-ms': { type: 'string', default: '3000' },
    durability: { type: 'string', default: 'process' },
    json: { type: 'string' },
    replay: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const whole = (name: string, text: string | undefined): number => {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    console.error(`--${name} must be a whole number\n\n${usage}`);
    process.exit(2);
  }
  return value;
};
const seed =
  values.seed === undefined ? (Date.now() ^ (Math.random() * 2 ** 31)) | 0 : whole('seed', values.seed);
const durability = values.durability === 'full' ? 'full' : 'process';

const server = await startSpoolServe({ durability });
let exitCode = 0;
try {
  const options = {
    requests: whole('requests', values.requests),
    seed,
    concurrency: whole('concurrency', values.concurrency),
    slowMs: whole('slow-ms', values['slow-ms']),
    log: (line: string) => console.error(line),
  };
  const fuzzer = await Fuzzer.create(server, options);
  if (values.replay !== undefined) {
    const { item, lines } = await fuzzer.replay(whole('replay', values.replay));
    console.log(`case ${values.replay} of seed ${seed}: ${JSON.stringify(item).slice(0, 3000)}`);
    console.log(lines.join('\n'));
  } else {
    console.error(
      `fuzzing ${server.url} (pid ${server.pid}): ${fuzzer.operations.length} operations, ${options.requests} requests, seed ${seed}, concurrency ${options.concurrency}`,
    );
    // Ctrl-C once: stop sending and report what was found; twice: stop at once.
    process.once('SIGINT', () => {
      console.error('stopping: finishing the requests in flight, then reporting (Ctrl-C again to quit now)');
      fuzzer.stop();
      process.once('SIGINT', () => void server.stop().then(() => process.exit(130)));
    });
    const report = await fuzzer.run();
    console.log(formatReport(report));
    console.log(
      `\nreproduce: npm run fuzz -- --seed ${seed} --requests ${options.requests}; one case: --seed ${seed} --replay <case>`,
    );
    if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
    if (report.findings.length > 0) exitCode = 1;
  }
} finally {
  const code = await server.stop();
  if (code !== 0) {
    console.error(`spool serve exited with ${code} on SIGTERM`);
    exitCode = 1;
  }
}
process.exit(exitCode);
